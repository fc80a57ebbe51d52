"""The JSON endpoints under ``/api``.

Each declares its roles with :func:`~spasmwatch.api._scope.scoped` (or
:func:`~spasmwatch.api._auth.require`) and runs every query through the caller's
:class:`~spasmwatch.api._scope.Scope`: the store is asked only for the wearers the caller
may see, an object of another wearer answers 404, and answers are shaped by
:meth:`Scope.out` (pseudonyms and withheld free text for researchers).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from spasmwatch.api._auth import AuthRoute
from spasmwatch.api._decimate import MAX_BUCKETS
from spasmwatch.api._exports import (
    episodes_csv,
    episodes_fhir_bundle,
    episodes_parquet,
    recording_edf,
)
from spasmwatch.api._filters import EpisodeFilter, EpisodeFilterQ, EpisodeListFilterQ
from spasmwatch.api._params import EndQ, StartQ, WearerQ, parse_range, parse_tz
from spasmwatch.api._scope import Scope, scoped
from spasmwatch.api._wear import MIN_VALID_WEAR_S, format_count_with_wear, is_low_wear
from spasmwatch.episodes._types import EPISODE_TYPES, SEVERITIES, Episode, Label, new_id
from spasmwatch.errors import ConfigError, NotFoundError, StoreError
from spasmwatch.store._values import (
    DIARY_KINDS,
    PLACEMENT_SIDES,
    TRIGGERS,
    DiaryEntry,
    Prompt,
    SelfReport,
)

__all__ = ["router"]

router = APIRouter(prefix="/api", route_class=AuthRoute)

ALL = ("wearer", "clinician", "researcher")
READERS = ("clinician", "researcher")


def _store(request: Request) -> Any:
    return request.app.state.store


def _json(content: Any, status_code: int = 200) -> Response:
    # Plain json.dumps: FastAPI's jsonable_encoder costs ~10x more on a year of episodes.
    body = json.dumps(content, separators=(",", ":"), allow_nan=False)
    return Response(body, status_code=status_code, media_type="application/json")


def _attachment(body: bytes, media: str, name: str) -> Response:
    return Response(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


def _publish(request: Request, event: dict[str, Any]) -> None:
    """Relay ``event`` to the live clients, if the app has a live bus."""
    bus = request.app.state.bus
    if bus is not None:
        bus.publish_threadsafe(event)


def _scoped_get(scope: Scope, get: Callable[[str], Any], what: str, obj_id: str) -> Any:
    """``get(obj_id)``; 404 (like a missing one) when its wearer is not in the caller's scope."""
    obj = get(obj_id)
    scope.check(obj.wearer_id, what, obj_id)
    return obj


def _patched(old: Any, body: BaseModel, **fixed: Any) -> Any:
    """``old`` with the fields ``body`` sets (not ``None``) and ``fixed`` replaced."""
    changes = {k: v for k, v in body.model_dump().items() if v is not None}
    return type(old).from_dict({**old.to_dict(), **changes, **fixed})


@dataclass(frozen=True)
class _Window:
    """A listing's or summary's ``start``, ``end``, ``wearer_id`` (and ``tz``), as given."""

    start: str | None
    end: str | None
    wearer_id: str | None
    tz: str | None = None


def _window(start: StartQ = None, end: EndQ = None, wearer_id: WearerQ = None) -> _Window:
    return _Window(start, end, wearer_id)


#: a route parameter ``q: WindowQ`` declares the query parameters ``start``, ``end``,
#: ``wearer_id``
WindowQ = Annotated[_Window, Depends(_window)]


def _listing(
    key: str, fetch: Callable[..., Sequence[Any]], scope: Scope, q: _Window, **extra: Any
) -> dict[str, Any]:
    """``{"count", key}`` of what ``fetch`` finds in ``q``'s range for the caller's wearers.

    ``fetch`` is a store query taking ``start_ns``, ``end_ns``, ``wearer_ids`` (and
    ``extra``); the rows are shaped by :meth:`Scope.out`.
    """
    a, b = parse_range(q.start, q.end)
    rows = fetch(start_ns=a, end_ns=b, wearer_ids=scope.wearers(q.wearer_id), **extra)
    return {"count": len(rows), key: scope.out([x.to_dict() for x in rows])}


