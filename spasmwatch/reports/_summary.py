"""Clinical summary of one wearer over a range of local calendar days.

Definitions (also in ``docs/clinical-report.md``)
-------------------------------------------------
* **Day**: a local calendar day in ``tz`` (23 or 25 h on DST days). An episode belongs to
  the day (and hour) it started in.
* **Night**: local ``night_start_h`` (22:00) to ``night_end_h`` (07:00) the next morning,
  named after the evening's date. Only nights that lie wholly inside the range are listed.
* **Usable wear of a day**: from the store's wear-time rows, the usable seconds of the
  day's best-covered device (devices worn together are not added up). A day without rows
  falls back to the wearer's indexed recordings minus signal losses.
* **Usable wear of a night**: the wearer's indexed recordings minus signal losses inside the
  night window; without recordings there, the two days' usable fractions pro rata.
* **Worn day / worn night**: at least ``min_worn_h`` (10 h,
  :data:`spasmwatch.health.VALID_DAY_S`) / ``min_night_worn_h`` (6 h,
  :data:`spasmwatch.health.VALID_NIGHT_S`) usable; a day under it is a low-wear day.
  Rates (per worn day, per worn night, per worn hour, the PSFS-style frequency) count only
  episodes on worn days / nights.
* **Counted episode**: a detected episode (``source="auto"``), a labeled one
  (``"<role>:<name>"``) or a self-report (``source="self-report"`` episodes and
  self-report labels that point at no episode), never one a label marks as a false alarm.
  A labeled or self-reported episode that overlaps an already counted one (within
  ``merge_tolerance_s``) is the same spasm and is counted once.
* Durations and intensities describe the detected and labeled episodes only
  (self-reported durations are guesses); type mix and source counts use every counted one.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spasmwatch.episodes._types import EPISODE_TYPES, SEVERITIES
from spasmwatch.errors import ConfigError
from spasmwatch.health import VALID_DAY_S, VALID_NIGHT_S
from spasmwatch.reports._penn import PennScore, penn_score
from spasmwatch.store import DiaryEntry, resolve_tz

__all__ = [
    "ClinicalSummary",
    "CountedEpisode",
    "DaySummary",
    "DurationStats",
    "NightSummary",
    "clinical_summary",
]

S = 10**9
_MAX_DAYS = 400


@dataclass(frozen=True, slots=True)
class CountedEpisode:
    """One spasm as the summary counts it.

    Parameters
    ----------
    id : str
        Episode (or self-report label) id.
    start_ns, end_ns : int
        UTC ns.
    type : str
        One of :data:`~spasmwatch.episodes.EPISODE_TYPES`.
    severity : int or None
        1-3; ``None`` for a self-report label (it has none).
    peak_intensity : float or None
        × resting baseline; ``None`` unless detected.
    source : str
        ``"auto"``, ``"labeled"`` or ``"self-report"``.
    also_self_reported : bool
        A self-report overlapped it and was merged into it.
    """

    id: str
    start_ns: int
    end_ns: int
    type: str
    severity: int | None
    peak_intensity: float | None
    source: str
    also_self_reported: bool = False

    @property
    def duration_s(self) -> float:
        """Length in s."""
        return (self.end_ns - self.start_ns) / 1e9

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id,
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "duration_s": self.duration_s,
            "type": self.type,
            "severity": self.severity,
            "peak_intensity": self.peak_intensity,
            "source": self.source,
            "also_self_reported": self.also_self_reported,
        }


@dataclass(frozen=True, slots=True)
class DaySummary:
    """One local day: its wear time and its spasms.

    Parameters
    ----------
    day : datetime.date
        Local date.
    start_ns, end_ns : int
        The day in UTC ns (``[start, end)``).
    worn_s, usable_s : float
        Seconds worn and seconds with usable signal (see the module notes).
    wear_source : str
        ``"wear_time"``, ``"recordings"`` or ``"none"``.
    worn : bool
        ``usable_s >= min_worn_h``.
    n : int
        Counted spasms that started on the day.
    n_auto, n_labeled, n_self_report : int
        Of those, by source.
    duration_s : float
        Summed duration of the detected/labeled ones (s).
    by_type : dict
        Type -> count.
    by_hour : tuple of int
        Counts per local clock hour 0-23.
    """

    day: dt.date
    start_ns: int
    end_ns: int
    worn_s: float
    usable_s: float
    wear_source: str
    worn: bool
    n: int
    n_auto: int
    n_labeled: int
    n_self_report: int
    duration_s: float
    by_type: dict[str, int]
    by_hour: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "day": self.day.isoformat(),
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "worn_h": self.worn_s / 3600,
            "usable_h": self.usable_s / 3600,
            "wear_source": self.wear_source,
            "worn": self.worn,
            "n": self.n,
            "n_auto": self.n_auto,
            "n_labeled": self.n_labeled,
            "n_self_report": self.n_self_report,
            "duration_s": self.duration_s,
            "by_type": dict(self.by_type),
            "by_hour": list(self.by_hour),
        }


@dataclass(frozen=True, slots=True)
class NightSummary:
    """One night window (evening of ``night_of`` to the next morning).

    Parameters
    ----------
    night_of : datetime.date
        Date of the evening.
    start_ns, end_ns : int
        The window in UTC ns.
    usable_s : float
        Seconds of usable signal in the window (see the module notes).
    wear_source : str
        ``"recordings"``, ``"wear_time_pro_rata"`` or ``"none"``.
    worn : bool
        ``usable_s >= min_night_worn_h``.
    n : int
        Counted spasms that started in the window.
    """

    night_of: dt.date
    start_ns: int
    end_ns: int
    usable_s: float
    wear_source: str
    worn: bool
    n: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "night_of": self.night_of.isoformat(),
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "usable_h": self.usable_s / 3600,
            "wear_source": self.wear_source,
            "worn": self.worn,
            "n": self.n,
        }


@dataclass(frozen=True, slots=True)
class DurationStats:
    """Durations (s) of the detected/labeled episodes: ``n``, median, 90th percentile, total.

    ``median_s`` and ``p90_s`` are ``None`` when ``n == 0``; the percentile interpolates
    linearly between order statistics (numpy's default).
    """

    n: int
    median_s: float | None
    p90_s: float | None
    total_s: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "n": self.n,
            "median_s": self.median_s,
            "p90_s": self.p90_s,
            "total_s": self.total_s,
        }


@dataclass(frozen=True, slots=True)
class ClinicalSummary:
    """Everything the clinical report shows, for one wearer and date range.

    Rates carry the wear they were computed over: ``per_worn_day`` is
    ``n_on_worn_days / n_worn_days`` and comes with ``worn_days_usable_h``;
    ``per_worn_night`` is ``n_on_worn_nights / n_worn_nights`` with ``worn_nights_usable_h``.
    """

    wearer_id: str
    pseudonym: str
    start: dt.date
    end: dt.date
    tz: str
    generated_ns: int
    min_worn_h: float
    min_night_worn_h: float
    night_start_h: float
    night_end_h: float
    merge_tolerance_s: float
    days: tuple[DaySummary, ...]
    nights: tuple[NightSummary, ...]
    episodes: tuple[CountedEpisode, ...]
    diary: tuple[DiaryEntry, ...]
    n_false_alarms_excluded: int
    n_self_reports_merged: int
    durations: DurationStats
    intensity_median: float | None
    intensity_n: int
    psfs: PennScore
    psfs_night: PennScore
    by_source: dict[str, int] = field(default_factory=dict)
    type_counts: dict[str, int] = field(default_factory=dict)
    severity_counts: dict[str, int] = field(default_factory=dict)

    # ---- derived headline numbers

    @property
    def n_days(self) -> int:
        """Days in the range."""
        return len(self.days)

    @property
    def n_worn_days(self) -> int:
        """Days with at least ``min_worn_h`` usable wear."""
        return sum(d.worn for d in self.days)

    @property
    def worn_days_usable_h(self) -> float:
        """Usable hours summed over worn days."""
        return sum(d.usable_s for d in self.days if d.worn) / 3600

    @property
    def usable_h(self) -> float:
        """Usable hours summed over every day of the range."""
        return sum(d.usable_s for d in self.days) / 3600

    @property
    def n_on_worn_days(self) -> int:
        """Counted spasms that started on worn days."""
        return sum(d.n for d in self.days if d.worn)

    @property
    def per_worn_day(self) -> float | None:
        """Spasms per worn day (``None`` without a worn day)."""
        k = self.n_worn_days
        return self.n_on_worn_days / k if k else None

    @property
    def n_worn_nights(self) -> int:
        """Nights with at least ``min_night_worn_h`` usable wear."""
        return sum(n.worn for n in self.nights)

    @property
    def worn_nights_usable_h(self) -> float:
        """Usable hours summed over worn nights."""
        return sum(n.usable_s for n in self.nights if n.worn) / 3600

    @property
    def n_on_worn_nights(self) -> int:
        """Counted spasms that started in worn nights."""
        return sum(n.n for n in self.nights if n.worn)

    @property
    def per_worn_night(self) -> float | None:
        """Spasms per worn night (``None`` without a worn night)."""
        k = self.n_worn_nights
        return self.n_on_worn_nights / k if k else None

    @property
    def n_total(self) -> int:
        """Every counted spasm in the range, worn days or not."""
        return len(self.episodes)

    def type_percent(self) -> dict[str, float]:
        """Type -> % of counted spasms (0 when there are none)."""
        n = sum(self.type_counts.values())
        return {t: (100.0 * c / n if n else 0.0) for t, c in self.type_counts.items()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``GET /api/reports/summary`` returns)."""
        return {
            "wearer_id": self.wearer_id,
            "pseudonym": self.pseudonym,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "tz": self.tz,
            "generated_ns": self.generated_ns,
            "definitions": {
                "min_worn_h": self.min_worn_h,
                "min_night_worn_h": self.min_night_worn_h,
                "night_start_h": self.night_start_h,
                "night_end_h": self.night_end_h,
                "merge_tolerance_s": self.merge_tolerance_s,
            },
            "headline": {
                "n_days": self.n_days,
                "n_worn_days": self.n_worn_days,
                "worn_days_usable_h": self.worn_days_usable_h,
                "n_on_worn_days": self.n_on_worn_days,
                "per_worn_day": self.per_worn_day,
                "n_nights": len(self.nights),
                "n_worn_nights": self.n_worn_nights,
                "worn_nights_usable_h": self.worn_nights_usable_h,
                "n_on_worn_nights": self.n_on_worn_nights,
                "per_worn_night": self.per_worn_night,
                "n_total": self.n_total,
                "usable_h": self.usable_h,
            },
            "psfs": self.psfs.to_dict(),
            "psfs_night": self.psfs_night.to_dict(),
            "durations": self.durations.to_dict(),
            "intensity": {"median_peak_x_baseline": self.intensity_median, "n": self.intensity_n},
            "types": {
                "counts": dict(self.type_counts),
                "percent": self.type_percent(),
            },
            "severity_counts": dict(self.severity_counts),
            "by_source": dict(self.by_source),
            "n_false_alarms_excluded": self.n_false_alarms_excluded,
            "n_self_reports_merged": self.n_self_reports_merged,
            "days": [d.to_dict() for d in self.days],
            "nights": [n.to_dict() for n in self.nights],
            "episodes": [e.to_dict() for e in self.episodes],
            "diary": [e.to_dict() for e in self.diary],
        }


# --------------------------------------------------------------------------- intervals


def _merge(iv: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(x for x in iv if x[1] > x[0]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _covered_s(cover: list[tuple[int, int]], holes: list[tuple[int, int]], a: int, b: int) -> float:
    """Seconds of ``[a, b)`` inside ``cover`` and outside ``holes`` (both merged)."""
    total = 0
    for c0, c1 in cover:
        lo, hi = max(c0, a), min(c1, b)
        if hi <= lo:
            continue
        total += hi - lo
        for h0, h1 in holes:
            x0, x1 = max(h0, lo), min(h1, hi)
            if x1 > x0:
                total -= x1 - x0
    return total / 1e9


def _local_ns(day: dt.date, hour: float, zone: dt.tzinfo) -> int:
    h = int(hour)
    m = round((hour - h) * 60)
    if h == 24:
        day, h = day + dt.timedelta(days=1), 0
    local = dt.datetime.combine(day, dt.time(h, m), tzinfo=zone)
    return int(local.timestamp()) * S


def _as_date(value: object, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        raise ConfigError(f"{name} must be a date (got the date-time {value!r}); pass .date()")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigError(f"{name} must be a date or 'YYYY-MM-DD' (got {value!r})")


# --------------------------------------------------------------------------- the summary


def clinical_summary(
    store: Any,
    wearer_id: str,
    start: dt.date | str,
    end: dt.date | str,
    tz: str | dt.tzinfo | None = None,
    *,
    min_worn_h: float = VALID_DAY_S / 3600,
    min_night_worn_h: float = VALID_NIGHT_S / 3600,
    night_start_h: float = 22.0,
    night_end_h: float = 7.0,
    merge_tolerance_s: float = 60.0,
    now_ns: int | None = None,
) -> ClinicalSummary:
    """Summarise one wearer's spasms, wear time and diary over local days ``start..end``.

    Parameters
    ----------
    store : EventStore
        The event store (read only).
    wearer_id : str
        Whose data. Unknown wearers raise :class:`~spasmwatch.errors.NotFoundError`.
    start, end : datetime.date or str
        First and last local day, inclusive (``end >= start``, at most 400 days).
    tz : str or tzinfo, optional
        Time zone of the days and hours (default this machine's).
    min_worn_h : float
        Usable hours that make a day a worn day (default
        :data:`spasmwatch.health.VALID_DAY_S`, 10 h: the one low-wear rule).
    min_night_worn_h : float
        Usable hours that make a night a worn night (default
        :data:`spasmwatch.health.VALID_NIGHT_S`, 6 h).
    night_start_h, night_end_h : float
        Local clock hours of the night window (default 22:00 to 07:00 next morning).
    merge_tolerance_s : float
        A labeled or self-reported spasm within this many seconds of a counted one is the
        same spasm (default 60 s).
    now_ns : int, optional
        "Now" for recordings still open (default the wall clock).

    Returns
    -------
    ClinicalSummary
    """
    d0 = _as_date(start, "start")
    d1 = _as_date(end, "end")
    if d1 < d0:
        raise ConfigError(f"end ({d1}) must not be before start ({d0})")
    if (d1 - d0).days + 1 > _MAX_DAYS:
        raise ConfigError(f"a summary covers at most {_MAX_DAYS} days (got {d0}..{d1})")
    for name, v, lo, hi in (
        ("min_worn_h", min_worn_h, 0.0, 25.0),
        ("min_night_worn_h", min_night_worn_h, 0.0, 24.0),
        ("night_start_h", night_start_h, 12.0, 24.0),
        ("night_end_h", night_end_h, 0.0, 12.0),
        ("merge_tolerance_s", merge_tolerance_s, 0.0, 3600.0),
    ):
        if not isinstance(v, int | float) or not math.isfinite(v) or not lo <= v <= hi:
            raise ConfigError(f"{name} must be a number in [{lo}, {hi}] (got {v!r})")
    zone = resolve_tz(tz)
    tz_name = getattr(zone, "key", None) or str(zone)
    wearer = store.get_wearer(wearer_id)  # NotFoundError for an unknown wearer
    now = time.time_ns() if now_ns is None else int(now_ns)

    days = [d0 + dt.timedelta(days=i) for i in range((d1 - d0).days + 2)]
    edges = [_local_ns(d, 0, zone) for d in days]
    a_ns, b_ns = edges[0], edges[-1]
    tol = int(merge_tolerance_s * S)

    # ---- episodes: detected/labeled first, then self-reports merged into them
    all_eps = store.episodes(wearer_id=wearer_id, start_ns=a_ns, end_ns=b_ns)
    kept_eps = store.episodes(
        wearer_id=wearer_id, start_ns=a_ns, end_ns=b_ns, exclude_false_alarms=True
    )
    all_eps = [e for e in all_eps if a_ns <= e.start_ns < b_ns]
    kept_eps = [e for e in kept_eps if a_ns <= e.start_ns < b_ns]
    n_fa = len(all_eps) - len(kept_eps)
    self_labels = [
        lb
        for lb in store.labels(
            wearer_id=wearer_id, start_ns=a_ns, end_ns=b_ns, origin="self-report"
        )
        if lb.episode_id is None and not lb.is_false_alarm and a_ns <= lb.start_ns < b_ns
    ]

    def counted(e: Any, source: str) -> CountedEpisode:
        return CountedEpisode(
            id=e.id,
            start_ns=e.start_ns,
            end_ns=e.end_ns,
            type=e.type,
            severity=e.severity_rank,
            peak_intensity=e.peak_intensity if source == "auto" else None,
            source=source,
        )

    tiers: list[list[CountedEpisode]] = [
        [counted(e, "auto") for e in kept_eps if e.source == "auto"],
        [counted(e, "labeled") for e in kept_eps if e.source not in ("auto", "self-report")],
        [counted(e, "self-report") for e in kept_eps if e.source == "self-report"]
        + [
            CountedEpisode(lb.id, lb.start_ns, lb.end_ns, lb.type, None, None, "self-report")
            for lb in self_labels
        ],
    ]
    kept: list[CountedEpisode] = []
    merged_self = 0
    for tier in tiers:
        base = sorted(kept, key=lambda c: c.start_ns)
        starts = [c.start_ns for c in base]
        max_len = max((c.end_ns - c.start_ns for c in base), default=0)
        add: list[CountedEpisode] = []
        for c in sorted(tier, key=lambda c: (c.start_ns, c.id)):
            # any base episode with start <= c.end + tol and end >= c.start - tol
            hi = bisect.bisect_right(starts, c.end_ns + tol)
            lo = bisect.bisect_left(starts, c.start_ns - tol - max_len)
            hit = next((i for i in range(lo, hi) if base[i].end_ns >= c.start_ns - tol), None)
            if hit is None:
                add.append(c)
            elif c.source == "self-report":
                merged_self += 1
                b = base[hit]
                if not b.also_self_reported:
                    base[hit] = CountedEpisode(
                        b.id, b.start_ns, b.end_ns, b.type, b.severity, b.peak_intensity,
                        b.source, also_self_reported=True,
                    )  # fmt: skip
        kept = base + add
    episodes = sorted(kept, key=lambda c: (c.start_ns, c.id))

    # ---- wear: wear-time rows, recordings index, signal losses
    wt: dict[dt.date, tuple[float, float]] = {}
    for row in store.wear_time(wearer_id, d0, d1):
        worn, usable = wt.get(row.day, (0.0, 0.0))
        wt[row.day] = (max(worn, row.worn_s), max(usable, row.usable_s))
    night_b = _local_ns(d1, 0, zone) + 24 * 3600 * S  # generous: covers the last morning
    recs = _merge(
        (r.start_ns, r.end_ns if r.end_ns is not None else now)
        for r in store.recordings(wearer_id=wearer_id, start_ns=a_ns, end_ns=night_b)
    )
    losses = _merge(
        (x.start_ns, x.end_ns)
        for x in store.signal_losses(wearer_id=wearer_id, start_ns=a_ns, end_ns=night_b)
    )

    # ---- days
    n_days = len(days) - 1
    ep_day = [bisect.bisect_right(edges, e.start_ns) - 1 for e in episodes]
    day_rows: list[DaySummary] = []
    for i in range(n_days):
        d = days[i]
        mine = [e for e, k in zip(episodes, ep_day) if k == i]
        if d in wt:
            worn_s, usable_s = wt[d]
            source = "wear_time"
        else:
            cov = _covered_s(recs, [], edges[i], edges[i + 1])
            usable_s = _covered_s(recs, losses, edges[i], edges[i + 1])
            worn_s = cov
            source = "recordings" if cov > 0 else "none"
        by_hour = [0] * 24
        for e in mine:
            by_hour[dt.datetime.fromtimestamp(e.start_ns // S, zone).hour] += 1
        by_type = dict.fromkeys(EPISODE_TYPES, 0)
        for e in mine:
            by_type[e.type] += 1
        day_rows.append(
            DaySummary(
                day=d,
                start_ns=edges[i],
                end_ns=edges[i + 1],
                worn_s=float(worn_s),
                usable_s=float(usable_s),
                wear_source=source,
                worn=usable_s >= min_worn_h * 3600 - 1e-6,
                n=len(mine),
                n_auto=sum(e.source == "auto" for e in mine),
                n_labeled=sum(e.source == "labeled" for e in mine),
                n_self_report=sum(e.source == "self-report" for e in mine),
                duration_s=float(sum(e.duration_s for e in mine if e.source != "self-report")),
                by_type=by_type,
                by_hour=tuple(by_hour),
            )
        )
    day_usable = {r.day: (r.usable_s, r.end_ns - r.start_ns) for r in day_rows}

    # ---- nights (evenings d0 .. d1-1: both ends inside the range)
    ep_starts = [e.start_ns for e in episodes]
    night_rows: list[NightSummary] = []
    for i in range(n_days - 1):
        d = days[i]
        n0 = _local_ns(d, night_start_h, zone)
        n1 = _local_ns(d + dt.timedelta(days=1), night_end_h, zone)
        midnight = edges[i + 1]
        if recs and _covered_s(recs, [], n0, n1) > 0:
            usable = _covered_s(recs, losses, n0, n1)
            source = "recordings"
        else:
            usable = 0.0
            for day, lo, hi in ((d, n0, midnight), (days[i + 1], midnight, n1)):
                u, length = day_usable.get(day, (0.0, 1))
                usable += u / (length / S) * ((hi - lo) / S)
            source = "wear_time_pro_rata" if usable > 0 else "none"
        n = bisect.bisect_left(ep_starts, n1) - bisect.bisect_left(ep_starts, n0)
        night_rows.append(
            NightSummary(
                night_of=d,
                start_ns=n0,
                end_ns=n1,
                usable_s=float(usable),
                wear_source=source,
                worn=usable >= min_night_worn_h * 3600 - 1e-6,
                n=n,
            )
        )

    # ---- descriptive statistics
    sensor = [e for e in episodes if e.source != "self-report"]
    durs = np.array([e.duration_s for e in sensor], dtype=float)
    durations = DurationStats(
        n=len(sensor),
        median_s=float(np.median(durs)) if len(durs) else None,
        p90_s=float(np.percentile(durs, 90)) if len(durs) else None,
        total_s=float(durs.sum()),
    )
    peaks = np.array(
        [
            e.peak_intensity
            for e in episodes
            if e.peak_intensity is not None and e.peak_intensity > 0
        ]
    )
    type_counts = dict.fromkeys(EPISODE_TYPES, 0)
    sev_counts = dict.fromkeys(SEVERITIES, 0)
    for e in episodes:
        type_counts[e.type] += 1
        if e.severity is not None:
            sev_counts[SEVERITIES[e.severity - 1]] += 1
    by_source = {
        "auto": sum(e.source == "auto" for e in episodes),
        "labeled": sum(e.source == "labeled" for e in episodes),
        "self-report": sum(e.source == "self-report" for e in episodes),
        "self-report_merged_into_detected": merged_self,
    }

    # ---- PSFS-style scores: worn days (all hours) and worn nights
    worn_idx = {i for i, r in enumerate(day_rows) if r.worn}
    on_worn = [e for e, k in zip(episodes, ep_day) if k in worn_idx]
    psfs = penn_score(
        len(on_worn),
        sum(day_rows[i].usable_s for i in worn_idx) / 3600,
        [e.severity for e in on_worn if e.severity is not None],
    )
    night_eps: list[CountedEpisode] = []
    for nr in night_rows:
        if nr.worn:
            lo = bisect.bisect_left(ep_starts, nr.start_ns)
            hi = bisect.bisect_left(ep_starts, nr.end_ns)
            night_eps.extend(episodes[lo:hi])
    psfs_night = penn_score(
        len(night_eps),
        sum(n.usable_s for n in night_rows if n.worn) / 3600,
        [e.severity for e in night_eps if e.severity is not None],
    )

    diary = tuple(store.diary(wearer_id=wearer_id, start_ns=a_ns, end_ns=b_ns))
    return ClinicalSummary(
        wearer_id=wearer_id,
        pseudonym=wearer.pseudonym,
        start=d0,
        end=d1,
        tz=tz_name,
        generated_ns=now,
        min_worn_h=float(min_worn_h),
        min_night_worn_h=float(min_night_worn_h),
        night_start_h=float(night_start_h),
        night_end_h=float(night_end_h),
        merge_tolerance_s=float(merge_tolerance_s),
        days=tuple(day_rows),
        nights=tuple(night_rows),
        episodes=tuple(episodes),
        diary=diary,
        n_false_alarms_excluded=n_fa,
        n_self_reports_merged=merged_self,
        durations=durations,
        intensity_median=float(np.median(peaks)) if len(peaks) else None,
        intensity_n=len(peaks),
        psfs=psfs,
        psfs_night=psfs_night,
        by_source=by_source,
        type_counts=type_counts,
        severity_counts=sev_counts,
    )
