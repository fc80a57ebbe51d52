"""API tokens with roles, stored hashed in the event store's SQLite file.

A token is 32 random bytes (``secrets.token_urlsafe``) shown once when created; only its
SHA-256 is stored. Because tokens are high-entropy, a plain hash (no salt, no slow KDF) is
enough: nobody can brute-force 256 bits. Comparisons use :func:`hmac.compare_digest`.

Every endpoint declares the roles that may call it with ``dependencies=[require(...)]``;
:class:`AuthRoute` checks the token *before* the request body is read, so an anonymous
caller gets 401 whatever it sends.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.routing import BaseRoute

from spasmwatch.errors import AuthError, ConfigError
from spasmwatch.store._migrations import apply_migrations

__all__ = [
    "ROLES",
    "AuthRoute",
    "Principal",
    "TokenInfo",
    "TokenStore",
    "iter_routes",
    "require",
    "route_roles",
]

#: The roles a token can have.
ROLES = ("wearer", "clinician", "researcher")

_TOKEN_PREFIX = "sw_"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,63}$")
_TOUCH_EVERY_NS = 60 * 10**9

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,
    created_ns INTEGER NOT NULL,
    last_used_ns INTEGER,
    revoked_ns INTEGER
)
"""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's id, name and role."""

    token_id: str
    name: str
    role: str


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A stored token, without its secret."""

    id: str
    name: str
    role: str
    created_ns: int
    last_used_ns: int | None
    revoked_ns: int | None

    @property
    def active(self) -> bool:
        """``True`` unless revoked."""
        return self.revoked_ns is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "created_ns": self.created_ns,
            "last_used_ns": self.last_used_ns,
            "revoked_ns": self.revoked_ns,
            "active": self.active,
        }


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenStore:
    """API tokens in table ``api_tokens`` of the SQLite file at ``path``.

    Parameters
    ----------
    path : str or Path
        The event store's SQLite file (created if missing). The table is created with
        ``CREATE TABLE IF NOT EXISTS``; it sits beside the event store's own tables.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._touched: dict[str, int] = {}
        try:
            self._con = sqlite3.connect(
                str(self.path), check_same_thread=False, timeout=10, isolation_level=None
            )
            self._con.execute("PRAGMA busy_timeout=10000")
            # The event store refuses a file with foreign tables and no schema: bring the
            # schema up first, then add ours beside it.
            apply_migrations(self._con, where=str(self.path))
            self._con.execute(_SCHEMA)
            self._con.isolation_level = "DEFERRED"
        except sqlite3.Error as exc:
            raise ConfigError(
                f"cannot open the token table in {self.path}: {exc}; "
                "pass --db with a writable SQLite file"
            ) from exc

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._con.close()

    def create(self, role: str, name: str) -> tuple[str, TokenInfo]:
        """Create a token. Returns ``(secret, info)``; the secret is not stored anywhere.

        Raises
        ------
        ConfigError
            If ``role`` is not one of :data:`ROLES` or ``name`` is not 1-64 plain characters.
        """
        if role not in ROLES:
            raise ConfigError(f"token role must be one of {list(ROLES)} (got {role!r})")
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ConfigError(
                f"token name must be 1-64 letters, digits, spaces, '.', '_' or '-' (got {name!r})"
            )
        secret = _TOKEN_PREFIX + secrets.token_urlsafe(32)
        info = TokenInfo(secrets.token_hex(6), name, role, time.time_ns(), None, None)
        with self._lock, self._con:
            self._con.execute(
                "INSERT INTO api_tokens (id, name, role, token_sha256, created_ns) "
                "VALUES (?, ?, ?, ?, ?)",
                (info.id, info.name, info.role, _hash(secret), info.created_ns),
            )
        return secret, info

    def list(self) -> list[TokenInfo]:
        """All tokens, oldest first (revoked ones included, marked)."""
        with self._lock:
            rows = self._con.execute(
                "SELECT id, name, role, created_ns, last_used_ns, revoked_ns "
                "FROM api_tokens ORDER BY created_ns, id"
            ).fetchall()
        return [TokenInfo(*r) for r in rows]

    def revoke(self, id_or_name: str) -> list[TokenInfo]:
        """Revoke the token with this id, or every active token with this name.

        Raises
        ------
        AuthError
            (``reason="unknown_token"``) if nothing active matches.
        """
        now = time.time_ns()
        with self._lock, self._con:
            rows = self._con.execute(
                "SELECT id FROM api_tokens WHERE (id = ? OR name = ?) AND revoked_ns IS NULL",
                (id_or_name, id_or_name),
            ).fetchall()
            ids = [r[0] for r in rows]
            self._con.executemany(
                "UPDATE api_tokens SET revoked_ns = ? WHERE id = ?", [(now, i) for i in ids]
            )
        if not ids:
            raise AuthError(
                f"no active token has id or name {id_or_name!r}; see `spasmwatch token list`",
                reason="unknown_token",
            )
        return [t for t in self.list() if t.id in ids]

    def authenticate(self, token: str | None) -> Principal:
        """The principal of an active token.

        Raises
        ------
        AuthError
            ``reason="missing"`` without a token, ``"invalid"`` for an unknown or revoked one.
        """
        if not token:
            raise AuthError(
                "this endpoint needs a token: send 'Authorization: Bearer <token>' "
                "(create one with `spasmwatch token create`)",
                reason="missing",
            )
        if len(token) > 200 or not token.startswith(_TOKEN_PREFIX):
            raise AuthError("the token is not valid (unknown or revoked)", reason="invalid")
        digest = _hash(token)
        with self._lock:
            row = self._con.execute(
                "SELECT id, name, role, token_sha256, revoked_ns FROM api_tokens "
                "WHERE token_sha256 = ?",
                (digest,),
            ).fetchone()
        if row is None or not hmac.compare_digest(row[3], digest) or row[4] is not None:
            raise AuthError("the token is not valid (unknown or revoked)", reason="invalid")
        self._touch(row[0])
        return Principal(token_id=row[0], name=row[1], role=row[2])

    def _touch(self, token_id: str) -> None:
        now = time.time_ns()
        if now - self._touched.get(token_id, 0) < _TOUCH_EVERY_NS:
            return
        self._touched[token_id] = now
        try:
            with self._lock, self._con:
                self._con.execute(
                    "UPDATE api_tokens SET last_used_ns = ? WHERE id = ?", (now, token_id)
                )
        except sqlite3.OperationalError:  # busy: last_used is best effort
            pass


