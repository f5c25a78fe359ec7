"""``type: interrupt``: pause the run for a human answer (human in the loop)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph.types import interrupt

from graph_sessions.graphs.yaml.expressions import render_value, value_fields
from graph_sessions.graphs.yaml.nodes.base import (
    LLM_KEYS,
    BuildContext,
    BuiltNode,
    compile_field,
    validate_node,
)
from graph_sessions.graphs.yaml.nodes.llm import build_llm
from graph_sessions.graphs.yaml.nodes.running import wrap_node
from graph_sessions.graphs.yaml.reducers import LAST_VALUE
from graph_sessions.graphs.yaml.schema import InterruptNode, Path_

__all__ = ["INTERRUPT_PAYLOAD_PREFIX", "build_interrupt"]

INTERRUPT_PAYLOAD_PREFIX = "_interrupt_"


def build_interrupt(name: str, raw: dict[str, Any], ctx: BuildContext) -> BuiltNode | None:
    """Two LangGraph nodes: ``<name>__prepare`` computes the payload (renders ``message``,
    or asks a chat model with ``prompt``) and writes it to ``state_key`` (committed before
    the pause); ``<name>`` calls ``interrupt()`` with it
    and writes the answer to ``resume_key``. On resume only ``<name>`` re-runs, so the
    payload is not recomputed."""
    path: Path_ = ("nodes", name)
    spec = validate_node(InterruptNode, raw, path, ctx)
    if spec is None:
        return None
    if spec.prompt is not None and spec.message is not None:
        ctx.problem(path, "give either `message` or `prompt` (an LLM writes the message), not both")
        return None
    message = (
        compile_field(spec.message, (*path, "message"), ctx) if spec.message is not None else None
    )
    if spec.message is not None and message is None:
        return None
    state_key = spec.state_key or None
    resume_key = spec.resume_key
    prepare_name = f"{name}__prepare"
    llm: BuiltNode | None = None
    if spec.prompt is not None:
        state_key = state_key or "interrupt_message"
        llm_raw = {k: v for k, v in raw.items() if k in LLM_KEYS}
        llm_raw.update(type="llm", state_key=state_key, parse_json=False)
        llm = build_llm(name, llm_raw, ctx)
        if llm is None:
            return None

    def compute(state: Mapping[str, Any]) -> Any:
        if message is None:
            return {"node": name}
        return render_value(message, state)

    # The payload also goes to a key of this node's own: interrupt nodes that run in
    # parallel branches may share `state_key` (the default), and each must ask its own.
    own_key = f"{INTERRUPT_PAYLOAD_PREFIX}{name}"

    def prepare(state: dict[str, Any]) -> dict[str, Any]:
        payload = compute(state)
        return {state_key: payload, own_key: payload} if state_key else {own_key: payload}

    def with_own_key(update: Any) -> dict[str, Any]:
        update = dict(update or {})
        update[own_key] = update.get(state_key) if state_key else None
        return update

    def ask(state: dict[str, Any]) -> dict[str, Any]:
        payload = state.get(own_key)
        if payload is None:
            payload = state.get(state_key) if state_key else compute(state)
        if isinstance(payload, dict):
            value: Any = {**payload, "resume_key": resume_key}
        else:
            value = {"message": payload, "resume_key": resume_key}
        answer = interrupt(value)
        return {resume_key: answer}

    writes = {resume_key, own_key} | ({state_key} if state_key else set())
    prepare_fn = wrap_node(prepare_name, llm.funcs[0][1], with_own_key) if llm else prepare
    return BuiltNode(
        name,
        "interrupt",
        [(prepare_name, prepare_fn), (name, ask)],
        prepare_name,
        name,
        writes,
        llm.reads if llm is not None else value_fields(message),
        internal_edges=[(prepare_name, name)],
        # Parallel interrupt nodes may write the same keys in one step: the last one wins
        # (unless the state section gives the key a reducer of its own).
        reducers={k: LAST_VALUE for k in writes - {own_key}},
    )
