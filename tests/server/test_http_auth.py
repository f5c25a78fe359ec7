"""Authentication and owner isolation: API keys (both headers), HS256 and JWKS bearer JWTs."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import jwt
from support.server import JWT_SECRET, KEYS, ServerProcess, read_stream


def test_credentials_required(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url) as anon:
        r = anon.get("/sessions")
        assert r.status_code == 401 and r.json()["error"] == "unauthorized"
        assert r.headers["www-authenticate"] == "Bearer"
        r = anon.get("/sessions", headers={"X-Api-Key": "wrong"})
        assert r.status_code == 401 and r.json()["message"] == "invalid API key"
        r = anon.get("/sessions", headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401
        r = anon.get("/sessions", headers={"Authorization": f"Bearer {KEYS['bob']}"})
        assert r.status_code == 200  # an API key as a bearer token
        # ops probes stay open
        assert anon.get("/healthz").status_code == 200
        assert anon.get("/readyz").status_code == 200


def test_owner_isolation(alice: httpx.Client, bob: httpx.Client, root: httpx.Client) -> None:
    s = f"iso-{uuid.uuid4().hex[:8]}"
    assert (
        alice.post(f"/sessions/{s}/invoke", json={"input": {"user_input": "a"}}).status_code == 200
    )
    not_found = "session_not_found"
    checks = [
        bob.get(f"/sessions/{s}"),
        bob.patch(f"/sessions/{s}", json={"metadata": {"x": 1}}),
        bob.delete(f"/sessions/{s}"),
        bob.get(f"/sessions/{s}/state"),
        bob.get(f"/sessions/{s}/checkpoints"),
        bob.get(f"/sessions/{s}/events"),
        bob.get(f"/sessions/{s}/messages"),
        bob.get(f"/sessions/{s}/runs"),
        bob.post(f"/sessions/{s}/invoke", json={"input": {"user_input": "b"}}),
        bob.post(f"/sessions/{s}/resume", json={"value": "x"}),
        bob.post(f"/sessions/{s}/suspend", json={}),
        bob.post(f"/sessions/{s}/fork", json={"checkpoint_id": "x"}),
    ]
    for r in checks:
        assert r.status_code == 404, (r.request.method, r.request.url, r.text)
        assert r.json()["error"] == not_found
    with bob.stream("POST", f"/sessions/{s}/stream", json={"input": {"user_input": "b"}}) as st:
        assert st.status_code == 404
    with bob.stream("GET", f"/sessions/{s}/events", params={"follow": "true"}) as st:
        assert st.status_code == 404
    listed = bob.get("/sessions", params={"limit": 1000}).json()["sessions"]
    assert s not in [x["session_id"] for x in listed]
    assert bob.get("/sessions", params={"owner": "alice"}).json()["sessions"] == []
    assert bob.post("/sessions/search", json={"owner": "alice"}).json()["sessions"] == []
    # a user cannot create on behalf of someone else
    r = bob.post("/sessions", json={"owner": "alice"})
    assert r.status_code == 400
    # alice's session is untouched; admin sees and can touch it
    assert alice.get(f"/sessions/{s}").json()["run_count"] == 1
    assert root.get(f"/sessions/{s}").json()["owner"] == "alice"
    listed = root.get("/sessions", params={"owner": "alice", "limit": 1000}).json()["sessions"]
    assert s in [x["session_id"] for x in listed]
    r = root.post(f"/sessions/{s}/invoke", json={"input": {"user_input": "by-admin"}})
    assert r.status_code == 200 and r.json()["state"]["log"] == ["a", "by-admin"]
    assert root.post("/sessions", json={"owner": "carol"}).json()["owner"] == "carol"
    assert root.delete(f"/sessions/{s}").status_code == 204
    assert alice.get(f"/sessions/{s}").status_code == 404


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_jwt_hs256(server: ServerProcess) -> None:
    now = int(time.time())
    token = jwt.encode({"sub": "dave", "exp": now + 60}, JWT_SECRET, algorithm="HS256")
    admin = jwt.encode({"sub": "eve", "role": "admin", "exp": now + 60}, JWT_SECRET, "HS256")
    expired = jwt.encode({"sub": "dave", "exp": now - 60}, JWT_SECRET, algorithm="HS256")
    forged = jwt.encode(
        {"sub": "dave", "exp": now + 60}, "another-secret-of-32-bytes-long!!", "HS256"
    )
    no_sub = jwt.encode({"exp": now + 60}, JWT_SECRET, algorithm="HS256")
    with httpx.Client(base_url=server.url) as c:
        r = c.post("/sessions", json={}, headers=_bearer(token))
        assert r.status_code == 201 and r.json()["owner"] == "dave"
        s = r.json()["session_id"]
        assert c.get(f"/sessions/{s}", headers=_bearer(admin)).status_code == 200
        assert c.post("/admin/sweep", headers=_bearer(admin)).status_code == 200
        assert c.post("/admin/sweep", headers=_bearer(token)).status_code == 403
        for bad in (expired, forged, no_sub, "a.b.c"):
            r = c.get("/sessions", headers=_bearer(bad))
            assert r.status_code == 401, bad
            assert r.json()["error"] == "unauthorized"


def test_jwt_jwks(server: ServerProcess, jwks: dict[str, Any]) -> None:
    claims = {"sub": "frank", "exp": int(time.time()) + 60}
    token = jwt.encode(claims, jwks["private"], algorithm="RS256", headers={"kid": "test-key"})
    with httpx.Client(base_url=server.url) as c:
        r = c.post("/sessions", json={}, headers=_bearer(token))
        assert r.status_code == 201, r.text
        assert r.json()["owner"] == "frank"
        s = r.json()["session_id"]
        events = read_stream(
            httpx.Client(base_url=server.url, headers=_bearer(token)),
            f"/sessions/{s}/stream",
            {"input": {"user_input": "x"}},
        )
        assert events[-1]["event"] == "result"
        # the other owner's key cannot see it
        assert c.get(f"/sessions/{s}", headers={"X-Api-Key": KEYS["alice"]}).status_code == 404
