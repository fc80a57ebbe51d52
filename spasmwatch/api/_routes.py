"""The JSON endpoints under ``/api``. Each declares its roles with :func:`require`."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from spasmwatch.api._auth import AuthRoute, Principal, require
from spasmwatch.api._decimate import MAX_BUCKETS, minmax_buckets
from spasmwatch.api._exports import (
    episodes_csv,
    episodes_fhir_bundle,
    episodes_parquet,
    recording_edf,
)
from spasmwatch.api._params import TIME_HELP, parse_range, parse_tz
from spasmwatch.episodes._types import EPISODE_TYPES, SEVERITIES, Episode, Label, new_id
from spasmwatch.errors import ConfigError
from spasmwatch.store._values import DIARY_KINDS, DiaryEntry, Prompt

__all__ = ["router"]

router = APIRouter(prefix="/api", route_class=AuthRoute)

ALL = ("wearer", "clinician", "researcher")
READERS = ("clinician", "researcher")

Start = Annotated[str | None, Query(description=TIME_HELP)]
End = Annotated[str | None, Query(description=TIME_HELP + "; exclusive")]
WearerQ = Annotated[
    str | None, Query(max_length=128, description="only this wearer (default: all)")
]
MAX_LIST = 100_000


def _store(request: Request) -> Any:
    return request.app.state.store


def _labeler(who: Principal) -> str:
    return who.name


# --------------------------------------------------------------------------- who am I


@router.get("/me", summary="the caller's token name and role", tags=["auth"])
def me(
    who: Annotated[Principal, require(*ALL)],
) -> dict[str, str]:
    return {"name": who.name, "role": who.role}


# --------------------------------------------------------------------------- episodes


def _episode_query(
    request: Request,
    start: str | None,
    end: str | None,
    type_: list[str] | None,
    min_severity: str | None,
    source: str | None,
    wearer_id: str | None,
    limit: int | None,
    exclude_false_alarms: bool = False,
) -> list[Episode]:
    a, b = parse_range(start, end)
    if type_:
        bad = [t for t in type_ if t not in EPISODE_TYPES]
        if bad:
            raise ConfigError(f"'type' must be among {list(EPISODE_TYPES)} (got {bad[:5]})")
    if min_severity is not None and min_severity not in SEVERITIES:
        raise ConfigError(
            f"'min_severity' must be one of {list(SEVERITIES)} (got {min_severity!r})"
        )
    return list(
        _store(request).episodes(
            wearer_id=wearer_id,
            start_ns=a,
            end_ns=b,
            types=type_ or None,
            min_severity=min_severity,
            source=source,
            limit=limit,
            exclude_false_alarms=exclude_false_alarms,
        )
    )


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
LimitQ = Annotated[int | None, Query(ge=1, le=MAX_LIST, description="at most this many")]


@router.get("/episodes", summary="episodes overlapping a time range", tags=["episodes"])
def list_episodes(
    request: Request,
    _: Annotated[Principal, require(*ALL)],
    start: Start = None,
    end: End = None,
    type_: TypeQ = None,
    min_severity: SeverityQ = None,
    source: SourceQ = None,
    wearer_id: WearerQ = None,
    limit: LimitQ = None,
    exclude_false_alarms: Annotated[
        bool, Query(description="leave out episodes a label marks as a false alarm")
    ] = False,
) -> dict[str, Any]:
    eps = _episode_query(
        request, start, end, type_, min_severity, source, wearer_id, limit, exclude_false_alarms
    )
    return {"count": len(eps), "episodes": [e.to_dict() for e in eps]}


@router.get("/episodes/{episode_id}", summary="one episode", tags=["episodes"])
def get_episode(
    request: Request,
    _: Annotated[Principal, require(*ALL)],
    episode_id: str,
) -> dict[str, Any]:
    return _store(request).get_episode(episode_id).to_dict()


@router.post(
    "/episodes/{episode_id}/false-alarm",
    status_code=201,
    summary="label an automatic episode as a false alarm",
    tags=["labels"],
)
def mark_false_alarm(
    request: Request,
    who: Annotated[Principal, require("researcher")],
    episode_id: str,
) -> dict[str, Any]:
    store = _store(request)
    ep = store.get_episode(episode_id)
    label = Label(
        id=new_id(),
        start_ns=ep.start_ns,
        end_ns=ep.end_ns,
        type=ep.type,
        labeler=_labeler(who),
        origin="researcher",
        recording_id=ep.recording_id,
        wearer_id=ep.wearer_id,
        episode_id=ep.id,
        is_false_alarm=True,
        note="false alarm",
    )
    store.add_label(label)
    return label.to_dict()


# --------------------------------------------------------------------------- summaries


def _summary(
    request: Request, kind: str, start: str | None, end: str | None, tz: str | None, wearer_id: str
) -> dict[str, Any]:
    a, b = parse_range(start, end)
    now = time.time_ns()
    if b is None:
        b = now
    if a is None:
        a = b - (28 if kind == "daily" else 1) * 86_400 * 10**9
    span_days = (b - a) / 86_400e9
    if span_days > (3660 if kind == "daily" else 92):
        raise ConfigError(
            f"a {kind} summary covers at most {3660 if kind == 'daily' else 92} days "
            f"(got {span_days:.0f}); narrow 'start'/'end'"
        )
    zone = parse_tz(tz)
    fn = getattr(_store(request), f"{kind}_summary")
    buckets = fn(wearer_id, a, b, zone)
    return {
        "wearer_id": wearer_id,
        "tz": zone,
        "start_ns": a,
        "end_ns": b,
        "buckets": [x.to_dict() for x in buckets],
    }


TzQ = Annotated[str | None, Query(max_length=64, description="IANA time zone (default UTC)")]
WearerOne = Annotated[str, Query(max_length=128, description="whose summary")]


@router.get("/summary/daily", summary="episode counts per local day", tags=["summaries"])
def daily_summary(
    request: Request,
    _: Annotated[Principal, require(*ALL)],
    start: Start = None,
    end: End = None,
    tz: TzQ = None,
    wearer_id: WearerOne = "default",
) -> dict[str, Any]:
    return _summary(request, "daily", start, end, tz, wearer_id)


@router.get("/summary/hourly", summary="episode counts per local hour", tags=["summaries"])
def hourly_summary(
    request: Request,
    _: Annotated[Principal, require(*ALL)],
    start: Start = None,
    end: End = None,
    tz: TzQ = None,
    wearer_id: WearerOne = "default",
) -> dict[str, Any]:
    return _summary(request, "hourly", start, end, tz, wearer_id)


# --------------------------------------------------------------------------- recordings


@router.get("/recordings", summary="recordings on this machine", tags=["recordings"])
def list_recordings(
    request: Request,
    _: Annotated[Principal, require(*READERS)],
    wearer_id: WearerQ = None,
) -> dict[str, Any]:
    rows = request.app.state.recordings.list(wearer_id)
    return {"count": len(rows), "recordings": rows}


@router.get("/recordings/{recording_id}", summary="one recording's streams", tags=["recordings"])
def get_recording(
    request: Request,
    _: Annotated[Principal, require(*READERS)],
    recording_id: str,
) -> dict[str, Any]:
    rec = request.app.state.recordings.open(recording_id)
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
    _: Annotated[Principal, require(*READERS)],
    recording_id: str,
    stream: Annotated[
        str | None,
        Query(max_length=200, description="stream key, e.g. 'myo.emg' (default: the first EMG)"),
    ] = None,
    start: Start = None,
    end: End = None,
    buckets: Annotated[int, Query(ge=1, le=MAX_BUCKETS)] = 2000,
) -> dict[str, Any]:
    rec = request.app.state.recordings.open(recording_id)
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
    t, data = rec.read(stream, a, b)
    edges, lo, hi, counts = minmax_buckets(t, data, a, b, buckets)
    spec = rec.specs[stream]
    return {
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


@router.get(
    "/recordings/{recording_id}/export.edf",
    summary="the recording as EDF+ with episodes as annotations",
    tags=["exports"],
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def export_edf(
    request: Request,
    _: Annotated[Principal, require(*READERS)],
    recording_id: str,
) -> Response:
    rec = request.app.state.recordings.open(recording_id)
    eps = _store(request).episodes(start_ns=rec.start_ns, end_ns=rec.end_ns)
    body = recording_edf(rec, eps)
    return Response(
        body,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{_safe(recording_id)}.edf"'},
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
    wearer_id: str = "default"


class LabelPatch(BaseModel):
    """Fields to change on a label; absent fields stay."""

    model_config = ConfigDict(extra="forbid")
    start_ns: int | None = None
    end_ns: int | None = None
    type: str | None = None
    is_false_alarm: bool | None = None
    note: str | None = None


@router.get("/labels", summary="labels, by recording and/or time", tags=["labels"])
def list_labels(
    request: Request,
    _: Annotated[Principal, require(*READERS)],
    recording_id: Annotated[str | None, Query(max_length=128)] = None,
    start: Start = None,
    end: End = None,
    wearer_id: WearerQ = None,
) -> dict[str, Any]:
    a, b = parse_range(start, end)
    labels = _store(request).labels(
        wearer_id=wearer_id, recording_id=recording_id, start_ns=a, end_ns=b
    )
    return {"count": len(labels), "labels": [x.to_dict() for x in labels]}


@router.post("/labels", status_code=201, summary="create a label", tags=["labels"])
def create_label(
    request: Request,
    who: Annotated[Principal, require("researcher")],
    body: LabelIn,
) -> dict[str, Any]:
    label = Label(id=new_id(), labeler=_labeler(who), origin="researcher", **body.model_dump())
    _store(request).add_label(label)
    return label.to_dict()


@router.patch("/labels/{label_id}", summary="edit a label", tags=["labels"])
def edit_label(
    request: Request,
    who: Annotated[Principal, require("researcher")],
    label_id: str,
    body: LabelPatch,
) -> dict[str, Any]:
    store = _store(request)
    old = store.get_label(label_id)
    changes = {k: v for k, v in body.model_dump().items() if v is not None}
    new = Label.from_dict({**old.to_dict(), **changes, "labeler": _labeler(who)})
    store.update_label(new)
    return new.to_dict()


@router.delete("/labels/{label_id}", status_code=204, summary="delete a label", tags=["labels"])
def delete_label(
    request: Request,
    _: Annotated[Principal, require("researcher")],
    label_id: str,
) -> Response:
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
    wearer_id: str = "default"


@router.get("/diary", summary="diary entries in a time range", tags=["diary"])
def list_diary(
    request: Request,
    _: Annotated[Principal, require("wearer", "clinician")],
    start: Start = None,
    end: End = None,
    wearer_id: WearerQ = None,
) -> dict[str, Any]:
    a, b = parse_range(start, end)
    entries = _store(request).diary(wearer_id=wearer_id, start_ns=a, end_ns=b)
    return {"count": len(entries), "entries": [x.to_dict() for x in entries]}


@router.post("/diary", status_code=201, summary="add a diary entry", tags=["diary"])
def add_diary(
    request: Request,
    _: Annotated[Principal, require("wearer")],
    body: DiaryIn,
) -> dict[str, Any]:
    d = body.model_dump()
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


@router.patch("/diary/{entry_id}", summary="edit a diary entry", tags=["diary"])
def edit_diary(
    request: Request,
    _: Annotated[Principal, require("wearer")],
    entry_id: str,
    body: DiaryPatch,
) -> dict[str, Any]:
    store = _store(request)
    old = store.get_diary(entry_id)
    changes = {k: v for k, v in body.model_dump().items() if v is not None}
    new = DiaryEntry.from_dict({**old.to_dict(), **changes})
    store.update_diary(new)
    return new.to_dict()


@router.delete("/diary/{entry_id}", status_code=204, summary="delete a diary entry", tags=["diary"])
def delete_diary(
    request: Request,
    _: Annotated[Principal, require("wearer")],
    entry_id: str,
) -> Response:
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
    _: Annotated[Principal, require(*ALL)],
    start: Start = None,
    end: End = None,
    wearer_id: WearerQ = None,
) -> dict[str, Any]:
    a, b = parse_range(start, end)
    losses = _store(request).signal_losses(wearer_id=wearer_id, start_ns=a, end_ns=b)
    return {"count": len(losses), "signal_losses": [x.to_dict() for x in losses]}


# --------------------------------------------------------------------------- prompts


class OutcomeIn(BaseModel):
    """What the wearer did with a prompt."""

    model_config = ConfigDict(extra="forbid")
    outcome: Literal["done", "dismissed", "ignored", "snoozed"]


class PromptIn(BaseModel):
    """An exercise the wearer started themselves."""

    model_config = ConfigDict(extra="forbid")
    exercise_id: str = "paced-breathing"
    wearer_id: str = "default"


@router.get("/prompts", summary="prompts offered and their outcomes", tags=["prompts"])
def list_prompts(
    request: Request,
    _: Annotated[Principal, require(*ALL)],
    start: Start = None,
    end: End = None,
    wearer_id: WearerQ = None,
) -> dict[str, Any]:
    a, b = parse_range(start, end)
    prompts = _store(request).prompts(wearer_id=wearer_id, start_ns=a, end_ns=b)
    return {"count": len(prompts), "prompts": [p.to_dict() for p in prompts]}


@router.post("/prompts", status_code=201, summary="start an exercise on demand", tags=["prompts"])
def start_prompt(
    request: Request,
    _: Annotated[Principal, require("wearer")],
    body: PromptIn,
) -> dict[str, Any]:
    p = Prompt(
        id=new_id(),
        t_ns=time.time_ns(),
        reason="on_demand",
        exercise_id=body.exercise_id,
        wearer_id=body.wearer_id,
    )
    _store(request).add_prompt(p)
    return p.to_dict()


@router.post(
    "/prompts/{prompt_id}/outcome", summary="record what became of a prompt", tags=["prompts"]
)
def set_prompt_outcome(
    request: Request,
    _: Annotated[Principal, require("wearer")],
    prompt_id: str,
    body: OutcomeIn,
) -> dict[str, Any]:
    store = _store(request)
    store.set_prompt_outcome(prompt_id, body.outcome, time.time_ns())
    prompt = store.get_prompt(prompt_id)
    bus = request.app.state.bus
    if bus is not None:
        bus.publish_threadsafe(
            {"type": "prompt_outcome", "prompt_id": prompt_id, "outcome": body.outcome}
        )
    return prompt.to_dict()


# --------------------------------------------------------------------------- exports


def _attachment(body: bytes, media: str, name: str) -> Response:
    return Response(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.get(
    "/export/episodes.csv",
    summary="episodes as CSV",
    tags=["exports"],
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_csv(
    request: Request,
    _: Annotated[Principal, require(*ALL)],
    start: Start = None,
    end: End = None,
    type_: TypeQ = None,
    min_severity: SeverityQ = None,
    source: SourceQ = None,
    wearer_id: WearerQ = None,
) -> Response:
    eps = _episode_query(request, start, end, type_, min_severity, source, wearer_id, None)
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
    _: Annotated[Principal, require(*ALL)],
    start: Start = None,
    end: End = None,
    type_: TypeQ = None,
    min_severity: SeverityQ = None,
    source: SourceQ = None,
    wearer_id: WearerQ = None,
) -> Response:
    eps = _episode_query(request, start, end, type_, min_severity, source, wearer_id, None)
    return _attachment(episodes_parquet(eps), "application/vnd.apache.parquet", "episodes.parquet")


@router.get(
    "/export/fhir",
    summary="episodes as a FHIR R4 Bundle (collection) of Observations",
    tags=["exports"],
)
def export_fhir(
    request: Request,
    _: Annotated[Principal, require(*ALL)],
    start: Start = None,
    end: End = None,
    type_: TypeQ = None,
    min_severity: SeverityQ = None,
    source: SourceQ = None,
    wearer_id: WearerQ = None,
) -> JSONResponse:
    eps = _episode_query(request, start, end, type_, min_severity, source, wearer_id, None)
    return JSONResponse(episodes_fhir_bundle(eps), media_type="application/fhir+json")
