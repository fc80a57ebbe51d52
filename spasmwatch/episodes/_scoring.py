"""Event-level scoring of detected episodes against truth events (SzCORE-style any-overlap).

Per-window accuracy is not the measure of a spasm detector: a wearer and a clinician care
about *events*. This module scores one detector on many subjects the way wearable seizure
detectors are scored (Beniczky 2018; SzCORE ``timescoring``): sensitivity by any-overlap,
precision, F1, false alarms per 24 h of usable signal, and onset latency (alarm time minus
true onset), per spasm type and per subject, pooled and per-subject-averaged.

All times are seconds (float) on one time axis per subject (e.g. seconds since the start
of the recording); use :meth:`Detection.from_episode` to convert ns episodes.
The exact rules are written out in ``docs/evaluation-method.md``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spasmwatch.errors import ConfigError

__all__ = [
    "Detection",
    "Evaluation",
    "EventScore",
    "LatencyStats",
    "ScoringConfig",
    "SubjectAverage",
    "SubjectRecord",
    "TruthEvent",
    "TypeScore",
    "detections_from_updates",
    "evaluate",
    "score_subject",
]

_SECONDS_PER_DAY = 86400.0


def _finite(name: str, v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
        raise ConfigError(f"{name} must be a finite number of seconds (got {v!r})")
    f = float(v)
    if not math.isfinite(f):
        raise ConfigError(f"{name} must be a finite number of seconds (got {v!r})")
    return f


@dataclass(frozen=True, slots=True)
class TruthEvent:
    """One reference (true) spasm event.

    Parameters
    ----------
    start_s, end_s : float
        Onset and end in s on the subject's time axis; ``end_s > start_s``.
    type : str
        Spasm type (``"tonic"``, ``"clonic"``, ``"mixed"``, ``"myoclonic"`` ...).
    """

    start_s: float
    end_s: float
    type: str = "spasm"

    def __post_init__(self) -> None:
        s = _finite("TruthEvent.start_s", self.start_s)
        e = _finite("TruthEvent.end_s", self.end_s)
        if e <= s:
            raise ConfigError(f"TruthEvent.end_s ({e}) must be > start_s ({s})")
        object.__setattr__(self, "start_s", s)
        object.__setattr__(self, "end_s", e)
        if not isinstance(self.type, str) or not self.type:
            raise ConfigError(f"TruthEvent.type must be a non-empty string (got {self.type!r})")


@dataclass(frozen=True, slots=True)
class Detection:
    """One detected episode as the scorer sees it.

    Parameters
    ----------
    start_s, end_s : float
        Episode start and end in s; ``end_s >= start_s``.
    type : str or None
        Detected spasm type, ``None`` when the detector does not type episodes.
    alarm_s : float or None
        When the onset was *emitted* (the alarm a wearer would get), in s on the same axis.
        Latency is ``alarm_s - truth.start_s``. ``None`` when unknown (then the detection
        counts for sensitivity and precision but not for latency).
    """

    start_s: float
    end_s: float
    type: str | None = None
    alarm_s: float | None = None

    def __post_init__(self) -> None:
        s = _finite("Detection.start_s", self.start_s)
        e = _finite("Detection.end_s", self.end_s)
        if e < s:
            raise ConfigError(f"Detection.end_s ({e}) must be >= start_s ({s})")
        object.__setattr__(self, "start_s", s)
        object.__setattr__(self, "end_s", e)
        if self.alarm_s is not None:
            object.__setattr__(self, "alarm_s", _finite("Detection.alarm_s", self.alarm_s))

    @classmethod
    def from_episode(
        cls, episode: Any, *, alarm_ns: int | None = None, origin_ns: int = 0
    ) -> Detection:
        """Build from anything with ``start_ns``, ``end_ns`` and ``type`` (an ``Episode``).

        Parameters
        ----------
        episode
            The episode (int64 ns times).
        alarm_ns : int, optional
            When its onset was emitted (``EpisodeUpdate.alarm_ns``), UTC ns.
        origin_ns : int
            Time (UTC ns) that becomes 0 s.
        """
        alarm = None if alarm_ns is None else (alarm_ns - origin_ns) / 1e9
        return cls(
            (episode.start_ns - origin_ns) / 1e9,
            (episode.end_ns - origin_ns) / 1e9,
            getattr(episode, "type", None),
            alarm,
        )


@dataclass(frozen=True, slots=True)
class ScoringConfig:
    """How events are matched.

    Parameters
    ----------
    tolerance_before_s : float
        A truth event is extended this many s *before* its onset for matching (a detection
        that starts a little early still counts). Default 2 s: the detector places an
        episode start at the start of the first window above threshold, up to one window
        length (about 2 s) before the spasm itself.
    tolerance_after_s : float
        Extension after the truth event's end. Default 2 s (same reason, at the end).
    min_overlap : float
        Fraction (0..1) of the extended truth event that detections must cover for it to
        count as detected. 0 means *any* overlap (the SzCORE default).
    strict_fp : bool
        ``False`` (default): a detection is a false alarm when it overlaps no extended
        truth event. ``True``: SzCORE's rule, where a detection is also a false alarm when
        any part of it lies outside the extended truth events it detected.

    Notes
    -----
    :meth:`szcore` gives SzCORE's tolerances (30 s before, 60 s after, strict FP), which are
    sized for seizures lasting minutes; they would hide most false alarms between spasms
    that are seconds apart, so they are not the default. SzCORE's merging of events closer
    than 90 s and splitting of events longer than 300 s are not done here.
    """

    tolerance_before_s: float = 2.0
    tolerance_after_s: float = 2.0
    min_overlap: float = 0.0
    strict_fp: bool = False

    def __post_init__(self) -> None:
        for name in ("tolerance_before_s", "tolerance_after_s"):
            v = _finite(f"ScoringConfig.{name}", getattr(self, name))
            if v < 0:
                raise ConfigError(f"ScoringConfig.{name} must be >= 0 s (got {v})")
            object.__setattr__(self, name, v)
        mo = _finite("ScoringConfig.min_overlap", self.min_overlap)
        if not 0.0 <= mo < 1.0:
            raise ConfigError(f"ScoringConfig.min_overlap must be in [0, 1) (got {mo})")
        object.__setattr__(self, "min_overlap", mo)

    @classmethod
    def szcore(cls) -> ScoringConfig:
        """SzCORE ``EventScoring`` tolerances: 30 s before, 60 s after, strict FP rule."""
        return cls(30.0, 60.0, 0.0, True)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "tolerance_before_s": self.tolerance_before_s,
            "tolerance_after_s": self.tolerance_after_s,
            "min_overlap": self.min_overlap,
            "strict_fp": self.strict_fp,
        }


@dataclass(frozen=True, slots=True)
class SubjectRecord:
    """Everything needed to score one subject (wearer).

    Parameters
    ----------
    subject : str
        Subject (wearer) id.
    truth : sequence of TruthEvent
        Reference events.
    detections : sequence of Detection
        Detected episodes (final ones; retracted onsets are counted by ``n_retracted``).
    usable_duration_s : float
        Total duration of usable (non-gap) signal in s; the denominator of the false-alarm
        rate. ``>= 0``.
    gaps : sequence of (start_s, end_s)
        Intervals without usable signal. Truth events entirely inside them are excluded
        and reported as *not observable*.
    n_retracted : int
        Onset alarms the detector emitted and later retracted (episode shorter than its
        minimum duration); reported as a rate, not counted as false alarms.
    """

    subject: str
    truth: Sequence[TruthEvent]
    detections: Sequence[Detection]
    usable_duration_s: float
    gaps: Sequence[tuple[float, float]] = ()
    n_retracted: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "truth", tuple(self.truth))
        object.__setattr__(self, "detections", tuple(self.detections))
        if not all(isinstance(t, TruthEvent) for t in self.truth):
            raise ConfigError(f"SubjectRecord.truth of {self.subject!r} must hold TruthEvent")
        if not all(isinstance(d, Detection) for d in self.detections):
            raise ConfigError(f"SubjectRecord.detections of {self.subject!r} must hold Detection")
        dur = _finite("SubjectRecord.usable_duration_s", self.usable_duration_s)
        if dur < 0:
            raise ConfigError(f"SubjectRecord.usable_duration_s must be >= 0 (got {dur})")
        object.__setattr__(self, "usable_duration_s", dur)
        gaps = []
        for g in self.gaps:
            a, b = _finite("gap start", g[0]), _finite("gap end", g[1])
            if b < a:
                raise ConfigError(f"SubjectRecord.gaps: end {b} < start {a}")
            gaps.append((a, b))
        object.__setattr__(self, "gaps", tuple(sorted(gaps)))
        if isinstance(self.n_retracted, bool) or int(self.n_retracted) != self.n_retracted:
            raise ConfigError(f"SubjectRecord.n_retracted must be an int (got {self.n_retracted})")
        if self.n_retracted < 0:
            raise ConfigError(f"SubjectRecord.n_retracted must be >= 0 (got {self.n_retracted})")


# ----------------------------------------------------------------------------- results


def _nan_to_none(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def _fmt(v: float, spec: str = ".2f") -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


@dataclass(frozen=True, slots=True)
class LatencyStats:
    """Onset latency (alarm time - true onset, s) over detected truth events with an alarm.

    ``median_s`` and ``p90_s`` use linear interpolation between order statistics; all
    figures are NaN when ``n == 0``. Negative latencies (alarm before the labelled onset,
    possible with tolerance) are kept as they are.
    """

    n: int
    median_s: float
    p90_s: float
    mean_s: float
    min_s: float
    max_s: float

    @classmethod
    def of(cls, values: Iterable[float]) -> LatencyStats:
        """Statistics of a sequence of latencies in s."""
        a = np.asarray(list(values), dtype=np.float64)
        if a.size == 0:
            nan = float("nan")
            return cls(0, nan, nan, nan, nan, nan)
        return cls(
            int(a.size),
            float(np.median(a)),
            float(np.percentile(a, 90)),
            float(a.mean()),
            float(a.min()),
            float(a.max()),
        )

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (NaN becomes ``None``)."""
        return {
            k: _nan_to_none(getattr(self, k))
            for k in ("n", "median_s", "p90_s", "mean_s", "min_s", "max_s")
        }


