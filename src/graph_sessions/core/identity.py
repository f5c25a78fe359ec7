"""A graph's identity: what a session remembers of the graph it belongs to.

The identity is ``"<fingerprint> <label>"``. The fingerprint (16 hex digits) is a hash of
the compiled graph's node names and state keys: the same graph gives the same fingerprint
in every process, whatever the current directory or the path the file was loaded from; a
graph with other nodes or other state keys gives another. The label (the graph reference
as given, or its graph id) is only for messages.
"""

from __future__ import annotations

import hashlib

import orjson
from langgraph.pregel import Pregel

from graph_sessions.errors import GraphMismatch


def graph_fingerprint(graph: Pregel) -> str:
    """16 hex digits from the graph's node names and state keys (LangGraph's internal
    channels, ``__…`` and ``branch:…``, left out)."""
    nodes = sorted(str(n) for n in graph.nodes)
    keys = sorted(
        str(c) for c in graph.channels if not str(c).startswith("__") and ":" not in str(c)
    )
    digest = hashlib.sha256(orjson.dumps({"nodes": nodes, "keys": keys})).hexdigest()
    return digest[:16]


def graph_identity(graph: Pregel, label: str) -> str:
    """``"<fingerprint> <label>"`` (see the module docstring)."""
    return f"{graph_fingerprint(graph)} {label}"


def same_graph(a: str, b: str) -> bool:
    """Two stored graph identities name the same graph (their fingerprints match)."""
    return a.split(" ", 1)[0] == b.split(" ", 1)[0]


def describe_identity(identity: str) -> str:
    """``'label' (fingerprint …)`` for messages."""
    fingerprint, _, label = identity.partition(" ")
    return f"{label or '?'!r} (fingerprint {fingerprint})"


def check_same_graph(session_id: str, stored: str | None, mine: str) -> None:
    """``GraphMismatch`` when a session bound to ``stored`` would run under ``mine``
    (a session with no identity yet, from an older file, adopts the first graph)."""
    if stored is None or same_graph(stored, mine):
        return
    raise GraphMismatch(
        f"session {session_id!r} belongs to graph {describe_identity(stored)}, "
        f"not {describe_identity(mine)}: refusing to run it under another graph "
        "(re-bind it explicitly: session.rebind() or manager.rebind(session_id), "
        "`graph-sessions chat --rebind`)",
        session_id=session_id,
    )
