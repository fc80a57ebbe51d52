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

Feature set ``fs-2`` (the default since 2026-11-24) is ``fs-1`` with three more, appended
per kind (so an ``fs-1`` vector is the ``fs-2`` vector without them, and ``fs-1`` models keep
running unchanged):

============== ====== =========================================================================
emg.SPREAD     shape  how evenly the channels are active: mean channel RMS / largest channel
                      RMS (1 when all electrodes see the same activity, 1/n_channels when one
                      does; 1 for a single channel). Spasms recruit muscles around the limb,
                      agonists and antagonists together; voluntary tasks are more focal.
acc.JERK_REC   amp    mean jerk magnitude over the last 0.5 s of the window (g/s)
acc.MAGVAR_REC amp    variance of the dynamic-acceleration magnitude over the last 0.5 s (g**2)
============== ====== =========================================================================

The recent-ACC pair reacts to a movement within half a second where the 2 s window
averages it away (onset latency), like ``emg.RMS_REC`` does for EMG.

Feature set ``fs-3`` (the default since 2026-11-25) is ``fs-2`` with one more EMG column:

============== ====== =========================================================================
emg.NCH        static number of EMG channels of the stream (electrodes around the limb)
============== ====== =========================================================================

SPREAD and COACT mean different things with 2 electrodes and with 8 (a focal voluntary
contraction under one of two electrodes reads as half-spread); NCH lets a model tell them
apart. It is constant over a stream, so models take it without lagged or change copies
(:data:`STATIC_FEATURES`). A device with another channel count falls between the counts a
model was trained on (2 and 8 for the bundled models).

``thr`` (ZC, SSC) is half the channel's noise floor, the smallest window RMS seen so far on
that channel (a running minimum kept by :class:`EmgFeatures`), so it scales with the device.
Ratios whose denominator is zero (a perfectly flat window) are 0. Windows flagged ``has_gap``
get NaN features.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft

from spasmwatch.errors import ConfigError
from spasmwatch.signal._filters import acc_lowpass_cutoff, emg_band

__all__ = [
    "ACC_FEATURES",
    "ACC_FEATURES_FS2",
    "CLONUS_BAND_HZ",
    "EMG_FEATURES",
    "EMG_FEATURES_FS2",
    "EMG_FEATURES_FS3",
    "FEATURE_SET_VERSION",
    "FEATURE_SET_VERSIONS",
    "STATIC_FEATURES",
    "AccFeatures",
    "EmgFeatures",
    "FeatureSet",
    "acc_window_features",
    "emg_window_features",
]

#: Feature-set version computed for new models; :data:`FEATURE_SET_VERSIONS` are all readable.
FEATURE_SET_VERSION = "fs-3"
FEATURE_SET_VERSIONS = ("fs-1", "fs-2", "fs-3")
#: Clonus band (Hz), literature.md §1.2: 3.8-7 Hz typical, 3-8 Hz general range.
CLONUS_BAND_HZ = (3.0, 8.0)
ENVELOPE_BLOCK_S = 0.025
RECENT_S = 0.25
#: Span of the recent-ACC features of fs-2 (s).
ACC_RECENT_S = 0.5
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
#: Columns fs-2 appends to each kind's fs-1 columns.
EMG_FEATURES_FS2: tuple[tuple[str, bool], ...] = (("SPREAD", False),)
ACC_FEATURES_FS2: tuple[tuple[str, bool], ...] = (("JERK_REC", True), ("MAGVAR_REC", True))
#: Column fs-3 appends to the EMG columns of fs-2.
EMG_FEATURES_FS3: tuple[tuple[str, bool], ...] = (("NCH", False),)
#: Features constant over a stream: model inputs take them without lagged or change copies.
STATIC_FEATURES = frozenset({"emg.NCH"})
_BY_VERSION = {
    "fs-1": {"emg": EMG_FEATURES, "acc": ACC_FEATURES},
    "fs-2": {"emg": EMG_FEATURES + EMG_FEATURES_FS2, "acc": ACC_FEATURES + ACC_FEATURES_FS2},
    "fs-3": {
        "emg": EMG_FEATURES + EMG_FEATURES_FS2 + EMG_FEATURES_FS3,
        "acc": ACC_FEATURES + ACC_FEATURES_FS2,
    },
}
_BY_KIND = _BY_VERSION[FEATURE_SET_VERSION]


def n_features_of(kind: str, version: str = FEATURE_SET_VERSION) -> int:
    """Number of features of one stream kind in a feature-set version."""
    return len(_BY_VERSION[version][kind])


