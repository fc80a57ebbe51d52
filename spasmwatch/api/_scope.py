"""Which wearers a caller may see, enforced in one place.

Every endpoint that touches wearer data takes a :class:`Scope` (from :func:`scoped`, which
also declares the roles allowed) and uses it for every query and every answer:

* :meth:`Scope.wearers` — the real wearer ids to pass to the store as ``wearer_ids=`` (an
  optional ``wearer_id`` query parameter narrows it; one outside the scope is a 404);
* :meth:`Scope.check` — before reading or changing one object: an object of another
  wearer is a **404**, exactly like one that does not exist, so ids leak nothing;
* :meth:`Scope.out` / :meth:`Scope.episode` — what leaves the server: for researchers the
  wearer id becomes the per-study pseudonym and free text the wearer wrote is withheld;
  for everyone, recording folder paths and display names are dropped.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request

from spasmwatch.api._auth import Principal, require
from spasmwatch.episodes._types import Episode
from spasmwatch.errors import ConfigError, NotFoundError

__all__ = ["FREE_TEXT_WITHHELD", "Scope", "scoped"]

#: Keys never sent to anyone (server-side detail or identifying).
_DROP_ALWAYS = frozenset({"path"})
#: Keys dropped for researchers (they get pseudonymised data only).
_DROP_RESEARCHER = frozenset({"display_name"})
#: Free text a wearer wrote: withheld from researchers (value ``None`` and listed under
#: ``"withheld"`` in the same object).
FREE_TEXT_WITHHELD = frozenset({"trigger_text", "text", "dose"})


@dataclass(frozen=True, slots=True)
class Scope:
    """What one caller may see.

    Attributes
    ----------
    principal : Principal
        The caller.
    visible : Mapping[str, str | None]
        Real wearer id -> the id shown to the caller (a pseudonym for researchers,
        ``None`` = the real id).
    """

    principal: Principal
    visible: Mapping[str, str | None]

    @property
    def role(self) -> str:
        """The caller's role."""
        return self.principal.role

    @property
    def pseudonymised(self) -> bool:
        """``True`` for researchers: wearer ids are shown as study pseudonyms."""
        return self.principal.role == "researcher"

    def _real(self, shown: str) -> str | None:
        if not self.pseudonymised:
            return shown if shown in self.visible else None
        for real, pseudo in self.visible.items():
            if pseudo == shown:
                return real
        return None

    def wearers(self, requested: str | None = None) -> list[str]:
        """Real wearer ids to query: all visible ones, or ``requested`` (as the caller
        names it: a pseudonym for researchers) if it is visible.

        Raises
        ------
        NotFoundError
            ``requested`` is not a wearer this caller may see (whether it exists or not).
        """
        if requested is None:
            return sorted(self.visible)
        real = self._real(requested)
        if real is None:
            raise NotFoundError(f"no wearer {requested[:128]!r}", reason="wearer")
        return [real]

    def one(self, requested: str | None) -> str:
        """The single real wearer id a per-wearer answer (a summary) is about.

        Without ``requested``: the caller's only wearer; several -> 422 asking to choose.
        """
        if requested is not None:
            return self.wearers(requested)[0]
        if len(self.visible) == 1:
            return next(iter(self.visible))
        if not self.visible:
            raise NotFoundError("no wearer is visible to this token", reason="wearer")
        shown = sorted(self.shown_id(w) for w in self.visible)
        raise ConfigError(
            f"this token sees {len(shown)} wearers: pass 'wearer_id' (one of {shown[:20]})"
        )

    def check(self, wearer_id: str, what: str, object_id: str) -> None:
        """Raise :class:`NotFoundError` unless ``wearer_id`` (real) is visible.

        The message is the same as for an id that does not exist.
        """
        if wearer_id not in self.visible:
            raise NotFoundError(f"no {what} with id {object_id[:128]!r}", reason=what)

    def own(self) -> str:
        """A wearer token's own wearer id (what it writes as)."""
        if self.principal.role != "wearer" or self.principal.wearer_id is None:
            raise ConfigError("only a wearer token writes as a wearer")  # pragma: no cover
        return self.principal.wearer_id

    def shown_id(self, wearer_id: str) -> str | None:
        """How the caller sees a real wearer id (``None`` if it is not visible)."""
        if wearer_id not in self.visible:
            return None
        shown = self.visible[wearer_id]
        return wearer_id if shown is None else shown

    def episode(self, ep: Episode) -> Episode:
        """``ep`` as the caller may see it (wearer id pseudonymised for researchers)."""
        if not self.pseudonymised:
            return ep
        shown = self.shown_id(ep.wearer_id)
        if shown is None:  # pragma: no cover - queries are scoped; fail closed anyway
            raise NotFoundError(f"no episode with id {ep.id!r}", reason="episode")
        return dataclasses.replace(ep, wearer_id=shown)

    def episodes(self, eps: Iterable[Episode]) -> list[dict[str, Any]]:
        """JSON-ready episodes as the caller may see them (same keys as ``to_dict``)."""
        out = [dict(zip(_EP_FIELDS, _ep_values(e), strict=True)) for e in eps]
        if self.pseudonymised:
            for d in out:
                d["wearer_id"] = self.shown_id(d["wearer_id"])
        return out

    def episode_columns(self, eps: list[Episode]) -> dict[str, list[Any]]:
        """The same episodes column by column: ``{field: [value per episode]}``.

        About three times cheaper to build, encode and parse than a list of objects for
        a year of episodes (no repeated keys); the timeline page asks for this layout.
        """
        cols = {f: [getattr(e, f) for e in eps] for f in _EP_FIELDS}
        if self.pseudonymised:
            cols["wearer_id"] = [self.shown_id(w) for w in cols["wearer_id"]]
        return cols

    def out(self, obj: Any) -> Any:
        """A JSON-ready copy of ``obj`` (dicts, lists, values) fit for this caller."""
        if isinstance(obj, Mapping):
            d: dict[str, Any] = {}
            withheld: list[str] = []
            for k, v in obj.items():
                if k in _DROP_ALWAYS or (self.pseudonymised and k in _DROP_RESEARCHER):
                    continue
                if k == "wearer_id" and isinstance(v, str):
                    d[k] = self.shown_id(v)
                elif self.pseudonymised and k in FREE_TEXT_WITHHELD and v:
                    d[k] = None
                    withheld.append(k)
                else:
                    d[k] = self.out(v)
            if withheld:
                d["withheld"] = withheld
            return d
        if isinstance(obj, list | tuple):
            return [self.out(v) for v in obj]
        return obj


_EP_FIELDS = tuple(f.name for f in dataclasses.fields(Episode))
_ep_values = operator.attrgetter(*_EP_FIELDS)


def _scope_of(request: Request, who: Principal) -> Scope:
    cached = getattr(request.state, "scope", None)
    if cached is not None and cached.principal == who:
        return cached
    scope = Scope(who, request.app.state.tokens.visible_wearers(who))
    request.state.scope = scope
    return scope


def scoped(*roles: str) -> Any:
    """Dependency: the caller's :class:`Scope`, for a route open to ``roles``.

    Use as ``scope: Annotated[Scope, scoped("wearer", "clinician")]``; it declares the
    roles exactly like :func:`~spasmwatch.api._auth.require` (the authorisation matrix
    reads them from the route).
    """

    # a default, not Annotated[...]: with postponed annotations FastAPI could not see the
    # closure's ``roles`` when it resolves the annotation string
    def dependency(request: Request, who: Principal = require(*roles)) -> Scope:  # noqa: B008
        return _scope_of(request, who)

    return Depends(dependency)
