import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sigutil import acc_like, cuts, emg_like, split, times

import spasmwatch.signal as sig
from spasmwatch.core import Gap, SampleBlock, StreamSpec
from spasmwatch.errors import ConfigError, SignalError
from spasmwatch.signal import FeatureSet, Normaliser, SignalPipeline

EMG = StreamSpec("myo", "emg", tuple(f"c{i}" for i in range(4)), 200.0, "counts")
ACC = StreamSpec("polar", "acc", ("x", "y", "z"), 50.0, "mG")
SECONDS = 12


def _data(seconds=SECONDS, seed=0):
    ne, na = int(seconds * EMG.rate_hz), int(seconds * ACC.rate_hz)
    return {
        "emg": (times(ne, EMG.rate_hz, offset_ns=2_000_000), emg_like(ne, 4, 200.0, seed)),
        "acc": (times(na, ACC.rate_hz, offset_ns=9_000_000), acc_like(na, 50.0, seed) * 1000),
    }


def _blocks(spec, t, x, boundaries):
    return [
        SampleBlock(spec, t[s], x[s].astype(np.float32), first_index=s.start)
        for s in split(len(t), boundaries)
    ]


def _interleave(*lists):
    """Blocks of all streams in the order a live source would deliver them (by last t)."""
    allb = [b for lst in lists for b in lst]
    return sorted(allb, key=lambda b: int(b.t_ns[-1]))


def _frames_to_arrays(frames):
    t = np.array([f.t_end_ns for f in frames], np.int64)
    x = np.array([f.values for f in frames], np.float32).reshape(len(frames), -1)
    return t, x


def test_public_api_is_curated():
    assert sorted(sig.__all__) == sorted(set(sig.__all__))
    assert "SignalPipeline" in sig.__all__ and "_Stream" not in sig.__all__
    for name in sig.__all__:
        assert getattr(sig, name) is not None


@settings(max_examples=15)
@given(be=cuts(SECONDS * 200, 12), ba=cuts(SECONDS * 50, 6))
def test_streaming_with_random_chunks_equals_batch(be, ba):
    d = _data()
    # random chunks may be many seconds long, so no stream may be declared stale here
    pipe = SignalPipeline([EMG, ACC], stale_timeout_s=None)
    t_b, x_b, flags = pipe.extract(d)
    assert x_b.dtype == np.float32 and x_b.shape == (len(t_b), pipe.feature_set.n_features)
    assert len(t_b) >= (SECONDS - 2) * 4
    frames = []
    for blk in _interleave(_blocks(EMG, *d["emg"], be), _blocks(ACC, *d["acc"], ba)):
        frames += pipe.update(blk)
    frames += pipe.flush()
    t_s, x_s = _frames_to_arrays(frames)
    np.testing.assert_array_equal(t_s, t_b)
    np.testing.assert_allclose(x_s, x_b, rtol=2e-4, atol=1e-5, equal_nan=True)
    assert [f.has_gap for f in frames] == flags["has_gap"].tolist()
    assert [("acc" in f.missing) for f in frames] == flags["missing.acc"].tolist()


def test_frames_are_on_the_grid_and_complete_after_warmup():
    pipe = SignalPipeline([EMG, ACC], window_s=2.0, hop_s=0.25)
    t, x, flags = pipe.extract(_data())
    assert np.all(t % 250_000_000 == 0) and np.all(np.diff(t) == 250_000_000)
    done = ~flags["missing.emg"] & ~flags["missing.acc"]
    assert done[8:].all() and np.isfinite(x[done]).all()
    assert x.shape[1] == len(pipe.names) == 21  # fs-3: 13 EMG + 8 ACC


@pytest.mark.parametrize("kinds", [("emg",), ("acc",), ("emg", "acc")])
def test_single_modality_configurations(kinds):
    specs = [s for s in (EMG, ACC) if s.kind in kinds]
    pipe = SignalPipeline(specs)
    assert pipe.feature_set.name == FeatureSet(kinds).name
    _, x, flags = pipe.extract({k: v for k, v in _data().items() if k in kinds})
    assert x.shape[1] == FeatureSet(kinds).n_features
    assert set(flags) == {"has_gap", *(f"missing.{k}" for k in kinds)}
    assert np.isfinite(x[-10:]).all()


def test_acc_5hz_tremor_shows_in_band_power():
    pipe = SignalPipeline([ACC])
    t, x, _ = pipe.extract({"acc": _data()["acc"]})
    bpr = x[:, pipe.names.index("acc.BPR")]
    domf = x[:, pipe.names.index("acc.DOMF")]
    after = (t - t[0]) > 4e9
    assert bpr[after].min() > 0.5 and np.allclose(domf[after], 5.0, atol=0.5)


def test_gap_is_flagged_and_filters_restart():
    pipe = SignalPipeline([EMG])
    t, x = _data()["emg"]
    x = x.astype(np.float32)
    frames = pipe.update(SampleBlock(EMG, t[:1000], x[:1000], first_index=0))
    gap = Gap(int(t[1000]), int(t[1040]), 40, "packet_loss")
    frames += pipe.update(SampleBlock(EMG, t[1040:], x[1040:], first_index=1040, gaps=(gap,)))
    frames += pipe.flush()
    gapped = [f for f in frames if f.has_gap]
    assert gapped and all(np.isnan(f.values).all() for f in gapped)
    assert all(not f.complete for f in gapped)
    clean = [f for f in frames if not f.has_gap and not f.missing]
    assert np.isfinite(np.array([f.values for f in clean])).all()
    ts = np.array([f.t_end_ns for f in frames])
    assert not ((ts > t[999] + 10_000_000) & (ts < t[1040])).any()  # no frame inside the gap


