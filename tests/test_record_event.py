"""``GraphSessionManager.record_event``: an entry in a session's log made beside its runs
(a webhook's delivery) leaves the registry row alone, and a session that is gone gets
nothing."""

from __future__ import annotations

from graph_sessions import GraphSessionManager
from graph_sessions.models import EventType


async def test_record_event_appends_without_touching_the_row(
    chat_manager: GraphSessionManager,
) -> None:
    session = await chat_manager.create()
    before = await chat_manager.info(session.session_id)
    recorded = await chat_manager.record_event(
        session.session_id,
        EventType.WEBHOOK_DELIVERED,
        run_id="r1",
        data={"host": "hooks.example.com", "status_code": 200, "attempts": 1},
    )
    assert recorded is True
    after = await chat_manager.info(session.session_id)
    assert (after.revision, after.updated_at, after.status) == (
        before.revision,
        before.updated_at,
        before.status,
    )
    events = await chat_manager.context.backend.list_events(session.session_id)
    last = events[-1]
    assert (last.type, last.run_id, last.data) == (
        EventType.WEBHOOK_DELIVERED,
        "r1",
        {"host": "hooks.example.com", "status_code": 200, "attempts": 1},
    )
    assert last.at >= before.updated_at

    await chat_manager.delete(session.session_id)
    gone = await chat_manager.record_event(session.session_id, EventType.WEBHOOK_FAILED)
    assert gone is False
