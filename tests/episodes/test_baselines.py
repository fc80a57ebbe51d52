"""Baselines on synthetic signals built here: rest, a tonic burst, a clonic train, confounders."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spasmwatch.episodes import (
    AccBandRatio,
    AccBandRatioConfig,
    EmgDoubleThreshold,
    EmgDoubleThresholdConfig,
)
from spasmwatch.episodes._baselines import bonato_zeta
from spasmwatch.errors import ConfigError, SignalError

S = 1_000_000_000
T0 = 1_700_000_000 * S


def _t(n, fs):
    return T0 + np.round(np.arange(n) * S / fs).astype(np.int64)


def _emg(fs=200.0, dur=60.0, seed=0):
    """1-channel EMG: unit noise; tonic burst 20-25 s (x8); 5 Hz clonic train 40-46 s."""
    rng = np.random.default_rng(seed)
    n = int(dur * fs)
    tt = np.arange(n) / fs
    x = rng.normal(0, 1, n)
    tonic = (tt >= 20) & (tt < 25)
    x[tonic] *= 8
    clon = (tt >= 40) & (tt < 46) & (((tt - 40) * 5) % 1 < 0.5)  # 100 ms bursts at 5 Hz
    x[clon] *= 10
    return _t(n, fs), x.reshape(-1, 1)


def _finals(ups):
    return [u for u in ups if u.kind == "final"]


def test_bonato_zeta_matches_binomial_tail():
    from scipy import stats

    zeta, p = bonato_zeta(10, 5, 1e-3)
    assert stats.binom.sf(4, 10, p) == pytest.approx(1e-3, rel=1e-6)
    assert stats.chi2.sf(zeta, 1) == pytest.approx(p, rel=1e-6)
    assert bonato_zeta(1, 1, 0.01)[1] == pytest.approx(0.01)
    with pytest.raises(ConfigError, match="r <= m"):
        bonato_zeta(3, 4, 0.01)


@pytest.mark.parametrize("fs", [200.0, 1000.0])
def test_emg_double_threshold_finds_tonic_and_clonic_and_nothing_else(fs):
    t, x = _emg(fs)
    det = EmgDoubleThreshold(fs, wearer_id="w")
    ups = det.detect(t, x)
    finals = _finals(ups)
    spans = [((u.episode.start_ns - T0) / S, (u.episode.end_ns - T0) / S) for u in finals]
    assert len(finals) == 2, spans
    (a0, a1), (b0, b1) = spans
    # the end trails by up to activity_window_s * (1 - offset_fraction) = 0.4 s
    assert 19.5 <= a0 <= 20.3 and 24.8 <= a1 <= 25.5
    assert 39.5 <= b0 <= 40.3 and 45.3 <= b1 <= 46.5  # pauses bridged
    alarms = [(u.alarm_ns - T0) / S for u in finals]
    assert 20.1 <= alarms[0] <= 20.5 and 40.1 <= alarms[1] <= 41.0
    e = finals[0].episode
    assert e.model_id == "baseline-emg-double-threshold" and e.type == "unknown"
    assert e.severity == "severe" and e.peak_intensity > 4  # x8 amplitude over rest
    assert det.calibrated


def test_emg_rest_noise_gives_no_false_alarm_and_explicit_calibration():
    fs = 200.0
    rng = np.random.default_rng(3)
    n = int(600 * fs)  # 10 min of rest with a slow drift and mains-free noise
    x = rng.normal(0, 1, n) + 50 * np.sin(2 * np.pi * 0.05 * np.arange(n) / fs)
    det = EmgDoubleThreshold(fs)
    det.calibrate(rng.normal(0, 1, 4000))
    det.reset()
    ups = det.update(_t(n, fs), x) + det.flush()
    assert [u.kind for u in ups if u.kind in ("onset", "final")] == []


def test_emg_gap_closes_episode():
    fs = 200.0
    t, x = _emg(fs)
    keep = (t - T0 < 22 * S) | (t - T0 > 23 * S)  # 1 s of samples lost mid-burst
    finals = _finals(EmgDoubleThreshold(fs).detect(t[keep], x[keep]))
    ends = [(u.episode.end_ns - T0) / S for u in finals]
    assert len(finals) == 3 and 21.8 <= ends[0] <= 22.05


@settings(max_examples=15)
@given(st.lists(st.integers(1, 12_000 - 1), max_size=6))
def test_emg_chunked_equals_batch(cuts):
    fs = 200.0
    t, x = _emg(fs)
    t, x = t[:12_000], x[:12_000]
    batch = EmgDoubleThreshold(fs).detect(t, x)
    det = EmgDoubleThreshold(fs)
    got = []
    b = [0, *sorted(set(cuts)), len(t)]
    for lo, hi in itertools.pairwise(b):
        got += det.update(t[lo:hi], x[lo:hi])
    got += det.flush()
    assert got == batch


def test_emg_config_and_input_errors():
    with pytest.raises(ConfigError, match="does not fit a 40 Hz stream"):
        EmgDoubleThreshold(40.0, EmgDoubleThresholdConfig(band_hz=(20.0, 450.0)))
    with pytest.raises(ConfigError, match="p_fa"):
        EmgDoubleThresholdConfig(p_fa=1.0)
    det = EmgDoubleThreshold(200.0)
    with pytest.raises(SignalError, match="shape"):
        det.update(_t(10, 200.0), np.zeros((9, 1)))
    with pytest.raises(SignalError, match="at least 16 samples"):
        det.calibrate(np.zeros(5))


# ----------------------------------------------------------------------------- ACC


def _acc(fs=52.0, dur=150.0, seed=1):
    """3-axis ACC in mG: gravity on z, noise; 5 Hz clonus 60-68 s; slow 0.5 Hz sway 90-110 s;
    a posture change (gravity moves to x) at 120 s."""
    rng = np.random.default_rng(seed)
    n = int(dur * fs)
    tt = np.arange(n) / fs
    a = rng.normal(0, 5, (n, 3))
    a[:, 2] += 1000
    cl = (tt >= 60) & (tt < 68)
    a[cl, 2] += 200 * np.sin(2 * np.pi * 5.2 * tt[cl])
    sw = (tt >= 90) & (tt < 110)
    a[sw, 2] += 300 * np.sin(2 * np.pi * 0.5 * tt[sw])
    post = tt >= 120
    a[post, 2] -= 1000
    a[post, 0] += 1000
    return _t(n, fs), a


def test_acc_band_ratio_finds_clonus_not_sway_or_posture():
    fs = 52.0
    t, a = _acc(fs)
    finals = _finals(AccBandRatio(fs).detect(t, a))
    spans = [((u.episode.start_ns - T0) / S, (u.episode.end_ns - T0) / S) for u in finals]
    assert len(finals) == 1, spans
    s0, s1 = spans[0]
    assert 58.0 <= s0 <= 60.5 and 67.5 <= s1 <= 70.0
    e = finals[0].episode
    assert e.type == "clonic" and e.model_id == "baseline-acc-band-ratio"
    alarm = (finals[0].alarm_ns - T0) / S
    assert 60.5 <= alarm <= 62.5


@settings(max_examples=15)
@given(st.lists(st.integers(1, 52 * 80 - 1), max_size=6))
def test_acc_chunked_equals_batch(cuts):
    fs = 52.0
    t, a = _acc(fs, dur=80.0)
    batch = AccBandRatio(fs).detect(t, a)
    assert len(_finals(batch)) == 1
    det = AccBandRatio(fs)
    got = []
    b = [0, *sorted(set(cuts)), len(t)]
    for lo, hi in itertools.pairwise(b):
        got += det.update(t[lo:hi], a[lo:hi])
    got += det.flush()
    assert got == batch


def test_acc_needs_enough_rate():
    with pytest.raises(ConfigError, match=r"needs >= 20 Hz"):
        AccBandRatio(13.0)
    with pytest.raises(ConfigError, match="ratio_threshold"):
        AccBandRatioConfig(ratio_threshold=1.5)
