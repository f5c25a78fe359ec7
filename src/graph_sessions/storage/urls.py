"""Pick a backend from a URL: ``sqlite:///path.db`` (default), ``memory://``,
``postgresql://user:pw@host/db`` (or ``postgres://``; needs the ``postgres`` extra),
``redis://[user:pw@]host:port/db`` (or ``rediss://`` for TLS; needs the ``redis`` extra;
``?prefix=gs:`` starts every key so one Redis serves several deployments,
``?expiry_grace=3600`` is how long Redis keeps an expired session's keys).

A typo must never silently create a new, empty database, so the accepted forms are strict:
``memory://`` (or ``memory``), ``sqlite:///path`` with any file name, and a plain path that
ends in ``.db``/``.sqlite``/``.sqlite3``/``.db3`` or names a file that exists already.
Anything else (``memory:/``, ``y.bd``, ``postgress://``) raises ``BackendError``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit, urlunsplit

from graph_sessions.errors import BackendError
from graph_sessions.storage.backend import Backend
from graph_sessions.storage.codec import redact_password

DEFAULT_BACKEND_URL = "sqlite:///sessions.db"
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3", ".db3")
_MEMORY_FORMS = ("memory", "memory://")
# "word:" at the start: a URL scheme (a Windows drive letter is a single letter).
_SCHEME_LIKE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")
_EXAMPLES = (
    "use e.g. 'sqlite:///sessions.db', a path ending in .db, 'memory://' or "
    "'postgresql://user:password@host:5432/dbname'"
)
POSTGRES_SCHEMES = ("postgres", "postgresql")
#: the Postgres URL's query options that configure the backend (the others go to libpq)
POSTGRES_OPTIONS = (
    "checkpointer",
    "pool_min_size",
    "pool_max_size",
    "pool_timeout",
    "idle_in_transaction_timeout",
)
#: the Redis URL's query options that configure the backend (the others go to redis-py)
REDIS_SCHEMES = ("redis", "rediss")
REDIS_OPTIONS = ("prefix", "expiry_grace")


def is_redis_url(url: str | Path | None) -> bool:
    """True for a ``redis://`` or ``rediss://`` URL."""
    text = str(url or "").strip()
    return "://" in text and urlsplit(text).scheme.lower() in REDIS_SCHEMES


def is_postgres_url(url: str | Path | None) -> bool:
    """True for a ``postgresql://`` or ``postgres://`` URL."""
    text = str(url or "").strip()
    return "://" in text and urlsplit(text).scheme.lower() in POSTGRES_SCHEMES


def sqlite_path_of(url: str | Path | None) -> str | None:
    """The SQLite file a backend URL names (as written, maybe relative), ``None`` for memory,
    ``":memory:"`` and Postgres. Raises ``BackendError`` for malformed URLs (see the module doc)."""
    if url is None:
        url = DEFAULT_BACKEND_URL
    text = str(url).strip()
    if not text:
        raise BackendError(f"the backend URL is empty; {_EXAMPLES}")
    if text.lower() in _MEMORY_FORMS:
        return None
    if "://" not in text:
        like = _SCHEME_LIKE.match(text)
        if like:
            raise BackendError(
                f"malformed backend URL {text!r}: '{like.group(1)}:' looks like a scheme "
                f"without '//'; {_EXAMPLES}"
            )
        if not text.lower().endswith(SQLITE_SUFFIXES) and not Path(text).expanduser().is_file():
            raise BackendError(
                f"refusing to create database {text!r}: a plain path must end in "
                f"{', '.join(SQLITE_SUFFIXES)} or name an existing file (write "
                f"'sqlite:///{text}' to use this name anyway)"
            )
        return str(Path(text).expanduser())
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "memory":
        raise BackendError(f"malformed backend URL {text!r}: write 'memory://' with nothing after")
    if scheme in ("sqlite", "sqlite3"):
        path = parts.netloc + parts.path
        if path.startswith("/"):
            path = path[1:]
        if not path:
            raise BackendError(f"{text!r} names no file; use e.g. 'sqlite:///sessions.db'")
        return None if path == ":memory:" else path
    if scheme in POSTGRES_SCHEMES:
        if not (parts.netloc or parts.path.strip("/") or parts.query):
            raise BackendError(f"{text!r} names no server or database; {_EXAMPLES}")
        return None
    if scheme in REDIS_SCHEMES:
        if not parts.netloc:
            raise BackendError(f"{text!r} names no server; use e.g. 'redis://localhost:6379/0'")
        return None
    raise BackendError(
        f"unknown backend scheme {scheme!r} in {text!r}; use 'sqlite:///path.db', "
        "'postgresql://…', 'redis://…' or 'memory://'"
    )


def resolve_backend_url(url: str, base: Path) -> str:
    """``url`` with a relative SQLite path made absolute against ``base`` (the folder of the
    configuration file that named it). Malformed URLs raise ``BackendError``."""
    path = sqlite_path_of(url)
    if path is None or Path(path).is_absolute():
        return url
    absolute = (base / path).resolve()
    query = urlsplit(url).query if "://" in url else ""
    return f"sqlite:///{absolute}" + (f"?{query}" if query else "")


def describe_backend(url: str | Path | None) -> str:
    """Where a backend URL stores data, for humans: an absolute file path, ``memory``, or a
    Postgres URL without its password."""
    path = sqlite_path_of(url)
    if is_postgres_url(url) or is_redis_url(url):
        return redact_password(str(url).strip())
    return "memory (nothing is kept)" if path is None else str(Path(path).resolve())


