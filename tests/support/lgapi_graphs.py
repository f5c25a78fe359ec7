"""The graphs of `reference/langgraph-api/lgdev-project` (chat, approval, slow, parent): the
LangGraph-compatible API is tested on the same graphs LangGraph's own server was recorded with."""

import operator
from typing import Annotated, TypedDict

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AnyMessage
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import interrupt


# ---------------------------------------------------------------- chat
class ChatState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


class EchoModel(GenericFakeChatModel):
    """A fake chat model that streams the echo of the last human message token by token."""

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        last = messages[-1].content if messages else ""
        self.messages = iter([AIMessage(content=f"echo: {last}")])
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


def chat_node(state: ChatState):
    writer = get_stream_writer()
    writer({"custom": "hello from chat node"})
    last = state["messages"][-1].content if state["messages"] else ""
    model = EchoModel(messages=iter([AIMessage(content=f"echo: {last}")]))
    resp = model.invoke(state["messages"])
    return {"messages": [resp]}


chat_builder = StateGraph(ChatState)
chat_builder.add_node("chat", chat_node)
chat_builder.add_edge(START, "chat")
chat_builder.add_edge("chat", END)
chat = chat_builder.compile()


# ---------------------------------------------------------------- approval (interrupt)
class ApprovalState(TypedDict):
    request: str
    decision: str
    log: Annotated[list[str], operator.add]


def prepare(state: ApprovalState):
    return {"log": ["prepared"]}


def ask(state: ApprovalState):
    answer = interrupt({"question": f"approve {state.get('request', '')}?"})
    return {"decision": str(answer), "log": ["asked"]}


def finish(state: ApprovalState):
    return {"log": [f"finished:{state.get('decision')}"]}


approval_builder = StateGraph(ApprovalState)
approval_builder.add_node("prepare", prepare)
approval_builder.add_node("ask", ask)
approval_builder.add_node("finish", finish)
approval_builder.add_edge(START, "prepare")
approval_builder.add_edge("prepare", "ask")
approval_builder.add_edge("ask", "finish")
approval_builder.add_edge("finish", END)
approval = approval_builder.compile()


# ---------------------------------------------------------------- slow (for multitask/cancel)
class SlowState(TypedDict):
    n: Annotated[int, operator.add]
    log: Annotated[list[str], operator.add]


async def slow_step(state: SlowState, config):
    import asyncio

    conf = config.get("configurable") or {}
    if conf.get("fail"):
        raise ValueError("boom: asked to fail")
    secs = conf.get("sleep", 1.5)
    await asyncio.sleep(float(secs))
    return {"n": 1, "log": ["slept"]}


slow_builder = StateGraph(SlowState)
slow_builder.add_node("sleep", slow_step)
slow_builder.add_edge(START, "sleep")
slow_builder.add_edge("sleep", END)
slow = slow_builder.compile()


# ---------------------------------------------------------------- parent with subgraph
class SubState(TypedDict):
    items: Annotated[list[str], operator.add]


def sub_a(state: SubState):
    return {"items": ["sub_a"]}


def sub_b(state: SubState):
    return {"items": ["sub_b"]}


sub_builder = StateGraph(SubState)
sub_builder.add_node("sub_a", sub_a)
sub_builder.add_node("sub_b", sub_b)
sub_builder.add_edge(START, "sub_a")
sub_builder.add_edge("sub_a", "sub_b")
sub_builder.add_edge("sub_b", END)
subgraph = sub_builder.compile()


def parent_start(state: dict):
    return {"items": ["parent_start"]}


class ParentState(TypedDict):
    items: list[str]  # no reducer: the subgraph's full output overwrites


parent_builder = StateGraph(ParentState)
parent_builder.add_node("parent_start", parent_start)
parent_builder.add_node("child", subgraph)
parent_builder.add_edge(START, "parent_start")
parent_builder.add_edge("parent_start", "child")
parent_builder.add_edge("child", END)
parent = parent_builder.compile()
