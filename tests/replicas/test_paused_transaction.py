"""A replica paused inside a Postgres transaction (SIGSTOP, a long GC) must not hold its
row locks forever: the server ends a connection idle in a transaction after
``idle_in_transaction_timeout`` seconds, so the other replicas (the repair of the paused
one's lapsed lease included) go on."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from graph_sessions.errors import BackendError
from graph_sessions.models import SessionInfo
from graph_sessions.storage import backend_from_url
from graph_sessions.storage.records import SessionUpdate

pytestmark = pytest.mark.timeout(60)


def with_option(url: str, option: str) -> str:
    return url + ("&" if "?" in url else "?") + option


@pytest.mark.parametrize("timeout", ["0.5", "0"])
async def test_a_transaction_left_idle_loses_its_locks(postgres_url: str, timeout: str) -> None:
    paused = backend_from_url(with_option(postgres_url, f"idle_in_transaction_timeout={timeout}"))
    other = backend_from_url(postgres_url)
    await paused.open()
    await other.open()
    try:
        now = datetime.now(UTC)
        await other.create_session(SessionInfo(session_id="s", created_at=now, updated_at=now))
        pool = paused.connection  # type: ignore[attr-defined]
        with pytest.raises(BackendError):  # its connection is gone when it wakes up
            async with pool.transaction() as cur:
                await cur.execute("SELECT 1 FROM sessions WHERE session_id = 's' FOR UPDATE")
                began = time.monotonic()
                update = other.update_session("s", SessionUpdate(metadata={"k": 1}))
                try:
                    # the "paused" holder does nothing; the other one waits for the lock
                    done = await asyncio.wait_for(update, 5)
                except TimeoutError:
                    if timeout == "0":  # no bound: the lock is held as long as the holder
                        raise BackendError("held, as configured") from None
                    raise
                assert timeout != "0"
                assert done is not None and time.monotonic() - began < 3
                await asyncio.sleep(0.2)
    finally:
        await paused.close()
        await other.close()
