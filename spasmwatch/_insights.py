"""Patterns in one wearer's own records: when episodes happen, what follows diary entries
and prompts. Always with counts and the hours of wear they were counted in (exposure), and
a plain note when the numbers are too small to compare. Associations in personal data, not
causes; nothing here advises on treatment or medication.

Exposure
--------
Rates are episodes per hour of *usable wear* (worn with usable signal) wherever the store
has wear-time rows for the period. Those rows are per local day, so a day's usable seconds
are spread over the parts of the day that indexed recordings cover (minus signal losses);
a day with a row but no indexed recording spreads them evenly over the day, and a day
without a row counts its recordings minus losses (nothing if none). Without any wear-time
row in the period, rates fall back to calendar hours and say so. Low wear follows the one
rule of :func:`spasmwatch.health.is_low_wear`: under 10 h of usable wear per calendar day
of the slot (an hour-of-day slot of 28 days needs 28 × 10 / 24 ≈ 11.7 h).
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import textwrap
import time
from typing import Any

from spasmwatch.errors import ConfigError
from spasmwatch.health import VALID_DAY_S, count_with_wear, is_low_wear
from spasmwatch.store._db import EventStore, resolve_tz
from spasmwatch.store._values import DIARY_KINDS

__all__ = ["compute_insights", "format_insights"]

_NS = 1_000_000_000
_HOUR = 3600 * _NS
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TOO_FEW = "too few to compare"
CALENDAR_NOTE = (
    "no wear-time records in this period: rates are per calendar hour, not per hour worn, "
    "and cannot tell a quiet hour from an hour the sensors were off"
)


def _rate(n: int, hours: float | None) -> float | None:
    return None if not hours or hours <= 0 else n / hours


def _union(intervals: list[tuple[int, int]], lo: int, hi: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted((max(s, lo), min(e, hi)) for s, e in intervals if e > lo and s < hi):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _subtract(x: list[tuple[int, int]], y: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``x`` minus ``y`` (both merged and sorted)."""
    out = []
    for a, b in x:
        cur = a
        for c, d in y:
            if d <= cur or c >= b:
                continue
            if c > cur:
                out.append((cur, c))
            cur = max(cur, d)
        if cur < b:
            out.append((cur, b))
    return out


def _inside(t: int, union: list[tuple[int, int]]) -> bool:
    i = bisect.bisect_right(union, (t, math.inf)) - 1
    return i >= 0 and union[i][0] <= t < union[i][1]


class _Exposure:
    """Usable wear as a piecewise-constant density ``w`` in [0, 1] over time (UTC ns)."""

    def __init__(self, segments: list[tuple[int, int, float]]) -> None:
        self.segs = sorted((a, b, w) for a, b, w in segments if b > a and w > 0)
        self.starts = [a for a, _, _ in self.segs]

    def seconds(self, lo: int, hi: int) -> float:
        """Usable-wear seconds inside ``[lo, hi)``."""
        if hi <= lo:
            return 0.0
        i = max(0, bisect.bisect_right(self.starts, lo) - 1)
        total = 0.0
        while i < len(self.segs) and self.segs[i][0] < hi:
            a, b, w = self.segs[i]
            x, y = max(a, lo), min(b, hi)
            if y > x:
                total += (y - x) * w
            i += 1
        return total / _NS


