"""``@auth.on`` handlers of a LangGraph auth file on threads, runs and assistants, on a real
server process with the real ``langgraph_sdk`` client: a handler's filter scopes searches,
counts and reads (another identity's thread is 404 unless the filter lets it through: a
shared thread), metadata a handler adds on create is stored, ``False`` answers 403, an
``Auth.exceptions.HTTPException`` its own status, and the "make conversations private"
tutorial's auth file (LangGraph's docs) works as written."""

from __future__ import annotations

import json
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from support.lgapi import GRAPH_IDS, LG_GRAPHS
from support.server import PY, ServerProcess, base_env, free_port

pytestmark = pytest.mark.slow

ADMIN_KEY = "auth-on-admin-key-7"

#: Threads are shared through ``metadata.readers`` (``$contains``), changed by their owner
#: only; assistants are private to their owner (bob may neither update nor delete his); dan
#: is refused, tea gets 418.
SHARING_AUTH = textwrap.dedent(
    """
    from langgraph_sdk import Auth

    auth = Auth()
    USERS = {"t-alice": "alice", "t-bob": "bob", "t-carol": "carol", "t-dan": "dan", "t-tea": "tea"}


    @auth.authenticate
    async def authenticate(authorization: str | None) -> str:
        user = USERS.get((authorization or "").removeprefix("Bearer "))
        if user is None:
            raise Auth.exceptions.HTTPException(status_code=401, detail="who are you")
        return user


    def _gate(ctx: Auth.types.AuthContext) -> None:
        if ctx.user.identity == "tea":
            raise Auth.exceptions.HTTPException(status_code=418, detail="short and stout")


    @auth.on.threads.create
    async def on_create(ctx: Auth.types.AuthContext, value: Auth.types.on.threads.create.value):
        _gate(ctx)
        if ctx.user.identity == "dan":
            return False
        metadata = value.setdefault("metadata", {})
        metadata["owner"] = ctx.user.identity
        metadata["readers"] = [ctx.user.identity, *metadata.pop("share_with", [])]


    @auth.on.threads.read
    @auth.on.threads.search
    async def readers(ctx: Auth.types.AuthContext, value: dict):
        _gate(ctx)
        if ctx.user.identity == "dan":
            return False
        return {"readers": {"$contains": ctx.user.identity}}


    @auth.on.threads.update
    @auth.on.threads.delete
    async def owner_writes(ctx: Auth.types.AuthContext, value: dict):
        return {"owner": ctx.user.identity}


    @auth.on.threads.create_run
    async def on_run(ctx: Auth.types.AuthContext, value: Auth.types.on.threads.create_run.value):
        value["metadata"]["run_by"] = ctx.user.identity
        value["metadata"]["readers"] = [ctx.user.identity]
        return {"readers": {"$contains": ctx.user.identity}}


    @auth.on.assistants
    async def assistants(ctx: Auth.types.AuthContext, value: dict):
        if ctx.action == "create":
            value.setdefault("metadata", {})["owner"] = ctx.user.identity
        if ctx.action == "delete" and ctx.user.identity == "bob":
            raise Auth.exceptions.HTTPException(status_code=403, detail="bob deletes nothing")
        if ctx.action == "update" and ctx.user.identity == "bob":
            return False
        return {"owner": ctx.user.identity}
    """
)

#: The auth file of LangGraph's "make conversations private" tutorial (docs: resource-level
#: auth), its handlers as the tutorial ends: a global owner handler, then scoped handlers
#: for thread create/read and one refusing every assistants action.
TUTORIAL_AUTH = textwrap.dedent(
    """
    from langgraph_sdk import Auth

    VALID_TOKENS = {
        "user1-token": {"id": "user1", "name": "Alice"},
        "user2-token": {"id": "user2", "name": "Bob"},
    }

    auth = Auth()


    @auth.authenticate
    async def get_current_user(authorization: str | None) -> Auth.types.MinimalUserDict:
        assert authorization
        scheme, token = authorization.split()
        assert scheme.lower() == "bearer"
        if token not in VALID_TOKENS:
            raise Auth.exceptions.HTTPException(status_code=401, detail="Invalid token")
        user_data = VALID_TOKENS[token]
        return {"identity": user_data["id"]}


    @auth.on
    async def add_owner(ctx: Auth.types.AuthContext, value: dict):
        filters = {"owner": ctx.user.identity}
        metadata = value.setdefault("metadata", {})
        metadata.update(filters)
        return filters


    @auth.on.threads.create
    async def on_thread_create(ctx: Auth.types.AuthContext, value: Auth.types.on.threads.create.value):
        metadata = value.setdefault("metadata", {})
        metadata["owner"] = ctx.user.identity
        return {"owner": ctx.user.identity}


    @auth.on.threads.read
    async def on_thread_read(ctx: Auth.types.AuthContext, value: Auth.types.on.threads.read.value):
        return {"owner": ctx.user.identity}


    @auth.on.assistants
    async def on_assistants(ctx: Auth.types.AuthContext, value: Auth.types.on.assistants.value):
        raise Auth.exceptions.HTTPException(
            status_code=403, detail="User lacks the required permissions."
        )
    """
)