@dataclass(frozen=True, slots=True)
class FeatureSet:
    """Names and version of a feature vector (what a model's metadata refers to).

    Parameters
    ----------
    kinds : tuple of str
        Stream kinds present, in vector order: ``("emg", "acc")``, ``("emg",)`` or
        ``("acc",)``. Features of absent kinds are not in the vector.
    version : str
        Feature-set version, one of :data:`FEATURE_SET_VERSIONS` (default the newest).
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
        if self.version not in FEATURE_SET_VERSIONS:
            raise ConfigError(
                f"FeatureSet.version must be one of {FEATURE_SET_VERSIONS} (got "
                f"{self.version!r}); a model built for a newer feature set needs a newer "
                "spasmwatch"
            )

    @property
    def name(self) -> str:
        """Identifier for model metadata, e.g. ``"fs-2:emg+acc"``."""
        return f"{self.version}:{'+'.join(self.kinds)}"

    @property
    def names(self) -> tuple[str, ...]:
        """Feature names in vector order, e.g. ``("emg.RMS", ..., "acc.ORIENT")``."""
        table = _BY_VERSION[self.version]
        return tuple(f"{k}.{n}" for k in self.kinds for n, _ in table[k])

    @property
    def amplitude_mask(self) -> np.ndarray:
        """bool ``(n_features,)``: True for amplitude features (rescaled per wearer)."""
        table = _BY_VERSION[self.version]
        return np.array([a for k in self.kinds for _, a in table[k]], dtype=bool)

    @property
    def n_features(self) -> int:
        """Length of the vector."""
        return len(self.names)

    def slice_of(self, kind: str) -> slice:
        """Columns of one stream kind in the vector."""
        start = 0
        for k in self.kinds:
            n = len(_BY_VERSION[self.version][k])
            if k == kind:
                return slice(start, start + n)
            start += n
        raise ConfigError(f"stream kind {kind!r} is not in feature set {self.name}")

    @classmethod
    def from_name(cls, name: str) -> FeatureSet:
        """Inverse of :attr:`name` (``"fs-2:emg+acc"``)."""
        version, _, kinds = name.partition(":")
        return cls(tuple(kinds.split("+")), version)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _hann(n: int) -> np.ndarray:
    return np.hanning(n + 2)[1:-1] if n > 1 else np.ones(n)


def _mask_slice(mask: np.ndarray) -> slice:
    """The contiguous run of True in ``mask`` (a frequency band on a sorted axis) as a slice."""
    idx = np.flatnonzero(mask)
    return slice(int(idx[0]), int(idx[-1]) + 1) if idx.size else slice(0, 0)


@dataclass(frozen=True, slots=True, eq=False)
class _EmgPlan:
    """Everything about the EMG features that depends only on (window length, rate)."""

    n: int
    dur: float
    hann32: np.ndarray
    hann64: np.ndarray
    band: slice  # EMG-band bins of the window spectrum
    fb: np.ndarray  # their frequencies (Hz)
    fb32: np.ndarray
    block: int  # envelope block (samples)
    nb: int  # envelope blocks per window
    env_hann: np.ndarray
    env_num: slice  # clonus-band bins of the envelope spectrum
    env_den: slice  # 1-20 Hz bins
    nr: int  # samples of RMS_REC


@functools.lru_cache(maxsize=64)
def _emg_plan(n: int, rate_hz: float) -> _EmgPlan:
    lo, hi = emg_band(rate_hz)
    f = np.fft.rfftfreq(n, 1.0 / rate_hz)
    band = _mask_slice((f >= lo) & (f <= hi))
    block = max(1, round(ENVELOPE_BLOCK_S * rate_hz))
    nb = n // block
    env_rate = rate_hz / block
    ef = np.fft.rfftfreq(nb, 1.0 / env_rate)
    num, den = CLONUS_BAND_HZ, (1.0, min(20.0, env_rate / 2))
    hann = _hann(n)
    env_num = _mask_slice((ef >= num[0]) & (ef <= num[1]))
    env_den = _mask_slice((ef >= den[0]) & (ef <= den[1]))
    plan = _EmgPlan(
        n=n,
        dur=n / rate_hz,
        hann32=hann.astype(np.float32),
        hann64=hann,
        band=band,
        fb=f[band],
        fb32=f[band].astype(np.float32),
        block=block,
        nb=nb,
        env_hann=_hann(nb),
        env_num=env_num,
        env_den=env_den,
        nr=max(2, min(n, round(RECENT_S * rate_hz))),
    )
    for a in (plan.hann32, plan.hann64, plan.fb, plan.fb32, plan.env_hann):
        a.flags.writeable = False
    return plan


#: From this many spectra on, the running sum that locates MDF goes bin by bin over all
#: spectra at once (one vectorised add per bin) instead of spectrum by spectrum (a scalar
#: loop per spectrum, faster for a few spectra). Both add in the same order: same numbers.
_BINWISE_CUMSUM_MIN_ROWS = 512


def _emg_spectrum(w: np.ndarray, plan: _EmgPlan) -> tuple[np.ndarray, np.ndarray]:
    """MNF and MDF (Hz) of windows ``(..., n)`` (float32 or float64, samples on the last axis).

    The Hann periodogram is computed in the windows' dtype, as the cumulative sum that
    locates the median frequency.
    """
    hann = plan.hann32 if w.dtype == np.float32 else plan.hann64
    lead = w.shape[:-1]
    spec = sfft.rfft(w * hann, axis=-1).reshape(-1, plan.n // 2 + 1)[:, plan.band]
    pb = spec.real**2 + spec.imag**2  # (rows, bins)
    fb = plan.fb32 if pb.dtype == np.float32 else plan.fb
    num = np.einsum("rb,b->r", pb, fb).astype(np.float64)  # not BLAS: no threads
    rows, nbins = pb.shape
    if rows >= _BINWISE_CUMSUM_MIN_ROWS and nbins > 1:
        cs = np.ascontiguousarray(pb.T)  # (bins, rows): the running sum, in place
        for i in range(1, nbins):
            np.add(cs[i - 1], cs[i], out=cs[i])
        half = 0.5 * cs[-1]
        # cs is non-decreasing along the bins, so the first bin with cs >= half is the
        # number of bins below half (the last bin is never below it)
        first = np.count_nonzero(cs < half, axis=0)
        tot = cs[-1].astype(np.float64)
    else:
        cs = np.cumsum(pb, axis=-1)
        first = np.argmax(cs >= 0.5 * cs[:, -1:], axis=-1)
        tot = cs[:, -1].astype(np.float64)
    mnf = _safe_div(num, tot)
    mdf = np.where(tot > 0, plan.fb[first], 0.0)
    return mnf.reshape(lead), mdf.reshape(lead)


@functools.lru_cache(maxsize=16)
def _pairs(c: int) -> tuple[np.ndarray, np.ndarray]:
    """Channel pairs ``(i, j)``, ``i < j``, of ``c`` channels (read-only index arrays)."""
    iu = np.triu_indices(c, 1)
    for a in iu:
        a.flags.writeable = False
    return iu


def _emg_envelope(env: np.ndarray, plan: _EmgPlan) -> tuple[np.ndarray, np.ndarray]:
    """RHY ``(k, c)`` and COACT ``(k,)`` from block envelopes ``(k, c, nb)`` (float64, any
    strides, e.g. overlapping windows of one row of block means per channel)."""
    env_c = np.subtract(env, env.mean(axis=2, keepdims=True), out=np.empty(env.shape))
    es = sfft.rfft(env_c * plan.env_hann, axis=2)
    espec = es.real**2 + es.imag**2
    rhy = _safe_div(espec[:, :, plan.env_num].sum(axis=2), espec[:, :, plan.env_den].sum(axis=2))
    k, c = env.shape[:2]
    if c > 1:
        cov = env_c @ env_c.transpose(0, 2, 1)  # (k, c, c), small products: no BLAS threads
        sd = np.sqrt(np.maximum(np.diagonal(cov, axis1=1, axis2=2), 0.0))
        corr = _safe_div(cov, sd[:, :, None] * sd[:, None, :])
        iu = _pairs(c)
        coact = corr[:, iu[0], iu[1]].mean(axis=1)
    else:
        coact = np.zeros(k)
    return rhy, coact


def emg_window_features(
    x: np.ndarray, rate_hz: float, threshold: np.ndarray, version: str = FEATURE_SET_VERSION
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
    version : str
        Feature-set version (``"fs-2"`` appends SPREAD, ``"fs-3"`` SPREAD and NCH).

    Returns
    -------
    per_channel : numpy.ndarray
        ``(k, n_channels, 10)`` float64: every :data:`EMG_FEATURES` entry except COACT.
    aggregated : numpy.ndarray
        ``(k, 11)`` (fs-1), ``(k, 12)`` (fs-2) or ``(k, 13)`` (fs-3) float64: the channel
        mean of ``per_channel`` plus COACT (and SPREAD, and NCH).

    Notes
    -----
    This is the reference form, one window at a time along the stacking axis. The streaming
    pipeline computes the same features from prefix sums over the stream (each sample enters
    the time-domain sums once instead of once per overlapping window); a test checks that
    both agree.
    """
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    k, n, c = x.shape
    plan = _emg_plan(n, float(rate_hz))
    dur = plan.dur
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
    mnf, mdf = _emg_spectrum(xt, plan)
    block, nb = plan.block, plan.nb
    w = np.full(block, 1.0 / block, dtype=ax.dtype)
    env = (ax[:, :, n - nb * block :].reshape(k, c, nb, block) @ w).astype(np.float64)
    rhy, coact = _emg_envelope(env, plan)
    nr = plan.nr
    tail = xt[:, :, n - nr :]
    rms_rec = np.sqrt(np.einsum(ein, tail, tail).astype(np.float64) / nr)
    per = np.stack([rms, mav, wl, zc, ssc, tk, mnf, mdf, rhy, rms_rec], axis=2)
    agg = np.concatenate([per.mean(axis=1), coact[:, None]], axis=1)
    return per, _appended(agg, rms.T, version)


