"""Crons over the LangGraph API, driven by the real ``langgraph_sdk`` clients (sync and
async) against real server processes: every route, owner isolation, crons that fire
(``croniter``'s sixth field is seconds, so ``* * * * * *`` fires every second), restart
survival (a fire missed while the server was down fires once on start) and two servers on
one SQLite file firing a due cron once."""

from __future__ import annotations

import asyncio
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import NotFoundError, PermissionDeniedError
from support.lgapi import start_lg_server
from support.server import API_KEYS_ENV, KEYS, ServerProcess

from graph_sessions.server.langgraph_api.ids import system_assistant_id
from graph_sessions.storage.urls import backend_from_url

pytestmark = pytest.mark.slow

CHAT = system_assistant_id("chat")
HELLO = {"messages": [{"role": "user", "content": "tick"}]}
FAST = {"GRAPH_SESSIONS_CRON_POLL_INTERVAL": "0.2"}
EVERY_SECOND = "* * * * * *"  # croniter: the sixth field is seconds
YEARLY = "0 0 1 1 *"


@pytest.fixture(scope="module")
def lg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server with API keys (alice, bob users; root admin) and a fast scheduler."""
    srv = start_lg_server(
        tmp_path_factory.mktemp("lgapi-crons"),
        env={"GRAPH_SESSIONS_API_KEYS": API_KEYS_ENV, **FAST},
    )
    try:
        yield srv
    finally:
        srv.stop()


def client(srv: ServerProcess, who: str = "alice") -> LangGraphClient:
    return get_client(url=srv.url, api_key=KEYS[who])


async def wait_for(predicate: Any, timeout: float = 15.0) -> Any:
    """Poll the async ``predicate`` until it answers truthy."""
    deadline = time.monotonic() + timeout
    while True:
        found = await predicate()
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


# ----------------------------------------------------------------------------- routes
async def test_crud_matches_the_reference_shapes(lg_server: ServerProcess) -> None:
    c = client(lg_server)
    t = await c.threads.create()
    cr = await c.crons.create_for_thread(
        t["thread_id"], "chat", schedule="0 0 * * *", input=HELLO, metadata={"team": "a"}
    )
    assert set(cr) == {
        "cron_id", "assistant_id", "thread_id", "user_id", "end_time", "schedule", "timezone",
        "payload", "next_run_date", "metadata", "on_run_completed", "enabled", "created_at",
        "updated_at",
    }  # fmt: skip
    assert cr["assistant_id"] == CHAT and cr["thread_id"] == t["thread_id"]
    assert cr["user_id"] == "alice" and cr["on_run_completed"] is None and cr["enabled"]
    assert cr["payload"]["assistant_id"] == CHAT and cr["payload"]["input"] == HELLO
    assert cr["payload"]["config"] == {"configurable": {"cron_id": cr["cron_id"]}}
    nxt = datetime.fromisoformat(cr["next_run_date"])
    assert nxt.tzinfo is not None and (nxt.hour, nxt.minute, nxt.second) == (0, 0, 0)
    st = await c.crons.create(
        "chat", schedule="*/5 * * * *", input=HELLO, timezone="Europe/Paris", enabled=False
    )
    assert st["thread_id"] is None and st["on_run_completed"] == "delete"
    assert st["timezone"] == "Europe/Paris" and st["enabled"] is False
    # search: newest first by default, filters, paging headers, select
    found = await c.crons.search(assistant_id=CHAT, limit=10)
    assert [x["cron_id"] for x in found][:2] == [st["cron_id"], cr["cron_id"]]
    assert [x["cron_id"] for x in await c.crons.search(thread_id=t["thread_id"])] == [cr["cron_id"]]
    assert [x["cron_id"] for x in await c.crons.search(enabled=False)] == [st["cron_id"]]
    assert [x["cron_id"] for x in await c.crons.search(metadata={"team": "a"})] == [cr["cron_id"]]
    asc = await c.crons.search(sort_by="created_at", sort_order="asc", select=["cron_id"])
    assert asc[-2:] == [{"cron_id": cr["cron_id"]}, {"cron_id": st["cron_id"]}]
    async with httpx.AsyncClient(base_url=lg_server.url, headers={"x-api-key": KEYS["alice"]}) as h:
        r = await h.post("/runs/crons/search", json={"limit": 1})
        assert r.status_code == 200 and len(r.json()) == 1
        assert r.headers["x-pagination-next"] == "1"
        r = await h.get(f"/runs/crons/{cr['cron_id']}")
        assert r.status_code == 200 and r.json() == cr
        r = await h.post("/runs/crons/search", json={"assistant_id": "chat"})  # graph id: ours
        assert r.status_code == 200 and len(r.json()) == 2
    assert await c.crons.count(thread_id=t["thread_id"]) == 1
    assert await c.crons.count(assistant_id=CHAT) == 2
    # update: a new schedule moves the next fire time; metadata merges
    u = await c.crons.update(cr["cron_id"], schedule="*/10 * * * *", metadata={"more": 1})
    assert u["schedule"] == "*/10 * * * *" and u["metadata"] == {"team": "a", "more": 1}
    assert datetime.fromisoformat(u["next_run_date"]).minute % 10 == 0
    assert u["updated_at"] > cr["updated_at"] and u["created_at"] == cr["created_at"]
    u = await c.crons.update(cr["cron_id"], end_time=datetime(2030, 1, 1, tzinfo=UTC))
    assert u["end_time"].startswith("2030-01-01T00:00:00")
    await c.crons.delete(cr["cron_id"])
    await c.crons.delete(st["cron_id"])
    assert await c.crons.search(thread_id=t["thread_id"]) == []
    with pytest.raises(NotFoundError):
        await c.crons.delete(cr["cron_id"])


async def test_errors_answer_like_the_reference(lg_server: ServerProcess) -> None:
    missing = "00000000-0000-0000-0000-000000000001"
    async with httpx.AsyncClient(base_url=lg_server.url, headers={"x-api-key": KEYS["alice"]}) as h:
        cases: list[tuple[str, str, Any, int, str]] = [
            ("POST", "/runs/crons", {"assistant_id": "chat", "schedule": "not a cron"}, 422,
             "Invalid cron schedule: 'not a cron'. Reason: Invalid cron schedule. Ensure the "
             "schedule uses the standard cron format (minute hour day_of_month month "
             "day_of_week). Example: '*/5 * * * *' for every 5 minutes."),
            ("POST", "/runs/crons", {"assistant_id": "chat", "schedule": "0 0 30 2 *"}, 422,
             "Invalid cron schedule: '0 0 30 2 *'"),
            ("POST", "/runs/crons", {"assistant_id": "chat"}, 422, "schedule"),
            ("POST", "/runs/crons", {"assistant_id": "chat", "schedule": "* * * * *",
                                     "timezone": "Mars/X"}, 422, "Invalid timezone: 'Mars/X'"),
            ("POST", "/runs/crons", {"assistant_id": "nope", "schedule": "* * * * *"}, 404,
             "Assistant 'nope' not found"),
            ("POST", "/runs/crons", {"assistant_id": "chat", "schedule": "* * * * *",
                                     "end_time": "soon"}, 422, "end_time"),
            ("POST", f"/threads/{missing}/runs/crons", {"assistant_id": "chat",
                                                       "schedule": "* * * * *"}, 404,
             f"Thread with ID '{missing}' not found."),
            ("GET", f"/runs/crons/{missing}", None, 404, "Not Found"),
            ("DELETE", f"/runs/crons/{missing}", None, 404, "Not Found"),
            ("GET", "/runs/crons/abc", None, 422, "Invalid cron ID: must be a UUID"),
            ("PATCH", f"/runs/crons/{missing}", {"schedule": "* * * * *"}, 404,
             f"Cron '{missing}' not found"),
            ("PATCH", f"/runs/crons/{missing}", {}, 400, "Request body cannot be empty"),
            ("POST", "/runs/crons/search", {"assistant_id": "nope"}, 422,
             "Invalid assistant ID: must be a UUID"),
            ("POST", "/runs/crons/search", {"limit": 0}, 422, "limit"),
            ("POST", "/runs/crons/search", {"sort_by": "nope"}, 422, "sort_by"),
            ("POST", "/runs/crons/count", {"metadata": "x"}, 422, "metadata"),
        ]  # fmt: skip
        for method, path, body, status, text in cases:
            r = await h.request(method, path, json=body)
            assert r.status_code == status, (method, path, body, r.status_code, r.text)
            assert text in r.json()["detail"], (method, path, r.text)
        made = (
            await h.post("/runs/crons", json={"assistant_id": "chat", "schedule": YEARLY})
        ).json()
        r = await h.patch(f"/runs/crons/{made['cron_id']}", json={"schedule": "bad"})
        assert r.status_code == 422 and "Invalid cron schedule: 'bad'" in r.json()["detail"]
        assert (await h.delete(f"/runs/crons/{made['cron_id']}")).status_code == 204


async def test_another_owners_crons_and_threads_are_404(lg_server: ServerProcess) -> None:
    alice, bob, root = client(lg_server), client(lg_server, "bob"), client(lg_server, "root")
    t = await alice.threads.create()
    cr = await alice.crons.create_for_thread(t["thread_id"], "chat", schedule=YEARLY)
    with pytest.raises(NotFoundError):  # a cron on alice's thread, asked by bob
        await bob.crons.create_for_thread(t["thread_id"], "chat", schedule=YEARLY)
    with pytest.raises(NotFoundError):
        await bob.crons.update(cr["cron_id"], schedule="* * * * *")
    with pytest.raises(NotFoundError):
        await bob.crons.delete(cr["cron_id"])
    async with httpx.AsyncClient(base_url=lg_server.url, headers={"x-api-key": KEYS["bob"]}) as h:
        assert (await h.get(f"/runs/crons/{cr['cron_id']}")).status_code == 404
    assert cr["cron_id"] not in [x["cron_id"] for x in await bob.crons.search(limit=1000)]
    assert await bob.crons.count(thread_id=t["thread_id"]) == 0
    # an admin sees every owner's crons, and may put one on a user's thread: it fires there
    assert cr["cron_id"] in [x["cron_id"] for x in await root.crons.search(limit=1000)]
    await alice.crons.delete(cr["cron_id"])
    rc = await root.crons.create_for_thread(
        t["thread_id"], "chat", schedule=EVERY_SECOND, input=HELLO
    )
    assert rc["user_id"] == "root"
    assert await wait_for(lambda: alice.runs.list(t["thread_id"]))
    await root.crons.delete(rc["cron_id"])


def test_sync_client_flow(lg_server: ServerProcess) -> None:
    c = get_sync_client(url=lg_server.url, api_key=KEYS["alice"])
    try:
        t = c.threads.create()
        cr = c.crons.create_for_thread(t["thread_id"], "chat", schedule=YEARLY, input=HELLO)
        st = c.crons.create("chat", schedule=YEARLY, input=HELLO, on_run_completed="keep")
        assert st["on_run_completed"] == "keep"
        assert [x["cron_id"] for x in c.crons.search(thread_id=t["thread_id"])] == [cr["cron_id"]]
        assert c.crons.count(thread_id=t["thread_id"]) == 1
        assert c.crons.update(st["cron_id"], enabled=False)["enabled"] is False
        c.crons.delete(cr["cron_id"])
        c.crons.delete(st["cron_id"])
        assert c.crons.search(thread_id=t["thread_id"]) == []
    finally:
        c.http.client.close()


async def test_deleting_a_thread_deletes_its_crons(lg_server: ServerProcess) -> None:
    c = client(lg_server)
    t = await c.threads.create()
    cr = await c.crons.create_for_thread(t["thread_id"], "chat", schedule=YEARLY)
    await c.threads.delete(t["thread_id"])
    with pytest.raises(NotFoundError):
        await c.crons.update(cr["cron_id"], enabled=False)


# ----------------------------------------------------------------------------- firing
async def test_a_thread_cron_fires_its_runs_on_the_thread(lg_server: ServerProcess) -> None:
    c = client(lg_server)
    t = await c.threads.create()
    cr = await c.crons.create_for_thread(
        t["thread_id"], "chat", schedule=EVERY_SECOND, input=HELLO, metadata={"from": "cron"}
    )

    async def two_runs() -> list[dict[str, Any]] | None:
        runs = await c.runs.list(t["thread_id"])
        return runs if len([r for r in runs if r["status"] == "success"]) >= 2 else None

    runs = await wait_for(two_runs)
    await c.crons.delete(cr["cron_id"])
    assert runs, "the cron fired at least twice"
    assert all(r["assistant_id"] == CHAT for r in runs)
    assert all(r["metadata"]["from"] == "cron" for r in runs)  # the cron's metadata
    await asyncio.sleep(1.0)  # a fire claimed before the delete may still be starting
    settled = len(await c.runs.list(t["thread_id"]))
    await asyncio.sleep(1.5)
    assert len(await c.runs.list(t["thread_id"])) == settled  # deleted: no more fires
    state = await c.threads.get_state(t["thread_id"])
    assert [m["content"] for m in state["values"]["messages"]][:2] == ["tick", "echo: tick"]


async def test_a_stateless_cron_runs_on_a_new_thread_each_time(lg_server: ServerProcess) -> None:
    c = client(lg_server)
    kept = await c.crons.create(
        "chat", schedule=EVERY_SECOND, input=HELLO, on_run_completed="keep", metadata={"k": 1}
    )
    dropped = await c.crons.create(
        "chat", schedule=EVERY_SECOND, input=HELLO, metadata={"dropped": True}
    )

    before = {th["thread_id"] for th in await c.threads.search(limit=1000)}

    async def kept_threads() -> list[dict[str, Any]] | None:
        found = await c.threads.search(limit=1000)
        new = [th for th in found if th["thread_id"] not in before and th["status"] == "idle"]
        done = [th for th in new if th["values"] and len(th["values"]["messages"]) == 2]
        return done if len(done) >= 2 else None

    threads = await wait_for(kept_threads)
    await c.crons.delete(kept["cron_id"])
    await c.crons.delete(dropped["cron_id"])
    assert threads, "the kept cron made a thread per fire"
    await asyncio.sleep(1.5)
    after = await c.threads.search(limit=1000)
    new = [th for th in after if th["thread_id"] not in before]
    # each kept fire left its own finished thread; the dropped cron's threads are gone
    assert len(new) >= 2 and all(th["values"]["messages"][0]["content"] == "tick" for th in new)
    assert all(len(th["values"]["messages"]) == 2 for th in new)


async def test_disabled_and_ended_crons_do_not_fire(lg_server: ServerProcess) -> None:
    c = client(lg_server)
    t = await c.threads.create()
    off = await c.crons.create_for_thread(
        t["thread_id"], "chat", schedule=EVERY_SECOND, input=HELLO, enabled=False
    )
    ended = await c.crons.create_for_thread(
        t["thread_id"],
        "chat",
        schedule=EVERY_SECOND,
        input=HELLO,
        end_time=datetime.now(UTC) - timedelta(seconds=1),
    )
    await asyncio.sleep(2.0)
    assert await c.runs.list(t["thread_id"]) == []
    await c.crons.update(off["cron_id"], enabled=True)  # enabling makes it fire
    assert await wait_for(lambda: c.runs.list(t["thread_id"]))
    await c.crons.delete(off["cron_id"])
    await c.crons.delete(ended["cron_id"])


# ------------------------------------------------------- restarts and shared databases
async def _push_back(db: Path, cron_ids: list[str], by: timedelta) -> None:
    """Move the crons' next fire time into the past, as if the server had been down
    while they were due (done through the Backend, with every server stopped)."""
    backend = backend_from_url(f"sqlite:///{db}")
    await backend.open()
    try:
        for cron_id in cron_ids:
            cron = await backend.get_cron(cron_id)
            assert cron is not None
            await backend.update_cron(
                cron.model_copy(update={"next_run_date": cron.next_run_date - by})
            )
    finally:
        await backend.close()


async def _made(srv: ServerProcess, n: int, enabled: bool = True) -> list[tuple[str, str]]:
    """``n`` threads each with a yearly cron: (thread id, cron id)."""
    c = get_client(url=srv.url, api_key=None)
    out = []
    for _ in range(n):
        t = await c.threads.create()
        cr = await c.crons.create_for_thread(
            t["thread_id"], "chat", schedule=YEARLY, input=HELLO, enabled=enabled
        )
        out.append((t["thread_id"], cr["cron_id"]))
    return out


async def _runs_of(srv: ServerProcess, thread_ids: list[str]) -> list[int]:
    c = get_client(url=srv.url, api_key=None)
    return [len(await c.runs.list(tid)) for tid in thread_ids]


async def test_crons_survive_a_restart_and_a_missed_fire_fires_once(tmp_path: Path) -> None:
    srv = start_lg_server(tmp_path / "srv", env=FAST)
    try:
        made = await _made(srv, 2)
        stateless = await get_client(url=srv.url, api_key=None).crons.create(
            "chat", schedule=YEARLY, input=HELLO
        )
    finally:
        srv.stop()
    # the first thread's cron missed three yearly fires while the server was down
    await _push_back(tmp_path / "srv" / "sessions.db", [made[0][1]], timedelta(days=3 * 366))
    srv = start_lg_server(tmp_path / "srv", env=FAST)
    try:
        c = get_client(url=srv.url, api_key=None)
        assert {x["cron_id"] for x in await c.crons.search(limit=100)} == {
            made[0][1],
            made[1][1],
            stateless["cron_id"],
        }
        threads = [tid for tid, _ in made]
        assert await wait_for(lambda: _first_run_done(c, threads[0]))
        await asyncio.sleep(1.0)
        assert await _runs_of(srv, threads) == [1, 0]  # once, not once per missed slot
        cron = (await c.crons.search(thread_id=threads[0]))[0]
        assert datetime.fromisoformat(cron["next_run_date"]) > datetime.now(UTC)
    finally:
        srv.stop()


async def _first_run_done(c: LangGraphClient, thread_id: str) -> bool:
    runs = await c.runs.list(thread_id)
    return bool(runs) and runs[0]["status"] == "success"


async def test_two_servers_on_one_database_fire_a_due_cron_once(tmp_path: Path) -> None:
    first = start_lg_server(tmp_path / "a", env=FAST)
    try:
        made = await _made(first, 6, enabled=False)
    finally:
        first.stop()
    db = tmp_path / "a" / "sessions.db"
    await _push_back(db, [cron_id for _, cron_id in made], timedelta(days=366))
    racing = {"GRAPH_SESSIONS_CRON_POLL_INTERVAL": "0.05"}
    servers = [
        start_lg_server(tmp_path / "a", env=racing),
        start_lg_server(tmp_path / "b", env=racing, backend=f"sqlite:///{db}"),
    ]
    try:
        threads = [tid for tid, _ in made]
        c = get_client(url=servers[0].url, api_key=None)
        # enabled once both schedulers look every 50 ms: each due cron is raced for
        for _, cron_id in made:
            await c.crons.update(cron_id, enabled=True)
        for tid in threads:
            assert await wait_for(lambda tid=tid: _first_run_done(c, tid))
        await asyncio.sleep(1.5)
        assert await _runs_of(servers[0], threads) == [1] * len(threads)
    finally:
        for srv in servers:
            srv.stop()


# ----------------------------------------------------------------------- auth files
CRON_AUTH_FILE = textwrap.dedent(
    """
    from langgraph_sdk import Auth

    auth = Auth()


    @auth.authenticate
    async def authenticate(authorization: str | None) -> str:
        if not authorization or not authorization.startswith("Bearer "):
            raise Auth.exceptions.HTTPException(status_code=401, detail="Missing token")
        return authorization.removeprefix("Bearer ")


    @auth.on.crons.create
    async def stamp(ctx: Auth.types.AuthContext, value: dict):
        value["metadata"]["stamped_by"] = ctx.user.identity


    @auth.on.crons.search
    async def shared_only(ctx: Auth.types.AuthContext, value: dict):
        return {"shared": True}


    @auth.on.crons.delete
    async def no_deletes(ctx: Auth.types.AuthContext, value: dict):
        return False
    """
)


async def test_an_auth_files_cron_handlers_apply(tmp_path: Path) -> None:
    (tmp_path / "auth.py").write_text(CRON_AUTH_FILE)
    srv = start_lg_server(
        tmp_path, env={"GRAPH_SESSIONS_AUTH_PATH": f"{tmp_path / 'auth.py'}:auth"}
    )
    try:
        alice = get_client(url=srv.url, api_key=None, headers={"Authorization": "Bearer alice"})
        bob = get_client(url=srv.url, api_key=None, headers={"Authorization": "Bearer bob"})
        shared = await alice.crons.create("chat", schedule=YEARLY, metadata={"shared": True})
        private = await alice.crons.create("chat", schedule=YEARLY)
        assert shared["user_id"] == "alice"
        assert shared["metadata"] == {"shared": True, "stamped_by": "alice"}
        assert [x["cron_id"] for x in await alice.crons.search()] == [shared["cron_id"]]
        assert await alice.crons.count() == 1
        assert await bob.crons.search() == []  # the owner rule still holds
        with pytest.raises(PermissionDeniedError):
            await alice.crons.delete(private["cron_id"])
        assert (await alice.crons.update(private["cron_id"], enabled=False))["enabled"] is False
    finally:
        srv.stop()
