"""The ``walletauth`` command: serve, migrate, purge, and manage the signing keys and
the store's secrets."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from pydantic import ValidationError

from walletauth.errors import WalletAuthError
from walletauth.server.config.keys import KeyRing
from walletauth.server.config.settings import Settings

if TYPE_CHECKING:
    from walletauth.server.delivery import LogoutPoster
    from walletauth.server.store_gateway import StoreGateway
    from walletauth.store import PurgeReport, Secrets, Store

app = typer.Typer(help="Sign-In with Ethereum login service.", no_args_is_help=True)
keys_app = typer.Typer(
    help="The signing keys: ES256 (access tokens, ID tokens) and, where the OpenID Provider is"
    " served, RS256 (ID tokens).",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")
notices_app = typer.Typer(help="The outbox of notices to downstream services.",
                          no_args_is_help=True)
app.add_typer(notices_app, name="notices")
secrets_app = typer.Typer(
    help="The store's secrets: the subject-ref HMAC key and the master key, by version.",
    no_args_is_help=True,
)
app.add_typer(secrets_app, name="secrets")

APP_FACTORY = "walletauth.server.app:create_app_from_environment"
BAD_CONFIGURATION_EXIT = 2
"""Exit code of a command refused for its settings (as for a bad command-line option)."""


def _now() -> datetime:
    return datetime.now(UTC)


def _keyring(settings: Settings) -> KeyRing[Any]:
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return KeyRing.load_or_create(settings.data_dir, token_ttl=settings.access_token_ttl)


def _keyrings(settings: Settings) -> list[KeyRing[Any]]:
    """The ES256 ring, and the RS256 one where the OpenID Provider is served."""
    from walletauth.server.runtime import open_id_token_keyring

    rings = [_keyring(settings)]
    id_token_keyring = open_id_token_keyring(settings)
    if id_token_keyring is not None:
        rings.append(id_token_keyring)
    return rings


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
) -> None:
    """Run the HTTP service (uvicorn with uvloop and httptools, each answer one write)."""
    import uvicorn

    from walletauth.server.runtime import prepare_data_dir
    from walletauth.server.signin.http_protocol import http_protocol
    from walletauth.server.web.metrics import share_metrics_between_workers

    settings = _checked_settings()
    # Done once here, before workers start, so they never race to migrate or make keys.
    prepare_data_dir(settings)
    _keyrings(settings)
    if workers > 1:
        share_metrics_between_workers(settings.data_dir / "prometheus")
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http=http_protocol(  # type: ignore[arg-type]  # a protocol factory, as a class is
            max_head_bytes=settings.max_head_bytes, head_timeout=settings.head_timeout,
            body_timeout=settings.body_timeout,
        ),
        # The access log would print client IPs; X-Forwarded-For is handled by the app,
        # only for the configured trusted proxies.
        access_log=False,
        proxy_headers=False,
        server_header=False,
        log_level=settings.log_level,
    )


def _checked_settings() -> Settings:
    """The settings, and the policy they name loaded once, or exit with one line saying
    what is wrong: caught here, a bad setting is not a worker's start-up traceback."""
    from walletauth.oidc.clients import unknown_purposes
    from walletauth.policy.loader import load_policy

    try:
        settings = Settings()
        policy = load_policy(settings.policy)
        optional = [purpose.id for purpose in policy.purposes.values() if purpose.optional]
        problems = unknown_purposes(settings.oidc_clients, optional)
        if problems:
            _refuse_configuration("; ".join(problems))
    except ValidationError as error:
        _refuse_configuration("; ".join(_setting_problem(detail) for detail in error.errors()))
    except WalletAuthError as error:
        _refuse_configuration(f"{error.code}: {error.message}")
    return settings


def _setting_problem(detail: Mapping[str, Any]) -> str:
    name = str(detail["loc"][0]) if detail["loc"] else "settings"
    place = "".join(f"[{part}]" for part in detail["loc"][1:])
    return f"WALLETAUTH_{name.upper()}{place}: {detail['msg']}"


def _refuse_configuration(problem: str) -> NoReturn:
    one_line = " ".join(problem.split())
    typer.echo(f"walletauth: invalid configuration: {one_line}", err=True)
    raise typer.Exit(code=BAD_CONFIGURATION_EXIT)


