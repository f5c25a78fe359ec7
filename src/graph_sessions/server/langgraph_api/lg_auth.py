"""LangGraph auth files: ``"auth": {"path": "./auth.py:auth"}`` in ``langgraph.json`` names a
``langgraph_sdk.Auth`` object, loaded once at start-up (:func:`load_lg_auth`).

* ``@auth.authenticate`` runs on every request that needs a caller. Its parameters are
  injected by name as LangGraph's server does (``request``, ``headers`` — a dict of bytes to
  bytes —, ``authorization``, ``path``, ``method``, ``query_params``, ``path_params``,
  ``scope``, ``scopes``, ``body``, ``user``). It returns an identity string, a dict with
  ``identity`` (and ``permissions``), or a user object; the identity becomes the caller's
  owner (role ``user``). ``Auth.exceptions.HTTPException`` answers its status; any other
  failure answers 401.
* :func:`authorize` runs the matching ``@auth.on.<resource>.<action>`` handler with
  LangGraph's precedence (resource+action, resource, action, ``*``, global) and semantics:
  the handler may change ``value`` in place (e.g. add ``metadata.owner``); ``None``/``True``
  allow; ``False``, an ``AssertionError`` or an ``HTTPException`` refuse (403 or its status);
  a dict is a filter that scopes reads (:func:`matches_filter` applies it to metadata).
  The store routes call :func:`authorize`; the thread, run and assistant routes go through
  ``lg_authz.py`` (which route runs which handler, and what a filter then scopes).

With both an auth file and API keys configured, a request carrying a configured API key is
that key's principal (so operators' admin keys keep working); every other request is the
auth file's. Our JWT settings are not used when an auth file is configured.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from fastapi import Request
from langgraph_sdk import Auth
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams

from graph_sessions.errors import ConfigError
from graph_sessions.server.auth import Principal
from graph_sessions.server.errors import ApiError

log = logging.getLogger("graph_sessions.server")

#: The parameters ``@auth.authenticate`` may ask for (LangGraph's list).
SUPPORTED_PARAMETERS = (
    "request",
    "body",
    "user",
    "path",
    "method",
    "scopes",
    "path_params",
    "query_params",
    "headers",
    "authorization",
    "scope",
)

Filter = dict[str, Any]


class AuthUser:
    """The authenticated user handed to ``@auth.on`` handlers as ``ctx.user`` (LangGraph's
    ``BaseUser`` protocol): ``identity``, ``display_name``, ``is_authenticated``,
    ``permissions``, and the fields the authenticate handler returned, by item or
    attribute."""

    def __init__(self, fields: Mapping[str, Any], permissions: Sequence[str] = ()) -> None:
        self._fields = dict(fields)
        self._permissions = list(permissions)

    @property
    def identity(self) -> str:
        """The user's id (the owner of what it creates)."""
        return str(self._fields["identity"])

    @property
    def display_name(self) -> str:
        """A name to show (the identity unless the handler gave one)."""
        return str(self._fields.get("display_name") or self.identity)

    @property
    def is_authenticated(self) -> bool:
        """Whether the user is authenticated (True unless the handler said otherwise)."""
        return bool(self._fields.get("is_authenticated", True))

    @property
    def permissions(self) -> Sequence[str]:
        """The permissions the handler returned."""
        return self._permissions

    def dict(self) -> dict[str, Any]:
        """All fields, as LangGraph's users give them."""
        return {
            **self._fields,
            "identity": self.identity,
            "display_name": self.display_name,
            "is_authenticated": self.is_authenticated,
            "permissions": self._permissions,
        }

    def __getitem__(self, key: str) -> Any:
        return self.dict()[key]

    def __contains__(self, key: object) -> bool:
        return key in self.dict()

    def __iter__(self) -> Iterator[str]:
        return iter(self.dict())

    def __getattr__(self, name: str) -> Any:
        fields = self.__dict__.get("_fields", {})
        if name in fields:
            return fields[name]
        raise AttributeError(name)

    def __repr__(self) -> str:
        return f"AuthUser(identity={self.identity!r})"