def _exposure(
    store: EventStore, wearer_id: str, start: int, end: int, zone: dt.tzinfo, now: int
) -> tuple[_Exposure | None, dict[dt.date, float]]:
    """The usable-wear density over ``[start, end)`` and each touched local day's usable
    seconds (its row, else its recordings minus losses); ``None`` and ``{}`` when the period
    has no wear-time row."""
    d0 = dt.datetime.fromtimestamp(start / _NS, zone).date()
    d1 = dt.datetime.fromtimestamp((end - 1) // _NS, zone).date()
    per_day: dict[dt.date, float] = {}
    for row in store.wear_time(wearer_id, d0, d1):
        per_day[row.day] = max(per_day.get(row.day, 0.0), row.usable_s)
    if not per_day:
        return None, {}

    def midnight(d: dt.date) -> int:
        return round(dt.datetime.combine(d, dt.time(0), tzinfo=zone).timestamp()) * _NS

    lo, hi = midnight(d0), midnight(d1 + dt.timedelta(days=1))
    recs = _union(
        [
            (r.start_ns, r.end_ns if r.end_ns is not None else now)
            for r in store.recordings(wearer_id=wearer_id, start_ns=lo, end_ns=hi)
        ],
        lo,
        hi,
    )
    losses = _union(
        [
            (x.start_ns, x.end_ns)
            for x in store.signal_losses(wearer_id=wearer_id, start_ns=lo, end_ns=hi)
        ],
        lo,
        hi,
    )
    covered = _subtract(recs, losses)
    segs: list[tuple[int, int, float]] = []
    day_s: dict[dt.date, float] = {}
    d = d0
    while d <= d1:
        a, b = midnight(d), midnight(d + dt.timedelta(days=1))
        cov = _union(covered, a, b)
        c = sum(y - x for x, y in cov) / _NS
        if d not in per_day:
            segs += [(x, y, 1.0) for x, y in cov]
            day_s[d] = c
        else:
            u = day_s[d] = per_day[d]
            if c >= u and c > 0:
                segs += [(x, y, u / c) for x, y in cov]
            else:
                segs += [(x, y, 1.0) for x, y in cov]
                rest = (b - a) / _NS - c
                if rest > 0 and u > c:
                    w = min(1.0, (u - c) / rest)
                    segs += [(x, y, w) for x, y in _subtract([(a, b)], cov)]
        d += dt.timedelta(days=1)
    clipped = [(max(a, start), min(b, end), w) for a, b, w in segs]
    return _Exposure(clipped), day_s


def compute_insights(
    store: EventStore,
    wearer_id: str = "default",
    *,
    days: int = 28,
    now_ns: int | None = None,
    tz: str | dt.tzinfo | None = None,
    window_h: float = 3.0,
    min_n: int = 10,
) -> dict[str, Any]:
    """Insights over the ``days`` before ``now_ns`` (default: now), JSON-ready.

    Parameters
    ----------
    store : EventStore
        Where the records are.
    wearer_id : str
        Whose records.
    days : int
        Length of the period (days, >= 1).
    now_ns : int, optional
        End of the period (UTC ns); default the current time.
    tz : str or tzinfo or None
        Zone for hours of day and weekdays (``None``: this machine's).
    window_h : float
        Hours after a diary entry that count as "after" it.
    min_n : int
        Fewer events than this on either side of a comparison: ``"too few to compare"``.

    Returns
    -------
    dict
        ``period``, ``episodes`` (``n``, ``usable_s``, ``low_wear``, ``text``, rate),
        ``by_hour`` (24 rows), ``by_weekday`` (7 rows), ``after_diary`` (one row per diary
        kind present), ``after_prompts``. Every count comes with ``hours`` (calendar) and
        ``wear_hours`` (usable wear, ``None`` without wear-time rows); ``rate`` is episodes
        per hour of ``rate_basis`` (``"usable_wear"`` or ``"calendar"``).
    """
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ConfigError(f"days must be an int >= 1 (got {days!r})")
    zone = resolve_tz(tz)
    wall = time.time_ns()
    end = wall if now_ns is None else int(now_ns)
    start = end - days * 24 * _HOUR
    total_h = (end - start) / _HOUR
    eps = [
        e
        for e in store.episodes(
            wearer_id=wearer_id, start_ns=start, end_ns=end, exclude_false_alarms=True
        )
        if e.start_ns >= start
    ]
    starts = [e.start_ns for e in eps]
    n = len(eps)
    expo, wear_days = _exposure(store, wearer_id, start, end, zone, min(wall, end))
    basis = "calendar" if expo is None else "usable_wear"

    def wear_h(lo: int, hi: int) -> float | None:
        return None if expo is None else expo.seconds(lo, hi) / 3600

    def row(n_: int, cal_h: float, worn_h: float | None) -> dict[str, Any]:
        return {
            "n": n_,
            "hours": round(cal_h, 3),
            "wear_hours": None if worn_h is None else round(worn_h, 3),
            "rate": _rate(n_, cal_h if worn_h is None else worn_h),
            "low_wear": is_low_wear(None if worn_h is None else worn_h * 3600, cal_h / 24)
            if cal_h > 0
            else True,
        }

    # hour of day / weekday: counts and hours of exposure, walking the period hour by hour
    hour_n = [0] * 24
    hour_h = [0.0] * 24
    hour_w = [0.0] * 24
    wd_n = [0] * 7
    wd_h = [0.0] * 7
    wd_w = [0.0] * 7
    t = start
    while t < end:
        step = min(_HOUR - t % _HOUR, end - t)  # up to the next whole UTC hour
        local = dt.datetime.fromtimestamp(t / _NS, zone)
        w = wear_h(t, t + step) or 0.0
        hour_h[local.hour] += step / _HOUR
        hour_w[local.hour] += w
        wd_h[local.weekday()] += step / _HOUR
        wd_w[local.weekday()] += w
        t += step
    for s in starts:
        local = dt.datetime.fromtimestamp(s / _NS, zone)
        hour_n[local.hour] += 1
        wd_n[local.weekday()] += 1
    by_hour = [
        {"hour": h, **row(hour_n[h], hour_h[h], None if expo is None else hour_w[h])}
        for h in range(24)
    ]
    by_weekday = [
        {"day": _WEEKDAYS[d], **row(wd_n[d], wd_h[d], None if expo is None else wd_w[d])}
        for d in range(7)
    ]

    # after diary entries, by kind
    total_w = wear_h(start, end)
    w_ns = round(window_h * _HOUR)
    entries = store.diary(wearer_id=wearer_id, start_ns=start - w_ns, end_ns=end)
    after_diary = []
    for kind in DIARY_KINDS:
        ks = [d for d in entries if d.kind == kind]
        if not ks:
            continue
        union = _union([(d.t_ns, d.t_ns + w_ns) for d in ks], start, end)
        hours_in = sum(b - a for a, b in union) / _HOUR
        n_in = sum(1 for s in starts if _inside(s, union))
        n_out, hours_out = n - n_in, total_h - hours_in
        w_in = None if expo is None else sum(expo.seconds(a, b) for a, b in union) / 3600
        w_out = None if total_w is None or w_in is None else max(0.0, total_w - w_in)
        after, other = row(n_in, hours_in, w_in), row(n_out, hours_out, w_out)
        r_in, r_out = after["rate"], other["rate"]
        if n_in < min_n or n_out < min_n:
            note = f"{TOO_FEW} (need at least {min_n} episodes both after and at other times)"
            ratio = None
        elif r_out:
            ratio = r_in / r_out if r_in is not None else None
            note = f"{ratio:.1f}x your rate at other times"
        else:
            ratio, note = None, "no episodes at other times"
        if expo is not None and (after["low_wear"] or other["low_wear"]) and ratio is not None:
            note += " (low wear on one side, interpret with care)"
        after_diary.append(
            {
                "kind": kind,
                "entries": len([d for d in ks if d.t_ns >= start]),
                "window_h": window_h,
                "n_after": n_in,
                "hours_after": after["hours"],
                "wear_hours_after": after["wear_hours"],
                "low_wear_after": after["low_wear"],
                "rate_after": r_in,
                "n_other": n_out,
                "hours_other": other["hours"],
                "wear_hours_other": other["wear_hours"],
                "low_wear_other": other["low_wear"],
                "rate_other": r_out,
                "ratio": ratio,
                "note": note,
            }
        )

    # after prompts: completed vs dismissed/ignored
    prompts = [
        p for p in store.prompts(wearer_id=wearer_id, start_ns=start, end_ns=end) if p.followup
    ]
    groups = []
    for name, outcomes in (("done", ("done",)), ("not done", ("dismissed", "ignored"))):
        ps = [p for p in prompts if p.outcome in outcomes and p.followup is not None]
        k = len(ps)
        fu = [p.followup for p in ps if p.followup is not None]
        spans = [(p.t_ns, round(p.followup.window_s * _NS)) for p in ps if p.followup]
        groups.append(
            {
                "group": name,
                "outcomes": list(outcomes),
                "prompts": k,
                "hours_after": round(sum(f.window_s for f in fu) / 3600, 3),
                "wear_hours_after": None
                if expo is None
                else round(sum(expo.seconds(t, t + w) for t, w in spans) / 3600, 3),
                "wear_hours_before": None
                if expo is None
                else round(sum(expo.seconds(t - w, t) for t, w in spans) / 3600, 3),
                "episodes_after": sum(f.episodes_after for f in fu),
                "episodes_before": sum(f.episodes_before for f in fu),
                "mean_episodes_after": (sum(f.episodes_after for f in fu) / k) if k else None,
                "mean_active_s_after": (sum(f.active_s_after for f in fu) / k) if k else None,
                "mean_episodes_before": (sum(f.episodes_before for f in fu) / k) if k else None,
                "mean_active_s_before": (sum(f.active_s_before for f in fu) / k) if k else None,
                "lost_s_after": sum(f.lost_s_after for f in fu),
            }
        )
    windows = sorted({p.followup.window_s for p in prompts if p.followup})
    if min(g["prompts"] for g in groups) < min_n:
        prompt_note = f"{TOO_FEW} (need at least {min_n} prompts in each group)"
    else:
        a, b = groups[0]["mean_active_s_after"], groups[1]["mean_active_s_after"]
        prompt_note = (
            f"after completed exercises: {a:.0f} s of spasm activity on average, "
            f"after dismissed or ignored prompts: {b:.0f} s"
        )

    # local days the period touches: which had a valid day of wear
    d0 = dt.datetime.fromtimestamp(start / _NS, zone).date()
    d1 = dt.datetime.fromtimestamp((end - 1) // _NS, zone).date()
    touched = [d0 + dt.timedelta(days=i) for i in range((d1 - d0).days + 1)]
    low_days = [d for d in touched if is_low_wear(wear_days.get(d))] if expo else []
    usable_s = None if total_w is None else total_w * 3600
    count = count_with_wear(n, usable_s, days=days, noun="episode")
    overall_note = f"{TOO_FEW}: only {n} episodes in this period" if n < min_n else None
    return {
        "wearer_id": wearer_id,
        "tz": str(zone),
        "period": {
            "start": dt.datetime.fromtimestamp(start / _NS, zone).isoformat(timespec="minutes"),
            "end": dt.datetime.fromtimestamp(end / _NS, zone).isoformat(timespec="minutes"),
            "days": days,
            "hours": round(total_h, 3),
            "usable_wear_hours": None if total_w is None else round(total_w, 3),
            "rate_basis": basis,
            "valid_day_h": VALID_DAY_S / 3600,
            "local_days": len(touched),
            "valid_days": None if expo is None else len(touched) - len(low_days),
            "low_wear_days": [
                {"date": d.isoformat(), "usable_s": wear_days.get(d, 0.0)} for d in low_days
            ],
        },
        "episodes": {
            "n": n,
            "hours": round(total_h, 3),
            "usable_s": usable_s,
            "wear_hours": None if total_w is None else round(total_w, 3),
            "low_wear": count.low_wear,
            "rate": _rate(n, total_h if total_w is None else total_w),
            "rate_basis": basis,
            "text": count.text,
            "note": overall_note,
        },
        "rate_note": CALENDAR_NOTE if expo is None else None,
        "by_hour": by_hour,
        "by_weekday": by_weekday,
        "after_diary": after_diary,
        "after_prompts": {
            "window_s": windows[0] if len(windows) == 1 else windows,
            "groups": groups,
            "note": prompt_note,
        },
        "min_n": min_n,
        "disclaimer": "Patterns in your own records: associations, not causes.",
    }


def _fmt_rate(r: float | None, basis: str) -> str:
    if r is None:
        return "-"
    return f"{r:.2f}/h worn" if basis == "usable_wear" else f"{r:.2f}/h"


def _exp(r: dict[str, Any], key: str = "", *, width: int = 0) -> str:
    """``"in 20 h worn"`` (or ``"in 28 h"`` on calendar hours), with a low-wear mark."""
    worn = r[f"wear_hours{key}"]
    if worn is None:
        return f"in {r[f'hours{key}']:{width}.0f} h"
    low = " (low wear)" if r.get(f"low_wear{key}") else ""
    return f"in {worn:{width}.1f} h worn{low}"


def format_insights(ins: dict[str, Any]) -> str:
    """Plain-text rendering of :func:`compute_insights` for a terminal (up to ~100 columns).

    Every count is followed by the hours it was counted in: hours worn with usable signal,
    or calendar hours (said once at the top) when there are no wear-time records.
    """
    p, e = ins["period"], ins["episodes"]
    basis = p["rate_basis"]
    lines = [
        f"Insights for wearer {ins['wearer_id']}: {p['start'][:10]} to {p['end'][:10]} "
        f"({p['days']} days, {ins['tz']})",
        f"Episodes: {e['text']}",
    ]
    if basis == "calendar":
        lines.append(f"  {e['n']} in {p['hours']:.0f} calendar h ({_fmt_rate(e['rate'], basis)})")
        lines += textwrap.wrap(
            f"note: {ins['rate_note']}", 88, initial_indent="  ", subsequent_indent="        "
        )
    else:
        lines.append(
            f"  worn days (at least {p['valid_day_h']:g} h usable): {p['valid_days']} of "
            f"{p['local_days']}"
        )
        low = p["low_wear_days"]
        if low:
            shown = ", ".join(f"{d['date']} ({d['usable_s'] / 3600:.1f} h)" for d in low[:4])
            more = f" and {len(low) - 4} more" if len(low) > 4 else ""
            lines.append(f"  low wear on {shown}{more}")
    if e["note"]:
        lines.append(f"  note: {e['note']}")
    unit = "per hour worn" if basis == "usable_wear" else "per calendar hour"
    lines += ["", f"By hour of day (episodes, hours observed, rate {unit}):"]
    top = max((r["n"] for r in ins["by_hour"]), default=0) or 1
    for r in ins["by_hour"]:
        bar = "#" * round(30 * r["n"] / top)
        lines.append(
            f"  {r['hour']:02d}:00  {r['n']:4d} {_exp(r, width=5):<26} "
            f"{_fmt_rate(r['rate'], basis):>11}  {bar}"
        )
    lines += ["", "By day of week:"]
    for r in ins["by_weekday"]:
        lines.append(
            f"  {r['day']}  {r['n']:4d} {_exp(r, width=5):<26} {_fmt_rate(r['rate'], basis):>11}"
        )
    lines += ["", "After diary entries:"]
    if not ins["after_diary"]:
        lines.append("  no diary entries in this period (`spasmwatch diary add`)")
    for r in ins["after_diary"]:
        lines.append(
            f"  {r['kind']:<10} {r['entries']:3d} entries; {r['window_h']:g} h after: "
            f"{r['n_after']} episodes {_exp(r, '_after')} ({_fmt_rate(r['rate_after'], basis)})"
        )
        lines.append(
            f"             other times: {r['n_other']} episodes {_exp(r, '_other')} "
            f"({_fmt_rate(r['rate_other'], basis)})"
        )
        lines.append(f"             {r['note']}")
    ap = ins["after_prompts"]
    lines += ["", "After exercise prompts (window after vs before each prompt):"]
    for g in ap["groups"]:
        if not g["prompts"]:
            lines.append(f"  {g['group']:<9} 0 prompts")
            continue
        lines.append(
            f"  {g['group']:<9} {g['prompts']:3d} prompts; after: "
            f"{g['mean_episodes_after']:.1f} episodes, {g['mean_active_s_after']:.0f} s active on "
            f"average (before: {g['mean_episodes_before']:.1f}, "
            f"{g['mean_active_s_before']:.0f} s)"
        )
        if g["wear_hours_after"] is not None:
            lines.append(
                f"  {'':<9} {g['hours_after']:.1f} h after the prompts, "
                f"{g['wear_hours_after']:.1f} h of it worn ({g['wear_hours_before']:.1f} h worn "
                "before)"
            )
    lines.append(f"  {ap['note']}")
    lines += ["", ins["disclaimer"]]
    return "\n".join(lines)
