"""Graphs of the replica tests: ``ticker``, a few slow steps that each stream tokens
(``custom`` events) before updating the state, so a run lasts long enough for a client on
another replica to join it."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph

#: steps of a ticker run, tokens per step, seconds between two tokens
STEPS = 3
TOKENS = 5
TOKEN_SECONDS = 0.06


class TickerState(TypedDict, total=False):
    """What a ticker run leaves: the tokens of every step, and the input's text."""

    text: str
    tokens: Annotated[list[str], operator.add]
    #: what each turn sent (appended): the restart test finds every acknowledged turn here
    texts: Annotated[list[str], operator.add]
    #: seconds between two tokens (default :data:`TOKEN_SECONDS`)
    pause: float


def _step(n: int) -> Any:
    async def step(state: TickerState, config: RunnableConfig) -> dict[str, Any]:
        pause = float(state.get("pause", TOKEN_SECONDS))
        writer = get_stream_writer()
        out = []
        for i in range(TOKENS):
            if pause > 0:
                await asyncio.sleep(pause)
            token = f"s{n}t{i}"
            writer({"token": token})
            out.append(token)
        return {"tokens": out}

    return step


_builder = StateGraph(TickerState)
_previous = START
for _n in range(STEPS):
    _builder.add_node(f"step{_n}", _step(_n))
    _builder.add_edge(_previous, f"step{_n}")
    _previous = f"step{_n}"
_builder.add_edge(_previous, END)
ticker = _builder.compile()

__all__ = ["STEPS", "TOKENS", "TickerState", "ticker"]
