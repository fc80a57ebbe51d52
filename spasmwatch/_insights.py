"""Patterns in one wearer's own records: when episodes happen, what follows diary entries
and prompts. Always with counts and hours of observation, and a plain note when the
numbers are too small to compare. Associations in personal data, not causes; nothing here
advises on treatment or medication.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import time
from typing import Any

from spasmwatch.errors import ConfigError
from spasmwatch.store._db import EventStore, resolve_tz
from spasmwatch.store._values import DIARY_KINDS

__all__ = ["compute_insights", "format_insights"]

_NS = 1_000_000_000
_HOUR = 3600 * _NS
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TOO_FEW = "too few to compare"


def _rate(n: int, hours: float) -> float | None:
    return None if hours <= 0 else n / hours


def _union(intervals: list[tuple[int, int]], lo: int, hi: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted((max(s, lo), min(e, hi)) for s, e in intervals if e > lo and s < hi):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _inside(t: int, union: list[tuple[int, int]]) -> bool:
    i = bisect.bisect_right(union, (t, math.inf)) - 1
    return i >= 0 and union[i][0] <= t < union[i][1]


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
        ``period``, ``episodes`` (total, hours, rate), ``by_hour`` (24 rows), ``by_weekday``
        (7 rows), ``after_diary`` (one row per diary kind present), ``after_prompts``. Rates
        are episodes per hour of observation; hours are calendar hours of the period.
    """
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ConfigError(f"days must be an int >= 1 (got {days!r})")
    zone = resolve_tz(tz)
    end = time.time_ns() if now_ns is None else int(now_ns)
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

    # hour of day / weekday: counts and hours of exposure, walking the period hour by hour
    hour_n = [0] * 24
    hour_h = [0.0] * 24
    wd_n = [0] * 7
    wd_h = [0.0] * 7
    t = start
    while t < end:
        step = min(_HOUR - t % _HOUR, end - t)  # up to the next whole UTC hour
        local = dt.datetime.fromtimestamp(t / _NS, zone)
        hour_h[local.hour] += step / _HOUR
        wd_h[local.weekday()] += step / _HOUR
        t += step
    for s in starts:
        local = dt.datetime.fromtimestamp(s / _NS, zone)
        hour_n[local.hour] += 1
        wd_n[local.weekday()] += 1
    by_hour = [
        {
            "hour": h,
            "n": hour_n[h],
            "hours": round(hour_h[h], 3),
            "rate": _rate(hour_n[h], hour_h[h]),
        }
        for h in range(24)
    ]
    by_weekday = [
        {
            "day": _WEEKDAYS[d],
            "n": wd_n[d],
            "hours": round(wd_h[d], 3),
            "rate": _rate(wd_n[d], wd_h[d]),
        }
        for d in range(7)
    ]

    # after diary entries, by kind
    w = round(window_h * _HOUR)
    entries = store.diary(wearer_id=wearer_id, start_ns=start - w, end_ns=end)
    after_diary = []
    for kind in DIARY_KINDS:
        ks = [d for d in entries if d.kind == kind]
        if not ks:
            continue
        union = _union([(d.t_ns, d.t_ns + w) for d in ks], start, end)
        hours_in = sum(b - a for a, b in union) / _HOUR
        n_in = sum(1 for s in starts if _inside(s, union))
        n_out, hours_out = n - n_in, total_h - hours_in
        r_in, r_out = _rate(n_in, hours_in), _rate(n_out, hours_out)
        if n_in < min_n or n_out < min_n:
            note = f"{TOO_FEW} (need at least {min_n} episodes both after and at other times)"
            ratio = None
        elif r_out:
            ratio = r_in / r_out if r_in is not None else None
            note = f"{ratio:.1f}x your rate at other times"
        else:
            ratio, note = None, "no episodes at other times"
        after_diary.append(
            {
                "kind": kind,
                "entries": len([d for d in ks if d.t_ns >= start]),
                "window_h": window_h,
                "n_after": n_in,
                "hours_after": round(hours_in, 3),
                "rate_after": r_in,
                "n_other": n_out,
                "hours_other": round(hours_out, 3),
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
        ps = [p for p in prompts if p.outcome in outcomes]
        k = len(ps)
        fu = [p.followup for p in ps if p.followup is not None]
        groups.append(
            {
                "group": name,
                "outcomes": list(outcomes),
                "prompts": k,
                "hours_after": round(sum(f.window_s for f in fu) / 3600, 3),
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

    wear = store.wear_time(
        wearer_id,
        dt.datetime.fromtimestamp(start / _NS, zone).date(),
        dt.datetime.fromtimestamp(end / _NS, zone).date(),
    )
    per_day: dict[dt.date, float] = {}
    for row in wear:
        per_day[row.day] = max(per_day.get(row.day, 0.0), row.usable_s)
    wear_h = sum(per_day.values()) / 3600 if wear else None

    overall_note = f"{TOO_FEW}: only {n} episodes in this period" if n < min_n else None
    return {
        "wearer_id": wearer_id,
        "tz": str(zone),
        "period": {
            "start": dt.datetime.fromtimestamp(start / _NS, zone).isoformat(timespec="minutes"),
            "end": dt.datetime.fromtimestamp(end / _NS, zone).isoformat(timespec="minutes"),
            "days": days,
            "hours": round(total_h, 3),
            "usable_wear_hours": None if wear_h is None else round(wear_h, 3),
        },
        "episodes": {
            "n": n,
            "hours": round(total_h, 3),
            "rate": _rate(n, total_h),
            "note": overall_note,
        },
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


def _fmt_rate(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}/h"


def format_insights(ins: dict[str, Any]) -> str:
    """Plain-text rendering of :func:`compute_insights` for a terminal (80 columns)."""
    p, e = ins["period"], ins["episodes"]
    lines = [
        f"Insights for wearer {ins['wearer_id']}: {p['start'][:10]} to {p['end'][:10]} "
        f"({p['days']} days, {ins['tz']})",
        f"Episodes: {e['n']} in {p['hours']:.0f} h ({_fmt_rate(e['rate'])})"
        + (
            ""
            if p["usable_wear_hours"] is None
            else f"; sensors worn with usable signal {p['usable_wear_hours']:.0f} h"
        ),
    ]
    if e["note"]:
        lines.append(f"  note: {e['note']}")
    lines += ["", "By hour of day (episodes, rate per hour):"]
    top = max((r["n"] for r in ins["by_hour"]), default=0) or 1
    for r in ins["by_hour"]:
        bar = "#" * round(30 * r["n"] / top)
        lines.append(f"  {r['hour']:02d}:00  {r['n']:4d}  {_fmt_rate(r['rate']):>8}  {bar}")
    lines += ["", "By day of week:"]
    for r in ins["by_weekday"]:
        lines.append(f"  {r['day']}  {r['n']:4d} in {r['hours']:5.0f} h  {_fmt_rate(r['rate'])}")
    lines += ["", "After diary entries:"]
    if not ins["after_diary"]:
        lines.append("  no diary entries in this period (`spasmwatch diary add`)")
    for r in ins["after_diary"]:
        lines.append(
            f"  {r['kind']:<10} {r['entries']:3d} entries; {r['window_h']:g} h after: "
            f"{r['n_after']} episodes in {r['hours_after']:.0f} h ({_fmt_rate(r['rate_after'])}); "
            f"other times: {r['n_other']} in {r['hours_other']:.0f} h "
            f"({_fmt_rate(r['rate_other'])})"
        )
        lines.append(f"             {r['note']}")
    ap = ins["after_prompts"]
    lines += ["", "After exercise prompts (window after vs before each prompt):"]
    for g in ap["groups"]:
        if not g["prompts"]:
            lines.append(f"  {g['group']:<9} 0 prompts")
            continue
        lines.append(
            f"  {g['group']:<9} {g['prompts']:3d} prompts; after: {g['mean_episodes_after']:.1f} "
            f"episodes, {g['mean_active_s_after']:.0f} s active on average "
            f"(before: {g['mean_episodes_before']:.1f}, {g['mean_active_s_before']:.0f} s)"
        )
    lines.append(f"  {ap['note']}")
    lines += ["", ins["disclaimer"]]
    return "\n".join(lines)