#: a graph that answers who ran it, as a graph on LangGraph's server reads its caller
WHOAMI = textwrap.dedent(
    """
    from typing import TypedDict

    from langchain_core.runnables import RunnableConfig
    from langgraph.graph import END, START, StateGraph


    class S(TypedDict, total=False):
        user_id: str
        user: dict
        permissions: list


    def who(state: S, config: RunnableConfig) -> S:
        conf = config["configurable"]
        return {
            "user_id": conf.get("langgraph_auth_user_id"),
            "user": conf.get("langgraph_auth_user"),
            "permissions": conf.get("langgraph_auth_permissions"),
        }


    builder = StateGraph(S)
    builder.add_node("who", who)
    builder.add_edge(START, "who")
    builder.add_edge("who", END)
    whoami = builder.compile()
    """
)


def _serve(folder: Path, auth_text: str) -> ServerProcess:
    (folder / "auth.py").write_text(auth_text)
    (folder / "whoami.py").write_text(WHOAMI)
    config = {
        "graphs": {
            **{g: f"{LG_GRAPHS}:{g}" for g in GRAPH_IDS},
            "whoami": f"{folder / 'whoami.py'}:whoami",
        },
        "auth": {"path": "./auth.py:auth"},
        "graph_sessions": {"backend": f"sqlite:///{folder / 'sessions.db'}"},
    }
    path = folder / "langgraph.json"
    path.write_text(json.dumps(config))
    port = free_port()
    args = [PY, "-m", "graph_sessions.server", "--config", str(path), "--port", str(port)]
    env = base_env(GRAPH_SESSIONS_API_KEYS=f"{ADMIN_KEY}:root:admin")
    return ServerProcess(args, env, folder, port).start()


@pytest.fixture(scope="module")
def sharing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = _serve(tmp_path_factory.mktemp("authon"), SHARING_AUTH)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = _serve(tmp_path_factory.mktemp("authon-tutorial"), TUTORIAL_AUTH)
    try:
        yield srv
    finally:
        srv.stop()


def _sdk(srv: ServerProcess, token: str) -> LangGraphClient:
    return get_client(url=srv.url, api_key=None, headers={"Authorization": f"Bearer {token}"})


def _http(srv: ServerProcess, token: str) -> httpx.Client:
    return httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {token}"})


def _status(exc: pytest.ExceptionInfo[httpx.HTTPStatusError]) -> int:
    return exc.value.response.status_code


HI = {"messages": [{"role": "user", "content": "hi"}]}


async def test_create_stores_handler_metadata_and_the_filter_scopes_reads(
    sharing: ServerProcess,
) -> None:
    alice, bob, carol = (_sdk(sharing, f"t-{u}") for u in ("alice", "bob", "carol"))
    shared = await alice.threads.create(metadata={"topic": "x", "share_with": ["bob"]})
    private = await alice.threads.create(metadata={"topic": "x"})
    assert shared["metadata"] == {"topic": "x", "owner": "alice", "readers": ["alice", "bob"]}
    assert private["metadata"]["readers"] == ["alice"]
    # Stored: read back by the owner and seen by the reader the owner shared it with.
    assert (await alice.threads.get(shared["thread_id"]))["metadata"]["readers"] == [
        "alice",
        "bob",
    ]
    assert (await bob.threads.get(shared["thread_id"]))["metadata"]["owner"] == "alice"
    for who, thread in ((bob, private), (carol, shared), (carol, private)):
        with pytest.raises(httpx.HTTPStatusError) as exc:
            await who.threads.get(thread["thread_id"])
        assert _status(exc) == 404
        assert exc.value.response.json() == {
            "detail": f"Thread with ID {thread['thread_id']} not found"
        }
        with pytest.raises(httpx.HTTPStatusError) as exc:
            await who.threads.get_state(thread["thread_id"])
        assert _status(exc) == 404
    # Searches and counts: the filter narrows them (also beside the body's own filter).
    mine = {t["thread_id"] for t in await alice.threads.search(metadata={"topic": "x"})}
    assert mine == {shared["thread_id"], private["thread_id"]}
    bobs = {t["thread_id"] for t in await bob.threads.search(metadata={"topic": "x"})}
    assert bobs == {shared["thread_id"]}
    assert await bob.threads.count(metadata={"topic": "x"}) == 1
    assert await carol.threads.search(metadata={"topic": "x"}) == []
    assert await carol.threads.count() == 0
    found = await bob.threads.search(ids=[shared["thread_id"], private["thread_id"]])
    assert [t["thread_id"] for t in found] == [shared["thread_id"]]
    # Update and delete are the owner's alone (the reader gets 404, the owner succeeds).
    with pytest.raises(httpx.HTTPStatusError) as exc:
        await bob.threads.update(shared["thread_id"], metadata={"by": "bob"})
    assert _status(exc) == 404
    with pytest.raises(httpx.HTTPStatusError) as exc:
        await bob.threads.delete(shared["thread_id"])
    assert _status(exc) == 404
    with pytest.raises(httpx.HTTPStatusError) as exc:
        await bob.threads.update_state(shared["thread_id"], {"messages": []}, as_node="chat")
    assert _status(exc) == 404
    updated = await alice.threads.update(shared["thread_id"], metadata={"by": "alice"})
    assert updated["metadata"]["by"] == "alice"
    # The history of a shared thread is readable by its reader; a copy needs read + create.
    assert await bob.threads.get_history(shared["thread_id"]) == []
    with pytest.raises(httpx.HTTPStatusError) as exc:
        await carol.threads.copy(shared["thread_id"])
    assert _status(exc) == 404
    await alice.threads.delete(private["thread_id"])
    with pytest.raises(httpx.HTTPStatusError) as exc:
        await alice.threads.get(private["thread_id"])
    assert _status(exc) == 404


