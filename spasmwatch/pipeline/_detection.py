"""The detection pipeline: sample blocks -> window scores -> spasm episodes.

One object, :class:`DetectionPipeline`, runs live (``monitor``), offline
(:func:`detect_recording`, ``spasmwatch detect`` / ``evaluate``) and in tests. Stages:

1. **resample** (:class:`~spasmwatch.models._resample.StreamResampler`) each stream whose rate
   differs from the rate the model's features were computed at (``metadata.rates_hz``);
2. **features** (:class:`~spasmwatch.signal.SignalPipeline`): conditioning, 2 s windows on the
   hop grid, the feature set, alignment of EMG and ACC;
3. **normalise** (:class:`~spasmwatch.signal.Normaliser`): amplitude features as the log
   ratio to the wearer's rest baseline. The baseline is calibrated on the first
   ``calibration_s`` of usable frames (the quieter half of them, by mean log amplitude, so
   a spasm or a walk in the first minute does not inflate it), or given (a stored rest
   calibration). Frames seen during calibration are held back and scored as soon as the
   baseline is fixed, so nothing is skipped;
4. **model** (:class:`~spasmwatch.models.SpasmModel`): one ``predict`` per block of frames;
5. **detector** (:class:`~spasmwatch.episodes.EpisodeDetector`): hysteresis -> episodes.

Each stage's wall time per call is measured with ``time.perf_counter_ns``
(:attr:`DetectionPipeline.stats`).
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from spasmwatch.core import SampleBlock, StreamSpec
from spasmwatch.episodes import DetectorConfig, Episode, EpisodeDetector, EpisodeUpdate
from spasmwatch.errors import ConfigError, ModelError
from spasmwatch.models._resample import DEFAULT_MAX_BRIDGE_S, GapBridge, StreamResampler
from spasmwatch.models._runtime import SpasmModel, choose_bundled_model
from spasmwatch.signal import FEATURE_SET_VERSION, FeatureSet, Normaliser, SignalPipeline

__all__ = [
    "DEFAULT_CALIBRATION_S",
    "STAGES",
    "DetectResult",
    "DetectionPipeline",
    "FeatureFrontEnd",
    "FrontEndOutput",
    "PipelineOutput",
    "PipelineStats",
    "WindowScore",
    "calibrate_rest",
    "detect_recording",
    "detector_config_for",
    "merge_blocks",
    "recording_blocks",
    "run_blocks",
    "select_streams",
]

#: Default length of the automatic rest calibration (s of usable frames).
DEFAULT_CALIBRATION_S = 60.0
#: Pipeline stages timed by :class:`PipelineStats`.
STAGES = ("resample", "features", "model", "detector", "total")
_COL_SEP = "@"


# ----------------------------------------------------------------------------- streams


def select_streams(specs: Sequence[StreamSpec], kinds: Sequence[str]) -> dict[str, StreamSpec]:
    """Pick one stream per needed kind.

    EMG: the stream with the most channels, then the highest rate. ACC: a 3-axis stream on
    the same device as the chosen EMG stream (it sits on the same muscle); without a chosen
    EMG stream (an ACC-only model), one on a device that has EMG streams (the limb sensor,
    as in training, where a wearer's features take the ACC of the EMG device); else the
    one with the highest rate. Ties are broken by stream key.

    Raises
    ------
    ModelError
        ``reason="stream_mismatch"`` when a kind has no stream.
    """
    out: dict[str, StreamSpec] = {}
    for kind in ("emg", "acc"):
        if kind not in kinds:
            continue
        cands = [s for s in specs if s.kind == kind and (kind != "acc" or s.n_channels == 3)]
        if not cands:
            raise ModelError(
                f"no usable {kind!r} stream among {sorted(s.key for s in specs)}; the model "
                f"needs {list(kinds)}",
                reason="stream_mismatch",
            )
        if kind == "acc" and "emg" in out:
            same = [s for s in cands if s.device == out["emg"].device]
            cands = same or cands
        elif kind == "acc":
            limb = {s.device for s in specs if s.kind == "emg"}
            cands = [s for s in cands if s.device in limb] or cands
        cands.sort(key=lambda s: (-s.n_channels, -s.rate_hz, s.key))
        out[kind] = cands[0]
    return out


def merge_blocks(iters: Sequence[Iterator[SampleBlock]]) -> Iterator[SampleBlock]:
    """Interleave the blocks of several streams in order of their first sample time.

    Each iterator must yield one stream's blocks in time order. Empty (gap-only) blocks sort
    by their first gap's start.
    """

    def key(b: SampleBlock) -> int:
        if b.n_samples:
            return int(b.t_ns[0])
        return min((g.start_ns for g in b.gaps), default=0)

    heap: list[tuple[int, int, SampleBlock]] = []
    its = [iter(i) for i in iters]
    for i, it in enumerate(its):
        b = next(it, None)
        if b is not None:
            heap.append((key(b), i, b))
    heapq.heapify(heap)
    while heap:
        _, i, b = heapq.heappop(heap)
        yield b
        nb = next(its[i], None)
        if nb is not None:
            heapq.heappush(heap, (key(nb), i, nb))


# ----------------------------------------------------------------------------- stats


class _Stage:
    __slots__ = ("_buf", "count", "total_ns")

    def __init__(self, keep: int) -> None:
        self._buf: list[int] = []
        self.count = 0
        self.total_ns = 0
        self._buf = []

    def add(self, ns: int, keep: int) -> None:
        self.count += 1
        self.total_ns += ns
        self._buf.append(ns)
        if len(self._buf) > 2 * keep:
            del self._buf[: len(self._buf) - keep]


@dataclass
class PipelineStats:
    """Per-stage wall time of :meth:`DetectionPipeline.update` calls (``perf_counter_ns``).

    Percentiles are over the last ``keep`` calls of each stage; ``count`` and ``total`` over
    all calls since the last :meth:`reset`.
    """

    keep: int = 10_000
    stages: dict[str, _Stage] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget all measurements."""
        self.stages = {s: _Stage(self.keep) for s in STAGES}

    def add(self, stage: str, ns: int) -> None:
        """Record one call of ``stage`` that took ``ns`` nanoseconds."""
        self.stages[stage].add(ns, self.keep)

    def summary(self) -> dict[str, dict[str, float]]:
        """``stage -> {count, total_s, p50_ms, p99_ms, mean_ms}`` (NaN without calls)."""
        out: dict[str, dict[str, float]] = {}
        for name, st in self.stages.items():
            a = np.asarray(st._buf[-self.keep :], dtype=np.float64) / 1e6
            nan = float("nan")
            out[name] = {
                "count": st.count,
                "total_s": st.total_ns / 1e9,
                "p50_ms": float(np.percentile(a, 50)) if a.size else nan,
                "p99_ms": float(np.percentile(a, 99)) if a.size else nan,
                "mean_ms": (st.total_ns / st.count / 1e6) if st.count else nan,
            }
        return out


# ----------------------------------------------------------------------------- front end


class FrontEndOutput(NamedTuple):
    """Normalised model input for ``n`` grid times.

    Attributes
    ----------
    t_end_ns : numpy.ndarray
        int64 ``(n,)`` window end times (UTC ns).
    X : numpy.ndarray
        float32 ``(n, n_features)`` in the model's feature order; NaN rows where unusable.
    usable : numpy.ndarray
        bool ``(n,)``: every stream present, no gap.
    intensity : numpy.ndarray
        float64 ``(n,)``: activity relative to the wearer's rest (EMG RMS ratio, or for ACC
        only the dynamic-acceleration amplitude ratio); NaN where unusable.
    """

    t_end_ns: np.ndarray
    X: np.ndarray
    usable: np.ndarray
    intensity: np.ndarray

    @classmethod
    def empty(cls, n_features: int) -> FrontEndOutput:
        return cls(
            np.zeros(0, np.int64),
            np.zeros((0, n_features), np.float32),
            np.zeros(0, bool),
            np.zeros(0),
        )

    @classmethod
    def concat(cls, parts: Sequence[FrontEndOutput], n_features: int) -> FrontEndOutput:
        parts = [p for p in parts if len(p.t_end_ns)]
        if not parts:
            return cls.empty(n_features)
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in cls._fields))


