"""Wear time next to every episode count the API returns.

A day with 3 episodes in 2 hours of usable signal is not a day with 3 episodes in 20
hours. Every count the API returns (daily, hourly and weekly summaries) carries the
seconds worn with usable signal in the same period and a ``low_wear`` flag. The rule and
the wording are those of :mod:`spasmwatch.health` (:data:`~spasmwatch.health.VALID_DAY_S`,
:func:`~spasmwatch.health.is_low_wear`, :func:`~spasmwatch.health.count_with_wear`); this
module only adds the API's names and the JSON fields of a bucket.
"""

from __future__ import annotations

from typing import Any

from spasmwatch.health import VALID_DAY_S, count_with_wear, is_low_wear

__all__ = ["MIN_VALID_WEAR_S", "format_count_with_wear", "is_low_wear", "wear_fields"]

#: ``min_valid_wear_s`` of the summaries: :data:`spasmwatch.health.VALID_DAY_S` (10 h).
MIN_VALID_WEAR_S = VALID_DAY_S


def format_count_with_wear(n: int, usable_s: float | None, days: float = 1.0) -> str:
    """The one wording of a count (:func:`spasmwatch.health.format_count_with_wear`).

    Parameters
    ----------
    n : int
        Number of episodes.
    usable_s : float or None
        Seconds worn with usable signal in the same period; ``None`` or 0 when unknown or
        not worn.
    days : float
        Calendar days the count covers (a week: 7; the low-wear rule is 10 h a day).
    """
    return count_with_wear(n, usable_s, days=days).text


def wear_fields(
    n: int, worn_s: float | None, usable_s: float | None, days: float = 1.0
) -> dict[str, Any]:
    """The JSON fields every counted bucket carries: ``n``, ``worn_s``, ``usable_s``,
    ``low_wear`` and ``text`` (plus ``rate_per_24h_worn``, ``None`` for low wear)."""
    c = count_with_wear(n, usable_s, worn_s=worn_s, days=days)
    return {
        "n": c.n,
        "worn_s": worn_s,
        "usable_s": usable_s,
        "low_wear": c.low_wear,
        "rate_per_24h_worn": c.rate_per_24h_worn,
        "text": c.text,
    }
