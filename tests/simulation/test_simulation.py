"""The physiological wearer simulator: reproducibility, chunking, ground truth, gaps, CLI."""

from __future__ import annotations

import itertools
import json
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal as sps

import spasmwatch.simulation as simmod
from spasmwatch.core import SampleBlock
from spasmwatch.errors import ConfigError, ImportFormatError
from spasmwatch.simulation import (
    DEVICE_PRESETS,
    SPASM_TYPES,
    GroundTruthEvent,
    SimStream,
    WearerProfile,
    read_ground_truth_csv,
    simulate_wearer,
    write_ground_truth_csv,
)

ALL_DEVICES = tuple(DEVICE_PRESETS)
BUSY = WearerProfile(spasms_per_day=2500.0, type_mix=(0.25, 0.25, 0.25, 0.25), tremor_mg=30.0)


@pytest.fixture(scope="module")
def busy():
    """Ten minutes of a wearer with many spasms, all devices."""
    return simulate_wearer(600.0, 7, ALL_DEVICES, wearer=BUSY)


def test_public_api_is_pinned():
    assert sorted(simmod.__all__) == sorted(
        [
            "DEFAULT_START_NS", "DEVICE_PRESETS", "SPASM_TYPES", "GroundTruthEvent",
            "SimStream", "SimulationResult", "Simulator", "WearerProfile",
            "read_ground_truth_csv", "simulate_wearer", "write_ground_truth_csv",
        ]
    )  # fmt: skip


def test_presets_match_profiles():
    myo_emg = DEVICE_PRESETS["myo"][0].spec
    assert (myo_emg.kind, myo_emg.rate_hz, myo_emg.n_channels, myo_emg.units) == (
        "emg", 200.0, 8, "counts"
    )  # fmt: skip
    assert DEVICE_PRESETS["polar-h10"][0].spec.rate_hz == 200.0
    assert DEVICE_PRESETS["polar-h10"][0].spec.units == "mG"
    nus = {s.kind: s for s in DEVICE_PRESETS["nus-reference"]}
    assert (nus["emg"].rate_hz, nus["emg"].n_channels, nus["emg"].units) == (1000.0, 2, "uV")
    assert nus["acc"].rate_hz == 100.0
    assert DEVICE_PRESETS["polar-verity-sense"][0].rate_hz == 52.0
    assert DEVICE_PRESETS["movesense"][0].rate_hz == 52.0


def test_same_seed_same_bits_different_seed_differs():
    a = simulate_wearer(120.0, 11)
    b = simulate_wearer(120.0, 11)
    c = simulate_wearer(120.0, 12)
    for k in a.streams:
        _, ta, da = a.streams[k]
        _, tb, db = b.streams[k]
        assert np.array_equal(ta, tb) and np.array_equal(da, db)
        assert da.dtype == np.float32 and ta.dtype == np.int64
        assert not np.array_equal(a.full_data(k), c.full_data(k))
    assert a.truth == b.truth and a.confounders == b.confounders and a.wearer == b.wearer


@settings(max_examples=6)
@given(chunk_s=st.floats(min_value=0.37, max_value=50.0))
def test_chunked_generation_equals_whole(chunk_s):
    whole = simulate_wearer(60.0, 5, ALL_DEVICES, wearer=BUSY, chunk_s=600.0)
    parts = simulate_wearer(60.0, 5, ALL_DEVICES, wearer=BUSY, chunk_s=chunk_s)
    for k in whole.specs:
        assert np.array_equal(whole.full_data(k), parts.full_data(k)), k


def test_confounders_and_devices_do_not_shift_spasms():
    a = simulate_wearer(600.0, 3, ("myo",), wearer=BUSY, confounders=True)
    b = simulate_wearer(600.0, 3, ("polar-h10", "movesense"), wearer=BUSY, confounders=False)
    assert a.truth == b.truth and len(a.truth) > 3
    assert b.confounders == []
    # adding a device leaves another device's samples unchanged
    c = simulate_wearer(600.0, 3, ("myo", "movesense"), wearer=BUSY, confounders=True)
    assert np.array_equal(a.full_data("myo.emg"), c.full_data("myo.emg"))


