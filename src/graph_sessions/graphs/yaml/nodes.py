"""One builder per node type: YAML node spec -> LangGraph node function(s).

Each builder gets the node's raw mapping and a :class:`BuildContext`, reports problems
through ``ctx.problem(path, message)`` (so validation sees all of them) and returns a
:class:`BuiltNode`, or ``None`` when the node cannot be built.
"""

from __future__ import annotations

import difflib
import inspect
import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from langgraph.types import Send, interrupt
from pydantic import BaseModel, ValidationError

from graph_sessions.graphs.yaml.expressions import (
    Expression,
    ExpressionError,
    Template,
    compile_expression,
    compile_template,
    compile_value,
    render_value,
    value_fields,
)
from graph_sessions.graphs.yaml.schema import (
    NODE_MODELS,
    InterruptNode,
    LlmNode,
    MapNode,
    NodeBase,
    PassthroughNode,
    Path_,
    PythonNode,
    RouterNode,
    SubgraphNode,
    YamlDocument,
    read_yaml,
    validation_problems,
)

log = logging.getLogger("graph_sessions.yaml")

__all__ = ["BuildContext", "BuiltNode", "KNOWN_NODE_TYPES", "MAP_RESET", "build_node"]

KNOWN_NODE_TYPES: tuple[str, ...] = tuple(NODE_MODELS)
MAP_RESET = "__graph_sessions_map_reset__"
ROUTE_KEY = "_route"
INTERRUPT_PAYLOAD_PREFIX = "_interrupt_"
LAST_VALUE = "last_value"  # a reducer name: the last write wins, several writes per step are fine

NodeFn = Any  # a node function or a Runnable (sync and async)


@dataclass
class BuiltNode:
    """What a YAML node compiles to.

    ``funcs`` are the LangGraph nodes to add; edges into the YAML node go to ``entry``,
    its outgoing edges leave from ``exit``; ``internal_edges`` wire its own parts;
    ``dispatch`` (map nodes) is the conditional edge out of ``entry``; ``routes`` are a
    router's possible targets; ``writes``/``reads`` are state keys; ``reducers`` force a
    state field's reducer.
    """

    name: str
    type: str
    funcs: list[tuple[str, NodeFn]]
    entry: str
    exit: str
    writes: set[str] = field(default_factory=set)
    reads: set[str] = field(default_factory=set)
    routes: list[str] = field(default_factory=list)
    internal_edges: list[tuple[str, str]] = field(default_factory=list)
    dispatch: tuple[NodeFn, list[str]] | None = None
    reducers: dict[str, str] = field(default_factory=dict)


@dataclass
class BuildContext:
    """Everything node builders share while one graph file is compiled."""

    doc: YamlDocument
    base_dir: Path
    tools: dict[str, Callable[..., Any]]
    tool_names: set[str]
    defaults: dict[str, Any]
    max_map_items: int | None
    load_subgraph: Callable[[str, Path_], Any]
    chat_model: Any = None  # a model object or factory for llm nodes (load_yaml_graph's hook)
    problems: list[Any] = field(default_factory=list)
    state_keys: set[str] = field(default_factory=set)  # filled in before the graph runs

    def problem(self, path: Path_, message: str) -> None:
        """Record a problem at ``path`` of the graph file."""
        self.problems.append(self.doc.problem(path, message))


# --------------------------------------------------------------------------- helpers


# Node keys of YamlGraph files that graph-sessions knowingly ignores (any other unknown key
# of a node is a problem: a misspelled `resume_kye:` must not silently fall back).
IGNORED_NODE_KEYS = frozenset({"requires", "interrupt_output_mapping", "fallback", "max_retries"})