def _appended(agg: np.ndarray, rms: np.ndarray, version: str) -> np.ndarray:
    """fs-1 EMG columns ``agg`` ``(k, 11)`` plus the columns later versions append, from the
    per-channel window RMS ``rms`` ``(n_channels, k)``."""
    if version == "fs-1":
        return agg
    extra = [_spread(rms)]
    if version != "fs-2":
        extra.append(np.full(agg.shape[0], float(rms.shape[0])))
    return np.concatenate([agg, np.stack(extra, axis=1)], axis=1)


def _spread(rms: np.ndarray) -> np.ndarray:
    """emg.SPREAD of per-channel window RMS ``(n_channels, k)``: mean / max (1 when flat)."""
    top = rms.max(axis=0)
    return np.where(top > 0, rms.mean(axis=0) / np.where(top > 0, top, 1.0), 1.0)


@functools.lru_cache(maxsize=64)
def _acc_plan(n: int, rate_hz: float) -> tuple[np.ndarray, np.ndarray, slice, slice]:
    """(Hann in float64, frequencies, 0.5 Hz-to-corner bins, clonus-band bins)."""
    f = np.fft.rfftfreq(n, 1.0 / rate_hz)
    fc = acc_lowpass_cutoff(rate_hz)
    band = _mask_slice((f >= 0.5) & (f <= fc))
    clonus = _mask_slice((f >= CLONUS_BAND_HZ[0]) & (f <= CLONUS_BAND_HZ[1]))
    hann = _hann(n)
    hann.flags.writeable = False
    f.flags.writeable = False
    return hann, f, band, clonus


