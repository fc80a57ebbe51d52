"""Event scoring: hand-built cases with exact expected numbers, and edge cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from spasmwatch.episodes import (
    Detection,
    DetectorConfig,
    ScoringConfig,
    SubjectRecord,
    TruthEvent,
    detect_updates,
    detections_from_updates,
    evaluate,
    score_subject,
)
from spasmwatch.errors import ConfigError

T, D = TruthEvent, Detection
NAN = float("nan")


def _case_a(**kw):
    truth = [T(10, 20, "tonic"), T(100, 105, "clonic"), T(200, 210, "clonic"), T(500, 505, "mixed")]
    dets = [
        D(9, 15, "tonic", 11),
        D(103, 130, "clonic", 104),
        D(300, 310, "tonic", 301),
        D(400, 401, None, None),
    ]
    return SubjectRecord("s1", truth, dets, 2 * 3600, gaps=[(490, 520)], **kw)


def test_hand_built_subject_exact_numbers():
    s = score_subject(_case_a(n_retracted=3))
    assert (s.n_truth, s.n_not_observable, s.n_truth_detected) == (3, 1, 2)
    assert (s.n_detections, s.n_false_alarms) == (4, 2)
    assert s.sensitivity == pytest.approx(2 / 3)
    assert s.precision == pytest.approx(0.5)
    assert s.f1 == pytest.approx(4 / 7)
    assert s.usable_hours == pytest.approx(2.0)
    assert s.false_alarms_per_hour == pytest.approx(1.0)
    assert s.false_alarms_per_24h == pytest.approx(24.0)
    assert s.retracted_per_24h == pytest.approx(36.0)
    assert s.latencies_s == (1.0, 4.0)
    lat = s.latency
    assert (lat.n, lat.median_s, lat.p90_s, lat.mean_s) == (2, 2.5, pytest.approx(3.7), 2.5)
    by = {t.type: t for t in s.per_type}
    assert set(by) == {"tonic", "clonic"}  # the mixed event was not observable
    assert (by["tonic"].n_truth, by["tonic"].n_detected, by["tonic"].type_accuracy) == (1, 1, 1.0)
    assert (by["clonic"].n_truth, by["clonic"].n_detected) == (2, 1)
    assert by["clonic"].sensitivity == 0.5 and by["clonic"].n_type_correct == 1


def test_strict_szcore_fp_rule_counts_detections_sticking_out():
    cfg = ScoringConfig(2.0, 2.0, strict_fp=True)
    s = score_subject(_case_a(), cfg)
    # [103, 130] detects [100, 105] but sticks out of [98, 107]: also a false alarm
    assert (s.n_truth_detected, s.n_false_alarms) == (2, 3)
    sz = ScoringConfig.szcore()
    assert (sz.tolerance_before_s, sz.tolerance_after_s, sz.strict_fp) == (30.0, 60.0, True)
    s = score_subject(_case_a(), sz)
    # [100,105] extended to [70,165] now contains [103,130]; [300,310], [400,401] remain FA
    assert (s.n_truth_detected, s.n_false_alarms) == (2, 2)


def test_one_detection_overlapping_two_truths():
    r = SubjectRecord("s", [T(10, 20), T(25, 30)], [D(15, 27, "spasm", 16)], 3600)
    s = score_subject(r, ScoringConfig(0, 0))
    assert (s.n_truth_detected, s.n_false_alarms, s.sensitivity, s.precision) == (2, 0, 1.0, 1.0)
    assert s.latencies_s == (6.0, -9.0)  # the same alarm, before the 2nd onset


def test_two_detections_one_truth_use_earliest_alarm():
    r = SubjectRecord("s", [T(10, 30)], [D(20, 25, None, 21), D(12, 15, None, 13)], 3600)
    s = score_subject(r, ScoringConfig(0, 0))
    assert (s.n_truth_detected, s.n_false_alarms, s.precision) == (1, 0, 1.0)
    assert s.latencies_s == (3.0,)


def test_zero_truth_events_sensitivity_undefined():
    r = SubjectRecord("s", [], [D(1, 2)], 3600)
    s = score_subject(r)
    assert math.isnan(s.sensitivity) and math.isnan(s.f1)
    assert s.precision == 0.0 and s.false_alarms_per_24h == pytest.approx(24.0)
    ev = evaluate([r])
    md = ev.to_markdown()
    assert "| pooled | 0 | 0 | n/a | 0.00 | n/a | 24.00 | n/a | n/a |" in md
    d = ev.to_dict()
    json.dumps(d, allow_nan=False)  # NaN became None
    assert d["pooled"]["sensitivity"] is None


def test_no_detections_and_zero_duration():
    s = score_subject(SubjectRecord("s", [T(1, 2)], [], 0.0))
    assert s.sensitivity == 0.0 and math.isnan(s.precision) and math.isnan(s.f1)
    assert math.isnan(s.false_alarms_per_24h) and math.isnan(s.false_alarms_per_hour)
    assert s.latency.n == 0 and math.isnan(s.latency.median_s)


def test_tolerance_and_touching_endpoints():
    truth = [T(10, 20)]
    late = [D(21, 23, None, 21)]
    assert score_subject(SubjectRecord("s", truth, late, 100), ScoringConfig(0, 2)).sensitivity == 1
    s0 = score_subject(SubjectRecord("s", truth, late, 100), ScoringConfig(0, 0))
    assert (s0.sensitivity, s0.n_false_alarms) == (0.0, 1)
    touch = score_subject(SubjectRecord("s", truth, [D(20, 25)], 100), ScoringConfig(0, 0))
    assert touch.sensitivity == 0.0  # touching is not overlapping
    point = score_subject(
        SubjectRecord("s", truth, [D(20, 20, None, 20)], 100), ScoringConfig(0, 0)
    )
    assert point.sensitivity == 1.0 and point.latencies_s == (10.0,)


def test_min_overlap():
    r = SubjectRecord("s", [T(10, 20)], [D(10, 12)], 100)
    assert score_subject(r, ScoringConfig(0, 0, min_overlap=0.1)).sensitivity == 1.0
    assert score_subject(r, ScoringConfig(0, 0, min_overlap=0.5)).sensitivity == 0.0


def test_partly_observable_truth_is_kept():
    r = SubjectRecord("s", [T(10, 20), T(30, 40)], [], 100, gaps=[(0, 15), (28, 35), (35, 41)])
    s = score_subject(r)
    assert (s.n_truth, s.n_not_observable) == (1, 1)


def test_pooled_versus_subject_average():
    a = SubjectRecord("a", [T(10, 20)], [D(11, 12, None, 12)], 3600)
    b = SubjectRecord("b", [T(10, 20), T(40, 50), T(70, 80)], [D(100, 101), D(200, 201)], 7200)
    ev = evaluate([a, b], ScoringConfig(0, 0))
    assert ev.pooled.sensitivity == pytest.approx(0.25)
    assert ev.pooled.precision == pytest.approx(1 / 3)
    assert ev.pooled.false_alarms_per_24h == pytest.approx(2 / 3 * 24)
    avg = ev.subject_average
    assert avg.sensitivity == pytest.approx(0.5)
    assert avg.precision == pytest.approx(0.5)  # a: 1.0, b: 0.0
    assert avg.false_alarms_per_24h == pytest.approx((0 + 24 * 2 / 2) / 2)
    assert avg.f1 == pytest.approx(0.5)  # a: 1.0, b: 0.0
    assert avg.latency_median_s == pytest.approx(2.0)  # only a has a latency
    assert list(ev.per_subject) == ["a", "b"]
    md = ev.to_markdown(title="test")
    assert md.startswith("### test")
    assert "| b | 2.00 | 3 | 0 | 0.00 | 0.00 | 24.00 | n/a |" in md
    with pytest.raises(ConfigError, match="distinct"):
        evaluate([a, a])


def test_validation_messages():
    with pytest.raises(ConfigError, match=r"TruthEvent.end_s \(1.0\) must be > start_s"):
        T(1, 1)
    with pytest.raises(ConfigError, match=r"Detection\.end_s"):
        D(2, 1)
    with pytest.raises(ConfigError, match="tolerance_before_s"):
        ScoringConfig(-1)
    with pytest.raises(ConfigError, match="min_overlap"):
        ScoringConfig(min_overlap=1.0)
    with pytest.raises(ConfigError, match="usable_duration_s"):
        SubjectRecord("s", [], [], -5)


def test_from_detector_updates():
    S = 1_000_000_000
    t0 = 1_700_000_000 * S
    t = t0 + np.arange(200) * (S // 4)
    p = np.zeros(200)
    p[40:60] = 0.9  # windows ending 10..14.75 s
    p[120:122] = 0.9  # too short: retracted
    ups = detect_updates(t, p, config=DetectorConfig(min_duration_s=2.5))
    dets, n_retracted = detections_from_updates(ups, origin_ns=t0)
    assert n_retracted == 1 and len(dets) == 1
    d = dets[0]
    assert (d.start_s, d.end_s, d.alarm_s) == (8.0, 14.75, 10.25)
    s = score_subject(
        SubjectRecord("s", [T(9.0, 14.0, "tonic")], dets, 50, n_retracted=n_retracted)
    )
    assert s.sensitivity == 1.0 and s.latencies_s == (1.25,)
    assert s.n_retracted == 1


def test_public_api_is_pinned():
    import spasmwatch.episodes as ep

    assert set(ep.__all__) >= {
        "Episode",
        "EpisodeDetector",
        "DetectorConfig",
        "EpisodeUpdate",
        "detect_episodes",
        "detect_updates",
        "EmgDoubleThreshold",
        "AccBandRatio",
        "evaluate",
        "score_subject",
        "ScoringConfig",
        "SubjectRecord",
        "TruthEvent",
        "Detection",
    }
    assert all(hasattr(ep, name) for name in ep.__all__)
