"""Wear time per device and local day, and episode counts that always carry their wear time.

``usable`` time is the time that (a) samples were received, (b) the device was worn
(:class:`~spasmwatch.health.NotWornDetector`), and (c) at least one EMG channel was ``good``
(:class:`~spasmwatch.health.EmgQualityMonitor`) — or, for a device without EMG, its ACC was
received. Days are local calendar days of the wearer's time zone, so a DST day is 23 or 25 h.
"""

from __future__ import annotations

import datetime as dt
import math
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from spasmwatch.core import GAP_CAUSES, Gap, SampleBlock
from spasmwatch.errors import ConfigError, SignalError
from spasmwatch.health._quality import QualityReport
from spasmwatch.health._wear import WearStateChange

__all__ = [
    "ALL_DEVICES",
    "VALID_DAY_S",
    "VALID_NIGHT_S",
    "CountWithWear",
    "WearDay",
    "WearTimeAccumulator",
    "count_with_wear",
    "format_count_with_wear",
    "is_low_wear",
]

#: Usable wear (s) that makes a local day a worn ("valid") day: 10 h. Any count over less
#: wear than ``VALID_DAY_S`` per day is flagged ``low_wear`` and given no rate. Ten hours of
#: wear per day is the common valid-day convention of accelerometry studies; it is a
#: convention, not a threshold validated for spasm counts. The one rule for the CLI, the API,
#: the pages, the insights and the clinical report.
VALID_DAY_S = 10 * 3600.0

#: Usable wear (s) that makes a night window a worn night in the clinical report: 6 h.
VALID_NIGHT_S = 6 * 3600.0

#: Device name of the rows that combine all devices of the wearer.
ALL_DEVICES = "*"

_EPS = 1e-6


def _sec(obj: object, name: str) -> float:
    v = getattr(obj, name)
    if isinstance(v, np.floating | np.integer):
        v = float(v)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
        raise SignalError(f"{type(obj).__name__}.{name} must be a number of seconds >= 0 "
                          f"(got {v!r})")  # fmt: skip
    object.__setattr__(obj, name, float(v))
    return float(v)


@dataclass(frozen=True, slots=True)
class WearDay:
    """Wear time of one device (or all, ``device == "*"``) on one local calendar day.

    Parameters
    ----------
    date : datetime.date
        Local date in the accumulator's time zone.
    device : str
        Device instance name, or ``"*"`` for the union over the wearer's devices.
    worn_s : float
        Seconds with samples received while the device was worn.
    usable_s : float
        Seconds worn with usable signal (see the module docstring); ``<= worn_s``.
    recorded_s : float
        Seconds with samples received; ``>= worn_s``.
    gap_s_by_cause : mapping of str to float
        Seconds of missing samples by cause (keys from :data:`spasmwatch.core.GAP_CAUSES`).
    day_s : float
        Length of the local day (s): 86400, or 82800/90000 on DST changes.
    """

    date: dt.date
    device: str
    worn_s: float
    usable_s: float
    recorded_s: float
    gap_s_by_cause: Mapping[str, float]
    day_s: float = 86400.0

    def __post_init__(self) -> None:
        if not isinstance(self.date, dt.date) or isinstance(self.date, dt.datetime):
            raise SignalError(f"WearDay.date must be a datetime.date (got {self.date!r})")
        for name in ("worn_s", "usable_s", "recorded_s", "day_s"):
            _sec(self, name)
        gaps = dict(self.gap_s_by_cause)
        for k, v in gaps.items():
            if k not in GAP_CAUSES:
                raise SignalError(f"WearDay.gap_s_by_cause key must be a gap cause (got {k!r})")
            if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0):
                raise SignalError(f"WearDay.gap_s_by_cause[{k!r}] must be seconds >= 0 (got {v!r})")
            gaps[k] = float(v)
        object.__setattr__(self, "gap_s_by_cause", types.MappingProxyType(gaps))
        if not (self.usable_s <= self.worn_s + _EPS <= self.recorded_s + 2 * _EPS):
            raise SignalError(
                f"WearDay {self.date} {self.device}: need usable_s <= worn_s <= recorded_s "
                f"(got {self.usable_s}, {self.worn_s}, {self.recorded_s})"
            )
        if self.recorded_s > self.day_s + _EPS:
            raise SignalError(
                f"WearDay {self.date}: recorded_s {self.recorded_s} exceeds the day ({self.day_s})"
            )

    @property
    def gap_s(self) -> float:
        """Total seconds of missing samples (all causes)."""
        return float(sum(self.gap_s_by_cause.values()))

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "date": self.date.isoformat(),
            "device": self.device,
            "worn_s": self.worn_s,
            "usable_s": self.usable_s,
            "recorded_s": self.recorded_s,
            "gap_s_by_cause": dict(self.gap_s_by_cause),
            "day_s": self.day_s,
        }


