"""The JavaScript SDK (``@langchain/langgraph-sdk`` from npm, run by node) against a real
server: a thread, a streamed run (messages-tuple + values), an interrupt and its resume by a
command, the thread's history, the store. ``js/sdk_flow.mjs`` does it and prints JSON."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow


def run_flow(js: Path, url: str) -> dict[str, Any]:
    """``node sdk_flow.mjs URL``: what it printed, parsed."""
    done = subprocess.run(
        ["node", "sdk_flow.mjs", url], cwd=js, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"node failed:\n{done.stdout}\n{done.stderr}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_js_sdk_thread_stream_interrupt_resume_store(js_packages: Path, api_url: str) -> None:
    out = run_flow(js_packages, api_url)

    assert out["graphs"] == ["approval", "chat", "parent", "slow"]
    assert out["thread_metadata_ok"] is True
    # the streamed chat run: tokens as message tuples, then the values
    assert set(out["chat_events"]) == {"metadata", "messages", "values"}
    assert out["chat_tokens"] == "echo: hi from js"
    assert out["message_meta_node"] == "chat"
    expected = [["human", "hi from js"], ["ai", "echo: hi from js"]]
    assert out["chat_values"] == expected
    assert out["chat_state"] == expected
    assert out["chat_next"] == []
    # the interrupt: streamed, on the thread, on the state's task; then the resume
    assert set(out["approval_events"]) == {"metadata", "values", "updates"}
    assert out["interrupt_value"] == {"question": "approve deploy?"}
    assert out["paused_status"] == "interrupted"
    assert out["paused_interrupts"] == [{"question": "approve deploy?"}]
    assert out["paused_next"] == ["ask"]
    assert out["paused_task_interrupts"] == [{"question": "approve deploy?"}]
    assert out["resumed_values"] == {
        "request": "deploy",
        "decision": "yes",
        "log": ["prepared", "asked", "finished:yes"],
    }
    assert out["done_status"] == "idle"
    assert out["approval_runs"] == ["success", "success"]
    assert out["history_len"] == 5
    assert out["history_first_next"] == []
    assert out["history_has_checkpoints"] is True
    # the store
    assert out["store_item"] == {
        "namespace": ["js", "notes"],
        "key": "n1",
        "value": {"text": "hello", "n": 1},
    }
    assert out["store_search"] == ["n2"]
    assert out["store_namespaces"] == [["js", "notes"]]
    assert out["store_after_delete"] is None
    assert out["search_ids"] == [out["thread_id"]]
    assert out["listed_by_graph_id"] is True
    assert out["listed_by_assistant_id"] is True
