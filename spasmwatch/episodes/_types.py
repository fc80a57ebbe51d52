"""Episode and Label: the spasm records that the detector, labelers and the store share.

Both are frozen and validated at construction. Times are int ns since the Unix epoch (UTC).
An invalid field raises :class:`~spasmwatch.errors.StoreError` (``reason="invalid"``) whose
message names the field, what was expected and what came: these values are the records of
the event store, and the API maps that error to a 4xx answer in one place.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from spasmwatch.errors import StoreError

__all__ = [
    "EPISODE_TYPES",
    "LABEL_ORIGINS",
    "SEVERITIES",
    "Episode",
    "Label",
    "new_id",
    "severity_rank",
]

#: Spasm types. ``unknown`` when the detector (or the wearer) cannot tell.
EPISODE_TYPES = ("tonic", "clonic", "mixed", "myoclonic", "unknown")
#: Severity names in increasing order; their rank is 1, 2, 3.
SEVERITIES = ("mild", "moderate", "severe")
#: Who made a label.
LABEL_ORIGINS = ("researcher", "self-report")

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")
_SOURCE_RE = re.compile(r"^(auto|self-report|[a-z][a-z0-9_\-]*:[^\s\x00-\x1f]{1,100})$")
_MAX_TEXT = 4000


def new_id() -> str:
    """A fresh random record id (UUID4, 36 characters)."""
    return str(uuid.uuid4())


def severity_rank(severity: str | int) -> int:
    """1, 2 or 3 for ``"mild"``, ``"moderate"``, ``"severe"`` (ints 1-3 pass through)."""
    if isinstance(severity, str) and severity in SEVERITIES:
        return SEVERITIES.index(severity) + 1
    if isinstance(severity, int | np.integer) and not isinstance(severity, bool):
        if 1 <= int(severity) <= 3:
            return int(severity)
    raise _invalid("severity", f"one of {list(SEVERITIES)} or 1-3", severity)


# --------------------------------------------------------------------------- validators
# Shared by the other record types of the store (``spasmwatch.store._values``).


def _invalid(what: str, expected: str, got: object) -> StoreError:
    return StoreError(
        f"{what} must be {expected} (got {got!r} that is a {type(got).__name__})",
        reason="invalid",
    )


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def _check_id(obj: object, name: str, *, optional: bool = False) -> None:
    v = getattr(obj, name)
    if v is None and optional:
        return
    if not isinstance(v, str) or not _ID_RE.match(v):
        raise _invalid(
            f"{type(obj).__name__}.{name}",
            "an id of 1-128 letters, digits, '_', '.', ':' or '-'"
            + (" (or None)" if optional else ""),
            v,
        )


def _check_int(obj: object, name: str, *, optional: bool = False, minimum: int | None = None):
    v = getattr(obj, name)
    if v is None and optional:
        return
    if isinstance(v, np.integer):
        v = int(v)
        _set(obj, name, v)
    if isinstance(v, bool) or not isinstance(v, int):
        what = "an int" + (" (or None)" if optional else "")
        raise _invalid(f"{type(obj).__name__}.{name}", what, v)
    if minimum is not None and v < minimum:
        raise _invalid(f"{type(obj).__name__}.{name}", f">= {minimum}", v)
    if not -(2**63) <= v < 2**63:
        raise _invalid(f"{type(obj).__name__}.{name}", "within int64", v)


def _check_float(
    obj: object,
    name: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    optional: bool = False,
) -> None:
    v = getattr(obj, name)
    if v is None and optional:
        return
    if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
        raise _invalid(f"{type(obj).__name__}.{name}", "a number", v)
    v = float(v)
    if not math.isfinite(v):
        raise _invalid(f"{type(obj).__name__}.{name}", "a finite number", v)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        rng = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        raise _invalid(f"{type(obj).__name__}.{name}", rng, v)
    _set(obj, name, v)


def _check_choice(obj: object, name: str, choices: tuple[str, ...], *, optional: bool = False):
    v = getattr(obj, name)
    if v is None and optional:
        return
    if v not in choices:
        raise _invalid(f"{type(obj).__name__}.{name}", f"one of {list(choices)}", v)


def _check_text(
    obj: object,
    name: str,
    *,
    optional: bool = False,
    allow_empty: bool = True,
    max_len: int = _MAX_TEXT,
) -> None:
    v = getattr(obj, name)
    if v is None and optional:
        return
    if not isinstance(v, str) or len(v) > max_len or "\x00" in v or (not allow_empty and not v):
        expected = f"a{'' if allow_empty else ' non-empty'} string of at most {max_len} characters"
        raise _invalid(f"{type(obj).__name__}.{name}", expected, v)


def _check_bool(obj: object, name: str) -> None:
    v = getattr(obj, name)
    if isinstance(v, np.bool_):
        _set(obj, name, bool(v))
    elif not isinstance(v, bool):
        raise _invalid(f"{type(obj).__name__}.{name}", "True or False", v)


def _check_interval(obj: object) -> None:
    if obj.end_ns < obj.start_ns:  # type: ignore[attr-defined]
        raise StoreError(
            f"{type(obj).__name__}.end_ns ({obj.end_ns}) must be >= start_ns "  # type: ignore[attr-defined]
            f"({obj.start_ns})",  # type: ignore[attr-defined]
            reason="invalid",
        )


def _to_dict(obj: object) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}  # type: ignore[arg-type]


def _from_dict(cls: type, d: dict[str, Any]) -> Any:
    names = {f.name for f in fields(cls)}
    unknown = set(d) - names
    if unknown:
        raise StoreError(
            f"{cls.__name__} has no field(s) {sorted(unknown)}; known: {sorted(names)}",
            reason="invalid",
        )
    return cls(**d)


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class Episode:
    """One spasm episode, detected automatically or reported.

    Parameters
    ----------
    id : str
        Record id (a UUID4 from :func:`new_id` for new episodes). A live onset and the
        final update of the same episode share the id (see ``final``).
    start_ns, end_ns : int
        Onset and end, UTC ns since the Unix epoch; ``end_ns >= start_ns``. While the
        episode is still going on (``final=False``), ``end_ns`` is the latest time it was
        seen active.
    type : str
        One of :data:`EPISODE_TYPES`.
    peak_intensity : float
        Peak envelope as a multiple of the wearer's resting baseline (``>= 0``, unitless).
    severity : str
        One of :data:`SEVERITIES`; ints 1-3 are accepted and converted.
    confidence : float
        Detector confidence in ``[0, 1]`` (1.0 for a human label or self-report).
    source : str
        ``"auto"`` (the detector), ``"self-report"``, or ``"<role>:<name>"`` for a labeler,
        e.g. ``"researcher:alice"``.
    wearer_id : str
        Whose episode (``"default"`` on a single-user machine).
    model_id : str or None
        Id of the model that detected it (``None`` for human sources).
    device, placement : str or None
        Device instance and where it sat, e.g. ``"myo"`` and ``"gastrocnemius-left"``.
    recording_id : str or None
        The recording it was detected in, if one was being written.
    final : bool
        ``False`` for a live onset that will be updated (same ``id``) when it ends.
    """

    id: str
    start_ns: int
    end_ns: int
    type: str = "unknown"
    peak_intensity: float = 0.0
    severity: str = "mild"
    confidence: float = 1.0
    source: str = "auto"
    wearer_id: str = "default"
    model_id: str | None = None
    device: str | None = None
    placement: str | None = None
    recording_id: str | None = None
    final: bool = True

    def __post_init__(self) -> None:
        _check_id(self, "id")
        _check_id(self, "wearer_id")
        _check_int(self, "start_ns")
        _check_int(self, "end_ns")
        _check_interval(self)
        _check_choice(self, "type", EPISODE_TYPES)
        _check_float(self, "peak_intensity", lo=0.0)
        if not isinstance(self.severity, str):
            _set(self, "severity", SEVERITIES[severity_rank(self.severity) - 1])
        _check_choice(self, "severity", SEVERITIES)
        _check_float(self, "confidence", lo=0.0, hi=1.0)
        if not isinstance(self.source, str) or not _SOURCE_RE.match(self.source):
            raise _invalid(
                "Episode.source", "'auto', 'self-report' or '<role>:<name>'", self.source
            )
        _check_text(self, "model_id", optional=True, allow_empty=False, max_len=200)
        _check_text(self, "device", optional=True, allow_empty=False, max_len=200)
        _check_text(self, "placement", optional=True, allow_empty=False, max_len=200)
        _check_id(self, "recording_id", optional=True)
        _check_bool(self, "final")

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return (self.end_ns - self.start_ns) / 1e9

    @property
    def severity_rank(self) -> int:
        """Severity as 1 (mild), 2 (moderate) or 3 (severe)."""
        return SEVERITIES.index(self.severity) + 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (field name -> value)."""
        return _to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Episode:
        """Inverse of :meth:`to_dict`; unknown keys are refused."""
        return _from_dict(cls, d)


