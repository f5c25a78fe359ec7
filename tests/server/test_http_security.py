"""Security regressions: what one owner can learn or touch of another's sessions, ids that
would be unreachable over HTTP, hostile credentials and inputs (always 4xx, never 500)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from support.server import JWT_SECRET, ServerProcess, follow_events


def sid(prefix: str = "sec") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_follow_ends_when_the_id_is_taken_by_another_owner(
    server: ServerProcess, root: httpx.Client, bob: httpx.Client
) -> None:
    """Alice tails her session's log; it is deleted and bob takes the id at once: her
    stream ends and never shows bob's events."""
    s = sid()
    got: list[dict[str, Any]] = []
    started = threading.Event()
    with server.client("alice") as alice:
        assert alice.post("/sessions", json={"session_id": s}).status_code == 201

        t = follow_events(server, "alice", s, got, started)
        assert started.wait(10)
        assert root.delete(f"/sessions/{s}").status_code == 204
        r = bob.post(f"/sessions/{s}/invoke", json={"input": {"user_input": "bob-secret"}})
        assert r.status_code == 200 and r.json()["status"] == "complete"
        t.join(5)
        assert not t.is_alive(), got
    types = [e["event"] for e in got]
    assert types == ["created", "end"], types
    assert got[-1]["data"]["error"] == "session_not_found"
    assert "bob-secret" not in json.dumps(got)


@pytest.mark.parametrize("bad", ["a/b", "/", "x/", ".", ".."])
def test_unaddressable_ids_are_refused(alice: httpx.Client, bad: str) -> None:
    """An id the URL cannot carry as one path segment would make a session no route reaches."""
    r = alice.post("/sessions", json={"session_id": bad})
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "validation_error"


def test_odd_ids_round_trip(alice: httpx.Client) -> None:
    """Ids with unicode, spaces, '?', '#', '%' and quotes work, percent-encoded in the URL."""
    for odd in ("é✓😀", "a%20b", "a b?c#d", "a\\b", "' OR 1=1 --"):
        s = f"{odd}-{uuid.uuid4().hex[:6]}"
        r = alice.post("/sessions", json={"session_id": s})
        assert r.status_code == 201, r.text
        got = alice.get("/sessions/" + quote(s, safe=""))
        assert got.status_code == 200 and got.json()["session_id"] == s, (s, got.text)


def test_create_over_another_owners_id(alice: httpx.Client, bob: httpx.Client) -> None:
    """Ids are global, so the create must fail; it says no more than that (no owner, no
    state) and leaves the session alone."""
    s = sid()
    alice.post(f"/sessions/{s}/invoke", json={"input": {"user_input": "mine"}})
    r = bob.post("/sessions", json={"session_id": s, "metadata": {"x": 1}})
    assert r.status_code == 409
    assert set(r.json()) == {"error", "message", "session_id"}
    assert "alice" not in r.text and "mine" not in r.text
    assert alice.get(f"/sessions/{s}").json()["metadata"] == {}


def _token(header: dict[str, Any], payload: bytes, key: bytes = JWT_SECRET.encode()) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing = f"{b64(json.dumps(header).encode())}.{b64(payload)}"
    sig = hmac.new(key, signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{b64(sig)}"


def test_hostile_tokens_answer_401(server: ServerProcess) -> None:
    now = int(time.time())
    sub = json.dumps({"sub": "x", "exp": now + 60}).encode()
    tokens = [
        _token({"alg": "none"}, sub, b""),
        _token({"alg": "HS256", "kid": 5}, sub),
        _token({"alg": ["HS256"]}, sub),
        _token({"alg": "HS256", "crit": ["x"]}, sub),
        _token({"alg": "RS256", "kid": "test-key"}, sub),  # HMAC'd, claims RSA
        _token({"alg": "HS256"}, b"[1, 2]"),
        _token({"alg": "HS256"}, b'{"sub": "x", "exp": 1e999}'),
        _token({"alg": "HS256"}, b'{"sub": 5}'),
        _token({"alg": "HS256"}, b'{"sub": ""}'),
        _token({"alg": "HS256"}, json.dumps({"sub": "x", "exp": now - 5}).encode()),
        "a.b.c",
        "..",
        "\u00e9.\u00e9.\u00e9",
    ]
    with httpx.Client(base_url=server.url) as c:
        for tok in tokens:
            r = c.get("/sessions", headers={"Authorization": f"Bearer {tok}".encode()})
            assert r.status_code == 401, (tok, r.text)
            assert r.json()["error"] == "unauthorized"


def test_hostile_inputs_answer_4xx(alice: httpx.Client) -> None:
    json_ct = {"content-type": "application/json"}
    cases = [
        alice.post("/sessions", content=b"{bad", headers=json_ct),
        alice.post("/sessions", content=b'{"session_id": "\xff"}', headers=json_ct),
        alice.post("/sessions", content=b"{}", headers={"content-type": "text/plain"}),
        alice.post("/sessions", content=b"null", headers=json_ct),
        alice.post("/sessions", content=b'{"ttl": Infinity}', headers=json_ct),
        alice.get("/sessions", params={"limit": -1}),
        alice.get("/sessions", params={"limit": 10**30}),
        alice.get("/sessions", params={"cursor": "garbage"}),
        alice.post("/sessions/search", json={"cursor": "eyJ4IjoxfQ=="}),
        alice.get("/sessions/" + "x" * 300),
        alice.get("/sessions/whatever/messages", params={"before": 2**70}),
    ]
    for r in cases:
        assert 400 <= r.status_code < 500, (r.request.method, r.request.url, r.text)
        assert set(r.json()) >= {"error", "message", "session_id"}


def _rsa_jwk(kid: str) -> tuple[Any, dict[str, Any]]:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    public.update({"kid": kid, "alg": "RS256", "use": "sig"})
    return key, public


def test_jwks_without_kid_tries_every_key(tmp_path: Any) -> None:
    """A rotated JWKS holds two keys; a token without ``kid`` signed by the second one is
    valid. A key outside the set, alg confusion (HS256 keyed with the RSA public key) and
    ``alg: none`` are 401s."""
    import jwt
    from cryptography.hazmat.primitives import serialization

    from graph_sessions.server.auth import Authenticator
    from graph_sessions.server.errors import ApiError
    from graph_sessions.server.settings import ServerSettings

    old, old_pub = _rsa_jwk("old")
    new, new_pub = _rsa_jwk("new")
    stranger, _ = _rsa_jwk("stranger")
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [old_pub, new_pub]}))
    auth = Authenticator(ServerSettings(jwks_file=path))
    claims = {"sub": "gina", "exp": int(time.time()) + 60}

    for key in (old, new):
        principal = auth.authenticate(None, jwt.encode(claims, key, algorithm="RS256"))
        assert principal.owner == "gina" and principal.role == "user"
    pem = new.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    payload = json.dumps(claims).encode()
    forged = [
        jwt.encode(claims, stranger, algorithm="RS256"),
        jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": "new"}),
        _token({"alg": "HS256"}, payload, pem),
        _token({"alg": "HS256", "kid": "new"}, payload, pem),
        _token({"alg": "none"}, payload, b""),
    ]
    for token in forged:
        with pytest.raises(ApiError) as err:
            auth.authenticate(None, token)
        assert err.value.status == 401, token


