"""Causal, stateful IIR filters built on second-order sections (SOS).

The design (the SOS coefficients) is a frozen value; the state (``zi``) is a separate array
that the pure function :func:`sos_step` takes and returns, exactly like
``scipy.signal.sosfilt(sos, x, zi=zi) -> (y, zf)``. :class:`SosFilter` wraps both in a small
object with ``update(x) -> y`` and ``reset()``.

Every filter starts in *steady state*: the state is ``sosfilt_zi(sos)`` scaled by the first
sample of each channel, as if that sample had been present forever. A constant offset (an
EMG electrode offset, gravity on an accelerometer axis) therefore produces no start-up
transient — a transient at connection time would look exactly like the onset of a spasm.

Arrays are ``(n_samples, n_channels)``. Computation is float64; output has the input's dtype
(float32 in, float32 out; float64 in, float64 out).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import signal as sps

from spasmwatch.errors import ConfigError, SignalError

__all__ = [
    "ACC_LOWPASS_HZ",
    "EMG_BAND_HZ",
    "GRAVITY_CUTOFF_HZ",
    "MAINS_FREQUENCIES_HZ",
    "NYQUIST_FRACTION",
    "AccConditioner",
    "FilterDesign",
    "Jerk",
    "SosFilter",
    "acc_lowpass_cutoff",
    "as_samples",
    "design_acc_lowpass",
    "design_emg",
    "design_emg_bandpass",
    "design_gravity_highpass",
    "design_notch",
    "emg_band",
    "jerk_step",
    "magnitude",
    "mains_frequencies",
    "sos_init",
    "sos_step",
]

#: Upper band edges are kept at or below this fraction of the Nyquist frequency. A Butterworth
#: edge closer to Nyquist is squeezed by the bilinear transform's frequency warping and its
#: sections become badly conditioned; 0.9 keeps 90 % of the available band. It also makes the
#: rule continuous with the textbook EMG band: 450 Hz at 1 kHz is exactly 0.9 x 500 Hz.
NYQUIST_FRACTION = 0.9
#: Surface-EMG pass band (Hz) at rates of 1 kHz and more (De Luca; literature.md §3).
EMG_BAND_HZ = (20.0, 450.0)
#: Accelerometer low-pass corner (Hz); clonus (3-8 Hz) and voluntary movement lie far below.
ACC_LOWPASS_HZ = 20.0
#: Power-grid frequencies (Hz) the EMG notch knows.
MAINS_FREQUENCIES_HZ = (50.0, 60.0)
#: Corner (Hz) of the high-pass that separates dynamic acceleration from gravity.
GRAVITY_CUTOFF_HZ = 0.3


def as_samples(x: object, what: str = "x") -> np.ndarray:
    """Validate a sample array and return it as a 2-D float array.

    Parameters
    ----------
    x : array_like
        Samples, shape ``(n_samples, n_channels)`` (1-D is read as one channel).
    what : str
        Name used in error messages.

    Returns
    -------
    numpy.ndarray
        ``(n_samples, n_channels)`` float32 or float64 (other dtypes become float64).
    """
    a = np.asarray(x)
    if a.ndim == 1:
        a = a.reshape(-1, 1)
    if a.ndim != 2:
        raise SignalError(f"{what} must have shape (n_samples, n_channels) (got shape {a.shape})")
    if a.dtype not in (np.float32, np.float64):
        if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
            raise SignalError(f"{what} must hold numbers (got dtype {a.dtype})")
        a = a.astype(np.float64)
    return a


def _check_rate(rate_hz: float) -> float:
    if isinstance(rate_hz, bool) or not isinstance(rate_hz, int | float) or not rate_hz > 0:
        raise ConfigError(f"rate_hz must be a positive number of Hz (got {rate_hz!r})")
    if not math.isfinite(rate_hz):
        raise ConfigError(f"rate_hz must be finite (got {rate_hz!r})")
    return float(rate_hz)


@dataclass(frozen=True, slots=True, eq=False)
class FilterDesign:
    """A frozen SOS filter design.

    Parameters
    ----------
    sos : numpy.ndarray
        Second-order sections, float64, shape ``(n_sections, 6)`` (scipy layout).
    rate_hz : float
        Sample rate (Hz) the design is for.
    label : str
        Human-readable description, e.g. ``"bandpass 20-90 Hz, order 4"``.
    """

    sos: np.ndarray
    rate_hz: float
    label: str
    _zi_unit: np.ndarray = field(init=False, repr=False)
    _sos_work: np.ndarray = field(init=False, repr=False)  # writeable copy scipy's C code needs

    def __post_init__(self) -> None:
        sos = np.array(self.sos, dtype=np.float64)
        if sos.ndim != 2 or sos.shape[1] != 6 or sos.shape[0] < 1:
            raise ConfigError(f"FilterDesign.sos must have shape (n_sections, 6) (got {sos.shape})")
        object.__setattr__(self, "_sos_work", sos.copy())
        sos.flags.writeable = False
        object.__setattr__(self, "sos", sos)
        object.__setattr__(self, "rate_hz", _check_rate(self.rate_hz))
        zi = np.asarray(sps.sosfilt_zi(sos), dtype=np.float64)  # (n_sections, 2)
        zi.flags.writeable = False
        object.__setattr__(self, "_zi_unit", zi)

    @property
    def n_sections(self) -> int:
        """Number of second-order sections."""
        return int(self.sos.shape[0])

    def dc_gain(self) -> float:
        """Gain at 0 Hz (1 for a low-pass or notch, 0 for a high- or band-pass)."""
        b = self.sos[:, :3].sum(axis=1)
        a = self.sos[:, 3:].sum(axis=1)
        return float(np.prod(b / a))

    def then(self, other: FilterDesign) -> FilterDesign:
        """Cascade: this design followed by ``other`` (same rate)."""
        if other.rate_hz != self.rate_hz:
            raise ConfigError(
                f"cannot cascade a {self.rate_hz} Hz design with a {other.rate_hz} Hz one"
            )
        return FilterDesign(
            np.vstack([self.sos, other.sos]), self.rate_hz, f"{self.label} + {other.label}"
        )


def sos_init(design: FilterDesign, x0: np.ndarray) -> np.ndarray:
    """Steady-state filter state for a signal that has always equalled ``x0``.

    Parameters
    ----------
    design : FilterDesign
        The filter.
    x0 : numpy.ndarray
        First sample per channel, shape ``(n_channels,)``.

    Returns
    -------
    numpy.ndarray
        State ``zi``, float64, shape ``(n_sections, 2, n_channels)``.
    """
    x0 = np.asarray(x0, dtype=np.float64).reshape(-1)
    return design._zi_unit[:, :, None] * x0[None, None, :]


def sos_step(
    design: FilterDesign, x: np.ndarray, zi: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Filter the next chunk; a pure function of (design, chunk, state).

    Parameters
    ----------
    design : FilterDesign
        The filter.
    x : numpy.ndarray
        Chunk, shape ``(n_samples, n_channels)``, float32 or float64.
    zi : numpy.ndarray or None
        State from the previous call (``(n_sections, 2, n_channels)``), or ``None`` to start
        in steady state at the chunk's first sample.

    Returns
    -------
    y : numpy.ndarray
        Filtered chunk, same shape and dtype as ``x``.
    zf : numpy.ndarray
        State to pass to the next call (unchanged when the chunk is empty).
    """
    x = as_samples(x)
    if zi is not None and zi.shape[2] != x.shape[1]:
        raise SignalError(
            f"chunk has {x.shape[1]} channels but the filter state has {zi.shape[2]}; "
            "call reset() before changing the channel count"
        )
    if x.shape[0] == 0:
        empty_state = zi if zi is not None else np.zeros((design.n_sections, 2, x.shape[1]))
        return x.copy(), empty_state
    x64 = x.astype(np.float64, copy=False)
    if zi is None:
        zi = sos_init(design, x64[0])
    y, zf = sps.sosfilt(design._sos_work, x64, axis=0, zi=zi)
    return y.astype(x.dtype, copy=False), zf