def backend_from_url(url: str | Path | Backend | None) -> Backend:
    """Build (not open) the backend a URL names.

    ``sqlite:///relative.db``, ``sqlite:////abs/path.db``, ``sqlite:///:memory:``, a bare
    file path (``sessions.db``), or ``memory://``. Query options for SQLite:
    ``?synchronous=FULL``, ``?checkpointer=langgraph`` (LangGraph's saver instead of ours),
    ``?share_values=true`` (our saver hands out the messages it keeps instead of copies:
    long threads read and write in near-constant time; nothing may mutate a message in
    place).

    ``postgresql://user:pw@host:5432/db`` (or ``postgres://``): options
    ``?pool_min_size=1&pool_max_size=10&pool_timeout=30`` (the connection pool),
    ``idle_in_transaction_timeout=5`` (seconds a paused holder keeps its locks) and
    ``?checkpointer=langgraph`` (LangGraph's ``AsyncPostgresSaver`` instead of ours; a
    database that already holds its checkpoints keeps it); any other query parameter
    (``sslmode``…) goes to libpq.

    ``redis://[user:password@]host:6379/0`` (or ``rediss://``, TLS): options ``?prefix=gs:``
    (of every key: several deployments share one Redis under different prefixes) and
    ``?expiry_grace=3600`` (seconds Redis keeps a session's keys after its ``expires_at``;
    ``0``: gone at once); any other query parameter goes to redis-py's ``from_url``
    (``max_connections=64``: the client's pool, which a burst of transactions waits on).
    """
    if isinstance(url, Backend):
        return url
    if url is None:
        url = DEFAULT_BACKEND_URL
    text = str(url).strip()
    path = sqlite_path_of(text)
    if is_postgres_url(text):
        return _postgres_backend(text)
    if is_redis_url(text):
        return _redis_backend(text)
    if path is None and (text.lower() in _MEMORY_FORMS):
        from graph_sessions.storage.memory import MemoryBackend

        return MemoryBackend()
    from graph_sessions.storage.sqlite import SqliteBackend

    if "://" not in text:
        return SqliteBackend(path or text)
    options = {k: v[-1] for k, v in parse_qs(urlsplit(text).query).items()}
    unknown = set(options) - {"synchronous", "checkpointer", "share_values"}
    if unknown:
        raise BackendError(
            f"unknown SQLite option(s) {sorted(unknown)} in {text!r}; "
            "known: synchronous, checkpointer, share_values"
        )
    return SqliteBackend(
        path or ":memory:",
        synchronous=options.get("synchronous", "NORMAL"),
        checkpointer=options.get("checkpointer", "auto"),
        share_values=_flag(options.get("share_values", "false"), "share_values", text),
    )


def _postgres_backend(url: str) -> Backend:
    """A ``PostgresBackend`` for ``url``, with the backend's own query options taken out."""
    try:
        from graph_sessions.storage.postgres import PostgresBackend
    except ImportError as exc:  # pragma: no cover - the extra is missing
        raise BackendError(
            f"the Postgres backend needs the postgres extra (pip install "
            f"'graph-sessions[postgres]'): {exc}"
        ) from exc
    parts = urlsplit(url)
    query = parse_qs(parts.query, keep_blank_values=True)
    options = {k: v[-1] for k, v in query.items() if k in POSTGRES_OPTIONS}
    rest = [(k, item) for k, v in query.items() if k not in POSTGRES_OPTIONS for item in v]
    conninfo = urlunsplit(parts._replace(query=urlencode(rest, quote_via=quote)))

    def number(name: str, default: float, kind: type = int) -> Any:
        raw = options.get(name)
        if raw is None:
            return default
        try:
            return kind(raw)
        except ValueError:
            raise BackendError(
                f"{name} must be a number, not {raw!r} in {redact_password(url)!r}"
            ) from None

    return PostgresBackend(
        conninfo,
        checkpointer=options.get("checkpointer", "auto"),
        pool_min_size=number("pool_min_size", 1),
        pool_max_size=number("pool_max_size", 10),
        pool_timeout=number("pool_timeout", 30.0, float),
        idle_in_transaction_timeout=number("idle_in_transaction_timeout", 5.0, float),
    )


def _redis_backend(url: str) -> Backend:
    """A ``RedisBackend`` for ``url``, with the backend's own query options taken out."""
    try:
        from graph_sessions.storage.redis import RedisBackend
    except ImportError as exc:  # pragma: no cover - the extra is missing
        raise BackendError(
            f"the Redis backend needs the redis extra (pip install 'graph-sessions[redis]'): {exc}"
        ) from exc
    parts = urlsplit(url)
    if not parts.netloc:
        raise BackendError(
            f"{redact_password(url)!r} names no server; use e.g. 'redis://localhost:6379/0'"
        )
    query = parse_qs(parts.query, keep_blank_values=True)
    options = {k: v[-1] for k, v in query.items() if k in REDIS_OPTIONS}
    rest = [(k, item) for k, v in query.items() if k not in REDIS_OPTIONS for item in v]
    client_url = urlunsplit(parts._replace(query=urlencode(rest, quote_via=quote)))
    grace_text = options.get("expiry_grace", "3600")
    try:
        grace = float(grace_text)
    except ValueError:
        grace = -1.0
    if not grace >= 0:
        raise BackendError(
            f"expiry_grace must be a number of seconds >= 0, not {grace_text!r} in "
            f"{redact_password(url)!r}"
        )
    return RedisBackend(client_url, prefix=options.get("prefix", "gs:"), expiry_grace=grace)


def _flag(value: str, name: str, url: str) -> bool:
    """A boolean URL option: true/false, 1/0, yes/no, on/off."""
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise BackendError(f"{name} must be true or false, not {value!r} in {url!r}")
