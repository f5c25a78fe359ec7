"""A multi-turn chat whose message list grows turn by turn, in a durable session.

    python examples/chat_bot.py [db path]     # default: ./chat_bot.db

The model is LangChain's ``FakeListChatModel`` so the example runs offline; swap in any
chat model (``init_chat_model("openai:gpt-4o")``...) for a real bot. Each ``invoke`` is
one turn: the new user message is appended to ``messages`` (LangGraph's ``add_messages``
reducer) and the session keeps the whole transcript across turns and restarts.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated, Any

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AnyMessage, HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from graph_sessions import GraphSessionManager

model = FakeListChatModel(
    responses=[
        "Hello! What can I do for you?",
        "Sure, your order #1234 ships tomorrow.",
        "You're welcome. Anything else?",
    ]
)


class ChatState(TypedDict, total=False):
    """The conversation: every message so far, and the last answer."""

    messages: Annotated[list[AnyMessage], add_messages]
    response: str


async def chat(state: ChatState) -> dict[str, Any]:
    """One model call over the whole transcript."""
    answer = await model.ainvoke(state["messages"])
    return {"messages": [answer], "response": answer.content}


builder = StateGraph(ChatState)
builder.add_node("chat", chat)
builder.add_edge(START, "chat")
builder.add_edge("chat", END)
graph = builder.compile()


async def main(db: str) -> None:
    turns = ["hi", "when does my order ship?", "thanks!"]
    async with GraphSessionManager(
        graph=graph, backend=f"sqlite:///{db}", output_key="response"
    ) as manager:
        session = await manager.create(owner="alice")
        for text in turns:
            result = await session.invoke({"messages": [HumanMessage(text)]})
            print(
                f"user: {text}\nbot:  {result.output}  ({len(result.state['messages'])} messages)"
            )
        await manager.delete(session.session_id)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "chat_bot.db"))
