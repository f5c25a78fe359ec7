"""The Redis backend (``redis://`` / ``rediss://``; needs the ``redis`` extra)."""

from graph_sessions.storage.redis.backend import RedisBackend

__all__ = ["RedisBackend"]