@dataclass(frozen=True, slots=True)
class Label:
    """A human label on a stretch of time: a researcher's annotation or a self-report.

    Parameters
    ----------
    id : str
        Record id.
    start_ns, end_ns : int
        Labeled interval, UTC ns; ``end_ns >= start_ns``.
    type : str
        One of :data:`EPISODE_TYPES`.
    labeler : str
        Who labeled, e.g. ``"alice"`` (free text, no personal data please).
    origin : str
        ``"researcher"`` or ``"self-report"``.
    recording_id : str or None
        The recording it annotates; ``None`` for a self-report not tied to a recording.
    wearer_id : str
        Whose data.
    episode_id : str or None
        The detected episode this label confirms or rejects, if any.
    is_false_alarm : bool
        ``True`` marks ``episode_id`` (or this interval) as *not* a spasm.
    note : str
        Free text.
    """

    id: str
    start_ns: int
    end_ns: int
    type: str = "unknown"
    labeler: str = "wearer"
    origin: str = "researcher"
    recording_id: str | None = None
    wearer_id: str = "default"
    episode_id: str | None = None
    is_false_alarm: bool = False
    note: str = ""

    def __post_init__(self) -> None:
        _check_id(self, "id")
        _check_int(self, "start_ns")
        _check_int(self, "end_ns")
        _check_interval(self)
        _check_choice(self, "type", EPISODE_TYPES)
        _check_text(self, "labeler", allow_empty=False, max_len=100)
        _check_choice(self, "origin", LABEL_ORIGINS)
        _check_id(self, "recording_id", optional=True)
        _check_id(self, "wearer_id")
        _check_id(self, "episode_id", optional=True)
        _check_bool(self, "is_false_alarm")
        _check_text(self, "note")

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return (self.end_ns - self.start_ns) / 1e9

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (field name -> value)."""
        return _to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Label:
        """Inverse of :meth:`to_dict`; unknown keys are refused."""
        return _from_dict(cls, d)
