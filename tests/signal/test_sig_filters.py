import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal as sps
from sigutil import cuts, split

from spasmwatch.errors import ConfigError, SignalError
from spasmwatch.signal import (
    AccConditioner,
    FilterDesign,
    Jerk,
    MovingRMS,
    SosFilter,
    TeagerKaiser,
    design_emg,
    design_notch,
    emg_band,
    magnitude,
    mains_frequencies,
    sos_init,
    sos_step,
)


def test_emg_band_adapts_to_rate():
    assert emg_band(1000) == (20.0, 450.0)
    assert emg_band(2000) == (20.0, 450.0)
    assert emg_band(200) == pytest.approx((20.0, 90.0))
    with pytest.raises(ConfigError, match="too low"):
        emg_band(40)


@pytest.mark.parametrize(
    "rate, mains, n",
    [(200, 50, 1), (200, 60, 1), (1000, 50, 9), (1000, 60, 8), (100, 50, 0), (250, 50, 2)],
)
def test_notch_harmonics_stop_below_nyquist(rate, mains, n):
    d = design_notch(rate, mains)
    assert (0 if d is None else d.n_sections) == n


@pytest.mark.parametrize("bad", [55, (50, 50), (), (50, 55), True])
def test_notch_rejects_other_mains(bad):
    with pytest.raises(ConfigError, match="50, 60 or both"):
        design_notch(1000, bad)


def test_mains_frequencies_normalise():
    assert mains_frequencies(60) == (60.0,)
    assert mains_frequencies([60, 50]) == (50.0, 60.0)


@pytest.mark.parametrize("rate, n", [(200, 2), (1000, 16), (100, 0)])
def test_both_mains_notch_each_harmonic_once(rate, n):
    """50 and 60 Hz families below Nyquist; 300 Hz (6 x 50 = 5 x 60) gets one notch."""
    d = design_notch(rate, (50, 60))
    assert (0 if d is None else d.n_sections) == n


def test_single_mains_notch_is_the_50_hz_design_of_before():
    """A model trained with a 50 Hz notch must see the same filter: one biquad per
    harmonic, ascending, nothing else."""
    want = np.vstack([sps.tf2sos(*sps.iirnotch(f, 30.0, fs=1000)) for f in range(50, 500, 50)])
    np.testing.assert_array_equal(design_notch(1000, 50).sos, want)


@pytest.mark.parametrize("rate", [200, 1000])
def test_both_mains_chain_removes_50_and_60_hz(rate):
    both, only50 = design_emg(rate, (50, 60)), design_emg(rate, 50)
    assert _gain_db(both, 50.0) < -30 and _gain_db(both, 60.0) < -30
    assert _gain_db(only50, 60.0) > -3  # the single notch leaves 60 Hz hum: the test can fail
    assert abs(_gain_db(both, 75.0)) < 1.0  # pass band between and above the notches


def _gain_db(design: FilterDesign, f_hz: float) -> float:
    _, h = sps.sosfreqz(design.sos, worN=[f_hz], fs=design.rate_hz)
    return 20 * np.log10(abs(h[0]))


@pytest.mark.parametrize("rate", [200, 1000])
def test_emg_chain_removes_mains_and_dc_and_keeps_band(rate):
    d = design_emg(rate, 50)
    assert _gain_db(d, 50.0) < -30
    assert abs(d.dc_gain()) < 1e-6
    assert _gain_db(d, 1.0) < -40
    assert abs(_gain_db(d, 70.0)) < 1.0  # pass band


@pytest.mark.parametrize("rate", [200, 1000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_steady_start_constant_offset_gives_zero(rate, dtype):
    x = np.tile(np.array([[512.0, -40.0, 3.0]], dtype=dtype), (rate, 1))
    y = SosFilter(design_emg(rate)).update(x)
    assert y.dtype == dtype
    assert np.max(np.abs(y)) < 1e-3 * 512


def test_steady_start_differs_from_zero_start():
    """The zero-state alternative would produce a large transient: the test can fail."""
    x = np.full((200, 1), 512.0)
    zero = sps.sosfilt(design_emg(200).sos.copy(), x, axis=0)
    assert np.max(np.abs(zero)) > 50
    assert np.max(np.abs(SosFilter(design_emg(200)).update(x))) < 0.5


def test_gravity_only_acc_gives_no_dynamic_no_jerk():
    x = np.tile(np.array([[0.1, -0.2, 0.97]], dtype=np.float32), (300, 1))
    y = AccConditioner(100).update(x)
    assert y.shape == (300, 9) and y.dtype == np.float32
    assert np.max(np.abs(y[:, 0:3])) < 1e-5
    np.testing.assert_allclose(y[:, 3:6], x, atol=1e-5)
    assert np.max(np.abs(y[:, 6:9])) < 1e-4


def test_sos_step_is_pure_and_matches_scipy():
    d = design_emg(1000)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 2))
    zi = sos_init(d, x[0])
    zi_before = zi.copy()
    y, zf = sos_step(d, x, zi)
    np.testing.assert_array_equal(zi, zi_before)
    ref, _ = sps.sosfilt(d.sos.copy(), x, axis=0, zi=zi)
    np.testing.assert_allclose(y, ref)
    y2, _ = sos_step(d, x, zf)
    assert not np.allclose(y2, y)  # the state carries on


