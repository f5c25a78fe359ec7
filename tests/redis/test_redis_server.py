"""The throwaway Redis server the Redis tests stand on: plain Redis >= 7 (no modules), on
loopback, writable; and a server of its own with AOF that keeps acknowledged writes across
a SIGKILL (what the crash tests of the Redis backend rely on)."""

from __future__ import annotations

import redis
from support.redis import RedisServer, provision


def test_the_shared_server_is_plain_redis_7(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url())
    try:
        info = client.info("server")
        assert int(str(info["redis_version"]).split(".")[0]) >= 7
        assert client.execute_command("MODULE", "LIST") == []  # no RediSearch / RedisJSON
        prefix = redis_server.new_prefix()
        client.set(prefix + "k", b"v", px=5000)
        assert client.get(prefix + "k") == b"v"
        assert 0 < client.pttl(prefix + "k") <= 5000
        client.delete(prefix + "k")
    finally:
        client.close()


def test_with_appendfsync_always_a_write_survives_sigkill() -> None:
    with provision("--appendonly", "yes", "--appendfsync", "always") as server:
        client = redis.Redis.from_url(server.url())
        client.set("kept", b"1")
        client.close()
        server.kill()
        server.start()
        client = redis.Redis.from_url(server.url())
        try:
            assert client.get("kept") == b"1"
        finally:
            client.close()
