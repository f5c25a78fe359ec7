"""The core's LangGraph stream chunks → the events LangGraph's server sends, as its
``langgraph_api/stream.py::astream_state`` makes them.

* ``messages-tuple`` is LangGraph's ``messages`` mode sent as event ``messages``
  (``[chunk, metadata]``); ``messages`` becomes ``messages/metadata`` once per message id,
  then ``messages/partial`` with the content accumulated so far (``messages/complete`` for a
  message that is not a chunk).
* ``updates`` is always asked of the graph: when the client did not ask for it, an
  interrupt's update is sent as a ``values`` event (``{"__interrupt__": [...]}``).
* With subgraphs, a subgraph's events are named ``<mode>|<ns>`` (``child:<task id>``).
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import (
    AIMessageChunk,
    BaseMessage,
    BaseMessageChunk,
    ToolMessageChunk,
    convert_to_messages,
    message_chunk_to_message,
)

from graph_sessions.core.runs import GraphEvent


def _checkpoint_of(config: Any) -> dict[str, Any] | None:
    """A ``RunnableConfig`` as LangGraph's server shows a checkpoint (its configurable)."""
    if not isinstance(config, dict):
        return None
    conf = config.get("configurable") or {}
    return {
        "thread_id": conf.get("thread_id"),
        "checkpoint_ns": conf.get("checkpoint_ns", ""),
        "checkpoint_id": conf.get("checkpoint_id"),
        "checkpoint_map": conf.get("checkpoint_map"),
    }


def _debug_payload(chunk: Any) -> Any:
    """A ``debug`` checkpoint payload with ``checkpoint``/``parent_checkpoint`` added and
    its tasks' state configs shown as checkpoints, as LangGraph's server sends it."""
    if not isinstance(chunk, dict) or chunk.get("type") != "checkpoint":
        return chunk
    payload = chunk.get("payload")
    if not isinstance(payload, dict):
        return chunk
    tasks = []
    for task in payload.get("tasks") or []:
        state = task.get("state") if isinstance(task, dict) else None
        if isinstance(state, dict) and state.get("configurable"):
            task = {k: v for k, v in task.items() if k != "state"}
            task["checkpoint"] = state["configurable"]
        tasks.append(task)
    return {
        **chunk,
        "payload": {
            **payload,
            "checkpoint": _checkpoint_of(payload.get("config")),
            "parent_checkpoint": _checkpoint_of(payload.get("parent_config")),
            "tasks": tasks,
        },
    }


class StreamTranslator:
    """Turns one run's chunks into ``(event, data)`` pairs for the requested modes."""

    def __init__(self, modes: list[str], subgraphs: bool) -> None:
        """``modes``: what the client asked for (LangGraph's names); ``subgraphs``:
        whether subgraph events are wanted."""
        self.modes = list(modes)
        self.subgraphs = subgraphs
        wanted = set(modes)
        if "messages-tuple" in wanted:
            wanted.discard("messages-tuple")
            wanted.add("messages")
        self.only_interrupt_updates = "updates" not in wanted
        wanted.add("updates")
        #: the modes to ask of the core (always a list: chunks come as ``(mode, data)``;
        #: ``events`` adds LangGraph's astream_events events)
        self.core_modes = sorted(wanted)
        self._messages: dict[str, BaseMessage] = {}
        #: the interrupts of the run's last root ``__interrupt__`` update (LangGraph's objects)
        self.interrupts: list[Any] = []

    def translate(self, chunk: Any) -> list[tuple[str, Any]]:
        """The events one chunk gives (none, one, or two for a new message)."""
        if isinstance(chunk, GraphEvent):
            return [("events", dict(chunk))] if "events" in self.modes else []
        if self.subgraphs:
            ns, mode, data = chunk
        else:
            mode, data = chunk
            ns = ()
        suffix = "|" + "|".join(ns) if ns else ""
        if mode == "updates" and not ns and isinstance(data, dict) and data.get("__interrupt__"):
            self.interrupts = list(data["__interrupt__"])
        if mode == "messages":
            if "messages-tuple" in self.modes:
                return [("messages" + suffix, list(data))]
            if "messages" in self.modes:
                return self._message_events(data)
            return []
        if mode in self.modes:
            if mode == "debug":
                data = _debug_payload(data)
            return [(mode + suffix, data)]
        if (
            mode == "updates"
            and self.only_interrupt_updates
            and isinstance(data, dict)
            and data.get("__interrupt__")
        ):
            return [("values" + suffix, data)]
        return []

    def _message_events(self, data: Any) -> list[tuple[str, Any]]:
        raw, meta = data
        is_chunk = False
        msg: BaseMessage
        if isinstance(raw, dict):
            kind = str(raw.get("type", "")).lower() + str(raw.get("role", "")).lower()
            if "chunk" in kind:
                role = str(raw.get("role", "")).lower()
                if "tool" in role:
                    msg = ToolMessageChunk(**raw)
                elif "ai" in role:
                    msg = AIMessageChunk(**raw)
                else:
                    msg = BaseMessageChunk(**raw)
                is_chunk = True
            else:
                msg = convert_to_messages([raw])[0]
        else:
            msg = raw
        out: list[tuple[str, Any]] = []
        key = str(msg.id)
        if key in self._messages:
            merged: Any = self._messages[key] + msg  # chunks add up
            self._messages[key] = merged
        else:
            self._messages[key] = msg
            out.append(("messages/metadata", {key: {"metadata": meta}}))
        current = self._messages[key]
        if isinstance(msg, BaseMessageChunk):
            shown = current if is_chunk else message_chunk_to_message(current)
            out.append(("messages/partial", [shown]))
        else:
            out.append(("messages/complete", [current]))
        return out


__all__ = ["StreamTranslator"]