def feature_set_version_of(metadata: Any) -> str:
    """The feature-set version a model was trained on (``"fs-1"`` from ``"fs-1:emg+acc"``);
    models that do not say are taken as ``fs-1``, the only set before versions were read."""
    return str(getattr(metadata, "feature_set", "") or "fs-1").partition(":")[0]


class FeatureColumn(NamedTuple):
    """One model input column: a base feature, optionally lagged or differenced.

    ``emg.RMS`` is the feature now; ``emg.RMS@-4`` the same feature 4 frames earlier;
    ``emg.RMS@d4`` its change over 4 frames (now minus 4 frames earlier, on the normalised
    log scale, so a rise by a factor ``r`` is ``log r``).
    """

    base: str
    lag: int
    delta: bool


def parse_feature_names(names: Sequence[str]) -> list[FeatureColumn]:
    """:class:`FeatureColumn` for each model input name (``"emg.RMS@-4"``, ``"emg.RMS@d4"``)."""
    out = []
    for n in names:
        base, sep, suffix = n.partition(_COL_SEP)
        if not sep:
            out.append(FeatureColumn(base, 0, False))
            continue
        kind, k = suffix[:1], suffix[1:]
        if kind not in ("-", "d") or not k.isdigit() or int(k) < 1:
            raise ModelError(
                f"feature name {n!r}: the suffix must be '@-<k>' (lag) or '@d<k>' (change "
                "over k frames) with k >= 1"
            )
        out.append(FeatureColumn(base, int(k), kind == "d"))
    return out


