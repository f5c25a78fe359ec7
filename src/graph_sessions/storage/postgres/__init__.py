"""Postgres backend: ``schema`` (tables, migrations under an advisory lock), ``connection``
(the pool and its transactions), ``rows`` (row <-> model mapping), ``fencing`` (the fenced
LangGraph saver), ``assistants`` (assistant versions), ``crons``, ``pending`` (pending runs)
and ``backend``
(:class:`PostgresBackend` and its queries). Needs the ``postgres`` extra."""

from graph_sessions.storage.postgres.backend import SAVERS, PostgresBackend
from graph_sessions.storage.postgres.schema import MIGRATIONS

__all__ = ["MIGRATIONS", "SAVERS", "PostgresBackend"]
