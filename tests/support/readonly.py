"""Make a database file really read-only in a test, also as root (where chmod does not
stop writes): ``chattr +i`` when running as root, ``chmod`` otherwise."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` cannot be opened for writing inside the block (skips the test when this
    machine offers no way to do that)."""
    if os.geteuid() == 0:
        chattr = shutil.which("chattr")
        if chattr is None:
            pytest.skip("root without chattr: no way to make a file read-only")
        done = subprocess.run([chattr, "+i", str(path)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"chattr +i failed: {done.stderr.decode(errors='replace').strip()}")
        try:
            yield
        finally:
            subprocess.run([chattr, "-i", str(path)], check=True)
        return
    mode = path.stat().st_mode
    path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    try:
        yield
    finally:
        path.chmod(mode)