@dataclass(frozen=True, slots=True)
class TypeScore:
    """Sensitivity for one truth type, and how often the detected type was right.

    Attributes
    ----------
    n_truth : int
        Observable truth events of this type.
    n_detected : int
        Of those, detected.
    sensitivity : float
        ``n_detected / n_truth`` (NaN when ``n_truth == 0``).
    n_type_correct : int
        Detected events whose best-overlapping detection carried the same type.
    type_accuracy : float
        ``n_type_correct / n_detected`` (NaN when nothing was detected).
    """

    type: str
    n_truth: int
    n_detected: int
    sensitivity: float
    n_type_correct: int
    type_accuracy: float

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (NaN becomes ``None``)."""
        return {
            "type": self.type,
            "n_truth": self.n_truth,
            "n_detected": self.n_detected,
            "sensitivity": _nan_to_none(self.sensitivity),
            "n_type_correct": self.n_type_correct,
            "type_accuracy": _nan_to_none(self.type_accuracy),
        }


def _ratio(a: int, b: int) -> float:
    return a / b if b > 0 else float("nan")


def _f1(sens: float, prec: float) -> float:
    if math.isnan(sens) or math.isnan(prec):
        return float("nan")
    if sens + prec == 0:
        return 0.0
    return 2 * sens * prec / (sens + prec)


@dataclass(frozen=True, slots=True)
class EventScore:
    """Event-level figures for one subject, or pooled over subjects.

    Attributes
    ----------
    n_truth : int
        Observable truth events (those not entirely inside gaps).
    n_not_observable : int
        Truth events entirely inside gaps (excluded from everything else).
    n_truth_detected : int
        Truth events overlapped by at least one detection (the TP of SzCORE).
    n_detections : int
        Detections scored.
    n_false_alarms : int
        Detections that are false alarms (see :class:`ScoringConfig`).
    sensitivity : float
        ``n_truth_detected / n_truth`` (NaN when there are no truth events).
    precision : float
        ``n_truth_detected / (n_truth_detected + n_false_alarms)`` as in SzCORE (NaN when
        both are 0).
    f1 : float
        Harmonic mean of sensitivity and precision (NaN when either is NaN).
    usable_hours : float
        Hours of usable signal.
    false_alarms_per_24h, false_alarms_per_hour : float
        False alarms per 24 h / per hour of usable signal (NaN for zero duration).
    retracted_per_24h : float
        Retracted onset alarms per 24 h of usable signal.
    latency : LatencyStats
        Onset latency over detected truth events.
    per_type : tuple of TypeScore
        One per truth type, sorted by type name.
    latencies_s : tuple of float
        The individual latencies (kept so that pooling is exact).
    """

    n_truth: int
    n_not_observable: int
    n_truth_detected: int
    n_detections: int
    n_false_alarms: int
    n_retracted: int
    usable_hours: float
    per_type: tuple[TypeScore, ...]
    latencies_s: tuple[float, ...] = field(repr=False)

    @property
    def sensitivity(self) -> float:
        """Fraction of observable truth events detected (NaN without truth events)."""
        return _ratio(self.n_truth_detected, self.n_truth)

    @property
    def precision(self) -> float:
        """SzCORE precision ``TP / (TP + FP)`` (NaN when both are 0)."""
        return _ratio(self.n_truth_detected, self.n_truth_detected + self.n_false_alarms)

    @property
    def f1(self) -> float:
        """Harmonic mean of sensitivity and precision."""
        return _f1(self.sensitivity, self.precision)

    @property
    def false_alarms_per_hour(self) -> float:
        """False alarms per hour of usable signal (NaN for zero duration)."""
        return self.n_false_alarms / self.usable_hours if self.usable_hours > 0 else float("nan")

    @property
    def false_alarms_per_24h(self) -> float:
        """False alarms per 24 h of usable signal (NaN for zero duration)."""
        return 24.0 * self.false_alarms_per_hour

    @property
    def retracted_per_24h(self) -> float:
        """Retracted onset alarms per 24 h of usable signal."""
        if self.usable_hours <= 0:
            return float("nan")
        return 24.0 * self.n_retracted / self.usable_hours

    @property
    def latency(self) -> LatencyStats:
        """Latency statistics."""
        return LatencyStats.of(self.latencies_s)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (NaN becomes ``None``)."""
        return {
            "n_truth": self.n_truth,
            "n_not_observable": self.n_not_observable,
            "n_truth_detected": self.n_truth_detected,
            "n_detections": self.n_detections,
            "n_false_alarms": self.n_false_alarms,
            "n_retracted": self.n_retracted,
            "sensitivity": _nan_to_none(self.sensitivity),
            "precision": _nan_to_none(self.precision),
            "f1": _nan_to_none(self.f1),
            "usable_hours": self.usable_hours,
            "false_alarms_per_24h": _nan_to_none(self.false_alarms_per_24h),
            "false_alarms_per_hour": _nan_to_none(self.false_alarms_per_hour),
            "retracted_per_24h": _nan_to_none(self.retracted_per_24h),
            "latency": self.latency.to_dict(),
            "per_type": [t.to_dict() for t in self.per_type],
        }