# --------------------------------------------------------------------------- who am I


@router.get("/me", summary="the caller's token name, role and visible wearers", tags=["auth"])
def me(
    request: Request,
    scope: Annotated[Scope, scoped(*ALL)],
) -> dict[str, Any]:
    store = _store(request)
    wearers = []
    for w in sorted(scope.visible):
        item: dict[str, Any] = {"id": scope.shown_id(w)}
        if not scope.pseudonymised:
            try:
                item["name"] = store.get_wearer(w).display_name
            except StoreError:
                item["name"] = None
        wearers.append(item)
    wearers.sort(key=lambda x: x["id"])
    return {
        "name": scope.principal.name,
        "role": scope.role,
        "wearer_id": scope.principal.wearer_id,
        "pseudonymised": scope.pseudonymised,
        "wearers": wearers,
    }


# --------------------------------------------------------------------------- episodes


def _episodes(request: Request, scope: Scope, flt: EpisodeFilter) -> list[Episode]:
    """The caller's episodes that ``flt`` keeps (its ``wearer_id`` checked against the scope)."""
    return flt.episodes(_store(request), scope.wearers(flt.wearer_id))


@router.get(
    "/episodes",
    summary="episodes overlapping a time range",
    tags=["episodes"],
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
def list_episodes(
    request: Request,
    scope: Annotated[Scope, scoped(*ALL)],
    flt: EpisodeListFilterQ,
    layout: Annotated[
        Literal["records", "columns"],
        Query(
            description="'records': a list of episode objects; 'columns': one list per "
            "field (same fields, far cheaper for a year of episodes)"
        ),
    ] = "records",
) -> Response:
    eps = _episodes(request, scope, flt)
    if layout == "columns":
        return _json({"count": len(eps), "columns": scope.episode_columns(eps)})
    return _json({"count": len(eps), "episodes": scope.episodes(eps)})


def _scoped_episode(request: Request, scope: Scope, episode_id: str) -> Episode:
    return _scoped_get(scope, _store(request).get_episode, "episode", episode_id)


def _episode_label(ep: Episode, labeler: str, origin: str, **fields: Any) -> Label:
    """A new label on ``ep``'s interval, type, recording and wearer."""
    return Label(
        id=new_id(),
        start_ns=ep.start_ns,
        end_ns=ep.end_ns,
        type=ep.type,
        labeler=labeler,
        origin=origin,
        recording_id=ep.recording_id,
        wearer_id=ep.wearer_id,
        episode_id=ep.id,
        **fields,
    )


@router.get("/episodes/{episode_id}", summary="one episode", tags=["episodes"])
def get_episode(
    request: Request,
    scope: Annotated[Scope, scoped(*ALL)],
    episode_id: str,
) -> dict[str, Any]:
    return scope.episodes([_scoped_episode(request, scope, episode_id)])[0]


@router.post(
    "/episodes/{episode_id}/false-alarm",
    status_code=201,
    summary="label an automatic episode as a false alarm",
    tags=["labels"],
)
def mark_false_alarm(
    request: Request,
    scope: Annotated[Scope, scoped("researcher")],
    episode_id: str,
) -> dict[str, Any]:
    store = _store(request)
    ep = _scoped_episode(request, scope, episode_id)
    label = _episode_label(
        ep, scope.principal.name, "researcher", is_false_alarm=True, note="false alarm"
    )
    store.add_label(label)
    return scope.out(label.to_dict())


@router.get("/placements", summary="sensor placements known for the visible wearers")
def list_placements(
    request: Request,
    scope: Annotated[Scope, scoped(*ALL)],
    wearer_id: WearerQ = None,
) -> dict[str, Any]:
    store = _store(request)
    ids = scope.wearers(wearer_id)
    names = set(store.episode_placements(wearer_ids=ids))
    periods = store.placements(wearer_ids=ids)
    names.update(p.name for p in periods)
    return {
        "placements": sorted(names),
        "periods": scope.out([p.to_dict() for p in periods]),
        "sides": list(PLACEMENT_SIDES),
    }


# --------------------------------------------------------------------------- self-reports

SelfSeverity = Literal[1, 2, 3, "mild", "moderate", "severe"]


class SelfReportIn(BaseModel):
    """A spasm the wearer logs: "log one now"."""

    model_config = ConfigDict(extra="forbid")
    t_ns: int | None = Field(None, ge=0, description="when (UTC ns); default now")
    duration_s: float = Field(0.0, ge=0, le=3600, description="how long it lasted, if known")
    severity: SelfSeverity | None = Field(None, description="1-3 or mild/moderate/severe")
    type: str = Field("unknown", description=f"one of {list(EPISODE_TYPES)}")
    body_site: str | None = Field(
        None, max_length=100, description="where, e.g. 'calf-left' or a placement name"
    )
    trigger: str | None = Field(None, description=f"one of {list(TRIGGERS)}")
    trigger_text: str | None = Field(
        None, max_length=500, description="free text (for 'other'); never shown to researchers"
    )


class ConfirmIn(BaseModel):
    """The wearer's answer to "was that a spasm?"."""

    model_config = ConfigDict(extra="forbid")
    answer: Literal["yes", "no", "not_sure"]


def _severity(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else SEVERITIES[int(value) - 1]


@router.post(
    "/self-reports",
    status_code=201,
    summary="log a spasm now (the wearer's own report)",
    tags=["self-reports"],
)
def log_self_report(
    request: Request,
    scope: Annotated[Scope, scoped("wearer")],
    body: SelfReportIn,
) -> dict[str, Any]:
    wearer = scope.own()
    t = time.time_ns() if body.t_ns is None else body.t_ns
    end = t + round(body.duration_s * 1e9)
    severity = _severity(body.severity)
    ep = Episode(
        id=new_id(),
        start_ns=t,
        end_ns=end,
        type=body.type,
        severity=severity or "mild",
        confidence=1.0,
        source="self-report",
        wearer_id=wearer,
        placement=body.body_site,
    )
    label = Label(
        id=new_id(),
        start_ns=t,
        end_ns=end,
        type=body.type,
        labeler="wearer",
        origin="self-report",
        wearer_id=wearer,
        episode_id=ep.id,
    )
    report = SelfReport(
        id=new_id(),
        t_ns=t,
        kind="logged",
        answer="yes",
        wearer_id=wearer,
        episode_id=ep.id,
        label_id=label.id,
        severity=severity,
        body_site=body.body_site,
        trigger=body.trigger,
        trigger_text=body.trigger_text,
    )
    _store(request).log_self_report(ep, report, label)
    _publish(request, {"type": "episode", "wearer_id": wearer, "episode": ep.to_dict()})
    return {
        "self_report": report.to_dict(),
        "episode": ep.to_dict(),
        "label": label.to_dict(),
    }


@router.post(
    "/episodes/{episode_id}/confirm",
    status_code=201,
    summary="answer 'was that a spasm?' for an automatic episode (yes / no / not_sure)",
    tags=["self-reports"],
)
def confirm_episode(
    request: Request,
    scope: Annotated[Scope, scoped("wearer")],
    episode_id: str,
    body: ConfirmIn,
) -> dict[str, Any]:
    ep = _scoped_episode(request, scope, episode_id)
    label = None
    if body.answer != "not_sure":
        label = _episode_label(ep, "wearer", "self-report", is_false_alarm=body.answer == "no")
    report = SelfReport(
        id=new_id(),
        t_ns=time.time_ns(),
        kind="answer",
        answer=body.answer,
        wearer_id=ep.wearer_id,
        episode_id=ep.id,
        label_id=None if label is None else label.id,
    )
    _store(request).answer_episode(report, label)
    return {
        "self_report": report.to_dict(),
        "label": None if label is None else label.to_dict(),
    }


@router.get("/self-reports", summary="the wearers' own reports and answers", tags=["self-reports"])
def list_self_reports(
    request: Request,
    scope: Annotated[Scope, scoped(*ALL)],
    q: WindowQ,
) -> dict[str, Any]:
    return _listing("self_reports", _store(request).self_reports, scope, q)


# --------------------------------------------------------------------------- summaries


def _wear_fields(worn: float | None, usable: float | None, days: float) -> dict[str, Any]:
    return {
        "worn_s": worn,
        "usable_s": usable,
        "low_wear": is_low_wear(usable, days),
    }


def _summary(request: Request, scope: Scope, kind: str, q: _Window) -> dict[str, Any]:
    a, b = parse_range(q.start, q.end)
    now = time.time_ns()
    if b is None:
        b = now
    if a is None:
        a = b - (1 if kind == "hourly" else 28) * 86_400 * 10**9
    span_days = (b - a) / 86_400e9
    limit = 92 if kind == "hourly" else 3660
    if span_days > limit:
        raise ConfigError(
            f"a {kind} summary covers at most {limit} days "
            f"(got {span_days:.0f}); narrow 'start'/'end'"
        )
    wearer = scope.one(q.wearer_id)
    zone = parse_tz(q.tz)
    store = _store(request)
    fn = store.hourly_summary if kind == "hourly" else store.daily_summary
    buckets = [x.to_dict() for x in fn(wearer, a, b, zone)]
    if buckets:
        d0 = dt.date.fromisoformat(buckets[0]["label"][:10])
        d1 = dt.date.fromisoformat(buckets[-1]["label"][:10])
        wear = store.wear_by_day(wearer, d0, d1)
    else:
        wear = {}
    for bk in buckets:
        worn, usable = wear.get(dt.date.fromisoformat(bk["label"][:10]), (0.0, 0.0))
        if kind == "hourly":
            # wear time is kept per day: an hour shows its day's wear
            bk.update({"day_worn_s": worn, "day_usable_s": usable, "low_wear": is_low_wear(usable)})
        else:
            bk.update(_wear_fields(worn, usable, 1.0))
            bk["text"] = format_count_with_wear(bk["n"], usable)
    if kind == "weekly":
        buckets = _weekly(buckets)
    return {
        "wearer_id": scope.shown_id(wearer),
        "tz": zone,
        "start_ns": a,
        "end_ns": b,
        "min_valid_wear_s": MIN_VALID_WEAR_S,
        "buckets": buckets,
    }


def _weekly(days: list[dict[str, Any]]) -> list[dict[str, Any]]:
    weeks: dict[str, dict[str, Any]] = {}
    for d in days:
        y, w, _ = dt.date.fromisoformat(d["label"]).isocalendar()
        key = f"{y}-W{w:02d}"
        wk = weeks.get(key)
        if wk is None:
            wk = weeks[key] = {
                "label": key,
                "start_ns": d["start_ns"],
                "end_ns": d["end_ns"],
                "days": 0,
                "n": 0,
                "by_type": dict.fromkeys(EPISODE_TYPES, 0),
                "by_severity": dict.fromkeys(SEVERITIES, 0),
                "duration_s": 0.0,
                "max_peak": 0.0,
                "worn_s": 0.0,
                "usable_s": 0.0,
                "low_wear_days": 0,
            }
        wk["end_ns"] = d["end_ns"]
        wk["days"] += 1
        wk["n"] += d["n"]
        for t, c in d["by_type"].items():
            wk["by_type"][t] += c
        for s, c in d["by_severity"].items():
            wk["by_severity"][s] += c
        wk["duration_s"] += d["duration_s"]
        wk["max_peak"] = max(wk["max_peak"], d["max_peak"])
        wk["worn_s"] += d["worn_s"]
        wk["usable_s"] += d["usable_s"]
        wk["low_wear_days"] += int(d["low_wear"])
    out = []
    for wk in weeks.values():
        wk["low_wear"] = is_low_wear(wk["usable_s"], wk["days"])
        wk["text"] = format_count_with_wear(wk["n"], wk["usable_s"], wk["days"])
        out.append(wk)
    return out


TzQ = Annotated[str | None, Query(max_length=64, description="IANA time zone (default UTC)")]
WearerOne = Annotated[
    str | None,
    Query(
        max_length=128,
        description="whose summary (default: the token's only wearer); researchers pass "
        "the study pseudonym",
    ),
]


def _summary_window(
    start: StartQ = None, end: EndQ = None, tz: TzQ = None, wearer_id: WearerOne = None
) -> _Window:
    return _Window(start, end, wearer_id, tz)


#: the summaries' query parameters: ``start``, ``end``, ``tz``, ``wearer_id`` (one wearer)
SummaryQ = Annotated[_Window, Depends(_summary_window)]


@router.get(
    "/summary/daily",
    summary="episode counts per local day, each with its wear time",
    tags=["summaries"],
)
def daily_summary(
    request: Request,
    scope: Annotated[Scope, scoped(*ALL)],
    q: SummaryQ,
) -> dict[str, Any]:
    return _summary(request, scope, "daily", q)


@router.get(
    "/summary/hourly",
    summary="episode counts per local hour, with the day's wear time",
    tags=["summaries"],
)
def hourly_summary(
    request: Request,
    scope: Annotated[Scope, scoped(*ALL)],
    q: SummaryQ,
) -> dict[str, Any]:
    return _summary(request, scope, "hourly", q)


@router.get(
    "/summary/weekly",
    summary="episode counts per ISO week (local days), with wear time",
    tags=["summaries"],
)
def weekly_summary(
    request: Request,
    scope: Annotated[Scope, scoped(*ALL)],
    q: SummaryQ,
) -> dict[str, Any]:
    return _summary(request, scope, "weekly", q)


# --------------------------------------------------------------------------- recordings


def _scoped_recording(request: Request, scope: Scope, recording_id: str) -> Any:
    index = request.app.state.recordings
    try:
        owner = index.wearer_of(recording_id)
    except NotFoundError:
        owner = None  # the same answer as for another wearer's recording
    if owner is None or owner not in scope.visible:
        raise NotFoundError(f"no recording with id {recording_id[:128]!r}", reason="recording")
    return index.open(recording_id)


@router.get("/recordings", summary="recordings on this machine", tags=["recordings"])
def list_recordings(
    request: Request,
    scope: Annotated[Scope, scoped(*READERS)],
    wearer_id: WearerQ = None,
) -> dict[str, Any]:
    rows = request.app.state.recordings.list(scope.wearers(wearer_id))
    return {"count": len(rows), "recordings": scope.out(rows)}


@router.get("/recordings/{recording_id}", summary="one recording's streams", tags=["recordings"])
def get_recording(
    request: Request,
    scope: Annotated[Scope, scoped(*READERS)],
    recording_id: str,
) -> dict[str, Any]:
    rec = _scoped_recording(request, scope, recording_id)
    return {
        "id": recording_id,
        "start_ns": rec.start_ns,
        "end_ns": rec.end_ns,
        "recovered": rec.recovered,
        "streams": [
            {
                "key": key,
                **spec.to_dict(),
                "n_samples": rec.n_samples(key),
                "gaps": [g.to_dict() for g in rec.gaps(key)],
            }
            for key, spec in sorted(rec.specs.items())
        ],
    }


def _jsonable(a: np.ndarray) -> list[float | None]:
    out = a.astype(np.float64).round(6).tolist()
    return [None if v != v else v for v in out]  # NaN -> null


@router.get(
    "/recordings/{recording_id}/signal",
    summary="a stream decimated for display: min/max per time bucket",
    tags=["recordings"],
)
def recording_signal(
    request: Request,
    scope: Annotated[Scope, scoped(*READERS)],
    recording_id: str,
    stream: Annotated[
        str | None,
        Query(max_length=200, description="stream key, e.g. 'myo.emg' (default: the first EMG)"),
    ] = None,
    start: StartQ = None,
    end: EndQ = None,
    buckets: Annotated[int, Query(ge=1, le=MAX_BUCKETS)] = 2000,
) -> Response:
    rec = _scoped_recording(request, scope, recording_id)
    if stream is None:
        keys = sorted(rec.specs)
        emg = [k for k in keys if rec.specs[k].kind == "emg"]
        if not keys:
            raise ConfigError(f"recording {recording_id!r} has no streams")
        stream = (emg or keys)[0]
    if stream not in rec.specs:
        raise ConfigError(
            f"'stream' must be one of {sorted(rec.specs)} for this recording (got {stream!r})"
        )
    a, b = parse_range(start, end)
    a = rec.start_ns if a is None else a
    b = rec.end_ns if b is None else b
    if b <= a:
        raise ConfigError(f"'end' must be after 'start' (got start={a}, end={b})")
    # the stream's min/max pyramid when buckets are wide, raw samples when zoomed in
    edges, lo, hi, counts = rec.minmax_buckets(stream, a, b, buckets)
    spec = rec.specs[stream]
    return _json(
        {
            "recording_id": recording_id,
            "stream": stream,
            "units": spec.units,
            "rate_hz": spec.rate_hz,
            "start_ns": a,
            "end_ns": b,
            "buckets": buckets,
            "edges_ns": edges.tolist(),
            "counts": counts.tolist(),
            "channels": [
                {"name": ch, "min": _jsonable(lo[:, j]), "max": _jsonable(hi[:, j])}
                for j, ch in enumerate(spec.channels)
            ],
            "gaps": [g.to_dict() for g in rec.gaps(stream) if g.end_ns > a and g.start_ns < b],
        }
    )


@router.get(
    "/recordings/{recording_id}/export.edf",
    summary="the recording as EDF+ with episodes as annotations",
    tags=["exports"],
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def export_edf(
    request: Request,
    scope: Annotated[Scope, scoped(*READERS)],
    recording_id: str,
) -> Response:
    rec = _scoped_recording(request, scope, recording_id)
    owner = request.app.state.recordings.wearer_of(recording_id)
    eps = _store(request).episodes(start_ns=rec.start_ns, end_ns=rec.end_ns, wearer_ids=[owner])
    return _attachment(
        recording_edf(rec, eps), "application/octet-stream", f"{_safe(recording_id)}.edf"
    )


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80]


# --------------------------------------------------------------------------- labels


class LabelIn(BaseModel):
    """A new label (a researcher's annotation)."""

    model_config = ConfigDict(extra="forbid")
    start_ns: int
    end_ns: int
    type: str = Field("unknown", description=f"one of {list(EPISODE_TYPES)}")
    recording_id: str | None = None
    episode_id: str | None = None
    is_false_alarm: bool = False
    note: str = ""
    wearer_id: str | None = Field(
        None,
        max_length=128,
        description="whose data (pseudonym); default: the episode's or recording's wearer, "
        "or the only visible one",
    )


class LabelPatch(BaseModel):
    """Fields to change on a label; absent fields stay."""

    model_config = ConfigDict(extra="forbid")
    start_ns: int | None = None
    end_ns: int | None = None
    type: str | None = None
    is_false_alarm: bool | None = None
    note: str | None = None


OriginQ = Annotated[
    Literal["researcher", "self-report"] | None,
    Query(description="only researcher labels or only the wearers' self-reports"),
]


@router.get("/labels", summary="labels, by recording and/or time", tags=["labels"])
def list_labels(
    request: Request,
    scope: Annotated[Scope, scoped(*READERS)],
    recording_id: Annotated[str | None, Query(max_length=128)] = None,
    start: StartQ = None,
    end: EndQ = None,
    wearer_id: WearerQ = None,
    origin: OriginQ = None,
) -> dict[str, Any]:
    q = _Window(start, end, wearer_id)
    fetch = _store(request).labels
    return _listing("labels", fetch, scope, q, recording_id=recording_id, origin=origin)


@router.post("/labels", status_code=201, summary="create a label", tags=["labels"])
def create_label(
    request: Request,
    scope: Annotated[Scope, scoped("researcher")],
    body: LabelIn,
) -> dict[str, Any]:
    d = body.model_dump()
    owners = []
    if d["episode_id"] is not None:
        owners.append(_scoped_episode(request, scope, d["episode_id"]).wearer_id)
    if d["recording_id"] is not None:
        owner = request.app.state.recordings.wearer_of(d["recording_id"])
        scope.check(owner, "recording", d["recording_id"])
        owners.append(owner)
    if d["wearer_id"] is not None:
        owners.append(scope.wearers(d["wearer_id"])[0])
    if len(set(owners)) > 1:
        raise ConfigError(
            "the label's episode, recording and wearer_id belong to different wearers"
        )
    d["wearer_id"] = owners[0] if owners else scope.one(None)
    label = Label(id=new_id(), labeler=scope.principal.name, origin="researcher", **d)
    _store(request).add_label(label)
    return scope.out(label.to_dict())


def _scoped_label(request: Request, scope: Scope, label_id: str) -> Label:
    label = _scoped_get(scope, _store(request).get_label, "label", label_id)
    if label.origin != "researcher":
        raise StoreError(
            f"label {label_id!r} is a wearer's self-report: it is their answer and cannot "
            "be edited or deleted by a researcher",
            reason="conflict",
        )
    return label


@router.patch("/labels/{label_id}", summary="edit a label", tags=["labels"])
def edit_label(
    request: Request,
    scope: Annotated[Scope, scoped("researcher")],
    label_id: str,
    body: LabelPatch,
) -> dict[str, Any]:
    old = _scoped_label(request, scope, label_id)
    new = _patched(old, body, labeler=scope.principal.name)
    _store(request).update_label(new)
    return scope.out(new.to_dict())


@router.delete("/labels/{label_id}", status_code=204, summary="delete a label", tags=["labels"])
def delete_label(
    request: Request,
    scope: Annotated[Scope, scoped("researcher")],
    label_id: str,
) -> Response:
    _scoped_label(request, scope, label_id)
    _store(request).delete_label(label_id)
    return Response(status_code=204)


# --------------------------------------------------------------------------- diary


class DiaryIn(BaseModel):
    """A diary entry written by the wearer."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description=f"one of {list(DIARY_KINDS)}")
    text: str = ""
    dose: str | None = None
    t_ns: int | None = Field(None, description="when (UTC ns); default now")
    wearer_id: str | None = Field(
        None, max_length=128, description="must be the token's own wearer (default)"
    )


def _own(scope: Scope, wearer_id: str | None) -> str:
    """The wearer token's own wearer; another wearer named in a body is a 404."""
    if wearer_id is not None:
        scope.wearers(wearer_id)
    return scope.own()


@router.get("/diary", summary="diary entries in a time range", tags=["diary"])
def list_diary(
    request: Request,
    scope: Annotated[Scope, scoped("wearer", "clinician")],
    q: WindowQ,
) -> dict[str, Any]:
    return _listing("entries", _store(request).diary, scope, q)


@router.post("/diary", status_code=201, summary="add a diary entry", tags=["diary"])
def add_diary(
    request: Request,
    scope: Annotated[Scope, scoped("wearer")],
    body: DiaryIn,
) -> dict[str, Any]:
    d = body.model_dump()
    d["wearer_id"] = _own(scope, d["wearer_id"])
    if d["t_ns"] is None:
        d["t_ns"] = time.time_ns()
    entry = DiaryEntry(id=new_id(), **d)
    _store(request).add_diary(entry)
    return entry.to_dict()


class DiaryPatch(BaseModel):
    """Fields to change on a diary entry; absent fields stay."""

    model_config = ConfigDict(extra="forbid")
    kind: str | None = None
    text: str | None = None
    dose: str | None = None
    t_ns: int | None = None


def _scoped_diary(request: Request, scope: Scope, entry_id: str) -> DiaryEntry:
    return _scoped_get(scope, _store(request).get_diary, "diary entry", entry_id)


@router.patch("/diary/{entry_id}", summary="edit a diary entry", tags=["diary"])
def edit_diary(
    request: Request,
    scope: Annotated[Scope, scoped("wearer")],
    entry_id: str,
    body: DiaryPatch,
) -> dict[str, Any]:
    new = _patched(_scoped_diary(request, scope, entry_id), body)
    _store(request).update_diary(new)
    return new.to_dict()


@router.delete("/diary/{entry_id}", status_code=204, summary="delete a diary entry", tags=["diary"])
def delete_diary(
    request: Request,
    scope: Annotated[Scope, scoped("wearer")],
    entry_id: str,
) -> Response:
    _scoped_diary(request, scope, entry_id)
    _store(request).delete_diary(entry_id)
    return Response(status_code=204)


# --------------------------------------------------------------------------- signal loss


@router.get(
    "/signal-losses",
    summary="intervals without usable signal (devices off, out of range, ...)",
    tags=["episodes"],
)
def list_signal_losses(
    request: Request,
    scope: Annotated[Scope, scoped(*ALL)],
    q: WindowQ,
) -> dict[str, Any]:
    return _listing("signal_losses", _store(request).signal_losses, scope, q)


# --------------------------------------------------------------------------- prompts


class OutcomeIn(BaseModel):
    """What the wearer did with a prompt."""

    model_config = ConfigDict(extra="forbid")
    outcome: Literal["done", "dismissed", "ignored", "snoozed"]


class PromptIn(BaseModel):
    """An exercise the wearer started themselves."""

    model_config = ConfigDict(extra="forbid")
    exercise_id: str = "paced-breathing"
    wearer_id: str | None = Field(
        None, max_length=128, description="must be the token's own wearer (default)"
    )


@router.get("/prompts", summary="prompts offered and their outcomes", tags=["prompts"])
def list_prompts(
    request: Request,
    scope: Annotated[Scope, scoped(*ALL)],
    q: WindowQ,
) -> dict[str, Any]:
    return _listing("prompts", _store(request).prompts, scope, q)


@router.post("/prompts", status_code=201, summary="start an exercise on demand", tags=["prompts"])
def start_prompt(
    request: Request,
    scope: Annotated[Scope, scoped("wearer")],
    body: PromptIn,
) -> dict[str, Any]:
    p = Prompt(
        id=new_id(),
        t_ns=time.time_ns(),
        reason="on_demand",
        exercise_id=body.exercise_id,
        wearer_id=_own(scope, body.wearer_id),
    )
    _store(request).add_prompt(p)
    return p.to_dict()


@router.post(
    "/prompts/{prompt_id}/outcome", summary="record what became of a prompt", tags=["prompts"]
)
def set_prompt_outcome(
    request: Request,
    scope: Annotated[Scope, scoped("wearer")],
    prompt_id: str,
    body: OutcomeIn,
) -> dict[str, Any]:
    store = _store(request)
    _scoped_get(scope, store.get_prompt, "prompt", prompt_id)
    store.set_prompt_outcome(prompt_id, body.outcome, time.time_ns())
    prompt = store.get_prompt(prompt_id)
    _publish(
        request,
        {
            "type": "prompt_outcome",
            "wearer_id": prompt.wearer_id,
            "prompt_id": prompt_id,
            "outcome": body.outcome,
        },
    )
    return prompt.to_dict()


# --------------------------------------------------------------------------- exports


def _export_eps(request: Request, scope: Scope, flt: EpisodeFilter) -> list[Episode]:
    return [scope.episode(e) for e in _episodes(request, scope, flt)]


@router.get(
    "/export/episodes.csv",
    summary="episodes as CSV",
    tags=["exports"],
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_csv(
    request: Request,
    scope: Annotated[Scope, scoped(*ALL)],
    flt: EpisodeFilterQ,
) -> Response:
    eps = _export_eps(request, scope, flt)
    return _attachment(episodes_csv(eps), "text/csv; charset=utf-8", "episodes.csv")


@router.get(
    "/export/episodes.parquet",
    summary="episodes as Parquet",
    tags=["exports"],
    response_class=Response,
    responses={200: {"content": {"application/vnd.apache.parquet": {}}}},
)
def export_parquet(
    request: Request,
    scope: Annotated[Scope, scoped(*ALL)],
    flt: EpisodeFilterQ,
) -> Response:
    eps = _export_eps(request, scope, flt)
    return _attachment(episodes_parquet(eps), "application/vnd.apache.parquet", "episodes.parquet")


@router.get(
    "/export/fhir",
    summary="episodes as a FHIR R4 Bundle (collection) of Observations",
    tags=["exports"],
)
def export_fhir(
    request: Request,
    scope: Annotated[Scope, scoped(*ALL)],
    flt: EpisodeFilterQ,
) -> JSONResponse:
    eps = _export_eps(request, scope, flt)
    return JSONResponse(episodes_fhir_bundle(eps), media_type="application/fhir+json")
