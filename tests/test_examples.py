"""The runnable examples: each is run as a script on a fresh SQLite file (twice, since
each cleans up after itself), and the questionnaire's session class is used in-process."""

from __future__ import annotations

import importlib.util
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from graph_sessions.graphs.yaml import validate_yaml_graph

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run_example(name: str, db: Path) -> str:
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / name), str(db)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=db.parent,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("graph", sorted((EXAMPLES / "graphs").glob("*.yaml")), ids=str)
def test_every_example_yaml_graph_is_valid(graph: Path) -> None:
    assert validate_yaml_graph(str(graph)) == []


@pytest.mark.slow
def test_support_bot_yaml(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    for _ in range(2):
        out = run_example("support_bot_yaml.py", db)
        assert (
            "invoke -> interrupted; the graph asks: Send this reply? Thanks for writing about "
            "'my parcel never arrived'" in out
        )
        assert "after restart: interrupted" in out
        assert (
            "resume -> complete; reply: Thanks for writing about 'my parcel never arrived'" in out
        )
        assert "history: user: my parcel never arrived | bot: Thanks" in out
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM sessions").fetchone() == (0,)


@pytest.mark.slow
def test_chat_bot(tmp_path: Path) -> None:
    out = run_example("chat_bot.py", tmp_path / "c.db")
    assert out.splitlines() == [
        "user: hi",
        "bot:  Hello! What can I do for you?  (2 messages)",
        "user: when does my order ship?",
        "bot:  Sure, your order #1234 ships tomorrow.  (4 messages)",
        "user: thanks!",
        "bot:  You're welcome. Anything else?  (6 messages)",
    ]


@pytest.mark.slow
def test_questionnaire(tmp_path: Path) -> None:
    out = run_example("questionnaire.py", tmp_path / "q.db")
    assert out.splitlines() == [
        "user: Hello, my name is Ada Lovelace",
        "bot:  Which email address should we use?  (have: name)",
        "user: ada@example.com",
        "bot:  Which plan would you like: free, pro or team?  (have: name, email)",
        "user: I'd like the pro plan",
        "done: Thanks Ada Lovelace! We will write to ada@example.com about the pro plan.",
        "status: completed",
    ]


@pytest.mark.slow
def test_fanout_yaml(tmp_path: Path) -> None:
    out = run_example("fanout_yaml.py", tmp_path / "f.db")
    assert out.splitlines() == [
        "complete: 3 topics reviewed: pricing: needs work; onboarding: solid; docs: solid",
        "complete: 2 topics reviewed: api: needs work; billing: needs work",
    ]


def _questionnaire_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "questionnaire_example", EXAMPLES / "questionnaire.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["questionnaire_example"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


async def test_questionnaire_session_class_survives_a_restart(tmp_path: Path) -> None:
    q = _questionnaire_module()
    db = str(tmp_path / "form.db")
    async with q.make_manager(db) as m:
        s = await m.create("form-1", owner="ada")
        assert isinstance(s, q.FormSession)
        turn = await s.send_message("hello")
        assert turn == q.FormTurn(
            done=False,
            question="What is your name?",
            form={},
            missing=["name", "email", "plan"],
        )
    async with q.make_manager(db) as m:  # a new process would see the same
        s = await m.get("form-1")
        assert isinstance(s, q.FormSession) and s.status == "interrupted"
        assert (await s.send_message("Grace Hopper")).question.startswith("Which email")
        turn = await s.send_message("grace@navy.mil, free plan")
        assert turn.done and turn.missing == []
        assert turn.summary == (
            "Thanks Grace Hopper! We will write to grace@navy.mil about the free plan."
        )
