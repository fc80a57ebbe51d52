import numpy as np
import pytest
from hypothesis import given, settings
from sigutil import T0, cuts, split, times

from spasmwatch.errors import SignalError
from spasmwatch.signal import RingBuffer, WindowBatch, Windower

RATE = 50.0


def _run(w: Windower, x, t, boundaries, first_index=0):
    out = [w.update(x[s], t[s], first_index + s.start) for s in split(len(t), boundaries)]
    out.append(w.flush())
    return WindowBatch.concat([b for b in out if len(b)] or [out[0]])


def _expected_windows(x, t, n_win, hop_ns, tol_ns):
    """Plain reference: for each grid time, the n_win samples ending at the last t <= G."""
    grid0 = -(-t[0] // hop_ns) * hop_ns
    rows = []
    g = grid0
    while g <= t[-1] + tol_ns:
        p = np.searchsorted(t, g, side="right") - 1
        if p >= n_win - 1 and g - t[p] <= tol_ns:
            rows.append((g, p, x[p - n_win + 1 : p + 1]))
        g += hop_ns
    return rows


def test_ring_buffer_wraps_and_gathers():
    rb = RingBuffer(7, 2)
    x = np.arange(40, dtype=float).reshape(20, 2)
    for a in range(0, 20, 3):
        rb.write(x[a : a + 3], a)
    data, missing, breaks = rb.gather(np.array([19, 16]), 4)
    np.testing.assert_array_equal(data[0], x[16:20])
    np.testing.assert_array_equal(data[1], x[13:17])
    assert not missing.any() and not breaks.any()
    np.testing.assert_array_equal(rb.latest(3), x[17:20])
    with pytest.raises(SignalError, match="not in the buffer"):
        rb.gather(np.array([10]), 4)
    with pytest.raises(SignalError, match="overlap"):
        rb.write(x[:2], 18)


def test_ring_buffer_marks_missing_rows():
    rb = RingBuffer(10, 1)
    rb.write(np.ones((3, 1)), 0)
    assert rb.write(np.full((2, 1), 2.0), 5) == 2
    data, missing, breaks = rb.gather(np.array([6]), 7)
    assert missing[0].tolist() == [False] * 3 + [True] * 2 + [False] * 2
    assert np.isnan(data[0, 3:5]).all()
    assert breaks[0].tolist() == [False] * 5 + [True, False]


@settings(max_examples=40)
@given(boundaries=cuts(400, 10))
def test_windower_chunked_equals_whole_and_matches_reference(boundaries):
    n = 400
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 2))
    t = times(n, RATE, offset_ns=3_000_000)
    w1 = Windower(RATE, 2, 1.0, 0.25, dtype=np.float64)
    whole = _run(w1, x, t, [])
    w2 = Windower(RATE, 2, 1.0, 0.25, dtype=np.float64, max_chunk=37)
    chunked = _run(w2, x, t, boundaries)
    for name in ("grid_ns", "t_end_ns", "end_index", "data", "has_gap", "missing_fraction"):
        np.testing.assert_array_equal(getattr(chunked, name), getattr(whole, name))
    ref = _expected_windows(x, t, w1.n_window, w1.hop_ns, w1.tolerance_ns)
    assert len(ref) == len(whole) > 20
    for (g, p, data), i in zip(ref, range(len(whole))):
        assert whole.grid_ns[i] == g and whole.end_index[i] == p and whole.t_end_ns[i] == t[p]
        np.testing.assert_array_equal(whole.data[i], data)
    assert np.all(whole.grid_ns % w1.hop_ns == 0)
    assert not whole.has_gap.any()