def acc_window_features(
    x: np.ndarray, rate_hz: float, version: str = FEATURE_SET_VERSION
) -> np.ndarray:
    """Accelerometer features of stacked windows.

    Parameters
    ----------
    x : numpy.ndarray
        Conditioned windows ``(k, n_window, 9)``: dynamic acceleration (3), gravity (3),
        jerk (3), as produced by :class:`~spasmwatch.signal.AccConditioner`, in g and g/s.
    rate_hz : float
        Sample rate (Hz).
    version : str
        Feature-set version (``"fs-2"`` appends JERK_REC and MAGVAR_REC).

    Returns
    -------
    numpy.ndarray
        ``(k, 6)`` (fs-1) or ``(k, 8)`` (fs-2) float64 in feature-set order.
    """
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    xt = x.transpose(0, 2, 1)  # (k, 9, n): samples on the fast axis
    if xt.strides[2] != xt.itemsize:
        xt = np.ascontiguousarray(xt)
    return _acc_features(xt, float(rate_hz), version)


def _acc_features(
    xt: np.ndarray,
    rate_hz: float,
    version: str = FEATURE_SET_VERSION,
    mags: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """:func:`acc_window_features` of windows ``(k, 9, n)`` (samples on the last axis).

    ``mags`` are the windows' dynamic-acceleration and jerk magnitudes, two ``(k, n)``, when
    the caller has them (computed once per sample instead of once per window).
    """
    n = xt.shape[2]
    hann, f, band, clonus = _acc_plan(n, rate_hz)
    dyn = xt[:, 0:3]
    if mags is None:
        jerk = xt[:, 6:9]
        mag = np.sqrt(np.einsum("kai,kai->ki", dyn, dyn)).astype(np.float64)
        jmag = np.sqrt(np.einsum("kai,kai->ki", jerk, jerk))
    else:
        mag, jmag = mags
    magvar = mag.var(axis=1)
    jmean = jmag.mean(axis=1, dtype=np.float64)
    sp = sfft.rfft(dyn * hann.astype(xt.dtype, copy=False), axis=2)
    spec = (sp.real**2 + sp.imag**2).sum(axis=1, dtype=np.float64)
    pb, fb = spec[:, band], f[band]
    tot = pb.sum(axis=1)
    bpr = _safe_div(spec[:, clonus].sum(axis=1), tot)
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
    cols = [magvar, jmean, bpr, domf, spen, orient]
    if version != "fs-1":
        nr = min(n, max(2, round(ACC_RECENT_S * rate_hz)))
        cols.append(jmag[:, n - nr :].mean(axis=1, dtype=np.float64))
        cols.append(mag[:, n - nr :].var(axis=1))
    return np.stack(cols, axis=1)


def _windows(x: np.ndarray, starts: np.ndarray, n: int) -> np.ndarray:
    """Windows ``x[:, s : s + n]`` for each start: ``(c, k, n)``, a strided view (no copy)
    when the starts are evenly spaced (the usual case: one hop apart), else a copy."""
    k = starts.shape[0]
    step = int(starts[1] - starts[0]) if k > 1 else 1
    if step > 0 and (k < 3 or (np.diff(starts) == step).all()):
        base = x[:, int(starts[0]) :]
        c_stride, s_stride = base.strides
        return np.lib.stride_tricks.as_strided(
            base, (x.shape[0], k, n), (c_stride, step * s_stride, s_stride), writeable=False
        )
    return x[:, starts[:, None] + np.arange(n)[None, :]]


def _prefix(a: np.ndarray) -> np.ndarray:
    """Prefix sums along the last axis with a leading 0: ``out[..., i] = a[..., :i].sum()``."""
    out = np.zeros((*a.shape[:-1], a.shape[-1] + 1), dtype=np.float64)
    np.cumsum(a, axis=-1, dtype=np.float64, out=out[..., 1:])
    return out


def _even_step(starts: np.ndarray) -> int:
    """The spacing of evenly spaced ``starts`` (> 0), else 0."""
    k = starts.shape[0]
    if k < 2:
        return 0
    step = int(starts[1] - starts[0])
    return step if step > 0 and (k == 2 or (np.diff(starts) == step).all()) else 0


def _window_sums(v: np.ndarray, starts: np.ndarray, n: int, step: int | None = None) -> np.ndarray:
    """float64 sums of ``v[:, s : s + n]`` for every start: ``(c, k)``.

    Each sample is added once, not once per overlapping window: evenly spaced windows (one
    hop apart, the usual case) are sums of a few block sums, with blocks of
    ``gcd(spacing, n)`` samples; other spacings use prefix sums. ``step`` is
    :func:`_even_step` of ``starts`` when the caller knows it already.
    """
    k = starts.shape[0]
    c = v.shape[0]
    s0 = int(starts[0])
    if k == 1:
        return v[:, s0 : s0 + n].sum(axis=1, dtype=np.float64)[:, None]
    if step is None:
        step = _even_step(starts)
    g = math.gcd(step, n) if step else 0
    if g >= 4:
        nblk = (step * (k - 1) + n) // g
        blocks = v[:, s0 : s0 + nblk * g].reshape(c, nblk, g).sum(axis=2, dtype=np.float64)
        cb = np.zeros((c, nblk + 1))
        np.cumsum(blocks, axis=1, out=cb[:, 1:])
        i0 = np.arange(k) * (step // g)
        return cb[:, i0 + n // g] - cb[:, i0]
    cs = _prefix(v)
    return cs[:, starts + n] - cs[:, starts]


def _window_counts(hit: np.ndarray, starts: np.ndarray, n: int, step: int) -> np.ndarray:
    """:func:`_window_sums` of a bool array ``(c, L)``, in integers: int64 ``(c, k)``."""
    k = starts.shape[0]
    c = hit.shape[0]
    s0 = int(starts[0])
    if k == 1:
        return np.count_nonzero(hit[:, s0 : s0 + n], axis=1).astype(np.int64)[:, None]
    g = math.gcd(step, n) if step else 0
    if g >= 4:
        nblk = (step * (k - 1) + n) // g
        blocks = hit[:, s0 : s0 + nblk * g].reshape(c, nblk, g).sum(axis=2, dtype=np.int64)
        cb = np.zeros((c, nblk + 1), dtype=np.int64)
        np.cumsum(blocks, axis=1, out=cb[:, 1:])
        i0 = np.arange(k) * (step // g)
        return cb[:, i0 + n // g] - cb[:, i0]
    cs = np.zeros((c, hit.shape[1] + 1), dtype=np.int64)
    np.cumsum(hit, axis=1, dtype=np.int64, out=cs[:, 1:])
    return cs[:, starts + n] - cs[:, starts]


def _block_envelope(ax: np.ndarray, ends: np.ndarray, plan: _EmgPlan) -> np.ndarray:
    """Mean of ``|x|`` in the ``nb`` blocks that end each window: ``(k, c, nb)`` float64, from
    ``ax`` = ``|x|`` ``(c, L)`` float64. Evenly spaced windows get a read-only strided view
    (the windows share their blocks)."""
    block, nb = plan.block, plan.nb
    c = ax.shape[0]
    k = ends.shape[0]
    first = ends + 1 - nb * block  # first sample of each window's first block
    step = _even_step(first) if k > 1 else block
    if step and step % block == 0:
        a0 = int(first[0])
        m = step * (k - 1) // block + nb
        v = ax[:, a0 : a0 + m * block].reshape(c, m, block)
        means = v[:, :, 0].copy()  # block sums, samples added in order
        for j in range(1, block):
            means += v[:, :, j]
        means /= block
        cs, ss = means.strides
        return np.lib.stride_tricks.as_strided(
            means, (k, c, nb), ((step // block) * ss, cs, ss), writeable=False
        )
    cs_abs = _prefix(ax)
    edges = first[:, None] + block * np.arange(nb + 1)[None, :]
    return (np.diff(cs_abs[:, edges], axis=2) / block).transpose(1, 0, 2)


def _count_hits(
    x: np.ndarray,
    d: np.ndarray,
    ad: np.ndarray,
    thr: np.ndarray,
    starts: np.ndarray,
    n: int,
    step: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Zero crossings and slope sign changes per window and channel: two ``(c, k)``.

    ``x`` ``(c, L)`` are the samples, ``d`` ``(c, L - 1)`` their differences, ``ad`` ``|d|``
    zero-padded to ``(c, L)``, ``thr`` ``(c, k)`` the thresholds in ``x``'s dtype. A zero
    crossing is a pair ``(i, i + 1)`` with ``x[i] * x[i + 1] < 0`` and ``ad[i] >= thr``, a
    slope sign change a triple with ``d[i] * d[i + 1] <= -thr**2`` (the products and the
    comparisons in ``x``'s dtype). Windows that share a threshold (all of them once the noise
    floor has settled) are counted together.
    """
    c, length = x.shape
    k = starts.shape[0]
    crossing = np.zeros((c, length), dtype=bool)
    np.less(x[:, :-1] * x[:, 1:], 0, out=crossing[:, :-1])
    prod = np.ones_like(x)  # > 0 (never a change) on the padding
    np.multiply(d[:, :-1], d[:, 1:], out=prod[:, :-2])
    if k == 1 or (thr == thr[:, :1]).all():
        groups: list[tuple[np.ndarray, slice | np.ndarray]] = [(thr[:, 0], slice(None))]
    else:
        rows, inv = np.unique(thr.T, axis=0, return_inverse=True)
        groups = [(rows[g], inv.reshape(-1) == g) for g in range(rows.shape[0])]
    out = np.empty((2, c, k))
    ends = starts + (n - 1)
    hit = np.empty((2, c, length), dtype=bool)
    for t, sel in groups:
        np.greater_equal(ad, t[:, None], out=hit[0])
        hit[0] &= crossing
        np.less_equal(prod, -(t * t)[:, None], out=hit[1])
        st, e = (step, ends) if isinstance(sel, slice) else (_even_step(starts[sel]), ends[sel])
        cnt = _window_counts(hit.reshape(2 * c, length), starts[sel], n, st).reshape(2, c, -1)
        # leave out the pair and the triples that start in the window but end past it
        cnt[0] -= hit[0][:, e]
        cnt[1] -= hit[1][:, e]
        cnt[1] -= hit[1][:, e - 1]
        out[:, :, sel] = cnt
    return out[0], out[1]


class EmgFeatures:
    """EMG window features with the running noise floor that sets the ZC/SSC threshold.

    Parameters
    ----------
    rate_hz : float
        Sample rate (Hz).
    n_channels : int
        EMG channels.
    version : str
        Feature-set version (:data:`FEATURE_SET_VERSIONS`).
    """

    def __init__(self, rate_hz: float, n_channels: int, version: str = FEATURE_SET_VERSION) -> None:
        emg_band(rate_hz)  # validates the rate
        FeatureSet(("emg",), version)  # validates the version
        self.rate_hz = float(rate_hz)
        self.n_channels = int(n_channels)
        self.version = version
        self.n_features = n_features_of("emg", version)
        self.reset()

    def reset(self) -> None:
        """Forget the noise floor."""
        self._floor = np.full(self.n_channels, np.inf)

    @property
    def noise_floor(self) -> np.ndarray:
        """Smallest window RMS seen per channel ``(n_channels,)`` (inf before any window)."""
        return self._floor.copy()

    def update(self, x: np.ndarray, has_gap: np.ndarray | None = None) -> np.ndarray:
        """Features ``(k, n_features)`` of windows ``(k, n_window, n_channels)``; NaN rows for
        gaps."""
        x = np.asarray(x)
        k = x.shape[0]
        if k == 0:
            return np.zeros((0, self.n_features))
        gap = np.zeros(k, dtype=bool) if has_gap is None else np.asarray(has_gap, dtype=bool)
        rms = np.sqrt(np.einsum("kic,kic->kc", x, x, dtype=np.float64) / x.shape[1])
        thr = self._thresholds(rms, gap)
        if gap.any():
            x = np.where(gap[:, None, None], 0.0, x).astype(x.dtype)
        _, agg = emg_window_features(x, self.rate_hz, thr, self.version)
        agg[gap] = np.nan
        return agg

    def _thresholds(self, rms: np.ndarray, gap: np.ndarray) -> np.ndarray:
        """ZC/SSC thresholds ``(k, c)`` from the windows' RMS; advances the noise floor."""
        rms = rms.copy()
        rms[gap] = np.nan
        floors = np.fmin.accumulate(np.vstack([self._floor[None, :], rms]), axis=0)
        self._floor = floors[-1].copy()
        thr = ZC_THRESHOLD_FACTOR * floors[1:]
        return np.where(np.isfinite(thr), thr, 0.0)

    def _update_span(
        self, span: np.ndarray, ends: np.ndarray, n: int, has_gap: np.ndarray
    ) -> np.ndarray:
        """:meth:`update` for windows that lie in one stretch of the stream.

        Parameters
        ----------
        span : numpy.ndarray
            Channel-major samples ``(n_channels, n_span)``, float32 or float64, NaN where
            missing (only inside windows flagged in ``has_gap``).
        ends : numpy.ndarray
            int ``(k,)`` positions in ``span`` of the windows' last samples (inclusive).
        n : int
            Window length (samples).
        has_gap : numpy.ndarray
            bool ``(k,)``.

        Returns
        -------
        numpy.ndarray
            ``(k, n_features)`` like :meth:`update` on the stacked windows
            ``span[:, e - n + 1 : e + 1]``.

        Notes
        -----
        The time-domain features (RMS, MAV, WL, ZC, SSC, TKEO, RMS_REC and the envelope) are
        differences of prefix sums over the span, so a sample costs the same whatever the
        overlap of the windows (8 windows per sample at the default 2 s / 0.25 s). The
        per-sample terms are the same numbers the stacked form sums (float32 products for the
        ZC/SSC tests, exact float64 squares and products otherwise), so the counts are equal
        and the sums agree to rounding. Only the spectra use the stacked windows.
        """
        k = ends.shape[0]
        if k == 0:
            return np.zeros((0, self.n_features))
        plan = _emg_plan(n, self.rate_hz)
        gap = np.asarray(has_gap, dtype=bool)
        x = span if span.dtype in (np.float32, np.float64) else span.astype(np.float64)
        if gap.any():
            x = np.where(np.isnan(x), x.dtype.type(0), x)
        ends = np.asarray(ends, dtype=np.int64)
        starts = ends - (n - 1)
        step = _even_step(starts)
        last = ends  # each window's last sample
        c, length = x.shape
        x64 = x.astype(np.float64)
        d = np.diff(x, axis=1)  # d[i] = x[i + 1] - x[i]: n - 1 of them per window
        # the float64 per-sample terms, stacked so that one pass of block sums serves all:
        # squares, |x|, |d| (pairs) and TKEO (triples); the pair and triple terms are
        # zero-padded to L so that every window sums n of them, and the ones past the window
        # (at its last sample, or two) are subtracted
        terms = np.empty((4, c, length))
        sq, ax, ad64, psi = terms
        np.multiply(x64, x64, out=sq)
        np.abs(x64, out=ax)
        ad = np.zeros_like(x)
        np.abs(d, out=ad[:, :-1])
        ad64[:] = ad
        np.multiply(x64[:, 1:-1], x64[:, 1:-1], out=psi[:, :-2])
        psi[:, :-2] -= x64[:, :-2] * x64[:, 2:]  # TKEO x[i]**2 - x[i-1] x[i+1] stored at i - 1
        psi[:, -2:] = 0.0
        sums = _window_sums(terms.reshape(4 * c, length), starts, n, step).reshape(4, c, k)
        rms = np.sqrt(np.maximum(sums[0], 0.0) / n)
        thr = self._thresholds(rms.T, gap).T  # (c, k)
        thr_x = thr.astype(x.dtype)
        mav = sums[1] / n
        wl = (sums[2] - ad64[:, last]) / plan.dur
        tk = (sums[3] - psi[:, last] - psi[:, last - 1]) / (n - 2)
        zc, ssc = _count_hits(x, d, ad, thr_x, starts, n, step)
        zc /= plan.dur
        ssc /= plan.dur
        nr = plan.nr
        rms_rec = np.sqrt(np.maximum(_window_sums(sq, last - (nr - 1), nr, step), 0.0) / nr)
        env = _block_envelope(ax, ends, plan)  # (k, c, nb)
        rhy, coact = _emg_envelope(env, plan)
        mnf, mdf = _emg_spectrum(_windows(x, starts, n), plan)
        per = np.stack(
            [a.T for a in (rms, mav, wl, zc, ssc, tk, mnf, mdf)] + [rhy, rms_rec.T], axis=2
        )
        agg = _appended(
            np.concatenate([per.mean(axis=1), coact[:, None]], axis=1), rms, self.version
        )
        agg[gap] = np.nan
        return agg


class AccFeatures:
    """Accelerometer window features (stateless; ``reset`` for the common contract)."""

    def __init__(self, rate_hz: float, version: str = FEATURE_SET_VERSION) -> None:
        acc_lowpass_cutoff(rate_hz)
        FeatureSet(("acc",), version)  # validates the version
        self.rate_hz = float(rate_hz)
        self.version = version
        self.n_features = n_features_of("acc", version)

    def reset(self) -> None:
        """Nothing to forget."""

    def update(self, x: np.ndarray, has_gap: np.ndarray | None = None) -> np.ndarray:
        """Features ``(k, n_features)`` of windows ``(k, n_window, 9)``; NaN rows for gaps."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape[0] == 0:
            return np.zeros((0, self.n_features))
        out = acc_window_features(np.nan_to_num(x), self.rate_hz, self.version)
        if has_gap is not None:
            out[np.asarray(has_gap, dtype=bool)] = np.nan
        return out

    def _update_span(
        self, span: np.ndarray, ends: np.ndarray, n: int, has_gap: np.ndarray
    ) -> np.ndarray:
        """:meth:`update` for windows in one stretch of the stream: ``span`` is channel-major
        ``(9, n_span)``, ``ends`` the windows' last positions in it (see
        :meth:`EmgFeatures._update_span`). The windows are strided views, not copies."""
        k = ends.shape[0]
        if k == 0:
            return np.zeros((0, self.n_features))
        x = span.astype(np.float64)
        if not np.isfinite(x).all():
            np.nan_to_num(x, copy=False)
        starts = np.asarray(ends, dtype=np.int64) - (n - 1)
        w = _windows(x, starts, n).transpose(1, 0, 2)  # (k, 9, n)
        # magnitudes per sample, then windowed (the same numbers as per window)
        mags = np.empty((2, x.shape[1]))
        np.sqrt(np.einsum("ai,ai->i", x[0:3], x[0:3]), out=mags[0])
        np.sqrt(np.einsum("ai,ai->i", x[6:9], x[6:9]), out=mags[1])
        mw = _windows(mags, starts, n)  # (2, k, n)
        out = _acc_features(w, self.rate_hz, self.version, (mw[0], mw[1]))
        out[np.asarray(has_gap, dtype=bool)] = np.nan
        return out
