"""A preallocated ring buffer addressed by the stream-wide sample index.

Writing a chunk costs O(chunk) (at most two slice assignments at the write index); nothing is
shifted, unlike ``np.roll`` of the whole buffer per chunk. Missing samples (a jump of the
stream-wide index) are stored as NaN rows marked *missing*, never filled with invented values,
and the first sample after a discontinuity is marked as a *break*.
"""

from __future__ import annotations

import numpy as np

from spasmwatch.errors import ConfigError, SignalError

__all__ = ["RingBuffer"]


class RingBuffer:
    """Fixed-capacity sample store; slot of stream index ``i`` is ``i % capacity``.

    Parameters
    ----------
    capacity : int
        Number of samples kept (>= 1).
    n_channels : int
        Columns per sample.
    dtype : numpy.dtype
        float32 or float64.
    """

    def __init__(self, capacity: int, n_channels: int, dtype: np.dtype | type = np.float64) -> None:
        if capacity < 1 or n_channels < 1:
            raise ConfigError(
                f"RingBuffer needs capacity >= 1 and n_channels >= 1 (got {capacity}, {n_channels})"
            )
        self.capacity = int(capacity)
        self.n_channels = int(n_channels)
        self.dtype = np.dtype(dtype)
        # channel-major storage: gathered windows have samples on the fast axis
        self._data = np.full((self.n_channels, self.capacity), np.nan, dtype=self.dtype)
        self._missing = np.ones(self.capacity, dtype=bool)
        self._break = np.zeros(self.capacity, dtype=bool)
        self.end_index = 0  # one past the last stream index written
        self.start_index: int | None = None  # first stream index ever written

    def reset(self) -> None:
        """Empty the buffer (the arrays are kept)."""
        self._data.fill(np.nan)
        self._missing.fill(True)
        self._break.fill(False)
        self.end_index = 0
        self.start_index = None

    def _put(self, start: int, rows: np.ndarray | None, n: int, missing: bool, brk: bool) -> None:
        # keep only what fits; older rows would be overwritten anyway
        skip = max(0, n - self.capacity)
        start += skip
        n -= skip
        pos = start % self.capacity
        first = min(n, self.capacity - pos)
        parts = ((pos, 0, first), (0, first, n - first))
        for slot, off, cnt in parts:
            if cnt <= 0:
                continue
            if rows is None:
                self._data[:, slot : slot + cnt] = np.nan
            else:
                self._data[:, slot : slot + cnt] = rows[skip + off : skip + off + cnt].T
            self._missing[slot : slot + cnt] = missing
            self._break[slot : slot + cnt] = False
        if brk and n > 0 and skip == 0:
            self._break[pos] = True

    def write(self, x: np.ndarray, start_index: int, *, discontinuity: bool = False) -> int:
        """Store a chunk whose first sample has stream-wide index ``start_index``.

        Parameters
        ----------
        x : numpy.ndarray
            ``(n_samples, n_channels)``.
        start_index : int
            Stream-wide index of ``x[0]``; any jump over :attr:`end_index` is stored as
            missing rows (NaN) and the first sample after it is marked as a break.
        discontinuity : bool
            Mark ``x[0]`` as a break even without an index jump (e.g. a gap with no known
            sample count).

        Returns
        -------
        int
            Number of samples recorded as missing.
        """
        if x.ndim != 2 or x.shape[1] != self.n_channels:
            raise SignalError(
                f"RingBuffer.write expects shape (n, {self.n_channels}) (got {x.shape})"
            )
        n_missing = 0
        if self.start_index is None:
            self.start_index = start_index
            self.end_index = start_index
            discontinuity = False
        elif start_index < self.end_index:
            raise SignalError(
                f"chunk starts at stream index {start_index} but index {self.end_index - 1} "
                "was already written; blocks must not overlap or go back (reset() first)"
            )
        elif start_index > self.end_index:
            n_missing = start_index - self.end_index
            self._put(self.end_index, None, n_missing, True, False)
            discontinuity = True
        if x.shape[0]:
            self._put(start_index, x, x.shape[0], False, discontinuity)
        self.end_index = start_index + x.shape[0]
        return n_missing

    def gather(self, last_indices: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copy the ``n`` samples ending at each of ``last_indices``.

        Parameters
        ----------
        last_indices : numpy.ndarray
            Stream-wide indices of window ends (inclusive), shape ``(k,)``; each window must
            still be in the buffer.
        n : int
            Window length (samples).

        Returns
        -------
        data : numpy.ndarray
            ``(k, n, n_channels)`` (a transposed view of a channel-major copy, so each
            channel's samples are contiguous).
        missing : numpy.ndarray
            ``(k, n)`` bool, True where a sample is missing (NaN in ``data``) or lies before
            the first sample ever written.
        breaks : numpy.ndarray
            ``(k, n)`` bool, True where a sample follows a discontinuity.
        """
        slots, before = self._slots(last_indices, n)
        data = self._data[:, slots].transpose(1, 2, 0)  # (k, n, c) view, samples contiguous
        if before.any():
            data[before] = np.nan
        return data, self._missing[slots] | before, self._break[slots]

    def _slots(self, last_indices: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        last = np.asarray(last_indices, dtype=np.int64)
        if last.size and (
            last.max() >= self.end_index or last.min() - n + 1 < self.end_index - self.capacity
        ):
            raise SignalError(
                f"windows ending at {last.min()}..{last.max()} (length {n}) are not in the "
                f"buffer (holds {self.end_index - self.capacity}..{self.end_index - 1})"
            )
        idx = last[:, None] + np.arange(-n + 1, 1, dtype=np.int64)[None, :]
        before = idx < (self.start_index if self.start_index is not None else 0)
        return idx % self.capacity, before

    def flags(self, last_indices: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``missing`` and ``breaks`` masks of :meth:`gather`, without copying samples."""
        slots, before = self._slots(last_indices, n)
        return self._missing[slots] | before, self._break[slots]

    def _any_flag(self, first: int, stop: int) -> bool:
        """Whether any sample ``first .. stop - 1`` (in the buffer) is missing or a break."""
        a = first % self.capacity
        b = a + (stop - first)
        if b <= self.capacity:
            return bool(self._missing[a:b].any() or self._break[a:b].any())
        b -= self.capacity
        return bool(
            self._missing[a:].any()
            or self._break[a:].any()
            or self._missing[:b].any()
            or self._break[:b].any()
        )

    def span(self, first: int, stop: int) -> np.ndarray:
        """Samples with stream-wide indices ``first .. stop - 1``, channel-major.

        Parameters
        ----------
        first, stop : int
            Stream-wide index range (``stop`` exclusive); it must still be in the buffer and
            not precede the first sample ever written.

        Returns
        -------
        numpy.ndarray
            ``(n_channels, stop - first)``, NaN where samples are missing: a read-only view
            into the buffer when the range does not wrap around its end, else a copy. Valid
            until the next :meth:`write`.
        """
        start = self.start_index if self.start_index is not None else 0
        if not (max(start, self.end_index - self.capacity) <= first <= stop <= self.end_index):
            raise SignalError(
                f"samples {first}..{stop - 1} are not in the buffer "
                f"(holds {max(start, self.end_index - self.capacity)}..{self.end_index - 1})"
            )
        a = first % self.capacity
        n = stop - first
        if a + n <= self.capacity:
            out = self._data[:, a : a + n]
            out.flags.writeable = False
            return out
        return np.concatenate([self._data[:, a:], self._data[:, : a + n - self.capacity]], axis=1)

    def latest(self, n: int) -> np.ndarray:
        """Copy of the last ``n`` samples in time order ``(n, n_channels)`` (NaN where missing)."""
        if n > self.capacity:
            raise SignalError(f"cannot return {n} samples from a ring of {self.capacity}")
        if self.end_index == 0 and self.start_index is None:
            return np.full((n, self.n_channels), np.nan, dtype=self.dtype)
        data, missing, _ = self.gather(np.array([self.end_index - 1]), n)
        out = data[0]
        out[missing[0]] = np.nan
        return out