def test_windows_over_a_gap_are_flagged_not_filled():
    n = 300
    x = np.ones((n, 1))
    t = times(n, RATE)
    lost = slice(120, 130)  # 10 samples lost on the air
    keep = np.ones(n, bool)
    keep[lost] = False
    w = Windower(RATE, 1, 1.0, 0.25, dtype=np.float64)
    b1 = w.update(x[:120], t[:120], 0)
    b2 = w.update(x[130:], t[130:], 130)
    b = WindowBatch.concat([b1, b2, w.flush()])
    spans_gap = (b.end_index - w.n_window + 1 < 130) & (b.end_index >= 130)
    assert spans_gap.any()
    np.testing.assert_array_equal(b.has_gap, spans_gap)
    lo = b.end_index - w.n_window + 1
    n_lost = np.clip(np.minimum(b.end_index + 1, 130) - np.maximum(lo, 120), 0, None)
    np.testing.assert_allclose(b.missing_fraction, n_lost / w.n_window)
    assert np.isnan(b.data).sum() == n_lost.sum() > 0
    # no window is emitted for a grid time whose last sample is inside the gap
    in_gap = (b.grid_ns > t[119] + w.tolerance_ns) & (b.grid_ns < t[130])
    assert not in_gap.any()


def test_discontinuity_without_index_jump_is_flagged():
    x = np.ones((200, 1))
    t = times(200, RATE)
    w = Windower(RATE, 1, 1.0, 0.25, dtype=np.float64)
    b1 = w.update(x[:100], t[:100], 0)
    b2 = w.update(x[100:], t[100:], 100, discontinuity=True)
    b = WindowBatch.concat([b1, b2])
    crosses = (b.end_index - w.n_window + 1 < 100) & (b.end_index >= 100)
    np.testing.assert_array_equal(b.has_gap, crosses)
    assert (b.missing_fraction == 0).all()


def test_windower_reset_and_dtype():
    x = np.random.default_rng(0).normal(size=(200, 3)).astype(np.float32)
    t = times(200, RATE)
    w = Windower(RATE, 3, 1.0, 0.5, dtype=np.float32)
    first = w.update(x, t)
    assert first.data.dtype == np.float32 and first.data.shape[1:] == (w.n_window, 3)
    w.update(x, t + 10**10)
    w.reset()
    again = w.update(x, t)
    np.testing.assert_array_equal(again.data, first.data)
    np.testing.assert_array_equal(again.grid_ns, first.grid_ns)
    ws = first.windows()
    assert ws[0].t_end_ns <= ws[0].grid_ns and ws[0].data.shape == (w.n_window, 3)


def test_windower_rejects_time_going_back():
    w = Windower(RATE, 1, 1.0, 0.5)
    w.update(np.zeros((10, 1)), times(10, RATE))
    with pytest.raises(SignalError, match="backwards"):
        w.update(np.zeros((5, 1)), times(5, RATE), 10)


def test_grid_is_common_to_streams_at_different_rates():
    a = Windower(200.0, 1, 1.0, 0.25)
    b = Windower(25.0, 1, 1.0, 0.25)
    ba = a.update(np.zeros((1000, 1)), times(1000, 200.0, offset_ns=1_000_000))
    bb = b.update(np.zeros((125, 1)), times(125, 25.0, offset_ns=7_000_000))
    common = np.intersect1d(ba.grid_ns, bb.grid_ns)
    assert len(common) >= 14
    assert (ba.grid_ns - T0).min() >= 1_000_000_000


def test_ring_span_is_contiguous_and_checked():
    rb = RingBuffer(10, 2)
    x = np.arange(48, dtype=float).reshape(24, 2)
    rb.write(x[:8], 0)
    view = rb.span(2, 8)
    np.testing.assert_array_equal(view, x[2:8].T)
    assert not view.flags.writeable
    rb.write(x[8:14], 8)  # wraps: the span is stitched from both ends of the buffer
    np.testing.assert_array_equal(rb.span(5, 14), x[5:14].T)
    assert not rb._any_flag(5, 14)
    rb.write(x[16:24], 16)  # two samples lost
    assert np.isnan(rb.span(14, 17)[:, :2]).all() and rb._any_flag(14, 17)
    with pytest.raises(SignalError, match="not in the buffer"):
        rb.span(10, 24)
