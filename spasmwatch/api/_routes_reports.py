"""``/api/reports``: the clinical summary as JSON and as a PDF report.

Open to clinicians (the wearers assigned to them) and wearers (their own data only), through
the same :func:`~spasmwatch.api._scope.scoped` dependency as the other routers: a wearer the
caller may not see is a 404, exactly like one that does not exist. Researchers get 403: the
report carries the wearer's diary text, which researchers never see.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from spasmwatch.api._auth import AuthRoute
from spasmwatch.api._params import parse_tz
from spasmwatch.api._scope import Scope, scoped
from spasmwatch.errors import ConfigError
from spasmwatch.health import VALID_DAY_S

__all__ = ["router"]

router = APIRouter(prefix="/api/reports", route_class=AuthRoute, tags=["reports"])

ROLES = ("wearer", "clinician")
_DATE = r"^\d{4}-\d{2}-\d{2}$"

StartQ = Annotated[
    str | None,
    Query(pattern=_DATE, description="first local day YYYY-MM-DD (default: 29 days before 'end')"),
]
EndQ = Annotated[
    str | None,
    Query(pattern=_DATE, description="last local day YYYY-MM-DD, inclusive (default today)"),
]
TzQ = Annotated[str | None, Query(max_length=64, description="IANA time zone (default UTC)")]
# one wearer (``Scope.one``), unlike ``_params.WearerQ`` which narrows to some of many
WearerOneQ = Annotated[
    str | None, Query(max_length=128, description="the wearer (default: the caller's only one)")
]
MinWornQ = Annotated[
    float, Query(ge=0, le=24, description="usable hours that make a worn day (default 10)")
]


@dataclass(frozen=True)
class _ReportQuery:
    """A report's query parameters, as given."""

    wearer_id: str | None
    start: str | None
    end: str | None
    tz: str | None
    min_worn_h: float


def _report_query(
    wearer_id: WearerOneQ = None,
    start: StartQ = None,
    end: EndQ = None,
    tz: TzQ = None,
    min_worn_h: MinWornQ = VALID_DAY_S / 3600,
) -> _ReportQuery:
    return _ReportQuery(wearer_id, start, end, tz, min_worn_h)


#: a route parameter ``q: ReportQ`` declares ``wearer_id``, ``start``, ``end``, ``tz``,
#: ``min_worn_h``
ReportQ = Annotated[_ReportQuery, Depends(_report_query)]


#: Days a report may name: times are stored as int64 ns since 1970 (up to 2262-04-11), and
#: a default start 29 days before 'end' must stay a valid date.
_FIRST_DAY, _LAST_DAY = dt.date(1970, 2, 1), dt.date(2261, 12, 31)


def _date(value: str, name: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"'{name}' must be a date YYYY-MM-DD (got {value!r})") from None
    if not _FIRST_DAY <= day <= _LAST_DAY:
        raise ConfigError(f"'{name}' must lie between {_FIRST_DAY} and {_LAST_DAY} (got {value!r})")
    return day


def _summary(request: Request, scope: Scope, q: _ReportQuery) -> Any:
    from spasmwatch.reports import clinical_summary
    from spasmwatch.store import resolve_tz

    wearer = scope.one(q.wearer_id)
    zone = parse_tz(q.tz)
    d1 = _date(q.end, "end") if q.end else dt.datetime.now(resolve_tz(zone)).date()
    d0 = _date(q.start, "start") if q.start else d1 - dt.timedelta(days=29)
    if d1 < d0:
        raise ConfigError(f"'end' ({d1}) must not be before 'start' ({d0})")
    if (d1 - d0).days >= 366:
        raise ConfigError(f"a report covers at most 366 days (got {d0} to {d1})")
    store = request.app.state.store
    return clinical_summary(store, wearer, d0, d1, zone, min_worn_h=q.min_worn_h)


@router.get("/summary", summary="clinical summary of a date range (JSON)")
def report_summary(
    request: Request,
    scope: Annotated[Scope, scoped(*ROLES)],
    q: ReportQ,
) -> dict[str, Any]:
    """Spasms per worn day and night with their wear time, durations, intensity, type mix,
    the PSFS-style score (derived, not a clinical PSFS assessment) and the diary."""
    s = _summary(request, scope, q)
    return scope.out(s.to_dict())


@router.get(
    "/pdf",
    summary="clinical report of a date range (PDF)",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "the PDF report"}},
)
def report_pdf(
    request: Request,
    scope: Annotated[Scope, scoped(*ROLES)],
    q: ReportQ,
) -> Response:
    """The downloadable PDF report (page 1 at a glance, then tables and method notes)."""
    from spasmwatch.reports import render_pdf

    s = _summary(request, scope, q)
    pdf = render_pdf(s)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", s.pseudonym)[:60] or "wearer"
    return Response(
        content=pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="spasmwatch-{name}-{s.start}-{s.end}.pdf"'
        },
    )
