"""Helpers shared by the signal tests (imported as ``from sigutil import ...``)."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import strategies as st

T0 = 1_700_000_000_000_000_000  # a multiple of every hop used here


def cuts(n: int, max_cuts: int = 8) -> st.SearchStrategy[list[int]]:
    """Sorted distinct chunk boundaries inside ``(0, n)``."""
    return st.lists(st.integers(1, max(1, n - 1)), max_size=max_cuts, unique=True).map(sorted)


def split(n: int, boundaries: list[int]) -> list[slice]:
    edges = [0, *[b for b in boundaries if 0 < b < n], n]
    return [slice(a, b) for a, b in itertools.pairwise(edges) if b > a]


def times(n: int, rate_hz: float, t0: int = T0, offset_ns: int = 0) -> np.ndarray:
    return t0 + offset_ns + np.round(np.arange(n) * 1e9 / rate_hz).astype(np.int64)


def emg_like(n: int, c: int, rate_hz: float, seed: int = 0, scale: float = 10.0) -> np.ndarray:
    """Noise with bursts, plus a DC offset per channel."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate_hz
    burst = 1.0 + 4.0 * (np.sin(2 * np.pi * 0.3 * t) > 0.6)
    x = rng.normal(size=(n, c)) * burst[:, None] * scale + 3.0 * np.arange(c)
    return x


def acc_like(n: int, rate_hz: float, seed: int = 0) -> np.ndarray:
    """Gravity on z (in g) plus a 5 Hz tremor and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate_hz
    x = rng.normal(size=(n, 3)) * 0.02
    x[:, 2] += 1.0
    x[:, 0] += 0.2 * np.sin(2 * np.pi * 5.0 * t) * (t > 3)
    return x
