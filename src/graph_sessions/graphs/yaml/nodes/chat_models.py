"""The chat model of an ``llm`` node, and reading its answer (text, or JSON in it)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

from graph_sessions.graphs.yaml.schema import LlmNode

__all__ = ["content_text", "extract_json", "init_model", "lazy_model"]

_DEFAULT_MODELS = {
    "anthropic": "claude-sonnet-4-20250514",
    "openai": "gpt-4o",
    "mistralai": "mistral-large-latest",
    "google_genai": "gemini-2.0-flash",
}
_PROVIDER_ALIASES = {"mistral": "mistralai", "google": "google_genai"}


def lazy_model(
    spec: LlmNode,
    defaults: Mapping[str, Any],
    factory: Callable[..., Any] | None,
    injected: Any,
) -> Callable[[], Any]:
    """The node's chat model, made on the first call and kept: from its ``chat_model``
    tool (``factory``), else ``load_yaml_graph``'s ``chat_model`` (a model or a factory of
    one), else ``init_chat_model`` with the node's ``model``/``provider``."""
    cache: dict[str, Any] = {}

    def model() -> Any:
        if "model" not in cache:
            if factory is not None:
                cache["model"] = factory()
            elif injected is not None:
                is_model = hasattr(injected, "ainvoke") or not callable(injected)
                cache["model"] = injected if is_model else injected()
            else:
                cache["model"] = init_model(spec, defaults)
        return cache["model"]

    return model


def init_model(spec: LlmNode, defaults: Mapping[str, Any]) -> Any:
    """A chat model from ``langchain.chat_models.init_chat_model`` (the provider package
    is the user's install)."""
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


def extract_json(text: str) -> Any:
    """The first JSON value in a model's answer (inside a ``` fence if there is one)."""
    m = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    candidate = m.group(1) if m else text
    start = min((i for i in (candidate.find("{"), candidate.find("[")) if i >= 0), default=-1)
    if start < 0:
        raise ValueError(f"no JSON found in the model's answer: {text[:200]!r}")
    return json.JSONDecoder().raw_decode(candidate[start:])[0]


def content_text(content: Any) -> str:
    """A message's content as text (the text parts of a list of content blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p if isinstance(p, str) else str(p.get("text", "")) if isinstance(p, dict) else ""
            for p in content
        )
    return str(content)
