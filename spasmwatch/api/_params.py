"""Query parameters shared by the routers (times, wearer) and their parsing."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Annotated

from fastapi import Query

from spasmwatch.errors import ConfigError

__all__ = ["TIME_HELP", "EndQ", "StartQ", "WearerQ", "parse_range", "parse_time", "parse_tz"]

_INT_RE = re.compile(r"^-?\d{1,19}$")

TIME_HELP = (
    "UTC time as integer nanoseconds since the Unix epoch, or ISO 8601 "
    "(e.g. 2026-03-01T08:00:00Z; without an offset it is read as UTC)"
)

#: ``start`` of a time range (parse with :func:`parse_range`)
StartQ = Annotated[str | None, Query(description=TIME_HELP)]
#: ``end`` of a time range, exclusive
EndQ = Annotated[str | None, Query(description=TIME_HELP + "; exclusive")]
#: ``wearer_id`` narrowing a query to one of the wearers the caller may see
WearerQ = Annotated[
    str | None,
    Query(
        max_length=128,
        description="only this wearer (default: every wearer the token may see); "
        "researchers pass the study pseudonym",
    ),
]


def parse_time(value: str | None, name: str) -> int | None:
    """``value`` as int UTC ns (``None`` passes through).

    Raises
    ------
    ConfigError
        If ``value`` is neither an int64 of ns nor an ISO 8601 date-time.
    """
    if value is None or value == "":
        return None
    v = value.strip()
    if _INT_RE.match(v):
        n = int(v)
        if 0 <= n < 2**63:
            return n
    else:
        try:
            d = dt.datetime.fromisoformat(v.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            pass
        else:
            if d.tzinfo is None:
                d = d.replace(tzinfo=dt.UTC)
            try:
                delta = d - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
            except OverflowError:
                delta = None
            if delta is not None:
                n = (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000
                if 0 <= n < 2**63:
                    return n
    raise ConfigError(
        f"query parameter {name!r} must be UTC ns since the epoch (0 to 2**63-1) or an ISO "
        f"8601 date-time from 1970 to 2262 (got {value[:60]!r})"
    )


def parse_range(start: str | None, end: str | None) -> tuple[int | None, int | None]:
    """Both ends of a time range, checked to be in order."""
    a = parse_time(start, "start")
    b = parse_time(end, "end")
    if a is not None and b is not None and b < a:
        raise ConfigError(f"'end' ({end}) must not be before 'start' ({start})")
    return a, b


def parse_tz(value: str | None) -> str:
    """An IANA time zone name (default ``"UTC"``), checked to exist."""
    if not value:
        return "UTC"
    if len(value) > 64:
        raise ConfigError(f"'tz' must be an IANA time zone name (got {value[:60]!r}...)")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(
            f"'tz' must be an IANA time zone name such as 'Europe/Berlin' (got {value!r})"
        ) from None
    return value
