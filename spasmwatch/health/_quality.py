"""EMG signal quality per channel and window: contact lost, saturation, powerline, motion.

Each window of ``window_s`` seconds of one EMG stream gets, for every channel, four numbers
and a status:

========================  ==========================================================
metric                    meaning
========================  ==========================================================
``rms``                   RMS after removing the window mean (spec units)
``rail_fraction``         share of samples at or beyond the ADC rails (0-1); NaN when
                          the rails are unknown (non-count units and no ``full_scale``)
``powerline_ratio``       share of the window's AC power within ``±powerline_bw_hz`` of
                          the mains frequency and its harmonics below Nyquist (0-1)
``lowfreq_ratio``         share of the AC power at or below ``lowfreq_hz`` (0-1)
========================  ==========================================================

Status, first rule that holds wins: ``saturation`` (rail fraction >= threshold),
``contact_lost`` (constant, or RMS below ``contact_k`` times the electrode-off floor),
``powerline`` (powerline ratio >= threshold), ``motion_artefact`` (low-frequency ratio >=
threshold), else ``good``. Rules and defaults are documented in ``docs/device-health.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from spasmwatch.core import SampleBlock, StreamSpec
from spasmwatch.errors import ConfigError, SignalError

__all__ = [
    "QUALITY_STATUSES",
    "ChannelQuality",
    "EmgQualityMonitor",
    "QualityReport",
    "QualityThresholds",
    "assess_emg_quality",
    "default_contact_floor",
    "default_rails",
]

#: Channel statuses, best first.
QUALITY_STATUSES = ("good", "contact_lost", "saturation", "powerline", "motion_artefact")

#: Electrode-off noise floor (RMS, spec units) by unit when the caller gives none.
#: ``counts``: the Myo's int8 ADC; a channel whose only variation is rounding (uniform
#: quantisation noise has RMS 1/sqrt(12) = 0.29 count) carries no signal. Real Myo rest
#: windows go down to about 0.85 count RMS (measured on the myo-readings files).
#: ``uV``/``mV``/``V``: 1 µV, about the input noise of a surface-EMG front end.
_FLOORS = {"counts": 0.3, "uv": 1.0, "µv": 1.0, "mv": 1e-3, "v": 1e-6}


def default_contact_floor(spec: StreamSpec) -> float:
    """Electrode-off noise floor (RMS in ``spec.units``) used when none is configured.

    Raises
    ------
    ConfigError
        If the units are not ones with a known default; pass ``contact_floor``.
    """
    f = _FLOORS.get(spec.units.lower())
    if f is None:
        raise ConfigError(
            f"EmgQualityMonitor: no default electrode-off floor for units {spec.units!r} of "
            f"stream {spec.key}; known units: {sorted(_FLOORS)}. Pass contact_floor= (RMS in "
            f"{spec.units})"
        )
    return f


def default_rails(spec: StreamSpec) -> tuple[float, float] | None:
    """ADC rails ``(low, high)`` in spec units: int8 ``(-128, 127)`` for ``counts``, else None."""
    if spec.units.lower() == "counts":
        return (-128.0, 127.0)
    return None


def _check_ratio(name: str, v: object, *, lo_open: bool = True) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ConfigError(f"{name} must be a finite number (got {v!r})")
    if not (0.0 < v <= 1.0 if lo_open else 0.0 <= v <= 1.0):
        raise ConfigError(f"{name} must be in (0, 1] (got {v!r})")
    return float(v)


def _check_pos(name: str, v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
        raise ConfigError(f"{name} must be a finite number > 0 (got {v!r})")
    return float(v)


@dataclass(frozen=True, slots=True)
class QualityThresholds:
    """Decision thresholds of :class:`EmgQualityMonitor`.

    Parameters
    ----------
    contact_k : float
        ``contact_lost`` when the window RMS is below ``contact_k`` × the electrode-off floor.
    rail_fraction : float
        ``saturation`` when at least this share of samples sits at the rails (0-1].
    powerline_ratio : float
        ``powerline`` when at least this share of the AC power is mains (0-1].
    lowfreq_ratio : float
        ``motion_artefact`` when at least this share of the AC power is at or below
        ``lowfreq_hz`` (0-1].
    lowfreq_hz : float
        Upper edge of the motion-artefact band (Hz); surface EMG carries little below 20 Hz.
    powerline_bw_hz : float
        Half-width of each mains band (Hz).

    Notes
    -----
    Defaults were set on the real Myo recordings (``myo-readings``, 1 s windows): the 99th
    percentile of the low-frequency ratio is 0.32 and of the rail fraction 0.04; see
    ``docs/device-health.md`` for the measured shares.
    """

    contact_k: float = 1.5
    rail_fraction: float = 0.05
    powerline_ratio: float = 0.5
    lowfreq_ratio: float = 0.5
    lowfreq_hz: float = 20.0
    powerline_bw_hz: float = 2.0

    def __post_init__(self) -> None:
        _check_pos("QualityThresholds.contact_k", self.contact_k)
        for name in ("rail_fraction", "powerline_ratio", "lowfreq_ratio"):
            _check_ratio(f"QualityThresholds.{name}", getattr(self, name))
        _check_pos("QualityThresholds.lowfreq_hz", self.lowfreq_hz)
        _check_pos("QualityThresholds.powerline_bw_hz", self.powerline_bw_hz)


def _metric(name: str, v: object, *, ratio: bool, nan_ok: bool = False) -> float:
    if isinstance(v, np.floating):
        v = float(v)
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise SignalError(f"ChannelQuality.{name} must be a number (got {v!r})")
    v = float(v)
    if math.isnan(v):
        if nan_ok:
            return v
        raise SignalError(f"ChannelQuality.{name} must not be NaN")
    if v < 0 or (ratio and v > 1.0 + 1e-9) or math.isinf(v):
        rng = "[0, 1]" if ratio else ">= 0 and finite"
        raise SignalError(f"ChannelQuality.{name} must be {rng} (got {v!r})")
    return min(v, 1.0) if ratio else v


@dataclass(frozen=True, slots=True)
class ChannelQuality:
    """Quality of one EMG channel over one window.

    Parameters
    ----------
    channel : str
        Channel name (from the stream spec).
    status : str
        One of :data:`QUALITY_STATUSES`.
    rms : float
        RMS after removing the window mean, in the stream's units.
    rail_fraction : float
        Share of samples at the ADC rails (0-1), NaN when the rails are unknown.
    powerline_ratio : float
        Share of AC power in the mains bands (0-1).
    lowfreq_ratio : float
        Share of AC power at or below the motion band edge (0-1).
    """

    channel: str
    status: str
    rms: float
    rail_fraction: float
    powerline_ratio: float
    lowfreq_ratio: float

    def __post_init__(self) -> None:
        if not isinstance(self.channel, str) or not self.channel:
            raise SignalError(f"ChannelQuality.channel must be a name (got {self.channel!r})")
        if self.status not in QUALITY_STATUSES:
            raise SignalError(
                f"ChannelQuality.status must be one of {QUALITY_STATUSES} (got {self.status!r})"
            )
        object.__setattr__(self, "rms", _metric("rms", self.rms, ratio=False))
        object.__setattr__(
            self, "rail_fraction", _metric("rail_fraction", self.rail_fraction, ratio=True,
                                           nan_ok=True)
        )  # fmt: skip
        for name in ("powerline_ratio", "lowfreq_ratio"):
            object.__setattr__(self, name, _metric(name, getattr(self, name), ratio=True))

    @property
    def good(self) -> bool:
        """True when the status is ``good``."""
        return self.status == "good"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (NaN rail fraction becomes ``None``)."""
        rf = None if math.isnan(self.rail_fraction) else self.rail_fraction
        return {
            "channel": self.channel,
            "status": self.status,
            "rms": self.rms,
            "rail_fraction": rf,
            "powerline_ratio": self.powerline_ratio,
            "lowfreq_ratio": self.lowfreq_ratio,
        }

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> ChannelQuality:
        """Inverse of :meth:`to_dict`."""
        rf = d.get("rail_fraction")
        return cls(
            str(d["channel"]),
            str(d["status"]),
            float(d["rms"]),  # type: ignore[arg-type]
            math.nan if rf is None else float(rf),  # type: ignore[arg-type]
            float(d["powerline_ratio"]),  # type: ignore[arg-type]
            float(d["lowfreq_ratio"]),  # type: ignore[arg-type]
        )