@app.command()
def migrate() -> None:
    """Bring the database schemas to the newest version."""
    from walletauth.server.runtime import prepare_data_dir
    from walletauth.store.migrate import migrate as upgrade
    from walletauth.store.migrate import pending_revisions

    settings = Settings()
    if _on_terminal():
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        url, keystore_url = settings.sqlalchemy_url, settings.keystore_url
        steps = pending_revisions(url, keystore_url)
        if steps:
            with typer.progressbar(length=len(steps), label="migrate", file=sys.stderr,
                                   show_pos=True, show_percent=True) as bar:
                upgrade(url, keystore_url, on_step=lambda _schema, _revision: bar.update(1))
    prepare_data_dir(settings)
    typer.echo("database is up to date")


@app.command()
def purge(
    batch_size: Annotated[int, typer.Option(min=1, help="Rows deleted per transaction")] = 1000,
) -> None:
    """Delete every record whose retention has run out; print how many per kind."""
    from walletauth.policy.loader import load_policy
    from walletauth.server.runtime import open_store, prepare_data_dir
    from walletauth.store import Secrets

    settings = Settings()
    prepare_data_dir(settings)
    secrets = Secrets.load_or_create(settings.data_dir / "secrets")
    store = open_store(settings, load_policy(settings.policy), secrets)
    try:
        report = _purge_with_progress(store, now=_now(), batch_size=batch_size,
                                      requests_retention=settings.requests_log_retention,
                                      notice_abandon_after=settings.notice_abandon_after)
    finally:
        store.close()
    for (category, purpose), count in sorted(report.records.items()):
        typer.echo(f"records {category}/{purpose}: {count}")
    typer.echo(f"records: {report.records_removed}")
    for kind in ("subjects", "nonces", "sessions", "orphan_keys", "requests_interrupted",
                 "requests_removed", "notices_abandoned", "provisions"):
        typer.echo(f"{kind}: {getattr(report, kind)}")


PROGRESS_POLL_SECONDS = 0.25


def _on_terminal() -> bool:
    """A progress bar only where a person watches: never in a pipe, a log or a test."""
    return sys.stderr.isatty()


def _disposals(report: PurgeReport) -> int:
    return (report.records_removed + report.subjects + report.nonces + report.sessions
            + report.provisions + report.requests_interrupted + report.requests_removed
            + report.notices_abandoned)


def _purge_with_progress(
    store: Store, *, now: datetime, batch_size: int, requests_retention: timedelta,
    notice_abandon_after: timedelta,
) -> PurgeReport:
    """The purge; on a terminal with a progress bar of what is done out of what its dry
    run counted (``console_counts.purge_preview``, read again while the purge's short
    batches commit, since Store.purge takes no callback)."""
    bounds = {"requests_retention": requests_retention,
              "notice_abandon_after": notice_abandon_after}
    if not _on_terminal():
        return store.purge(now=now, batch_size=batch_size, **bounds)
    from walletauth.store.console_counts import purge_preview

    def left() -> int:
        return _disposals(purge_preview(store, now=now, **bounds))

    total = max(left(), 1)
    shown = 0
    with ThreadPoolExecutor(max_workers=1) as pool, typer.progressbar(
            length=total, label="purge", file=sys.stderr, show_pos=True,
            show_percent=True) as bar:
        running = pool.submit(store.purge, now=now, batch_size=batch_size, **bounds)
        while True:
            try:
                report = running.result(timeout=PROGRESS_POLL_SECONDS)
                break
            except TimeoutError:
                done = min(total, max(0, total - left()))
                if done > shown:
                    bar.update(done - shown)
                    shown = done
        bar.update(total - shown)
    return report


