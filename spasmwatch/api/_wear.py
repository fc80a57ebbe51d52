"""Wear time next to every episode count: a count means little without the hours it covers.

A day with 3 episodes in 2 hours of usable signal is not a day with 3 episodes in 20
hours. Every count the API returns (daily, hourly and weekly summaries) carries the
seconds worn with usable signal in the same period and a ``low_wear`` flag, and the pages
print counts with :func:`format_count_with_wear`.
"""

from __future__ import annotations

import math

__all__ = ["MIN_VALID_WEAR_S", "format_count_with_wear", "is_low_wear"]

#: Usable wear per day below which a day's count is flagged ``low_wear`` (s). Ten hours is
#: the usual threshold for a valid day of wear in accelerometry studies.
MIN_VALID_WEAR_S = 10 * 3600.0


def is_low_wear(usable_s: float | None, days: float = 1.0) -> bool:
    """``True`` if ``usable_s`` is under :data:`MIN_VALID_WEAR_S` per day over ``days`` days."""
    if usable_s is None:
        return True
    return usable_s < MIN_VALID_WEAR_S * days


def format_count_with_wear(n: int, worn_s: float | None) -> str:
    """``"3 · 2.0 h worn"``: an episode count with the hours of usable wear behind it.

    Parameters
    ----------
    n : int
        Number of episodes.
    worn_s : float or None
        Seconds worn with usable signal in the same period; ``None`` or 0 when unknown or
        not worn (``"3 · not worn"``).
    """
    if worn_s is None or not math.isfinite(worn_s) or worn_s <= 0:
        return f"{n} · not worn"
    return f"{n} · {worn_s / 3600:.1f} h worn"