def test_units_ranges_and_quantisation(busy):
    emg = busy.full_data("myo.emg")
    assert emg.min() >= -128 and emg.max() <= 127
    assert np.array_equal(emg, np.round(emg))  # integer counts like the ADC
    assert (emg == -128).any() or (emg == 127).any() or np.abs(emg).max() > 30
    acc = busy.full_data("polar-h10.acc")
    norm = np.linalg.norm(acc.astype(float), axis=1)
    assert 900 < np.median(norm) < 1100  # gravity in mG
    for _k, (spec, t, d) in busy.streams.items():
        assert d.shape[1] == spec.n_channels and t.shape[0] == d.shape[0]
        assert np.all(np.diff(t) > 0)


def test_truth_events_ordered_non_overlapping_and_typed(busy):
    tr = busy.truth
    assert len(tr) >= 20
    assert all(e.type in SPASM_TYPES for e in tr)
    for a, b in itertools.pairwise(tr):
        assert a.end_s <= b.start_s
    assert all(0.0 <= e.start_s < e.end_s <= busy.duration_s for e in tr)
    counts = Counter(e.type for e in tr)
    assert set(counts) == set(SPASM_TYPES)
    myo = [e for e in tr if e.type == "myoclonic"]
    assert all(e.n_jerks >= 1 and e.duration_s < 6.0 for e in myo)


def test_type_mix_follows_wearer():
    w = WearerProfile(spasms_per_day=6000.0, type_mix=(0.7, 0.1, 0.1, 0.1))
    r = simulate_wearer(1200.0, 9, ("polar-h10",), wearer=w, confounders=False,
                        packet_loss=False)  # fmt: skip
    c = Counter(e.type for e in r.truth)
    n = sum(c.values())
    assert n > 30
    assert c["tonic"] / n > 0.45  # 0.7 expected, binomial noise allowed
    w2 = WearerProfile(spasms_per_day=6000.0, type_mix=(0.0, 1.0, 0.0, 0.0))
    r2 = simulate_wearer(300.0, 9, ("polar-h10",), wearer=w2, confounders=False)
    assert {e.type for e in r2.truth} == {"clonic"}


def _envelope(x: np.ndarray, fs: float, cutoff: float = 15.0) -> np.ndarray:
    x = x.astype(float) - x.mean(axis=0)
    sos = sps.butter(4, cutoff, fs=fs, output="sos")
    return np.sqrt(np.maximum(sps.sosfiltfilt(sos, x**2, axis=0), 0.0)).mean(axis=1)


def test_emg_envelope_rises_inside_truth_events():
    r = simulate_wearer(600.0, 4, ("myo",), wearer=BUSY, confounders=False, packet_loss=False)
    x = r.full_data("myo.emg")
    t = r.time_s("myo.emg")
    env = _envelope(x, 200.0)
    inside = np.zeros(t.shape[0], bool)
    for e in r.truth:
        inside |= (t >= e.start_s) & (t < e.end_s)
    quiet = np.median(env[~inside])
    for e in r.truth:
        m = (t >= e.start_s) & (t < e.end_s)
        assert env[m].max() > 2.0 * quiet, e


def test_clonic_events_have_envelope_peak_in_clonus_band():
    w = WearerProfile(spasms_per_day=6000.0, type_mix=(0, 1, 0, 0), clonus_hz=5.5)
    r = simulate_wearer(600.0, 2, ("myo", "polar-h10"), wearer=w, confounders=False,
                        packet_loss=False)  # fmt: skip
    x = r.full_data("myo.emg").astype(float)
    t = r.time_s("myo.emg")
    acc = r.full_data("polar-h10.acc").astype(float)
    ta = r.time_s("polar-h10.acc")
    checked = 0
    for e in r.truth:
        if e.duration_s < 6.0:
            continue
        m = (t >= e.start_s) & (t < e.end_s)
        env = np.sqrt((x[m] ** 2).mean(axis=1))
        f, p = sps.welch(env - env.mean(), fs=200.0, nperseg=min(512, env.shape[0]))
        band = (f >= 0.5) & (f <= 20.0)
        peak = f[band][np.argmax(p[band])]
        assert 3.0 <= peak <= 8.0, (e, peak)
        assert abs(peak - e.clonus_hz) < 1.0
        ma = (ta >= e.start_s) & (ta < e.end_s)
        mag = np.linalg.norm(acc[ma], axis=1)
        f, p = sps.welch(mag - mag.mean(), fs=200.0, nperseg=min(512, mag.shape[0]))
        band = (f >= 0.5) & (f <= 20.0)
        assert 3.0 <= f[band][np.argmax(p[band])] <= 16.0  # burst frequency or its harmonic
        checked += 1
    assert checked >= 3