def _butter(order: int, wn: float | tuple[float, float], btype: str, rate_hz: float) -> np.ndarray:
    return sps.butter(order, wn, btype=btype, fs=rate_hz, output="sos")


def mains_frequencies(mains_hz: float | Sequence[float]) -> tuple[float, ...]:
    """Validated mains frequencies (Hz), ascending: ``50`` -> ``(50.0,)``, ``(60, 50)`` ->
    ``(50.0, 60.0)``.

    Parameters
    ----------
    mains_hz : float or sequence of float
        50 (Europe, most of Asia and Africa), 60 (the Americas, parts of Asia), or both: a
        wearable travels with its wearer and the software cannot know the local grid.

    Raises
    ------
    ConfigError
        Empty, repeated, or a frequency other than 50 or 60 Hz.
    """
    vals = (mains_hz,) if isinstance(mains_hz, int | float) else tuple(mains_hz)
    if (
        not vals
        or len(set(vals)) != len(vals)
        or any(isinstance(v, bool) or v not in MAINS_FREQUENCIES_HZ for v in vals)
    ):
        raise ConfigError(
            f"mains_hz must be 50, 60 or both (50, 60) Hz (got {mains_hz!r}); pass the "
            "frequency of the local power grid, or both when it is not known"
        )
    return tuple(sorted(float(v) for v in vals))


