"""``graph-sessions chat`` in a real terminal (a pty from the stdlib): Ctrl-C, the spinner,
the continue hint; and through pipes: replies, /state, reopening a failed session."""

from __future__ import annotations

import ctypes
import os
import platform
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SLOW = f"{ROOT / 'tests' / 'support' / 'chat_graphs.py'}:slow_graph"
APPROVAL = f"{ROOT / 'tests' / 'support' / 'graphs.py'}:approval_graph"
EXE = str(Path(sys.executable).parent / "graph-sessions")
ENV = {k: v for k, v in os.environ.items() if not k.startswith("GRAPH_SESSIONS_")}
_ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")]


class Terminal:
    """A process on a pseudo-terminal: type into it, wait for what it prints."""

    def __init__(self, *args: str) -> None:
        env = {**ENV, "TERM": "xterm", "COLUMNS": "200", "LINES": "40"}
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the CLI, with the pty as its controlling terminal
            # as a terminal starts it: Ctrl-C interrupts (a test runner started in the
            # background by a non-interactive shell has SIGINT ignored, and children inherit it)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.execve(EXE, [EXE, *args], env)
        self.seen = b""
        self.exited = False
        self.start = 0  # expect() looks at what was printed after the last type()

    def type(self, data: bytes) -> None:
        self.start = len(_ANSI.sub(b"", self.seen))
        os.write(self.fd, data)

    def _new(self) -> bytes:
        return _ANSI.sub(b"", self.seen)[self.start :]

    def expect(self, text: str, timeout: float = 30) -> str:
        """Wait (bounded) until ``text`` has been printed (ANSI codes removed)."""
        deadline = time.monotonic() + timeout
        while text.encode() not in self._new():
            left = deadline - time.monotonic()
            assert left > 0, f"{text!r} not printed within {timeout} s; got {self.plain()!r}"
            ready, _, _ = select.select([self.fd], [], [], min(left, 0.5))
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:  # the child exited
                    chunk = b""
                if not chunk:
                    assert text.encode() in self._new(), self.plain()
                    break
                self.seen += chunk
        return self.plain()

    def plain(self) -> str:
        return _ANSI.sub(b"", self.seen).decode(errors="replace")

    def wait(self, timeout: float = 30) -> int:
        """The exit code, waiting at most ``timeout`` s (then the child is killed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with_pid, status = os.waitpid(self.pid, os.WNOHANG)
            if with_pid:
                self.exited = True
                self._drain()
                return os.waitstatus_to_exitcode(status)
            self._drain(0.2)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        raise AssertionError(f"still running after {timeout} s; printed {self.plain()!r}")

    def _drain(self, wait: float = 0) -> None:
        while select.select([self.fd], [], [], wait)[0]:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.seen += chunk
            wait = 0

    def close(self) -> None:
        if not self.exited and not os.waitpid(self.pid, os.WNOHANG)[0]:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


def test_ctrl_c_cancels_a_turn_then_leaves_at_the_prompt(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tty.db'}"
    term = Terminal("chat", SLOW, "--session", "t1", "--backend", url)
    try:
        term.expect("you> ")
        term.type(b"0.1\r")
        term.expect("graph> slept on 0.1")
        term.type(b"60\r")  # a turn that would take a minute
        term.expect("sleepy")  # the spinner names the node at work
        term.type(b"\x03")
        term.expect("cancelled: the run was stopped (Ctrl-C)", timeout=20)
        term.expect("you> ")  # back at the prompt
        # CPython's readline loses a SIGINT that lands between printing the prompt and
        # waiting for a key (a race no person at a keyboard hits): press it a moment later
        time.sleep(0.5)
        term.type(b"\x03")  # Ctrl-C at the prompt leaves at once, no Enter needed
        code = term.wait(timeout=20)
        out = term.plain()
    finally:
        term.close()
    assert code == 130, out
    assert f"continue with: graph-sessions chat {SLOW} --session t1 --backend {url}" in out
    # Reopening says why the session is failed.
    done = subprocess.run(
        [EXE, "chat", SLOW, "--session", "t1", "-b", url],
        input="/quit\n",
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
    )
    assert "(failed)" in done.stdout
    assert "last run failed: run " in done.stdout and "was cancelled" in done.stdout, done.stdout


_TGKILL = {"x86_64": 234, "aarch64": 131}.get(platform.machine())


@pytest.mark.skipif(not sys.platform.startswith("linux") or _TGKILL is None, reason="tgkill")
def test_ctrl_c_landing_on_another_thread_cancels_at_once(tmp_path: Path) -> None:
    """A Ctrl-C the kernel delivers to one of the chat's other threads (aiosqlite's, the
    spinner's...) cancels the turn at once too, not when the event loop next wakes by
    itself."""
    url = f"sqlite:///{tmp_path / 'tty.db'}"
    term = Terminal("chat", SLOW, "--session", "t2", "--backend", url)
    try:
        term.expect("you> ")
        term.type(b"60\r")
        term.expect("sleepy")
        others = [int(t) for t in os.listdir(f"/proc/{term.pid}/task") if int(t) != term.pid]
        assert others, "the chat runs other threads"
        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.syscall(_TGKILL, term.pid, others[0], signal.SIGINT) == 0
        term.expect("cancelled: the run was stopped (Ctrl-C)", timeout=5)
        term.expect("you> ")
        term.type(b"/quit\r")
        assert term.wait(timeout=20) == 0
    finally:
        term.close()


def test_arrow_keys_edit_the_line_instead_of_printing_escapes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'edit.db'}"
    term = Terminal("chat", SLOW, "--session", "e1", "--backend", url)
    try:
        term.expect("you> ")
        term.type(b"0x\x1b[D.1\r")  # type "0x", Left, ".1": the line is "0.1x"
        term.expect("graph> slept on 0.1x")
        term.type(b"/quit\r")
        assert term.wait() == 0
    finally:
        term.close()


def test_replies_belong_to_their_turn_and_state_hides_internal_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pipe.db'}"
    done = subprocess.run(
        [EXE, "chat", APPROVAL, "--session", "p1", "-b", url],
        input="refund\nyes\nsecond\n/quit\n",
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    # The second turn stops at the interrupt: it must not repeat the first turn's reply.
    assert done.stdout.count("graph> sent") == 1, done.stdout
    assert done.stdout.count("? approve?") == 2
    done = subprocess.run(
        [EXE, "chat", SLOW, "--session", "s1", "-b", url],
        input="0\n/state\n/state all\n/quit\n",
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    first, _, rest = done.stdout.partition("  _route: internal")
    assert "  response: slept on 0" in first and "_route" not in first  # /state
    assert rest != "" or "_route: internal" in done.stdout  # /state all shows it
    assert done.stdout.count("_route: internal") == 1