class FeatureFrontEnd:
    """Resample -> features -> per-wearer normalisation (stages 1-3 of the pipeline).

    Parameters
    ----------
    specs : sequence of StreamSpec
        The streams that will arrive; one per needed kind is used (:func:`select_streams`).
    rates_hz : mapping kind -> float
        Rate each kind's features are computed at (streams at other rates are resampled).
    feature_names : sequence of str
        Model input columns (:class:`FeatureColumn`): base feature names (``"emg.RMS"``)
        optionally with a lag suffix ``"@-k"`` (the same feature ``k`` frames earlier) or a
        change suffix ``"@dk"`` (now minus ``k`` frames earlier). Where the earlier frame is
        not available (a segment start) the current value stands in: the lag equals the
        feature and the change is 0.
    window_s, hop_s : float
        Analysis window and hop (s).
    calibration_s : float
        Length of the automatic rest calibration in s of usable frames.
    normaliser : Normaliser, optional
        A frozen rest calibration to use instead of the automatic one.
    mains_hz : float or sequence of float
        Powerline frequency for the EMG notch: 50, 60 or both ``(50, 60)`` Hz.
    max_bridge_s : float
        Losses up to this long are concealed (:class:`~spasmwatch.models._resample.GapBridge`).
    stale_timeout_s : float or None
        A stream lagging the newest by this much (s) no longer holds frames back (live);
        ``None`` waits for every stream (offline, where all data will come).
    feature_set_version : str
        Feature set the model was trained on (its metadata's ``feature_set``, e.g. ``"fs-1"``).
    """

    def __init__(
        self,
        specs: Sequence[StreamSpec],
        rates_hz: Mapping[str, float],
        feature_names: Sequence[str],
        *,
        window_s: float,
        hop_s: float,
        calibration_s: float = DEFAULT_CALIBRATION_S,
        normaliser: Normaliser | None = None,
        mains_hz: float | Sequence[float] = 50.0,
        max_bridge_s: float = DEFAULT_MAX_BRIDGE_S,
        stale_timeout_s: float | None = 5.0,
        feature_set_version: str = FEATURE_SET_VERSION,
    ) -> None:
        kinds = tuple(k for k in ("emg", "acc") if k in rates_hz)
        self.inputs = select_streams(specs, kinds)
        self.bridges = {s.key: GapBridge(s, max_bridge_s) for s in self.inputs.values()}
        self.resamplers = {
            s.key: StreamResampler(s, float(rates_hz[k])) for k, s in self.inputs.items()
        }
        out_specs = [r.out_spec for r in self.resamplers.values()]
        self.signal = SignalPipeline(
            out_specs,
            window_s=window_s,
            hop_s=hop_s,
            mains_hz=mains_hz,
            stale_timeout_s=stale_timeout_s,
            feature_set_version=feature_set_version,
        )
        self.feature_set: FeatureSet = self.signal.feature_set
        base_names = self.feature_set.names
        self._cols = parse_feature_names(feature_names)
        idx = {n: i for i, n in enumerate(base_names)}
        missing = [c.base for c in self._cols if c.base not in idx]
        if missing:
            raise ModelError(
                f"the model asks for features {missing} that feature set "
                f"{self.feature_set.name} does not compute",
                reason="stream_mismatch",
            )
        self._col_idx = np.array([idx[c.base] for c in self._cols], dtype=np.int64)
        self._col_lag = np.array([c.lag for c in self._cols], dtype=np.int64)
        self._col_delta = np.array([c.delta for c in self._cols], dtype=bool)
        self.max_lag = int(self._col_lag.max(initial=0))
        # output columns grouped by lag: one gather per lag, not one per column
        self._lag_groups = [
            (int(lag), np.flatnonzero(self._col_lag == lag), self._col_idx[self._col_lag == lag])
            for lag in np.unique(self._col_lag)
        ]
        self.n_features = len(self._cols)
        self.hop_ns = round(hop_s * 1e9)
        self.calibration_frames = max(1, math.ceil(calibration_s / hop_s - 1e-9))
        if normaliser is not None and (
            not normaliser.is_frozen or normaliser.feature_set != self.feature_set
        ):
            raise ConfigError(
                "the given rest calibration must be a frozen Normaliser for "
                f"{self.feature_set.name}"
            )
        self._given = normaliser
        amp = self.feature_set.amplitude_mask
        names = list(base_names)
        if "emg" in kinds:
            self._inten_col, self._inten_pow = names.index("emg.RMS"), 1.0
        else:
            self._inten_col, self._inten_pow = names.index("acc.MAGVAR"), 0.5
        self._amp = amp
        #: Delay of the slowest resampler (s): add to data-time alarm latencies.
        self.delay_s = max((r.delay_s for r in self.resamplers.values()), default=0.0)
        self.reset()

    def reset(self) -> None:
        """Forget everything, including an automatic calibration (a given one is kept)."""
        for r in self.resamplers.values():
            r.reset()
        for b in self.bridges.values():
            b.reset()
        self.signal.reset()
        self.normaliser = self._given
        self._cal_t: list[np.ndarray] = []
        self._cal_v: list[np.ndarray] = []
        self._cal_ok: list[np.ndarray] = []
        self._n_cal_ok = 0
        self._hist_t = np.zeros(0, np.int64)
        self._hist_v = np.zeros((0, len(self.feature_set.names)))

    @property
    def calibrated(self) -> bool:
        """True once the rest baseline is fixed."""
        return self.normaliser is not None

    def resample(self, block: SampleBlock) -> SampleBlock | None:
        """Stage 1 for one block (``None`` for a stream this front end does not use)."""
        r = self.resamplers.get(block.spec.key)
        if r is None:
            return None
        return r.update(self.bridges[block.spec.key].update(block))

    def raw(self, block: SampleBlock | None, *, final: bool = False):
        """Stage 2 only: ``(t_end_ns, raw values (n, n_base), usable (n,))``."""
        if final:
            batch = self.signal.flush_batch()
        elif block is None or block.n_samples == 0:
            k = len(self.feature_set.names)
            return np.zeros(0, np.int64), np.zeros((0, k)), np.zeros(0, bool)
        else:
            batch = self.signal.update_batch(block)
        v = batch.values
        ok = ~batch.has_gap & ~batch.missing.any(axis=1) & np.isfinite(v).all(axis=1)
        return batch.t_end_ns, v, ok

    def features(self, block: SampleBlock | None, *, final: bool = False) -> FrontEndOutput:
        """Stages 2-3 for one resampled block (or ``final=True`` for end of input)."""
        if not final and (block is None or block.n_samples == 0):
            return FrontEndOutput.empty(self.n_features)
        t, v, ok = self.raw(block, final=final)
        if self.normaliser is None:
            if len(t):
                self._cal_t.append(t)
                self._cal_v.append(v)
                self._cal_ok.append(ok)
                self._n_cal_ok += int(ok.sum())
            if self._n_cal_ok >= self.calibration_frames or (final and self._n_cal_ok > 0):
                self._calibrate()
                t = np.concatenate(self._cal_t)
                v = np.concatenate(self._cal_v)
                ok = np.concatenate(self._cal_ok)
                self._cal_t, self._cal_v, self._cal_ok = [], [], []
            else:
                if final and self._cal_t:  # no usable frame at all: emit them unscored
                    t = np.concatenate(self._cal_t)
                    n = len(t)
                    self._cal_t, self._cal_v, self._cal_ok = [], [], []
                    return FrontEndOutput(
                        t,
                        np.full((n, self.n_features), np.nan, np.float32),
                        np.zeros(n, bool),
                        np.full(n, np.nan),
                    )
                return FrontEndOutput.empty(self.n_features)
        return self._transform(t, v, ok)

    def _calibrate(self) -> None:
        v = np.concatenate(self._cal_v)
        ok = np.concatenate(self._cal_ok)
        rows = v[ok][: self.calibration_frames]
        self.normaliser = calibrate_rest(self.feature_set, rows)

    def _transform(self, t: np.ndarray, v: np.ndarray, ok: np.ndarray) -> FrontEndOutput:
        n = len(t)
        if n == 0:
            return FrontEndOutput.empty(self.n_features)
        assert self.normaliser is not None
        vv = np.where(ok[:, None], v, np.nan)
        z = self.normaliser.transform(vv.astype(np.float64))
        inten = np.exp(self._inten_pow * z[:, self._inten_col])
        if self.max_lag == 0:
            X = z[:, self._col_idx]
        else:
            # history of the last max_lag frames (on the grid) for lagged columns
            ht = np.concatenate([self._hist_t, t])
            hv = np.concatenate([self._hist_v, z])
            h = len(self._hist_t)
            X = np.empty((n, self.n_features))
            for lag, out_cols, src_cols in self._lag_groups:
                if lag == 0:
                    X[:, out_cols] = z[:, src_cols]
                    continue
                src = np.arange(h, h + n) - lag
                valid = src >= 0
                srcc = np.where(valid, src, 0)
                valid &= ht[srcc] == ht[h : h + n] - lag * self.hop_ns
                X[:, out_cols] = np.where(valid[:, None], hv[srcc][:, src_cols], np.nan)
            self._hist_t = ht[-self.max_lag :]
            self._hist_v = hv[-self.max_lag :]
        X = np.where(ok[:, None], X, np.nan)
        # lagged values may be NaN at segment starts: fill with the current value (a
        # model never sees NaN; "no change" is the neutral assumption)
        if self.max_lag:
            cur = z[:, self._col_idx]
            X = np.where(np.isnan(X) & ok[:, None], cur, X)
            if self._col_delta.any():
                X[:, self._col_delta] = cur[:, self._col_delta] - X[:, self._col_delta]
        return FrontEndOutput(t, X.astype(np.float32), ok, np.where(ok, inten, np.nan))

    def update(self, block: SampleBlock) -> FrontEndOutput:
        """Stages 1-3 for one block of any stream."""
        return self.features(self.resample(block))

    def flush(self) -> FrontEndOutput:
        """End of input: the last frames (and a calibration on what there was)."""
        return self.features(None, final=True)


