import numpy as np
import pytest

from spasmwatch.errors import ConfigError
from spasmwatch.signal import (
    ACC_FEATURES,
    EMG_FEATURES,
    STATIC_FEATURES,
    AccFeatures,
    EmgFeatures,
    FeatureSet,
    acc_window_features,
    emg_window_features,
)


def _ref_emg_channel(x, rate, thr):
    """Plain numpy, one window, one channel, written from the definitions."""
    n = len(x)
    dur = n / rate
    d = np.diff(x)
    zc = sum(1 for i in range(n - 1) if x[i] * x[i + 1] < 0 and abs(x[i] - x[i + 1]) >= thr)
    ssc = sum(1 for i in range(1, n - 1) if (x[i] - x[i - 1]) * (x[i] - x[i + 1]) >= thr**2)
    win = np.hanning(n + 2)[1:-1]
    p = np.abs(np.fft.rfft(x * win)) ** 2
    f = np.fft.rfftfreq(n, 1 / rate)
    lo, hi = 20.0, min(450.0, 0.45 * rate)
    m = (f >= lo) & (f <= hi)
    pb, fb = p[m], f[m]
    mnf = np.sum(pb * fb) / np.sum(pb)
    mdf = fb[np.nonzero(np.cumsum(pb) >= pb.sum() / 2)[0][0]]
    block = round(0.025 * rate)
    nb = n // block
    env = np.abs(x[n - nb * block :]).reshape(nb, block).mean(axis=1)
    env = env - env.mean()
    ep = np.abs(np.fft.rfft(env * np.hanning(nb + 2)[1:-1])) ** 2
    ef = np.fft.rfftfreq(nb, block / rate)
    rhy = ep[(ef >= 3) & (ef <= 8)].sum() / ep[(ef >= 1) & (ef <= min(20, rate / block / 2))].sum()
    nr = round(0.25 * rate)
    return (
        [
            np.sqrt(np.mean(x**2)),
            np.mean(np.abs(x)),
            np.sum(np.abs(d)) / dur,
            zc / dur,
            ssc / dur,
            np.mean(x[1:-1] ** 2 - x[:-2] * x[2:]),
            mnf,
            mdf,
            rhy,
            np.sqrt(np.mean(x[-nr:] ** 2)),
        ],
        env,
    )


