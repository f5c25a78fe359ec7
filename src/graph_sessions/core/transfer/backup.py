"""``graph-sessions backup``: a consistent copy of a SQLite backend's file, taken while a
server may be writing to it.

SQLite's online backup API (``sqlite3.Connection.backup``) copies every page in one step
under one read transaction: in WAL mode (the backend's) that is a snapshot of the last
commit before it began, and writers are not blocked meanwhile. The copy is written beside
the target under a temporary name, checked (``PRAGMA integrity_check``) and renamed into
place, so the target is either absent or a whole, checked copy."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from graph_sessions.errors import BackendError, InvalidInput
from graph_sessions.storage.urls import sqlite_path_of


@dataclass
class BackupReport:
    """What a backup copied."""

    source: str
    target: str
    bytes: int
    pages: int
    sessions: int
    seconds: float


def backup_sqlite(url: str, target: str | Path, *, overwrite: bool = False) -> BackupReport:
    """Copy the SQLite database ``url`` names to ``target`` (see the module docstring).
    ``InvalidInput`` when ``url`` is not a SQLite file or ``target``
    exists and not ``overwrite``; ``BackendError`` when the source cannot be read or the
    copy fails its check."""
    path = sqlite_path_of(url)
    if path is None or path == ":memory:" or "://" in str(path):
        raise InvalidInput(f"backup copies a SQLite file; {url!r} is not one")
    if not os.path.exists(path):
        raise BackendError(f"database {path!r} does not exist")
    out = Path(target)
    if out.exists() and not overwrite:
        raise InvalidInput(f"{str(out)!r} exists (pass --force to overwrite it)")
    if out.resolve() == Path(path).resolve():
        raise InvalidInput("the backup would overwrite its own source")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.partial")
    start = time.perf_counter()
    try:
        source = sqlite3.connect(f"file:{Path(path).resolve()}?mode=rw", uri=True)
        try:
            source.execute("PRAGMA busy_timeout = 10000")
            dest = sqlite3.connect(tmp)
            try:
                source.backup(dest)  # pages=-1: one step, one snapshot
                pages, sessions = _check(dest)
            finally:
                dest.close()
        finally:
            source.close()
        os.replace(tmp, out)
    except sqlite3.Error as exc:
        raise BackendError(f"backup of {path!r} failed: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return BackupReport(
        source=str(Path(path).resolve()),
        target=str(out.resolve()),
        bytes=out.stat().st_size,
        pages=pages,
        sessions=sessions,
        seconds=time.perf_counter() - start,
    )


def _check(db: sqlite3.Connection) -> tuple[int, int]:
    """(pages, sessions) of a copy that passes ``PRAGMA integrity_check``."""
    result = db.execute("PRAGMA integrity_check").fetchall()
    if result != [("ok",)]:
        problems = "; ".join(str(r[0]) for r in result[:5])
        raise BackendError(f"the copy fails its integrity check: {problems}")
    pages = int(db.execute("PRAGMA page_count").fetchone()[0])
    has_sessions = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sessions'"
    ).fetchone()
    sessions = int(db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]) if has_sessions else 0
    return pages, sessions
