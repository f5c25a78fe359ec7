"""The schema, and its bounds against hostile documents: depth, aliases, tokens, page sizes
(``types.MAX_PAGE``), the cost of an operation (``cost.py``), introspection on or off (``ServerSettings.graphql_introspection``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.types import ExecutionContext

from graph_sessions.graphql.cost import cost_rule
from graph_sessions.graphql.errors import add_codes
from graph_sessions.graphql.mutations import Mutation
from graph_sessions.graphql.queries import Query
from graph_sessions.graphql.subscriptions import Subscription
from graph_sessions.graphql.types import MAX_PAGE

#: the deepest selection a document may make (introspection's own fields not counted)
MAX_DEPTH = 8
#: the most aliases a document may use
MAX_ALIASES = 20
#: the most items an operation may make the server read (``cost.py``)
MAX_COST = 50_000
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


#: the validation rules of the bounds, made once: the same classes on every request, so that
#: the validation cache (keyed by document and rules) hits
_BOUNDS = (
    depth_rule(MAX_DEPTH, _is_introspection, None),
    alias_rule(MAX_ALIASES),
    cost_rule(MAX_COST, MAX_PAGE),
)
_NO_INTROSPECTION = (*_BOUNDS, NoSchemaIntrospectionCustomRule)
#: distinct documents whose parse and validation are remembered
CACHE_SIZE = 256


def build_schema(*, introspection: bool = True) -> SessionsSchema:
    """The GraphQL schema, bounded (``introspection=False`` refuses ``__schema``/``__type``).
    Documents are parsed and validated once per distinct text (an LRU of ``CACHE_SIZE``)."""
    rules = list(_BOUNDS if introspection else _NO_INTROSPECTION)
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: ParserCache(maxsize=CACHE_SIZE),
        lambda: AddValidationRules(rules),
        lambda: ValidationCache(maxsize=CACHE_SIZE),
    ]
    return SessionsSchema(
        query=Query, mutation=Mutation, subscription=Subscription, extensions=extensions
    )
