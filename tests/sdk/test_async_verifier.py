"""AsyncSessionVerifier: the same rules, for asyncio services."""

from __future__ import annotations

import asyncio

from tests.sdk.conftest import ADDRESS, AUDIENCE, ISSUER, SigningKey, refused
from walletauth.sdk import AsyncSessionVerifier


def _verifier(jwks_server, clock, **options) -> AsyncSessionVerifier:
    return AsyncSessionVerifier(
        jwks_server.url, issuer=ISSUER, audience=AUDIENCE, clock=clock, **options
    )


async def test_a_valid_token_yields_the_wallet_session(jwks_server, signing_key, clock):
    async with _verifier(jwks_server, clock) as verifier:
        session = await verifier.verify(signing_key.issue(sid="ses_a", chain_id=10))
    assert (session.address, session.chain_id, session.session_id) == (ADDRESS, 10, "ses_a")


async def test_rotation_costs_one_refetch_and_garbage_kids_none_more(
    jwks_server, signing_key, clock
):
    async with _verifier(jwks_server, clock) as verifier:
        await verifier.verify(signing_key.issue())
        rotated = SigningKey()
        jwks_server.publish(signing_key, rotated)
        await verifier.verify(rotated.issue())
        for _ in range(20):
            with refused("token_invalid"):
                await verifier.verify(SigningKey().issue())
    assert jwks_server.requests == 2


async def test_concurrent_first_requests_share_one_fetch(jwks_server, signing_key, clock):
    async with _verifier(jwks_server, clock) as verifier:
        sessions = await asyncio.gather(*(verifier.verify(signing_key.issue()) for _ in range(8)))
    assert len(sessions) == 8
    assert jwks_server.requests == 1


async def test_an_endpoint_that_is_down_is_jwks_unavailable(jwks_server, signing_key, clock):
    jwks_server.stop()
    async with _verifier(jwks_server, clock) as verifier:
        with refused("jwks_unavailable"):
            await verifier.verify(signing_key.issue())


async def test_a_coroutine_revocation_check_is_awaited(jwks_server, signing_key, clock):
    async def revoked(session_id: str) -> bool:
        await asyncio.sleep(0)
        return session_id == "ses_gone"

    async with _verifier(jwks_server, clock, revocation_check=revoked) as verifier:
        assert (await verifier.verify(signing_key.issue(sid="ses_ok"))).session_id == "ses_ok"
        with refused("token_revoked"):
            await verifier.verify(signing_key.issue(sid="ses_gone"))


async def test_a_failing_async_revocation_check_refuses(jwks_server, signing_key, clock):
    async def unreachable(session_id: str) -> bool:
        raise TimeoutError

    async with _verifier(jwks_server, clock, revocation_check=unreachable) as verifier:
        with refused("revocation_unavailable"):
            await verifier.verify(signing_key.issue())


async def test_refresh_keys_fetches_at_start_up(jwks_server, signing_key, clock):
    async with _verifier(jwks_server, clock) as verifier:
        assert await verifier.refresh_keys() == 1
        await verifier.verify(signing_key.issue())
    assert jwks_server.requests == 1
