"""The whole signal stage: conditioning, windows, features and alignment of EMG and ACC.

:class:`SignalPipeline` is configured from stream specs and turns :class:`SampleBlock` s into
:class:`FeatureFrame` s on the common hop grid. ``extract`` is the batch form: it runs the same
code on one block per stream and flushes, so streaming and batch give the same frames (the
tests check it with random chunking).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from spasmwatch.core import Gap, SampleBlock, StreamSpec
from spasmwatch.errors import ConfigError, SignalError
from spasmwatch.signal._align import AlignedBatch, Aligner
from spasmwatch.signal._features import (
    FEATURE_SET_VERSION,
    AccFeatures,
    EmgFeatures,
    FeatureSet,
)
from spasmwatch.signal._filters import (
    AccConditioner,
    SosFilter,
    design_emg,
    mains_frequencies,
)
from spasmwatch.signal._windowing import Windower, _Due

__all__ = [
    "ACC_UNIT_SCALE",
    "DEFAULT_HOP_S",
    "DEFAULT_WINDOW_S",
    "SAME_DEVICE_STALE_S",
    "FeatureFrame",
    "SignalPipeline",
]

DEFAULT_WINDOW_S = 2.0
DEFAULT_HOP_S = 0.25
#: How far (s) one stream may lag another of the same device before it is declared stale.
SAME_DEVICE_STALE_S = 120.0
#: Factors that bring accelerometer units to g. Other units pass unscaled (amplitude features
#: are normalised per wearer anyway; the shape features do not depend on scale).
ACC_UNIT_SCALE = {
    "g": 1.0,
    "mg": 1e-3,
    "mG": 1e-3,
    "m/s^2": 1.0 / 9.80665,
    "m/s2": 1.0 / 9.80665,
    "m/s²": 1.0 / 9.80665,
}


@dataclass(frozen=True, slots=True, eq=False)
class FeatureFrame:
    """The feature vector for one grid time.

    Parameters
    ----------
    t_end_ns : int
        Grid time (UTC ns); every stream's window ends at or just before it.
    values : numpy.ndarray
        float32 ``(n_features,)``; NaN for a missing stream or a window with a gap.
    names : tuple of str
        Feature names (:attr:`FeatureSet.names`).
    has_gap : bool
        Some stream's window overlaps a gap.
    missing : tuple of str
        Stream kinds with no window at this time (warm-up, gap, stale device).
    """

    t_end_ns: int
    values: np.ndarray
    names: tuple[str, ...]
    has_gap: bool = False
    missing: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Every stream present and no gap: all values are finite."""
        return not self.has_gap and not self.missing


_NOTHING: tuple[np.ndarray, np.ndarray, np.ndarray] = (
    np.zeros(0, np.int64),
    np.zeros((0, 0)),
    np.zeros(0, bool),
)


