"""Authentication: API keys (``X-Api-Key`` or ``Authorization: Bearer``) and bearer JWTs
(HS256 secret or a JWKS file), each mapping to an owner and a role; or a LangGraph auth file
(``auth_path``), whose ``@auth.authenticate`` replaces the JWT checks (configured API keys
keep working beside it).

A ``user`` sees and touches only its own sessions (another owner's answers 404); an
``admin`` sees all. With authentication off, every request is an anonymous admin.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

import jwt
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from graph_sessions.server.errors import ApiError
from graph_sessions.settings import Role, ServerSettings

log = logging.getLogger("graph_sessions.server")

_ASYMMETRIC = {
    "RSA": ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"],
    "EC": ["ES256", "ES384", "ES512"],
    "OKP": ["EdDSA"],
}

api_key_header = APIKeyHeader(
    name="X-Api-Key", auto_error=False, description="An API key (what the LangGraph SDK sends)"
)
bearer_header = HTTPBearer(
    auto_error=False, description="An API key, or a JWT (HS256 secret or a key of the JWKS file)"
)


@dataclass(frozen=True)
class Principal:
    """Who is calling: an owner and a role."""

    owner: str | None
    role: Role
    via: str = "anonymous"

    @property
    def is_admin(self) -> bool:
        """True for the ``admin`` role."""
        return self.role == "admin"

    @property
    def scope(self) -> str | None:
        """The ``owner=`` to pass to the manager: the caller's owner, ``None`` for admins."""
        return None if self.is_admin else self.owner


ANONYMOUS = Principal(owner=None, role="admin")


class RequestAuthenticator(Protocol):
    """What authenticates a request in place of our JWT checks (a LangGraph auth file,
    ``langgraph_api/lg_auth.py``): the caller, or a raised 401/403 ``ApiError``."""

    async def authenticate(self, request: Request) -> Principal:
        """The caller of ``request``."""
        ...


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


class Authenticator:
    """Checks the credentials of a request against the settings."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.enabled = settings.auth_enabled
        self._jwks: jwt.PyJWKSet | None = None
        if settings.jwks_file is not None:
            try:
                data = json.loads(settings.jwks_file.read_text())
                self._jwks = jwt.PyJWKSet.from_dict(data)
            except (OSError, ValueError, jwt.PyJWTError) as exc:
                raise ValueError(f"cannot load JWKS file {settings.jwks_file}: {exc}") from exc

    def authenticate(self, api_key: str | None, bearer: str | None) -> Principal:
        """The principal for these credentials; raises a 401 ``ApiError`` when required and
        missing or wrong."""
        if not self.enabled:
            return ANONYMOUS
        if api_key:
            found = self.settings.find_key(api_key)
            if found is None:
                raise _unauthorized("invalid API key")
            return Principal(found.owner, found.role, "api_key")
        if bearer:
            found = self.settings.find_key(bearer)
            if found is not None:
                return Principal(found.owner, found.role, "api_key")
            if bearer.count(".") == 2 and (self.settings.jwt_secret or self._jwks):
                return self._from_jwt(bearer)
            raise _unauthorized("invalid bearer token")
        raise _unauthorized("authentication required: send X-Api-Key or Authorization: Bearer")

    def by_api_key(self, api_key: str | None, bearer: str | None) -> Principal | None:
        """The principal of a configured API key sent as ``X-Api-Key`` or bearer, else
        ``None`` (nothing raised: another authenticator may accept the request)."""
        for candidate in (api_key, bearer):
            found = self.settings.find_key(candidate) if candidate else None
            if found is not None:
                return Principal(found.owner, found.role, "api_key")
        return None

    def _decode(self, token: str) -> dict[str, Any]:
        s = self.settings
        options: Any = {"verify_aud": s.jwt_audience is not None}
        kwargs: dict[str, Any] = {"audience": s.jwt_audience, "issuer": s.jwt_issuer}
        header = jwt.get_unverified_header(token)
        alg = header.get("alg")
        if alg == "HS256" and s.jwt_secret:
            return jwt.decode(token, s.jwt_secret, algorithms=["HS256"], options=options, **kwargs)
        if self._jwks is not None:
            kid = header.get("kid")
            candidates = [k for k in self._jwks.keys if kid is None or k.key_id == kid]
            tried: jwt.PyJWTError | None = None
            for jwk in candidates:
                allowed = _ASYMMETRIC.get(str(jwk.key_type), [])
                if jwk.key_type == "oct":
                    allowed = ["HS256", "HS384", "HS512"]
                if alg not in allowed:
                    continue
                try:
                    return jwt.decode(token, jwk.key, algorithms=[alg], options=options, **kwargs)
                except jwt.InvalidSignatureError as exc:  # without a kid: try the next key
                    tried = exc
            if tried is not None:
                raise tried
        raise jwt.InvalidTokenError(f"no configured key verifies alg={alg!r}")

    def _from_jwt(self, token: str) -> Principal:
        try:
            claims = self._decode(token)
        except jwt.PyJWTError as exc:
            raise _unauthorized(f"invalid token: {exc}") from None
        owner = claims.get(self.settings.owner_claim)
        if not isinstance(owner, str) or not owner:
            raise _unauthorized(f"the token has no {self.settings.owner_claim!r} claim")
        role_value = claims.get(self.settings.role_claim)
        is_admin = role_value == "admin" or (isinstance(role_value, list) and "admin" in role_value)
        return Principal(owner, "admin" if is_admin else "user", "jwt")


async def current_principal(
    request: Request,
    api_key: Annotated[str | None, Depends(api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_header)],
) -> Principal:
    """FastAPI dependency: the caller (401 when credentials are required and wrong).

    With a LangGraph auth file configured (``app.state.lg_auth``), a configured API key
    still names its principal; every other request is the auth file's to authenticate."""
    auth: Authenticator = request.app.state.authenticator
    token = bearer.credentials if bearer else None
    file_auth: RequestAuthenticator | None = getattr(request.app.state, "lg_auth", None)
    if file_auth is not None and auth.enabled:
        principal = auth.by_api_key(api_key, token) or await file_auth.authenticate(request)
    else:
        principal = auth.authenticate(api_key, token)
    request.state.owner = principal.owner
    return principal


async def require_admin(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """FastAPI dependency: the caller, who must be an admin (403 otherwise)."""
    if not principal.is_admin:
        raise ApiError(403, "forbidden", "this route needs the admin role")
    return principal
