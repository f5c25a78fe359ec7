"""The rules behind durable runs, without a server: when a pending run's claim lapsed
(the lease rule of ``core/leases.py``), and the ``error`` a Run reads from its row."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from graph_sessions.models import RunInfo, RunStatus
from graph_sessions.server.langgraph_api.durable_runs import claim_lapsed
from graph_sessions.server.langgraph_api.run_shapes import row_error
from graph_sessions.storage.records import PendingRun

NOW = datetime.now(UTC)
HOST = socket.gethostname()


def row(claimed_by: str | None, until: datetime | None) -> PendingRun:
    return PendingRun(
        run_id="r",
        session_id="s",
        owner=None,
        created_at=NOW,
        payload={},
        claimed_by=claimed_by,
        claimed_until=until,
    )


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_claim_lapsed() -> None:
    now = datetime.now(UTC)  # not the module's NOW: the suite may run long before this
    later = now + timedelta(seconds=60)
    assert claim_lapsed(row(None, None), "me")
    assert not claim_lapsed(row("me", later), "me")  # held here
    assert claim_lapsed(row(f"{HOST}:{dead_pid()}:x", later), "me")  # its process is gone
    # a live process of another host holds it until its claim time passes
    assert not claim_lapsed(row("elsewhere:1:x", later), "me")
    assert claim_lapsed(row("elsewhere:1:x", now - timedelta(seconds=1)), "me")


def test_row_error() -> None:
    def run(status: RunStatus, error: str | None) -> RunInfo:
        return RunInfo(run_id="r", session_id="s", status=status, started_at=NOW, error=error)

    repaired = (
        "the process running run r (h:1:x) stopped: the process holding it died; "
        "the session was repaired from its last checkpoint"
    )
    assert row_error(run(RunStatus.ERROR, repaired)) == {
        "error": "RunRepaired",
        "message": repaired,
    }
    assert row_error(run(RunStatus.ERROR, "ValueError: boom")) == {
        "error": "ValueError",
        "message": "boom",
    }
    assert row_error(run(RunStatus.ERROR, "no type here")) == {
        "error": "Error",
        "message": "no type here",
    }
    assert row_error(run(RunStatus.SUCCESS, None)) is None
    assert row_error(run(RunStatus.CANCELLED, "cancelled (interrupt)")) is None
