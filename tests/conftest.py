from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A fresh SQLite file for one test."""
    return f"sqlite:///{tmp_path / 'sessions.db'}"


@pytest.fixture(params=["sqlite", "memory"])
def any_backend(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run a test on both embedded backends."""
    return f"sqlite:///{tmp_path / 'sessions.db'}" if request.param == "sqlite" else "memory://"