def test_dead_device_does_not_stall_the_others():
    pipe = SignalPipeline([EMG, ACC], stale_timeout_s=3.0)
    t, x = _data(20)["emg"]
    frames = []
    for a in range(0, len(t), 40):
        frames += pipe.update(SampleBlock(EMG, t[a : a + 40], x[a : a + 40].astype(np.float32), a))
    assert len(frames) > 40
    assert all(f.missing == ("acc",) for f in frames)
    assert np.isnan(frames[-1].values[pipe.feature_set.slice_of("acc")]).all()
    assert np.isfinite(frames[-1].values[pipe.feature_set.slice_of("emg")]).all()
    assert frames[-1].t_end_ns > t[-1] - 4e9  # kept up with the live stream


def test_without_timeout_a_missing_stream_holds_frames_back():
    pipe = SignalPipeline([EMG, ACC], stale_timeout_s=None)
    t, x = _data()["emg"]
    assert pipe.update(SampleBlock(EMG, t, x.astype(np.float32))) == []


def test_other_streams_are_ignored_and_wrong_settings_rejected():
    pipe = SignalPipeline([EMG])
    gyro = StreamSpec("myo", "gyro", ("x", "y", "z"), 50.0, "dps")
    assert pipe.update(SampleBlock(gyro, times(10, 50.0), np.zeros((10, 3), np.float32))) == []
    other = StreamSpec("myo", "emg", EMG.channels, 1000.0, "counts")
    with pytest.raises(SignalError, match="configured for 200 Hz"):
        pipe.update(SampleBlock(other, times(10, 1000.0), np.zeros((10, 4), np.float32)))
    with pytest.raises(ConfigError, match="one emg and/or one acc"):
        SignalPipeline([EMG, gyro])
    with pytest.raises(ConfigError, match="does not have"):
        pipe.extract({"acc": _data()["acc"]})


def test_reset_restores_initial_behaviour():
    pipe = SignalPipeline([EMG, ACC])
    d = _data(6)
    blocks = _interleave(_blocks(EMG, *d["emg"], [300, 700]), _blocks(ACC, *d["acc"], [100]))
    first = [f for b in blocks for f in pipe.update(b)]
    pipe.reset()
    again = [f for b in blocks for f in pipe.update(b)]
    assert len(first) == len(again) > 0
    for a, b in zip(first, again):
        assert a.t_end_ns == b.t_end_ns
        np.testing.assert_array_equal(a.values, b.values)


@settings(max_examples=10)
@given(scale=st.floats(0.05, 200.0))
def test_normalised_features_do_not_depend_on_device_scale(scale):
    pipe = SignalPipeline([EMG])
    t, x = _data()["emg"]
    _, ref, _ = pipe.extract({"emg": (t, x)})
    _, scaled, _ = pipe.extract({"emg": (t, x * scale)})
    ok = np.isfinite(ref).all(axis=1)
    calib = slice(0, 20)
    n1 = Normaliser(pipe.feature_set).fit(ref[ok][calib])
    n2 = Normaliser(pipe.feature_set).fit(scaled[ok][calib])
    np.testing.assert_allclose(n1.transform(ref[ok]), n2.transform(scaled[ok]), atol=2e-3)


def test_normaliser_streaming_contract():
    fs = FeatureSet(("emg",))
    rng = np.random.default_rng(0)
    rest = rng.uniform(1, 2, size=(31, fs.n_features)).astype(np.float32)
    n = Normaliser(fs, calibration_frames=31)
    with pytest.raises(SignalError, match="not calibrated"):
        n.transform(rest[0])
    for row in rest:
        n.update(row)
    assert n.is_frozen
    out = n.transform(rest)
    assert out.dtype == np.float32
    amp = fs.amplitude_mask
    np.testing.assert_allclose(np.median(out[:, amp], axis=0), 0.0, atol=1e-6)
    np.testing.assert_array_equal(out[:, ~amp], rest[:, ~amp])
    again = Normaliser.from_dict(n.to_dict())
    np.testing.assert_allclose(again.transform(rest), out)
    with pytest.raises(SignalError, match="frozen"):
        n.update(rest[0])
    n.reset()
    assert not n.is_frozen
    with pytest.raises(SignalError, match="without calibration"):
        n.freeze()


@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_both_mains_notch_keeps_emg_features_under_hum_of_either_grid(mains):
    """Hum of 30 counts (3x the noise) at 50 or 60 Hz: with the dual notch the RMS stays within 10 %
    of the clean signal's; a 50 Hz-only notch lets 60 Hz hum through (the test can fail)."""
    t, x = _data()["emg"]
    hum = 30.0 * np.sin(2 * np.pi * mains * np.arange(len(t)) / EMG.rate_hz)[:, None]
    rms = {}
    for notch in ((50.0, 60.0), 50.0):
        pipe = SignalPipeline([EMG], mains_hz=notch)
        assert pipe.mains_hz == ((50.0, 60.0) if notch != 50.0 else (50.0,))
        col = pipe.names.index("emg.RMS")
        clean = pipe.extract({"emg": (t, x)})[1][8:, col]
        pipe.reset()
        hummed = pipe.extract({"emg": (t, x + hum)})[1][8:, col]
        rms[notch] = np.median(hummed / clean)
    assert abs(rms[(50.0, 60.0)] - 1.0) < 0.1
    if mains == 60.0:
        assert rms[50.0] > 1.2


def test_mains_setting_is_validated():
    with pytest.raises(ConfigError, match="50, 60 or both"):
        SignalPipeline([EMG], mains_hz=(50.0, 55.0))
