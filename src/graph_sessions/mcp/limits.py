"""What bounds and counts the runs an MCP tool starts (no import of the SDK).

Over HTTP (``server/mcp_mount.py``) a run tool honours the server's ``run_timeout`` and is
counted in the server's metrics as REST's runs are; on stdio nothing bounds or counts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class RunMeter(Protocol):
    """Where runs are counted (``ServerMetrics`` is one): a gauge of the runs executing and
    one observation per run ended."""

    active_runs: Any  # a gauge: ``inc()`` / ``dec()``

    def observe_run(self, kind: str, outcome: str, seconds: float) -> None:
        """Count one run of ``kind`` ended with ``outcome`` after ``seconds``."""


@dataclass(frozen=True)
class RunLimits:
    """``timeout``: seconds a run may take before it is cancelled (``None``: no bound);
    ``meter``: where runs are counted (``None``: nowhere)."""

    timeout: float | None = None
    meter: RunMeter | None = None


#: the stdio server's: no bound, no count
UNLIMITED = RunLimits()