class _Stream:
    def __init__(
        self,
        spec: StreamSpec,
        window_s: float,
        hop_s: float,
        origin_ns: int,
        mains_hz: float | tuple[float, ...],
        version: str,
    ) -> None:
        self.spec = spec
        if spec.kind == "emg":
            self.cond = SosFilter(design_emg(spec.rate_hz, mains_hz))
            self.feat: EmgFeatures | AccFeatures = EmgFeatures(
                spec.rate_hz, spec.n_channels, version
            )
            self.scale = 1.0
            width = spec.n_channels
        else:
            if spec.n_channels != 3:
                raise ConfigError(
                    f"accelerometer stream {spec.key} must have 3 axes (got {spec.channels})"
                )
            self.cond = AccConditioner(spec.rate_hz)
            self.feat = AccFeatures(spec.rate_hz, version)
            self.scale = ACC_UNIT_SCALE.get(spec.units, 1.0)
            width = 9
        self.win = Windower(
            spec.rate_hz, width, window_s, hop_s, origin_ns=origin_ns, dtype=np.float32
        )
        self.next_index: int | None = None
        # Blocks held back because they cannot complete a window (see ``process``)
        self._pending: list[SampleBlock] = []
        self._pending_end = 0
        self._pending_t = 0
        # gaps announced by empty blocks (an open gap: the device went silent), carried over
        # to the next block that has samples
        self._carried: tuple[Gap, ...] = ()

    def reset(self) -> None:
        self.cond.reset()
        self.feat.reset()
        self.win.reset()
        self.next_index = None
        self._pending = []
        self._carried = ()

    @property
    def last_t_ns(self) -> int | None:
        """Host time of the newest sample received (held back or processed)."""
        return self._pending_t if self._pending else self.win.last_t_ns

    def _hold(self, block: SampleBlock) -> bool:
        """Hold ``block`` back if it continues the stream and completes no grid time.

        Features are needed once per hop, so a block that resolves no grid time (its last
        sample is not after the next grid time) is only stored; the held blocks are filtered
        and windowed together with the next block that does resolve one, or at ``flush``.
        Filters and windows are chunk-invariant, so the results are the same as processing
        every block at once, and frames are emitted at the same ``update`` call. This removes
        the per-call overhead of the filters from tiny live blocks (a Myo notification holds
        2 EMG samples, a hop 50).
        """
        nxt = self.win.next_grid_ns
        if nxt is None or block.gaps or int(block.t_ns[-1]) > nxt:
            return False
        if self._pending:
            if block.first_index != self._pending_end or int(block.t_ns[0]) < self._pending_t:
                return False
        else:
            last_t = self.win.last_t_ns
            if block.first_index != self.next_index or (
                last_t is not None and int(block.t_ns[0]) < last_t
            ):
                return False
        self._pending.append(block)
        self._pending_end = block.end_index
        self._pending_t = int(block.t_ns[-1])
        return True

    def _take_pending(self, block: SampleBlock | None) -> list[tuple]:
        """Runs to process: the held blocks (merged with ``block`` when it continues them)."""
        runs: list[tuple] = []
        held, self._pending = self._pending, []
        if held:
            merge = (
                block is not None
                and not block.gaps
                and block.first_index == self._pending_end
                and int(block.t_ns[0]) >= self._pending_t
            )
            if merge:
                held.append(block)
                block = None
            if len(held) == 1:
                h = held[0]
                runs.append((h.t_ns, h.data, h.first_index, h.gaps))
            else:
                t = np.concatenate([h.t_ns for h in held])
                x = np.concatenate([h.data for h in held])
                runs.append((t, x, held[0].first_index, held[0].gaps))
        if block is not None:
            runs.append((block.t_ns, block.data, block.first_index, block.gaps))
        return runs

    def process(self, block: SampleBlock) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if block.n_samples == 0:
            self._carried += block.gaps
            return _NOTHING
        if self._carried:  # the gap lies before this block even if its index did not jump
            gaps, self._carried = self._carried + block.gaps, ()
            block = SampleBlock(
                block.spec, block.t_ns, block.data, block.first_index, gaps, block.seq
            )
        if self._hold(block):
            return _NOTHING
        outs = [self._run(*run) for run in self._take_pending(block)]
        outs = [o for o in outs if len(o[0])]
        if not outs:
            return _NOTHING
        if len(outs) == 1:
            return outs[0]
        return tuple(np.concatenate(parts) for parts in zip(*outs))  # type: ignore[return-value]

    def _run(
        self, t_ns: np.ndarray, data: np.ndarray, first_index: int, gaps: tuple
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n_samples = t_ns.shape[0]
        broke = self.next_index is not None and (bool(gaps) or first_index != self.next_index)
        if broke:
            self.cond.reset()  # restart in steady state: never filter across a gap
        x = data if self.scale == 1.0 else data * np.float32(self.scale)
        y = self.cond.update(x)
        self.next_index = first_index + n_samples
        step = self.win.max_chunk  # bounds the memory of the stacked windows
        grids, feats, gaps_out = [], [], []
        for a in range(0, n_samples, step):
            ys, ts = self.win._check(y[a : a + step], t_ns[a : a + step])
            # after a long gap, the windows before it must be read before the write
            early = self.win._settle(int(ts[0]), first_index + a, ts.shape[0])
            if len(early.grid_ns):
                grids.append(early.grid_ns)
                feats.append(self._features(early))
                gaps_out.append(early.has_gap)
            due = self.win._advance(ys, ts, first_index + a, bool(gaps) and a == 0)
            if len(due.grid_ns):  # features now: the next piece may overwrite the samples
                grids.append(due.grid_ns)
                feats.append(self._features(due))
                gaps_out.append(due.has_gap)
        if not grids:
            return _NOTHING
        if len(grids) == 1:
            return grids[0], feats[0], gaps_out[0]
        return np.concatenate(grids), np.concatenate(feats), np.concatenate(gaps_out)

    def _features(self, due: _Due) -> np.ndarray:
        """Features of windows whose samples are in the ring buffer."""
        n = self.win.n_window
        first = int(due.end_index[0]) - n + 1  # windows come in grid order
        span = self.win.ring.span(first, int(due.end_index[-1]) + 1)
        return self.feat._update_span(span, due.end_index - first, n, due.has_gap)

    def flush(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        outs = [self._run(*run) for run in self._take_pending(None)]
        due = self.win._flush_due()
        if len(due.grid_ns):
            outs.append((due.grid_ns, self._features(due), due.has_gap))
        outs = [o for o in outs if len(o[0])]
        if not outs:
            return _NOTHING
        if len(outs) == 1:
            return outs[0]
        return tuple(np.concatenate(parts) for parts in zip(*outs))  # type: ignore[return-value]


class SignalPipeline:
    """Streaming feature extraction for EMG and/or accelerometer streams.

    Parameters
    ----------
    specs : sequence of StreamSpec
        At most one ``emg`` and one ``acc`` stream. EMG needs a rate of at least ~100 Hz,
        ACC at least ~20 Hz and 3 axes.
    window_s : float
        Window length (s), default 2.0.
    hop_s : float
        Grid step between frames (s), default 0.25.
    mains_hz : float or sequence of float
        Powerline frequency for the EMG notch: 50 or 60 Hz, or both ``(50, 60)`` when the
        local grid is not known (:func:`~spasmwatch.signal.mains_frequencies`).
    origin_ns : int
        Grid anchor (UTC ns), default 0 (Unix epoch).
    stale_timeout_s : float or None
        A stream lagging the newest stream of another device by this much (s) is declared
        stale and no longer holds frames back; ``None`` waits forever.
    same_device_stale_s : float or None
        The same for two streams of one device (default 120 s, ``None``: as
        ``stale_timeout_s``). They share one radio link, so a lag between them is delivery
        order after the host was busy, not a dead device; waiting keeps their windows,
        which a stale declaration would drop (:class:`Aligner` ``dropped_late``).
    feature_set_version : str
        Which feature set to compute (:data:`FEATURE_SET_VERSIONS`; default the newest).

    Notes
    -----
    ``update(block)`` ignores blocks of streams it was not configured with (gyro, ECG...).
    After a gap (``block.gaps``, a jump of ``first_index``, or the gaps of an empty block
    before it) the stream's filters restart in steady state, windows overlapping the gap are
    flagged (their features are NaN) and grid times inside it get no window from that stream.
    Gaps of any length are handled alike (a disconnect of an hour jumps ``first_index`` far
    past the ring buffer, which then holds nothing but missing samples); while one stream is
    in a gap, the others go on after ``stale_timeout_s``.
    """

    def __init__(
        self,
        specs: Sequence[StreamSpec],
        *,
        window_s: float = DEFAULT_WINDOW_S,
        hop_s: float = DEFAULT_HOP_S,
        mains_hz: float | Sequence[float] = 50.0,
        origin_ns: int = 0,
        stale_timeout_s: float | None = 5.0,
        feature_set_version: str = FEATURE_SET_VERSION,
        same_device_stale_s: float | None = SAME_DEVICE_STALE_S,
    ) -> None:
        specs = list(specs)
        kinds = [s.kind for s in specs]
        bad = [s.key for s in specs if s.kind not in ("emg", "acc")]
        if bad or not specs or len(set(kinds)) != len(kinds):
            raise ConfigError(
                "SignalPipeline needs one emg and/or one acc StreamSpec "
                f"(got {[s.key for s in specs]}); pass other streams elsewhere"
            )
        if not (window_s > 0 and hop_s > 0 and hop_s <= window_s):
            raise ConfigError(
                f"window_s and hop_s must be > 0 with hop_s <= window_s (got {window_s}, {hop_s})"
            )
        self.feature_set = FeatureSet(tuple(kinds), feature_set_version)
        order = {k: i for i, k in enumerate(self.feature_set.kinds)}
        self.specs = tuple(sorted(specs, key=lambda s: order[s.kind]))
        self.window_s = float(window_s)
        self.hop_s = float(hop_s)
        self.mains_hz = mains_frequencies(mains_hz)
        self.origin_ns = int(origin_ns)
        self.stale_timeout_s = stale_timeout_s
        self.same_device_stale_s = same_device_stale_s
        self._streams = [
            _Stream(s, window_s, hop_s, self.origin_ns, self.mains_hz, feature_set_version)
            for s in self.specs
        ]
        self._by_key = {s.key: i for i, s in enumerate(self.specs)}
        self._aligner = Aligner(
            tuple(
                len(self.feature_set.names[self.feature_set.slice_of(s.kind)]) for s in self.specs
            ),
            hop_s,
            stale_timeout_s,
            groups=tuple(s.device for s in self.specs),
            group_stale_timeout_s=same_device_stale_s,
        )

    @property
    def dropped_late(self) -> dict[str, int]:
        """Per stream key: windows dropped because they arrived after their grid time had
        been emitted without them (the stream had been declared stale), since the last
        reset."""
        return {s.key: n for s, n in zip(self.specs, self._aligner.dropped_late, strict=True)}

    @property
    def names(self) -> tuple[str, ...]:
        """Feature names in vector order."""
        return self.feature_set.names

    def reset(self) -> None:
        """Forget all state; the next blocks start new streams."""
        for st in self._streams:
            st.reset()
        self._aligner.reset()

    def _push(self, i: int, out: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        st = self._streams[i]
        self._aligner.push(
            i, out[0], out[1], out[2], next_grid_ns=st.win.next_grid_ns, last_t_ns=st.last_t_ns
        )

    def update_batch(self, block: SampleBlock) -> AlignedBatch:
        """Like :meth:`update`, returning the frames as arrays (faster for many frames)."""
        i = self._by_key.get(block.spec.key)
        if i is None:
            return AlignedBatch.concat([], len(self.names), len(self.specs))
        spec = self.specs[i]
        if block.spec.rate_hz != spec.rate_hz or block.spec.channels != spec.channels:
            raise SignalError(
                f"block of {spec.key} has rate {block.spec.rate_hz:g} Hz and channels "
                f"{block.spec.channels}; the pipeline was configured for {spec.rate_hz:g} Hz and "
                f"{spec.channels}. Build a new SignalPipeline for the new stream settings"
            )
        self._push(i, self._streams[i].process(block))
        return self._aligner.pop()

    def _frames(self, batch: AlignedBatch) -> list[FeatureFrame]:
        if not len(batch):
            return []
        names = self.names
        kinds = [s.kind for s in self.specs]
        vals = batch.values.astype(np.float32)
        out = []
        for j in range(len(batch)):
            miss = tuple(k for k, m in zip(kinds, batch.missing[j]) if m)
            out.append(
                FeatureFrame(int(batch.t_end_ns[j]), vals[j], names, bool(batch.has_gap[j]), miss)
            )
        return out

    def update(self, block: SampleBlock) -> list[FeatureFrame]:
        """Take the next block of any configured stream; return the frames now complete.

        Parameters
        ----------
        block : SampleBlock
            Next block of one stream (float32 ``(n_samples, n_channels)``).

        Returns
        -------
        list of FeatureFrame
            In time order; possibly empty.
        """
        return self._frames(self.update_batch(block))

    def flush_batch(self) -> AlignedBatch:
        """End of input: resolve the last windows of every stream and emit what remains."""
        for i, st in enumerate(self._streams):
            self._push(i, st.flush())
        return self._aligner.pop(final=True)

    def flush(self) -> list[FeatureFrame]:
        """End of input as a list of frames (see :meth:`flush_batch`)."""
        return self._frames(self.flush_batch())

    def _fresh(self, stale_timeout_s: float | None) -> SignalPipeline:
        return SignalPipeline(
            self.specs,
            window_s=self.window_s,
            hop_s=self.hop_s,
            mains_hz=self.mains_hz,
            origin_ns=self.origin_ns,
            stale_timeout_s=stale_timeout_s,
            feature_set_version=self.feature_set.version,
            same_device_stale_s=self.same_device_stale_s,
        )

    def extract(
        self,
        streams: Mapping[str, SampleBlock | Sequence[SampleBlock] | tuple[np.ndarray, np.ndarray]],
    ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Batch form: features of whole recordings (does not touch this object's state).

        Parameters
        ----------
        streams : mapping
            Per stream kind (``"emg"``, ``"acc"``) or stream key: a :class:`SampleBlock`; a
            sequence of them in stream order (a recording with gaps: one block per
            contiguous run, ``first_index`` counting the samples lost in between); or
            ``(t_ns, data)`` with int64 ``(n_samples,)`` times and ``(n_samples, n_channels)``
            samples (taken as gap-free, ``first_index`` 0).

        Returns
        -------
        t_end_ns : numpy.ndarray
            int64 ``(n_frames,)``.
        X : numpy.ndarray
            float32 ``(n_frames, n_features)``.
        flags : dict of numpy.ndarray
            ``"has_gap"`` bool ``(n_frames,)`` and ``"missing.<kind>"`` bool ``(n_frames,)``
            for each stream kind.
        """
        known = {k for s in self.specs for k in (s.kind, s.key)}
        unknown = sorted(set(streams) - known)
        if unknown:
            raise ConfigError(
                f"extract() got streams {unknown} that this pipeline does not have "
                f"(configured: {[s.key for s in self.specs]})"
            )
        pipe = self._fresh(None)
        parts = []
        for spec in self.specs:
            item = streams.get(spec.kind, streams.get(spec.key))
            if item is None:
                continue
            if isinstance(item, SampleBlock):
                blocks = [item]
            elif isinstance(item, Sequence) and all(isinstance(b, SampleBlock) for b in item):
                blocks = list(item)  # type: ignore[arg-type]
            else:
                t, x = item  # type: ignore[misc]
                blocks = [SampleBlock(spec, np.asarray(t, np.int64), np.asarray(x, np.float32))]
            for block in blocks:
                if block.spec.key != spec.key:
                    raise ConfigError(
                        f"extract() got a block of {block.spec.key} among the blocks for "
                        f"{spec.key}; pass each stream's blocks under its own kind or key"
                    )
                parts.append(pipe.update_batch(block))
        parts.append(pipe.flush_batch())
        b = AlignedBatch.concat(parts, len(self.names), len(self.specs))
        flags = {"has_gap": b.has_gap}
        for i, spec in enumerate(self.specs):
            flags[f"missing.{spec.kind}"] = b.missing[:, i]
        return b.t_end_ns, b.values.astype(np.float32), flags