# -- interval arithmetic on [start, end) lists (int ns) -------------------------------------


def _merge(iv: list[tuple[int, int]], tol: int = 0) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for a, b in sorted(iv):
        if b <= a:
            continue
        if out and a <= out[-1][1] + tol:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def _append(iv: list[tuple[int, int]], a: int, b: int, tol: int) -> None:
    """Append ``[a, b)``, coalescing it with the last interval when they touch within ``tol``.

    Blocks arrive in time order, so a live stream keeps its list at one interval per
    contiguous run instead of one per block (bounded memory; :func:`_merge` gives the same
    result either way).
    """
    if iv:
        a0, b0 = iv[-1]
        if a <= b0 + tol and b >= a0 - tol:
            iv[-1] = (min(a0, a), max(b0, b))
            return
    iv.append((a, b))


def _intersect(x: list[tuple[int, int]], y: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    i = j = 0
    while i < len(x) and j < len(y):
        a = max(x[i][0], y[j][0])
        b = min(x[i][1], y[j][1])
        if a < b:
            out.append((a, b))
        if x[i][1] < y[j][1]:
            i += 1
        else:
            j += 1
    return out


def _subtract(x: list[tuple[int, int]], y: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    j = 0
    for a, b in x:
        cur = a
        while j < len(y) and y[j][1] <= cur:
            j += 1
        k = j
        while k < len(y) and y[k][0] < b:
            if y[k][0] > cur:
                out.append((cur, y[k][0]))
            cur = max(cur, y[k][1])
            k += 1
        if cur < b:
            out.append((cur, b))
    return out


def _clip_sum(iv: list[tuple[int, int]], a: int, b: int) -> float:
    return sum(max(0, min(e, b) - max(s, a)) for s, e in iv) / 1e9


class _Device:
    def __init__(self) -> None:
        self.recorded: list[tuple[int, int]] = []
        self.acc_recorded: list[tuple[int, int]] = []
        self.good: list[tuple[int, int]] = []
        self.gaps: dict[str, list[tuple[int, int]]] = {}
        self.changes: list[tuple[int, int, str]] = []  # (t_ns, arrival order, state)
        self.has_emg = False


class WearTimeAccumulator:
    """Collects recorded time, wear state, EMG quality and gaps; reports :class:`WearDay` rows.

    Parameters
    ----------
    tz : str
        IANA time zone of the wearer (``zoneinfo`` name, e.g. ``"Europe/Berlin"``); days are
        local calendar days.
    merge_tol_s : float
        Holes between consecutive blocks shorter than this (s) are jitter, not loss.

    Notes
    -----
    Feed it every :class:`~spasmwatch.core.SampleBlock` (recorded time and gaps), every
    :class:`~spasmwatch.health.QualityReport` of the EMG streams and every
    :class:`~spasmwatch.health.WearStateChange`, in any order; :meth:`days` computes the rows
    from everything seen so far. A device with an EMG stream counts as usable only where a
    quality report says at least one channel was good.
    """

    def __init__(self, tz: str, *, merge_tol_s: float = 0.05) -> None:
        try:
            self.tz = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ConfigError(
                f"WearTimeAccumulator.tz must be an IANA time zone name like 'Europe/Berlin' "
                f"(got {tz!r})"
            ) from None
        self.tz_name = tz
        if not (isinstance(merge_tol_s, int | float) and 0 <= merge_tol_s < 10):
            raise ConfigError(f"merge_tol_s must be in [0, 10) s (got {merge_tol_s!r})")
        self._tol = round(merge_tol_s * 1e9)
        self.reset()

    def reset(self) -> None:
        """Forget everything."""
        self._dev: dict[str, _Device] = {}
        self._n = 0

    def _d(self, device: str) -> _Device:
        d = self._dev.get(device)
        if d is None:
            d = self._dev[device] = _Device()
        return d

    def update(self, item: SampleBlock | QualityReport | WearStateChange) -> None:
        """Add one block, quality report or wear-state change."""
        if isinstance(item, SampleBlock):
            d = self._d(item.spec.device)
            if item.spec.kind == "emg":
                d.has_emg = True
            if item.n_samples:
                a, b = int(item.t_ns[0]), int(item.t_ns[-1]) + round(item.spec.period_ns)
                _append(d.recorded, a, b, self._tol)
                if item.spec.kind == "acc":
                    _append(d.acc_recorded, a, b, self._tol)
            for g in item.gaps:
                self.add_gap(item.spec.device, g)
        elif isinstance(item, QualityReport):
            d = self._d(item.device)
            d.has_emg = True
            if item.any_good:
                _append(d.good, item.start_ns, item.end_ns, self._tol)
        elif isinstance(item, WearStateChange):
            self._n += 1
            self._d(item.device).changes.append((item.t_ns, self._n, item.state))
        else:
            raise SignalError(
                "WearTimeAccumulator.update expects a SampleBlock, QualityReport or "
                f"WearStateChange (got {type(item).__name__})"
            )

    def add_gap(self, device: str, gap: Gap) -> None:
        """Count a gap of ``device`` (already in blocks passed to :meth:`update`)."""
        if not isinstance(gap, Gap):
            raise SignalError(f"add_gap needs a Gap (got {type(gap).__name__})")
        self._d(device).gaps.setdefault(gap.cause, []).append((gap.start_ns, gap.end_ns))

    def extend(self, items: Iterable[SampleBlock | QualityReport | WearStateChange]) -> None:
        """:meth:`update` with each item."""
        for it in items:
            self.update(it)

    @property
    def devices(self) -> tuple[str, ...]:
        """Devices seen, sorted."""
        return tuple(sorted(self._dev))

    # -- computation -----------------------------------------------------------------------
    def _sets(self, d: _Device) -> dict[str, list[tuple[int, int]]]:
        rec = _merge(d.recorded, self._tol)
        nw: list[tuple[int, int]] = []
        cur = None
        for t, _, state in sorted(d.changes):
            if state == "not_worn" and cur is None:
                cur = t
            elif state == "worn" and cur is not None:
                nw.append((cur, t))
                cur = None
        if cur is not None:
            nw.append((cur, 2**62))
        worn = _subtract(rec, _merge(nw))
        basis = _merge(d.good, self._tol) if d.has_emg else _merge(d.acc_recorded, self._tol)
        usable = _intersect(worn, basis)
        out = {"recorded": rec, "worn": worn, "usable": usable}
        for c, iv in d.gaps.items():
            out["gap:" + c] = _merge(iv)
        return out

    def _day_bounds(self, t_ns: int) -> tuple[dt.date, int, int]:
        local = dt.datetime.fromtimestamp(t_ns / 1e9, self.tz)
        day = local.date()
        return day, self._midnight(day), self._midnight(day + dt.timedelta(days=1))

    def _midnight(self, day: dt.date) -> int:
        m = dt.datetime.combine(day, dt.time(0), tzinfo=self.tz)
        return round(m.timestamp() * 1e9)

    def days(self, device: str | None = None) -> list[WearDay]:
        """Per-day rows, in date order.

        Parameters
        ----------
        device : str, optional
            One device; default every device followed by the ``"*"`` rows (union over the
            wearer's devices: worn/usable when any device is).
        """
        if device is not None and device not in self._dev:
            raise SignalError(f"no data for device {device!r}; devices: {list(self.devices)}")
        names = [device] if device is not None else sorted(self._dev)
        sets = {n: self._sets(self._dev[n]) for n in names}
        if device is None and len(names) > 1:
            keys = {k for s in sets.values() for k in s}
            sets[ALL_DEVICES] = {
                k: _merge([iv for s in sets.values() for iv in s.get(k, [])]) for k in keys
            }
            names.append(ALL_DEVICES)
        rows: list[WearDay] = []
        for name in names:
            s = sets[name]
            edges = [iv for k, v in s.items() if k == "recorded" or k.startswith("gap:")
                     for iv in v]  # fmt: skip
            if not edges:
                continue
            t0 = min(a for a, _ in edges)
            t1 = max(b for _, b in edges)
            day, a, b = self._day_bounds(t0)
            while a < t1:
                gaps = {k[4:]: _clip_sum(v, a, b) for k, v in s.items() if k.startswith("gap:")}
                gaps = {k: v for k, v in gaps.items() if v > 0}
                rec = _clip_sum(s["recorded"], a, b)
                if rec > 0 or gaps:
                    rows.append(
                        WearDay(
                            day,
                            name,
                            worn_s=_clip_sum(s["worn"], a, b),
                            usable_s=_clip_sum(s["usable"], a, b),
                            recorded_s=rec,
                            gap_s_by_cause=gaps,
                            day_s=(b - a) / 1e9,
                        )
                    )
                day = day + dt.timedelta(days=1)
                a, b = b, self._midnight(day + dt.timedelta(days=1))
        rows.sort(key=lambda r: (r.date, r.device == ALL_DEVICES, r.device))
        return rows


# -- counts with their wear time ---------------------------------------------------------


def is_low_wear(usable_s: float | None, days: float = 1.0) -> bool:
    """Whether a count over ``usable_s`` of usable wear in ``days`` days is low wear.

    Parameters
    ----------
    usable_s : float or None
        Seconds worn with usable signal; ``None`` when no wear time was recorded.
    days : float
        Calendar length of the period in days (> 0; may be fractional, e.g. ``3 / 24`` for a
        3-hour window, which then needs 1.25 h).

    Returns
    -------
    bool
        ``True`` if ``usable_s`` is unknown or under :data:`VALID_DAY_S` per day on average.
    """
    d = _days(days)
    if usable_s is None:
        return True
    return float(usable_s) < VALID_DAY_S * d - _EPS


def _days(days: float) -> float:
    if isinstance(days, np.floating | np.integer):
        days = float(days)
    if (
        isinstance(days, bool)
        or not isinstance(days, int | float)
        or not (math.isfinite(days) and days > 0)
    ):
        raise ConfigError(f"days must be a number of days > 0 (got {days!r})")
    return float(days)


@dataclass(frozen=True, slots=True)
class CountWithWear:
    """An episode count together with the wear time it was counted in.

    Parameters
    ----------
    n : int
        Number of episodes.
    usable_s : float or None
        Seconds worn with usable signal in the same period (the exposure); ``None`` when no
        wear time was recorded.
    worn_s : float or None
        Seconds on the body (``>= usable_s``), for display; default ``usable_s``.
    days : float
        Calendar length of the period in days (the low-wear threshold scales with it).
    noun : str
        What was counted, singular (``"spasm"``).
    """

    n: int
    usable_s: float | None
    worn_s: float | None = None
    days: float = 1.0
    noun: str = "spasm"

    def __post_init__(self) -> None:
        c = self.n
        if isinstance(c, np.integer):
            object.__setattr__(self, "n", int(c))
        elif isinstance(c, bool) or not isinstance(c, int) or c < 0:
            raise ConfigError(f"count n must be an int >= 0 (got {c!r})")
        if self.usable_s is not None:
            try:
                _sec(self, "usable_s")
            except SignalError as e:
                raise ConfigError(str(e)) from None
        if self.worn_s is None:
            object.__setattr__(self, "worn_s", self.usable_s)
        else:
            try:
                _sec(self, "worn_s")
            except SignalError as e:
                raise ConfigError(str(e)) from None
        object.__setattr__(self, "days", _days(self.days))
        if not isinstance(self.noun, str) or not self.noun:
            raise ConfigError(f"noun must be a non-empty string (got {self.noun!r})")

    @property
    def low_wear(self) -> bool:
        """True when usable wear is unknown or under :data:`VALID_DAY_S` per day."""
        return is_low_wear(self.usable_s, self.days)

    @property
    def rate_per_24h_worn(self) -> float | None:
        """Count per 24 h of usable wear, or None for low wear (a rate from little wear
        misleads)."""
        if self.low_wear or not self.usable_s:
            return None
        return self.n * 86400.0 / self.usable_s

    @property
    def text(self) -> str:
        """The one wording used everywhere (see :func:`format_count_with_wear`)."""
        n = self.n
        what = f"{n} {self.noun if n == 1 else _plural(self.noun)}"
        if not self.usable_s:
            return f"{what} — no wear time recorded, not comparable with other days"
        worn = f"{_fmt_dur(self.usable_s)} worn"
        over = "" if abs(self.days - 1.0) < 1e-9 else f" over {_fmt_days(self.days)}"
        if self.low_wear:
            per_day = "a day" if not over else "a day on average"
            return (
                f"{what} in {worn}{over} — low wear (under {VALID_DAY_S / 3600:g} h {per_day}), "
                "interpret with care"
            )
        return f"{what} in {worn}{over} ({self.rate_per_24h_worn:.1f} per 24 h worn)"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form: ``n``, ``worn_s``, ``usable_s``, ``days``, ``low_wear``,
        ``rate_per_24h_worn``, ``text``."""
        return {
            "n": self.n,
            "worn_s": self.worn_s,
            "usable_s": self.usable_s,
            "days": self.days,
            "low_wear": self.low_wear,
            "rate_per_24h_worn": self.rate_per_24h_worn,
            "text": self.text,
        }


def _plural(noun: str) -> str:
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


def _fmt_dur(s: float) -> str:
    if s < 3600.0:
        return f"{round(s / 60.0):d} min"
    return f"{s / 3600.0:.1f} h"


def _fmt_days(d: float) -> str:
    return f"{round(d)} days" if abs(d - round(d)) < 1e-9 else f"{d:.1f} days"


def count_with_wear(
    n: int,
    usable_s: float | None,
    *,
    worn_s: float | None = None,
    days: float = 1.0,
    noun: str = "spasm",
) -> CountWithWear:
    """A :class:`CountWithWear` (for JSON: ``count_with_wear(n, usable_s).to_dict()``)."""
    return CountWithWear(n, usable_s, worn_s, days, noun)


def format_count_with_wear(
    n: int,
    usable_s: float | None,
    *,
    days: float = 1.0,
    noun: str = "spasm",
) -> str:
    """An episode count with the wear time it was counted in — use wherever counts are shown.

    Parameters
    ----------
    n : int
        Number of episodes.
    usable_s : float or None
        Seconds worn with usable signal in the same period (``None``: none recorded).
    days : float
        Calendar length of the period (days); the low-wear threshold is
        :data:`VALID_DAY_S` per day.
    noun : str
        Singular noun (``"spasm"``, ``"episode"``); plural by adding ``s``/``es``.

    Returns
    -------
    str
        ``"3 spasms in 20.0 h worn (3.6 per 24 h worn)"``;
        ``"3 spasms in 2.0 h worn — low wear (under 10 h a day), interpret with care"``;
        ``"12 spasms in 50.0 h worn over 7 days — low wear (under 10 h a day on average),
        interpret with care"``;
        ``"3 spasms — no wear time recorded, not comparable with other days"``.
        "h worn" is time worn *with usable signal*.
    """
    return CountWithWear(n, usable_s, None, days, noun).text