def test_gaps_remove_samples_exactly(busy):
    for key, (spec, t, d) in busy.streams.items():
        full = busy.full_data(key)
        gaps = busy.gaps[key]
        missing = sum(g.n_missing for g in gaps)
        assert d.shape[0] + missing == full.shape[0]
        period = spec.period_ns
        for g in gaps:
            assert g.cause in ("packet_loss", "disconnect")
            # no sample of the stream inside a gap; the gap spans exactly n_missing periods
            assert not np.any((t >= g.start_ns) & (t < g.end_ns))
            assert abs((g.end_ns - g.start_ns) - g.n_missing * period) <= 1
    assert any(busy.gaps[k] for k in busy.gaps)


def test_to_blocks_consistent_with_gaps(busy):
    key = "myo.emg"
    _spec, t, d = busy.streams[key]
    blocks = list(busy.to_blocks(key, 300))
    assert all(isinstance(b, SampleBlock) and b.n_samples <= 300 for b in blocks)
    assert np.array_equal(np.concatenate([b.t_ns for b in blocks]), t)
    assert np.array_equal(np.concatenate([b.data for b in blocks]), d)
    expected = 0
    seen_gaps = []
    for b in blocks:
        missing = sum(g.n_missing for g in b.gaps)
        assert b.first_index == expected + missing
        expected = b.end_index
        seen_gaps += list(b.gaps)
    assert seen_gaps == busy.gaps[key]


def test_packet_loss_off_gives_no_gaps():
    r = simulate_wearer(60.0, 1, packet_loss=False)
    assert all(g == [] for g in r.gaps.values())
    for k, (_, _, d) in r.streams.items():
        assert d.shape[0] == r.full_data(k).shape[0]


def test_source_for_device_reads_samples():
    r = simulate_wearer(30.0, 2, ("myo", "polar-h10"))
    src = r.source_for("myo")
    x = src.read("emg", 100, 50, 200.0, 8)
    assert x.dtype == np.float64 and x.shape == (50, 8)
    assert np.array_equal(x, r.full_data("myo.emg")[100:150].astype(np.float64))
    n = r.full_data("polar-h10.acc").shape[0]
    wrap = r.source_for("polar-h10").read("acc", n - 2, 4, 200.0, 3)
    assert np.array_equal(wrap[2:], r.full_data("polar-h10.acc")[:2].astype(np.float64))
    with pytest.raises(ConfigError):
        r.source_for("movesense")
    with pytest.raises(ConfigError):
        r.source()  # two devices: must name one


def test_csv_round_trip(tmp_path, busy):
    p = tmp_path / "gt.csv"
    write_ground_truth_csv(p, busy.truth)
    back = read_ground_truth_csv(p)
    assert len(back) == len(busy.truth)
    for a, b in zip(busy.truth, back):
        assert (a.start_s, a.end_s, a.type, a.clonus_hz, a.n_jerks) == (
            b.start_s, b.end_s, b.type, b.clonus_hz, b.n_jerks
        )  # fmt: skip
        assert a.intensity == b.intensity
    assert p.read_text().splitlines()[0].startswith("start_s,end_s,type")


