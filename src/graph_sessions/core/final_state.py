"""A streamed run's final values and interrupts, read off its own stream.

A run that streams chunks to its caller needs, at its end, the state it left (the result's
``state``) and its pending interrupts. Reading them back with ``graph.aget_state`` costs a
checkpoint load per run (the whole state, decoded again) right after LangGraph held it in
memory. LangGraph's ``values`` stream mode already hands over that state after every
superstep, and each pending interrupt as a ``values`` chunk with an ``__interrupt__`` key,
so the stream is asked for ``values`` too (the caller never sees chunks it did not ask for)
and the last root ``values`` chunk is the final state.

The shortcut holds only where a ``values`` chunk is what ``aget_state`` would answer: the
graph's output channels are its state channels (no ``output_schema`` narrowing), and a
``values`` chunk was seen at all. Otherwise :meth:`FinalState.known` is false and the caller
reads the state as before.
"""

from __future__ import annotations

from typing import Any

VALUES = "values"
INTERRUPT_KEY = "__interrupt__"


def values_match_state(graph: Any) -> bool:
    """Whether ``graph``'s ``values`` chunks carry exactly its state's channels."""
    output = getattr(graph, "output_channels", None)
    state = getattr(graph, "stream_channels_asis", None)
    return isinstance(output, list) and isinstance(state, list) and set(output) == set(state)


class FinalState:
    """Watches a run's chunks (asked as a list of modes, with or without subgraphs) for the
    last root ``values`` chunk and the interrupts it carries, and hands the caller only the
    chunks of the modes it asked for, shaped as it asked for them."""

    def __init__(self, asked: str | list[str], subgraphs: bool) -> None:
        """``asked``: the caller's stream mode(s); ``subgraphs``: whether chunks carry
        their namespace."""
        self.single = isinstance(asked, str)
        asked_modes = [asked] if isinstance(asked, str) else list(asked)
        self.hidden_values = VALUES not in asked_modes
        #: the modes to ask of LangGraph (always a list, ``values`` included)
        self.modes: list[str] = [*asked_modes, VALUES] if self.hidden_values else asked_modes
        self.subgraphs = subgraphs
        self.values: Any = None
        self.seen = False
        self.interrupts: list[Any] = []

    def observe(self, chunk: Any) -> tuple[bool, Any]:
        """Note ``chunk``; returns whether the caller gets it, and in the caller's shape."""
        if self.subgraphs:
            ns, mode, data = chunk
        else:
            mode, data = chunk
            ns = ()
        if mode == VALUES and not ns:
            if isinstance(data, dict) and INTERRUPT_KEY in data:
                self.interrupts.extend(data[INTERRUPT_KEY])
                self.values = {k: v for k, v in data.items() if k != INTERRUPT_KEY}
            else:
                self.values, self.interrupts = data, []
            self.seen = True
        if mode == VALUES and self.hidden_values:
            return False, None
        if not self.single:
            return True, chunk
        return True, ((ns, data) if self.subgraphs else data)

    @property
    def known(self) -> bool:
        """Whether the final state was seen on the stream."""
        return self.seen


__all__ = ["FinalState", "values_match_state"]
