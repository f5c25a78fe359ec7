"""The base of every request body of the LangGraph-compatible routes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class LgBody(BaseModel):
    """A request body: unknown keys are ignored (LangGraph's clients send more than the
    fields here), values are strict (JSON ``true`` is not the number 1, ``"5"`` not 5)."""

    model_config = ConfigDict(extra="ignore", strict=True)


__all__ = ["LgBody"]
