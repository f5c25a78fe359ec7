"""Comparing checkpointed values exactly, and mutating them to prove nobody shares them
(tests/checkpoint/test_differential.py, test_elements.py)."""

from __future__ import annotations

from typing import Any


def typed(value: Any) -> Any:
    """``value`` with every type spelled out: ``1``, ``1.0`` and ``True`` (equal in Python)
    and ``0.0`` / ``-0.0`` differ here, so do dicts with other key orders."""
    cls = type(value)
    if cls is dict:
        return ("dict", [(typed(k), typed(v)) for k, v in value.items()])
    if cls in (list, tuple):
        return (cls.__name__, [typed(v) for v in value])
    if cls is float:
        return ("float", repr(value))
    if hasattr(value, "__pydantic_fields_set__"):
        return (
            cls.__qualname__,
            typed(dict(value.__dict__)),
            typed(value.__pydantic_extra__),
            sorted(value.__pydantic_fields_set__),
        )
    return (cls.__qualname__, value)


def vandalize(value: Any) -> None:
    """Mutate a state handed out by a saver, deeply and in place."""
    if isinstance(value, dict):
        for v in list(value.values()):
            vandalize(v)
        value["vandal"] = True
    elif isinstance(value, list):
        for v in value:
            vandalize(v)
        value.append("vandal")
    elif hasattr(value, "__pydantic_fields_set__"):
        if isinstance(getattr(value, "content", None), str):
            value.content += " (vandalized)"
        for v in value.__dict__.values():
            if isinstance(v, dict | list):
                vandalize(v)