async def test_metrics_labels_are_bounded(tmp_path: Any) -> None:
    """Clients cannot grow /metrics: odd methods (h11 accepts any token; httptools refuses
    them with a 400 before the app) count as OTHER, paths as their route template."""
    from support.server_graphs import work

    from graph_sessions import GraphSessionManager
    from graph_sessions.server import ServerSettings, create_app

    manager = GraphSessionManager(graph=work, backend=f"sqlite:///{tmp_path / 'm.db'}")
    async with manager:
        app = create_app(manager, ServerSettings(access_log=False))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            for i in range(3):
                r = await c.request(f"BREW{i}X", "/sessions/secret-id")
                assert r.status_code == 405
            text = (await c.get("/metrics")).text
    assert "BREW" not in text and "secret-id" not in text
    assert 'method="OTHER",route="/sessions/{session_id}",status="405"' in text


def test_lone_surrogates_and_non_finite_numbers_answer_422(alice: httpx.Client) -> None:
    """JSON may spell ``"\\ud800"`` (and Python's parser reads NaN/Infinity), but UTF-8 and
    storage cannot hold them: each body answers 422 rather than a 500, and an invoke does
    not leave its session stuck ``running``."""
    s = sid()
    assert alice.post("/sessions", json={"session_id": s}).status_code == 201
    bad = "\\ud800"
    cases = [
        ("POST", "/sessions", '{"session_id": "xBAD"}'),
        ("POST", "/sessions", '{"metadata": {"BAD": 1}}'),
        ("POST", f"/sessions/{s}-new/invoke", '{"input": {"user_input": "BAD"}}'),
        ("POST", f"/sessions/{s}/invoke", '{"input": {"user_input": "BAD"}}'),
        ("POST", f"/sessions/{s}/stream", '{"input": {"user_input": "BAD"}}'),
        ("POST", "/sessions/search", '{"metadata": {"a": "BAD"}}'),
        ("PATCH", f"/sessions/{s}", '{"metadata": {"BAD": "x"}}'),
        (
            "POST",
            f"/sessions/{s}/messages",
            '{"messages": [{"role": "user", "content": "BAD"}]}',
        ),
        ("POST", f"/sessions/{s}/state", '{"values": {"user_input": "BAD"}}'),
        ("POST", "/sessions", '{"metadata": {"n": NaN}}'),
        ("POST", "/sessions", '{"metadata": {"n": 1e400}}'),
        ("POST", f"/sessions/{s}/invoke", '{"input": {"user_input": "x", "delay": Infinity}}'),
    ]
    for method, path, body in cases:
        r = alice.request(
            method,
            path,
            content=body.replace("BAD", bad).encode(),
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 422, (method, path, body, r.text)
        assert r.json()["error"] == "validation_error"
    assert alice.get(f"/sessions/{s}").json()["status"] == "created"
    assert alice.get(f"/sessions/{s}-new").status_code == 404


def test_another_sessions_checkpoint_ids_reach_nothing(
    alice: httpx.Client, bob: httpx.Client
) -> None:
    """Checkpoint ids are looked up within the session in the path: bob cannot read, fork
    or run from a checkpoint of alice's by naming its id under his own session."""
    a, b = sid("cpa"), sid("cpb")
    cp = alice.post(f"/sessions/{a}/invoke", json={"input": {"user_input": "alice-secret"}})
    cp_id = cp.json()["checkpoint_id"]
    bob.post(f"/sessions/{b}/invoke", json={"input": {"user_input": "bob"}})
    answers = [
        bob.get(f"/sessions/{b}/state", params={"checkpoint_id": cp_id}),
        bob.post(f"/sessions/{b}/fork", json={"checkpoint_id": cp_id}),
        bob.post(f"/sessions/{b}/invoke", json={"input": {}, "checkpoint_id": cp_id}),
        bob.get(f"/sessions/{b}/checkpoints", params={"before": cp_id}),
    ]
    for r in answers[:3]:
        assert r.status_code == 404 and r.json()["error"] == "checkpoint_not_found", r.text
    for r in answers:
        assert "alice-secret" not in r.text
