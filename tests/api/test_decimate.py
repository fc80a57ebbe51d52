"""Min/max decimation equals a plain numpy loop over buckets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spasmwatch.api import minmax_buckets
from spasmwatch.errors import ConfigError


@given(
    n=st.integers(0, 400),
    buckets=st.integers(1, 60),
    lo=st.integers(-50, 300),
    span=st.integers(1, 500),
    seed=st.integers(0, 2**16),
)
def test_matches_reference_loop(n, buckets, lo, span, seed):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, 400, n)).astype(np.int64)
    x = rng.normal(size=(n, 2)).astype(np.float32)
    edges, mn, mx, counts = minmax_buckets(t, x, lo, lo + span, buckets)
    assert edges[0] == lo and edges[-1] == lo + span and np.all(np.diff(edges) >= 0)
    for k in range(buckets):
        sel = (t >= edges[k]) & (t < edges[k + 1])
        assert counts[k] == sel.sum()
        if sel.any():
            np.testing.assert_array_equal(mn[k], x[sel].min(axis=0))
            np.testing.assert_array_equal(mx[k], x[sel].max(axis=0))
        else:
            assert np.isnan(mn[k]).all() and np.isnan(mx[k]).all()


def test_rejects_bad_arguments():
    t = np.arange(10, dtype=np.int64)
    x = np.zeros((10, 1), np.float32)
    with pytest.raises(ConfigError, match="buckets"):
        minmax_buckets(t, x, 0, 10, 0)
    with pytest.raises(ConfigError, match="after start"):
        minmax_buckets(t, x, 10, 10, 5)


def test_hours_of_emg_decimate_fast():
    import time

    n = 200 * 3600 * 2  # two hours of 200 Hz
    t = np.arange(n, dtype=np.int64) * 5_000_000
    x = np.random.default_rng(0).normal(size=(n, 8)).astype(np.float32)
    t0 = time.perf_counter()
    _, mn, _mx, _ = minmax_buckets(t, x, 0, int(t[-1]) + 1, 2000)
    elapsed = time.perf_counter() - t0
    assert mn.shape == (2000, 8) and not np.isnan(mn).any()
    assert elapsed < 2.0