@pytest.mark.parametrize("rate, n, c", [(200.0, 400, 3), (1000.0, 500, 2), (200.0, 200, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_emg_features_match_plain_numpy(rate, n, c, dtype):
    rng = np.random.default_rng(4)
    k = 3
    x = (rng.normal(size=(k, n, c)) * np.array([1.0, 5.0, 20.0][:c])).astype(dtype)
    thr = rng.uniform(0.1, 1.0, size=(k, c))
    per, agg = emg_window_features(x, rate, thr)
    assert per.shape == (k, c, 10) and agg.shape == (k, len(EMG_FEATURES) + 2)
    for version, n_cols in (("fs-1", len(EMG_FEATURES)), ("fs-2", len(EMG_FEATURES) + 1)):
        _, older = emg_window_features(x, rate, thr, version)
        np.testing.assert_array_equal(older, agg[:, :n_cols])  # older sets are prefixes
    rtol = 2e-4 if dtype == np.float32 else 1e-8
    for w in range(k):
        envs = []
        for ch in range(c):
            ref, env = _ref_emg_channel(x[w, :, ch].astype(np.float64), rate, thr[w, ch])
            envs.append(env)
            np.testing.assert_allclose(per[w, ch], ref, rtol=rtol, atol=1e-9)
        np.testing.assert_allclose(agg[w, :10], per[w].mean(axis=0))
        if c > 1:
            cc = np.corrcoef(np.array(envs))
            ref_co = cc[np.triu_indices(c, 1)].mean()
        else:
            ref_co = 0.0
        assert agg[w, 10] == pytest.approx(ref_co, rel=1e-3, abs=1e-6)
        ch_rms = np.sqrt((x[w].astype(np.float64) ** 2).mean(axis=0))
        assert agg[w, 11] == pytest.approx(ch_rms.mean() / ch_rms.max(), rel=1e-6)  # SPREAD
        assert agg[w, 12] == c  # NCH


def test_spread_separates_focal_from_widespread_activity():
    rng = np.random.default_rng(9)
    noise = rng.normal(size=(400, 8))
    focal = noise * np.array([20.0, 3, 1, 1, 1, 1, 1, 3])
    wide = noise * np.array([20.0, 15, 12, 10, 10, 12, 15, 18])
    _, a = emg_window_features(np.stack([focal, wide]), 200.0, np.zeros((2, 8)))
    spread = a[:, 11]
    assert spread[0] < 0.3 < 0.7 < spread[1]
    _, single = emg_window_features(noise[None, :, :1], 200.0, np.zeros((1, 1)))
    assert single[0, 11] == 1.0 and single[0, 12] == 1.0  # SPREAD, NCH of one channel


def test_clonus_like_envelope_is_rhythmic():
    rate, n = 200.0, 400
    t = np.arange(n) / rate
    rng = np.random.default_rng(5)
    noise = rng.normal(size=(n, 2))
    clonus = noise * (1 + 0.9 * np.sin(2 * np.pi * 5.5 * t))[:, None]
    _, a = emg_window_features(np.stack([clonus, noise]), rate, np.zeros((2, 2)))
    rhy = a[:, [n for n, _ in EMG_FEATURES].index("RHY")]
    assert rhy[0] > 0.6 > 0.3 > rhy[1]


def _ref_acc(x, rate):
    dyn, grav, jerk = x[:, 0:3], x[:, 3:6], x[:, 6:9]
    n = len(x)
    mag = np.linalg.norm(dyn, axis=1)
    win = np.hanning(n + 2)[1:-1]
    p = sum(np.abs(np.fft.rfft(dyn[:, a] * win)) ** 2 for a in range(3))
    f = np.fft.rfftfreq(n, 1 / rate)
    fc = min(20.0, 0.45 * rate)
    m = (f >= 0.5) & (f <= fc)
    q = p[m] / p[m].sum()
    cos = grav[0] @ grav[-1] / np.linalg.norm(grav[0]) / np.linalg.norm(grav[-1])
    return [
        mag.var(),
        np.linalg.norm(jerk, axis=1).mean(),
        p[(f >= 3) & (f <= 8)].sum() / p[m].sum(),
        f[m][np.argmax(p[m])],
        -(q[q > 0] * np.log(q[q > 0])).sum() / np.log(m.sum()),
        np.degrees(np.arccos(np.clip(cos, -1, 1))),
        # fs-2: the last 0.5 s
        np.linalg.norm(jerk[-round(0.5 * rate) :], axis=1).mean(),
        mag[-round(0.5 * rate) :].var(),
    ]


@pytest.mark.parametrize("rate", [25.0, 100.0])
def test_acc_features_match_plain_numpy(rate):
    rng = np.random.default_rng(6)
    n = int(2 * rate)
    t = np.arange(n) / rate
    x = rng.normal(size=(2, n, 9)) * 0.05
    x[0, :, 0] += 0.3 * np.sin(2 * np.pi * 5.0 * t)
    ang = np.linspace(0, np.pi / 2, n)  # tilt by 90 degrees over the window
    x[0, :, 3], x[0, :, 5] = np.sin(ang), np.cos(ang)
    x[1, :, 5] += 1.0
    out = acc_window_features(x, rate)
    assert out.shape == (2, len(ACC_FEATURES) + 2)
    np.testing.assert_array_equal(acc_window_features(x, rate, "fs-1"), out[:, :6])
    for w in range(2):
        np.testing.assert_allclose(out[w], _ref_acc(x[w], rate), rtol=1e-8, atol=1e-9)
    assert out[0, 3] == pytest.approx(5.0)
    assert out[0, 2] > 0.8
    assert out[0, 5] == pytest.approx(90.0, abs=3.0)


def test_shape_features_do_not_depend_on_amplitude_scale():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(4, 400, 3))
    ef = EmgFeatures(200.0, 3)
    a = ef.update(x)
    ef.reset()
    b = ef.update(x * 37.0)
    amp = FeatureSet(("emg",)).amplitude_mask
    np.testing.assert_allclose(a[:, ~amp], b[:, ~amp], rtol=1e-9, atol=1e-12)
    assert not np.allclose(a[:, amp], b[:, amp])
    xa = rng.normal(size=(2, 200, 9))
    xa[:, :, 5] += 1.0
    fa, fb = AccFeatures(100.0).update(xa), AccFeatures(100.0).update(xa * 9.81)
    acc_amp = FeatureSet(("acc",)).amplitude_mask
    np.testing.assert_allclose(fa[:, ~acc_amp], fb[:, ~acc_amp], rtol=1e-9, atol=1e-9)


def test_noise_floor_is_a_running_minimum_and_gaps_give_nan():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(3, 200, 2)) * np.array([2.0, 1.0, 3.0])[:, None, None]
    ef = EmgFeatures(200.0, 2)
    out = ef.update(x, has_gap=np.array([False, False, True]))
    assert np.isnan(out[2]).all() and np.isfinite(out[:2]).all()
    rms = np.sqrt((x[:2] ** 2).mean(axis=1))
    np.testing.assert_allclose(ef.noise_floor, rms.min(axis=0))
    # chunk invariance of the stateful threshold
    ef2 = EmgFeatures(200.0, 2)
    both = np.vstack([ef2.update(x[:1]), ef2.update(x[1:], np.array([False, True]))])
    np.testing.assert_allclose(both, out, rtol=1e-12)


def test_feature_set_names_and_versions():
    fs = FeatureSet(("acc", "emg"), "fs-1")
    assert fs.kinds == ("emg", "acc") and fs.name == "fs-1:emg+acc"
    assert fs.names[0] == "emg.RMS" and fs.names[-1] == "acc.ORIENT"
    assert fs.n_features == len(EMG_FEATURES) + len(ACC_FEATURES)
    assert FeatureSet.from_name(fs.name) == fs
    assert FeatureSet(("acc",), "fs-1").names == tuple(f"acc.{n}" for n, _ in ACC_FEATURES)
    assert fs.names[fs.slice_of("acc")][0] == "acc.MAGVAR"
    fs2 = FeatureSet(("emg", "acc"), "fs-2")
    # fs-1 columns are fs-2's without the appended ones, kind by kind
    assert fs2.names == (
        fs.names[fs.slice_of("emg")] + ("emg.SPREAD",)
        + fs.names[fs.slice_of("acc")] + ("acc.JERK_REC", "acc.MAGVAR_REC")
    )  # fmt: skip
    assert fs2.amplitude_mask[-2:].all() and not fs2.amplitude_mask[len(EMG_FEATURES)]
    new = FeatureSet(("emg", "acc"))
    assert new.version == "fs-3" and FeatureSet.from_name(new.name) == new
    # fs-3 = fs-2 plus the EMG channel count, a shape (not rescaled) column
    assert new.names == (
        fs2.names[fs2.slice_of("emg")] + ("emg.NCH",) + fs2.names[fs2.slice_of("acc")]
    )
    assert not new.amplitude_mask[new.names.index("emg.NCH")]
    assert STATIC_FEATURES <= set(new.names)
    with pytest.raises(ConfigError, match="kinds"):
        FeatureSet(("gyro",))
    with pytest.raises(ConfigError, match=r"fs-1', 'fs-2', 'fs-3'.*newer spasmwatch"):
        FeatureSet(("emg",), "fs-4")


def _stacked(span, ends, n):
    return np.stack([span[:, e - n + 1 : e + 1].T for e in ends])


@pytest.mark.parametrize(
    "ends",
    [
        np.arange(399, 1200, 50),  # one hop apart: block sums, strided windows
        np.array([399, 449, 498, 560, 561, 1199]),  # jittered: prefix sums, gathered windows
        np.array([777]),  # one window (live)
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_span_form_equals_stacked_windows(ends, dtype):
    """The pipeline's prefix/block-sum form gives the stacked (reference) form's features."""
    rng = np.random.default_rng(10)
    burst = 1 + 4 * (np.arange(1200) % 300 > 200)
    span = (rng.normal(size=(3, 1200)) * burst * [[1.0], [3.0], [0.5]]).astype(dtype)
    gap = np.zeros(len(ends), bool)
    if len(ends) > 3:
        span[1, 430] = np.nan  # a missing sample: only windows over it are flagged
        gap = (ends - 399 <= 430) & (ends >= 430)
    ref, fast = EmgFeatures(200.0, 3), EmgFeatures(200.0, 3)
    a = ref.update(_stacked(span, ends, 400), gap)
    b = fast._update_span(span, ends, 400, gap)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    rtol = 2e-5 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(b, a, rtol=rtol, atol=1e-9, equal_nan=True)
    np.testing.assert_array_equal(b[:, 3:5], a[:, 3:5])  # ZC, SSC counts
    np.testing.assert_array_equal(b[:, 7], a[:, 7])  # MDF bin
    np.testing.assert_allclose(fast.noise_floor, ref.noise_floor, rtol=1e-12)
    acc = np.vstack([span, span * 0.5, np.abs(span)])[:9].astype(np.float32)
    fa = AccFeatures(200.0)
    np.testing.assert_allclose(
        fa._update_span(acc, ends, 400, gap),
        fa.update(_stacked(acc, ends, 400), gap),
        rtol=1e-9,
        atol=1e-12,
        equal_nan=True,
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mdf_of_many_windows_equals_one_at_a_time(dtype):
    """Enough spectra take the bin-by-bin running sum that locates MDF; it adds in the same
    order as the per-spectrum cumulative sum, so MDF is the same bin and MNF agrees."""
    from spasmwatch.signal._features import _BINWISE_CUMSUM_MIN_ROWS, _emg_plan, _emg_spectrum

    rng = np.random.default_rng(3)
    n, c = 400, 4
    k = _BINWISE_CUMSUM_MIN_ROWS // c + 7
    scale = rng.uniform(0.1, 50.0, size=(k, c, 1))
    x = (rng.normal(size=(k, c, n)) * scale).astype(dtype)
    x[0, 1] = 0.0  # a flat window: MNF and MDF 0
    plan = _emg_plan(n, 200.0)
    mnf, mdf = _emg_spectrum(x, plan)
    assert mnf.shape == mdf.shape == (k, c)
    assert mdf[0, 1] == 0.0 and mnf[0, 1] == 0.0
    for i in range(k):
        m1, d1 = _emg_spectrum(x[i : i + 1], plan)
        np.testing.assert_array_equal(mdf[i], d1[0])
        np.testing.assert_allclose(mnf[i], m1[0], rtol=1e-6)
