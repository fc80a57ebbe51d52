"""Row <-> value-object mapping and the SQL text of the event store's plain CRUD statements.

Each table's columns are listed once, in schema order, as the names of the value object's
fields; the column lists, ``INSERT`` / ``UPDATE`` statements, parameter tuples and the value
objects rebuilt from rows all derive from those lists. Only names from this module ever reach
the SQL text; values always travel as parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from spasmwatch.episodes._types import SEVERITIES, Episode, Label
from spasmwatch.store._values import (
    Device,
    DiaryEntry,
    Followup,
    Prompt,
    SelfReport,
    SignalLoss,
)

EPISODE_FIELDS = (
    "id",
    "wearer_id",
    "start_ns",
    "end_ns",
    "type",
    "peak_intensity",
    "severity",
    "confidence",
    "source",
    "model_id",
    "device",
    "placement",
    "recording_id",
    "final",
)
LABEL_FIELDS = (
    "id",
    "wearer_id",
    "recording_id",
    "start_ns",
    "end_ns",
    "type",
    "labeler",
    "origin",
    "episode_id",
    "is_false_alarm",
    "note",
)
FOLLOWUP_FIELDS = (
    "window_s",
    "episodes_before",
    "episodes_after",
    "active_s_before",
    "active_s_after",
    "lost_s_before",
    "lost_s_after",
)
PROMPT_FIELDS = (
    "id",
    "wearer_id",
    "t_ns",
    "reason",
    "episode_id",
    "exercise_id",
    "outcome",
    "outcome_t_ns",
)
FOLLOWUP_COLUMNS = tuple(f"fu_{n}" for n in FOLLOWUP_FIELDS)
DIARY_FIELDS = ("id", "wearer_id", "t_ns", "kind", "text", "dose")
DEVICE_FIELDS = (
    "id",
    "profile",
    "name",
    "address",
    "battery_pct",
    "firmware",
    "placement_muscle",
    "placement_side",
    "wearer_id",
    "last_seen_ns",
)
LOSS_FIELDS = ("id", "wearer_id", "device", "stream", "start_ns", "end_ns", "cause", "recording_id")
SELF_REPORT_FIELDS = (
    "id",
    "wearer_id",
    "t_ns",
    "kind",
    "answer",
    "episode_id",
    "label_id",
    "severity",
    "body_site",
    "trigger",
    "trigger_text",
)
WEARER_FIELDS = ("id", "pseudonym", "display_name", "created_ns")
RECORDING_FIELDS = ("id", "path", "start_ns", "end_ns", "wearer_id")
PLACEMENT_COLUMNS = "device, muscle, side, since_ns, until_ns, wearer_id"

EP_COLS = ", ".join(EPISODE_FIELDS)
LABEL_COLS = ", ".join(LABEL_FIELDS)
PROMPT_COLS = ", ".join(PROMPT_FIELDS + FOLLOWUP_COLUMNS)
DIARY_COLS = ", ".join(DIARY_FIELDS)
DEVICE_COLS = ", ".join(DEVICE_FIELDS)
LOSS_COLS = ", ".join(LOSS_FIELDS)
SR_COLS = ", ".join(SELF_REPORT_FIELDS)
WEARER_COLS = ", ".join(WEARER_FIELDS)


def insert_sql(
    table: str, columns: Sequence[str], *, verb: str = "INSERT", update: Sequence[str] = ()
) -> str:
    """``{verb} INTO table (columns) VALUES (?, ...)``; with ``update``, an upsert on ``id``
    that sets those columns from the new row (the row keeps its id, so no cascade fires)."""
    sql = f"{verb} INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    if update:
        sets = ", ".join(f"{c} = excluded.{c}" for c in update)
        sql += f" ON CONFLICT (id) DO UPDATE SET {sets}"
    return sql


def update_sql(table: str, columns: Sequence[str]) -> str:
    """``UPDATE table SET c = ?, ... WHERE id = ?`` (the id parameter comes last)."""
    return f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in columns)} WHERE id = ?"


def params(
    obj: object, fields: Sequence[str], conv: Mapping[str, Callable[[Any], Any]] | None = None
) -> tuple[Any, ...]:
    """The values of ``obj``'s ``fields`` in order, each through ``conv[field]`` if given."""
    if not conv:
        return tuple(getattr(obj, f) for f in fields)
    return tuple(conv[f](getattr(obj, f)) if f in conv else getattr(obj, f) for f in fields)


