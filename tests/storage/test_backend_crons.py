"""The Backend contract for crons (see ``Backend.create_cron`` … ``claim_cron``): every
test runs on every backend of ``conftest.BACKENDS``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from graph_sessions.models import CronInfo, SessionInfo
from graph_sessions.storage import Backend

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def cron(cron_id: str = "c1", **fields: Any) -> CronInfo:
    fields.setdefault("created_at", at(0))
    fields.setdefault("updated_at", fields["created_at"])
    fields.setdefault("next_run_date", at(60))
    fields.setdefault("assistant_id", "a")
    fields.setdefault("schedule", "* * * * *")
    return CronInfo(cron_id=cron_id, **fields)


async def test_crons_create_get_list_update_delete(backend: Backend) -> None:
    first = cron(
        owner="me",
        thread_id="t1",
        timezone="Europe/Paris",
        end_time=at(3600),
        payload={"input": {"x": [1, 2]}, "config": {"configurable": {"cron_id": "c1"}}},
        metadata={"team": "a"},
        on_run_completed=None,
    )
    assert await backend.create_cron(first)
    assert not await backend.create_cron(cron(schedule="0 0 * * *"))  # the id is taken
    assert await backend.get_cron("c1") == first
    assert await backend.get_cron("nope") is None
    assert await backend.create_cron(cron("c0", owner="you", created_at=at(5)))
    assert await backend.create_cron(cron("c2", owner="me", on_run_completed="delete"))
    assert [c.cron_id for c in await backend.list_crons()] == ["c1", "c2", "c0"]
    assert [c.cron_id for c in await backend.list_crons(owner="me")] == ["c1", "c2"]
    assert [c.cron_id for c in await backend.list_crons(thread_id="t1")] == ["c1"]
    assert await backend.list_crons(owner="you", thread_id="t1") == []
    changed = first.model_copy(update={"schedule": "*/5 * * * *", "enabled": False})
    assert await backend.update_cron(changed)
    assert await backend.get_cron("c1") == changed
    assert not await backend.update_cron(cron("gone"))
    assert await backend.delete_cron("c1")
    assert not await backend.delete_cron("c1")
    assert await backend.get_cron("c1") is None


async def test_due_crons_are_enabled_due_and_not_ended(backend: Backend) -> None:
    await backend.create_cron(cron("due", next_run_date=at(10)))
    await backend.create_cron(cron("sooner", next_run_date=at(5)))
    await backend.create_cron(cron("later", next_run_date=at(100)))
    await backend.create_cron(cron("off", next_run_date=at(1), enabled=False))
    await backend.create_cron(cron("ended", next_run_date=at(1), end_time=at(2)))
    await backend.create_cron(cron("ends", next_run_date=at(1), end_time=at(50)))
    due = await backend.due_crons(at(50))
    assert [c.cron_id for c in due] == ["ends", "sooner", "due"]
    assert [c.cron_id for c in await backend.due_crons(at(50), limit=1)] == ["ends"]
    assert await backend.due_crons(at(0)) == []


async def test_claim_is_a_compare_and_set_on_the_next_run_date(backend: Backend) -> None:
    await backend.create_cron(cron(next_run_date=at(10)))
    assert not await backend.claim_cron("c1", at(9), at(70))  # not what is stored
    assert await backend.claim_cron("c1", at(10), at(70))
    assert not await backend.claim_cron("c1", at(10), at(70))  # already moved on
    assert (await backend.get_cron("c1")).next_run_date == at(70)  # type: ignore[union-attr]
    assert not await backend.claim_cron("gone", at(10), at(70))
    # many claimers racing for one due time: exactly one wins
    won = await asyncio.gather(*(backend.claim_cron("c1", at(70), at(130)) for _ in range(8)))
    assert sum(won) == 1
    never = datetime(9999, 12, 31, tzinfo=UTC)  # the scheduler's "no time left"
    assert await backend.claim_cron("c1", at(130), never)
    assert await backend.due_crons(datetime(9999, 1, 1, tzinfo=UTC)) == []
    assert (await backend.get_cron("c1")).next_run_date == never  # type: ignore[union-attr]


async def test_deleting_a_session_deletes_its_crons(backend: Backend) -> None:
    await backend.create_session(SessionInfo(session_id="t1", created_at=T0, updated_at=T0))
    await backend.create_cron(cron("on-thread", thread_id="t1"))
    await backend.create_cron(cron("other", thread_id="t2"))
    await backend.create_cron(cron("stateless"))
    assert await backend.delete_session("t1")
    assert await backend.get_cron("on-thread") is None
    assert [c.cron_id for c in await backend.list_crons()] == ["other", "stateless"]
