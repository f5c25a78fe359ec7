"""Fixtures of the real-client proofs: one server process per module serving the reference
graphs, and the JavaScript packages of ``tests/clients/js`` installed once by ``npm ci``."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.lgapi import start_lg_server
from support.server import ServerProcess

JS = Path(__file__).resolve().parent / "js"
INSTALL_HINT = (
    "node 20 and npm are needed by the client tests (CI runs them): "
    "`apt-get install -y nodejs npm` on Debian"
)


def require_tool(name: str, hint: str) -> str:
    """The path of ``name``, or a loud failure (these tests never skip) saying how to get it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is not on PATH. {hint}", pytrace=False)
    return path


@pytest.fixture(scope="session")
def js_packages() -> Path:
    """``tests/clients/js`` with its node_modules installed by ``npm ci`` from the committed
    package-lock.json; skipped when the lock file has not changed since the last install."""
    require_tool("node", INSTALL_HINT)
    npm = require_tool("npm", INSTALL_HINT)
    lock = JS / "package-lock.json"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    stamp = JS / "node_modules" / ".graph-sessions-lock"
    # pytest-xdist workers share this folder: one installs while the others wait
    with (JS / ".npm-install.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        if not stamp.exists() or stamp.read_text() != digest:
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=JS,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
            stamp.write_text(digest)
    return JS


@pytest.fixture(scope="module")
def lg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real server process on 127.0.0.1 serving chat, approval, slow and parent."""
    srv = start_lg_server(tmp_path_factory.mktemp("clients"))
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def api_url(request: pytest.FixtureRequest) -> str:
    """The server the client talks to: ours (``lg_server``), or LangGraph's own server when
    ``CLIENTS_REFERENCE_URL`` is set (run by hand, to check that a test itself is right)."""
    reference = os.environ.get("CLIENTS_REFERENCE_URL")
    if reference:
        return reference
    server: ServerProcess = request.getfixturevalue("lg_server")
    return server.url
