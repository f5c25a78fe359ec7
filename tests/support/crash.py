"""The parent side of the crash tests: a ``crash_worker.py`` child process whose stdout lines
are collected by a reader thread, and the marker file its slow graph writes."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from support.paths import subprocess_env

WORKER = Path(__file__).resolve().parent / "crash_worker.py"  # run by path, with subprocess_env()
DEADLINE = 60.0  # upper bound for waiting on the worker; never an assertion on duration


class Worker:
    """A crash_worker.py process whose stdout lines are collected by a reader thread."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.stderr_path = tmp_path / f"worker-{time.monotonic_ns()}.err"
        self._stderr = open(self.stderr_path, "w")  # noqa: SIM115 - closed in kill()
        self.proc = subprocess.Popen(
            [sys.executable, "-u", str(WORKER), *args],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
            env=subprocess_env(),
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def _diagnose(self) -> str:
        return f"worker stdout so far: {self.lines[-5:]}; stderr:\n{self.stderr_path.read_text()[-3000:]}"

    def next_line(self, timeout: float) -> str | None:
        """The next stdout line, or None when the worker closed stdout or nothing came in time."""
        try:
            line = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if line is not None:
            self.lines.append(line)
        return line

    def wait_line(self, prefix: str) -> str:
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            line = self.next_line(timeout=0.2)
            if line is not None and line.startswith(prefix):
                return line
            if line is None and self.proc.poll() is not None and self._queue.empty():
                pytest.fail(
                    f"the worker exited ({self.proc.returncode}) before printing {prefix!r}; {self._diagnose()}"
                )
        pytest.fail(f"the worker never printed {prefix!r}; {self._diagnose()}")

    def wait_for(self, predicate: Callable[[], bool], what: str) -> None:
        end = time.monotonic() + DEADLINE
        while not predicate():
            if self.proc.poll() is not None:
                pytest.fail(
                    f"the worker exited ({self.proc.returncode}) while waiting for {what}; {self._diagnose()}"
                )
            if time.monotonic() > end:
                pytest.fail(f"gave up waiting for {what}; {self._diagnose()}")
            time.sleep(0.01)

    def kill(self) -> None:
        """SIGKILL and reap (a zombie would still look alive to ``kill(pid, 0)``)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        self._reader.join(timeout=30)
        while self.next_line(timeout=0) is not None:  # collect what it printed before dying
            pass
        self._stderr.close()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def marker_starts(marker: Path) -> list[str]:
    """The steps whose start the marker file records, in order (``s0``, ``s1``, ...)."""
    if not marker.exists():
        return []
    return [
        line.split(":")[1] for line in marker.read_text().splitlines() if line.startswith("start:")
    ]
