"""The GraphQL surface (Strawberry): queries, mutations and live subscriptions over the same
``GraphSessionManager`` / ``GraphSession`` calls as the REST routes, with the same auth and
owner scoping. ``create_app`` mounts it at ``/graphql`` when Strawberry is installed (the
``graphql`` extra). See docs/graphql.md."""

from __future__ import annotations

from graph_sessions.graphql.router import mount_graphql
from graph_sessions.graphql.schema import build_schema

__all__ = ["build_schema", "mount_graphql"]