async def test_false_is_403_and_http_exception_keeps_its_status(sharing: ServerProcess) -> None:
    alice = _sdk(sharing, "t-alice")
    thread = await alice.threads.create()
    with _http(sharing, "t-dan") as dan, _http(sharing, "t-tea") as tea:
        for client, status, detail in ((dan, 403, "Forbidden"), (tea, 418, "short and stout")):
            for method, path, body in (
                ("POST", "/threads", {}),
                ("GET", f"/threads/{thread['thread_id']}", None),
                ("POST", "/threads/search", {}),
                ("POST", "/threads/count", {}),
            ):
                r = client.request(method, path, json=body)
                assert (r.status_code, r.json()) == (status, {"detail": detail}), (method, path)
    with _http(sharing, "t-nobody") as nobody:
        r = nobody.post("/threads/search", json={})
        assert (r.status_code, r.json()) == (401, {"detail": "who are you"})


async def test_create_run_handler_adds_run_metadata_and_guards_threads(
    sharing: ServerProcess,
) -> None:
    alice, carol = _sdk(sharing, "t-alice"), _sdk(sharing, "t-carol")
    thread = await alice.threads.create()
    result = await alice.runs.wait(thread["thread_id"], "chat", input=HI, metadata={"k": 1})
    assert isinstance(result, dict) and result["messages"][-1]["content"] == "echo: hi"
    runs = await alice.runs.list(thread["thread_id"])
    assert runs[0]["metadata"]["run_by"] == "alice" and runs[0]["metadata"]["k"] == 1
    # Carol is no reader of alice's thread: 404 on every run route, as for a missing thread.
    with pytest.raises(httpx.HTTPStatusError) as exc:
        await carol.runs.wait(thread["thread_id"], "chat", input=HI)
    assert _status(exc) == 404
    with pytest.raises(httpx.HTTPStatusError) as exc:
        await carol.runs.list(thread["thread_id"])
    assert _status(exc) == 404
    # A run that creates its thread stores the handler's metadata on it: readable after.
    new_id = str(uuid.uuid4())
    await alice.runs.wait(new_id, "chat", input=HI, if_not_exists="create")
    made = await alice.threads.get(new_id)
    assert made["metadata"]["run_by"] == "alice" and made["metadata"]["readers"] == ["alice"]
    with pytest.raises(httpx.HTTPStatusError) as exc:
        await carol.threads.get(new_id)
    assert _status(exc) == 404
    # Stateless runs go through the same handler.
    assert (await carol.runs.wait(None, "chat", input=HI))["messages"][-1]["content"] == "echo: hi"


