"""A Penn Spasm Frequency Scale *style* score, derived from logged episodes.

This is **PSFS-style, derived, not a clinical PSFS assessment**. The Penn Spasm Frequency
Scale (Penn et al. 1989) is answered by a person about their own spasms; here the same
grades are computed from the episodes spasmwatch logged (detected and self-reported) per
hour of usable wear. The mapping, and what cannot be derived, is documented in
``docs/clinical-report.md``.

Frequency grade from the rate ``r`` (spasms per worn hour):

======  ==========================================  ===============================
grade   PSFS wording                                derived here when
======  ==========================================  ===============================
0       no spasms                                   no episode at all (``r == 0``)
1       mild spasms induced only by stimulation     never: a sensor cannot see the
                                                    stimulus (see ``grade_1_note``)
2       infrequent full spasms, < 1 per hour        ``0 < r < 1``
3       spasms more than once per hour              ``1 <= r <= 10``
4       spasms more than 10 times per hour          ``r > 10``
======  ==========================================  ===============================

Severity grade (1 mild, 2 moderate, 3 severe) is the upper median of the episodes'
severities; it is not given when there are no episodes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from spasmwatch.errors import ConfigError

__all__ = [
    "FREQUENCY_GRADES",
    "GRADE_1_NOTE",
    "PSFS_DISCLAIMER",
    "SEVERITY_GRADES",
    "PennScore",
    "frequency_grade",
    "penn_score",
    "severity_grade",
]

#: PSFS frequency grades and their wording.
FREQUENCY_GRADES: dict[int, str] = {
    0: "no spasms",
    1: "mild spasms induced only by stimulation",
    2: "infrequent full spasms, less than once per hour",
    3: "spasms more than once per hour",
    4: "spasms more than 10 times per hour",
}
#: PSFS severity grades and their wording.
SEVERITY_GRADES: dict[int, str] = {1: "mild", 2: "moderate", 3: "severe"}
#: Shown wherever the score is shown.
PSFS_DISCLAIMER = "PSFS-style, derived, not a clinical PSFS assessment"
#: Why grade 1 is never assigned.
GRADE_1_NOTE = (
    "Grade 1 (mild spasms induced only by stimulation) is never assigned: neither the "
    "sensors nor the diary record what triggered a spasm, so any rate above zero and below "
    "one per hour is reported as grade 2."
)


def frequency_grade(rate_per_h: float) -> int:
    """PSFS-style frequency grade (0, 2, 3 or 4) of a rate in spasms per worn hour.

    Parameters
    ----------
    rate_per_h : float
        Spasms per hour of usable wear, ``>= 0``.

    Returns
    -------
    int
        0 for ``rate == 0``; 2 for ``0 < rate < 1``; 3 for ``1 <= rate <= 10``; 4 above 10.
        Grade 1 is never returned (see :data:`GRADE_1_NOTE`).
    """
    if isinstance(rate_per_h, bool) or not isinstance(rate_per_h, int | float):
        raise ConfigError(f"rate_per_h must be a number (got {rate_per_h!r})")
    r = float(rate_per_h)
    if not math.isfinite(r) or r < 0:
        raise ConfigError(f"rate_per_h must be a finite number >= 0 (got {rate_per_h!r})")
    if r == 0:
        return 0
    if r < 1.0:
        return 2
    if r <= 10.0:
        return 3
    return 4


def severity_grade(severities: Iterable[int]) -> int | None:
    """PSFS-style severity grade: the upper median of severity ranks 1-3, ``None`` if empty.

    The upper median of an even-sized list is the larger of the two middle values: with as
    many moderate as severe episodes the grade is severe (the report does not round a
    wearer's spasms down).
    """
    ranks = sorted(int(s) for s in severities)
    bad = [s for s in ranks if s not in SEVERITY_GRADES]
    if bad:
        raise ConfigError(f"severity ranks must be 1, 2 or 3 (got {bad[:5]})")
    if not ranks:
        return None
    return ranks[len(ranks) // 2]


@dataclass(frozen=True, slots=True)
class PennScore:
    """A PSFS-style score for one period.

    Parameters
    ----------
    n_spasms : int
        Spasms counted (detected plus self-reported, each counted once).
    worn_h : float
        Hours of usable wear they were counted over.
    rate_per_h : float or None
        ``n_spasms / worn_h``; ``None`` without wear time.
    frequency : int or None
        Frequency grade 0, 2, 3 or 4; ``None`` without wear time (nothing to judge).
    severity : int or None
        Severity grade 1-3; ``None`` when there is no spasm.
    severity_counts : dict
        ``{1: n_mild, 2: n_moderate, 3: n_severe}``.
    """

    n_spasms: int
    worn_h: float
    rate_per_h: float | None
    frequency: int | None
    severity: int | None
    severity_counts: dict[int, int]

    @property
    def frequency_text(self) -> str:
        """PSFS wording of the frequency grade ("not enough wear time" if none)."""
        if self.frequency is None:
            return "not assessable: no usable wear time"
        return FREQUENCY_GRADES[self.frequency]

    @property
    def severity_text(self) -> str:
        """PSFS wording of the severity grade ("not applicable" without spasms)."""
        return "not applicable" if self.severity is None else SEVERITY_GRADES[self.severity]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the wording and the disclaimer."""
        return {
            "n_spasms": self.n_spasms,
            "worn_h": self.worn_h,
            "rate_per_h": self.rate_per_h,
            "frequency": self.frequency,
            "frequency_text": self.frequency_text,
            "severity": self.severity,
            "severity_text": self.severity_text,
            "severity_counts": {str(k): v for k, v in self.severity_counts.items()},
            "disclaimer": PSFS_DISCLAIMER,
            "grade_1_note": GRADE_1_NOTE,
        }


def penn_score(n_spasms: int, worn_h: float, severities: Iterable[int]) -> PennScore:
    """The PSFS-style score of ``n_spasms`` over ``worn_h`` hours of usable wear.

    Parameters
    ----------
    n_spasms : int
        Spasms (each counted once), ``>= 0``.
    worn_h : float
        Hours of usable wear, ``>= 0``. With 0 h the frequency grade is ``None``.
    severities : iterable of int
        Severity rank (1-3) of each counted spasm.
    """
    if isinstance(n_spasms, bool) or not isinstance(n_spasms, int) or n_spasms < 0:
        raise ConfigError(f"n_spasms must be an int >= 0 (got {n_spasms!r})")
    if not isinstance(worn_h, int | float) or not math.isfinite(worn_h) or worn_h < 0:
        raise ConfigError(f"worn_h must be a finite number of hours >= 0 (got {worn_h!r})")
    sev = [int(s) for s in severities]
    counts = {k: sev.count(k) for k in SEVERITY_GRADES}
    if worn_h > 0:
        rate: float | None = n_spasms / float(worn_h)
        freq: int | None = frequency_grade(rate)
    else:
        rate = None
        freq = None
    return PennScore(
        n_spasms=n_spasms,
        worn_h=float(worn_h),
        rate_per_h=rate,
        frequency=freq,
        severity=severity_grade(sev),
        severity_counts=counts,
    )