def calibrate_rest(feature_set: FeatureSet, rows: np.ndarray) -> Normaliser:
    """The rest calibration rule: median of the quieter half of the calibration frames.

    Parameters
    ----------
    feature_set : FeatureSet
    rows : numpy.ndarray
        ``(k, n_features)`` raw feature vectors of usable calibration frames (``k >= 1``).

    Notes
    -----
    Frames are ranked by the mean log of their amplitude features; the quieter half (at
    least one frame) is given to :class:`~spasmwatch.signal.Normaliser`, which keeps the
    median. A spasm, a walk or a gesture during calibration therefore hardly moves the
    baseline unless it fills more than half of the calibration time.
    """
    rows = np.asarray(rows, dtype=np.float64)
    amp = feature_set.amplitude_mask
    score = np.log(np.maximum(rows[:, amp], 1e-30)).mean(axis=1)
    k = max(1, rows.shape[0] // 2)
    order = np.argsort(score, kind="stable")[:k]
    return Normaliser(feature_set).fit(rows[np.sort(order)])


# ----------------------------------------------------------------------------- pipeline


class WindowScore(NamedTuple):
    """One window's output (a tuple: ``(t_end_ns, p_spasm, p_types, intensity, has_gap)``)."""

    t_end_ns: int
    p_spasm: float
    p_types: np.ndarray
    intensity: float
    has_gap: bool


@dataclass(frozen=True, slots=True)
class PipelineOutput:
    """What one :meth:`DetectionPipeline.update` produced."""

    window_scores: list[WindowScore]
    updates: list[EpisodeUpdate]


def early_confirm_kw(th: Mapping[str, float]) -> dict[str, Any]:
    """The corroborated-onset settings of a thresholds map (:class:`DetectorConfig`
    keywords): ``{}`` when ``early_confirm_windows`` is 0 or absent, else the windows, the
    intensity and the type gates of the ``early_confirm_type_p.<type>`` keys."""
    if th.get("early_confirm_windows", 0) < 1:
        return {}
    pre = "early_confirm_type_p."
    return {
        "early_confirm_windows": int(th["early_confirm_windows"]),
        "early_confirm_intensity": float(th["early_confirm_intensity"]),
        "early_confirm_type_p": {
            k[len(pre) :]: float(v) for k, v in th.items() if k.startswith(pre)
        },
    }


def detector_config_for(
    metadata: Any, *, emg_channels: int | None = None, **overrides: Any
) -> DetectorConfig:
    """:class:`DetectorConfig` from a model's metadata, including the optional extra
    threshold keys ``confirm_windows``, ``min_duration_s``, ``merge_gap_s``,
    ``refractory_s`` and ``early_confirm_windows`` / ``early_confirm_intensity`` /
    ``early_confirm_type_p.<type>`` (corroborated onsets; ``early_confirm_windows`` 0 or
    absent: off; one ``early_confirm_type_p.<type>`` key per type an early-confirming
    window may look like, its value the minimum probability).

    ``emg_channels`` picks the operating point the model has for EMG streams of that many
    channels (threshold keys ``...@emg<N>``, :meth:`ModelMetadata.thresholds_for`); without
    one, or for ``None``, the pooled one."""
    th = metadata.thresholds_for(emg_channels)
    extra: dict[str, Any] = {
        "onset_threshold": float(th["onset"]),
        "offset_threshold": float(th["offset"]),
    }
    for k in ("min_duration_s", "merge_gap_s", "refractory_s"):
        if k in th:
            extra[k] = float(th[k])
    if "confirm_windows" in th:
        extra["confirm_windows"] = int(th["confirm_windows"])
    extra.update(early_confirm_kw(th))
    extra.update(overrides)
    return DetectorConfig.from_metadata(metadata, **extra)


class DetectionPipeline:
    """Streaming spasm detection: blocks in, window scores and episode updates out.

    Parameters
    ----------
    specs : list of StreamSpec
        Streams that will arrive (extra streams are ignored).
    model : SpasmModel
        The classifier; it must fit the streams (:meth:`SpasmModel.check_streams`).
    detector_config : DetectorConfig, optional
        Default: from the model's metadata (window, hop, thresholds).
    calibration_s : float, optional
        Automatic rest calibration length (default: the model's ``calibration_s``
        threshold entry, else 60 s).
    rest : Normaliser, optional
        A frozen rest calibration of this wearer (skips the automatic one).
    wearer_id, recording_id, placement : str or None
        Written into the episodes.
    mains_hz : float or sequence of float, optional
        Powerline frequencies for the EMG notch (50, 60 or both). Default: the notch the
        model was trained with (its metadata's ``emg_notch_hz``); another notch changes
        the features the model sees.
    stale_timeout_s : float or None
        See :class:`FeatureFrontEnd` (``None`` offline).

    Notes
    -----
    ``update(block)`` returns a :class:`PipelineOutput`; ``flush()`` ends the input;
    ``reset()`` forgets all state (and an automatic calibration).
    """

    def __init__(
        self,
        specs: list[StreamSpec],
        model: SpasmModel,
        *,
        detector_config: DetectorConfig | None = None,
        calibration_s: float | None = None,
        rest: Normaliser | None = None,
        wearer_id: str = "default",
        recording_id: str | None = None,
        placement: str | None = None,
        mains_hz: float | Sequence[float] | None = None,
        stale_timeout_s: float | None = 5.0,
    ) -> None:
        model.check_streams(specs)
        self.model = model
        md = model.metadata
        if calibration_s is None:
            calibration_s = float(md.thresholds.get("calibration_s", DEFAULT_CALIBRATION_S))
        self.front = FeatureFrontEnd(
            specs,
            md.rates_hz,
            md.feature_names,
            window_s=md.window_s,
            hop_s=md.hop_s,
            calibration_s=calibration_s,
            normaliser=rest,
            mains_hz=md.emg_notch_hz if mains_hz is None else mains_hz,
            stale_timeout_s=stale_timeout_s,
            feature_set_version=feature_set_version_of(md),
        )
        emg = self.front.inputs.get("emg")
        self.detector_config = detector_config or detector_config_for(
            md, emg_channels=None if emg is None else len(emg.channels)
        )
        device = next(iter(self.front.inputs.values())).device
        self.detector = EpisodeDetector(
            self.detector_config,
            wearer_id=wearer_id,
            model_id=md.model_id,
            device=device,
            placement=placement,
            recording_id=recording_id,
        )
        self.stats = PipelineStats()
        self._n_types = len(md.type_names)

    @property
    def delay_s(self) -> float:
        """Resampling delay (s) between a window's end time and when its data is complete."""
        return self.front.delay_s

    @property
    def streams(self) -> dict[str, StreamSpec]:
        """The stream used for each kind."""
        return dict(self.front.inputs)

    def reset(self) -> None:
        """Forget all state (filters, calibration, open episodes, statistics)."""
        self.front.reset()
        self.detector.reset()
        self.stats.reset()

    def _score(self, fo: FrontEndOutput, t_start: int, t_res: int) -> PipelineOutput:
        t1 = time.perf_counter_ns()
        n = len(fo.t_end_ns)
        p = np.full(n, np.nan)
        pt = np.zeros((n, self._n_types))
        if n and fo.usable.any():
            probs = self.model.predict(fo.X[fo.usable])
            p[fo.usable] = probs.p_spasm
            pt[fo.usable] = probs.p_types
        t2 = time.perf_counter_ns()
        gap = ~fo.usable
        ups = self.detector.update(fo.t_end_ns, p, pt, fo.intensity, gap) if n else []
        t3 = time.perf_counter_ns()
        st = self.stats
        st.add("resample", t_res - t_start)
        st.add("features", t1 - t_res)
        st.add("model", t2 - t1)
        st.add("detector", t3 - t2)
        st.add("total", t3 - t_start)
        scores = [
            WindowScore(
                int(fo.t_end_ns[i]), float(p[i]), pt[i], float(fo.intensity[i]), bool(gap[i])
            )
            for i in range(n)
        ]
        return PipelineOutput(scores, ups)

    def update(self, block: SampleBlock) -> PipelineOutput:
        """Process the next block of any stream."""
        t0 = time.perf_counter_ns()
        rb = self.front.resample(block)
        t_res = time.perf_counter_ns()
        fo = self.front.features(rb) if rb is not None else FrontEndOutput.empty(1)
        return self._score(fo, t0, t_res)

    def flush(self) -> PipelineOutput:
        """End of input: score the last windows and close an open episode."""
        t0 = time.perf_counter_ns()
        fo = self.front.flush()
        out = self._score(fo, t0, t0)
        return PipelineOutput(out.window_scores, out.updates + self.detector.flush())


# ----------------------------------------------------------------------------- offline


@dataclass
class DetectResult:
    """Everything an offline run produced.

    Attributes
    ----------
    episodes : list of Episode
        Final episodes in time order.
    updates : list of EpisodeUpdate
        Every detector decision (onsets with their ``alarm_ns``, retractions, finals).
    t_end_ns, p_spasm, p_types, intensity, has_gap : numpy.ndarray
        Window scores: ``(n,)``, ``(n,)``, ``(n, n_types)``, ``(n,)``, ``(n,)``.
    type_names : tuple of str
    stats : dict
        :meth:`PipelineStats.summary` plus ``wall_s``, ``signal_s`` and ``x_real_time``.
    start_ns, end_ns : int
        Recording start and end (UTC ns).
    model_id, model_path : str
    delay_s : float
        Resampling delay (see :attr:`DetectionPipeline.delay_s`).
    streams : dict
        Kind -> stream key used.
    """

    episodes: list[Episode]
    updates: list[EpisodeUpdate]
    t_end_ns: np.ndarray
    p_spasm: np.ndarray
    p_types: np.ndarray
    intensity: np.ndarray
    has_gap: np.ndarray
    type_names: tuple[str, ...]
    stats: dict[str, Any]
    start_ns: int
    end_ns: int
    model_id: str
    model_path: str
    delay_s: float
    streams: dict[str, str]

    @property
    def window_scores(self) -> list[WindowScore]:
        """The window scores as :class:`WindowScore` tuples."""
        return [
            WindowScore(int(t), float(p), pt, float(i), bool(g))
            for t, p, pt, i, g in zip(
                self.t_end_ns, self.p_spasm, self.p_types, self.intensity, self.has_gap
            )
        ]


def run_blocks(
    pipeline: DetectionPipeline,
    blocks: Iterator[SampleBlock],
    *,
    total_samples: int | None = None,
    progress: bool = False,
) -> tuple[list[EpisodeUpdate], list[WindowScore]]:
    """Feed ``blocks`` through ``pipeline`` then flush; all updates and window scores."""
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total_samples, unit="samples", unit_scale=True, desc="detect")
    updates: list[EpisodeUpdate] = []
    scores: list[WindowScore] = []
    try:
        for b in blocks:
            out = pipeline.update(b)
            updates += out.updates
            scores += out.window_scores
            if bar is not None:
                bar.update(b.n_samples)
        out = pipeline.flush()
        updates += out.updates
        scores += out.window_scores
    finally:
        if bar is not None:
            bar.close()
    return updates, scores