def test_csv_minimal_columns_and_errors(tmp_path):
    p = tmp_path / "gt.csv"
    p.write_text("start_s,end_s,type\n1.5,3.0,tonic\n")
    assert read_ground_truth_csv(p) == [GroundTruthEvent(1.5, 3.0, "tonic")] or (
        read_ground_truth_csv(p)[0].type == "tonic"
    )
    p.write_text("start_s,end_s,type\n1.5,1.0,tonic\n")
    with pytest.raises(ImportFormatError, match="row 2"):
        read_ground_truth_csv(p)
    p.write_text("start,end\n1,2\n")
    with pytest.raises(ImportFormatError, match="lacks column"):
        read_ground_truth_csv(p)


def test_validation_messages():
    with pytest.raises(ConfigError, match="emg_gain"):
        WearerProfile(emg_gain=-1.0)
    with pytest.raises(ConfigError, match="placement"):
        WearerProfile(placement="head")
    with pytest.raises(ConfigError, match="unknown simulated device"):
        simulate_wearer(10.0, 1, ("fitbit",))
    with pytest.raises(ConfigError, match="kind"):
        SimStream("x", "ecg", 100.0, 1, "uV")
    with pytest.raises(ConfigError):
        GroundTruthEvent(2.0, 1.0, "tonic")
    with pytest.raises(ConfigError):
        GroundTruthEvent(1.0, 2.0, "cramp")


def test_wearer_from_seed_in_ranges_and_round_trips():
    for s in range(20):
        w = WearerProfile.from_seed(s)
        assert 0.3 <= w.emg_gain <= 3.0
        assert 4.7 <= w.clonus_hz <= 7.0
        assert 5.0 <= w.spasms_per_day <= 60.0
        assert abs(sum(w.type_mix) - 1.0) < 1e-12
        assert WearerProfile.from_dict(json.loads(json.dumps(w.to_dict()))) == w
    assert WearerProfile.from_seed(1) == WearerProfile.from_seed(1)
    assert WearerProfile.from_seed(1) != WearerProfile.from_seed(2)


def test_more_spasms_at_night():
    w = WearerProfile(spasms_per_day=3000.0, night_factor=4.0, morning_factor=1.0,
                      sleep_start_h=0.0, sleep_end_h=8.0)  # fmt: skip
    # start at 22:00 UTC: 2 h awake, then 2 h asleep
    start = 1_704_146_400_000_000_000
    r = simulate_wearer(4 * 3600.0, 1, ("polar-h10",), wearer=w, start_ns=start,
                        confounders=False, packet_loss=False)  # fmt: skip
    awake = sum(1 for e in r.truth if e.start_s < 7200)
    asleep = sum(1 for e in r.truth if e.start_s >= 7200)
    assert asleep > 1.5 * awake


def test_daily_schedule_has_confounders():
    w = WearerProfile(placement="arm", tremor_mg=40.0, activity_level=1.5)
    # 06:30 to 09:30 UTC with waking at 07:00: morning routine, walking, voluntary...
    start = 1_704_090_600_000_000_000
    r = simulate_wearer(3 * 3600.0, 8, ("polar-h10",), wearer=w, start_ns=start,
                        packet_loss=False, chunk_s=1800.0)  # fmt: skip
    names = {c[2] for c in r.confounders}
    assert {"sleep", "brushing_teeth", "voluntary", "tremor"} <= names
    assert names & {"walking", "typing", "combing_hair"}


def test_cli_writes_recording_and_ground_truth(tmp_path):
    from spasmwatch.cli import main
    from spasmwatch.store import open_recording

    out = tmp_path / "rec"
    code = main(["simulate", "--hours", "0.02", "--seed", "3", "--device", "myo",
                 "--device", "polar-h10", "--out", str(out), "--json"])  # fmt: skip
    assert code == 0
    rec = open_recording(out)
    r = simulate_wearer(0.02 * 3600.0, 3, ("myo", "polar-h10"))
    for key, (_spec, t, d) in r.streams.items():
        t2, d2 = rec.read(key)
        assert np.array_equal(t2, t) and np.array_equal(d2, d)
        assert rec.gaps(key) == r.gaps[key]
    truth = read_ground_truth_csv(out / "ground_truth.csv")
    assert [(e.start_s, e.type) for e in truth] == [(e.start_s, e.type) for e in r.truth]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["meta"]["simulator"]["seed"] == 3
    assert (out / "confounders.csv").exists()