def from_row(
    cls: Callable[..., Any],
    fields: Sequence[str],
    row: Sequence[Any],
    conv: Mapping[str, Callable[[Any], Any]] | None = None,
) -> Any:
    """``cls(**{field: value})`` from a row in ``fields`` order (validated by ``cls``)."""
    kw = dict(zip(fields, row, strict=False))
    for name, f in (conv or {}).items():
        kw[name] = f(kw[name])
    return cls(**kw)


def rank_or_none(severity: str | None) -> int | None:
    """Severity name -> stored rank 1-3 (``None`` passes)."""
    return None if severity is None else SEVERITIES.index(severity) + 1


def severity_or_none(rank: int | None) -> str | None:
    """Stored rank 1-3 -> severity name (``None`` passes)."""
    return None if rank is None else SEVERITIES[rank - 1]


_new_object = object.__new__
_setattr = object.__setattr__


def episode(r: Sequence[Any]) -> Episode:
    """Rebuild an Episode from a row without re-validating it.

    Rows were validated on the way in (Episode.__post_init__ plus the table's STRICT types
    and CHECK constraints); skipping a second validation makes the year-long timeline query
    about three times faster.
    """
    ep = _new_object(Episode)
    for name, value in zip(EPISODE_FIELDS, r, strict=False):
        _setattr(ep, name, value)
    _setattr(ep, "severity", SEVERITIES[r[6] - 1])
    _setattr(ep, "final", bool(r[13]))
    return ep


_BOOL_FA = {"is_false_alarm": bool}
_SEVERITY_IN = {"severity": severity_or_none}
_EPISODE_OUT = {"severity": rank_or_none, "final": int}
_LABEL_OUT = {"is_false_alarm": int}
_SR_OUT = {"severity": rank_or_none}


def label(r: Sequence[Any]) -> Label:
    return from_row(Label, LABEL_FIELDS, r, _BOOL_FA)


def prompt(r: Sequence[Any]) -> Prompt:
    n = len(PROMPT_FIELDS)
    fu = None if r[n] is None else from_row(Followup, FOLLOWUP_FIELDS, r[n:])
    return Prompt(**dict(zip(PROMPT_FIELDS, r[:n], strict=True)), followup=fu)


def diary(r: Sequence[Any]) -> DiaryEntry:
    return from_row(DiaryEntry, DIARY_FIELDS, r)


def device(r: Sequence[Any]) -> Device:
    return from_row(Device, DEVICE_FIELDS, r)


def self_report(r: Sequence[Any]) -> SelfReport:
    return from_row(SelfReport, SELF_REPORT_FIELDS, r, _SEVERITY_IN)


def loss(r: Sequence[Any]) -> SignalLoss:
    return from_row(SignalLoss, LOSS_FIELDS, r)


def followup_params(f: Followup | None) -> tuple[Any, ...]:
    """The ``fu_*`` column values of a follow-up (all ``None`` without one)."""
    return (None,) * len(FOLLOWUP_FIELDS) if f is None else params(f, FOLLOWUP_FIELDS)


def prompt_params(p: Prompt) -> tuple[Any, ...]:
    return (*params(p, PROMPT_FIELDS), *followup_params(p.followup))


def episode_params(ep: Episode, stamp_ns: int) -> tuple[Any, ...]:
    return (*params(ep, EPISODE_FIELDS, _EPISODE_OUT), stamp_ns)


def label_params(lb: Label, stamp_ns: int) -> tuple[Any, ...]:
    return (*params(lb, LABEL_FIELDS, _LABEL_OUT), stamp_ns)


def self_report_params(r: SelfReport, stamp_ns: int) -> tuple[Any, ...]:
    return (*params(r, SELF_REPORT_FIELDS, _SR_OUT), stamp_ns)
