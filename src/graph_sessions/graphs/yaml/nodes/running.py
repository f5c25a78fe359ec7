"""Running a node function whatever its shape (plain, config-taking, async, a Runnable),
and wrapping one so that it works from both ``invoke`` and ``ainvoke``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda

from graph_sessions.graphs.yaml.nodes.base import NodeFn

__all__ = ["dual", "run_node_async", "run_node_sync", "wrap_node"]


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