@dataclass(frozen=True, slots=True)
class QualityReport:
    """Quality of every channel of one EMG stream over one window.

    Parameters
    ----------
    stream : str
        Stream key, ``"<device>.<kind>"``.
    start_ns : int
        UTC ns of the window's first sample.
    end_ns : int
        UTC ns one nominal sample period after the window's last sample (exclusive end).
    channels : tuple of ChannelQuality
        One entry per channel, in spec order.
    """

    stream: str
    start_ns: int
    end_ns: int
    channels: tuple[ChannelQuality, ...]

    def __post_init__(self) -> None:
        for name in ("start_ns", "end_ns"):
            v = getattr(self, name)
            if isinstance(v, np.integer):
                object.__setattr__(self, name, int(v))
            elif isinstance(v, bool) or not isinstance(v, int):
                raise SignalError(f"QualityReport.{name} must be an int of UTC ns (got {v!r})")
        if self.end_ns < self.start_ns:
            raise SignalError(
                f"QualityReport.end_ns ({self.end_ns}) must be >= start_ns ({self.start_ns})"
            )
        if isinstance(self.channels, list):
            object.__setattr__(self, "channels", tuple(self.channels))
        if not self.channels or not all(isinstance(c, ChannelQuality) for c in self.channels):
            raise SignalError("QualityReport.channels must be a non-empty tuple of ChannelQuality")

    @property
    def device(self) -> str:
        """Device part of the stream key."""
        return self.stream.rsplit(".", 1)[0]

    @property
    def statuses(self) -> tuple[str, ...]:
        """Status of each channel, in spec order."""
        return tuple(c.status for c in self.channels)

    @property
    def any_good(self) -> bool:
        """True when at least one channel is ``good`` (the window is usable)."""
        return any(c.status == "good" for c in self.channels)

    @property
    def all_contact_lost(self) -> bool:
        """True when every channel is at the electrode-off floor (supports "not worn")."""
        return all(c.status == "contact_lost" for c in self.channels)

    @property
    def duration_s(self) -> float:
        """Window length in seconds."""
        return (self.end_ns - self.start_ns) / 1e9

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (for the live bus and the recording's quality table)."""
        return {
            "stream": self.stream,
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "channels": [c.to_dict() for c in self.channels],
        }

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> QualityReport:
        """Inverse of :meth:`to_dict`."""
        return cls(
            str(d["stream"]),
            int(d["start_ns"]),  # type: ignore[arg-type]
            int(d["end_ns"]),  # type: ignore[arg-type]
            tuple(ChannelQuality.from_dict(c) for c in d["channels"]),  # type: ignore[attr-defined]
        )


class EmgQualityMonitor:
    """Streaming per-channel EMG quality, one :class:`QualityReport` per full window.

    Parameters
    ----------
    spec : StreamSpec
        The EMG stream (``kind == "emg"``).
    window_s : float
        Window length (s); rounded to whole samples (at least 8). Windows do not overlap.
    powerline_hz : float or sequence of float
        Mains frequency, 50 or 60 Hz (any value > 0 is accepted), or several: the default
        ``(50, 60)`` watches both grids' bands, as the wearer's grid is not known.
    full_scale : tuple of float, optional
        ADC rails ``(low, high)`` in spec units; default int8 ``(-128, 127)`` for ``counts``,
        otherwise unknown (saturation is then never reported and ``rail_fraction`` is NaN).
    contact_floor : float, optional
        Electrode-off noise floor, RMS in spec units; default :func:`default_contact_floor`.
    thresholds : QualityThresholds
        Decision thresholds.

    Notes
    -----
    Windows start at the first sample and restart after every gap (a block whose
    ``gaps`` is non-empty or whose ``first_index`` jumps); the partial window before a gap
    is dropped, as the gap itself carries the loss. Hence cutting the same samples into any
    chunks gives the same reports (:func:`assess_emg_quality` is the batch form).
    """

    def __init__(
        self,
        spec: StreamSpec,
        *,
        window_s: float = 1.0,
        powerline_hz: float | Sequence[float] = (50.0, 60.0),
        full_scale: tuple[float, float] | None = None,
        contact_floor: float | None = None,
        thresholds: QualityThresholds | None = None,
    ) -> None:
        if not isinstance(spec, StreamSpec):
            raise ConfigError(f"EmgQualityMonitor.spec must be a StreamSpec (got {spec!r})")
        if spec.kind != "emg":
            raise ConfigError(
                f"EmgQualityMonitor needs an EMG stream (got {spec.key} of kind {spec.kind!r})"
            )
        self.spec = spec
        self.window_s = _check_pos("EmgQualityMonitor.window_s", window_s)
        freqs = (powerline_hz,) if isinstance(powerline_hz, int | float) else powerline_hz
        self.powerline_hz = tuple(_check_pos("EmgQualityMonitor.powerline_hz", f) for f in freqs)
        if not self.powerline_hz:
            raise ConfigError("EmgQualityMonitor.powerline_hz needs at least one frequency")
        self.n_window = max(8, round(self.window_s * spec.rate_hz))
        rails = full_scale if full_scale is not None else default_rails(spec)
        if rails is not None:
            lo, hi = (float(v) for v in rails)
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ConfigError(
                    f"EmgQualityMonitor.full_scale must be (low, high) with low < high "
                    f"(got {full_scale!r})"
                )
            rails = (lo, hi)
        self.rails = rails
        self.contact_floor = (
            default_contact_floor(spec)
            if contact_floor is None
            else _check_pos("EmgQualityMonitor.contact_floor", contact_floor)
        )
        self.thresholds = thresholds if thresholds is not None else QualityThresholds()
        if not isinstance(self.thresholds, QualityThresholds):
            raise ConfigError(
                f"EmgQualityMonitor.thresholds must be QualityThresholds (got {thresholds!r})"
            )
        fr = np.fft.rfftfreq(self.n_window, 1.0 / spec.rate_hz)
        th = self.thresholds
        self._taper = np.hanning(self.n_window)[:, None]
        self._ac = fr > 0
        self._low = self._ac & (fr <= th.lowfreq_hz)
        pl = np.zeros(fr.shape, bool)
        nyq = spec.rate_hz / 2.0
        for f0 in self.powerline_hz:
            h = 1
            while h * f0 - th.powerline_bw_hz <= nyq:
                pl |= np.abs(fr - h * f0) <= th.powerline_bw_hz
                h += 1
        self._pl = pl & self._ac
        self._buf = np.empty((self.n_window, spec.n_channels), np.float64)
        self._buf_t0 = 0
        self._fill = 0
        self._next_index: int | None = None

    def reset(self) -> None:
        """Forget buffered samples; the next block starts a new window."""
        self._fill = 0
        self._next_index = None

    def update(self, block: SampleBlock) -> list[QualityReport]:
        """Reports for every window completed by ``block``.

        Parameters
        ----------
        block : SampleBlock
            Next block of this stream (same spec).

        Returns
        -------
        list of QualityReport
            In time order; empty while a window is still filling.
        """
        if not isinstance(block, SampleBlock) or block.spec != self.spec:
            got = block.spec.key if isinstance(block, SampleBlock) else type(block).__name__
            raise SignalError(
                f"EmgQualityMonitor({self.spec.key}).update: expected a SampleBlock of this "
                f"stream (got {got}); use one monitor per stream"
            )
        if block.gaps or (self._next_index is not None and block.first_index != self._next_index):
            self._fill = 0
        self._next_index = block.end_index
        x = block.data
        t = block.t_ns
        n = x.shape[0]
        out: list[QualityReport] = []
        i = 0
        w = self.n_window
        if self._fill and n:
            take = min(w - self._fill, n)
            self._buf[self._fill : self._fill + take] = x[:take]
            self._fill += take
            i = take
            if self._fill == w:
                out.extend(self._assess(self._buf[None], [self._buf_t0], [int(t[take - 1])]))
                self._fill = 0
        k = (n - i) // w
        if k:
            wins = x[i : i + k * w].astype(np.float64).reshape(k, w, -1)
            starts = t[i : i + k * w : w]
            ends = t[i + w - 1 : i + k * w : w]
            out.extend(self._assess(wins, starts.tolist(), ends.tolist()))
            i += k * w
        if i < n:
            rest = n - i
            self._buf[:rest] = x[i:]
            self._buf_t0 = int(t[i])
            self._fill = rest
        return out

    def _assess(
        self, wins: np.ndarray, starts: list[int], last_t: list[int]
    ) -> list[QualityReport]:
        """Reports for windows ``wins`` (k, n_window, n_channels) float64."""
        m = window_metrics(wins, self._taper, self._ac, self._low, self._pl, self.rails)
        rms, rail, plr, lfr = m
        th = self.thresholds
        floor = th.contact_k * self.contact_floor
        status = np.zeros(rms.shape, np.int8)  # 0 good
        status[lfr >= th.lowfreq_ratio] = 4
        status[plr >= th.powerline_ratio] = 3
        status[rms < floor] = 1
        if self.rails is not None:
            status[rail >= th.rail_fraction] = 2
        names = self.spec.channels
        period = round(self.spec.period_ns)
        out = []
        for j in range(wins.shape[0]):
            chans = tuple(
                ChannelQuality(
                    names[c],
                    QUALITY_STATUSES[status[j, c]],
                    float(rms[j, c]),
                    float(rail[j, c]),
                    float(plr[j, c]),
                    float(lfr[j, c]),
                )
                for c in range(len(names))
            )
            out.append(QualityReport(self.spec.key, int(starts[j]), int(last_t[j]) + period, chans))
        return out


def window_metrics(
    wins: np.ndarray,
    taper: np.ndarray,
    ac: np.ndarray,
    low: np.ndarray,
    pl: np.ndarray,
    rails: tuple[float, float] | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Quality metrics of windows ``(k, n, n_channels)``; each result is ``(k, n_channels)``.

    ``taper`` is a ``(n, 1)`` window function; ``ac``, ``low``, ``pl`` are boolean masks over
    the ``rfft`` bins (AC bins, low-frequency band, mains bands). Returns RMS (mean removed),
    rail fraction (NaN without rails), powerline ratio and low-frequency ratio.
    """
    x0 = wins - wins.mean(axis=1, keepdims=True)
    rms = np.sqrt(np.mean(x0 * x0, axis=1))
    if rails is None:
        rail = np.full(rms.shape, np.nan)
    else:
        rail = np.mean((wins <= rails[0]) | (wins >= rails[1]), axis=1)
    p = np.abs(np.fft.rfft(x0 * taper[None], axis=1)) ** 2
    tot = p[:, ac].sum(axis=1)
    safe = np.where(tot > 0, tot, 1.0)
    plr = np.where(tot > 0, p[:, pl].sum(axis=1) / safe, 0.0)
    lfr = np.where(tot > 0, p[:, low].sum(axis=1) / safe, 0.0)
    return rms, rail, np.clip(plr, 0.0, 1.0), np.clip(lfr, 0.0, 1.0)


def assess_emg_quality(
    spec: StreamSpec, t_ns: np.ndarray, data: np.ndarray, **kwargs: object
) -> list[QualityReport]:
    """Batch form of :class:`EmgQualityMonitor`: the reports of a whole gap-free recording.

    Parameters
    ----------
    spec : StreamSpec
        The EMG stream.
    t_ns : numpy.ndarray
        int64 UTC ns, shape ``(n_samples,)``.
    data : numpy.ndarray
        Samples ``(n_samples, n_channels)`` in ``spec.units``.
    **kwargs
        Passed to :class:`EmgQualityMonitor`.
    """
    mon = EmgQualityMonitor(spec, **kwargs)  # type: ignore[arg-type]
    return mon.update(SampleBlock(spec, np.asarray(t_ns, np.int64), data))
