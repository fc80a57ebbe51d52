"""Hypothesis strategies shared by the tests (import as ``from strategies import ...``)."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


def int_counts(
    n_channels: int,
    lo: int,
    hi: int,
    *,
    min_samples: int = 1,
    max_samples: int = 200,
) -> st.SearchStrategy[np.ndarray]:
    """int64 arrays ``(n_samples, n_channels)`` of raw counts in ``[lo, hi]``."""
    return st.integers(min_samples, max_samples).flatmap(
        lambda n: hnp.arrays(np.int64, (n, n_channels), elements=st.integers(lo, hi))
    )


def smooth_counts(
    n_channels: int,
    lo: int,
    hi: int,
    *,
    min_samples: int = 1,
    max_samples: int = 200,
) -> st.SearchStrategy[np.ndarray]:
    """Counts that move by small random steps (like a real signal, small delta widths),
    mixed with arbitrary jumps (wide deltas); clipped to ``[lo, hi]``."""

    @st.composite
    def _draw(draw: st.DrawFn) -> np.ndarray:
        n = draw(st.integers(min_samples, max_samples))
        step = draw(st.sampled_from([1, 4, 50, 1000, hi - lo]))
        seed = draw(st.integers(0, 2**32 - 1))
        rng = np.random.default_rng(seed)
        start = rng.integers(lo, hi + 1, size=(1, n_channels))
        steps = rng.integers(-step, step + 1, size=(n - 1, n_channels))
        x = np.concatenate([start, start + np.cumsum(steps, axis=0)])
        return np.clip(x, lo, hi).astype(np.int64)

    return _draw()


def chunk_sizes(total: int) -> st.SearchStrategy[list[int]]:
    """Positive chunk sizes summing to ``total`` (chunk boundaries for chunked==whole tests)."""

    @st.composite
    def _draw(draw: st.DrawFn) -> list[int]:
        if total == 0:
            return []
        cuts = draw(st.lists(st.integers(1, max(total - 1, 1)), max_size=8, unique=True))
        edges = [0, *sorted(c for c in cuts if 0 < c < total), total]
        return [b - a for a, b in itertools.pairwise(edges) if b > a]

    return _draw()


def uint_wrapping(bits: int) -> st.SearchStrategy[int]:
    """Counter start values, biased towards the wrap-around."""
    top = (1 << bits) - 1
    return st.one_of(st.integers(0, top), st.integers(top - 300, top))