def _validate(model: type[BaseModel], data: Any, path: Path_, ctx: BuildContext) -> Any:
    try:
        spec = model.model_validate(data)
    except ValidationError as exc:
        ctx.problems.extend(validation_problems(ctx.doc, exc, path))
        return None
    if issubclass(model, NodeBase) and spec.model_extra:
        known = sorted(f.alias or name for name, f in model.model_fields.items())
        if model in (InterruptNode, RouterNode):  # with `prompt`, an llm call's keys too
            known = sorted({*known, *_LLM_KEYS})
        unknown = [k for k in spec.model_extra if k not in known and k not in IGNORED_NODE_KEYS]
        node_type = data.get("type", "llm") if isinstance(data, dict) else "llm"
        for key in unknown:
            hint = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            also = f"did you mean {hint[0]!r}?" if hint else f"known: {', '.join(known)}"
            ctx.problem((*path, key), f"unknown field of a {node_type!r} node; {also}")
        if unknown:
            return None
    return spec


def _template(text: Any, path: Path_, ctx: BuildContext) -> Any:
    try:
        return compile_value(text)
    except ExpressionError as exc:
        ctx.problem(path, f"bad expression: {exc}")
        return None


def _value_expression(text: str, path: Path_, ctx: BuildContext) -> Expression | None:
    """``"{state.items}"`` or ``state.items``: one expression."""
    try:
        tmpl = compile_template(text)
        if tmpl.is_single:
            expr = tmpl.parts[0]
            assert isinstance(expr, Expression)
            return expr
        return compile_expression(text)
    except ExpressionError as exc:
        ctx.problem(path, f"bad expression: {exc}")
        return None


def _tool(name: str | None, path: Path_, ctx: BuildContext) -> Callable[..., Any] | None:
    if not name:
        ctx.problem(path, "required field is missing (name a tool of the `tools` section)")
        return None
    if name not in ctx.tool_names:
        known = ", ".join(sorted(ctx.tool_names)) or "none defined"
        ctx.problem(path, f"unknown tool {name!r} (tools: {known})")
        return None
    return ctx.tools.get(name)  # None if the tool itself failed to load (reported there)


def _dotted_function(ref: str, path: Path_, ctx: BuildContext) -> Callable[..., Any] | None:
    """``function: package.module.func`` on a python node: import it directly."""
    import importlib

    module_name, _, attr = ref.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        ctx.problem(path, f"cannot import {module_name!r}: {type(exc).__name__}: {exc}")
        return None
    fn = getattr(module, attr, None)
    if fn is None or not callable(fn):
        ctx.problem(path, f"{module_name!r} has no function {attr!r}")
        return None
    return fn


def _takes_config(fn: Callable[..., Any]) -> bool:
    try:
        return "config" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def run_node_sync(fn: Any, state: Any, config: RunnableConfig) -> Any:
    """Run a node function (plain, config-taking or a Runnable) synchronously."""
    if isinstance(fn, Runnable):
        return fn.invoke(state, config)
    if inspect.iscoroutinefunction(fn):
        raise TypeError("this node is async: run the graph with ainvoke/astream")
    return fn(state, config) if _takes_config(fn) else fn(state)


async def run_node_async(fn: Any, state: Any, config: RunnableConfig) -> Any:
    """Run a node function (plain, async, config-taking or a Runnable) asynchronously."""
    if isinstance(fn, Runnable):
        return await fn.ainvoke(state, config)
    result = fn(state, config) if _takes_config(fn) else fn(state)
    if inspect.isawaitable(result):
        result = await result
    return result


def dual(name: str, sync_fn: Callable[..., Any], async_fn: Callable[..., Any]) -> NodeFn:
    """A node usable from ``invoke`` and ``ainvoke`` (a ``RunnableLambda`` with both)."""
    return RunnableLambda(sync_fn, afunc=async_fn, name=name)


def wrap_node(name: str, fn: Any, post: Callable[[Any], Any]) -> NodeFn:
    """``fn`` followed by ``post`` on its result, sync and async."""

    def sync(state: Any, config: RunnableConfig) -> Any:
        return post(run_node_sync(fn, state, config))

    async def run_async(state: Any, config: RunnableConfig) -> Any:
        return post(await run_node_async(fn, state, config))

    return dual(name, sync, run_async)


