"""A YAML graph and its hand-written Python equivalent give the same results, state by
state, turn by turn, through GraphSessionManager on SQLite (interrupts included)."""

from __future__ import annotations

import importlib.util
import operator
from pathlib import Path
from typing import Annotated, Any

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from support.yaml_files import visible
from typing_extensions import TypedDict

from graph_sessions import GraphSessionManager

ROOT = Path(__file__).resolve().parents[2]
GRAPHS = ROOT / "examples" / "graphs"


# --------------------------------------------------------------------------- support bot


class SupportState(TypedDict, total=False):
    user_input: str
    draft: str
    approved: bool
    response: str
    history: Annotated[list[str], operator.add]
    approval_request: str


def _draft(state: SupportState) -> dict[str, Any]:
    text = state["user_input"]
    return {
        "draft": f"Thanks for writing about '{text}'. We are on it.",
        "history": [f"user: {text}"],
    }


def _approve_prepare(state: SupportState) -> dict[str, Any]:
    return {"approval_request": f"Send this reply? {state['draft']}"}


def _approve(state: SupportState) -> dict[str, Any]:
    answer = interrupt({"message": state["approval_request"], "resume_key": "user_input"})
    return {"user_input": answer}


def _decide(state: SupportState) -> dict[str, Any]:
    return {"approved": state["user_input"].strip().lower() in ("y", "yes", "ok", "approve")}


def _respond(state: SupportState) -> dict[str, Any]:
    reply = state["draft"] if state["approved"] else "A colleague will follow up shortly."
    return {"response": reply, "history": [f"bot: {reply}"]}


def support_python() -> StateGraph[Any]:
    b: StateGraph[Any] = StateGraph(SupportState)
    for name, fn in [
        ("draft", _draft),
        ("approve_prepare", _approve_prepare),
        ("approve", _approve),
        ("decide", _decide),
        ("respond", _respond),
    ]:
        b.add_node(name, fn)
    b.add_edge(START, "draft")
    b.add_edge("draft", "approve_prepare")
    b.add_edge("approve_prepare", "approve")
    b.add_edge("approve", "decide")
    b.add_edge("decide", "respond")
    b.add_edge("respond", END)
    return b


# --------------------------------------------------------------------------- questionnaire


def _tools() -> Any:
    spec = importlib.util.spec_from_file_location("q_tools", GRAPHS / "questionnaire_tools.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _merge(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any]:
    return {**(a or {}), **(b or {})}


class FormState(TypedDict, total=False):
    user_input: str
    form: Annotated[dict[str, Any], _merge]
    missing: list[str]
    asking: str
    question: str
    summary: str
    interrupt_message: Any


def questionnaire_python() -> StateGraph[Any]:
    extract_fields = _tools().extract_fields

    def ask_prepare(state: FormState) -> dict[str, Any]:
        return {"interrupt_message": state["question"]}

    def ask(state: FormState) -> dict[str, Any]:
        return {
            "user_input": interrupt(
                {"message": state["interrupt_message"], "resume_key": "user_input"}
            )
        }

    def summarize(state: FormState) -> dict[str, Any]:
        f = state["form"]
        return {
            "summary": f"Thanks {f['name']}! We will write to {f['email']} "
            f"about the {f['plan']} plan."
        }

    b: StateGraph[Any] = StateGraph(FormState)
    b.add_node("extract", extract_fields)
    b.add_node("ask_prepare", ask_prepare)
    b.add_node("ask", ask)
    b.add_node("summarize", summarize)
    b.add_edge(START, "extract")
    b.add_conditional_edges("extract", lambda s: "summarize" if not s["missing"] else "ask_prepare")
    b.add_edge("ask_prepare", "ask")
    b.add_edge("ask", "extract")
    b.add_edge("summarize", END)
    return b


# --------------------------------------------------------------------------- the comparison


async def run_both(
    yaml_graph: Path, python_graph: StateGraph[Any], inputs: list[dict[str, Any]], tmp_path: Path
) -> list[tuple[str, Any, dict[str, Any]]]:
    """Run the same inputs through both graphs; assert equality at every turn."""
    trace = []
    async with (
        GraphSessionManager(graph_path=yaml_graph, backend=f"sqlite:///{tmp_path / 'y.db'}") as ym,
        GraphSessionManager(graph=python_graph, backend=f"sqlite:///{tmp_path / 'p.db'}") as pm,
    ):
        ys, ps = await ym.create("same"), await pm.create("same")
        for step in inputs:
            yr, pr = await ys.invoke(step), await ps.invoke(step)
            assert (yr.status, yr.interrupt, yr.resume_key) == (
                pr.status,
                pr.interrupt,
                pr.resume_key,
            ), step
            assert visible(yr.state) == visible(pr.state), step
            assert visible(await ys.get_state()) == visible(await ps.get_state())
            assert (await ys.refresh()).status == (await ps.refresh()).status
            trace.append((yr.status, yr.interrupt, visible(yr.state)))
    return trace


async def test_support_bot_yaml_equals_python(tmp_path: Path) -> None:
    trace = await run_both(
        GRAPHS / "support_bot.yaml",
        support_python(),
        [
            {"user_input": "my invoice is wrong"},
            {"user_input": "yes"},
            {"user_input": "where is my parcel"},
            {"user_input": "no"},
        ],
        tmp_path,
    )
    assert [t[0] for t in trace] == ["interrupted", "complete", "interrupted", "complete"]
    assert trace[-1][2]["history"] == [
        "user: my invoice is wrong",
        "bot: Thanks for writing about 'my invoice is wrong'. We are on it.",
        "user: where is my parcel",
        "bot: A colleague will follow up shortly.",
    ]


async def test_questionnaire_yaml_equals_python(tmp_path: Path) -> None:
    trace = await run_both(
        GRAPHS / "questionnaire.yaml",
        questionnaire_python(),
        [
            {"user_input": "hi"},
            {"user_input": "Ada"},
            {"user_input": "ada@example.org, and the team plan"},
            {"user_input": "my name is Bob"},  # a new turn on the finished form
        ],
        tmp_path,
    )
    assert [t[0] for t in trace] == ["interrupted", "interrupted", "complete", "complete"]
    assert trace[0][1]["message"] == "What is your name?"
    assert trace[1][1]["message"] == "Which email address should we use?"
    assert trace[2][2]["summary"] == (
        "Thanks Ada! We will write to ada@example.org about the team plan."
    )
    assert trace[3][2]["form"] == {"name": "Bob", "email": "ada@example.org", "plan": "team"}