@dataclass(frozen=True, slots=True)
class SubjectAverage:
    """Figures averaged over subjects (each subject weighs the same).

    Each mean skips subjects where the figure is undefined (NaN); ``n_subjects_*`` say how
    many subjects went into each mean. The latency figure is the mean of the per-subject
    medians.
    """

    sensitivity: float
    precision: float
    f1: float
    false_alarms_per_24h: float
    latency_median_s: float
    n_subjects: int
    n_subjects_sensitivity: int
    n_subjects_precision: int

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (NaN becomes ``None``)."""
        return {
            "sensitivity": _nan_to_none(self.sensitivity),
            "precision": _nan_to_none(self.precision),
            "f1": _nan_to_none(self.f1),
            "false_alarms_per_24h": _nan_to_none(self.false_alarms_per_24h),
            "latency_median_s": _nan_to_none(self.latency_median_s),
            "n_subjects": self.n_subjects,
            "n_subjects_sensitivity": self.n_subjects_sensitivity,
            "n_subjects_precision": self.n_subjects_precision,
        }


def _nanmean(values: Sequence[float]) -> tuple[float, int]:
    ok = [v for v in values if not math.isnan(v)]
    return (float(np.mean(ok)) if ok else float("nan")), len(ok)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Result of :func:`evaluate`: pooled, subject-averaged and per-subject figures."""

    config: ScoringConfig
    pooled: EventScore
    subject_average: SubjectAverage
    per_subject: Mapping[str, EventScore]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (NaN becomes ``None``)."""
        return {
            "config": self.config.to_dict(),
            "pooled": self.pooled.to_dict(),
            "subject_average": self.subject_average.to_dict(),
            "per_subject": {k: v.to_dict() for k, v in self.per_subject.items()},
        }

    def to_markdown(self, *, title: str | None = None) -> str:
        """Markdown tables: overall (pooled and subject-averaged), per type, per subject.

        Undefined figures (NaN) are rendered ``n/a``.
        """
        p, a = self.pooled, self.subject_average
        lines: list[str] = []
        if title:
            lines += [f"### {title}", ""]
        lines += [
            "| aggregation | events | detected | sensitivity | precision | F1 "
            "| FA/24 h | latency median (s) | latency p90 (s) |",
            "|---|---|---|---|---|---|---|---|---|",
            f"| pooled | {p.n_truth} | {p.n_truth_detected} | {_fmt(p.sensitivity)} "
            f"| {_fmt(p.precision)} | {_fmt(p.f1)} | {_fmt(p.false_alarms_per_24h)} "
            f"| {_fmt(p.latency.median_s, '.1f')} | {_fmt(p.latency.p90_s, '.1f')} |",
            f"| mean of {a.n_subjects} subjects | | | {_fmt(a.sensitivity)} "
            f"| {_fmt(a.precision)} | {_fmt(a.f1)} | {_fmt(a.false_alarms_per_24h)} "
            f"| {_fmt(a.latency_median_s, '.1f')} | |",
            "",
            f"Usable signal: {p.usable_hours:.2f} h; false alarms: {p.n_false_alarms}; "
            f"retracted onsets: {p.n_retracted}; truth events not observable (in gaps): "
            f"{p.n_not_observable}.",
            "",
            "| truth type | events | detected | sensitivity | type correct |",
            "|---|---|---|---|---|",
        ]
        for t in p.per_type:
            lines.append(
                f"| {t.type} | {t.n_truth} | {t.n_detected} | {_fmt(t.sensitivity)} "
                f"| {_fmt(t.type_accuracy)} |"
            )
        lines += [
            "",
            "| subject | hours | events | detected | sensitivity | precision | FA/24 h "
            "| latency median (s) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, s in self.per_subject.items():
            lines.append(
                f"| {name} | {s.usable_hours:.2f} | {s.n_truth} | {s.n_truth_detected} "
                f"| {_fmt(s.sensitivity)} | {_fmt(s.precision)} "
                f"| {_fmt(s.false_alarms_per_24h)} | {_fmt(s.latency.median_s, '.1f')} |"
            )
        return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- scoring


def _merge(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _covered(a: float, b: float, merged: list[tuple[float, float]]) -> float:
    """Length of [a, b] covered by a merged (disjoint, sorted) interval list."""
    return sum(max(0.0, min(b, y) - max(a, x)) for x, y in merged)


def _overlaps(a0: float, a1: float, b0: float, b1: float) -> bool:
    lo, hi = max(a0, b0), min(a1, b1)
    if lo < hi:
        return True
    # a zero-length interval (an instantaneous detection) overlaps what contains it
    return (a0 == a1 or b0 == b1) and lo <= hi


def score_subject(record: SubjectRecord, config: ScoringConfig | None = None) -> EventScore:
    """Score one subject's detections against its truth events.

    Parameters
    ----------
    record : SubjectRecord
        Truth, detections, usable duration and gaps of one subject.
    config : ScoringConfig, optional
        Matching rules; defaults to ``ScoringConfig()``.

    Returns
    -------
    EventScore
    """
    cfg = config or ScoringConfig()
    gaps = _merge(record.gaps)
    observable: list[TruthEvent] = []
    n_hidden = 0
    for t in record.truth:
        if gaps and _covered(t.start_s, t.end_s, gaps) >= (t.end_s - t.start_s) - 1e-9:
            n_hidden += 1
        else:
            observable.append(t)

    dets = record.detections
    # extended truth intervals
    ext = [
        (t.start_s - cfg.tolerance_before_s, t.end_s + cfg.tolerance_after_s) for t in observable
    ]
    detected = [False] * len(observable)
    latencies: list[float] = []
    type_ok = [False] * len(observable)
    for i, (t, (a, b)) in enumerate(zip(observable, ext)):
        hits = [d for d in dets if _overlaps(a, b, d.start_s, d.end_s)]
        if not hits:
            continue
        if cfg.min_overlap > 0:
            cov = _covered(a, b, _merge((d.start_s, d.end_s) for d in hits))
            if cov / (b - a) <= cfg.min_overlap:
                continue
        detected[i] = True
        alarms = [d.alarm_s for d in hits if d.alarm_s is not None]
        if alarms:
            latencies.append(min(alarms) - t.start_s)
        best = max(hits, key=lambda d: (min(b, d.end_s) - max(a, d.start_s), -d.start_s))
        type_ok[i] = best.type == t.type

    detected_ext = _merge(e for e, ok in zip(ext, detected) if ok)
    all_ext = _merge(ext)
    n_fa = 0
    for d in dets:
        if cfg.strict_fp:
            length = d.end_s - d.start_s
            if length == 0:
                is_fa = not any(_overlaps(x, y, d.start_s, d.end_s) for x, y in detected_ext)
            else:
                is_fa = _covered(d.start_s, d.end_s, detected_ext) < length - 1e-9
        else:
            is_fa = not any(_overlaps(x, y, d.start_s, d.end_s) for x, y in all_ext)
        n_fa += is_fa

    types = sorted({t.type for t in observable})
    per_type = []
    for ty in types:
        idx = [i for i, t in enumerate(observable) if t.type == ty]
        nd = sum(detected[i] for i in idx)
        nc = sum(type_ok[i] for i in idx if detected[i])
        per_type.append(TypeScore(ty, len(idx), nd, _ratio(nd, len(idx)), nc, _ratio(nc, nd)))

    return EventScore(
        n_truth=len(observable),
        n_not_observable=n_hidden,
        n_truth_detected=sum(detected),
        n_detections=len(dets),
        n_false_alarms=n_fa,
        n_retracted=int(record.n_retracted),
        usable_hours=record.usable_duration_s / 3600.0,
        per_type=tuple(per_type),
        latencies_s=tuple(latencies),
    )


def _pool(scores: Sequence[EventScore]) -> EventScore:
    by_type: dict[str, list[TypeScore]] = {}
    for s in scores:
        for t in s.per_type:
            by_type.setdefault(t.type, []).append(t)
    per_type = []
    for ty in sorted(by_type):
        ts = by_type[ty]
        n = sum(t.n_truth for t in ts)
        nd = sum(t.n_detected for t in ts)
        nc = sum(t.n_type_correct for t in ts)
        per_type.append(TypeScore(ty, n, nd, _ratio(nd, n), nc, _ratio(nc, nd)))
    return EventScore(
        n_truth=sum(s.n_truth for s in scores),
        n_not_observable=sum(s.n_not_observable for s in scores),
        n_truth_detected=sum(s.n_truth_detected for s in scores),
        n_detections=sum(s.n_detections for s in scores),
        n_false_alarms=sum(s.n_false_alarms for s in scores),
        n_retracted=sum(s.n_retracted for s in scores),
        usable_hours=sum(s.usable_hours for s in scores),
        per_type=tuple(per_type),
        latencies_s=tuple(x for s in scores for x in s.latencies_s),
    )


def evaluate(records: Sequence[SubjectRecord], config: ScoringConfig | None = None) -> Evaluation:
    """Score many subjects; pool them and average over them.

    Parameters
    ----------
    records : sequence of SubjectRecord
        One per subject; subject ids must be distinct.
    config : ScoringConfig, optional
        Matching rules.

    Returns
    -------
    Evaluation
        ``pooled`` sums counts over subjects (sensitivity = all detected / all events);
        ``subject_average`` gives each subject equal weight (SzCORE's default).
    """
    cfg = config or ScoringConfig()
    names = [r.subject for r in records]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ConfigError(f"evaluate: subject ids must be distinct (repeated: {dup})")
    per = {r.subject: score_subject(r, cfg) for r in records}
    scores = list(per.values())
    sens, n_sens = _nanmean([s.sensitivity for s in scores])
    prec, n_prec = _nanmean([s.precision for s in scores])
    f1, _ = _nanmean([s.f1 for s in scores])
    far, _ = _nanmean([s.false_alarms_per_24h for s in scores])
    lat, _ = _nanmean([s.latency.median_s for s in scores])
    avg = SubjectAverage(sens, prec, f1, far, lat, len(scores), n_sens, n_prec)
    return Evaluation(cfg, _pool(scores), avg, per)


def detections_from_updates(
    updates: Iterable[Any], *, origin_ns: int = 0
) -> tuple[list[Detection], int]:
    """Turn detector updates into scorer input.

    Parameters
    ----------
    updates : iterable of EpisodeUpdate
        Everything a detector emitted (any order).
    origin_ns : int
        UTC ns that becomes 0 s.

    Returns
    -------
    (list of Detection, int)
        One detection per ``final`` update (with its onset alarm time), and the number of
        ``retract`` updates (for :attr:`SubjectRecord.n_retracted`).
    """
    dets: list[Detection] = []
    n_retracted = 0
    for u in updates:
        if u.kind == "final":
            dets.append(Detection.from_episode(u.episode, alarm_ns=u.alarm_ns, origin_ns=origin_ns))
        elif u.kind == "retract":
            n_retracted += 1
    dets.sort(key=lambda d: (d.start_s, d.end_s))
    return dets, n_retracted
