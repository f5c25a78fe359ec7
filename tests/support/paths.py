"""Where things are, and the environment of a child process that imports ``support``."""

from __future__ import annotations

import os
from pathlib import Path

SUPPORT = Path(__file__).resolve().parent
TESTS = SUPPORT.parent
ROOT = TESTS.parent
EXAMPLES = ROOT / "examples"


def subprocess_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: ours) with ``tests/`` first on ``PYTHONPATH``, so a child process
    (the server loading a graph file of ``support``, the crash worker) can ``import support``."""
    env = dict(os.environ if base is None else base)
    parts = [str(TESTS), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(parts))
    return env