def _user_of(result: Any) -> AuthUser:
    """What an authenticate handler returned, as a user (``ValueError`` if it is none)."""
    permissions: Sequence[str] = ()
    if isinstance(result, tuple) and len(result) == 2:
        permissions, result = result
    if isinstance(result, str) and result:
        return AuthUser({"identity": result}, permissions)
    if isinstance(result, Mapping) and result.get("identity"):
        return AuthUser(result, result.get("permissions") or permissions)
    identity = getattr(result, "identity", None)
    if identity:
        fields = {
            k: getattr(result, k)
            for k in ("display_name", "is_authenticated")
            if hasattr(result, k)
        }
        perms = getattr(result, "permissions", None) or permissions
        return AuthUser({**fields, "identity": identity}, list(perms))
    raise ValueError(f"the authenticate handler returned no identity: {type(result).__name__}")


class LangGraphAuth:
    """A loaded ``langgraph_sdk.Auth`` object and what the server asks of it."""

    def __init__(self, auth: Auth, path: str) -> None:
        self.auth = auth
        self.path = path
        handler = auth._authenticate_handler  # noqa: SLF001 - LangGraph's server reads it too
        self._authenticate: Callable[..., Any] | None = handler
        self._params: set[str] = set()
        if handler is not None:
            sig = inspect.signature(handler)
            unsupported = [
                n
                for n, p in sig.parameters.items()
                if n not in SUPPORTED_PARAMETERS and p.default is p.empty
            ]
            if unsupported:
                raise ConfigError(
                    f"auth.path {path}: the authenticate handler asks for unsupported "
                    f"parameters {unsupported}; supported: {', '.join(SUPPORTED_PARAMETERS)}"
                )
            self._params = {n for n in sig.parameters if n in SUPPORTED_PARAMETERS}

    # authentication ----------------------------------------------------------------
    async def _arguments(self, request: Request) -> dict[str, Any]:
        scope = request.scope
        headers = dict(scope.get("headers", []))
        args: dict[str, Any] = {}
        for name in self._params:
            if name == "request":
                args[name] = request
            elif name == "scope":
                args[name] = scope
            elif name == "path":
                args[name] = scope["path"]
            elif name == "method":
                args[name] = request.method
            elif name == "headers":
                args[name] = headers
            elif name == "authorization":
                raw = headers.get(b"authorization")
                args[name] = raw.decode("utf-8", "replace") if raw is not None else None
            elif name == "query_params":
                args[name] = QueryParams(scope.get("query_string") or b"")
            elif name == "path_params":
                args[name] = dict(request.path_params)
            elif name == "scopes":
                args[name] = []
            elif name == "user":
                args[name] = None
            elif name == "body":
                try:
                    args[name] = await request.json()
                except Exception:
                    args[name] = None
        return args

    async def authenticate(self, request: Request) -> Principal:
        """Run ``@auth.authenticate`` for this request: the caller, owner = identity (401
        or the handler's status when it refuses)."""
        if self._authenticate is None:
            raise ApiError(401, "unauthorized", "the auth file has no authenticate handler")
        args = await self._arguments(request)
        try:
            if inspect.iscoroutinefunction(self._authenticate):
                result = await self._authenticate(**args)
            else:
                result = await run_in_threadpool(self._authenticate, **args)
            user = _user_of(result)
        except Auth.exceptions.HTTPException as exc:
            raise ApiError(
                exc.status_code,
                "unauthorized" if exc.status_code == 401 else "forbidden",
                str(exc.detail),
                headers=dict(exc.headers) if exc.headers else None,
            ) from None
        except Exception as exc:  # a handler that fails on what the client sent
            log.warning("auth file: authenticate failed: %r", exc)
            raise ApiError(401, "unauthorized", "authentication failed") from None
        request.state.lg_user = user
        return Principal(user.identity, "user", "auth_file")

    # authorization -----------------------------------------------------------------
    def handler_for(self, resource: str, action: str) -> Callable[..., Awaitable[Any]] | None:
        """The handler LangGraph would run for (resource, action), most specific first."""
        handlers = self.auth._handlers  # noqa: SLF001 - LangGraph's server reads it too
        for key in ((resource, action), (resource, "*"), ("*", action), ("*", "*")):
            if handlers.get(key):
                return handlers[key][-1]
        globals_ = self.auth._global_handlers  # noqa: SLF001
        return globals_[-1] if globals_ else None

    def handles(self, resource: str) -> bool:
        """True when some handler covers ``resource`` (any action)."""
        handlers = self.auth._handlers  # noqa: SLF001
        return bool(self.auth._global_handlers) or any(  # noqa: SLF001
            r in (resource, "*") for r, _ in handlers
        )

    async def authorize(
        self, user: AuthUser, resource: str, action: str, value: dict[str, Any]
    ) -> Filter | None:
        """Run the matching handler: its filter dict, ``None`` to allow; 403 (or the
        handler's status) to refuse."""
        handler = self.handler_for(resource, action)
        if handler is None:
            return None
        ctx = Auth.types.AuthContext(
            user=user,
            permissions=list(user.permissions),
            resource=resource,  # type: ignore[arg-type]
            action=action,  # type: ignore[arg-type]
        )
        try:
            result = await handler(ctx=ctx, value=value)
        except Auth.exceptions.HTTPException as exc:
            raise ApiError(
                exc.status_code,
                "forbidden",
                str(exc.detail),
                headers=dict(exc.headers) if exc.headers else None,
            ) from None
        except AssertionError as exc:
            raise ApiError(403, "forbidden", str(exc) or "Forbidden") from None
        if result is None or result is True:
            return None
        if result is False:
            raise ApiError(403, "forbidden", "Forbidden")
        if not isinstance(result, dict):
            log.error("auth file: %s.%s handler returned %r", resource, action, result)
            raise ApiError(403, "forbidden", "the auth handler returned no valid answer")
        return result


