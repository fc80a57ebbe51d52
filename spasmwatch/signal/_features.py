"""Window features for EMG and accelerometer streams, vectorised over stacked windows.

Names follow LibEMG where LibEMG has the feature (RMS, MAV, WL, ZC, SSC, MNF, MDF). To keep
features comparable across devices and rates:

- amplitude features are computed on band-limited signal (the conditioned EMG, the low-passed
  acceleration) and are the only ones the per-wearer :class:`Normaliser` rescales;
- frequency features are in Hz;
- counts and lengths are rates per second (WL in units/s, ZC and SSC in events/s).

Feature set ``fs-1`` (per window; EMG features are per channel, then averaged over channels):

============ ====== ===========================================================================
name         kind   definition
============ ====== ===========================================================================
emg.RMS      amp    root mean square of the conditioned EMG
emg.MAV      amp    mean absolute value
emg.WL       amp    waveform length per second: sum |x[i+1]-x[i]| / window_s
emg.ZC       shape  zero crossings per second: x[i]x[i+1] < 0 and |x[i]-x[i+1]| >= thr
emg.SSC      shape  slope sign changes per second with (x[i]-x[i-1])(x[i]-x[i+1]) >= thr**2
emg.TKEO     amp    mean Teager-Kaiser energy x[i]**2 - x[i-1]x[i+1]
emg.MNF      shape  mean frequency (Hz) of the Hann periodogram within the EMG band
emg.MDF      shape  median frequency (Hz), same periodogram
emg.RHY      shape  envelope rhythmicity: share of the envelope's power in 3-8 Hz (clonus)
                    of its power in 1-20 Hz (envelope = rectified EMG, 25 ms block means)
emg.RMS_REC  amp    RMS of the last 0.25 s of the window (fast onset response)
emg.COACT    shape  co-activation: mean pairwise correlation of the channel envelopes
                    (0 for a single channel)
acc.MAGVAR   amp    variance of the dynamic-acceleration magnitude (g**2)
acc.JERK     amp    mean magnitude of the jerk (g/s)
acc.BPR      shape  3-8 Hz power / 0.5 Hz-to-low-pass-corner power (dynamic acc., axes summed)
acc.DOMF     shape  dominant frequency (Hz) in 0.5 Hz-to-corner, same spectrum
acc.SPEN     shape  spectral entropy of that spectrum, normalised to 0..1
acc.ORIENT   shape  angle (degrees) between the gravity vectors at window start and end
============ ====== ===========================================================================

``thr`` (ZC, SSC) is half the channel's noise floor, the smallest window RMS seen so far on
that channel (a running minimum kept by :class:`EmgFeatures`), so it scales with the device.
Ratios whose denominator is zero (a perfectly flat window) are 0. Windows flagged ``has_gap``
get NaN features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft

from spasmwatch.errors import ConfigError
from spasmwatch.signal._filters import acc_lowpass_cutoff, emg_band

__all__ = [
    "ACC_FEATURES",
    "CLONUS_BAND_HZ",
    "EMG_FEATURES",
    "FEATURE_SET_VERSION",
    "AccFeatures",
    "EmgFeatures",
    "FeatureSet",
    "acc_window_features",
    "emg_window_features",
]

FEATURE_SET_VERSION = "fs-1"
#: Clonus band (Hz), literature.md §1.2: 3.8-7 Hz typical, 3-8 Hz general range.
CLONUS_BAND_HZ = (3.0, 8.0)
ENVELOPE_BLOCK_S = 0.025
RECENT_S = 0.25
ZC_THRESHOLD_FACTOR = 0.5

#: (name, is_amplitude) in vector order.
EMG_FEATURES: tuple[tuple[str, bool], ...] = (
    ("RMS", True),
    ("MAV", True),
    ("WL", True),
    ("ZC", False),
    ("SSC", False),
    ("TKEO", True),
    ("MNF", False),
    ("MDF", False),
    ("RHY", False),
    ("RMS_REC", True),
    ("COACT", False),
)
ACC_FEATURES: tuple[tuple[str, bool], ...] = (
    ("MAGVAR", True),
    ("JERK", True),
    ("BPR", False),
    ("DOMF", False),
    ("SPEN", False),
    ("ORIENT", False),
)
_BY_KIND = {"emg": EMG_FEATURES, "acc": ACC_FEATURES}


@dataclass(frozen=True, slots=True)
class FeatureSet:
    """Names and version of a feature vector (what a model's metadata refers to).

    Parameters
    ----------
    kinds : tuple of str
        Stream kinds present, in vector order: ``("emg", "acc")``, ``("emg",)`` or
        ``("acc",)``. Features of absent kinds are not in the vector.
    version : str
        Feature-set version, ``"fs-1"``.
    """

    kinds: tuple[str, ...]
    version: str = FEATURE_SET_VERSION

    def __post_init__(self) -> None:
        kinds = tuple(self.kinds)
        if not kinds or len(set(kinds)) != len(kinds) or not set(kinds) <= set(_BY_KIND):
            raise ConfigError(
                f"FeatureSet.kinds must be distinct stream kinds among {sorted(_BY_KIND)} "
                f"(got {self.kinds!r})"
            )
        kinds = tuple(k for k in ("emg", "acc") if k in kinds)  # canonical order
        object.__setattr__(self, "kinds", kinds)
        if self.version != FEATURE_SET_VERSION:
            raise ConfigError(
                f"FeatureSet.version must be {FEATURE_SET_VERSION!r} (got {self.version!r}); "
                "this spasmwatch computes only that feature set"
            )

    @property
    def name(self) -> str:
        """Identifier for model metadata, e.g. ``"fs-1:emg+acc"``."""
        return f"{self.version}:{'+'.join(self.kinds)}"

    @property
    def names(self) -> tuple[str, ...]:
        """Feature names in vector order, e.g. ``("emg.RMS", ..., "acc.ORIENT")``."""
        return tuple(f"{k}.{n}" for k in self.kinds for n, _ in _BY_KIND[k])

    @property
    def amplitude_mask(self) -> np.ndarray:
        """bool ``(n_features,)``: True for amplitude features (rescaled per wearer)."""
        return np.array([a for k in self.kinds for _, a in _BY_KIND[k]], dtype=bool)

    @property
    def n_features(self) -> int:
        """Length of the vector."""
        return len(self.names)

    def slice_of(self, kind: str) -> slice:
        """Columns of one stream kind in the vector."""
        start = 0
        for k in self.kinds:
            n = len(_BY_KIND[k])
            if k == kind:
                return slice(start, start + n)
            start += n
        raise ConfigError(f"stream kind {kind!r} is not in feature set {self.name}")

    @classmethod
    def from_name(cls, name: str) -> FeatureSet:
        """Inverse of :attr:`name` (``"fs-1:emg+acc"``)."""
        version, _, kinds = name.partition(":")
        return cls(tuple(kinds.split("+")), version)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _hann(n: int) -> np.ndarray:
    return np.hanning(n + 2)[1:-1] if n > 1 else np.ones(n)


def _envelope_blocks(x: np.ndarray, rate_hz: float) -> tuple[np.ndarray, float]:
    """Rectified signal averaged in ~25 ms blocks: ``(k, n_blocks, c)`` and its rate (Hz)."""
    block = max(1, round(ENVELOPE_BLOCK_S * rate_hz))
    n = x.shape[1]
    nb = n // block
    tail = x[:, n - nb * block :, :]
    env = np.abs(tail).reshape(x.shape[0], nb, block, x.shape[2]).mean(axis=2)
    return env, rate_hz / block


def _band_share(
    p: np.ndarray, f: np.ndarray, num: tuple[float, float], den: tuple[float, float]
) -> np.ndarray:
    """``sum p[num band] / sum p[den band]`` along axis 1 of ``(k, n_freq, ...)``."""
    m_num = (f >= num[0]) & (f <= num[1])
    m_den = (f >= den[0]) & (f <= den[1])
    return _safe_div(p[:, m_num].sum(axis=1), p[:, m_den].sum(axis=1))


def emg_window_features(
    x: np.ndarray, rate_hz: float, threshold: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """EMG features of stacked windows.

    Parameters
    ----------
    x : numpy.ndarray
        Conditioned EMG windows ``(k, n_window, n_channels)``, float32 or float64 (the
        arithmetic is done in that dtype; the spectra in float64).
    rate_hz : float
        Sample rate (Hz).
    threshold : numpy.ndarray
        ZC/SSC amplitude threshold per window and channel ``(k, n_channels)`` (signal units).

    Returns
    -------
    per_channel : numpy.ndarray
        ``(k, n_channels, 10)`` float64: every :data:`EMG_FEATURES` entry except COACT.
    aggregated : numpy.ndarray
        ``(k, 11)`` float64: the channel mean of ``per_channel`` plus COACT.
    """
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    k, n, c = x.shape
    dur = n / rate_hz
    # (k, c, n) with samples on the fast axis: every reduction below runs along it
    xt = x.transpose(0, 2, 1)
    if xt.strides[2] != xt.itemsize:
        xt = np.ascontiguousarray(xt)
    thr = np.asarray(threshold, dtype=xt.dtype).reshape(k, c, 1)
    ein = "kci,kci->kc"
    sumsq = np.einsum(ein, xt, xt).astype(np.float64)
    rms = np.sqrt(sumsq / n)
    ax = np.abs(xt)
    mav = ax.sum(axis=2, dtype=np.float64) / n
    d = np.diff(xt, axis=2)
    ad = np.abs(d)
    wl = ad.sum(axis=2, dtype=np.float64) / dur
    zc = np.count_nonzero((xt[:, :, :-1] * xt[:, :, 1:] < 0) & (ad >= thr), axis=2) / dur
    ssc = np.count_nonzero(d[:, :, :-1] * d[:, :, 1:] <= -(thr * thr), axis=2) / dur
    mid = xt[:, :, 1:-1]
    tk = (
        np.einsum(ein, mid, mid).astype(np.float64)
        - np.einsum(ein, xt[:, :, :-2], xt[:, :, 2:]).astype(np.float64)
    ) / (n - 2)
    lo, hi = emg_band(rate_hz)
    f = np.fft.rfftfreq(n, 1.0 / rate_hz)
    band = (f >= lo) & (f <= hi)
    spec = sfft.rfft(xt * _hann(n).astype(xt.dtype), axis=2)[:, :, band]
    pb = spec.real**2 + spec.imag**2
    fb = f[band]
    cs = np.cumsum(pb, axis=2)
    tot = cs[:, :, -1].astype(np.float64)
    mnf = _safe_div((pb @ fb.astype(pb.dtype)).astype(np.float64), tot)
    mdf = np.where(tot > 0, fb[np.argmax(cs >= 0.5 * cs[:, :, -1:], axis=2)], 0.0)
    block = max(1, round(ENVELOPE_BLOCK_S * rate_hz))
    nb = n // block
    w = np.full(block, 1.0 / block, dtype=ax.dtype)
    env = (ax[:, :, n - nb * block :].reshape(k, c, nb, block) @ w).astype(np.float64)
    env_rate = rate_hz / block
    env_c = env - env.mean(axis=2, keepdims=True)
    espec = np.abs(sfft.rfft(env_c * _hann(nb), axis=2)) ** 2
    ef = np.fft.rfftfreq(nb, 1.0 / env_rate)
    rhy = _band_share(espec.transpose(0, 2, 1), ef, CLONUS_BAND_HZ, (1.0, min(20.0, env_rate / 2)))
    nr = max(2, min(n, round(RECENT_S * rate_hz)))
    tail = xt[:, :, n - nr :]
    rms_rec = np.sqrt(np.einsum(ein, tail, tail).astype(np.float64) / nr)
    per = np.stack([rms, mav, wl, zc, ssc, tk, mnf, mdf, rhy, rms_rec], axis=2)
    if c > 1:
        sd = np.sqrt(np.einsum("kci,kci->kc", env_c, env_c))
        cov = np.einsum("kai,kbi->kab", env_c, env_c)
        corr = _safe_div(cov, sd[:, :, None] * sd[:, None, :])
        iu = np.triu_indices(c, 1)
        coact = corr[:, iu[0], iu[1]].mean(axis=1)
    else:
        coact = np.zeros(k)
    agg = np.concatenate([per.mean(axis=1), coact[:, None]], axis=1)
    return per, agg


def acc_window_features(x: np.ndarray, rate_hz: float) -> np.ndarray:
    """Accelerometer features of stacked windows.

    Parameters
    ----------
    x : numpy.ndarray
        Conditioned windows ``(k, n_window, 9)``: dynamic acceleration (3), gravity (3),
        jerk (3), as produced by :class:`~spasmwatch.signal.AccConditioner`, in g and g/s.
    rate_hz : float
        Sample rate (Hz).

    Returns
    -------
    numpy.ndarray
        ``(k, 6)`` float64 in :data:`ACC_FEATURES` order.
    """
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    n = x.shape[1]
    xt = x.transpose(0, 2, 1)  # (k, 9, n): samples on the fast axis
    if xt.strides[2] != xt.itemsize:
        xt = np.ascontiguousarray(xt)
    dyn, jerk = xt[:, 0:3], xt[:, 6:9]
    mag = np.sqrt(np.einsum("kai,kai->ki", dyn, dyn)).astype(np.float64)
    magvar = mag.var(axis=1)
    jmean = np.sqrt(np.einsum("kai,kai->ki", jerk, jerk)).mean(axis=1, dtype=np.float64)
    sp = sfft.rfft(dyn * _hann(n).astype(xt.dtype), axis=2)
    spec = (sp.real**2 + sp.imag**2).sum(axis=1, dtype=np.float64)
    f = np.fft.rfftfreq(n, 1.0 / rate_hz)
    fc = acc_lowpass_cutoff(rate_hz)
    band = (f >= 0.5) & (f <= fc)
    pb, fb = spec[:, band], f[band]
    tot = pb.sum(axis=1)
    bpr = _band_share(spec, f, CLONUS_BAND_HZ, (0.5, fc))
    domf = np.where(tot > 0, fb[np.argmax(pb, axis=1)], 0.0)
    p = _safe_div(pb, tot[:, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
    spen = ent / np.log(max(2, pb.shape[1]))
    g0 = xt[:, 3:6, 0].astype(np.float64)
    g1 = xt[:, 3:6, -1].astype(np.float64)
    cosang = _safe_div(
        (g0 * g1).sum(axis=1), np.linalg.norm(g0, axis=1) * np.linalg.norm(g1, axis=1)
    )
    orient = np.degrees(np.arccos(np.clip(cosang, -1.0, 1.0)))
    orient = np.where(cosang == 0, 0.0, orient)  # zero-length gravity: undefined -> 0
    return np.stack([magvar, jmean, bpr, domf, spen, orient], axis=1)


class EmgFeatures:
    """EMG window features with the running noise floor that sets the ZC/SSC threshold.

    Parameters
    ----------
    rate_hz : float
        Sample rate (Hz).
    n_channels : int
        EMG channels.
    """

    def __init__(self, rate_hz: float, n_channels: int) -> None:
        emg_band(rate_hz)  # validates the rate
        self.rate_hz = float(rate_hz)
        self.n_channels = int(n_channels)
        self.reset()

    def reset(self) -> None:
        """Forget the noise floor."""
        self._floor = np.full(self.n_channels, np.inf)

    @property
    def noise_floor(self) -> np.ndarray:
        """Smallest window RMS seen per channel ``(n_channels,)`` (inf before any window)."""
        return self._floor.copy()

    def update(self, x: np.ndarray, has_gap: np.ndarray | None = None) -> np.ndarray:
        """Features ``(k, 11)`` of windows ``(k, n_window, n_channels)``; NaN rows for gaps."""
        x = np.asarray(x)
        k = x.shape[0]
        if k == 0:
            return np.zeros((0, len(EMG_FEATURES)))
        gap = np.zeros(k, dtype=bool) if has_gap is None else np.asarray(has_gap, dtype=bool)
        rms = np.sqrt(np.einsum("kic,kic->kc", x, x, dtype=np.float64) / x.shape[1])
        rms[gap] = np.nan
        floors = np.fmin.accumulate(np.vstack([self._floor[None, :], rms]), axis=0)
        self._floor = floors[-1].copy()
        thr = ZC_THRESHOLD_FACTOR * floors[1:]
        thr = np.where(np.isfinite(thr), thr, 0.0)
        if gap.any():
            x = np.where(gap[:, None, None], 0.0, x).astype(x.dtype)
        _, agg = emg_window_features(x, self.rate_hz, thr)
        agg[gap] = np.nan
        return agg


class AccFeatures:
    """Accelerometer window features (stateless; ``reset`` for the common contract)."""

    def __init__(self, rate_hz: float) -> None:
        acc_lowpass_cutoff(rate_hz)
        self.rate_hz = float(rate_hz)

    def reset(self) -> None:
        """Nothing to forget."""

    def update(self, x: np.ndarray, has_gap: np.ndarray | None = None) -> np.ndarray:
        """Features ``(k, 6)`` of windows ``(k, n_window, 9)``; NaN rows for gaps."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape[0] == 0:
            return np.zeros((0, len(ACC_FEATURES)))
        out = acc_window_features(np.nan_to_num(x), self.rate_hz)
        if has_gap is not None:
            out[np.asarray(has_gap, dtype=bool)] = np.nan
        return out
