"""A form-filling questionnaire (examples/graphs/questionnaire.yaml) with its own session class.

    python examples/questionnaire.py [db path]     # default: ./questionnaire.db

``FormSession`` subclasses ``GraphSession`` (passed to the manager as ``session_class``)
and adds ``send_message()``, which returns a ``FormTurn``: the next question, the answers
so far, what is missing, and the summary once the form is complete.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from graph_sessions import GraphSession, GraphSessionManager

HERE = Path(__file__).resolve().parent
GRAPH = HERE / "graphs" / "questionnaire.yaml"


@dataclass
class FormTurn:
    """What one message to the questionnaire gives back."""

    done: bool
    question: str | None
    form: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    summary: str | None = None


class FormSession(GraphSession):
    """A session of the questionnaire graph, spoken to one message at a time."""

    async def send_message(self, text: str) -> FormTurn:
        """Send the user's message (it answers the pending question, if any)."""
        result = await self.invoke({"user_input": text})
        state = result.state
        if result.is_interrupted:
            return FormTurn(
                done=False,
                question=result.interrupt["message"],
                form=dict(state.get("form") or {}),
                missing=list(state.get("missing") or []),
            )
        return FormTurn(
            done=True,
            question=None,
            form=dict(state.get("form") or {}),
            missing=list(state.get("missing") or []),
            summary=state.get("summary"),
        )


def make_manager(db: str) -> GraphSessionManager:
    """A manager whose sessions are ``FormSession`` objects."""
    return GraphSessionManager(
        graph_path=GRAPH, backend=f"sqlite:///{db}", session_class=FormSession
    )


async def main(db: str) -> None:
    answers = ["Hello, my name is Ada Lovelace", "ada@example.com", "I'd like the pro plan"]
    async with make_manager(db) as manager:
        session = cast(FormSession, await manager.create(owner="ada"))
        for text in answers:
            turn = await session.send_message(text)
            print(f"user: {text}")
            if turn.done:
                print(f"done: {turn.summary}")
            else:
                print(f"bot:  {turn.question}  (have: {', '.join(turn.form) or 'nothing'})")
        print(f"status: {(await session.refresh()).status}")
        await manager.delete(session.session_id)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "questionnaire.db"))
