"""How an object-valued server setting is written in an environment variable: a JSON
object, a word that turns it off, or a comma-separated list of its main field."""

from __future__ import annotations

import json
from typing import Any

#: words that turn an object-valued setting off
OFF_WORDS = frozenset({"off", "none", "false", "no", "0", "disabled"})


def object_setting(value: Any, list_field: str) -> Any:
    """``value`` as the setting's object: ``False`` or an off word → ``{"enabled": False}``;
    text starting with ``{`` → its JSON object; other text → ``{list_field: [items]}``
    (comma-separated); anything else as it is."""
    if value is False:
        return {"enabled": False}
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in OFF_WORDS:
            return {"enabled": False}
        if text.startswith("{"):
            try:
                return json.loads(text)
            except ValueError as exc:
                raise ValueError(f"not a JSON object: {exc}") from None
        return {list_field: [item.strip() for item in text.split(",") if item.strip()]}
    return value


__all__ = ["OFF_WORDS", "object_setting"]
