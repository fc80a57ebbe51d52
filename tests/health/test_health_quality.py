"""EmgQualityMonitor: every status on synthetic signals, real Myo EMG, chunked == whole."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from healthutil import MYO_EMG, NUS_EMG, T0, block, chunks, cuts, emg_counts, times
from hypothesis import given, settings
from hypothesis import strategies as st

from spasmwatch.core import StreamSpec
from spasmwatch.errors import ConfigError, SignalError
from spasmwatch.health import (
    ChannelQuality,
    EmgQualityMonitor,
    QualityReport,
    QualityThresholds,
    assess_emg_quality,
)

FS = 200.0


def _statuses(spec, x, **kw):
    return [r.statuses for r in assess_emg_quality(spec, times(x.shape[0], spec.rate_hz), x, **kw)]


def test_emg_like_noise_is_good_and_metrics_match_numpy():
    x = np.round(emg_counts(400, rms=6.0))
    reps = assess_emg_quality(MYO_EMG, times(400, FS), x)
    assert len(reps) == 2
    for r in reps:
        assert r.statuses == ("good",) * 8
        assert r.any_good and not r.all_contact_lost
    w = x[:200]
    ref = np.sqrt(np.mean((w - w.mean(0)) ** 2, axis=0))
    np.testing.assert_allclose([c.rms for c in reps[0].channels], ref, rtol=1e-6)
    assert reps[0].start_ns == T0 and reps[0].end_ns == T0 + 1_000_000_000
    assert reps[1].start_ns == reps[0].end_ns


def test_contact_lost_flat_and_quantisation_only():
    flat = np.zeros((200, 8))
    quant = np.round(np.random.default_rng(1).uniform(-0.55, 0.55, (200, 8)))  # rounding only
    constant = np.full((200, 8), 3.0)
    for x in (flat, quant, constant):
        (st_,) = _statuses(MYO_EMG, x)
        assert st_ == ("contact_lost",) * 8


def test_contact_lost_on_one_channel_only():
    x = np.round(emg_counts(200, rms=6.0))
    x[:, 3] = -1.0
    (r,) = assess_emg_quality(MYO_EMG, times(200, FS), x)
    assert r.statuses[3] == "contact_lost"
    assert r.statuses.count("good") == 7
    assert r.any_good and not r.all_contact_lost


def test_saturation_at_int8_rails():
    x = np.clip(np.round(emg_counts(200, rms=120.0)), -128, 127)
    (r,) = assess_emg_quality(MYO_EMG, times(200, FS), x)
    assert set(r.statuses) == {"saturation"}
    assert all(c.rail_fraction > 0.1 for c in r.channels)
    # a channel stuck at a rail is saturation, not "contact lost"
    x2 = np.round(emg_counts(200, rms=6.0))
    x2[:, 0] = 127.0
    (r2,) = assess_emg_quality(MYO_EMG, times(200, FS), x2)
    assert r2.statuses[0] == "saturation" and r2.channels[0].rail_fraction == 1.0


def test_rails_unknown_for_uv_unless_full_scale_given():
    x = np.clip(emg_counts(1000, 2, rms=30000.0, rate_hz=1000.0), -16384, 16383.5)
    (r,) = assess_emg_quality(NUS_EMG, times(1000, 1000.0), x)
    assert all(math.isnan(c.rail_fraction) for c in r.channels)
    assert "saturation" not in r.statuses
    assert r.to_dict()["channels"][0]["rail_fraction"] is None
    (r2,) = assess_emg_quality(NUS_EMG, times(1000, 1000.0), x, full_scale=(-16384, 16383.5))
    assert r2.statuses == ("saturation", "saturation")


@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_powerline_dominated(mains):
    n = 200
    t = np.arange(n) / FS
    x = emg_counts(n, rms=3.0) + 20.0 * np.sin(2 * np.pi * mains * t + 0.3)[:, None]
    (r,) = assess_emg_quality(MYO_EMG, times(n, FS), np.round(x), powerline_hz=mains)
    assert set(r.statuses) == {"powerline"}
    assert all(c.powerline_ratio > 0.8 for c in r.channels)
    # the same window judged against the other mains frequency is not powerline
    other = 60.0 if mains == 50.0 else 50.0
    (r2,) = assess_emg_quality(MYO_EMG, times(n, FS), np.round(x), powerline_hz=other)
    assert "powerline" not in r2.statuses
    # by default both grids' bands are watched: the wearer's grid is not known
    (r3,) = assess_emg_quality(MYO_EMG, times(n, FS), np.round(x))
    assert set(r3.statuses) == {"powerline"}


def test_plain_emg_is_good_with_both_mains_bands_watched():
    n = 200
    (r,) = assess_emg_quality(MYO_EMG, times(n, FS), np.round(emg_counts(n, rms=3.0)))
    assert set(r.statuses) == {"good"}
    assert all(c.powerline_ratio < 0.35 for c in r.channels)  # threshold 0.5
    with pytest.raises(ConfigError, match="at least one"):
        assess_emg_quality(MYO_EMG, times(n, FS), emg_counts(n, rms=3.0), powerline_hz=())


def test_powerline_harmonic_at_nyquist_counts():
    # at 200 Hz the 100 Hz harmonic of 50 Hz mains sits exactly at Nyquist
    n = 200
    t = np.arange(n) / FS
    x = emg_counts(n, rms=2.0) + 20.0 * np.sin(2 * np.pi * 100.0 * t + np.pi / 2)[:, None]
    (r,) = assess_emg_quality(MYO_EMG, times(n, FS), x)
    assert set(r.statuses) == {"powerline"}


def test_motion_artefact_low_frequency_baseline():
    n = 400
    t = np.arange(n) / FS
    sway = 40.0 * np.sin(2 * np.pi * 2.0 * t)[:, None] + 30.0 * (t > 1.4)[:, None]
    x = np.round(emg_counts(n, rms=5.0) + sway)
    reps = assess_emg_quality(MYO_EMG, times(n, FS), x)
    for r in reps:
        assert set(r.statuses) == {"motion_artefact"}
        assert all(c.lowfreq_ratio > 0.5 for c in r.channels)


def test_status_priority_saturation_over_powerline():
    n = 200
    t = np.arange(n) / FS
    x = np.clip(
        np.round(200.0 * np.sin(2 * np.pi * 50.0 * t + 0.1)[:, None] * np.ones(8)), -128, 127
    )
    (r,) = assess_emg_quality(MYO_EMG, times(n, FS), x)
    assert set(r.statuses) == {"saturation"}
    assert r.channels[0].powerline_ratio > 0.5


def test_gap_restarts_the_window():
    x = np.round(emg_counts(600, rms=6.0))
    mon = EmgQualityMonitor(MYO_EMG)
    assert mon.update(block(MYO_EMG, x[:150])) == []
    # 10 samples lost: the 150 buffered samples are dropped, windows restart after the gap
    reps = mon.update(block(MYO_EMG, x[150:], i0=160))
    assert len(reps) == 2
    assert reps[0].start_ns == times(1, FS, i0=160)[0]


@settings(max_examples=40)
@given(b=cuts(1300, 10), gap=st.sampled_from([None, 333, 700]), win=st.sampled_from([0.25, 1.0]))
def test_chunked_equals_whole(b, gap, win):
    x = np.round(emg_counts(1300, rms=5.0, seed=3))
    x[300:750, 2] = 0.0  # some contact loss
    x[850:] += np.round(50 * np.sin(np.arange(450) / FS * 2 * np.pi * 50))[:, None]
    whole = EmgQualityMonitor(MYO_EMG, window_s=win)
    ref = [r for blk in chunks(MYO_EMG, x, [], gap_at=gap, gap_len=7) for r in whole.update(blk)]
    mon = EmgQualityMonitor(MYO_EMG, window_s=win)
    got = [r for blk in chunks(MYO_EMG, x, b, gap_at=gap, gap_len=7) for r in mon.update(blk)]
    assert [r.statuses for r in got] == [r.statuses for r in ref]
    assert [(r.start_ns, r.end_ns) for r in got] == [(r.start_ns, r.end_ns) for r in ref]
    for g, r in zip(got, ref, strict=True):
        for cg, cr in zip(g.channels, r.channels, strict=True):
            assert cg.rms == pytest.approx(cr.rms, rel=1e-9, abs=1e-12)
            assert cg.powerline_ratio == pytest.approx(cr.powerline_ratio, abs=1e-9)
            assert cg.lowfreq_ratio == pytest.approx(cr.lowfreq_ratio, abs=1e-9)
    assert {s for r in ref for s in r.statuses} >= {"good", "contact_lost", "powerline"}


def test_reset_restores_initial_behaviour():
    x = np.round(emg_counts(500, rms=5.0))
    mon = EmgQualityMonitor(MYO_EMG)
    first = mon.update(block(MYO_EMG, x[:300]))
    mon.reset()
    again = mon.update(block(MYO_EMG, x[:300]))
    assert [r.to_dict() for r in first] == [r.to_dict() for r in again]


def test_report_round_trip():
    x = np.round(emg_counts(200))
    (r,) = assess_emg_quality(MYO_EMG, times(200, FS), x)
    assert QualityReport.from_dict(r.to_dict()) == r
    assert r.device == "myo" and r.duration_s == pytest.approx(1.0)


def test_errors_name_the_problem():
    with pytest.raises(ConfigError, match="EMG stream"):
        EmgQualityMonitor(StreamSpec("myo", "acc", ("x", "y", "z"), 50.0, "mG"))
    with pytest.raises(ConfigError, match="contact_floor"):
        EmgQualityMonitor(StreamSpec("dev", "emg", ("a",), 500.0, "arb"))
    EmgQualityMonitor(StreamSpec("dev", "emg", ("a",), 500.0, "arb"), contact_floor=0.1)
    with pytest.raises(ConfigError, match="full_scale"):
        EmgQualityMonitor(MYO_EMG, full_scale=(5.0, 1.0))
    with pytest.raises(ConfigError, match="rail_fraction"):
        QualityThresholds(rail_fraction=0.0)
    mon = EmgQualityMonitor(MYO_EMG)
    with pytest.raises(SignalError, match="one monitor per stream"):
        mon.update(block(NUS_EMG, np.zeros((10, 2))))
    with pytest.raises(SignalError, match="status"):
        ChannelQuality("a", "fine", 1.0, 0.0, 0.0, 0.0)
    with pytest.raises(SignalError, match="powerline_ratio"):
        ChannelQuality("a", "good", 1.0, 0.0, 1.5, 0.0)


def _read_myo(path: Path) -> list[np.ndarray]:
    """Runs of well-formed rows (9 integer fields); a malformed row splits the runs."""
    runs: list[list[list[int]]] = [[]]
    for line in path.read_text().splitlines():
        parts = line.strip().split(",")
        if len(parts) == 9:
            runs[-1].append([int(v) for v in parts])
        elif runs[-1]:
            runs.append([])
    return [np.asarray(r, np.float64)[:, :8] for r in runs if r]


def test_committed_real_myo_excerpt_is_mostly_good(tests_data):
    runs = _read_myo(tests_data / "myo-excerpt" / "64917-1_2_rows951-1150.txt")
    assert [r.shape[0] for r in runs] == [81, 117]
    mon = EmgQualityMonitor(MYO_EMG, window_s=0.25)
    reps = []
    i0 = 0
    for k, x in enumerate(runs):
        reps += mon.update(block(MYO_EMG, x, i0=i0 + 2 * k))
        i0 += x.shape[0]
    assert len(reps) == 3
    statuses = [s for r in reps for s in r.statuses]
    assert statuses.count("good") / len(statuses) >= 0.75
    assert all(r.any_good for r in reps)


def test_real_myo_rest_and_gesture_files_are_mostly_good(shared_data):
    root = shared_data / "myo-readings"
    if not root.is_dir():
        pytest.skip("myo-readings not present")
    files = sorted(root.glob("*/*/*.txt"))[::9]  # a spread of participants and gestures
    assert files
    share = {}
    for kind, pick in (
        ("rest", lambda p: p.name == "0.txt"),
        ("gesture", lambda p: p.name != "0.txt"),
    ):
        st_ = []
        for f in (p for p in files if pick(p)):
            for x in _read_myo(f):
                for r in assess_emg_quality(MYO_EMG, times(x.shape[0], FS), x):
                    st_ += r.statuses
        share[kind] = st_.count("good") / len(st_)
    assert share["rest"] >= 0.9, share
    assert share["gesture"] >= 0.9, share