def design_notch(
    rate_hz: float,
    mains_hz: float | Sequence[float] = 50.0,
    *,
    quality: float = 30.0,
    max_hz: float | None = None,
) -> FilterDesign | None:
    """Powerline notch at ``mains_hz`` and its harmonics below Nyquist.

    Parameters
    ----------
    rate_hz : float
        Sample rate (Hz).
    mains_hz : float or sequence of float
        Mains frequency, 50 (Europe, most of Asia/Africa) or 60 (Americas) Hz, or both
        ``(50, 60)``: each gets its own notches (:func:`mains_frequencies`).
    quality : float
        Quality factor of each notch (centre / -3 dB width); 30 gives ~1.7 Hz at 50 Hz.
    max_hz : float, optional
        Also skip harmonics at or above this frequency (e.g. above the band-pass edge).

    Returns
    -------
    FilterDesign or None
        One biquad per harmonic, in ascending frequency, or ``None`` when no harmonic lies
        below Nyquist.
    """
    rate_hz = _check_rate(rate_hz)
    freqs = mains_frequencies(mains_hz)
    nyq = rate_hz / 2.0
    limit = nyq if max_hz is None else min(nyq, max_hz)
    centres = sorted({k * f for f in freqs for k in range(1, int(limit // f) + 2) if k * f < limit})
    sections = []
    for fc in centres:
        b, a = sps.iirnotch(fc, quality, fs=rate_hz)
        sections.append(sps.tf2sos(b, a))
    if not sections:
        return None
    name = "+".join(f"{f:g}" for f in freqs)
    return FilterDesign(
        np.vstack(sections), rate_hz, f"notch {name} Hz x{len(sections)} (Q={quality:g})"
    )


def emg_band(rate_hz: float) -> tuple[float, float]:
    """EMG pass band (Hz) for a sample rate: 20 Hz to min(450 Hz, 0.9 x Nyquist).

    At 1 kHz and above this is the textbook 20-450 Hz; at 200 Hz (Myo) it is 20-90 Hz.
    """
    rate_hz = _check_rate(rate_hz)
    lo, hi = EMG_BAND_HZ
    hi = min(hi, NYQUIST_FRACTION * rate_hz / 2.0)
    if hi <= lo * 1.5:
        raise ConfigError(
            f"EMG rate {rate_hz:g} Hz is too low: the pass band would be {lo:g}-{hi:g} Hz; "
            "surface EMG needs a rate of at least ~100 Hz"
        )
    return lo, hi


def design_emg_bandpass(rate_hz: float, *, order: int = 4) -> FilterDesign:
    """Butterworth band-pass over :func:`emg_band` (``order`` per edge)."""
    lo, hi = emg_band(rate_hz)
    sos = _butter(order, (lo, hi), "bandpass", rate_hz)
    return FilterDesign(sos, rate_hz, f"bandpass {lo:g}-{hi:g} Hz (order {order})")


def design_emg(
    rate_hz: float, mains_hz: float | Sequence[float] = 50.0, *, order: int = 4
) -> FilterDesign:
    """The EMG conditioning cascade: powerline notch (harmonics of each ``mains_hz`` below
    Nyquist) + band-pass."""
    bp = design_emg_bandpass(rate_hz, order=order)
    notch = design_notch(rate_hz, mains_hz)
    return bp if notch is None else notch.then(bp)


def acc_lowpass_cutoff(rate_hz: float) -> float:
    """Accelerometer low-pass corner (Hz): min(20 Hz, 0.9 x Nyquist)."""
    rate_hz = _check_rate(rate_hz)
    return min(ACC_LOWPASS_HZ, NYQUIST_FRACTION * rate_hz / 2.0)


def design_acc_lowpass(rate_hz: float, *, order: int = 4) -> FilterDesign:
    """Butterworth low-pass at :func:`acc_lowpass_cutoff`."""
    fc = acc_lowpass_cutoff(rate_hz)
    if fc <= 8.0:
        raise ConfigError(
            f"accelerometer rate {rate_hz:g} Hz is too low: the 3-8 Hz clonus band needs a "
            "rate of at least ~20 Hz"
        )
    return FilterDesign(_butter(order, fc, "lowpass", rate_hz), rate_hz, f"lowpass {fc:g} Hz")


def design_gravity_highpass(
    rate_hz: float, cutoff_hz: float = GRAVITY_CUTOFF_HZ, *, order: int = 2
) -> FilterDesign:
    """Butterworth high-pass that removes gravity (and slow posture drift) from acceleration."""
    rate_hz = _check_rate(rate_hz)
    if not 0 < cutoff_hz < rate_hz / 2:
        raise ConfigError(f"cutoff_hz must lie in (0, {rate_hz / 2:g}) Hz (got {cutoff_hz!r})")
    sos = _butter(order, cutoff_hz, "highpass", rate_hz)
    return FilterDesign(sos, rate_hz, f"highpass {cutoff_hz:g} Hz (order {order})")


class SosFilter:
    """A causal SOS filter with steady-state start: ``update(x) -> y``, ``reset()``.

    Parameters
    ----------
    design : FilterDesign
        The frozen design.

    Notes
    -----
    The state is created from the first sample seen (steady state), so a constant input gives
    a constant output (0 for a band-pass) from the very first sample. ``update`` on chunks
    equals one ``update`` on the concatenation.
    """

    def __init__(self, design: FilterDesign) -> None:
        self.design = design
        self._zi: np.ndarray | None = None

    @property
    def state(self) -> np.ndarray | None:
        """Current state ``(n_sections, 2, n_channels)`` (``None`` before the first sample)."""
        return self._zi

    def update(self, x: np.ndarray) -> np.ndarray:
        """Filter the next chunk ``(n_samples, n_channels)``; returns the same shape and dtype."""
        x = as_samples(x)
        if x.shape[0] == 0:
            return x.copy()
        y, self._zi = sos_step(self.design, x, self._zi)
        return y

    def reset(self) -> None:
        """Forget the state; the next sample starts the filter in steady state again."""
        self._zi = None


def magnitude(x: np.ndarray) -> np.ndarray:
    """Euclidean norm across channels: ``(n_samples, n_channels) -> (n_samples, 1)``."""
    x = as_samples(x)
    return np.sqrt(np.sum(np.square(x, dtype=np.float64), axis=1, keepdims=True)).astype(x.dtype)


def jerk_step(
    x: np.ndarray, rate_hz: float, last: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Causal first difference times the rate (units/s): ``(y, new_last)``.

    ``last`` is the previous chunk's last sample ``(n_channels,)`` (float64) or ``None`` at the
    start, where the first sample is its own predecessor (jerk 0: steady start).
    """
    x = as_samples(x)
    if x.shape[0] == 0:
        return x.copy(), last
    x64 = x.astype(np.float64, copy=False)
    prev = x64[0] if last is None else last
    d = np.diff(x64, axis=0, prepend=prev[None, :]) * rate_hz
    return d.astype(x.dtype, copy=False), x64[-1].copy()


class Jerk:
    """Streaming jerk (derivative x rate, units/s); state is the last sample seen."""

    def __init__(self, rate_hz: float) -> None:
        self.rate_hz = _check_rate(rate_hz)
        self._last: np.ndarray | None = None

    def update(self, x: np.ndarray) -> np.ndarray:
        """Jerk of the next chunk ``(n_samples, n_channels)``, same shape and dtype."""
        y, self._last = jerk_step(x, self.rate_hz, self._last)
        return y

    def reset(self) -> None:
        """Forget the last sample."""
        self._last = None


class AccConditioner:
    """Accelerometer conditioning: low-pass, then gravity separation, then jerk.

    ``update(x)`` takes ``(n_samples, 3)`` acceleration and returns ``(n_samples, 9)``: the
    dynamic acceleration (low-passed minus gravity, 3 columns), the gravity estimate (the
    low-frequency complement, 3 columns; its direction is the sensor's orientation) and the
    jerk of the low-passed acceleration (3 columns, units/s). Units are the input's.

    Parameters
    ----------
    rate_hz : float
        Sample rate (Hz).
    gravity_cutoff_hz : float
        High-pass corner separating dynamic acceleration from gravity (Hz).
    """

    def __init__(self, rate_hz: float, gravity_cutoff_hz: float = GRAVITY_CUTOFF_HZ) -> None:
        self.rate_hz = _check_rate(rate_hz)
        self.lowpass = SosFilter(design_acc_lowpass(rate_hz))
        self.highpass = SosFilter(design_gravity_highpass(rate_hz, gravity_cutoff_hz))
        self.jerk = Jerk(rate_hz)

    def update(self, x: np.ndarray) -> np.ndarray:
        """Condition the next chunk; see the class docstring for the 9 output columns."""
        x = as_samples(x)
        low = self.lowpass.update(x)
        dyn = self.highpass.update(low)
        grav = low - dyn
        jerk = self.jerk.update(low)
        return np.concatenate([dyn, grav, jerk], axis=1)

    def reset(self) -> None:
        """Forget all state."""
        self.lowpass.reset()
        self.highpass.reset()
        self.jerk.reset()