def _route_key(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def _check_update(node: str, update: Mapping[str, Any], ctx: BuildContext) -> dict[str, Any]:
    unknown = sorted(k for k in update if k not in ctx.state_keys)
    if unknown:
        raise KeyError(
            f"node {node!r} returned key(s) {unknown} that are not state fields; "
            "declare them under `state:` in the graph file"
        )
    return dict(update)


# --------------------------------------------------------------------------- passthrough


def build_passthrough(name: str, raw: dict[str, Any], ctx: BuildContext) -> BuiltNode | None:
    """``output: {key: template}``: every template is rendered on the incoming state."""
    path: Path_ = ("nodes", name)
    spec = _validate(PassthroughNode, raw, path, ctx)
    if spec is None:
        return None
    outputs: dict[str, Any] = {}
    ok = True
    for key, text in spec.output.items():
        compiled = _template(text, (*path, "output", key), ctx)
        ok = ok and (compiled is not None or text is None)
        outputs[str(key)] = compiled
    if not ok:
        return None

    def passthrough(state: dict[str, Any]) -> dict[str, Any]:
        return {k: render_value(v, state) for k, v in outputs.items()}

    reads: set[str] = set()
    for v in outputs.values():
        reads |= value_fields(v)
    return BuiltNode(name, "passthrough", [(name, passthrough)], name, name, set(outputs), reads)


# --------------------------------------------------------------------------- interrupt


def build_interrupt(name: str, raw: dict[str, Any], ctx: BuildContext) -> BuiltNode | None:
    """Two LangGraph nodes: ``<name>__prepare`` computes the payload (renders ``message``,
    or asks a chat model with ``prompt``) and writes it to ``state_key`` (committed before
    the pause); ``<name>`` calls ``interrupt()`` with it
    and writes the answer to ``resume_key``. On resume only ``<name>`` re-runs, so the
    payload is not recomputed."""
    path: Path_ = ("nodes", name)
    spec = _validate(InterruptNode, raw, path, ctx)
    if spec is None:
        return None
    if spec.prompt is not None and spec.message is not None:
        ctx.problem(path, "give either `message` or `prompt` (an LLM writes the message), not both")
        return None
    message = _template(spec.message, (*path, "message"), ctx) if spec.message is not None else None
    if spec.message is not None and message is None:
        return None
    state_key = spec.state_key or None
    resume_key = spec.resume_key
    prepare_name = f"{name}__prepare"
    llm: BuiltNode | None = None
    if spec.prompt is not None:
        state_key = state_key or "interrupt_message"
        llm_raw = {k: v for k, v in raw.items() if k in _LLM_KEYS}
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


# --------------------------------------------------------------------------- python


def _python_callable(
    name: str, spec: PythonNode, path: Path_, ctx: BuildContext
) -> tuple[Callable[..., Any] | None, dict[str, Any], bool]:
    tool_name = spec.tool or spec.function
    field_name = "tool" if spec.tool else "function"
    if (
        spec.tool is None
        and spec.function
        and "." in spec.function
        and spec.function not in ctx.tool_names
    ):
        fn = _dotted_function(spec.function, (*path, "function"), ctx)
    else:
        fn = _tool(tool_name, (*path, field_name), ctx)
    variables: dict[str, Any] = {}
    ok = fn is not None
    for key, text in spec.variables.items():
        compiled = _template(text, (*path, "variables", key), ctx)
        ok = ok and compiled is not None
        variables[str(key)] = compiled
    return fn, variables, ok


def build_python(name: str, raw: dict[str, Any], ctx: BuildContext) -> BuiltNode | None:
    """Call a python tool with the state (plus rendered ``variables``). A dict result is a
    state update; any other result is written to ``state_key`` (default: the node name)."""
    path: Path_ = ("nodes", name)
    raw = dict(raw)
    in_map = bool(raw.pop("_in_map", False))
    spec = _validate(PythonNode, raw, path, ctx)
    if spec is None:
        return None
    fn, variables, ok = _python_callable(name, spec, path, ctx)
    if not ok or fn is None:
        return None
    tool = fn
    state_key = spec.state_key or name
    on_error = spec.on_error

    def finish(result: Any) -> dict[str, Any]:
        if result is None:
            return {}
        if isinstance(result, Mapping):
            return dict(result) if in_map else _check_update(name, result, ctx)
        return {state_key: result}

    def effective(state: dict[str, Any]) -> dict[str, Any]:
        if not variables:
            return state
        return {**state, **{k: render_value(v, state) for k, v in variables.items()}}

    where = f"in the YAML graph {ctx.doc.file}, python node {name!r} (tool {spec.tool or spec.function!r})"
    if inspect.iscoroutinefunction(tool):

        async def run_async(state: dict[str, Any]) -> dict[str, Any]:
            try:
                return finish(await tool(effective(state)))
            except Exception as exc:
                if on_error == "skip":
                    log.exception("python node %r failed (on_error: skip)", name)
                    return {}
                exc.add_note(where)
                raise

        func: NodeFn = run_async
    else:

        def run_sync(state: dict[str, Any]) -> dict[str, Any]:
            try:
                return finish(tool(effective(state)))
            except Exception as exc:
                if on_error == "skip":
                    log.exception("python node %r failed (on_error: skip)", name)
                    return {}
                exc.add_note(where)
                raise

        func = run_sync
    reads = set().union(*(value_fields(v) for v in variables.values())) if variables else set()
    return BuiltNode(name, "python", [(name, func)], name, name, {state_key}, reads)


# --------------------------------------------------------------------------- router


def build_router(name: str, raw: dict[str, Any], ctx: BuildContext) -> BuiltNode | None:
    """Evaluate ``expression``, or call ``tool``, or ask a chat model with ``prompt`` (its
    answer is read as JSON when it is JSON, else as text); a dict result is read at
    ``route_field``. The value is looked up in ``routes`` (else ``default_route``), the
    target written to ``_route`` for the conditional edge, and the whole result to
    ``state_key``, if given."""
    path: Path_ = ("nodes", name)
    data = dict(raw)
    if isinstance(data.get("routes"), dict):
        data["routes"] = {_route_key(k): v for k, v in data["routes"].items()}
    spec = _validate(RouterNode, data, path, ctx)
    if spec is None:
        return None
    expr: Expression | None = None
    fn: Callable[..., Any] | None = None
    llm: BuiltNode | None = None
    given = [k for k in ("expression", "tool", "prompt") if getattr(spec, k) is not None]
    if len(given) > 1:
        ctx.problem(
            path, f"give one of `expression`, `tool` or `prompt`, not {' and '.join(given)}"
        )
        return None
    if spec.prompt is not None:
        llm_raw = {k: v for k, v in raw.items() if k in _LLM_KEYS}
        llm_raw.update(type="llm", state_key=_LLM_ANSWER, parse_json=False)
        llm = build_llm(name, llm_raw, ctx)
        if llm is None:
            return None
    elif spec.expression is not None:
        expr = _value_expression(spec.expression, (*path, "expression"), ctx)
        if expr is None:
            return None
    elif spec.tool is not None:
        fn = _tool(spec.tool, (*path, "tool"), ctx)
        if fn is None:
            return None
    else:
        ctx.problem(
            path, "a router needs `expression` (over the state), `tool` or `prompt` (an LLM)"
        )
        return None
    routes = dict(spec.routes)
    default = spec.default_route
    route_field = spec.route_field
    state_key = spec.state_key

    def decide(value: Any) -> dict[str, Any]:
        result = value
        if route_field and isinstance(value, Mapping):
            value = value.get(route_field)
        key = _route_key(value)
        target = routes.get(key, default)
        if target is None:
            raise ValueError(
                f"router {name!r}: value {key!r} matches no route ({', '.join(routes)}) "
                "and there is no default_route"
            )
        update: dict[str, Any] = {ROUTE_KEY: target}
        if state_key:
            update[state_key] = result
        return update

    def decide_llm(update: Mapping[str, Any]) -> dict[str, Any]:
        text = str(update.get(_LLM_ANSWER, ""))
        try:
            value: Any = _extract_json(text)
        except ValueError:
            value = text.strip()
        return decide(value)

    if expr is not None:
        router_expr = expr

        def route_by_expression(state: dict[str, Any]) -> dict[str, Any]:
            return decide(router_expr.evaluate(state))

        func: NodeFn = route_by_expression
        reads = expr.fields
    elif llm is not None:
        func = wrap_node(name, llm.funcs[0][1], decide_llm)
        reads = llm.reads
    else:
        tool = fn
        assert tool is not None

        func = wrap_node(name, tool, decide)
        reads = set()
    targets = list(dict.fromkeys([*routes.values(), *([default] if default else [])]))
    writes = {ROUTE_KEY} | ({state_key} if state_key else set())
    return BuiltNode(name, "router", [(name, func)], name, name, writes, reads, routes=targets)


_LLM_ANSWER = "__router_answer__"
_LLM_KEYS = {
    "prompt",
    "variables",
    "model",
    "provider",
    "temperature",
    "max_tokens",
    "chat_model",
}


# --------------------------------------------------------------------------- subgraph


def build_subgraph(name: str, raw: dict[str, Any], ctx: BuildContext) -> BuiltNode | None:
    """Run another graph (YAML file, ``file.py:attr`` or ``module:attr``) inside one node.

    ``input_mapping`` maps parent keys to child keys (without it the whole state goes in);
    ``output_mapping`` maps parent keys to child keys (without it, every child key that is
    also a parent state field comes back). The child shares the session's checkpointer, so
    an interrupt inside it pauses the parent and resumes where it stopped."""
    path: Path_ = ("nodes", name)
    spec = _validate(SubgraphNode, raw, path, ctx)
    if spec is None:
        return None
    child = ctx.load_subgraph(spec.graph, (*path, "graph"))
    if child is None:
        return None
    input_mapping = dict(spec.input_mapping)
    output_mapping = dict(spec.output_mapping)

    def child_input(state: dict[str, Any]) -> dict[str, Any]:
        if input_mapping:
            return {c: state.get(p) for p, c in input_mapping.items()}
        return {k: v for k, v in state.items() if not k.startswith("_")}

    def sync(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        return finish(child.invoke(child_input(state), config))

    async def run_async(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        return finish(await child.ainvoke(child_input(state), config))

    def finish(result: Any) -> dict[str, Any]:
        if not isinstance(result, Mapping):
            result = {"output": result}
        if output_mapping:
            return {p: result.get(c) for p, c in output_mapping.items()}
        return {
            k: v
            for k, v in result.items()
            if k in ctx.state_keys and not k.startswith("_") and k != "__interrupt__"
        }

    return BuiltNode(
        name,
        "subgraph",
        [(name, dual(name, sync, run_async))],
        name,
        name,
        set(output_mapping),
        set(input_mapping),
    )


# --------------------------------------------------------------------------- llm


_DEFAULT_MODELS = {
    "anthropic": "claude-sonnet-4-20250514",
    "openai": "gpt-4o",
    "mistralai": "mistral-large-latest",
    "google_genai": "gemini-2.0-flash",
}
_PROVIDER_ALIASES = {"mistral": "mistralai", "google": "google_genai"}


@dataclass
class PromptFile:
    """A prompt file: ``system`` and ``user`` templates with ``{name}`` placeholders."""

    path: Path
    system: Template | None
    user: Template | None
    structured: bool = False  # the file declares an output `schema` (YamlGraph's inline model)


def _find_prompt(name: str, ctx: BuildContext) -> Path | None:
    rel = name if name.endswith((".yaml", ".yml")) else f"{name}.yaml"
    roots: list[Path] = []
    if ctx.defaults.get("prompts_dir"):
        roots.append(ctx.base_dir / str(ctx.defaults["prompts_dir"]))
    # Next to the graph, then `prompts/` beside it or in a folder above it (up to three
    # levels: a subgraph in graphs/subgraphs/ finds the project's prompts/), then ./prompts.
    roots += [ctx.base_dir]
    roots += [folder / "prompts" for folder in [ctx.base_dir, *ctx.base_dir.parents][:4]]
    roots += [Path.cwd() / "prompts", Path.cwd()]
    for root in roots:
        candidate = root / rel
        if candidate.is_file():
            return candidate
    return None


def load_prompt(name: str, path: Path_, ctx: BuildContext) -> PromptFile | None:
    """Find and parse a prompt file (problems in it are reported with its own name/line)."""
    found = _find_prompt(name, ctx)
    if found is None:
        ctx.problem(
            path,
            f"prompt file {name!r} not found (looked for {name}.yaml next to the graph, "
            "in prompts/ beside it or up to three folders above it, and in ./prompts)",
        )
        return None
    doc, problems = read_yaml(found)
    ctx.problems.extend(problems)
    if doc is None:
        return None
    if not isinstance(doc.data, dict):
        ctx.problems.append(doc.problem((), "a prompt file must be a mapping with system/user"))
        return None
    parts: dict[str, Template | None] = {"system": None, "user": None}
    ok = True
    for key in parts:
        text = doc.data.get(key)
        if text is None:
            continue
        if not isinstance(text, str):
            ctx.problems.append(doc.problem((key,), "must be a string"))
            ok = False
            continue
        try:
            parts[key] = compile_template(text)
        except ExpressionError as exc:
            ctx.problems.append(doc.problem((key,), f"bad placeholder: {exc}"))
            ok = False
    if ok and parts["system"] is None and parts["user"] is None:
        ctx.problems.append(doc.problem((), "a prompt file needs `system` and/or `user`"))
        ok = False
    schema = doc.data.get("schema", doc.data.get("output_schema"))
    if schema is not None and not isinstance(schema, dict):
        key = "schema" if "schema" in doc.data else "output_schema"
        ctx.problems.append(doc.problem((key,), "should be a mapping (name, fields)"))
        ok = False
    structured = schema is not None
    return PromptFile(found, parts["system"], parts["user"], structured) if ok else None


def _extract_json(text: str) -> Any:
    m = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    candidate = m.group(1) if m else text
    start = min((i for i in (candidate.find("{"), candidate.find("[")) if i >= 0), default=-1)
    if start < 0:
        raise ValueError(f"no JSON found in the model's answer: {text[:200]!r}")
    return json.JSONDecoder().raw_decode(candidate[start:])[0]


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p if isinstance(p, str) else str(p.get("text", "")) if isinstance(p, dict) else ""
            for p in content
        )
    return str(content)


def build_llm(name: str, raw: dict[str, Any], ctx: BuildContext) -> BuiltNode | None:
    """A chat-model call: ``system``/``user`` from the prompt file, rendered with
    ``variables`` (or the whole state); the answer's text (or parsed JSON with
    ``parse_json``) goes to ``state_key`` (default: the node name).

    The model is ``chat_model`` (a python tool returning a LangChain chat model, called
    once; also ``defaults.chat_model``) or ``model``/``provider`` for
    ``langchain.chat_models.init_chat_model`` (the provider package is the user's install;
    the model is created on the first call, so loading never needs it)."""
    path: Path_ = ("nodes", name)
    spec = _validate(LlmNode, raw, path, ctx)
    if spec is None:
        return None
    prompt = load_prompt(spec.prompt, (*path, "prompt"), ctx)
    variables: dict[str, Any] = {}
    ok = prompt is not None
    for key, text in spec.variables.items():
        compiled = _template(text, (*path, "variables", key), ctx)
        ok = ok and compiled is not None
        variables[str(key)] = compiled
    factory_name = spec.chat_model or ctx.defaults.get("chat_model")
    factory: Callable[..., Any] | None = None
    if factory_name:
        field_path = (*path, "chat_model") if spec.chat_model else ("defaults", "chat_model")
        factory = _tool(str(factory_name), field_path, ctx)
        ok = ok and factory is not None
    if not ok or prompt is None:
        return None
    state_key = spec.state_key or name
    parse_json = spec.parse_json if spec.parse_json is not None else prompt.structured
    cache: dict[str, Any] = {}

    injected = ctx.chat_model

    def model() -> Any:
        if "model" not in cache:
            if factory is not None:
                cache["model"] = factory()
            elif injected is not None:
                is_model = hasattr(injected, "ainvoke") or not callable(injected)
                cache["model"] = injected if is_model else injected()
            else:
                cache["model"] = _init_model(spec, ctx.defaults)
        return cache["model"]

    from langchain_core.messages import HumanMessage, SystemMessage

    prompt_file = prompt

    def prompt_messages(state: dict[str, Any]) -> list[Any]:
        if variables:
            scope = {k: render_value(v, state) for k, v in variables.items()}
        else:
            scope = {k: v for k, v in state.items() if not k.startswith("_") and v is not None}
        messages: list[Any] = []
        if prompt_file.system is not None:
            messages.append(SystemMessage(content=str(prompt_file.system.render(state, scope))))
        if prompt_file.user is not None:
            messages.append(HumanMessage(content=str(prompt_file.user.render(state, scope))))
        return messages

    def answer(message: Any) -> dict[str, Any]:
        text = _content_text(getattr(message, "content", message))
        return {state_key: _extract_json(text) if parse_json else text}

    def call_sync(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        if spec.skip_if_exists and state.get(state_key):
            return {}
        return answer(model().invoke(prompt_messages(state), config))

    async def call_async(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        if spec.skip_if_exists and state.get(state_key):
            return {}
        return answer(await model().ainvoke(prompt_messages(state), config))

    call_llm = dual(name, call_sync, call_async)

    reads = set().union(*(value_fields(v) for v in variables.values())) if variables else set()
    return BuiltNode(name, "llm", [(name, call_llm)], name, name, {state_key}, reads)


def _init_model(spec: LlmNode, defaults: Mapping[str, Any]) -> Any:
    try:
        from langchain.chat_models import init_chat_model
    except ImportError as exc:  # pragma: no cover - langchain is an optional install
        raise RuntimeError(
            "llm nodes need the `langchain` package and a provider package "
            "(e.g. pip install langchain langchain-openai)"
        ) from exc
    provider = spec.provider or defaults.get("provider") or os.environ.get("PROVIDER")
    provider = _PROVIDER_ALIASES.get(str(provider), provider) if provider else None
    model_name = spec.model or defaults.get("model")
    if not model_name:
        provider = provider or "anthropic"
        model_name = _DEFAULT_MODELS.get(str(provider))
        if model_name is None:
            raise RuntimeError(f"llm node: no `model` given and no default for {provider!r}")
    kwargs: dict[str, Any] = {}
    temperature = spec.temperature if spec.temperature is not None else defaults.get("temperature")
    if temperature is not None:
        kwargs["temperature"] = temperature
    if spec.max_tokens is not None:
        kwargs["max_tokens"] = spec.max_tokens
    return init_chat_model(str(model_name), model_provider=provider, **kwargs)


# --------------------------------------------------------------------------- map


_MAP_ITEM_TYPES = ("passthrough", "python", "llm")


def build_map(name: str, raw: dict[str, Any], ctx: BuildContext) -> BuiltNode | None:
    """Fan out with ``Send``: ``<name>`` evaluates ``over`` and sends one branch per item to
    ``<name>__item`` (the ``node`` sub-node, seeing the state plus ``<as>`` and
    ``_map_index``); each branch's result (its ``state_key`` value, else its whole update)
    is appended to ``collect`` in item order; ``<name>__join`` continues once all are done.
    ``collect`` holds the results of the latest run of the map."""
    path: Path_ = ("nodes", name)
    spec = _validate(MapNode, raw, path, ctx)
    if spec is None:
        return None
    over = _value_expression(spec.over, (*path, "over"), ctx)
    sub_raw = dict(spec.node)
    sub_type = str(sub_raw.get("type", "llm"))
    if sub_type == "python":
        sub_raw["_in_map"] = True
    if sub_type not in _MAP_ITEM_TYPES:
        ctx.problem(
            (*path, "node", "type"),
            f"a map sub-node must be one of {', '.join(_MAP_ITEM_TYPES)}, not {sub_type!r}",
        )
        return None
    sub_name = f"{name}__item"
    # Build the sub-node with its problems located under nodes.<name>.node
    sub_ctx_path_fix = len(ctx.problems)
    sub = _BUILDERS[sub_type](sub_name, sub_raw, ctx)
    for i in range(sub_ctx_path_fix, len(ctx.problems)):
        p = ctx.problems[i]
        field_name = p.field.replace(f"nodes.{sub_name}", f"nodes.{name}.node", 1)
        ctx.problems[i] = type(p)(
            p.file, ctx.doc.line((*path, "node")) or p.line, field_name, p.message
        )
    if sub is None or over is None:
        return None
    sub_fn = sub.funcs[0][1]
    sub_key = sub_raw.get("state_key") or (
        next(iter(sub.writes)) if sub_type == "passthrough" and len(sub.writes) == 1 else None
    )
    if sub_type in ("python", "llm"):
        sub_key = sub_raw.get("state_key") or sub_name
    collect = spec.collect
    as_name = spec.as_
    limit = spec.max_items or ctx.max_map_items
    join = f"{name}__join"
    over_expr = over

    def dispatch_node(state: dict[str, Any]) -> dict[str, Any]:
        return {collect: [MAP_RESET]}

    def fan_out(state: dict[str, Any]) -> Any:
        items = over_expr.evaluate(state)
        if items is None:
            items = []
        if isinstance(items, Mapping) or not isinstance(items, list | tuple):
            raise TypeError(f"map {name!r}: `over` must give a list, got {type(items).__name__}")
        items = list(items)
        if limit is not None and len(items) > limit:
            log.warning(
                "map %r: %d items, only the first %d are processed", name, len(items), limit
            )
            items = items[:limit]
        if not items:
            return [join]
        base = {k: v for k, v in state.items() if k != collect}
        return [
            Send(sub_name, {**base, as_name: item, "_map_index": i}) for i, item in enumerate(items)
        ]

    def pick(update: Mapping[str, Any]) -> Any:
        if sub_key is not None and sub_key in update:
            return update[sub_key]
        return dict(update)

    if inspect.iscoroutinefunction(sub_fn):
        inner_async = sub_fn

        async def item_async(state: dict[str, Any]) -> dict[str, Any]:
            return {collect: [pick(await inner_async(state))]}

        item_fn: NodeFn = item_async
    else:
        item_fn = wrap_node(sub_name, sub_fn, lambda update: {collect: [pick(update)]})

    def join_node(state: dict[str, Any]) -> dict[str, Any]:
        return {collect: []}  # lets the reducer drop the reset marker of an empty map

    return BuiltNode(
        name,
        "map",
        [(name, dispatch_node), (sub_name, item_fn), (join, join_node)],
        name,
        join,
        {collect},
        over.fields | (sub.reads - {as_name}),
        internal_edges=[(sub_name, join)],
        dispatch=(fan_out, [sub_name, join]),
        reducers={collect: "map_collect"},
    )


_BUILDERS: dict[str, Callable[[str, dict[str, Any], BuildContext], BuiltNode | None]] = {
    "passthrough": build_passthrough,
    "interrupt": build_interrupt,
    "python": build_python,
    "router": build_router,
    "subgraph": build_subgraph,
    "map": build_map,
    "llm": build_llm,
}


def build_node(name: str, raw: Any, ctx: BuildContext) -> BuiltNode | None:
    """Build the YAML node ``name`` (reports an unknown ``type`` with the known ones)."""
    path: Path_ = ("nodes", name)
    if not isinstance(raw, dict):
        ctx.problem(path, f"a node must be a mapping, not {type(raw).__name__}")
        return None
    node_type = raw.get("type", "llm")
    if not isinstance(node_type, str) or node_type not in _BUILDERS:
        known = ", ".join(KNOWN_NODE_TYPES)
        ctx.problem((*path, "type"), f"unknown node type {node_type!r} (known types: {known})")
        return None
    return _BUILDERS[node_type](name, raw, ctx)


def map_collect(left: list[Any] | None, right: list[Any] | None) -> list[Any]:
    """Reducer of a map's ``collect`` field: appends; a reset marker starts it afresh."""
    items = [*(left or []), *(right or [])]
    # LangGraph stores the first write to an empty channel without calling the reducer,
    # so the marker may sit anywhere: keep what follows the last one.
    for i in range(len(items) - 1, -1, -1):
        if isinstance(items[i], str) and items[i] == MAP_RESET:
            return items[i + 1 :]
    return items
