"""The episode filter shared by ``/api/episodes`` and the episode exports.

One set of query parameters (``start``, ``end``, ``type``, ``min_severity``, ``source``,
``wearer_id``, ``placement``; ``/api/episodes`` adds ``limit`` and ``exclude_false_alarms``)
becomes one frozen, validated :class:`EpisodeFilter` through a FastAPI dependency, so every
route declares, checks and applies them the same way::

    def export_csv(request, scope: ..., flt: EpisodeFilterQ) -> Response:
        eps = flt.episodes(store, scope.wearers(flt.wearer_id))

Checks happen in two steps, as they did when each route listed the parameters itself:
FastAPI first checks every parameter's form (lengths, ``limit`` bounds, booleans) and
answers 422 with its own error list; only if all are well formed are the values parsed and
checked (times, episode types, severity), a :class:`~spasmwatch.errors.ConfigError` (422)
naming the parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query

from spasmwatch.api._params import EndQ, StartQ, WearerQ, parse_range
from spasmwatch.episodes._types import EPISODE_TYPES, SEVERITIES, Episode
from spasmwatch.errors import ConfigError

__all__ = [
    "MAX_LIST",
    "EpisodeFilter",
    "EpisodeFilterQ",
    "EpisodeListFilterQ",
    "episode_filter",
    "episode_list_filter",
]

#: the most episodes one ``limit`` may ask for
MAX_LIST = 100_000
_MAX_NS = 2**63

TypeQ = Annotated[
    list[str] | None,
    Query(alias="type", description=f"episode types to keep, any of {list(EPISODE_TYPES)}"),
]
SeverityQ = Annotated[
    str | None, Query(description=f"lowest severity to keep, one of {list(SEVERITIES)}")
]
SourceQ = Annotated[
    str | None,
    Query(max_length=200, description="'auto', 'self-report' or '<role>:<name>'"),
]
PlacementQ = Annotated[
    list[str] | None,
    Query(
        max_length=200,
        description="sensor placements to keep, e.g. 'gastrocnemius-left'; a bare muscle "
        "('gastrocnemius') keeps every side",
    ),
]
LimitQ = Annotated[int | None, Query(ge=1, le=MAX_LIST, description="at most this many")]
FalseAlarmsQ = Annotated[
    bool, Query(description="leave out episodes a label marks as a false alarm")
]


def _names(value: Sequence[str] | None, name: str) -> tuple[str, ...] | None:
    """``value`` as a tuple of strings; ``None`` or empty: no narrowing (``None``)."""
    if value is None:
        return None
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            f"{name!r} must be a list of strings (got {value!r:.80}); pass one value as a "
            "one-item list"
        )
    return tuple(value) or None


def _ns(value: int | None, name: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _MAX_NS:
        raise ConfigError(
            f"{name!r} must be UTC ns since the epoch, an int from 0 to 2**63-1 (got {value!r:.60})"
        )


@dataclass(frozen=True, slots=True)
class EpisodeFilter:
    """Which episodes a query keeps; every field given narrows it (``None``: no narrowing).

    Attributes
    ----------
    start_ns, end_ns : int or None
        Keep episodes overlapping ``[start_ns, end_ns)``, UTC ns since the epoch
        (``end_ns >= start_ns``).
    types : tuple of str or None
        Keep these episode types (each one of ``EPISODE_TYPES``); an empty list is ``None``.
    min_severity : str or None
        Keep this severity or worse (one of ``SEVERITIES``).
    source : str or None
        Keep this source (``"auto"``, ``"self-report"``, ``"<role>:<name>"``; a trailing
        ``*`` matches a prefix).
    wearer_id : str or None
        The one wearer asked for, as the caller names it (a study pseudonym for
        researchers): not yet checked against the caller's scope, see
        :meth:`Scope.wearers <spasmwatch.api._scope.Scope.wearers>`.
    placements : tuple of str or None
        Keep these sensor placements (a bare muscle keeps every side of it).
    limit : int or None
        At most this many episodes (1 to :data:`MAX_LIST`), the first by start.
    exclude_false_alarms : bool
        Leave out episodes that a label marks as a false alarm.

    Raises
    ------
    ConfigError
        If a value is out of its range; the message names the query parameter.
    """

    start_ns: int | None = None
    end_ns: int | None = None
    types: tuple[str, ...] | None = None
    min_severity: str | None = None
    source: str | None = None
    wearer_id: str | None = None
    placements: tuple[str, ...] | None = None
    limit: int | None = None
    exclude_false_alarms: bool = False

    def __post_init__(self) -> None:
        _ns(self.start_ns, "start")
        _ns(self.end_ns, "end")
        a, b = self.start_ns, self.end_ns
        if a is not None and b is not None and b < a:
            raise ConfigError(f"'end' ({b}) must not be before 'start' ({a})")
        types = _names(self.types, "type")
        if types:
            bad = [t for t in types if t not in EPISODE_TYPES]
            if bad:
                raise ConfigError(f"'type' must be among {list(EPISODE_TYPES)} (got {bad[:5]})")
        if self.min_severity is not None and self.min_severity not in SEVERITIES:
            raise ConfigError(
                f"'min_severity' must be one of {list(SEVERITIES)} (got {self.min_severity!r})"
            )
        for name in ("source", "wearer_id"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{name!r} must be a string (got {value!r:.60})")
        if self.limit is not None and (
            isinstance(self.limit, bool)
            or not isinstance(self.limit, int)
            or not 1 <= self.limit <= MAX_LIST
        ):
            raise ConfigError(f"'limit' must be an int from 1 to {MAX_LIST} (got {self.limit!r})")
        object.__setattr__(self, "types", types)
        object.__setattr__(self, "placements", _names(self.placements, "placement"))
        object.__setattr__(self, "exclude_false_alarms", bool(self.exclude_false_alarms))

    @classmethod
    def from_query(
        cls,
        *,
        start: str | None = None,
        end: str | None = None,
        type_: Sequence[str] | None = None,
        min_severity: str | None = None,
        source: str | None = None,
        wearer_id: str | None = None,
        placement: Sequence[str] | None = None,
        limit: int | None = None,
        exclude_false_alarms: bool = False,
    ) -> EpisodeFilter:
        """The filter from query parameter values as they come (times as int ns or ISO 8601
        strings, see :func:`~spasmwatch.api._params.parse_time`).

        Raises
        ------
        ConfigError
            For the first bad value, in the order: ``start``, ``end``, their order,
            ``type``, ``min_severity``.
        """
        a, b = parse_range(start, end)
        return cls(
            start_ns=a,
            end_ns=b,
            types=type_,  # a list: __post_init__ makes it a tuple
            min_severity=min_severity,
            source=source,
            wearer_id=wearer_id,
            placements=placement,
            limit=limit,
            exclude_false_alarms=exclude_false_alarms,
        )

    def episodes(self, store: Any, wearer_ids: Iterable[str]) -> list[Episode]:
        """The episodes of ``store`` (an :class:`~spasmwatch.store.EventStore`) this filter
        keeps, of the wearers ``wearer_ids`` (real ids, from the caller's scope), by start."""
        return list(
            store.episodes(
                start_ns=self.start_ns,
                end_ns=self.end_ns,
                types=self.types,
                min_severity=self.min_severity,
                source=self.source,
                limit=self.limit,
                exclude_false_alarms=self.exclude_false_alarms,
                wearer_ids=wearer_ids,
                placements=self.placements,
            )
        )


def _query(
    start: StartQ = None,
    end: EndQ = None,
    type_: TypeQ = None,
    min_severity: SeverityQ = None,
    source: SourceQ = None,
    wearer_id: WearerQ = None,
    placement: PlacementQ = None,
) -> dict[str, Any]:
    """The filter's query parameters once FastAPI has checked their form, not yet parsed:
    so a malformed parameter of the route using them (``limit``) is reported first."""
    return {
        "start": start,
        "end": end,
        "type_": type_,
        "min_severity": min_severity,
        "source": source,
        "wearer_id": wearer_id,
        "placement": placement,
    }


_Query = Annotated[dict[str, Any], Depends(_query)]


def episode_filter(query: _Query) -> EpisodeFilter:
    """Dependency: the :class:`EpisodeFilter` of the request (the exports' parameters)."""
    return EpisodeFilter.from_query(**query)


def episode_list_filter(
    query: _Query, limit: LimitQ = None, exclude_false_alarms: FalseAlarmsQ = False
) -> EpisodeFilter:
    """Dependency: the :class:`EpisodeFilter` of the request, with ``/api/episodes``'s
    ``limit`` and ``exclude_false_alarms``."""
    return EpisodeFilter.from_query(**query, limit=limit, exclude_false_alarms=exclude_false_alarms)


#: a route parameter ``flt: EpisodeFilterQ`` declares the filter's query parameters
EpisodeFilterQ = Annotated[EpisodeFilter, Depends(episode_filter)]
#: the same with ``limit`` and ``exclude_false_alarms`` (``/api/episodes``)
EpisodeListFilterQ = Annotated[EpisodeFilter, Depends(episode_list_filter)]