_bearer = HTTPBearer(auto_error=False, description="a token from `spasmwatch token create`")


def _token_from(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def authorize(request: Request, roles: Iterable[str]) -> Principal:
    """Authenticate the request's bearer token and check its role is in ``roles``.

    Raises
    ------
    AuthError
        ``reason="missing"``/``"invalid"`` (HTTP 401) or ``"forbidden"`` (HTTP 403).
    """
    tokens: TokenStore = request.app.state.tokens
    principal = tokens.authenticate(_token_from(request))
    allowed = tuple(roles)
    if principal.role not in allowed:
        raise AuthError(
            f"a {principal.role} token may not call {request.method} {request.url.path}; "
            f"allowed roles: {list(allowed)}",
            reason="forbidden",
        )
    return principal


def require(*roles: str) -> Any:
    """Dependency declaring which roles may call an endpoint; yields the :class:`Principal`.

    Use as ``dependencies=[require("clinician", "researcher")]`` or as a parameter
    ``who: Principal = require(...)``.
    """
    unknown = set(roles) - set(ROLES)
    if not roles or unknown:
        raise ConfigError(f"require() needs roles from {list(ROLES)} (got {list(roles)})")

    def dependency(
        request: Request,
        _credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
    ) -> Principal:
        principal = getattr(request.state, "principal", None)
        if principal is None:
            principal = authorize(request, roles)
        return principal

    dependency.roles = frozenset(roles)  # type: ignore[attr-defined]
    return Depends(dependency)


def iter_routes(app: Any) -> Iterator[BaseRoute]:
    """Every route of ``app``, descending into included routers.

    FastAPI >= 0.16x keeps included routers as nested objects in ``app.routes``; older
    versions copy their routes in. Both are walked.
    """
    stack = list(reversed(list(app.routes)))
    while stack:
        route = stack.pop()
        inner = getattr(route, "original_router", None)
        if inner is not None:
            stack.extend(reversed(list(inner.routes)))
        else:
            yield route


def route_roles(route: APIRoute) -> frozenset[str] | None:
    """The roles declared on ``route`` by :func:`require`, or ``None`` for a public route."""
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        roles = getattr(dep.call, "roles", None)
        if roles is not None:
            return roles
        stack.extend(dep.dependencies)
    return None


class AuthRoute(APIRoute):
    """An :class:`~fastapi.routing.APIRoute` that checks the declared roles first.

    FastAPI reads and parses the body before running dependencies, so a malformed body
    would otherwise earn an anonymous caller a 422 instead of a 401.
    """

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()
        roles = route_roles(self)
        self.roles = roles
        if roles is None:
            return handler

        async def checked(request: Request) -> Any:
            request.state.principal = authorize(request, roles)
            return await handler(request)

        return checked
