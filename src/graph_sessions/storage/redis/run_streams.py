"""Stub of the Redis run-stream relay (written on branch redis-parts): absent for now, so
the backend's ``run_stream_relay()`` answers ``None``."""

from __future__ import annotations

from typing import Any

#: the relay class once it exists (``RedisRunStreams(client, prefix)``)
RedisRunStreams: Any = None