@notices_app.command("deliver")
def notices_deliver() -> None:
    """Send the notices that are due once (for cron); safe beside running workers."""
    import asyncio
    import functools

    from walletauth.policy.loader import load_policy
    from walletauth.rights import DeliveryReport
    from walletauth.server.delivery import (
        DeliverySettings,
        deliver_once,
        notice_client,
        notice_endpoints,
    )
    from walletauth.server.runtime import open_store, prepare_data_dir
    from walletauth.server.store_gateway import StoreGateway, serial_for
    from walletauth.store import Secrets

    settings = Settings()
    delivery = DeliverySettings()
    prepare_data_dir(settings)
    secrets = Secrets.load_or_create(settings.data_dir / "secrets")

    async def one_round() -> DeliveryReport:
        # The workers' round, through the same gateway and client.
        policy = load_policy(settings.policy)
        gateway = await StoreGateway.open(
            functools.partial(open_store, settings, policy, secrets),
            serial=serial_for(settings.sqlalchemy_url),
        )
        optional = [purpose.id for purpose in policy.purposes.values() if purpose.optional]
        try:
            async with notice_client(delivery) as client:
                return await deliver_once(gateway, notice_endpoints(), client, delivery, _now,
                                          _logout_tokens(settings, gateway, optional))
        finally:
            await gateway.close()

    report = asyncio.run(one_round())
    typer.echo(f"delivered: {report.delivered}")
    typer.echo(f"failed: {report.failed}")
    for reason, count in sorted(report.errors.items()):
        typer.echo(f"failed {reason}: {count}")


