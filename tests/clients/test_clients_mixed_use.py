"""Mixed use: one thread is one session, whichever client touches it. A thread made by the
JS SDK is continued by ``POST /sessions/{id}/invoke`` and by ``graph-sessions chat`` (the CLI,
on the server's own config and database, stdin piped), and the reverse (a session made by
the CLI, continued over ``/sessions`` and by the SDK); the state read back by the SDK, over
``/threads/{id}/state`` and over ``/sessions/{id}/state`` is the same."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.server import ServerProcess

pytestmark = pytest.mark.slow

EXE = str(Path(sys.executable).parent / "graph-sessions")
ENV = {k: v for k, v in os.environ.items() if not k.startswith("GRAPH_SESSIONS_")}


def sdk_turn(js: Path, url: str, thread_id: str, assistant: str, run: dict[str, Any]) -> Any:
    """One ``runs.wait`` by the JS SDK (``js/thread_turn.mjs``); ``thread_id`` "-" makes one."""
    done = subprocess.run(
        ["node", "thread_turn.mjs", url, thread_id, assistant, json.dumps(run)],
        cwd=js,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"node failed:\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def cli_chat(
    server: ServerProcess, graph: str, session: str, lines: list[str], *options: str
) -> str:
    """``graph-sessions chat GRAPH --session ID`` on the server's config (same database),
    typing ``lines`` then ``/quit``; what it printed."""
    config = str(server.cwd / "langgraph.json")
    done = subprocess.run(
        [EXE, "chat", graph, "--session", session, "-c", config, *options],
        input="\n".join([*lines, "/quit"]) + "\n",
        capture_output=True,
        text=True,
        env=ENV,
        cwd=server.cwd,
        timeout=60,
    )
    assert done.returncode == 0, f"chat failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def contents(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(m["type"], m["content"]) for m in messages]


def same_state(server: ServerProcess, thread_id: str, sdk_state: dict[str, Any]) -> Any:
    """The state read over ``/threads/{id}/state``, over ``/sessions/{id}/state`` and by the
    SDK: the same values, next nodes and checkpoint; the thread and the session are one."""
    with httpx.Client(base_url=server.url, timeout=30) as http:
        thread = http.get(f"/threads/{thread_id}/state")
        session = http.get(f"/sessions/{thread_id}/state")
        thread_row = http.get(f"/threads/{thread_id}")
        session_row = http.get(f"/sessions/{thread_id}")
    for answer in (thread, session, thread_row, session_row):
        assert answer.status_code == 200, answer.text
    lg, ours = thread.json(), session.json()
    assert lg["values"] == ours["values"] == sdk_state["values"]
    assert lg["next"] == ours["next"] == sdk_state["next"]
    assert lg["checkpoint"]["checkpoint_id"] == ours["checkpoint_id"]
    assert [i["value"] for i in lg["interrupts"]] == [i["value"] for i in ours["interrupts"]]
    assert thread_row.json()["values"] == lg["values"]
    assert session_row.json()["session_id"] == thread_row.json()["thread_id"] == thread_id
    return lg


def invoke(server: ServerProcess, session_id: str, body: dict[str, Any]) -> Any:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        answer = http.post(f"/sessions/{session_id}/invoke", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def say(text: str) -> dict[str, Any]:
    return {"input": {"messages": [{"role": "user", "content": text}]}}


def transcript(*turns: str) -> list[tuple[str, str]]:
    return [pair for t in turns for pair in (("human", t), ("ai", f"echo: {t}"))]


def runs_of(server: ServerProcess, thread_id: str) -> tuple[int, int]:
    """How many runs ``/threads/{id}/runs`` and ``/sessions/{id}/runs`` list."""
    with httpx.Client(base_url=server.url, timeout=30) as http:
        lg = http.get(f"/threads/{thread_id}/runs").json()
        ours = http.get(f"/sessions/{thread_id}/runs").json()
    return len(lg), len(ours)


def test_sdk_thread_continued_by_sessions_api_and_cli(
    js_packages: Path, lg_server: ServerProcess
) -> None:
    made = sdk_turn(js_packages, lg_server.url, "-", "chat", say("one"))
    tid = made["thread_id"]
    invoked = invoke(lg_server, tid, say("two"))
    assert contents(invoked["state"]["messages"]) == transcript("one", "two")
    assert "graph> echo: three" in cli_chat(lg_server, "chat", tid, ["three"])
    again = sdk_turn(js_packages, lg_server.url, tid, "chat", say("four"))
    assert contents(again["state"]["values"]["messages"]) == transcript(
        "one", "two", "three", "four"
    )
    assert again["status"] == "idle"
    same_state(lg_server, tid, again["state"])
    assert runs_of(lg_server, tid) == (4, 4)


def test_cli_session_continued_by_sessions_api_and_sdk(
    js_packages: Path, lg_server: ServerProcess
) -> None:
    sid = "made-by-the-cli"
    printed = cli_chat(lg_server, "chat", sid, ["a"])
    assert "(created)" in printed and "graph> echo: a" in printed
    invoke(lg_server, sid, say("b"))
    done = sdk_turn(js_packages, lg_server.url, sid, "chat", say("c"))
    assert contents(done["state"]["values"]["messages"]) == transcript("a", "b", "c")
    same_state(lg_server, sid, done["state"])
    # and the CLI sees what the others did
    assert "graph> echo: d" in cli_chat(lg_server, "chat", sid, ["d"])
    last = sdk_turn(js_packages, lg_server.url, sid, "chat", say("e"))
    assert contents(last["state"]["values"]["messages"]) == transcript("a", "b", "c", "d", "e")
    same_state(lg_server, sid, last["state"])
    assert runs_of(lg_server, sid) == (5, 5)


def test_interrupts_cross_clients(js_packages: Path, lg_server: ServerProcess) -> None:
    final = ["prepared", "asked", "finished:yes"]
    # made by the SDK, paused; answered in the CLI
    made = sdk_turn(js_packages, lg_server.url, "-", "approval", {"input": {"request": "a"}})
    assert made["status"] == "interrupted" and made["state"]["next"] == ["ask"]
    tid = made["thread_id"]
    same_state(lg_server, tid, made["state"])
    printed = cli_chat(lg_server, "approval", tid, ["yes"])
    assert "approve a?" in printed
    state = same_state(
        lg_server, tid, {"values": {"request": "a", "decision": "yes", "log": final}, "next": []}
    )
    assert state["interrupts"] == []
    # made in the CLI, paused at the question; resumed by the SDK's command
    printed = cli_chat(lg_server, "approval", "cli-approval", ["b"], "--input-key", "request")
    assert "approve b?" in printed
    done = sdk_turn(
        js_packages, lg_server.url, "cli-approval", "approval", {"command": {"resume": "yes"}}
    )
    assert done["result"] == {"request": "b", "decision": "yes", "log": final}
    assert done["status"] == "idle"
    same_state(lg_server, "cli-approval", done["state"])
    # made over /sessions, paused; the SDK sees the interrupt and resumes it
    paused = invoke(
        lg_server, "sessions-approval", {"input": {"request": "c"}, "graph_id": "approval"}
    )
    assert paused["status"] == "interrupted"
    assert [i["value"] for i in paused["interrupts"]] == [{"question": "approve c?"}]
    lg = same_state(
        lg_server,
        "sessions-approval",
        {"values": {"request": "c", "log": ["prepared"]}, "next": ["ask"]},
    )
    assert [i["value"] for i in lg["interrupts"]] == [{"question": "approve c?"}]
    done = sdk_turn(
        js_packages, lg_server.url, "sessions-approval", "approval", {"command": {"resume": "yes"}}
    )
    assert done["result"] == {"request": "c", "decision": "yes", "log": final}
    same_state(lg_server, "sessions-approval", done["state"])
