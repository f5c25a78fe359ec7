"""The python tool of questionnaire.yaml: pull form fields out of a free-text answer.

A real app would use an ``llm`` node with ``parse_json: true``; rules keep the example
offline and deterministic.
"""

from __future__ import annotations

import re
from typing import Any

FIELDS = ("name", "email", "plan")
QUESTIONS = {
    "name": "What is your name?",
    "email": "Which email address should we use?",
    "plan": "Which plan would you like: free, pro or team?",
}
PLANS = ("free", "pro", "team")


def extract_fields(state: dict[str, Any]) -> dict[str, Any]:
    """Extract name/email/plan from ``user_input``; say what is still missing."""
    text = str(state.get("user_input") or "").strip()
    found: dict[str, str] = {}
    email = re.search(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", text)
    if email:
        found["email"] = email.group()
    for plan in PLANS:
        if re.search(rf"\b{plan}\b", text, re.IGNORECASE):
            found["plan"] = plan
            break
    name = re.search(
        r"(?i:\b(?:my name is|i am|i'm|this is))\s+([A-Z][\w-]*(?:\s+[A-Z][\w-]*)*)", text
    )
    if name:
        found["name"] = name.group(1)
    elif state.get("asking") == "name" and text and not found:
        found["name"] = text
    form = {**(state.get("form") or {}), **found}
    missing = [f for f in FIELDS if not form.get(f)]
    asking = missing[0] if missing else ""
    return {
        "form": found,
        "missing": missing,
        "asking": asking,
        "question": QUESTIONS[asking] if asking else "",
    }
