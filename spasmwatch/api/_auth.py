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

from spasmwatch.errors import AuthError, ConfigError, StoreError
from spasmwatch.store._migrations import apply_migrations

__all__ = [
    "ROLES",
    "AuthRoute",
    "Principal",
    "TokenInfo",
    "TokenStore",
    "iter_routes",
    "pseudonym",
    "require",
    "route_roles",
]

#: The roles a token can have.
ROLES = ("wearer", "clinician", "researcher")

_TOKEN_PREFIX = "sw_"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,63}$")
_TOUCH_EVERY_NS = 60 * 10**9

_WEARER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")
_STUDY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's id, name and role, and for a wearer token the wearer.

    A clinician's or researcher's identity is the token ``name``: assignments
    (``clinician_wearers``) and study memberships (``study_members``) are keyed by it, so
    a replacement token with the same name keeps the same access.
    """

    token_id: str
    name: str
    role: str
    wearer_id: str | None = None


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A stored token, without its secret."""

    id: str
    name: str
    role: str
    created_ns: int
    last_used_ns: int | None
    revoked_ns: int | None
    wearer_id: str | None = None

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
            "wearer_id": self.wearer_id,
            "created_ns": self.created_ns,
            "last_used_ns": self.last_used_ns,
            "revoked_ns": self.revoked_ns,
            "active": self.active,
        }


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenStore:
    """API tokens, clinician assignments and studies in the event store's SQLite file.

    Parameters
    ----------
    path : str or Path
        The event store's SQLite file (created and migrated if missing). Tables
        ``api_tokens``, ``clinician_wearers``, ``studies``, ``study_wearers`` and
        ``study_members`` come from migration 3 of the event store.

    Notes
    -----
    Who sees whom:

    * a **wearer** token is bound to one wearer (``create(..., wearer_id=)``) and sees and
      writes only that wearer's data;
    * a **clinician** (token name) sees the wearers assigned to them (:meth:`assign`);
    * a **researcher** (token name) sees the wearers enrolled in the studies they are a
      member of (:meth:`enrol`, :meth:`add_member`), under a per-study pseudonym
      (:func:`pseudonym`), never a name or a folder path.
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
            self._con.execute("PRAGMA foreign_keys=ON")
            apply_migrations(self._con, where=str(self.path))
            self._con.isolation_level = "DEFERRED"
        except (sqlite3.Error, StoreError) as exc:
            raise ConfigError(
                f"cannot open the token tables in {self.path}: {exc}; "
                "pass --db with a writable spasmwatch event store file"
            ) from exc

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._con.close()

    # ------------------------------------------------------------------ tokens

    def create(
        self,
        role: str,
        name: str,
        *,
        wearer_id: str | None = None,
        wearers: Iterable[str] = (),
        studies: Iterable[str] = (),
    ) -> tuple[str, TokenInfo]:
        """Create a token. Returns ``(secret, info)``; the secret is not stored anywhere.

        Parameters
        ----------
        role : str
            One of :data:`ROLES`.
        name : str
            Who uses it (1-64 plain characters); a clinician's or researcher's identity.
        wearer_id : str, optional
            For a ``wearer`` token (required): whose token it is. The wearer is added to
            the store if new.
        wearers : iterable of str
            For a ``clinician``: wearers to assign to ``name`` (see :meth:`assign`).
        studies : iterable of str
            For a ``researcher``: studies ``name`` becomes a member of (created if new).

        Raises
        ------
        ConfigError
            Unknown role, bad name or ids, or options that do not fit the role.
        """
        if role not in ROLES:
            raise ConfigError(f"token role must be one of {list(ROLES)} (got {role!r})")
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ConfigError(
                f"token name must be 1-64 letters, digits, spaces, '.', '_' or '-' (got {name!r})"
            )
        wearers, studies = list(wearers), list(studies)
        if role == "wearer":
            if wearer_id is None:
                raise ConfigError(
                    "a wearer token belongs to one wearer: pass wearer_id (--wearer W)"
                )
            _check_wearer(wearer_id)
        elif wearer_id is not None:
            raise ConfigError(
                f"only a wearer token is bound to a wearer (got wearer_id for a {role} token); "
                "assign wearers to a clinician with wearers= (--wearer), enrol them in a "
                "study for researchers"
            )
        if wearers and role != "clinician":
            raise ConfigError(f"wearers= assigns wearers to a clinician, not a {role}")
        if studies and role != "researcher":
            raise ConfigError(f"studies= makes a researcher a study member, not a {role}")
        secret = _TOKEN_PREFIX + secrets.token_urlsafe(32)
        info = TokenInfo(secrets.token_hex(6), name, role, time.time_ns(), None, None, wearer_id)
        with self._lock, self._con:
            if wearer_id is not None:
                self._ensure_wearer(wearer_id)
            self._con.execute(
                "INSERT INTO api_tokens (id, name, role, token_sha256, wearer_id, created_ns) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (info.id, info.name, info.role, _hash(secret), wearer_id, info.created_ns),
            )
        for w in wearers:
            self.assign(name, w)
        for st in studies:
            self.add_member(st, name)
        return secret, info

    def list(self) -> list[TokenInfo]:
        """All tokens, oldest first (revoked ones included, marked)."""
        with self._lock:
            rows = self._con.execute(
                "SELECT id, name, role, created_ns, last_used_ns, revoked_ns, wearer_id "
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
                "SELECT id, name, role, token_sha256, revoked_ns, wearer_id FROM api_tokens "
                "WHERE token_sha256 = ?",
                (digest,),
            ).fetchone()
        if row is None or not hmac.compare_digest(row[3], digest) or row[4] is not None:
            raise AuthError("the token is not valid (unknown or revoked)", reason="invalid")
        self._touch(row[0])
        return Principal(token_id=row[0], name=row[1], role=row[2], wearer_id=row[5])

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

    # ------------------------------------------------------------------ access

    def _ensure_wearer(self, wearer_id: str) -> None:
        self._con.execute(
            "INSERT OR IGNORE INTO wearers (id, pseudonym, created_ns) VALUES (?, ?, ?)",
            (wearer_id, wearer_id, time.time_ns()),
        )

    def assign(self, clinician: str, wearer_id: str) -> None:
        """Let the clinician named ``clinician`` see ``wearer_id`` (added if new)."""
        _check_name(clinician, "clinician")
        _check_wearer(wearer_id)
        with self._lock, self._con:
            self._ensure_wearer(wearer_id)
            self._con.execute(
                "INSERT OR IGNORE INTO clinician_wearers (clinician, wearer_id, since_ns) "
                "VALUES (?, ?, ?)",
                (clinician, wearer_id, time.time_ns()),
            )

    def unassign(self, clinician: str, wearer_id: str) -> bool:
        """End an assignment. Returns ``False`` if there was none."""
        with self._lock, self._con:
            cur = self._con.execute(
                "DELETE FROM clinician_wearers WHERE clinician = ? AND wearer_id = ?",
                (clinician, wearer_id),
            )
        return cur.rowcount > 0

    def create_study(self, study_id: str, name: str = "") -> None:
        """Create a study (no-op if it exists) with a fresh random pseudonym secret."""
        if not isinstance(study_id, str) or not _STUDY_RE.match(study_id):
            raise ConfigError(
                f"study id must be 1-64 letters, digits, '.', '_' or '-' (got {study_id!r})"
            )
        with self._lock, self._con:
            self._con.execute(
                "INSERT OR IGNORE INTO studies (id, name, secret, created_ns) VALUES (?, ?, ?, ?)",
                (study_id, name or study_id, secrets.token_hex(32), time.time_ns()),
            )

    def enrol(self, study_id: str, wearer_id: str) -> None:
        """Enrol ``wearer_id`` in a study (created if new)."""
        _check_wearer(wearer_id)
        self.create_study(study_id)
        with self._lock, self._con:
            self._ensure_wearer(wearer_id)
            self._con.execute(
                "INSERT OR IGNORE INTO study_wearers (study_id, wearer_id, since_ns) "
                "VALUES (?, ?, ?)",
                (study_id, wearer_id, time.time_ns()),
            )

    def add_member(self, study_id: str, researcher: str) -> None:
        """Make the researcher named ``researcher`` a member of a study (created if new)."""
        _check_name(researcher, "researcher")
        self.create_study(study_id)
        with self._lock, self._con:
            self._con.execute(
                "INSERT OR IGNORE INTO study_members (study_id, researcher, since_ns) "
                "VALUES (?, ?, ?)",
                (study_id, researcher, time.time_ns()),
            )

    def access(self) -> dict[str, Any]:
        """Assignments and studies (without secrets), for ``spasmwatch token access``."""
        with self._lock:
            assigned = self._con.execute(
                "SELECT clinician, wearer_id FROM clinician_wearers ORDER BY 1, 2"
            ).fetchall()
            studies = self._con.execute("SELECT id, name FROM studies ORDER BY id").fetchall()
            enrolled = self._con.execute(
                "SELECT study_id, wearer_id FROM study_wearers ORDER BY 1, 2"
            ).fetchall()
            members = self._con.execute(
                "SELECT study_id, researcher FROM study_members ORDER BY 1, 2"
            ).fetchall()
        out: dict[str, Any] = {"clinicians": {}, "studies": {}}
        for c, w in assigned:
            out["clinicians"].setdefault(c, []).append(w)
        for sid, sname in studies:
            out["studies"][sid] = {"name": sname, "wearers": [], "researchers": []}
        for sid, w in enrolled:
            out["studies"][sid]["wearers"].append(w)
        for sid, r in members:
            out["studies"][sid]["researchers"].append(r)
        return out

    def visible_wearers(self, who: Principal) -> dict[str, str | None]:
        """Wearer id -> pseudonym (researchers) or ``None`` (others) for what ``who`` sees.

        A researcher in several studies that enrol the same wearer sees that wearer under
        the pseudonym of the first of those studies (by study id), so a wearer is never
        shown as two people.
        """
        if who.role == "wearer":
            return {who.wearer_id: None} if who.wearer_id else {}
        with self._lock:
            if who.role == "clinician":
                rows = self._con.execute(
                    "SELECT wearer_id FROM clinician_wearers WHERE clinician = ?", (who.name,)
                ).fetchall()
                return {r[0]: None for r in rows}
            rows = self._con.execute(
                "SELECT sw.wearer_id, s.id, s.secret FROM study_members m "
                "JOIN studies s ON s.id = m.study_id "
                "JOIN study_wearers sw ON sw.study_id = s.id "
                "WHERE m.researcher = ? ORDER BY s.id, sw.wearer_id",
                (who.name,),
            ).fetchall()
        out: dict[str, str | None] = {}
        for wearer_id, study_id, secret in rows:
            out.setdefault(wearer_id, pseudonym(study_id, secret, wearer_id))
        return out


def pseudonym(study_id: str, secret: str, wearer_id: str) -> str:
    """A wearer's stable pseudonym in one study: ``"<study>-<12 hex>"``.

    The hex digits are HMAC-SHA256 of the wearer id keyed with the study's random secret:
    stable for the study, unlinkable across studies, and not reversible without the secret
    (which never leaves the database).
    """
    mac = hmac.new(secret.encode("utf-8"), wearer_id.encode("utf-8"), hashlib.sha256)
    return f"{study_id}-{mac.hexdigest()[:12]}"


def _check_name(name: object, what: str) -> None:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ConfigError(
            f"{what} name must be 1-64 letters, digits, spaces, '.', '_' or '-' (got {name!r})"
        )


def _check_wearer(wearer_id: object) -> None:
    if not isinstance(wearer_id, str) or not _WEARER_RE.match(wearer_id):
        raise ConfigError(
            f"wearer id must be 1-128 letters, digits, '_', '.', ':' or '-' (got {wearer_id!r})"
        )


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
    allowed = tuple(sorted(roles))  # a stable message (a frozenset iterates by hash seed)
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
