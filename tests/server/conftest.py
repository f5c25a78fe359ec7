"""Fixtures: the shared server process and one authenticated httpx client per user."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.server import API_KEYS_ENV, JWT_SECRET, ServerProcess, start_module_server


@pytest.fixture(scope="session")
def jwks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An RSA key pair and the JWKS file that holds its public half."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    public.update({"kid": "test-key", "alg": "RS256", "use": "sig"})
    path = tmp_path_factory.mktemp("jwks") / "jwks.json"
    path.write_text(json.dumps({"keys": [public]}))
    return {"private": key, "path": path}


@pytest.fixture(scope="session")
def server(
    tmp_path_factory: pytest.TempPathFactory, jwks: dict[str, Any]
) -> Iterator[ServerProcess]:
    """The shared server: API keys for alice, bob (users) and root (admin), an HS256 secret,
    a JWKS file, run_timeout 3 s, a 64 KiB body limit."""
    folder = tmp_path_factory.mktemp("server")
    proc = start_module_server(
        folder,
        env={
            "GRAPH_SESSIONS_API_KEYS": API_KEYS_ENV,
            "GRAPH_SESSIONS_JWT_SECRET": JWT_SECRET,
            "GRAPH_SESSIONS_JWKS_FILE": str(jwks["path"]),
            "GRAPH_SESSIONS_RUN_TIMEOUT": "3",
            "GRAPH_SESSIONS_MAX_BODY_BYTES": str(64 * 1024),
        },
    )
    yield proc
    proc.stop()


@pytest.fixture
def alice(server: ServerProcess) -> Iterator[httpx.Client]:
    with server.client("alice") as c:
        yield c


@pytest.fixture
def bob(server: ServerProcess) -> Iterator[httpx.Client]:
    with server.client("bob") as c:
        yield c


@pytest.fixture
def root(server: ServerProcess) -> Iterator[httpx.Client]:
    with server.client("root") as c:
        yield c
