"""Streaming EMG envelopes: moving RMS and the Teager-Kaiser energy operator (TKEO).

Both are causal, keep their state between chunks, start in steady state (the samples before
the first one are taken equal to it) and keep the input dtype. Arrays are
``(n_samples, n_channels)``.
"""

from __future__ import annotations

import numpy as np

from spasmwatch.errors import ConfigError
from spasmwatch.signal._filters import as_samples

__all__ = ["MovingRMS", "TeagerKaiser", "moving_rms_step", "tkeo_step"]


def moving_rms_step(
    x: np.ndarray, n_window: int, tail: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Causal moving RMS over the last ``n_window`` samples (pure: returns the new state).

    Parameters
    ----------
    x : numpy.ndarray
        Chunk ``(n_samples, n_channels)``.
    n_window : int
        Window length in samples (>= 1).
    tail : numpy.ndarray or None
        Squares of the previous ``n_window - 1`` samples, float64 ``(n_window - 1, n_channels)``;
        ``None`` at the start (steady state: earlier samples equal the first one).

    Returns
    -------
    y : numpy.ndarray
        ``sqrt(mean(x[n - n_window + 1 .. n] ** 2))`` per sample, shape and dtype of ``x``.
    tail : numpy.ndarray or None
        New state.
    """
    x = as_samples(x)
    if x.shape[0] == 0:
        return x.copy(), tail
    sq = np.square(x, dtype=np.float64)
    if tail is None:
        tail = np.repeat(sq[:1], n_window - 1, axis=0)
    ext = np.concatenate([tail, sq], axis=0)
    cs = np.zeros((ext.shape[0] + 1, ext.shape[1]))
    np.cumsum(ext, axis=0, out=cs[1:])
    n = x.shape[0]
    ms = (cs[n_window:] - cs[:n]) / n_window
    y = np.sqrt(np.maximum(ms, 0.0)).astype(x.dtype, copy=False)
    return y, ext[ext.shape[0] - (n_window - 1) :].copy()


class MovingRMS:
    """Streaming moving-RMS envelope.

    Parameters
    ----------
    rate_hz : float
        Sample rate (Hz).
    window_s : float
        Window length (s); rounded to whole samples (at least 1).
    """

    def __init__(self, rate_hz: float, window_s: float = 0.1) -> None:
        if not (rate_hz > 0 and window_s > 0):
            raise ConfigError(
                f"MovingRMS needs rate_hz > 0 and window_s > 0 (got {rate_hz!r}, {window_s!r})"
            )
        self.rate_hz = float(rate_hz)
        self.window_s = float(window_s)
        self.n_window = max(1, round(window_s * rate_hz))
        self._tail: np.ndarray | None = None

    def update(self, x: np.ndarray) -> np.ndarray:
        """Envelope of the next chunk ``(n_samples, n_channels)``, same shape and dtype."""
        y, self._tail = moving_rms_step(x, self.n_window, self._tail)
        return y

    def reset(self) -> None:
        """Forget the state."""
        self._tail = None


def tkeo_step(x: np.ndarray, prev: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Causal Teager-Kaiser energy with a one-sample delay (pure: returns the new state).

    ``y[n] = x[n-1]**2 - x[n] * x[n-2]``, i.e. the classic ``psi[m] = x[m]**2 - x[m+1]x[m-1]``
    evaluated at ``m = n - 1`` as soon as ``x[n]`` is known.

    Parameters
    ----------
    x : numpy.ndarray
        Chunk ``(n_samples, n_channels)``.
    prev : numpy.ndarray or None
        The previous two samples, float64 ``(2, n_channels)`` (oldest first); ``None`` at the
        start, where both are taken equal to the first sample (so a constant gives 0).

    Returns
    -------
    y : numpy.ndarray
        Shape and dtype of ``x``.
    prev : numpy.ndarray or None
        New state.
    """
    x = as_samples(x)
    if x.shape[0] == 0:
        return x.copy(), prev
    x64 = x.astype(np.float64, copy=False)
    if prev is None:
        prev = np.repeat(x64[:1], 2, axis=0)
    ext = np.concatenate([prev, x64], axis=0)
    y = ext[1:-1] ** 2 - ext[2:] * ext[:-2]
    return y.astype(x.dtype, copy=False), ext[-2:].copy()


class TeagerKaiser:
    """Streaming Teager-Kaiser energy operator (one sample of delay)."""

    def __init__(self) -> None:
        self._prev: np.ndarray | None = None

    def update(self, x: np.ndarray) -> np.ndarray:
        """TKEO of the next chunk ``(n_samples, n_channels)``, same shape and dtype."""
        y, self._prev = tkeo_step(x, self._prev)
        return y

    def reset(self) -> None:
        """Forget the previous two samples."""
        self._prev = None