#: resources whose ``@auth.on`` handlers the routes do not run yet (every one does now:
#: the store's, threads', assistants' and crons')
NOT_AUTHORIZED_YET: tuple[str, ...] = ()


def load_lg_auth(path: str, base_dir: Path | None = None) -> LangGraphAuth:
    """Load ``"./auth.py:auth"`` (a file, relative to ``base_dir``) or ``"package.module:auth"``;
    ``ConfigError`` when it is not a ``langgraph_sdk.Auth`` object."""
    module_part, sep, name = path.rpartition(":")
    if not sep or not module_part or not name:
        raise ConfigError(f"auth.path {path!r}: write './auth.py:auth' or 'module:auth'")
    try:
        if module_part.endswith(".py") or "/" in module_part or "\\" in module_part:
            file = Path(module_part).expanduser()
            if not file.is_absolute() and base_dir is not None:
                file = base_dir / file
            if not file.is_file():
                raise ConfigError(f"auth.path {path!r}: file {str(file)!r} does not exist")
            modname = f"graph_sessions_auth_{abs(hash(str(file.resolve())))}"
            spec = importlib.util.spec_from_file_location(modname, file)
            if spec is None or spec.loader is None:
                raise ConfigError(f"auth.path {path!r}: cannot load {str(file)!r}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[modname] = module
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_part)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"auth.path {path!r}: cannot import: {exc!r}") from None
    obj = getattr(module, name, None)
    if not isinstance(obj, Auth):
        raise ConfigError(
            f"auth.path {path!r}: {name!r} is {type(obj).__name__}, not a langgraph_sdk.Auth"
        )
    if obj._authenticate_handler is None:  # noqa: SLF001
        raise ConfigError(f"auth.path {path!r}: the Auth object has no @auth.authenticate handler")
    loaded = LangGraphAuth(obj, path)
    unrun = [r for r in NOT_AUTHORIZED_YET if loaded.handles(r)]
    if unrun:
        log.warning(
            "auth file %s: @auth.on handlers for %s are not run yet: those resources are "
            "scoped to the caller's identity (its owner) alone; see docs/langgraph-api.md",
            path,
            ", ".join(unrun),
        )
    return loaded


