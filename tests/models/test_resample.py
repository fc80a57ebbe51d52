"""StreamResampler and GapBridge: chunked == whole, agreement with scipy.resample_poly."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal as sps

from spasmwatch.core import SampleBlock, StreamSpec
from spasmwatch.errors import ConfigError, SignalError
from spasmwatch.models._resample import (
    GapBridge,
    StreamResampler,
    design_resampler,
    resample_ratio,
)

T0 = 1_700_000_000_000_000_000


def _signal(fs: float, seconds: float, n_ch: int = 3) -> tuple[np.ndarray, np.ndarray]:
    n = int(fs * seconds)
    t = np.arange(n) / fs
    cols = [np.sin(2 * np.pi * (1.0 + 1.7 * j) * t) + 0.3 * j for j in range(n_ch)]
    x = np.stack(cols, axis=1).astype(np.float32)
    return T0 + np.round(t * 1e9).astype(np.int64), x


def _spec(fs: float, n_ch: int = 3) -> StreamSpec:
    return StreamSpec("dev", "acc", ("x", "y", "z")[:n_ch], fs, "g")


def _run_chunks(r: StreamResampler, spec, t, x, cuts) -> SampleBlock:
    r.reset()
    outs = []
    bounds = [0, *sorted(set(cuts)), len(t)]
    for a, b in itertools.pairwise(bounds):
        if b > a:
            outs.append(r.update(SampleBlock(spec, t[a:b], x[a:b], first_index=a)))
    return SampleBlock(
        r.out_spec,
        np.concatenate([o.t_ns for o in outs]),
        np.concatenate([o.data for o in outs]),
    )


@pytest.mark.parametrize(
    "fs,target", [(200, 25), (1000, 200), (52, 25), (64, 25), (100, 25), (25, 50)]
)
def test_matches_resample_poly_on_sines(fs, target):
    spec = _spec(fs)
    t, x = _signal(fs, 20.0)
    r = StreamResampler(spec, target)
    out = r.update(SampleBlock(spec, t, x))
    up, down = resample_ratio(fs, target)
    assert (up, down) == (r.up, r.down)
    ref = sps.resample_poly(
        x.astype(np.float64), up, down, axis=0, window=design_resampler(up, down) / up
    )
    k = np.round((out.t_ns - t[0]) / 1e9 * target).astype(int)
    # output instants lie on the output grid
    assert np.allclose((out.t_ns - t[0]) / 1e9 * target, k, atol=1e-3)
    inner = (k > 2 * target) & (k < len(ref) - 2 * target)
    assert inner.sum() > 10 * target
    np.testing.assert_allclose(out.data[inner], ref[k[inner]], atol=1e-5)
    # and the content is right: a 1 Hz sine stays a 1 Hz sine of amplitude 1
    tt = (out.t_ns[inner] - T0) / 1e9
    np.testing.assert_allclose(out.data[inner, 0], np.sin(2 * np.pi * tt), atol=0.01)
    assert r.delay_s == pytest.approx(5 / min(fs, target))  # n_zeros samples of the lower rate


@settings(max_examples=25)
@given(
    rates=st.sampled_from([(200, 25), (52, 25), (1000, 200), (25, 25), (25, 50)]),
    cuts=st.lists(st.integers(1, 1999), max_size=12),
)
def test_chunked_equals_whole(rates, cuts):
    fs, target = rates
    spec = _spec(fs)
    t, x = _signal(fs, 2000 / fs)
    r = StreamResampler(spec, target)
    whole = _run_chunks(r, spec, t, x, [])
    chunked = _run_chunks(r, spec, t, x, cuts)
    np.testing.assert_array_equal(whole.data, chunked.data)
    np.testing.assert_array_equal(whole.t_ns, chunked.t_ns)


def test_steady_state_start_has_no_transient():
    spec = _spec(200)
    t = T0 + np.arange(400) * 5_000_000
    x = np.tile(np.array([[0.0, 0.0, 1.0]], np.float32), (400, 1))  # gravity only
    out = StreamResampler(spec, 25).update(SampleBlock(spec, t, x))
    np.testing.assert_allclose(out.data, np.tile([0.0, 0.0, 1.0], (len(out), 1)), atol=1e-5)


def test_gap_restarts_and_is_passed_on():
    spec = _spec(200)
    t, x = _signal(200, 10.0)
    r = StreamResampler(spec, 25)
    a = r.update(SampleBlock(spec, t[:800], x[:800], first_index=0))
    b = r.update(SampleBlock(spec, t[1000:], x[1000:], first_index=1000))
    assert b.gaps, "an index jump must reach the output as a gap"
    assert b.first_index > a.end_index
    assert b.t_ns[0] >= t[1000]


def test_identity_passes_through():
    spec = _spec(25)
    t, x = _signal(25, 4.0)
    r = StreamResampler(spec, 25)
    assert r.is_identity and r.delay_s == 0
    out = r.update(SampleBlock(spec, t, x))
    np.testing.assert_array_equal(out.data, x)


def test_wrong_stream_refused():
    r = StreamResampler(_spec(200), 25)
    t, x = _signal(100, 1.0)
    with pytest.raises(SignalError, match="build one resampler per stream"):
        r.update(SampleBlock(_spec(100), t, x))
    with pytest.raises(ConfigError):
        resample_ratio(0, 25)


def test_gap_bridge_fills_short_losses_only():
    spec = _spec(200)
    t, x = _signal(200, 5.0)
    br = GapBridge(spec, 0.25)
    br.update(SampleBlock(spec, t[:100], x[:100], first_index=0))
    short = br.update(SampleBlock(spec, t[104:300], x[104:300], first_index=104))
    assert short.first_index == 100 and len(short) == 200 and not short.gaps
    np.testing.assert_allclose(short.data[:4], x[100:104], atol=0.1)  # smooth sines
    assert br.n_bridged == 1 and br.n_filled == 4
    long = br.update(SampleBlock(spec, t[500:], x[500:], first_index=500))
    assert long.first_index == 500 and len(long) == len(t) - 500


def test_upsampling_25_to_50_hz_keeps_the_3_8_hz_band():
    """A 25 Hz accelerometer for a 50 Hz model: 2x up, a 6 Hz tremor stays a 6 Hz sine."""
    spec = _spec(25, 1)
    n = 25 * 20
    tt = np.arange(n) / 25
    t = T0 + np.round(tt * 1e9).astype(np.int64)
    x = np.sin(2 * np.pi * 6.0 * tt)[:, None].astype(np.float32)
    r = StreamResampler(spec, 50)
    assert (r.up, r.down) == (2, 1)
    out = r.update(SampleBlock(spec, t, x))
    # all but the last 0.2 s (the filter delay, 10 output samples) are computable already
    assert out.spec.rate_hz == 50 and len(out) == 2 * n - round(r.delay_s * 50)
    ts = (out.t_ns - T0) / 1e9
    inner = (ts > 2) & (ts < 18)
    np.testing.assert_allclose(out.data[inner, 0], np.sin(2 * np.pi * 6.0 * ts[inner]), atol=0.05)
