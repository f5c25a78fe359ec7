"""Element-wise list encoding (``elements.py``): byte-identical to ``dumps_typed``, decoded
values identical (types included) to ``loads_typed``, whatever happens in place between
puts, and no decoded value shares anything with the saver's private copies."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from support.checkpoint_values import typed, vandalize

from graph_sessions.checkpoint.elements import Elements, applies, decode_list, encode_list
from graph_sessions.checkpoint.msgpack_list import split_array

SERDE = JsonPlusSerializer()
EXAMPLES = int(os.environ.get("SAVER_DIFF_EXAMPLES", "25")) * 4

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.0, -0.0, 1.0, 0.5, float("inf")]),
    st.text(max_size=4),
    st.binary(max_size=3),
)
plain = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=2), inner, max_size=3),
        st.tuples(inner, inner),
    ),
    max_leaves=6,
)


@st.composite
def messages(draw: Any) -> Any:
    cls = draw(st.sampled_from([HumanMessage, AIMessage, ToolMessage]))
    kwargs: dict[str, Any] = {
        "content": draw(st.text(max_size=5)),
        "id": draw(st.one_of(st.none(), st.text(min_size=1, max_size=3))),
        "additional_kwargs": draw(st.dictionaries(st.text(max_size=2), plain, max_size=2)),
    }
    if cls is ToolMessage:
        kwargs["tool_call_id"] = "t"
    return cls(**kwargs)


elements = st.one_of(messages(), plain)
mutations = st.lists(
    st.tuples(
        st.sampled_from(["content", "kwarg", "replace", "swap", "append", "pop", "insert"]),
        st.integers(0, 50),
        plain,
    ),
    max_size=6,
)


def _mutate(value: list[Any], op: str, i: int, arg: Any, new: Any) -> None:
    if not value and op not in ("append", "insert"):
        return
    i %= max(len(value), 1)
    target = value[i] if value else None
    if op == "content" and hasattr(target, "content"):
        target.content = f"{target.content}+"
    elif op == "kwarg" and hasattr(target, "additional_kwargs"):
        target.additional_kwargs["k"] = arg  # in place, possibly an equal value
    elif op == "kwarg" and isinstance(target, dict):
        target["k"] = arg
    elif op == "kwarg" and isinstance(target, list):
        target.append(arg)
    elif op == "replace":
        value[i] = new
    elif op == "swap" and len(value) > 1:
        value[0], value[-1] = value[-1], value[0]
    elif op == "append":
        value.append(new)
    elif op == "pop":
        value.pop(i)
    elif op == "insert":
        value.insert(i, new)


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None)
@given(
    first=st.lists(elements, min_size=1, max_size=8),
    rounds=st.lists(st.tuples(mutations, st.lists(elements, max_size=3)), max_size=5),
)
def test_same_bytes_and_values(first: list[Any], rounds: list[Any]) -> None:
    value = list(first)
    value.insert(0, HumanMessage(content="m"))  # applies() looks at the ends
    prev: tuple[bytes, Elements] | None = None
    for muts, news in rounds + [([], [])]:
        for (op, i, arg), new in zip(
            muts, news + [AIMessage(content="n")] * len(muts), strict=False
        ):
            _mutate(value, op, i, arg, new)
        value.append(HumanMessage(content="tail"))
        assert applies(SERDE, value)
        if prev is None:
            encoded = encode_list(SERDE, value, None, 0, None)
        else:
            split = split_array(prev[0])
            assert split is not None
            encoded = encode_list(SERDE, value, prev[0], split[1], prev[1])
        type_, expected = SERDE.dumps_typed(value)
        if encoded is None:  # not encodable element by element: pickle fallback
            assert type_ != "msgpack"
            prev = None
            continue
        data, elems = encoded
        assert data == expected
        split = split_array(data)
        assert split is not None
        want = typed(SERDE.loads_typed((type_, expected)))
        got = decode_list(SERDE, data, split[1], elems)
        assert typed(got) == want
        vandalize(got)  # a caller's mutation must not reach the kept copies
        assert typed(decode_list(SERDE, data, split[1], elems)) == want
        prev = (data, elems)


class _Opaque:
    def __init__(self, x: Any) -> None:
        self.x = x

    def __reduce__(self) -> Any:  # hides its state from pickle
        return (_Opaque, (0,))


def test_fingerprints_are_type_exact() -> None:
    from collections import OrderedDict

    from graph_sessions.checkpoint.elements import _Fingerprinter

    class Sub(str):
        pass

    fp = _Fingerprinter()
    distinct = [
        {"k": 1},
        {"k": 1.0},
        {"k": True},
        {"k": 0.0},
        {"k": -0.0},
        {"k": 0},
        {"k": False},
        {"k": "1"},
        {"k": b"1"},
        {"k": bytearray(b"1")},
        {"k": (1,)},
        {"k": [1]},
        {"a": 1, "b": 2},
        {"b": 2, "a": 1},
        HumanMessage(content="x", additional_kwargs={"k": 1}),
        HumanMessage(content="x", additional_kwargs={"k": True}),
        AIMessage(content="x", additional_kwargs={"k": 1}),
    ]
    prints = [fp(v) for v in distinct]
    assert all(p is not None for p in prints)
    assert len(set(prints)) == len(prints)
    assert fp(OrderedDict(k=1)) is None  # a subclass the pickler cannot vouch for
    assert fp({"k": Sub("1")}) is None
    assert fp(Sub("1")) is None
    assert fp({"k": _Opaque(1)}) is None  # custom reduce: refused
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    assert fp(cyclic) is None
    assert fp({"k": 1}) == prints[0]  # the pickler still works after refusals


def test_reads_share_nothing() -> None:
    value = [HumanMessage(content="a", additional_kwargs={"d": {"x": [1]}}), {"k": [1.0]}]
    encoded = encode_list(SERDE, value, None, 0, None)
    assert encoded is not None
    data, elems = encoded
    first = decode_list(SERDE, data, 1, elems)
    second = decode_list(SERDE, data, 1, elems)
    assert first[0] is not second[0]
    assert first[0].additional_kwargs is not second[0].additional_kwargs
    assert first[0].additional_kwargs["d"]["x"] is not second[0].additional_kwargs["d"]["x"]
    assert first[1]["k"] is not second[1]["k"]
    assert first[0].__dict__ is not second[0].__dict__
    assert first[0].response_metadata is not second[0].response_metadata
    first[0].additional_kwargs["d"]["x"].append(2)
    first[0].__pydantic_fields_set__.add("name")
    first[0].content = "changed"  # a shared str field, rebound on this copy only
    first[0].response_metadata["r"] = 1
    assert second[0].content == "a" and second[0].response_metadata == {}
    assert typed(decode_list(SERDE, data, 1, elems)) == typed(SERDE.loads_typed(("msgpack", data)))
