"""What a crash of the Redis server can lose, from its persistence settings
(:func:`read_durability`): the append-only file (``appendonly``, ``appendfsync``) and RDB
snapshots (``save``). ``CONFIG GET`` says all three; where it is refused (managed Redis
services often disable or rename ``CONFIG``) ``INFO persistence`` still says whether the AOF
is on; anything else is *unknown*. The Redis backend logs :meth:`Durability.summary` when it
opens; docs/backends.md (*Redis*) explains the choice and recommends settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

#: how much a crash can lose: ``ok`` (at most about a second), ``low`` (more, or unknown),
#: ``none`` (everything since the start)
DurabilityLevel = Literal["none", "low", "ok"]
#: where the settings came from
DurabilitySource = Literal["config", "info", "unknown"]


@dataclass(frozen=True)
class Durability:
    """A Redis server's persistence settings (``None``: unknown)."""

    #: the append-only file is on
    appendonly: bool | None
    #: ``always``, ``everysec`` or ``no`` (when the AOF is flushed to disk)
    appendfsync: str | None
    #: the RDB snapshot rules as (seconds, changes) pairs; ``()`` no snapshots
    save: tuple[tuple[int, int], ...] | None
    source: DurabilitySource = "config"

    @property
    def level(self) -> DurabilityLevel:
        """``ok``: a crash loses at most about a second of acknowledged writes; ``none``: it
        loses everything; ``low``: anything between, or not known."""
        if self.appendonly and self.appendfsync in ("always", "everysec"):
            return "ok"
        if self.appendonly is False and self.save == ():
            return "none"
        return "low"

    def _rdb(self) -> str | None:
        if not self.save:
            return None
        worst = max(seconds for seconds, _ in self.save)
        rules = ", ".join(f"{s} s after {n} change{'s' if n != 1 else ''}" for s, n in self.save)
        return f"up to {worst} s of writes (RDB snapshots: {rules})"

    def summary(self) -> str:
        """One plain sentence of what a crash of the server (or of its machine) can lose."""
        if self.appendonly:
            if self.appendfsync == "always":
                return "Redis appendfsync always: nothing acknowledged is lost in a crash."
            if self.appendfsync == "everysec":
                return (
                    "Redis appendfsync everysec: a crash can lose up to about 1 s of "
                    "acknowledged writes."
                )
            if self.appendfsync == "no":
                return (
                    "Redis appendfsync no: a crash of the machine can lose what the operating "
                    "system had not flushed yet, typically up to about 30 s of writes."
                )
            return (
                "Redis has the append-only file on but its appendfsync policy is unknown "
                "(CONFIG refused): a crash can lose up to about 1 s with everysec, the default, "
                "more with no."
            )
        rdb = self._rdb()
        if self.appendonly is False:
            if rdb is not None:
                return f"Redis has no append-only file: a crash can lose {rdb}."
            if self.save == ():
                return (
                    "Redis has no persistence (no append-only file, no RDB snapshots): a "
                    "restart loses everything."
                )
            return (
                "Redis has no append-only file and its RDB snapshot rules are unknown "
                "(CONFIG refused): a crash can lose everything written since the last snapshot."
            )
        return (
            "Redis's persistence settings are unknown (CONFIG and INFO refused): assume a "
            "crash can lose recent writes."
        )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def parse_save(value: str) -> tuple[tuple[int, int], ...]:
    """``"3600 1 300 100"`` → ``((3600, 1), (300, 100))``; ``""`` → ``()``."""
    numbers = [int(n) for n in value.split()]
    return tuple(zip(numbers[::2], numbers[1::2], strict=False))


async def read_durability(client: Redis) -> Durability:
    """The server's persistence settings: ``CONFIG GET``, else ``INFO persistence``, else
    unknown. Never raises for a refused command (a connection error does raise)."""
    try:
        raw = await client.config_get("appendonly", "appendfsync", "save")
        config = {_text(k): _text(v) for k, v in raw.items()}
        if "appendonly" in config:
            return Durability(
                appendonly=config["appendonly"] == "yes",
                appendfsync=config.get("appendfsync"),
                save=parse_save(config["save"]) if "save" in config else None,
                source="config",
            )
    except RedisError as exc:
        if _is_connection_error(exc):
            raise
    try:
        info = await client.info("persistence")
    except RedisError as exc:
        if _is_connection_error(exc):
            raise
        return Durability(None, None, None, source="unknown")
    enabled = info.get("aof_enabled")
    if enabled is None:
        return Durability(None, None, None, source="unknown")
    return Durability(appendonly=bool(int(enabled)), appendfsync=None, save=None, source="info")


def _is_connection_error(exc: RedisError) -> bool:
    return isinstance(exc, RedisConnectionError | RedisTimeoutError)


__all__ = ["Durability", "DurabilityLevel", "DurabilitySource", "parse_save", "read_durability"]
