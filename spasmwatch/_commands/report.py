"""``spasmwatch report``: the clinical summary of a date range, as text, JSON or PDF."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from spasmwatch._paths import default_db_path
from spasmwatch.errors import ConfigError
from spasmwatch.health import VALID_DAY_S

HELP = (
    "A clinical summary of one wearer over a range of days: spasms per worn day and per "
    "night with the wear time behind them, durations, intensity, type mix, a PSFS-style "
    "score (derived, not a clinical PSFS assessment) and the diary. As text, JSON or a PDF "
    "report (the PDF needs the [report] extra). Not a diagnostic device; no medication advice."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=None, help=f"event store (default {default_db_path()})")
    parser.add_argument("--wearer", default="default", help="wearer id (default 'default')")
    parser.add_argument("--from", dest="start", default=None, help="first day, YYYY-MM-DD")
    parser.add_argument("--to", dest="end", default=None, help="last day, YYYY-MM-DD (today)")
    parser.add_argument("--days", type=int, default=30, help="days back when --from is not given")
    parser.add_argument("--tz", default=None, help="IANA time zone (default: this machine's)")
    parser.add_argument("--format", choices=("text", "json", "pdf"), default="text")
    parser.add_argument("--out", default=None, help="file to write (required for pdf)")
    parser.add_argument(
        "--min-worn-h",
        type=float,
        default=VALID_DAY_S / 3600,
        help="usable hours that make a worn day (10)",
    )


def _date(text: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{name} must be a date YYYY-MM-DD (got {text!r})") from None


def format_text(s: Any) -> str:
    """A plain-text rendering of a :class:`~spasmwatch.reports.ClinicalSummary`."""
    from spasmwatch.reports import PSFS_DISCLAIMER

    def f(v: float | None, spec: str = ".1f") -> str:
        return "n/a" if v is None else format(v, spec)

    p = s.psfs
    d = s.durations
    pct = s.type_percent()
    lines = [
        f"Spasm summary for {s.pseudonym} ({s.wearer_id}), {s.start} to {s.end} ({s.tz})",
        "",
        f"  spasms per worn day    {f(s.per_worn_day):>6}   {s.n_on_worn_days} on "
        f"{s.n_worn_days}/{s.n_days} days worn >= {s.min_worn_h:g} h "
        f"({s.worn_days_usable_h:.1f} h usable)",
        f"  spasms per worn night  {f(s.per_worn_night):>6}   {s.n_on_worn_nights} in "
        f"{s.n_worn_nights}/{len(s.nights)} nights worn >= {s.min_night_worn_h:g} h "
        f"({s.worn_nights_usable_h:.1f} h usable)",
        f"  PSFS-style frequency   {('n/a' if p.frequency is None else p.frequency):>6}   "
        f"{f(p.rate_per_h, '.2f')} per worn hour: {p.frequency_text}",
        f"  PSFS-style severity    {('n/a' if p.severity is None else p.severity):>6}   "
        f"{p.severity_text}",
        f"  ({PSFS_DISCLAIMER})",
        f"  duration               median {f(d.median_s)} s, p90 {f(d.p90_s)} s, total "
        f"{d.total_s / 60:.1f} min ({d.n} detected/labeled)",
        f"  peak intensity         median {f(s.intensity_median)} x baseline "
        f"({s.intensity_n} detected)",
        "  types                  "
        + ", ".join(f"{t} {c} ({pct[t]:.0f} %)" for t, c in s.type_counts.items() if c),
        f"  sources                detected {s.by_source['auto']}, labeled "
        f"{s.by_source['labeled']}, self-reported {s.by_source['self-report']} "
        f"(+{s.n_self_reports_merged} matched a detection); "
        f"{s.n_false_alarms_excluded} false alarms excluded",
        "",
        "  day         usable h  worn  spasms  night",
    ]
    nights = {n.night_of: n for n in s.nights}
    for r in s.days:
        n = nights.get(r.day)
        night = "" if n is None else f"{n.n}" + ("" if n.worn else " (not worn)")
        lines.append(
            f"  {r.day}  {r.usable_s / 3600:8.1f}  {'yes' if r.worn else 'no ':>4}  {r.n:6d}  "
            f"{night}"
        )
    if s.diary:
        lines += ["", "  diary (as written):"]
        from spasmwatch.store import resolve_tz

        tz = resolve_tz(s.tz)
        for e in s.diary:
            when = dt.datetime.fromtimestamp(e.t_ns // 10**9, tz).strftime("%Y-%m-%d %H:%M")
            what = " ".join(x for x in (e.text, e.dose or "") if x)
            lines.append(f"  {when}  {e.kind:<10}  {what}")
    lines += [
        "",
        "A self-monitoring and research tool, not a diagnostic device; no medication advice.",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from spasmwatch.reports import clinical_summary, render_pdf
    from spasmwatch.store import EventStore, resolve_tz

    zone = resolve_tz(args.tz)
    end = _date(args.end, "--to") if args.end else dt.datetime.now(zone).date()
    if args.start:
        start = _date(args.start, "--from")
    else:
        if args.days < 1:
            raise ConfigError(f"--days must be >= 1 (got {args.days})")
        start = end - dt.timedelta(days=args.days - 1)
    if args.format == "pdf" and not args.out:
        raise ConfigError("--format pdf needs --out FILE.pdf")
    with EventStore(args.db or default_db_path(), create=False) as store:
        summary = clinical_summary(store, args.wearer, start, end, zone, min_worn_h=args.min_worn_h)
    if args.format == "pdf":
        data = render_pdf(summary, args.out)
        print(f"wrote {args.out} ({len(data) / 1024:.0f} kB)")
        return 0
    text = (
        json.dumps(summary.to_dict(), indent=2) if args.format == "json" else format_text(summary)
    )
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0
