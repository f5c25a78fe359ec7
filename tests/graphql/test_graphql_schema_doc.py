"""docs/graphql.md prints the schema the code builds, exactly."""

from __future__ import annotations

import re
from pathlib import Path

from graph_sessions.graphql import build_schema

DOC = Path(__file__).resolve().parents[2] / "docs" / "graphql.md"


def test_the_documented_schema_is_the_schema() -> None:
    text = DOC.read_text()
    match = re.search(
        r"<!-- schema:start -->\n```graphql\n(.*?)\n```\n<!-- schema:end -->", text, re.S
    )
    assert match, "docs/graphql.md lost its schema markers"
    assert match.group(1) == str(build_schema()), "regenerate the SDL block of docs/graphql.md"


def test_the_schema_does_not_depend_on_the_introspection_setting() -> None:
    assert str(build_schema(introspection=False)) == str(build_schema())