def test_design_is_frozen():
    d = design_emg(200)
    with pytest.raises(ValueError):
        d.sos[0, 0] = 1.0


def test_tkeo_matches_definition():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(100, 2))
    y = TeagerKaiser().update(x)
    np.testing.assert_allclose(y[2:], x[1:-1] ** 2 - x[2:] * x[:-2])
    assert y[0] == pytest.approx(0.0)
    assert np.allclose(TeagerKaiser().update(np.full((10, 1), 3.0)), 0.0)


def test_moving_rms_matches_numpy():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 3))
    m = MovingRMS(100.0, 0.1)
    y = m.update(x)
    w = m.n_window
    ref = np.sqrt([np.mean(x[i - w + 1 : i + 1] ** 2, axis=0) for i in range(w - 1, 200)])
    np.testing.assert_allclose(y[w - 1 :], ref)
    # steady start: before a full window the earlier samples count as the first one
    ext = np.vstack([np.repeat(x[:1], w - 1, axis=0), x[:3]])
    np.testing.assert_allclose(y[2], np.sqrt(np.mean(ext[2 : 2 + w] ** 2, axis=0)))


def test_jerk_and_magnitude():
    x = np.cumsum(np.ones((5, 3)), axis=0)
    j = Jerk(50.0).update(x)
    np.testing.assert_allclose(j[0], 0.0)
    np.testing.assert_allclose(j[1:], 50.0)
    np.testing.assert_allclose(magnitude(np.array([[3.0, 4.0, 0.0]])), [[5.0]])


def test_channel_count_change_is_an_error():
    f = SosFilter(design_emg(200))
    f.update(np.zeros((10, 2)))
    with pytest.raises(SignalError, match="channels"):
        f.update(np.zeros((10, 3)))


STAGES = {
    "emg-filter-200": lambda: SosFilter(design_emg(200)),
    "emg-filter-1000-60": lambda: SosFilter(design_emg(1000, 60)),
    "moving-rms": lambda: MovingRMS(200.0, 0.05),
    "tkeo": TeagerKaiser,
    "jerk": lambda: Jerk(100.0),
    "acc-conditioner": lambda: AccConditioner(100.0),
}


def _signal(name: str, n: int, dtype) -> np.ndarray:
    rng = np.random.default_rng(len(name))
    c = 3
    return (rng.normal(size=(n, c)) * 5 + [100.0, -3.0, 1.0]).astype(dtype)


@pytest.mark.parametrize("name", sorted(STAGES))
@settings(max_examples=25)
@given(boundaries=cuts(240), dtype=st.sampled_from([np.float32, np.float64]))
def test_contract_chunked_equals_whole(name, boundaries, dtype):
    x = _signal(name, 240, dtype)
    whole = STAGES[name]().update(x)
    stage = STAGES[name]()
    parts = [stage.update(x[s]) for s in split(240, boundaries)]
    got = np.concatenate(parts)
    assert got.dtype == dtype == whole.dtype
    tol = 1e-4 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(got, whole, rtol=tol, atol=tol * np.abs(whole).max())


@pytest.mark.parametrize("name", sorted(STAGES))
def test_contract_reset_restores_initial_behaviour(name):
    x = _signal(name, 120, np.float64)
    stage = STAGES[name]()
    first = stage.update(x)
    stage.update(x[::-1] * 3 + 7)
    stage.reset()
    np.testing.assert_array_equal(stage.update(x), first)


@pytest.mark.parametrize("name", sorted(STAGES))
def test_contract_empty_chunk_changes_nothing(name):
    x = _signal(name, 50, np.float32)
    a, b = STAGES[name](), STAGES[name]()
    ya = a.update(x)
    assert b.update(x[:0]).shape[0] == 0
    np.testing.assert_array_equal(b.update(x), ya)
