"""Min/max decimation of a signal for display: hours of samples into a few thousand pixels.

Drawing the minimum and maximum of each bucket as a vertical line shows every spike that a
plain subsampling would hide, at a cost of two numbers per bucket and channel.
"""

from __future__ import annotations

import numpy as np

from spasmwatch.errors import ConfigError

__all__ = ["MAX_BUCKETS", "minmax_buckets"]

#: Upper bound on ``buckets`` accepted from a request.
MAX_BUCKETS = 20_000


def minmax_buckets(
    t_ns: np.ndarray,
    data: np.ndarray,
    start_ns: int,
    end_ns: int,
    buckets: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-bucket minimum and maximum of each channel over ``[start_ns, end_ns)``.

    Parameters
    ----------
    t_ns : numpy.ndarray
        Sample times, int64 UTC ns, shape ``(n_samples,)``, non-decreasing.
    data : numpy.ndarray
        Samples, shape ``(n_samples, n_channels)``.
    start_ns, end_ns : int
        Window, UTC ns; ``end_ns > start_ns``. Samples outside are ignored.
    buckets : int
        Number of equal-width time buckets, 1 to :data:`MAX_BUCKETS`.

    Returns
    -------
    edges_ns : numpy.ndarray
        int64, shape ``(buckets + 1,)``: bucket ``k`` spans ``[edges_ns[k], edges_ns[k+1])``.
    lo, hi : numpy.ndarray
        float32, shape ``(buckets, n_channels)``: minimum and maximum; NaN in buckets
        without samples (a gap or beyond the data).
    counts : numpy.ndarray
        int64, shape ``(buckets,)``: number of samples per bucket.
    """
    if isinstance(buckets, bool) or not isinstance(buckets, int | np.integer):
        raise ConfigError(f"buckets must be an int (got {buckets!r})")
    if not 1 <= buckets <= MAX_BUCKETS:
        raise ConfigError(f"buckets must be between 1 and {MAX_BUCKETS} (got {buckets})")
    if end_ns <= start_ns:
        raise ConfigError(f"end ({end_ns}) must be after start ({start_ns})")
    t = np.asarray(t_ns, dtype=np.int64)
    x = np.asarray(data)
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    n_ch = x.shape[1]
    span = end_ns - start_ns
    edges = start_ns + (np.arange(buckets + 1, dtype=np.float64) * (span / buckets)).astype(
        np.int64
    )
    edges[-1] = end_ns
    lo = np.full((buckets, n_ch), np.nan, dtype=np.float32)
    hi = np.full((buckets, n_ch), np.nan, dtype=np.float32)
    counts = np.zeros(buckets, dtype=np.int64)
    i0, i1 = np.searchsorted(t, [start_ns, end_ns], side="left")
    if i1 <= i0:
        return edges, lo, hi, counts
    tt = t[i0:i1]
    xx = x[i0:i1].astype(np.float32, copy=False)
    # bucket of each sample: the edges are sorted, so searchsorted is exact even where the
    # float bucket width does not divide the span evenly.
    idx = np.searchsorted(edges, tt, side="right") - 1
    np.clip(idx, 0, buckets - 1, out=idx)
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    which = idx[starts]
    lo[which] = np.fmin.reduceat(xx, starts, axis=0)
    hi[which] = np.fmax.reduceat(xx, starts, axis=0)
    counts[which] = np.diff(np.r_[starts, idx.shape[0]])
    return edges, lo, hi, counts