def recording_blocks(
    rec: Any, key: str, block_s: float = 10.0, chunk_s: float = 600.0
) -> Iterator[SampleBlock]:
    """Replay stream ``key`` of a recording as blocks of about ``block_s`` seconds.

    The same blocks as ``Recording.iter_blocks`` (split at gaps, the gap attached to the
    block after it, ``first_index`` counting missing samples), but with the sample indices
    computed once per read chunk with ``searchsorted``, so that a recording with thousands
    of BLE losses replays in linear time. Reads ``chunk_s`` seconds at a time.
    """
    spec = rec.specs[key]
    info = rec.manifest["streams"][key]
    idx0 = int(info.get("first_index", 0))
    gaps = sorted(rec.gaps(key), key=lambda g: g.end_ns)
    g_end = np.array([g.end_ns for g in gaps], dtype=np.int64)
    g_cum = np.cumsum([0] + [g.n_missing for g in gaps]).astype(np.int64)
    n_block = max(1, round(block_s * spec.rate_hz))
    chunk_ns = round(chunk_s * 1e9)
    row = 0
    prev_t: int | None = None
    a = rec.start_ns
    while a < rec.end_ns:
        b = min(rec.end_ns, a + chunk_ns)
        if b >= rec.end_ns:
            b = rec.end_ns + 1
        t, x = rec.read(key, a, b)
        a = b
        if len(t) == 0:
            continue
        k = np.searchsorted(g_end, t, side="right")  # gaps ended at or before each sample
        idx = idx0 + row + np.arange(len(t)) + g_cum[k]
        row += len(t)
        # cut where a gap ends between consecutive samples (and where the index jumps)
        prev_k = np.concatenate(
            [[np.searchsorted(g_end, prev_t, side="right")] if prev_t is not None else [0], k[:-1]]
        )
        cuts = np.nonzero(k != prev_k)[0]
        starts = sorted({0, *cuts.tolist()})
        ends = [*starts[1:], len(t)]
        for s0, e0 in zip(starts, ends):
            for p in range(s0, e0, n_block):
                q = min(e0, p + n_block)
                gs: tuple = ()
                if p == s0 and k[p] != prev_k[p]:
                    gs = tuple(gaps[int(prev_k[p]) : int(k[p])])
                yield SampleBlock(spec, t[p:q], x[p:q], int(idx[p]), gs)
        prev_t = int(t[-1])


