"""Sliding windows on a common time grid, from a preallocated ring buffer.

Windows end on a grid of times ``origin_ns + k * hop_ns`` (the same grid for every stream, so
streams at different rates line up; see ``_align``). The window for grid time ``G`` is the
``n_window`` samples ending at the last sample with ``t_ns <= G``. It is emitted as soon as a
sample with ``t_ns > G`` has arrived (then no later sample can change it), or by ``flush()``.

No window is emitted for a grid time when the stream has fewer than ``n_window`` samples since
it started (warm-up) or when its last sample is older than ``tolerance_ns`` (the stream is in a
gap). A window that contains missing samples (a jump of the stream-wide index, stored as NaN)
or a discontinuity (a gap without a sample count) is emitted with ``has_gap=True`` and the
missing fraction: it is flagged, never silently filled.

A gap may be longer than the ring buffer (a disconnect of minutes or hours): the ring then
holds only missing samples, so the windows after the gap are flagged just as after a short
one, and the windows before it are read out before the first sample after it is written (see
``Windower._settle``). The results do not depend on how long such a gap was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from spasmwatch.core import SampleBlock
from spasmwatch.errors import ConfigError, SignalError
from spasmwatch.signal._filters import as_samples
from spasmwatch.signal._ringbuffer import RingBuffer

__all__ = ["Window", "WindowBatch", "Windower", "window_samples"]


#: Default bound on the samples of the stacked windows of one piece of a long chunk
#: (windows x window length x channels): 2**20, e.g. 4 MB of float32 windows. Sets the default
#: ``max_chunk`` of :class:`Windower`.
MAX_PIECE_WINDOW_SAMPLES = 1 << 20


def window_samples(rate_hz: float, seconds: float) -> int:
    """Number of samples in ``seconds`` at ``rate_hz`` (rounded, at least 2)."""
    return max(2, round(seconds * rate_hz))


@dataclass(frozen=True, slots=True, eq=False)
class Window:
    """One window of one stream.

    Parameters
    ----------
    grid_ns : int
        Grid time (UTC ns) the window was taken for.
    t_end_ns : int
        Host time (UTC ns) of the window's last sample (``<= grid_ns``).
    end_index : int
        Stream-wide index of the last sample.
    data : numpy.ndarray
        ``(n_window, n_channels)``; NaN rows where samples are missing.
    has_gap : bool
        The window overlaps a gap (missing samples or a discontinuity).
    missing_fraction : float
        Share of the window's samples that are missing (0..1).
    """

    grid_ns: int
    t_end_ns: int
    end_index: int
    data: np.ndarray
    has_gap: bool
    missing_fraction: float


@dataclass(frozen=True, slots=True, eq=False)
class WindowBatch:
    """Several windows of one stream, stacked (what the feature code consumes).

    Attributes
    ----------
    grid_ns, t_end_ns, end_index : numpy.ndarray
        int64 ``(k,)``.
    data : numpy.ndarray
        ``(k, n_window, n_channels)``.
    has_gap : numpy.ndarray
        bool ``(k,)``.
    missing_fraction : numpy.ndarray
        float64 ``(k,)``.
    """

    grid_ns: np.ndarray
    t_end_ns: np.ndarray
    end_index: np.ndarray
    data: np.ndarray
    has_gap: np.ndarray
    missing_fraction: np.ndarray

    def __len__(self) -> int:
        return int(self.grid_ns.shape[0])

    @classmethod
    def empty(cls, n_window: int, n_channels: int, dtype: np.dtype) -> WindowBatch:
        """A batch of zero windows."""
        z = np.zeros(0, dtype=np.int64)
        return cls(
            z,
            z.copy(),
            z.copy(),
            np.zeros((0, n_window, n_channels), dtype=dtype),
            np.zeros(0, dtype=bool),
            np.zeros(0),
        )

    @classmethod
    def concat(cls, batches: list[WindowBatch]) -> WindowBatch:
        """Stack batches in order (at least one)."""
        if len(batches) == 1:
            return batches[0]
        return cls(
            *(
                np.concatenate([getattr(b, name) for b in batches])
                for name in (
                    "grid_ns",
                    "t_end_ns",
                    "end_index",
                    "data",
                    "has_gap",
                    "missing_fraction",
                )
            )
        )

    def windows(self) -> list[Window]:
        """The batch as a list of :class:`Window` (data are views into the batch)."""
        return [
            Window(
                int(self.grid_ns[i]),
                int(self.t_end_ns[i]),
                int(self.end_index[i]),
                self.data[i],
                bool(self.has_gap[i]),
                float(self.missing_fraction[i]),
            )
            for i in range(len(self))
        ]


class _Due(NamedTuple):
    """Windows that are due, without their samples (they are still in the ring)."""

    grid_ns: np.ndarray
    t_end_ns: np.ndarray
    end_index: np.ndarray
    has_gap: np.ndarray
    missing_fraction: np.ndarray

    @classmethod
    def none(cls) -> _Due:
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, z, np.zeros(0, bool), np.zeros(0))


class Windower:
    """Streaming windows of one stream on the common hop grid.

    Parameters
    ----------
    rate_hz : float
        Nominal sample rate (Hz).
    n_channels : int
        Columns of the samples.
    window_s, hop_s : float
        Window length and grid step (s).
    origin_ns : int
        Grid anchor (UTC ns); grid times are ``origin_ns + k * hop_ns``. The default 0 (the
        Unix epoch) gives every stream and every session the same grid.
    tolerance_s : float, optional
        Largest age of a window's last sample relative to its grid time; default 1.5 sample
        periods. An older last sample means the stream is in a gap: no window.
    dtype : numpy.dtype
        float32 or float64 (the dtype of the windows).
    max_chunk : int, optional
        Longer chunks are processed in pieces of this many samples (bounds memory). Default:
        64 to 256 hops, as many as keep the windows of one piece (stacked, the feature code's
        largest temporaries) within :data:`MAX_PIECE_WINDOW_SAMPLES` samples.
    """

    def __init__(
        self,
        rate_hz: float,
        n_channels: int,
        window_s: float,
        hop_s: float,
        *,
        origin_ns: int = 0,
        tolerance_s: float | None = None,
        dtype: np.dtype | type = np.float64,
        max_chunk: int | None = None,
    ) -> None:
        if not (rate_hz > 0 and window_s > 0 and hop_s > 0):
            raise ConfigError(
                "Windower needs rate_hz, window_s and hop_s > 0 "
                f"(got {rate_hz!r}, {window_s!r}, {hop_s!r})"
            )
        self.rate_hz = float(rate_hz)
        self.window_s = float(window_s)
        self.hop_s = float(hop_s)
        self.n_window = window_samples(rate_hz, window_s)
        self.hop_ns = round(hop_s * 1e9)
        self.origin_ns = int(origin_ns)
        tol = 1.5 / rate_hz if tolerance_s is None else float(tolerance_s)
        self.tolerance_ns = round(tol * 1e9)
        self.n_channels = int(n_channels)
        self.dtype = np.dtype(dtype)
        hop_n = max(1, round(hop_s * rate_hz))
        if not max_chunk:
            # as many hops per piece as the budget allows, between 64 and 256: a piece's
            # windows are processed together, so fewer, larger pieces spread the per-piece
            # overhead of the feature code over more windows
            per_piece = MAX_PIECE_WINDOW_SAMPLES // (self.n_window * self.n_channels)
            max_chunk = max(min(max(per_piece, 64), 256) * hop_n, 1024)
        self.max_chunk = int(max_chunk)
        self.ring = RingBuffer(self.n_window + self.max_chunk, self.n_channels, self.dtype)
        self.reset()

    def reset(self) -> None:
        """Forget everything; the next sample starts a new stream."""
        self.ring.reset()
        self._next_grid: int | None = None
        self._last_t: int | None = None
        self._last_index: int | None = None

    @property
    def next_grid_ns(self) -> int | None:
        """The next grid time still to be resolved (``None`` before the first sample)."""
        return self._next_grid

    @property
    def last_t_ns(self) -> int | None:
        """Host time of the last sample received."""
        return self._last_t

    def _ceil_grid(self, t: int) -> int:
        k = -((self.origin_ns - t) // self.hop_ns)  # ceil((t - origin) / hop)
        return self.origin_ns + k * self.hop_ns

    def _grid_until(self, stop: int, inclusive: bool) -> np.ndarray:
        """Unresolved grid times ``< stop`` (or ``<= stop``); advances the cursor."""
        g0 = self._next_grid
        if g0 is None:
            return np.zeros(0, dtype=np.int64)
        span = stop - g0
        n = (span // self.hop_ns + 1 if span >= 0 else 0) if inclusive else -(-span // self.hop_ns)
        n = max(0, int(n))
        grid = g0 + self.hop_ns * np.arange(n, dtype=np.int64)
        self._next_grid = g0 + n * self.hop_ns
        return grid

    def _select(self, grid: np.ndarray, ends: np.ndarray, t_ends: np.ndarray) -> _Due:
        """Keep the grid times that get a window; flag the windows that overlap a gap."""
        start = self.ring.start_index if self.ring.start_index is not None else 0
        ok = ((grid - t_ends) <= self.tolerance_ns) & (ends - self.n_window + 1 >= start)
        if not ok.all():
            grid, ends, t_ends = grid[ok], ends[ok], t_ends[ok]
        if grid.size == 0:
            return _Due(grid, t_ends, ends, np.zeros(0, bool), np.zeros(0))
        if not self.ring._any_flag(int(ends[0]) - self.n_window + 1, int(ends[-1]) + 1):
            k = grid.size  # no gap anywhere under these windows (ends are in grid order)
            return _Due(grid, t_ends, ends, np.zeros(k, bool), np.zeros(k))
        missing, breaks = self.ring.flags(ends, self.n_window)
        frac = missing.mean(axis=1)
        has_gap = missing.any(axis=1) | breaks[:, 1:].any(axis=1)
        return _Due(grid, t_ends, ends, has_gap, frac)

    def _batch(self, due: _Due) -> WindowBatch:
        if len(due.grid_ns) == 0:
            return WindowBatch.empty(self.n_window, self.n_channels, self.dtype)
        data, _, _ = self.ring.gather(due.end_index, self.n_window)
        return WindowBatch(
            due.grid_ns, due.t_end_ns, due.end_index, data, due.has_gap, due.missing_fraction
        )

    def _resolve_before_new(self, t_first: int) -> _Due | None:
        # grid times before the new chunk's first sample end at the previous last sample
        if self._last_t is None:
            return None
        # only those within the tolerance of the last sample can get a window: skip the rest
        # of a long gap at once instead of listing every grid time in it
        grid = self._grid_until(min(t_first, self._last_t + self.tolerance_ns + 1), inclusive=False)
        if self._next_grid is not None and self._next_grid < t_first:
            self._next_grid = self._ceil_grid(t_first)
        if grid.size == 0:
            return None
        n = grid.size
        assert self._last_index is not None
        return self._select(
            grid, np.full(n, self._last_index, np.int64), np.full(n, self._last_t, np.int64)
        )

    def _check(self, x: object, t_ns: object) -> tuple[np.ndarray, np.ndarray]:
        x = as_samples(x)
        t_ns = np.asarray(t_ns, dtype=np.int64)
        if t_ns.shape != (x.shape[0],):
            raise SignalError(f"t_ns must have shape ({x.shape[0]},) (got {t_ns.shape})")
        if x.shape[1] != self.n_channels:
            raise SignalError(f"expected {self.n_channels} channels (got {x.shape[1]})")
        if x.shape[0] and self._last_t is not None and t_ns[0] < self._last_t:
            raise SignalError(
                f"t_ns goes backwards between chunks ({self._last_t} then {int(t_ns[0])})"
            )
        return x, t_ns

    def _settle(self, t_first: int, first_index: int, n: int) -> _Due:
        """Windows to take *before* writing a piece that jumps far ahead (a long gap).

        The grid times before a piece's first sample end at the previous last sample; they
        are normally resolved by :meth:`_advance` together with the piece's own windows, all
        read from the ring after the write. When the piece starts so far past the end of the
        ring (an index jump of about a ring's length, e.g. a disconnect) that writing it
        would overwrite those windows' samples, this resolves them now: the caller must read
        them (``_batch`` / features) before calling :meth:`_advance`.

        Parameters
        ----------
        t_first : int
            Host time (UTC ns) of the piece's first sample.
        first_index : int
            Stream-wide index of the piece's first sample.
        n : int
            Samples in the piece (at most ``max_chunk``).
        """
        last = self._last_index
        if last is None or first_index + n - self.ring.capacity <= last - self.n_window + 1:
            return _Due.none()  # the windows stay in the ring: resolved by _advance
        early = self._resolve_before_new(t_first)
        return _Due.none() if early is None else early

    def _advance(
        self, x: np.ndarray, t_ns: np.ndarray, first_index: int, discontinuity: bool
    ) -> _Due:
        """Write one piece (at most ``max_chunk`` samples, validated); return the windows it
        completes, in grid order. Their samples stay in the ring until the next write."""
        early = self._resolve_before_new(int(t_ns[0]))
        self.ring.write(x.astype(self.dtype, copy=False), first_index, discontinuity=discontinuity)
        if self._next_grid is None:
            self._next_grid = self._ceil_grid(int(t_ns[0]))
        grid = self._grid_until(int(t_ns[-1]), inclusive=False)
        self._last_t = int(t_ns[-1])
        self._last_index = first_index + x.shape[0] - 1
        due = None
        if grid.size:
            p = np.searchsorted(t_ns, grid, side="right") - 1
            due = self._select(grid, first_index + p, t_ns[p])
        if early is None or len(early.grid_ns) == 0:
            return due if due is not None else _Due.none()
        if due is None or len(due.grid_ns) == 0:
            return early
        return _Due(*(np.concatenate([a, b]) for a, b in zip(early, due)))

    def update(
        self,
        x: np.ndarray,
        t_ns: np.ndarray,
        first_index: int | None = None,
        *,
        discontinuity: bool = False,
    ) -> WindowBatch:
        """Add a chunk; return the windows it completes.

        Parameters
        ----------
        x : numpy.ndarray
            ``(n_samples, n_channels)``.
        t_ns : numpy.ndarray
            int64 ``(n_samples,)`` host times, non-decreasing.
        first_index : int, optional
            Stream-wide index of ``x[0]``; default: continues the previous chunk.
        discontinuity : bool
            The chunk follows a gap even if the index did not jump.

        Returns
        -------
        WindowBatch
            Windows in grid order (possibly none).
        """
        x, t_ns = self._check(x, t_ns)
        if first_index is None:
            first_index = self.ring.end_index
        out: list[WindowBatch] = []
        n = x.shape[0]
        for a in range(0, n, self.max_chunk):
            b = min(n, a + self.max_chunk)
            early = self._settle(int(t_ns[a]), first_index + a, b - a)
            if len(early.grid_ns):
                out.append(self._batch(early))  # before the write overwrites their samples
            due = self._advance(x[a:b], t_ns[a:b], first_index + a, discontinuity and a == 0)
            if len(due.grid_ns):
                out.append(self._batch(due))  # gathered before the next piece overwrites
        if not out:
            return WindowBatch.empty(self.n_window, self.n_channels, self.dtype)
        return WindowBatch.concat(out)

    def update_block(self, block: SampleBlock, x: np.ndarray | None = None) -> WindowBatch:
        """:meth:`update` from a :class:`SampleBlock` (``x`` overrides ``block.data``, e.g.
        with the filtered samples)."""
        return self.update(
            block.data if x is None else x,
            block.t_ns,
            block.first_index,
            discontinuity=bool(block.gaps),
        )

    def flush(self) -> WindowBatch:
        """End of stream: resolve the grid times the last sample still covers."""
        return self._batch(self._flush_due())

    def _flush_due(self) -> _Due:
        if self._last_t is None:
            return _Due.none()
        grid = self._grid_until(self._last_t + self.tolerance_ns, inclusive=True)
        n = grid.size
        assert self._last_index is not None
        return self._select(
            grid, np.full(n, self._last_index, np.int64), np.full(n, self._last_t, np.int64)
        )
