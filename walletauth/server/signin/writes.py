"""What a successful verify writes: the nonce's use, the sign-in's records, the session.

A sign-in has one shape from the verify to the database, the store's :class:`SignIn`.
On SQL (no Redis) all three are one store transaction (:meth:`Store.sign_in_many`): one
subject lookup, one key-store read, and a nonce that was used already leaves nothing
behind. With Redis (:class:`NonceFirst`), the nonce's use and the session are one script
there first (the atomic step: the session exists only if the nonce's use won), then the
store's one transaction; if that fails, the session is revoked before the error is
answered, so a 503 leaves no session and no records (only the nonce used: a captured body
must not sign in later because our database was down when its owner sent it). A script
whose reply was lost may leave its session behind, named by no cookie or token, until
its TTL; the sign-in's records were not written.

Group commit (:class:`GroupCommit` on SQLite): SQLite's commit is about a third of a
sign-in's CPU, and there is one writer anyway. So the verifies that reach the store in one
turn of the event loop share one transaction, each in a savepoint of its own, and so one
commit: the first to queue starts the flush, which waits one more turn of the loop (the
verifies whose requests arrived with this one reach the store in it: batches of about 5
instead of 3 under ``benchmarks/login.py``, logins/s +8-15%) and goes through
:meth:`StoreGateway.run_short` (inline on the loop when no other store call is in
flight), and each caller gets its own outcome once the commit holding its writes is done.
A batch holds at most :data:`SQLITE_BATCH` sign-ins, so no caller waits behind an
unbounded queue. On PostgreSQL every sign-in is a batch of its own: the workers' batches
would lock subject rows and nonce keys in different orders and could deadlock, and
PostgreSQL runs sign-ins in parallel anyway. With Redis (:class:`NonceFirst`) the
sign-ins of a turn go together too, on PostgreSQL in one transaction of four round trips
that locks their subjects in one order (:mod:`walletauth.store.login_sql`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from datetime import datetime
from typing import Any, Protocol

from walletauth.server.store_gateway import StoreGateway
from walletauth.store import Store
from walletauth.store.logins import SignIn, SignInOutcome

log = logging.getLogger("walletauth.server.signin.writes")

SQLITE_BATCH = 32
"""Most sign-ins in one SQLite transaction. Per sign-in (``benchmarks/login_floor.py``):
about 335 us alone, 170 in batches of 8, 160 of 16, 150-165 of 32 and 64; the commit's
share stops shrinking while the last of a batch, and the event loop, wait for all."""
REDIS_BATCH = 32
"""Most sign-ins in one Redis script call and one store call (:class:`NonceFirst`)."""


class SignInWrites(Protocol):
    async def write(self, sign_in: SignIn) -> bool:
        """Store ``sign_in``; False, with nothing stored, if its nonce was used already."""


class GroupCommit:
    """Nonce, records and session in the store's tables, in one transaction shared with
    the sign-ins queued with it (see the module's docstring)."""

    def __init__(self, gateway: StoreGateway, *, max_batch: int) -> None:
        if max_batch < 1:
            raise ValueError(f"a batch holds at least one sign-in, not {max_batch}")
        self._gateway = gateway
        self._max_batch = max_batch
        self._queued: list[tuple[SignIn, asyncio.Future[bool]]] = []
        self._flushes: set[asyncio.Task[None]] = set()  # held: the loop keeps weak refs

    async def write(self, sign_in: SignIn) -> bool:
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queued.append((sign_in, answer))
        if len(self._queued) == 1:
            # A task starts on the loop's next turn: the verifies due in this one queue first.
            _spawn(self._flushes, self._flush())
        return await answer

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # one more turn: see the module's docstring
        queued, self._queued = self._queued, []
        size = self._max_batch
        batches = [queued[start:start + size] for start in range(0, len(queued), size)]
        for batch in batches[1:]:
            _spawn(self._flushes, self._write_batch(batch))
        await self._write_batch(batches[0])

    async def _write_batch(self, batch: Sequence[tuple[SignIn, asyncio.Future[bool]]]) -> None:
        answers = [answer for _sign_in, answer in batch]
        try:
            outcomes = await self._gateway.run_short(
                Store.sign_in_many, [sign_in for sign_in, _answer in batch]
            )
        except Exception as error:  # the commit failed: every sign-in of the batch with it
            for answer in answers:
                _answer(answer, SignInOutcome(False, error))
            return
        except BaseException:  # cancelled (shutdown): no answer will come
            for answer in answers:
                answer.cancel()
            raise
        for answer, outcome in zip(answers, outcomes, strict=True):
            _answer(answer, outcome)


def _spawn(held: set[asyncio.Task[None]], flush: Coroutine[Any, Any, None]) -> None:
    """Run ``flush`` as a task, held in ``held`` until it is done (the loop keeps only
    weak references to its tasks)."""
    task = asyncio.get_running_loop().create_task(flush)
    held.add(task)
    task.add_done_callback(held.discard)


def _answer(answer: asyncio.Future[bool], outcome: SignInOutcome) -> None:
    if answer.done():  # its caller was cancelled; the sign-in is written all the same
        return
    if outcome.error is not None:
        answer.set_exception(outcome.error)
    else:
        answer.set_result(outcome.written)


class NonceAndSessionState(Protocol):
    """Short-lived state that uses a nonce and creates a session in one step (Redis)."""

    async def use_nonce_with_session(
        self, nonce: str, *, issued_at: datetime, remember_until: datetime,
        session_id: str, address: str, session_expires_at: datetime, now: datetime,
    ) -> bool:
        """Use ``nonce`` and create the session, both or neither; true for exactly one
        caller of a nonce."""

    async def use_nonces_with_sessions(self, sign_ins: Sequence[SignIn]) -> list[bool]:
        """:meth:`use_nonce_with_session` for each sign-in, in one round trip."""

    async def revoke_session(self, session_id: str) -> None: ...


class NonceFirst:
    """The nonce's use and the session in one step of the short-lived state (Redis), then
    the records in the store; the session withdrawn if the records fail.

    The verifies that reach it in one turn of the event loop go together, as
    :class:`GroupCommit`'s do on SQLite: their Redis steps in one script call, then their
    records in one store call (:meth:`Store.record_logins`: on PostgreSQL one transaction
    of four round trips for all of them), each sign-in still with its own answer: its
    nonce used already, its own refusal, or the store's failure (then its session is
    withdrawn). A verify alone in its turn takes the steps of one sign-in. At most
    ``max_batch`` go together.

    One batch is in flight at a time: the verifies that arrive meanwhile wait for it and
    go together next (group commit). Flushing each loop turn's verifies at once made
    batches of 1.9 under ``benchmarks/login.py``, since on this path the event loop is
    free while Redis and the store threads work, and verifies reach it one by one. The
    verifies held back count against the store queue's bound, as the store calls they
    will make (:meth:`StoreGateway.refuse_if_full`)."""

    def __init__(
        self, state: NonceAndSessionState, gateway: StoreGateway, *, max_batch: int
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"a batch holds at least one sign-in, not {max_batch}")
        self._state = state
        self._gateway = gateway
        self._max_batch = max_batch
        self._queued: list[tuple[SignIn, asyncio.Future[bool]]] = []
        self._flush_due = False  # a flush task is started and has not taken its batch yet
        self._writing = False  # a batch is in flight
        self._flushes: set[asyncio.Task[None]] = set()  # held: the loop keeps weak refs

    async def write(self, sign_in: SignIn) -> bool:
        # A full store queue refuses before the nonce is spent: the same signed body may
        # then be sent again after Retry-After instead of asking the wallet to sign anew.
        self._gateway.refuse_if_full(waiting=len(self._queued))
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queued.append((sign_in, answer))
        self._start_flush()
        return await answer

    def _start_flush(self) -> None:
        if self._queued and not self._flush_due and not self._writing:
            self._flush_due = True
            # A task starts on the loop's next turn: the verifies due in this one queue first.
            _spawn(self._flushes, self._flush())

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # one more turn, as GroupCommit's
        self._flush_due = False
        batch, self._queued = self._queued[:self._max_batch], self._queued[self._max_batch:]
        self._writing = True
        try:
            await self._write_batch(batch)
        except Exception as error:  # a fault of this code: every caller still gets an answer
            for _sign_in, answer in batch:
                if not answer.done():
                    answer.set_exception(error)
        finally:
            self._writing = False
            self._start_flush()

    async def _write_batch(self, batch: Sequence[tuple[SignIn, asyncio.Future[bool]]]) -> None:
        answers = [answer for _sign_in, answer in batch]
        try:
            used = await self._use_nonces([sign_in for sign_in, _answer in batch])
        except Exception as error:  # nothing was used: every sign-in of the batch fails
            for answer in answers:
                _answer(answer, SignInOutcome(False, error))
            return
        except BaseException:  # cancelled (shutdown): no answer will come
            for answer in answers:
                answer.cancel()
            raise
        winners = []
        for (sign_in, answer), won in zip(batch, used, strict=True):
            if won:
                winners.append((sign_in, answer))
            else:
                _answer(answer, SignInOutcome(False))
        if not winners:
            return
        try:
            outcomes = await self._record([sign_in for sign_in, _answer in winners])
        except Exception as error:
            outcomes = [SignInOutcome(False, error)] * len(winners)
        except BaseException:
            for _sign_in, answer in winners:
                answer.cancel()
            raise
        for (sign_in, answer), outcome in zip(winners, outcomes, strict=True):
            if outcome.error is not None:
                await self._withdraw(sign_in.session_id)
            _answer(answer, outcome)

    async def _use_nonces(self, sign_ins: Sequence[SignIn]) -> list[bool]:
        if len(sign_ins) > 1:
            return await self._state.use_nonces_with_sessions(sign_ins)
        (sign_in,) = sign_ins
        return [await self._state.use_nonce_with_session(
            sign_in.nonce, issued_at=sign_in.nonce_issued_at,
            remember_until=sign_in.nonce_remember_until, session_id=sign_in.session_id,
            address=sign_in.address, session_expires_at=sign_in.session_expires_at,
            now=sign_in.now,
        )]

    async def _record(self, sign_ins: Sequence[SignIn]) -> list[SignInOutcome]:
        if len(sign_ins) > 1:
            return await self._gateway.run(Store.record_logins, sign_ins)
        (sign_in,) = sign_ins
        await self._gateway.run(
            Store.record_login, sign_in.address, sign_in.chain_id, now=sign_in.now,
            ip=sign_in.ip, user_agent=sign_in.user_agent,
        )
        return [SignInOutcome(True)]

    async def _withdraw(self, session_id: str) -> None:
        """End the session of a sign-in whose records failed, before its error is answered."""
        try:
            await self._state.revoke_session(session_id)
        except Exception as error:  # Redis went away too: the store's error is the answer
            # Harmless left over: no cookie or token names it, and it expires with its TTL.
            log.warning("the session of a failed sign-in could not be revoked (%s)",
                        type(error).__name__)
