"""Exercises: phase timelines, durations and careful wording."""

from __future__ import annotations

import re

import pytest

from spasmwatch.coach import DEFAULT_EXERCISE_ID, EXERCISES, Exercise, Phase, get_exercise
from spasmwatch.errors import ConfigError


def test_default_is_six_breaths_a_minute_with_longer_exhale():
    ex = get_exercise(DEFAULT_EXERCISE_ID)
    assert DEFAULT_EXERCISE_ID == "paced-6"
    assert [(n, d) for n, d, _ in ex.phases()[:2]] == [("inhale", 4.0), ("exhale", 6.0)]
    assert ex.cycle_s == 10.0  # 6 breaths/min = 0.1 Hz
    assert ex.duration_s == 60.0
    assert ex.offer_text == "1 minute of slow breathing (4 s in, 6 s out)"


@pytest.mark.parametrize(
    ("ex_id", "pattern", "total"),
    [
        ("box-4", [("inhale", 4), ("hold", 4), ("exhale", 4), ("hold", 4)], 64),
        ("breath-4-7-8", [("inhale", 4), ("hold", 7), ("exhale", 8)], 76),
    ],
)
def test_breathing_patterns(ex_id, pattern, total):
    ex = get_exercise(ex_id)
    ph = ex.phases()
    assert [(n, d) for n, d, _ in ph[: len(pattern)]] == [(n, float(d)) for n, d in pattern]
    assert sum(d for _, d, _ in ph) == ex.duration_s == total
    assert len(ph) == len(pattern) * ex.cycles


def test_relaxation_script_is_gentle_and_dismissable():
    ex = get_exercise("pmr-short")
    names = [n for n, _, _ in ex.phases()]
    assert names[0] == "settle" and names[-1] == "settle"
    assert names.count("tense") == names.count("release") >= 3
    assert all(d <= 5 for n, d, _ in ex.phases() if n == "tense")  # short, light effort
    assert "skip any muscle" in ex.intro and "half strength" in ex.phases()[1][2]


def test_wording_makes_no_medical_claims():
    banned = re.compile(r"medic|dose|drug|baclofen|cure|treat|reduce[sd]? spasm|diagnos", re.I)
    for ex in EXERCISES.values():
        texts = [ex.title, ex.summary, ex.intro] + [i for _, _, i in ex.phases()]
        for t in texts:
            assert not banned.search(t), (ex.id, t)
        assert "Stop whenever you like" in ex.intro


def test_to_dict_carries_the_timeline():
    d = get_exercise("box-4").to_dict()
    assert d["duration_s"] == 64 and len(d["phases"]) == 16
    assert d["phases"][1] == {"name": "hold", "duration_s": 4.0, "instruction": "Hold gently"}


def test_validation():
    with pytest.raises(ConfigError, match="unknown exercise 'yoga'"):
        get_exercise("yoga")
    with pytest.raises(ConfigError, match="duration_s"):
        Phase("inhale", 0, "x")
    with pytest.raises(ConfigError, match="cycles"):
        Exercise("x", "x", "x", (Phase("inhale", 1, "x"),), cycles=0)


def test_public_api_is_pinned():
    import spasmwatch.coach as coach

    assert sorted(coach.__all__) == sorted(
        [
            "DEFAULT_EXERCISE_ID",
            "EXERCISES",
            "REFUSALS",
            "BusDelivery",
            "Coach",
            "Decision",
            "Delivery",
            "DesktopDelivery",
            "Exercise",
            "Followup",
            "Phase",
            "Prompt",
            "PromptPolicy",
            "TerminalDelivery",
            "compute_followup",
            "deliver_all",
            "fill_prompt_followups",
            "get_exercise",
            "prompt_message",
        ]
    )
    assert all(hasattr(coach, n) for n in coach.__all__)
