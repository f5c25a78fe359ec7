"""``type: llm`` (the default type): a chat-model call with a prompt file."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.runnables import RunnableConfig

from graph_sessions.graphs.yaml.expressions import render_value, value_fields
from graph_sessions.graphs.yaml.nodes.base import (
    BuildContext,
    BuiltNode,
    compile_variables,
    lookup_tool,
    validate_node,
)
from graph_sessions.graphs.yaml.nodes.chat_models import content_text, extract_json, lazy_model
from graph_sessions.graphs.yaml.nodes.prompts import PromptFile, load_prompt
from graph_sessions.graphs.yaml.nodes.running import dual
from graph_sessions.graphs.yaml.schema import LlmNode, Path_

__all__ = ["build_llm"]


def _chat_model_tool(
    spec: LlmNode, path: Path_, ctx: BuildContext
) -> tuple[Callable[..., Any] | None, bool]:
    """The node's (or the defaults') ``chat_model`` tool, and whether naming it was fine."""
    factory_name = spec.chat_model or ctx.defaults.get("chat_model")
    if not factory_name:
        return None, True
    field_path = (*path, "chat_model") if spec.chat_model else ("defaults", "chat_model")
    factory = lookup_tool(str(factory_name), field_path, ctx)
    return factory, factory is not None


def _prompt_messages(
    prompt: PromptFile, variables: dict[str, Any]
) -> Callable[[dict[str, Any]], list[Any]]:
    """The messages for a state: the prompt rendered with ``variables`` (or the state)."""
    from langchain_core.messages import HumanMessage, SystemMessage

    def messages_for(state: dict[str, Any]) -> list[Any]:
        if variables:
            scope = {k: render_value(v, state) for k, v in variables.items()}
        else:
            scope = {k: v for k, v in state.items() if not k.startswith("_") and v is not None}
        messages: list[Any] = []
        if prompt.system is not None:
            messages.append(SystemMessage(content=str(prompt.system.render(state, scope))))
        if prompt.user is not None:
            messages.append(HumanMessage(content=str(prompt.user.render(state, scope))))
        return messages

    return messages_for


def build_llm(name: str, raw: dict[str, Any], ctx: BuildContext) -> BuiltNode | None:
    """A chat-model call: ``system``/``user`` from the prompt file, rendered with
    ``variables`` (or the whole state); the answer's text (or parsed JSON with
    ``parse_json``) goes to ``state_key`` (default: the node name).

    The model is ``chat_model`` (a python tool returning a LangChain chat model, called
    once; also ``defaults.chat_model``) or ``model``/``provider`` for
    ``langchain.chat_models.init_chat_model`` (the provider package is the user's install;
    the model is created on the first call, so loading never needs it)."""
    path: Path_ = ("nodes", name)
    spec = validate_node(LlmNode, raw, path, ctx)
    if spec is None:
        return None
    prompt = load_prompt(spec.prompt, (*path, "prompt"), ctx)
    variables, variables_ok = compile_variables(spec.variables, path, ctx)
    factory, factory_ok = _chat_model_tool(spec, path, ctx)
    if prompt is None or not variables_ok or not factory_ok:
        return None
    state_key = spec.state_key or name
    parse_json = spec.parse_json if spec.parse_json is not None else prompt.structured
    model = lazy_model(spec, ctx.defaults, factory, ctx.chat_model)
    prompt_messages = _prompt_messages(prompt, variables)

    def answer(message: Any) -> dict[str, Any]:
        text = content_text(getattr(message, "content", message))
        return {state_key: extract_json(text) if parse_json else text}

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
