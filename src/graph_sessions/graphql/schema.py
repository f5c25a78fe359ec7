"""The schema, and its bounds against hostile documents: depth, aliases, tokens, page sizes
(``types.MAX_PAGE``), introspection on or off (``ServerSettings.graphql_introspection``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.types import ExecutionContext

from graph_sessions.graphql.errors import add_codes
from graph_sessions.graphql.mutations import Mutation
from graph_sessions.graphql.queries import Query
from graph_sessions.graphql.subscriptions import Subscription

#: the deepest selection a document may make (introspection's own fields not counted)
MAX_DEPTH = 8
#: the most aliases a document may use
MAX_ALIASES = 20
#: the most lexical tokens a document may hold (a bigger one is refused before parsing)
MAX_TOKENS = 2000


class SessionsSchema(strawberry.Schema):
    """The schema, whose errors carry ``extensions.code`` (``graphql/errors.py``)."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Give every error its code (and log the server's own failures only)."""
        add_codes(errors)


def _is_introspection(ignore: Any) -> bool:
    name = getattr(ignore, "field_name", "")
    return isinstance(name, str) and name.startswith("__")


def build_schema(*, introspection: bool = True) -> SessionsSchema:
    """The GraphQL schema, bounded (``introspection=False`` refuses ``__schema``/``__type``)."""
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: QueryDepthLimiter(max_depth=MAX_DEPTH, should_ignore=_is_introspection),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    return SessionsSchema(
        query=Query, mutation=Mutation, subscription=Subscription, extensions=extensions
    )
