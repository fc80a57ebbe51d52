"""Two simple, honest baseline detectors that need no trained model.

* :class:`EmgDoubleThreshold` — the Bonato et al. (1998) double-threshold detector on
  surface EMG: band-pass, whiten with an AR model of the rest noise, square and normalise by
  the rest noise variance (``z ~ chi2(1)`` under noise); a sample is *on* when at least
  ``r`` of the last ``m`` samples exceed ``zeta``. ``zeta`` follows from the false-alarm
  probability ``p_fa`` that noise alone switches a sample on.
* :class:`AccBandRatio` — accelerometer 3-8 Hz band-power ratio: on sliding windows of the
  dynamic acceleration magnitude, the window is *on* when power in 3-8 Hz over total power
  is above ``ratio_threshold`` AND the band power is above ``power_factor`` x its rest
  level. 3-8 Hz is the clonus band (Wallace 2005/2012: 4.7-7.0 Hz per subject, 5.4 +/- 0.9
  Hz soleus, 3.8-5.8 Hz under load; ``reference/literature.md`` section 1.2).

Both calibrate their noise/rest statistics on a rest segment: either one you give
(:meth:`calibrate`) or, by default, the first ``calibration_s`` seconds of the stream —
never on spasm labels. The on/off decisions (one per frame / window) go through the same
:class:`~spasmwatch.episodes.EpisodeDetector` as the model's probabilities (``p`` = 1 for
on, 0 for off), so onsets, alarms, merging, minimum duration and gaps follow the same
rules. Parameter values are ours unless a source is named: the literature gives the
*method* (Bonato: ``p_fa``, ``m``, ``r``) but no spasm-specific values.

Both are streaming (``update(t_ns, data)``, ``flush()``, ``reset()``) and have a batch
form (:meth:`detect`) that runs the same code over whole arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
from scipy import linalg, optimize, signal, stats

from spasmwatch.episodes._detector import DetectorConfig, EpisodeDetector, EpisodeUpdate
from spasmwatch.errors import ConfigError, SignalError

__all__ = [
    "AccBandRatio",
    "AccBandRatioConfig",
    "EmgDoubleThreshold",
    "EmgDoubleThresholdConfig",
    "bonato_zeta",
]


def _pos(cls: str, name: str, v: object, *, zero_ok: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ConfigError(f"{cls}.{name} must be a number (got {v!r})")
    f = float(v)
    if not math.isfinite(f) or f < 0 or (f == 0 and not zero_ok):
        raise ConfigError(f"{cls}.{name} must be {'>= 0' if zero_ok else '> 0'} (got {v!r})")
    return f


def bonato_zeta(m: int, r: int, p_fa: float) -> tuple[float, float]:
    """Per-sample threshold of the double-threshold detector.

    Finds the per-sample exceedance probability ``p`` such that, under Gaussian noise,
    ``P(at least r of m samples exceed) = p_fa`` (binomial tail), and the threshold ``zeta``
    on ``z = e**2 / sigma**2`` (chi-square, 1 degree of freedom) with ``P(z > zeta) = p``.

    Returns
    -------
    (zeta, p) : (float, float)
    """
    if not 1 <= r <= m:
        raise ConfigError(f"double threshold needs 1 <= r <= m (got r={r}, m={m})")
    if not 0 < p_fa < 1:
        raise ConfigError(f"p_fa must be in (0, 1) (got {p_fa})")

    def f(logp: float) -> float:
        return float(stats.binom.sf(r - 1, m, math.exp(logp))) - p_fa

    logp = optimize.brentq(f, math.log(1e-300), math.log(1 - 1e-12), xtol=1e-12)
    p = math.exp(logp)
    return float(stats.chi2.isf(p, 1)), p


def _check_block(t_ns: Any, data: Any, n_channels: int | None) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(t_ns)
    if t.ndim != 1 or t.dtype.kind not in "iu":
        raise SignalError(f"t_ns must be int ns of shape (n_samples,) (got {t.dtype}{t.shape})")
    x = np.asarray(data, dtype=np.float64)
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    if x.ndim != 2 or x.shape[0] != t.shape[0]:
        raise SignalError(
            f"data must have shape (n_samples={t.shape[0]}, n_channels) (got {np.shape(data)})"
        )
    if n_channels is not None and x.shape[1] != n_channels:
        raise SignalError(f"data must have {n_channels} channel(s) (got {x.shape[1]})")
    return t.astype(np.int64), x


class _Base:
    """Calibration buffering, gap splitting and the episode detector, shared by both."""

    _name = "baseline"

    def __init__(self, rate_hz: float, context: dict[str, Any]) -> None:
        self.rate_hz = _pos(type(self).__name__, "rate_hz", rate_hz)
        self._period_ns = 1e9 / self.rate_hz
        context.setdefault("model_id", self._name)
        self._context = context
        self._calibrated = False
        self._det = EpisodeDetector(self._detector_config(), **context)
        self.reset()

    # subclasses implement
    def _detector_config(self) -> DetectorConfig:  # pragma: no cover
        raise NotImplementedError

    def _calibrate_filtered(self, x: np.ndarray) -> None:  # pragma: no cover
        raise NotImplementedError

    def _start_segment(self, x0: np.ndarray) -> None:  # pragma: no cover
        raise NotImplementedError

    def _process(self, t: np.ndarray, x: np.ndarray) -> list[EpisodeUpdate]:  # pragma: no cover
        raise NotImplementedError

    @property
    def calibrated(self) -> bool:
        """True once rest statistics are known."""
        return self._calibrated

    def reset(self) -> None:
        """Forget the stream (filters, windows, open episode). Calibration is kept."""
        self._det.reset()
        self._last_t: int | None = None
        self._in_segment = False
        self._cal_t: list[np.ndarray] = []
        self._cal_x: list[np.ndarray] = []
        self._n_channels: int | None = None

    def update(self, t_ns: Any, data: Any) -> list[EpisodeUpdate]:
        """Feed the next samples.

        Parameters
        ----------
        t_ns : array_like of int
            Sample times, UTC ns, shape ``(n_samples,)``, strictly increasing across calls.
            A step above 1.5 sample periods is a gap: the open episode closes and filters
            restart at the next sample.
        data : array_like
            Samples ``(n_samples, n_channels)`` (or ``(n_samples,)``).

        Returns
        -------
        list of EpisodeUpdate
        """
        t, x = _check_block(t_ns, data, self._n_channels)
        if t.shape[0] == 0:
            return []
        self._n_channels = x.shape[1]
        if (self._last_t is not None and t[0] <= self._last_t) or np.any(np.diff(t) <= 0):
            raise SignalError("t_ns must increase strictly (also across calls); call reset()")
        if not self._calibrated:
            self._cal_t.append(t)
            self._cal_x.append(x)
            self._last_t = int(t[-1])
            tt = np.concatenate(self._cal_t)
            if (tt[-1] - tt[0]) < self._cal_ns():
                return []
            xx = np.concatenate(self._cal_x)
            self._cal_t, self._cal_x = [], []
            self._last_t = None
            # exactly the first calibration_s seconds, whatever the chunking
            self.calibrate(xx[tt - tt[0] <= self._cal_ns()])
            t, x = tt, xx
        out: list[EpisodeUpdate] = []
        jumps = np.flatnonzero(np.diff(t) > 1.5 * self._period_ns) + 1
        bounds = [0, *jumps.tolist(), t.shape[0]]
        for i, (a, b) in enumerate(pairwise(bounds)):
            new_seg = not self._in_segment or i > 0
            if a == 0 and self._last_t is not None and t[0] - self._last_t > 1.5 * self._period_ns:
                new_seg = True
            if new_seg:
                self._start_segment(x[a])
                self._in_segment = True
            out += self._process(t[a:b], x[a:b])
        self._last_t = int(t[-1])
        return out

    def flush(self) -> list[EpisodeUpdate]:
        """End of stream: close the open episode."""
        return self._det.flush()

    def _cal_ns(self) -> float:
        return self.config.calibration_s * 1e9  # type: ignore[attr-defined]

    def calibrate(self, rest: Any) -> None:
        """Set the rest statistics from a rest segment ``(n_samples, n_channels)``.

        The segment must be rest (no spasm): it sets the noise level every decision is
        measured against.
        """
        x = np.asarray(rest, dtype=np.float64)
        if x.ndim == 1:
            x = x.reshape(-1, 1)
        if x.ndim != 2 or x.shape[0] < self._min_cal_samples():
            raise SignalError(
                f"{type(self).__name__}.calibrate needs a rest segment of at least "
                f"{self._min_cal_samples()} samples (got shape {x.shape})"
            )
        self._calibrate_filtered(x)
        self._n_channels = x.shape[1]
        self._calibrated = True

    def _min_cal_samples(self) -> int:
        return 16

    def detect(self, t_ns: Any, data: Any) -> list[EpisodeUpdate]:
        """Batch form: :meth:`update` over whole arrays, then :meth:`flush` (same code)."""
        self.reset()
        return self.update(t_ns, data) + self.flush()


# ============================================================================== EMG


@dataclass(frozen=True, slots=True)
class EmgDoubleThresholdConfig:
    """Settings of :class:`EmgDoubleThreshold`.

    Parameters
    ----------
    band_hz : (float, float) or None
        Causal Butterworth band-pass (4th order) applied first; the upper edge is clipped
        to 0.45 x the sample rate. ``None`` if the input is already band-passed. Default
        20-450 Hz (common sEMG practice, De Luca; ``literature.md`` section 3).
    whiten_order : int
        Order of the AR model of the rest noise used to whiten (0: no whitening).
    m_s : float
        Length of the double-threshold window ``m`` in s (rounded to samples).
    r_fraction : float
        ``r = ceil(r_fraction * m)`` samples of the window must exceed ``zeta``.
    p_fa : float
        Probability that rest noise alone turns a sample on (sets ``zeta``).
    frame_s : float
        Hop of the activity measure, s: sample decisions are pooled into frames.
    activity_window_s : float
        The activity of a frame is the fraction of on-samples over the last
        ``activity_window_s`` (a causal moving average). It plays the part of the
        probability in the episode detector.
    onset_fraction, offset_fraction : float
        Hysteresis thresholds on the activity. Clonic bursts at about 5 Hz with pauses
        give an activity near their duty cycle (about 0.5), tonic contraction near 1, rest
        noise near ``p_fa``.
    min_duration_s : float
        Shorter episodes are retracted.
    merge_gap_s : float
        Off-time that still belongs to one episode (bridges the pauses between clonic
        bursts, about 0.1-0.2 s at 5 Hz).
    calibration_s : float
        Length of the automatic rest calibration at stream start (when :meth:`calibrate`
        was not called).
    severity_cutoffs : (float, float)
        Frame RMS as a multiple of rest RMS from which an episode is moderate / severe.
    """

    band_hz: tuple[float, float] | None = (20.0, 450.0)
    whiten_order: int = 4
    m_s: float = 0.05
    r_fraction: float = 0.5
    p_fa: float = 1e-3
    frame_s: float = 0.05
    activity_window_s: float = 0.5
    onset_fraction: float = 0.4
    offset_fraction: float = 0.2
    min_duration_s: float = 1.0
    merge_gap_s: float = 0.5
    calibration_s: float = 10.0
    severity_cutoffs: tuple[float, float] = (2.0, 4.0)

    def __post_init__(self) -> None:
        n = "EmgDoubleThresholdConfig"
        if self.band_hz is not None:
            lo, hi = (_pos(n, "band_hz", v) for v in self.band_hz)
            if hi <= lo:
                raise ConfigError(f"{n}.band_hz must be (low, high) with low < high")
            object.__setattr__(self, "band_hz", (lo, hi))
        if isinstance(self.whiten_order, bool) or not isinstance(self.whiten_order, int):
            raise ConfigError(f"{n}.whiten_order must be an int >= 0 (got {self.whiten_order!r})")
        if self.whiten_order < 0:
            raise ConfigError(f"{n}.whiten_order must be >= 0 (got {self.whiten_order})")
        for k in ("m_s", "frame_s", "activity_window_s", "calibration_s"):
            object.__setattr__(self, k, _pos(n, k, getattr(self, k)))
        for k in ("min_duration_s", "merge_gap_s"):
            object.__setattr__(self, k, _pos(n, k, getattr(self, k), zero_ok=True))
        for k in ("r_fraction", "onset_fraction", "offset_fraction", "p_fa"):
            v = _pos(n, k, getattr(self, k))
            if v > 1 or (k == "p_fa" and v >= 1):
                raise ConfigError(f"{n}.{k} must be in (0, 1] (got {v})")
            object.__setattr__(self, k, v)
        if self.offset_fraction > self.onset_fraction:
            raise ConfigError(f"{n}.offset_fraction must be <= onset_fraction")
        if self.activity_window_s < self.frame_s:
            raise ConfigError(f"{n}.activity_window_s must be >= frame_s")


class EmgDoubleThreshold(_Base):
    """Bonato-style double-threshold EMG spasm detector (see module notes).

    Parameters
    ----------
    rate_hz : float
        EMG sample rate in Hz.
    config : EmgDoubleThresholdConfig, optional
    **context
        Passed to :class:`EpisodeDetector` (``wearer_id``, ``device``...); ``model_id``
        defaults to ``"baseline-emg-double-threshold"``.

    Notes
    -----
    Multi-channel input: the decision is made per channel and a sample is on when any
    channel is on; intensity is the largest channel's frame RMS over its rest RMS.
    Episodes have type ``"unknown"`` (the detector does not type).
    """

    _name = "baseline-emg-double-threshold"

    def __init__(
        self, rate_hz: float, config: EmgDoubleThresholdConfig | None = None, **context: Any
    ) -> None:
        self.config = config or EmgDoubleThresholdConfig()
        c = self.config
        fs = _pos("EmgDoubleThreshold", "rate_hz", rate_hz)
        self.m = max(1, round(c.m_s * fs))
        self.r = max(1, math.ceil(c.r_fraction * self.m))
        self.zeta, self.p_sample = bonato_zeta(self.m, self.r, c.p_fa)
        self.frame_n = max(1, round(c.frame_s * fs))
        self.act_frames = max(1, round(c.activity_window_s / (self.frame_n / fs)))
        self._sos = None
        if c.band_hz is not None:
            lo, hi = c.band_hz[0], min(c.band_hz[1], 0.45 * fs)
            if hi <= lo:
                raise ConfigError(
                    f"EMG band-pass {c.band_hz} Hz does not fit a {fs:g} Hz stream "
                    f"(upper edge clipped to {hi:g} Hz); lower band_hz or use band_hz=None"
                )
            self._sos = signal.butter(4, [lo, hi], btype="bandpass", fs=fs, output="sos")
        self._b = np.array([1.0])
        self._sigma2: np.ndarray | None = None
        self._rest_rms: np.ndarray | None = None
        super().__init__(fs, dict(context))

    def _detector_config(self) -> DetectorConfig:
        c = self.config
        fr = self.frame_n / self.rate_hz
        return DetectorConfig(
            window_s=fr * self.act_frames,
            hop_s=fr,
            onset_threshold=c.onset_fraction,
            offset_threshold=c.offset_fraction,
            confirm_windows=1,
            min_duration_s=c.min_duration_s,
            merge_gap_s=c.merge_gap_s,
            max_episode_s=max(300.0, 2 * fr),
            severity_cutoffs=c.severity_cutoffs,
            class_names=("unknown",),
        )

    def _bandpass(self, x: np.ndarray) -> np.ndarray:
        if self._sos is None:
            return x
        zi = signal.sosfilt_zi(self._sos)[:, :, None] * x[0][None, None, :]
        return signal.sosfilt(self._sos, x, axis=0, zi=zi)[0]

    def _calibrate_filtered(self, x: np.ndarray) -> None:
        y = self._bandpass(x)
        p = self.config.whiten_order
        if p > 0:
            yc = y - y.mean(axis=0)
            # one AR model for all channels: the mean of the per-channel autocorrelations
            acs = [
                np.correlate(yc[:, j], yc[:, j], "full")[len(yc) - 1 :][: p + 1]
                for j in range(y.shape[1])
            ]
            ac = np.mean(acs, axis=0)
            if ac[0] <= 0:
                raise SignalError("EMG rest segment is constant; cannot calibrate the noise")
            a = linalg.solve_toeplitz(ac[:p], ac[1 : p + 1])
            self._b = np.concatenate([[1.0], -a])
        e = signal.lfilter(self._b, [1.0], y, axis=0)
        skip = min(len(e) // 4, len(self._b))
        self._sigma2 = np.maximum(np.mean(e[skip:] ** 2, axis=0), 1e-30)
        self._rest_rms = np.maximum(np.sqrt(np.mean(y**2, axis=0)), 1e-15)

    def _start_segment(self, x0: np.ndarray) -> None:
        nch = x0.shape[0]
        if self._sos is not None:
            self._zi_bp = signal.sosfilt_zi(self._sos)[:, :, None] * x0[None, None, :]
        self._zi_w = np.zeros((len(self._b) - 1, nch))
        self._exc_tail = np.zeros((self.m - 1, nch), dtype=np.int64)
        self._fr_on: list[np.ndarray] = []
        self._fr_sq: list[np.ndarray] = []
        self._fr_t: list[np.ndarray] = []
        self._act_hist = np.zeros(self.act_frames - 1)

    def _process(self, t: np.ndarray, x: np.ndarray) -> list[EpisodeUpdate]:
        assert self._sigma2 is not None and self._rest_rms is not None
        if self._sos is not None:
            y, self._zi_bp = signal.sosfilt(self._sos, x, axis=0, zi=self._zi_bp)
        else:
            y = x
        if len(self._b) > 1:
            e, self._zi_w = signal.lfilter(self._b, [1.0], y, axis=0, zi=self._zi_w)
        else:
            e = y
        exc = (e**2 / self._sigma2 > self.zeta).astype(np.int64)
        full = np.concatenate([self._exc_tail, exc])
        cs = np.concatenate([np.zeros((1, full.shape[1]), np.int64), np.cumsum(full, axis=0)])
        count = cs[self.m :] - cs[: -self.m] if self.m > 0 else cs[1:]
        self._exc_tail = full[full.shape[0] - (self.m - 1) :] if self.m > 1 else full[:0]
        on = np.any(count >= self.r, axis=1)
        sq = y**2
        # pool into frames, carrying the partial frame over
        self._fr_on.append(on)
        self._fr_sq.append(sq)
        self._fr_t.append(t)
        on_all = np.concatenate(self._fr_on)
        sq_all = np.concatenate(self._fr_sq)
        t_all = np.concatenate(self._fr_t)
        nf = on_all.shape[0] // self.frame_n
        k = nf * self.frame_n
        self._fr_on, self._fr_sq, self._fr_t = [on_all[k:]], [sq_all[k:]], [t_all[k:]]
        if nf == 0:
            return []
        frac = on_all[:k].reshape(nf, self.frame_n).mean(axis=1)
        rms = np.sqrt(sq_all[:k].reshape(nf, self.frame_n, -1).mean(axis=1))
        inten = np.max(rms / self._rest_rms, axis=1)
        t_end = t_all[self.frame_n - 1 : k : self.frame_n] + round(self._period_ns)
        hist = np.concatenate([self._act_hist, frac])
        # a fixed-order sum per frame (not a cumsum) keeps chunked == whole bit for bit
        win = np.lib.stride_tricks.sliding_window_view(hist, self.act_frames)
        p = np.clip(win.sum(axis=1) / self.act_frames, 0.0, 1.0)
        self._act_hist = (
            hist[len(hist) - (self.act_frames - 1) :] if self.act_frames > 1 else hist[:0]
        )
        return self._det.update(t_end, p, None, inten)


# ============================================================================== ACC


@dataclass(frozen=True, slots=True)
class AccBandRatioConfig:
    """Settings of :class:`AccBandRatio`.

    Parameters
    ----------
    band_hz : (float, float)
        Clonus band, default 3-8 Hz (``literature.md`` section 1.2).
    total_hz : (float, float)
        Band over which total power is summed (upper edge clipped to Nyquist).
    highpass_hz : float
        Causal high-pass on the acceleration magnitude that removes gravity and posture.
    window_s, hop_s : float
        Sliding window (Hann-tapered periodogram) and hop, s.
    ratio_threshold : float
        Band power / total power needed (0..1).
    power_factor : float
        Band power needed as a multiple of the rest band power (median over the
        calibration windows).
    alarm_after_s : float
        The condition must hold this long (consecutive windows) before an onset.
    min_duration_s, merge_gap_s : float
        As in :class:`~spasmwatch.episodes.DetectorConfig`.
    calibration_s : float
        Automatic rest calibration at stream start.
    severity_cutoffs : (float, float)
        Band amplitude (sqrt of band power) over rest, from which moderate / severe.
    """

    band_hz: tuple[float, float] = (3.0, 8.0)
    total_hz: tuple[float, float] = (0.5, 20.0)
    highpass_hz: float = 0.5
    window_s: float = 2.0
    hop_s: float = 0.25
    ratio_threshold: float = 0.5
    power_factor: float = 5.0
    alarm_after_s: float = 1.0
    min_duration_s: float = 3.0
    merge_gap_s: float = 1.0
    calibration_s: float = 30.0
    severity_cutoffs: tuple[float, float] = (2.0, 4.0)

    def __post_init__(self) -> None:
        n = "AccBandRatioConfig"
        for k in ("band_hz", "total_hz"):
            lo, hi = (_pos(n, k, v) for v in getattr(self, k))
            if hi <= lo:
                raise ConfigError(f"{n}.{k} must be (low, high) with low < high")
            object.__setattr__(self, k, (lo, hi))
        for k in ("highpass_hz", "window_s", "hop_s", "power_factor", "calibration_s"):
            object.__setattr__(self, k, _pos(n, k, getattr(self, k)))
        for k in ("alarm_after_s", "min_duration_s", "merge_gap_s"):
            object.__setattr__(self, k, _pos(n, k, getattr(self, k), zero_ok=True))
        r = _pos(n, "ratio_threshold", self.ratio_threshold, zero_ok=True)
        if r > 1:
            raise ConfigError(f"{n}.ratio_threshold must be in [0, 1] (got {r})")
        object.__setattr__(self, "ratio_threshold", r)
        if self.hop_s > self.window_s:
            raise ConfigError(f"{n}.hop_s must be <= window_s")


class AccBandRatio(_Base):
    """Accelerometer 3-8 Hz band-power ratio detector (see module notes).

    Parameters
    ----------
    rate_hz : float
        Accelerometer sample rate in Hz (at least 2.5 x the band's upper edge).
    config : AccBandRatioConfig, optional
    **context
        Passed to :class:`EpisodeDetector`; ``model_id`` defaults to
        ``"baseline-acc-band-ratio"``.

    Notes
    -----
    Input is ``(n_samples, n_axes)`` in any unit (the magnitude over axes is used).
    Episodes get type ``"clonic"`` (rhythmic 3-8 Hz movement is what it detects).
    """

    _name = "baseline-acc-band-ratio"

    def __init__(
        self, rate_hz: float, config: AccBandRatioConfig | None = None, **context: Any
    ) -> None:
        self.config = config or AccBandRatioConfig()
        c = self.config
        fs = _pos("AccBandRatio", "rate_hz", rate_hz)
        if fs < 2.5 * c.band_hz[1]:
            raise ConfigError(
                f"AccBandRatio needs >= {2.5 * c.band_hz[1]:g} Hz for a {c.band_hz} Hz band "
                f"(got {fs:g} Hz)"
            )
        self.win_n = max(4, round(c.window_s * fs))
        self.hop_n = max(1, round(c.hop_s * fs))
        self._sos = signal.butter(2, c.highpass_hz, btype="highpass", fs=fs, output="sos")
        f = np.fft.rfftfreq(self.win_n, 1 / fs)
        self._band = (f >= c.band_hz[0]) & (f <= c.band_hz[1])
        self._total = (f >= c.total_hz[0]) & (f <= min(c.total_hz[1], fs / 2))
        self._taper = np.hanning(self.win_n)
        self._rest_band: float | None = None
        super().__init__(fs, dict(context))

    def _detector_config(self) -> DetectorConfig:
        c = self.config
        hop = self.hop_n / self.rate_hz
        return DetectorConfig(
            window_s=self.win_n / self.rate_hz,
            hop_s=hop,
            onset_threshold=0.5,
            offset_threshold=0.5,
            confirm_windows=max(1, math.ceil(c.alarm_after_s / hop - 1e-9)),
            min_duration_s=c.min_duration_s,
            merge_gap_s=c.merge_gap_s,
            severity_cutoffs=c.severity_cutoffs,
            class_names=("clonic",),
        )

    def _min_cal_samples(self) -> int:
        return self.win_n

    def _powers(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        spec = np.abs(np.fft.rfft((frames - frames.mean(axis=1, keepdims=True)) * self._taper)) ** 2
        return spec[:, self._band].sum(axis=1), spec[:, self._total].sum(axis=1)

    def _mag(self, x: np.ndarray) -> np.ndarray:
        return np.sqrt(np.sum(x**2, axis=1))

    def _calibrate_filtered(self, x: np.ndarray) -> None:
        m = self._mag(x)
        zi = signal.sosfilt_zi(self._sos) * m[0]
        d, _ = signal.sosfilt(self._sos, m, zi=zi)
        fr = np.lib.stride_tricks.sliding_window_view(d, self.win_n)[:: self.hop_n]
        band, _ = self._powers(fr)
        self._rest_band = max(float(np.median(band)), 1e-12)

    def _start_segment(self, x0: np.ndarray) -> None:
        self._zi = signal.sosfilt_zi(self._sos) * float(self._mag(x0[None, :])[0])
        self._buf = np.zeros(0)
        self._buf_t = np.zeros(0, dtype=np.int64)
        self._seen = 0  # samples of this segment before _buf[0]

    def _process(self, t: np.ndarray, x: np.ndarray) -> list[EpisodeUpdate]:
        assert self._rest_band is not None
        d, self._zi = signal.sosfilt(self._sos, self._mag(x), zi=self._zi)
        buf = np.concatenate([self._buf, d])
        bt = np.concatenate([self._buf_t, t])
        # windows end at segment sample indices e with e + 1 >= win_n and
        # (e + 1 - win_n) % hop_n == 0; index i of buf is segment index self._seen + i
        # (windows ending before _seen + win_n - 1 were computed by earlier calls)
        first_end = self.win_n - 1
        min_end = self._seen + self.win_n - 1
        if min_end > first_end:
            first_end += math.ceil((min_end - first_end) / self.hop_n) * self.hop_n
        ends = np.arange(first_end, self._seen + len(buf), self.hop_n) - self._seen
        out: list[EpisodeUpdate] = []
        if ends.size:
            starts = ends - self.win_n + 1
            idx = starts[:, None] + np.arange(self.win_n)[None, :]
            band, total = self._powers(buf[idx])
            ratio = np.where(total > 0, band / np.where(total > 0, total, 1.0), 0.0)
            on = (ratio >= self.config.ratio_threshold) & (
                band >= self.config.power_factor * self._rest_band
            )
            inten = np.sqrt(band / self._rest_band)
            t_end = bt[ends] + round(self._period_ns)
            out = self._det.update(t_end, on.astype(np.float64), np.ones((len(on), 1)), inten)
        # keep the samples a future window may still need
        keep_from = max(0, len(buf) - (self.win_n - 1))
        self._buf = buf[keep_from:]
        self._buf_t = bt[keep_from:]
        self._seen += keep_from
        return out
