"""``spasmwatch insights``: patterns in your own episodes, diary and prompts."""

from __future__ import annotations

import argparse
import datetime as dt
import json

from spasmwatch._paths import default_db_path
from spasmwatch.errors import ConfigError

HELP = (
    "Patterns in your own records: episodes by hour of day and day of week, episodes in the "
    "hours after diary entries (stretching, heat, medication taken...) compared with other "
    "times, and spasm activity after completed vs dismissed exercise prompts. Every count "
    "comes with the hours worn (with usable signal) it was counted in, and rates are per hour "
    "worn; without wear-time records they fall back to calendar hours and say so. Days under "
    "10 h of wear are flagged low wear; small numbers are marked 'too few to compare'. "
    "Associations, not causes; this is not medical advice."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--days", type=int, default=28, help="period length in days (28)")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.add_argument("--db", default=None, help=f"event store (default {default_db_path()})")
    parser.add_argument("--wearer", default="default", help="wearer id (default 'default')")
    parser.add_argument("--tz", default=None, help="IANA time zone (default: this machine's)")
    parser.add_argument(
        "--window-h", type=float, default=3.0, help="hours after a diary entry to look at (3)"
    )
    parser.add_argument(
        "--until", default=None, help="end of the period, ISO date-time (default: now)"
    )


def parse_local_time(text: str, tz: str | None = None) -> int:
    """An ISO date-time (or ``HH:MM`` today) as UTC ns; naive times are local."""
    from spasmwatch.store import resolve_tz

    zone = resolve_tz(tz)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        try:
            clock = dt.time.fromisoformat(text)
        except ValueError:
            raise ConfigError(
                f"time {text!r} is not ISO 8601; use e.g. 2024-06-03T14:05 or 14:05"
            ) from None
        when = dt.datetime.combine(dt.datetime.now(zone).date(), clock)
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    return round(when.timestamp() * 1e6) * 1000


def run(args: argparse.Namespace) -> int:
    from spasmwatch._insights import compute_insights, format_insights
    from spasmwatch.store import EventStore

    now_ns = None if args.until is None else parse_local_time(args.until, args.tz)
    with EventStore(args.db or default_db_path(), create=False) as store:
        ins = compute_insights(
            store,
            args.wearer,
            days=args.days,
            now_ns=now_ns,
            tz=args.tz,
            window_h=args.window_h,
        )
    print(json.dumps(ins, indent=2) if args.json else format_insights(ins))
    return 0