def detect_recording(
    path: str | Path,
    model: SpasmModel | str | Path | None = None,
    *,
    progress: bool = True,
    block_s: float = 10.0,
    calibration_s: float | None = None,
    rest: Normaliser | None = None,
    wearer_id: str = "default",
    placement: str | None = None,
    detector_config: DetectorConfig | None = None,
) -> DetectResult:
    """Run the detection pipeline over a recording folder, far faster than real time.

    Parameters
    ----------
    path : str or Path
        Recording folder (:func:`spasmwatch.store.open_recording`).
    model : SpasmModel, path or None
        The model; ``None`` picks the bundled model that fits the recording's streams.
    progress : bool
        Show a tqdm progress bar (on stderr) for recordings longer than 10 min.
    block_s : float
        Seconds of signal per block read (does not change the result).
    calibration_s, rest, wearer_id, placement, detector_config
        As in :class:`DetectionPipeline`.
    """
    from spasmwatch.store import open_recording

    t_wall = time.perf_counter()
    rec = open_recording(path)
    specs = list(rec.specs.values())
    if model is None:
        model = SpasmModel(choose_bundled_model({s.kind for s in specs}))
    elif not isinstance(model, SpasmModel):
        model = SpasmModel(model)
    pipe = DetectionPipeline(
        specs,
        model,
        calibration_s=calibration_s,
        rest=rest,
        wearer_id=wearer_id,
        recording_id=rec.id or None,
        placement=placement,
        detector_config=detector_config,
        stale_timeout_s=None,
    )
    used = pipe.streams
    iters = [recording_blocks(rec, s.key, block_s) for s in used.values()]
    total = sum(rec.n_samples(s.key) for s in used.values())
    show = progress and rec.duration_s() > 600
    updates, scores = run_blocks(pipe, merge_blocks(iters), total_samples=total, progress=show)
    wall = time.perf_counter() - t_wall
    n_types = len(model.metadata.type_names)
    n = len(scores)
    stats: dict[str, Any] = dict(pipe.stats.summary())
    dur = rec.duration_s()
    stats.update({"wall_s": wall, "signal_s": dur, "x_real_time": dur / wall if wall > 0 else 0})
    return DetectResult(
        episodes=[u.episode for u in updates if u.kind == "final"],
        updates=updates,
        t_end_ns=np.array([s.t_end_ns for s in scores], dtype=np.int64),
        p_spasm=np.array([s.p_spasm for s in scores], dtype=np.float64),
        p_types=np.array([s.p_types for s in scores]).reshape(n, n_types),
        intensity=np.array([s.intensity for s in scores], dtype=np.float64),
        has_gap=np.array([s.has_gap for s in scores], dtype=bool),
        type_names=model.metadata.type_names,
        stats=stats,
        start_ns=rec.start_ns,
        end_ns=rec.end_ns,
        model_id=model.metadata.model_id,
        model_path=str(model.path),
        delay_s=pipe.delay_s,
        streams={k: s.key for k, s in used.items()},
    )