def lg_auth_of(request: Request) -> LangGraphAuth | None:
    """The app's loaded auth file, if any."""
    found: LangGraphAuth | None = getattr(request.app.state, "lg_auth", None)
    return found


def handles(request: Request, resource: str) -> bool:
    """True when the app's auth file has a handler for ``resource`` (it then decides who
    may touch it, in place of our owner rules)."""
    lg = lg_auth_of(request)
    return lg is not None and lg.handles(resource)


async def authorize(
    request: Request, resource: str, action: str, value: dict[str, Any]
) -> Filter | None:
    """Run the auth file's ``@auth.on.<resource>.<action>`` handler for this request's user
    (LangGraph's semantics, see the module doc): the filter dict to scope reads with, or
    ``None``. A no-op without an auth file, and for callers authenticated by an API key."""
    lg = lg_auth_of(request)
    user: AuthUser | None = getattr(request.state, "lg_user", None)
    if lg is None or user is None:
        return None
    return await lg.authorize(user, resource, action, value)


def auth_configurable(request: Request) -> dict[str, Any]:
    """What LangGraph's server puts in a run's ``config["configurable"]`` for an auth-file
    user (``langgraph_auth_user`` as a plain dict, ``langgraph_auth_user_id``,
    ``langgraph_auth_permissions``), so graphs read the caller as they do there; ``{}``
    for other callers."""
    user: AuthUser | None = getattr(request.state, "lg_user", None)
    if user is None:
        return {}
    return {
        "langgraph_auth_user": user.dict(),
        "langgraph_auth_user_id": user.identity,
        "langgraph_auth_permissions": list(user.permissions),
    }


_MISSING = object()


def _groups(filters: Filter, op: str) -> list[Filter]:
    groups = filters[op]
    if (
        not isinstance(groups, list)
        or len(groups) < 2
        or not all(isinstance(g, dict) for g in groups)
    ):
        raise ApiError(
            500,
            "internal_error",
            f"the auth handler returned a filter with an invalid {op}: a list of at least "
            "2 filter objects",
        )
    return groups


def _matches(meta: Mapping[str, Any], filters: Filter, depth: int) -> bool:
    if depth > 2:
        raise ApiError(
            500,
            "internal_error",
            "the auth handler returned a filter nested deeper than 2 operators",
        )
    if "$or" in filters and not any(_matches(meta, g, depth + 1) for g in _groups(filters, "$or")):
        return False
    if "$and" in filters and not all(
        _matches(meta, g, depth + 1) for g in _groups(filters, "$and")
    ):
        return False
    for key, want in filters.items():
        if key in ("$or", "$and"):
            continue
        have = meta.get(key, _MISSING)
        if have is _MISSING:
            return False
        if isinstance(want, dict) and want:
            op, operand = next(iter(want.items()))
            if op == "$eq":
                if have != operand:
                    return False
            elif op == "$contains":
                if not isinstance(have, list):
                    return False
                needed = operand if isinstance(operand, list) else [operand]
                if any(n not in have for n in needed):
                    return False
            elif have != want:
                return False
        elif have != want:
            return False
    return True


def matches_filter(metadata: Mapping[str, Any] | None, filters: Filter | None) -> bool:
    """Whether ``metadata`` passes a handler's filter as LangGraph applies it: ``{"k": v}``
    or ``{"k": {"$eq": v}}`` (the key present and equal), ``{"k": {"$contains": v}}`` (a
    list holding v, or all of a list v), ``{"$or": [f1, f2...]}`` and ``{"$and": [...]}``
    (nested at most twice; beside other keys, all must hold)."""
    if not filters:
        return True
    return _matches(metadata or {}, filters, 0)


__all__ = [
    "AuthUser",
    "auth_configurable",
    "LangGraphAuth",
    "authorize",
    "handles",
    "lg_auth_of",
    "load_lg_auth",
    "matches_filter",
]
