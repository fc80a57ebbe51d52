"""The PSFS-style mapping at and around its boundaries."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spasmwatch.errors import ConfigError
from spasmwatch.reports import frequency_grade, penn_score, severity_grade


@pytest.mark.parametrize(
    ("rate", "grade"),
    [
        (0.0, 0),
        (1e-9, 2),
        (0.5, 2),
        (math.nextafter(1.0, 0.0), 2),
        (1.0, 3),
        (5.0, 3),
        (10.0, 3),
        (math.nextafter(10.0, 11.0), 4),
        (250.0, 4),
    ],
)
def test_frequency_boundaries(rate, grade):
    assert frequency_grade(rate) == grade


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_frequency_grade_is_monotonic_and_never_1(rate):
    g = frequency_grade(rate)
    assert g in (0, 2, 3, 4)
    assert frequency_grade(rate * 1.5 + 0.1) >= g


@pytest.mark.parametrize("bad", [-0.1, math.nan, math.inf, "3", True])
def test_bad_rates_are_refused(bad):
    with pytest.raises(ConfigError):
        frequency_grade(bad)


def test_severity_is_the_upper_median():
    assert severity_grade([]) is None
    assert severity_grade([1]) == 1
    assert severity_grade([1, 3]) == 3
    assert severity_grade([1, 1, 3]) == 1
    assert severity_grade([3, 2, 2, 1]) == 2
    with pytest.raises(ConfigError):
        severity_grade([0, 2])


def test_penn_score_needs_wear_time():
    p = penn_score(0, 0.0, [])
    assert p.frequency is None and p.rate_per_h is None and p.severity is None
    assert "no usable wear" in p.frequency_text
    p = penn_score(0, 12.0, [])
    assert (
        p.frequency == 0 and p.frequency_text == "no spasms" and p.severity_text == "not applicable"
    )
    p = penn_score(24, 12.0, [3, 3, 1])
    assert p.rate_per_h == 2.0 and p.frequency == 3 and p.severity == 3
    assert p.to_dict()["disclaimer"].startswith("PSFS-style, derived")
    with pytest.raises(ConfigError):
        penn_score(-1, 1.0, [])
