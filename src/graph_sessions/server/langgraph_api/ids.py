"""Ids as LangGraph's Agent Server makes them: system assistant ids, graph ids accepted in
their place, UUID path ids."""

from __future__ import annotations

import functools
import uuid

#: The namespace LangGraph's server derives system assistant ids from (``graph.py``
#: ``NAMESPACE_GRAPH``); one hex digit away from ``uuid.NAMESPACE_URL``, on purpose.
NAMESPACE_GRAPH = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")


@functools.lru_cache(maxsize=1024)
def system_assistant_id(graph_id: str) -> str:
    """The id of the system assistant of ``graph_id``: the same on LangGraph's server."""
    return str(uuid.uuid5(NAMESPACE_GRAPH, graph_id))


def graph_of_assistant(assistant_id: str, graph_ids: list[str]) -> str | None:
    """The graph id behind ``assistant_id``, which may be a system assistant id or a graph id
    itself; ``None`` when it names neither."""
    if assistant_id in graph_ids:
        return assistant_id
    for graph_id in graph_ids:
        if system_assistant_id(graph_id) == assistant_id:
            return graph_id
    return None


def is_uuid(value: str) -> bool:
    """True when ``value`` parses as a UUID (LangGraph's servers refuse other path ids)."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def new_id() -> str:
    """A new server-made id (thread, run, cron): a UUID, time-ordered like LangGraph's."""
    from langgraph.checkpoint.base.id import uuid6

    return str(uuid6())


__all__ = ["NAMESPACE_GRAPH", "graph_of_assistant", "is_uuid", "new_id", "system_assistant_id"]
