"""Helpers shared by the health tests (imported as ``from healthutil import ...``)."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import strategies as st
from scipy import signal as sps

from spasmwatch.core import Gap, SampleBlock, StreamSpec

T0 = 1_704_096_000_000_000_000  # 2024-01-01 08:00 UTC

MYO_EMG = StreamSpec("myo", "emg", tuple(f"emg{i}" for i in range(8)), 200.0, "counts")
MYO_ACC = StreamSpec("myo", "acc", ("x", "y", "z"), 50.0, "mG")
NUS_EMG = StreamSpec("nus-reference", "emg", ("emg0", "emg1"), 1000.0, "uV")


def times(n: int, rate_hz: float, t0: int = T0, i0: int = 0) -> np.ndarray:
    return t0 + np.round((i0 + np.arange(n)) * 1e9 / rate_hz).astype(np.int64)


def emg_counts(n: int, c: int = 8, *, rms: float = 6.0, seed: int = 0, rate_hz: float = 200.0):
    """Surface-EMG-like noise: white noise band-passed 25-95 Hz (or 25-400 Hz), rounded."""
    rng = np.random.default_rng(seed)
    hi = min(95.0, 0.45 * rate_hz) if rate_hz <= 200 else 400.0
    sos = sps.butter(4, [25.0, hi], btype="band", fs=rate_hz, output="sos")
    x = sps.sosfilt(sos, rng.normal(size=(n + 200, c)), axis=0)[200:]
    x = x / x.std(axis=0) * rms
    return x


def block(spec: StreamSpec, data: np.ndarray, i0: int = 0, gaps=(), t0: int = T0) -> SampleBlock:
    return SampleBlock(spec, times(data.shape[0], spec.rate_hz, t0, i0), data, i0, tuple(gaps))


def cuts(n: int, max_cuts: int = 8) -> st.SearchStrategy[list[int]]:
    """Sorted distinct chunk boundaries inside ``(0, n)``."""
    return st.lists(st.integers(1, max(1, n - 1)), max_size=max_cuts, unique=True).map(sorted)


def chunks(
    spec: StreamSpec,
    data: np.ndarray,
    boundaries: list[int],
    *,
    i0: int = 0,
    gap_at: int | None = None,
    gap_len: int = 0,
    t0: int = T0,
) -> list[SampleBlock]:
    """Blocks of ``data`` cut at ``boundaries``; optionally ``gap_len`` samples lost before
    index ``gap_at`` (the block starting there carries the gap)."""
    edges = sorted(
        {0, *[b for b in boundaries if 0 < b < data.shape[0]], data.shape[0]}
        | ({gap_at} if gap_at else set())
    )
    out = []
    for a, b in itertools.pairwise(edges):
        shift = gap_len if gap_at is not None and a >= gap_at else 0
        gaps = ()
        if gap_at is not None and a == gap_at:
            ts = times(1, spec.rate_hz, t0, i0 + a)[0]
            te = times(1, spec.rate_hz, t0, i0 + a + gap_len)[0]
            gaps = (Gap(int(ts), int(te), gap_len, "packet_loss"),)
        out.append(block(spec, data[a:b], i0 + a + shift, gaps, t0))
    return out


def acc_still(
    n: int,
    rate_hz: float,
    *,
    noise_mg: float = 3.0,
    seed: int = 0,
    g=(0.0, 0.0, 1000.0),
    quantum: float | None = 0.49,
):
    """A device lying on a table: constant gravity, white sensor noise, slow thermal drift."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate_hz
    x = np.asarray(g)[None, :] + noise_mg * rng.normal(size=(n, 3))
    x += 2.0 * np.sin(2 * np.pi * t / 3600.0)[:, None]  # thermal drift, mG over an hour
    if quantum:
        x = np.floor(x / quantum) * quantum
    return x


def acc_moving(n: int, rate_hz: float, *, seed: int = 0):
    """Arm movement: orientation swings of tens of degrees plus 100 mG linear acceleration."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate_hz
    pitch = 0.6 * np.sin(2 * np.pi * 0.5 * t)
    g = 1000.0 * np.stack([-np.sin(pitch), np.zeros(n), np.cos(pitch)], axis=1)
    return g + 100.0 * rng.normal(size=(n, 3))