async def test_a_run_reads_its_caller_in_its_config(sharing: ServerProcess) -> None:
    """``langgraph_auth_user``/``_user_id``/``_permissions`` in ``configurable``, as
    LangGraph's server gives an auth-file user's runs (thread, stateless, background)."""
    alice = _sdk(sharing, "t-alice")
    thread = await alice.threads.create()
    got = await alice.runs.wait(thread["thread_id"], "whoami", input={})
    assert isinstance(got, dict) and got["user_id"] == "alice"
    assert got["user"]["identity"] == "alice" and isinstance(got["permissions"], list)
    got = await _sdk(sharing, "t-bob").runs.wait(None, "whoami", input={})
    assert isinstance(got, dict) and got["user_id"] == "bob"
    run = await alice.runs.create(thread["thread_id"], "whoami", input={})
    await alice.runs.join(thread["thread_id"], run["run_id"])
    state = await alice.threads.get_state(thread["thread_id"])
    assert state["values"]["user_id"] == "alice"


async def test_assistant_handlers_scope_and_refuse(sharing: ServerProcess) -> None:
    alice, bob, carol = (_sdk(sharing, f"t-{u}") for u in ("alice", "bob", "carol"))
    made = await alice.assistants.create("chat", metadata={"kind": "echo"})
    assert made["metadata"] == {"kind": "echo", "owner": "alice"}
    assert (await alice.assistants.get(made["assistant_id"]))["metadata"]["owner"] == "alice"
    # The owner filter hides the system assistants and other owners' (as on LangGraph's server).
    found = await alice.assistants.search()
    assert [a["assistant_id"] for a in found] == [made["assistant_id"]]
    assert await bob.assistants.search() == [] and await bob.assistants.count() == 0
    with pytest.raises(httpx.HTTPStatusError) as exc:
        await bob.assistants.get(made["assistant_id"])
    assert _status(exc) == 404
    with pytest.raises(httpx.HTTPStatusError) as exc:  # the handler answers first
        await bob.assistants.update(made["assistant_id"], metadata={"x": 1})
    assert _status(exc) == 403
    with pytest.raises(httpx.HTTPStatusError) as exc:
        await carol.assistants.update(made["assistant_id"], metadata={"x": 1})
    assert _status(exc) == 404
    bobs = await bob.assistants.create("chat")
    with pytest.raises(httpx.HTTPStatusError) as exc:
        await bob.assistants.delete(bobs["assistant_id"])
    assert (_status(exc), exc.value.response.json()) == (403, {"detail": "bob deletes nothing"})
    # Updates are refused to bob, through PATCH and through /latest alike.
    for call in (
        lambda: bob.assistants.update(bobs["assistant_id"], metadata={"x": 1}),
        lambda: bob.assistants.set_latest(bobs["assistant_id"], 1),
    ):
        with pytest.raises(httpx.HTTPStatusError) as exc:
            await call()
        assert (_status(exc), exc.value.response.json()) == (403, {"detail": "Forbidden"})
    assert (await alice.assistants.set_latest(made["assistant_id"], 1))["version"] == 1
    # Runs: a system assistant stays usable, another owner's custom one is 404.
    assert (await bob.runs.wait(None, "chat", input=HI))["messages"][-1]["content"] == "echo: hi"
    with pytest.raises(httpx.HTTPStatusError) as exc:
        await bob.runs.wait(None, made["assistant_id"], input=HI)
    assert _status(exc) == 404
    await alice.assistants.delete(made["assistant_id"])


async def test_an_admin_api_key_is_not_filtered(sharing: ServerProcess) -> None:
    alice = _sdk(sharing, "t-alice")
    thread = await alice.threads.create()
    admin = get_client(url=sharing.url, api_key=ADMIN_KEY)
    assert (await admin.threads.get(thread["thread_id"]))["metadata"]["owner"] == "alice"


async def test_the_tutorial_auth_file_works_unchanged(tutorial: ServerProcess) -> None:
    alice, bob = _sdk(tutorial, "user1-token"), _sdk(tutorial, "user2-token")
    alice_thread = await alice.threads.create()
    assert alice_thread["metadata"]["owner"] == "user1"
    await alice.runs.wait(alice_thread["thread_id"], "chat", input=HI)
    with pytest.raises(httpx.HTTPStatusError) as exc:
        await bob.threads.get(alice_thread["thread_id"])
    assert _status(exc) == 404
    bob_thread = await bob.threads.create()
    await bob.runs.wait(bob_thread["thread_id"], "chat", input=HI)
    assert [t["thread_id"] for t in await alice.threads.search()] == [alice_thread["thread_id"]]
    assert [t["thread_id"] for t in await bob.threads.search()] == [bob_thread["thread_id"]]
    # Every assistants action is refused with the handler's 403.
    for call in (lambda: alice.assistants.create("chat"), lambda: alice.assistants.search()):
        with pytest.raises(httpx.HTTPStatusError) as exc:
            await call()
        assert (_status(exc), exc.value.response.json()) == (
            403,
            {"detail": "User lacks the required permissions."},
        )
    assert (await alice.threads.create())["metadata"] == {"owner": "user1"}