def _logout_tokens(
    settings: Settings, gateway: StoreGateway, optional_purposes: Sequence[str]
) -> LogoutPoster | None:
    """The OpenID Provider's back-channel logouts, signed with the server's ID-token keys,
    where it is served (else none are ever queued); registered clients are read through
    ``gateway``."""
    from walletauth.oidc.logout import logout_tokens
    from walletauth.server.runtime import open_id_token_keyring

    rsa_keyring = open_id_token_keyring(settings)
    if rsa_keyring is None:
        return None
    return logout_tokens(
        settings, _keyring(settings), rsa_keyring, gateway, optional_purposes
    ).post


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Sign with a new key of each algorithm from now on; old keys stay published until
    their tokens expire."""
    settings = Settings()
    now = _now()
    for ring in _keyrings(settings):
        key = ring.rotate(now)
        typer.echo(f"new {ring.algorithm} signing key {key.kid}")


@keys_app.command("list")
def keys_list() -> None:
    """Show every key: the signing one of each algorithm, and the retired ones still
    published."""
    settings = Settings()
    now = _now()
    for ring in _keyrings(settings):
        for key in ring.all_keys():
            until = key.published_until(ring.token_ttl)
            if until is None:
                state = "signing"
            elif until > now:
                state = f"published until {until.isoformat(timespec='seconds')}"
            else:
                state = "expired"
            created = key.created_at.isoformat(timespec="seconds")
            typer.echo(f"{key.kid}  {ring.algorithm}  created {created}  {state}")


def _refuse(problem: str, code: int = BAD_CONFIGURATION_EXIT) -> NoReturn:
    typer.echo(f"walletauth: {' '.join(problem.split())}", err=True)
    raise typer.Exit(code=code)


def _load_secrets(settings: Settings) -> Secrets:
    from walletauth.store import Secrets, StoreError

    try:
        return Secrets.load_or_create(settings.data_dir / "secrets")
    except StoreError as error:
        _refuse(f"{error.code}: {error.message}")
    except OSError as error:
        _refuse(f"cannot read the secrets in {settings.data_dir / 'secrets'}: {error}")


def _open_secrets_store(settings: Settings, secrets: Secrets) -> Store:
    from sqlalchemy.exc import SQLAlchemyError

    from walletauth.policy.loader import load_policy
    from walletauth.server.runtime import open_store, prepare_data_dir
    from walletauth.store import StoreError

    try:
        prepare_data_dir(settings)
        return open_store(settings, load_policy(settings.policy), secrets)
    except (StoreError, WalletAuthError) as error:
        _refuse(f"{error.code}: {error.message}")
    except SQLAlchemyError as error:
        # The driver's first line says what is wrong (refused, unknown database...).
        cause = getattr(error, "orig", None) or error
        first = (str(cause).splitlines() or [type(cause).__name__])[0]
        _refuse(f"cannot open the database: {first}")


@secrets_app.command("add")
def secrets_add() -> None:
    """Write the next secrets version; what is new uses it once the workers restart."""
    from walletauth.store import StoreError

    settings = Settings()
    secrets = _load_secrets(settings)
    try:
        added = secrets.rotate().current.version
    except StoreError as error:
        _refuse(f"{error.code}: {error.message}")
    except OSError as error:
        _refuse(f"cannot write secrets version {max(secrets.versions) + 1}"
                f" in {secrets.directory}: {error}")
    typer.echo(f"secrets version {added} written to {secrets.directory}")
    # A key re-wrapped under a version a running worker has not loaded would break that
    # worker's sign-ins and exports: every worker must know it before anything moves.
    typer.echo("next: restart every worker (all hosts) so that all of them load it,"
               " then run `walletauth secrets rewrap`")


@secrets_app.command("rewrap")
def secrets_rewrap(
    batch_size: Annotated[int, typer.Option(min=1, help="Keys or refs per transaction")] = 1000,
) -> None:
    """Move every subject key and ref to the current secrets version (run again: a no-op)."""
    from walletauth.store import RotationReport, StoreError

    settings = Settings()
    secrets = _load_secrets(settings)
    store = _open_secrets_store(settings, secrets)
    try:
        report: RotationReport
        if _on_terminal() and (total := store.pending_rotation()):
            with typer.progressbar(length=total, label="rewrap", file=sys.stderr,
                                   show_pos=True, show_percent=True) as bar:
                report = store.rotate_secrets(secrets, batch_size=batch_size,
                                              on_progress=bar.update)
        else:
            report = store.rotate_secrets(secrets, batch_size=batch_size)
    except StoreError as error:
        _refuse(f"{error.code}: {error.message}")
    finally:
        store.close()
    typer.echo(f"current version: {secrets.current.version}")
    typer.echo(f"keys re-wrapped: {report.keys}")
    typer.echo(f"refs recomputed: {report.subjects}")


@secrets_app.command("retire")
def secrets_retire(
    version: Annotated[int, typer.Argument(help="The secrets version to delete")],
) -> None:
    """Delete an old secrets version; refused while any subject key or ref uses it."""
    from walletauth.store import StoreError

    settings = Settings()
    secrets = _load_secrets(settings)
    if version not in secrets.versions:
        _refuse(f"secrets version {version} is not in {secrets.directory}"
                f" (have {sorted(secrets.versions)})")
    if version == secrets.current.version:
        _refuse(f"secrets version {version} is the current one and cannot be retired")
    store = _open_secrets_store(settings, secrets)
    try:
        usage = store.secrets_usage().get(version)
    finally:
        store.close()
    if usage is not None and (usage.keys or usage.refs):
        _refuse(f"secrets version {version} still holds {usage.keys} subject keys and"
                f" {usage.refs} subject refs; run `walletauth secrets rewrap` first")
    try:
        secrets.retire(version)
    except StoreError as error:
        _refuse(f"{error.code}: {error.message}")
    except OSError as error:
        _refuse(f"cannot delete secrets version {version} in {secrets.directory}: {error}")
    typer.echo(f"secrets version {version} retired")


@secrets_app.command("list")
def secrets_list() -> None:
    """Show each secrets version and how many subject keys and refs it holds."""
    settings = Settings()
    secrets = _load_secrets(settings)
    store = _open_secrets_store(settings, secrets)
    try:
        usage = store.secrets_usage()
    finally:
        store.close()
    for number, held in usage.items():
        if number == secrets.current.version:
            state = "current"
        elif number in secrets.versions:
            state = "old"
        else:
            state = "missing"  # retired by hand while still in use: those subjects are lost
        typer.echo(f"v{number}  keys {held.keys}  refs {held.refs}  {state}")


policy_app = typer.Typer(help="The privacy policy as data.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")


@policy_app.command("diff")
def policy_diff(
    old: Annotated[str, typer.Argument(help="A shipped policy's name or a TOML file")],
    new: Annotated[str, typer.Argument(help="A shipped policy's name or a TOML file")],
) -> None:
    """Print what changed from OLD to NEW; exit 0 when nothing did, 1 when something did
    (as diff does), 2 when a policy cannot be loaded."""
    from walletauth.policy import PolicyError, load_policy
    from walletauth.policy.diff import policy_diff as differences

    try:
        before, after = load_policy(old), load_policy(new)
    except PolicyError as error:
        typer.echo(f"walletauth: {error.code}: {error.message}", err=True)
        raise typer.Exit(code=BAD_CONFIGURATION_EXIT) from None
    lines = differences(before, after)
    for line in lines:
        typer.echo(line)
    if lines:
        raise typer.Exit(code=1)
