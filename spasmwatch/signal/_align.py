"""Alignment of several streams' window features onto one time grid.

Every stream's :class:`~spasmwatch.signal.Windower` produces windows for the same grid times
``origin_ns + k * hop_ns`` (each window ends at the stream's last sample at or before the grid
time). The :class:`Aligner` joins them: the frame for grid time ``G`` is emitted when every
stream has resolved ``G`` (it has seen a sample after ``G``), or when a stream that holds
things up is declared *stale* — its newest sample is older than ``stale_timeout_s`` behind the
newest sample of any stream (a stream never seen counts from the first sample of any stream).
One dead device therefore does not stall the others. A stream without a window at ``G``
(warm-up, a gap, stale) is *missing*: NaN features and a flag. Grid times at which no stream
has a window produce no frame. Windows that arrive for grid times already emitted (a stale
stream catching up) are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from spasmwatch.errors import ConfigError, SignalError

__all__ = ["AlignedBatch", "Aligner"]


@dataclass(frozen=True, slots=True, eq=False)
class AlignedBatch:
    """Frames produced by one :meth:`Aligner.pop` call.

    Attributes
    ----------
    t_end_ns : numpy.ndarray
        int64 ``(n_frames,)`` grid times.
    values : numpy.ndarray
        float64 ``(n_frames, n_features)``, NaN for missing streams and gapped windows.
    has_gap : numpy.ndarray
        bool ``(n_frames,)``: some stream's window overlaps a gap.
    missing : numpy.ndarray
        bool ``(n_frames, n_streams)``: the stream had no window at that time.
    """

    t_end_ns: np.ndarray
    values: np.ndarray
    has_gap: np.ndarray
    missing: np.ndarray

    def __len__(self) -> int:
        return int(self.t_end_ns.shape[0])

    @classmethod
    def concat(cls, parts: list[AlignedBatch], n_features: int, n_streams: int) -> AlignedBatch:
        """Stack batches in order (possibly none)."""
        if not parts:
            return cls(
                np.zeros(0, np.int64),
                np.zeros((0, n_features)),
                np.zeros(0, bool),
                np.zeros((0, n_streams), bool),
            )
        return cls(
            np.concatenate([p.t_end_ns for p in parts]),
            np.concatenate([p.values for p in parts]),
            np.concatenate([p.has_gap for p in parts]),
            np.concatenate([p.missing for p in parts]),
        )


class _Pending:
    __slots__ = ("gap", "grid", "last_t", "next_grid", "started", "vals")

    def __init__(self) -> None:
        self.grid: list[np.ndarray] = []
        self.vals: list[np.ndarray] = []
        self.gap: list[np.ndarray] = []
        self.started = False
        self.last_t = 0
        self.next_grid: int | None = None


class Aligner:
    """Join per-stream window features on the common grid.

    Parameters
    ----------
    n_features : sequence of int
        Feature count per stream, in vector order.
    hop_s : float
        Grid step (s).
    stale_timeout_s : float or None
        Declare a stream stale when it lags the newest stream *of another group* by this
        much (s); ``None`` never declares a stream stale (batch mode: wait for everything).
    groups : sequence of str, optional
        Group of each stream: the device it comes from. Default: every stream its own group.
    group_stale_timeout_s : float or None
        Declare a stream stale when it lags the newest stream of its *own* group by this
        much (s). Streams of one device share one radio link, so a lag between them is
        delivery order (one characteristic's backlog handed over before the other's when
        the host was busy), not a dead device: waiting for it keeps its windows, where
        declaring it stale would drop them. Default: ``stale_timeout_s``. Ignored when
        ``stale_timeout_s`` is ``None``.

    Notes
    -----
    ``dropped_late`` counts, per stream, the windows that arrived for grid times already
    emitted (after the stream was declared stale) and were dropped.
    """

    def __init__(
        self,
        n_features: tuple[int, ...],
        hop_s: float,
        stale_timeout_s: float | None = 5.0,
        *,
        groups: Sequence[str] | None = None,
        group_stale_timeout_s: float | None = None,
    ) -> None:
        if not n_features or hop_s <= 0:
            raise ConfigError(f"Aligner needs streams and hop_s > 0 (got {n_features}, {hop_s})")
        for name, v in (
            ("stale_timeout_s", stale_timeout_s),
            ("group_stale_timeout_s", group_stale_timeout_s),
        ):
            if v is not None and not v > 0:
                raise ConfigError(f"{name} must be > 0 or None (got {v!r})")
        if groups is not None and len(groups) != len(n_features):
            raise ConfigError(
                f"Aligner groups must name one group per stream ({len(n_features)}), got "
                f"{list(groups)!r}"
            )
        self.groups = (
            tuple(str(i) for i in range(len(n_features))) if groups is None else tuple(groups)
        )
        self.n_features = tuple(int(n) for n in n_features)
        self.offsets = np.concatenate([[0], np.cumsum(self.n_features)]).astype(int)
        self.hop_ns = round(hop_s * 1e9)
        self.stale_ns = None if stale_timeout_s is None else round(stale_timeout_s * 1e9)
        gst = stale_timeout_s if group_stale_timeout_s is None else group_stale_timeout_s
        self.group_stale_ns = None if self.stale_ns is None else round(gst * 1e9)
        # returned by every pop() without frames (zero-size arrays: nothing can be written)
        self._empty = AlignedBatch.concat([], int(self.offsets[-1]), self.n_streams)
        self.reset()

    @property
    def n_streams(self) -> int:
        """Number of streams."""
        return len(self.n_features)

    def reset(self) -> None:
        """Forget pending windows and the emission cursor."""
        self._s = [_Pending() for _ in self.n_features]
        #: Per stream: windows dropped because their grid time was already emitted (a
        #: stale stream catching up), since the last reset.
        self.dropped_late = [0] * len(self.n_features)
        self._emitted: int | None = None
        self._first_t: int | None = None

    def push(
        self,
        stream: int,
        grid_ns: np.ndarray,
        values: np.ndarray,
        has_gap: np.ndarray,
        *,
        next_grid_ns: int | None,
        last_t_ns: int | None,
    ) -> None:
        """Add one stream's windows and its progress.

        Parameters
        ----------
        stream : int
            Stream position.
        grid_ns : numpy.ndarray
            int64 ``(k,)`` grid times of the windows.
        values : numpy.ndarray
            ``(k, n_features[stream])``.
        has_gap : numpy.ndarray
            bool ``(k,)``.
        next_grid_ns : int or None
            The stream's first unresolved grid time (every earlier one is final).
        last_t_ns : int or None
            Host time of the stream's newest sample.
        """
        s = self._s[stream]
        values = np.asarray(values)
        if len(grid_ns) and (values.ndim != 2 or values.shape[1] != self.n_features[stream]):
            raise SignalError(
                f"stream {stream} must push (k, {self.n_features[stream]}) features "
                f"(got {values.shape})"
            )
        if len(grid_ns):
            s.grid.append(np.asarray(grid_ns, np.int64))
            s.vals.append(values)
            s.gap.append(np.asarray(has_gap, bool))
        if last_t_ns is not None:
            s.started = True
            s.last_t = max(s.last_t, int(last_t_ns)) if s.last_t else int(last_t_ns)
            if self._first_t is None:
                self._first_t = int(last_t_ns)
        s.next_grid = next_grid_ns

    def _limit(self, final: bool) -> float:
        upper = np.inf
        for i, s in enumerate(self._s):
            if final:
                continue
            if self._stale(i):
                continue  # stale: does not hold the others
            if not s.started or s.next_grid is None:
                return -np.inf
            upper = min(upper, s.next_grid - self.hop_ns)
        return upper

    def _stale(self, i: int) -> bool:
        """Whether stream ``i`` lags another group's newest sample by ``stale_ns`` or its
        own group's by ``group_stale_ns`` (a stream never seen counts from the first sample
        of any stream)."""
        s = self._s[i]
        seen = s.last_t if s.started else self._first_t
        if self.stale_ns is None or seen is None:
            return False
        group = self.groups[i]
        for g, o in zip(self.groups, self._s, strict=True):
            if o is s or not o.started:
                continue
            limit = self.group_stale_ns if g == group else self.stale_ns
            if seen < o.last_t - limit:
                return True
        return False

    def pop(self, *, final: bool = False) -> AlignedBatch:
        """Emit every frame that is ready (``final=True``: all that remain)."""
        upper = self._limit(final)
        empty = self._empty
        if upper == -np.inf:
            return empty
        if not any(s.grid for s in self._s):  # nothing pending (most live calls)
            if np.isfinite(upper):
                self._emitted = (
                    int(upper) if self._emitted is None else max(self._emitted, int(upper))
                )
            return empty
        n_total = int(self.offsets[-1])
        lower = -np.inf if self._emitted is None else self._emitted
        taken: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for s in self._s:
            if not s.grid:
                taken.append((np.zeros(0, np.int64), np.zeros((0, 0)), np.zeros(0, bool)))
                continue
            g = np.concatenate(s.grid) if len(s.grid) > 1 else s.grid[0]
            v = np.concatenate(s.vals) if len(s.vals) > 1 else s.vals[0]
            h = np.concatenate(s.gap) if len(s.gap) > 1 else s.gap[0]
            ready = g <= upper
            keep = ~ready
            s.grid, s.vals, s.gap = (
                ([g[keep]], [v[keep]], [h[keep]]) if keep.any() else ([], [], [])
            )
            use = ready & (g > lower)
            self.dropped_late[len(taken)] += int(np.count_nonzero(ready & ~use))
            taken.append((g[use], v[use], h[use]))
        all_g = np.unique(np.concatenate([t[0] for t in taken]))
        if all_g.size == 0:
            if np.isfinite(upper):
                self._emitted = (
                    int(upper) if self._emitted is None else max(self._emitted, int(upper))
                )
            return empty
        n = all_g.size
        values = np.full((n, n_total), np.nan)
        has_gap = np.zeros(n, bool)
        missing = np.ones((n, self.n_streams), bool)
        for i, (g, v, h) in enumerate(taken):
            if g.size == 0:
                continue
            pos = np.searchsorted(all_g, g)
            values[pos, self.offsets[i] : self.offsets[i + 1]] = v
            has_gap[pos] |= h
            missing[pos, i] = False
        last = int(all_g[-1]) if not np.isfinite(upper) else max(int(upper), int(all_g[-1]))
        self._emitted = last if self._emitted is None else max(self._emitted, last)
        return AlignedBatch(all_g, values, has_gap, missing)
