"""Not-worn detection from accelerometer stillness, supported by the EMG electrode-off floor.

A device lying on a table is still, its gravity vector does not turn, and what little its
accelerometer reports is the sensor's own white noise. A wearer asleep is also still for
long stretches, but the body moves the sensor a little all the time (breathing, pulse,
small shifts): slow, smooth motion, not white noise. :class:`NotWornDetector` uses all three
clues, per one-second epoch of the ACC stream:

1. dynamic acceleration (the norm of the per-axis standard deviations) below
   ``still_std_mg``;
2. the mean acceleration (gravity) within ``max_angle_deg`` of the run's first epoch;
3. over the still run, the noise is white: ``L·var(means of L-sample blocks) / var(samples)``
   (about 1 for white noise, well above 1 for slow body motion) at most ``white_ratio_max``.

A still run of ``still_s`` seconds that passes (3) makes the device "not worn" from the
run's start. EMG quality reports support the decision: every EMG channel at the
electrode-off floor for ``emg_off_s`` (default 2 min) during a still run is enough; a
``good`` EMG window during the run vetoes it. A device without ACC is "not worn" after
``still_s`` of EMG at the floor. Back to "worn" needs a clear movement (dynamic acceleration
of at least ``move_std_mg`` or a turn of the gravity vector by more than ``max_angle_deg``),
or ``emg_good_s`` of good EMG: hysteresis, so sensor noise on a table does not flicker the
state. Limits are in ``docs/device-health.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from spasmwatch.core import SampleBlock, StreamSpec
from spasmwatch.errors import ConfigError, SignalError
from spasmwatch.health._quality import EmgQualityMonitor, QualityReport

__all__ = ["WEAR_STATES", "NotWornDetector", "WearStateChange", "acc_unit_factor"]

#: States a device can be in.
WEAR_STATES = ("worn", "not_worn")

_REASONS = frozenset({"acc_still", "emg_off", "acc_motion", "emg_good"})

_ACC_FACTORS = {"mg": 1.0, "g": 1000.0, "m/s^2": 1000.0 / 9.80665, "m/s2": 1000.0 / 9.80665}


def acc_unit_factor(spec: StreamSpec) -> float:
    """Factor from the ACC stream's units to mG.

    Raises
    ------
    ConfigError
        For units other than ``mG``, ``g``, ``m/s^2``.
    """
    f = _ACC_FACTORS.get(spec.units.lower())
    if f is None:
        raise ConfigError(
            f"NotWornDetector: ACC stream {spec.key} has units {spec.units!r}; expected one of "
            f"{sorted(_ACC_FACTORS)}"
        )
    return f


@dataclass(frozen=True, slots=True)
class WearStateChange:
    """The wear state of one device changed.

    Parameters
    ----------
    device : str
        Device instance name.
    state : str
        New state, one of :data:`WEAR_STATES`.
    t_ns : int
        UTC ns from which the new state holds (for "not worn": the start of the still run,
        which lies before the decision).
    detected_ns : int
        UTC ns (data time) at which the detector decided; ``>= t_ns``.
    reason : str
        ``"acc_still"`` (long stillness, white noise), ``"emg_off"`` (electrode-off floor,
        with stillness where the device has ACC), ``"acc_motion"`` or ``"emg_good"``.
    """

    device: str
    state: str
    t_ns: int
    detected_ns: int
    reason: str

    def __post_init__(self) -> None:
        if self.state not in WEAR_STATES:
            raise SignalError(f"WearStateChange.state must be one of {WEAR_STATES} "
                              f"(got {self.state!r})")  # fmt: skip
        if self.reason not in _REASONS:
            raise SignalError(
                f"WearStateChange.reason must be one of {sorted(_REASONS)} (got {self.reason!r})"
            )
        for name in ("t_ns", "detected_ns"):
            v = getattr(self, name)
            if isinstance(v, np.integer):
                object.__setattr__(self, name, int(v))
            elif isinstance(v, bool) or not isinstance(v, int):
                raise SignalError(f"WearStateChange.{name} must be an int of UTC ns (got {v!r})")
        if self.detected_ns < self.t_ns:
            raise SignalError(
                f"WearStateChange.detected_ns ({self.detected_ns}) must be >= t_ns ({self.t_ns})"
            )

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "device": self.device,
            "state": self.state,
            "t_ns": self.t_ns,
            "detected_ns": self.detected_ns,
            "reason": self.reason,
        }


def _pos(name: str, v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
        raise ConfigError(f"NotWornDetector.{name} must be a finite number > 0 (got {v!r})")
    return float(v)


class _AccEpochs:
    """Cuts one ACC stream into epochs of ``n`` samples (restarting after gaps)."""

    def __init__(self, spec: StreamSpec, epoch_s: float, block_s: float) -> None:
        self.spec = spec
        self.factor = acc_unit_factor(spec)
        self.n = max(2, round(epoch_s * spec.rate_hz))
        lb = round(block_s * spec.rate_hz)
        self.nb = self.n // lb if lb >= 2 else 0
        self.lb = lb if self.nb >= 2 else 0
        self.buf = np.empty((self.n, spec.n_channels), np.float64)
        self.fill = 0
        self.t0 = 0
        self.next_index: int | None = None

    def reset(self) -> None:
        self.fill = 0
        self.next_index = None

    def feed(self, block: SampleBlock) -> tuple[list[tuple[int, int, np.ndarray]], int]:
        """Epochs completed by ``block`` as ``(start_ns, end_ns, stats)``; and the longest gap
        (ns) the block follows, -1 if none. ``stats`` = mean(3), var(3), L·var(block means)(3)."""
        gap_ns = -1
        if block.gaps:
            gap_ns = max(g.end_ns - g.start_ns for g in block.gaps)
        if self.next_index is not None and block.first_index != self.next_index:
            gap_ns = max(gap_ns, round((block.first_index - self.next_index) * self.spec.period_ns))
        if gap_ns >= 0:
            self.fill = 0
        self.next_index = block.end_index
        x = block.data
        t = block.t_ns
        n = x.shape[0]
        wins: list[np.ndarray] = []
        spans: list[tuple[int, int]] = []
        period = round(self.spec.period_ns)
        i = 0
        if self.fill and n:
            take = min(self.n - self.fill, n)
            self.buf[self.fill : self.fill + take] = x[:take]
            self.fill += take
            i = take
            if self.fill == self.n:
                wins.append(self.buf[None].copy())
                spans.append((self.t0, int(t[take - 1]) + period))
                self.fill = 0
        k = (n - i) // self.n
        if k:
            wins.append(x[i : i + k * self.n].astype(np.float64).reshape(k, self.n, -1))
            for j in range(k):
                a = i + j * self.n
                spans.append((int(t[a]), int(t[a + self.n - 1]) + period))
            i += k * self.n
        if i < n:
            self.buf[: n - i] = x[i:]
            self.t0 = int(t[i])
            self.fill = n - i
        if not wins:
            return [], gap_ns
        w = np.concatenate(wins, axis=0) * self.factor
        mean = w.mean(axis=1)
        var = w.var(axis=1, ddof=1)
        if self.lb:
            bm = w[:, : self.nb * self.lb].reshape(w.shape[0], self.nb, self.lb, -1).mean(axis=2)
            lvar = self.lb * bm.var(axis=1, ddof=1)
        else:
            lvar = np.full(var.shape, np.nan)
        stats = np.concatenate([mean, var, lvar], axis=1)
        return [(a, b, stats[j]) for j, (a, b) in enumerate(spans)], gap_ns


class NotWornDetector:
    """Streaming wear state of one device from its ACC and/or EMG streams.

    Parameters
    ----------
    specs : sequence of StreamSpec
        Streams of one device: at most one ``acc`` stream (``mG``, ``g`` or ``m/s^2``) and any
        number of ``emg`` streams. Other kinds are ignored.
    still_s : float
        Seconds of stillness (or, without ACC, of EMG at the floor) before "not worn".
    epoch_s : float
        ACC epoch length (s).
    still_std_mg : float
        An epoch is still when the norm of its per-axis standard deviations is below this (mG).
    move_std_mg : float
        While not worn, an epoch at least this dynamic (mG) means "worn again" (hysteresis).
    max_angle_deg : float
        Gravity must stay within this angle of the run's first epoch (degrees).
    white_ratio_max : float
        Largest whiteness ratio of a still run that can still be a device at rest (>= 1).
    block_s : float
        Block length (s) of the whiteness ratio; below 2 samples per block the test is off.
    emg_off_s : float
        Seconds of all-EMG-channels-at-the-floor (with stillness) that suffice.
    emg_good_s : float
        Seconds of continuous good EMG that mean "worn".
    max_gap_s : float
        A gap longer than this (s) ends the current still run.
    quality : dict, optional
        Keyword arguments for the internal :class:`EmgQualityMonitor` (used when EMG sample
        blocks rather than :class:`QualityReport` objects are passed to :meth:`update`).
    """

    def __init__(
        self,
        specs: Sequence[StreamSpec],
        *,
        still_s: float = 600.0,
        epoch_s: float = 1.0,
        still_std_mg: float = 10.0,
        move_std_mg: float = 20.0,
        max_angle_deg: float = 3.0,
        white_ratio_max: float = 1.5,
        block_s: float = 0.25,
        emg_off_s: float = 120.0,
        emg_good_s: float = 5.0,
        max_gap_s: float = 60.0,
        quality: dict[str, object] | None = None,
    ) -> None:
        specs = list(specs)
        if not specs or not all(isinstance(s, StreamSpec) for s in specs):
            raise ConfigError(f"NotWornDetector.specs must be StreamSpec objects (got {specs!r})")
        devices = {s.device for s in specs}
        if len(devices) != 1:
            raise ConfigError(
                f"NotWornDetector watches one device; got streams of {sorted(devices)}. "
                "Use one detector per device"
            )
        self.device = specs[0].device
        accs = [s for s in specs if s.kind == "acc"]
        if len(accs) > 1:
            raise ConfigError(f"NotWornDetector takes one ACC stream (got {len(accs)})")
        self.acc_spec = accs[0] if accs else None
        self.emg_specs = tuple(s for s in specs if s.kind == "emg")
        if self.acc_spec is None and not self.emg_specs:
            raise ConfigError(
                f"NotWornDetector needs an acc or emg stream of {self.device} "
                f"(got kinds {sorted({s.kind for s in specs})})"
            )
        self.still_s = _pos("still_s", still_s)
        self.epoch_s = _pos("epoch_s", epoch_s)
        self.still_std_mg = _pos("still_std_mg", still_std_mg)
        self.move_std_mg = _pos("move_std_mg", move_std_mg)
        if self.move_std_mg < self.still_std_mg:
            raise ConfigError(
                f"NotWornDetector.move_std_mg ({move_std_mg}) must be >= still_std_mg "
                f"({still_std_mg}) for hysteresis"
            )
        self.max_angle_deg = _pos("max_angle_deg", max_angle_deg)
        self.white_ratio_max = _pos("white_ratio_max", white_ratio_max)
        self.block_s = _pos("block_s", block_s)
        self.emg_off_s = _pos("emg_off_s", emg_off_s)
        self.emg_good_s = _pos("emg_good_s", emg_good_s)
        self.max_gap_s = _pos("max_gap_s", max_gap_s)
        self._cos_max = math.cos(math.radians(self.max_angle_deg))
        self._acc = _AccEpochs(self.acc_spec, self.epoch_s, self.block_s) if self.acc_spec else None
        qkw = dict(quality or {})
        self._monitors = {s.key: EmgQualityMonitor(s, **qkw) for s in self.emg_specs}  # type: ignore[arg-type]
        self.reset()

    # -- state -------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the initial state ("worn", nothing seen)."""
        self._state = "worn"
        if self._acc is not None:
            self._acc.reset()
        for m in self._monitors.values():
            m.reset()
        self._run_start: int | None = None
        self._run_ref: np.ndarray | None = None
        self._run_var = 0.0
        self._run_lvar = 0.0
        self._run_white_known = True
        self._emg_off_since: dict[str, int | None] = {s.key: None for s in self.emg_specs}
        self._emg_good_since: dict[str, int | None] = {s.key: None for s in self.emg_specs}
        self._emg_good_last = -1
        self._last_change_ns: int | None = None

    @property
    def state(self) -> str:
        """Current state: ``"worn"`` or ``"not_worn"``."""
        return self._state

    @property
    def still_since_ns(self) -> int | None:
        """UTC ns at which the current still run began, or None when moving."""
        return self._run_start

    # -- input ---------------------------------------------------------------------------
    def update(self, item: SampleBlock | QualityReport) -> list[WearStateChange]:
        """Feed the next ACC block, EMG block or EMG quality report of this device.

        Returns
        -------
        list of WearStateChange
            State changes decided by this input, in time order (usually empty).
        """
        if isinstance(item, QualityReport):
            if item.stream not in self._emg_off_since:
                raise SignalError(
                    f"NotWornDetector({self.device}): quality report of unknown stream "
                    f"{item.stream}; expected one of {sorted(self._emg_off_since)}"
                )
            return self._emg([item])
        if not isinstance(item, SampleBlock):
            raise SignalError(
                f"NotWornDetector.update expects a SampleBlock or QualityReport "
                f"(got {type(item).__name__})"
            )
        spec = item.spec
        if self.acc_spec is not None and spec == self.acc_spec:
            return self._acc_block(item)
        if spec.key in self._monitors and self._monitors[spec.key].spec == spec:
            return self._emg(self._monitors[spec.key].update(item))
        if spec.device != self.device or spec.kind in ("acc", "emg"):
            raise SignalError(
                f"NotWornDetector({self.device}): block of stream {spec.key} is not one of "
                f"the streams it was made for"
            )
        return []  # gyro, quat, ... carry no wear evidence here

    # -- EMG -----------------------------------------------------------------------------
    def _all_off_since(self) -> int | None:
        vals = list(self._emg_off_since.values())
        if not vals or any(v is None for v in vals):
            return None
        return max(v for v in vals if v is not None)

    def _emg(self, reports: list[QualityReport]) -> list[WearStateChange]:
        out: list[WearStateChange] = []
        for r in reports:
            k = r.stream
            if r.all_contact_lost:
                if self._emg_off_since[k] is None:
                    self._emg_off_since[k] = r.start_ns
            else:
                self._emg_off_since[k] = None
            if r.any_good:
                self._emg_good_last = max(self._emg_good_last, r.end_ns)
                if self._emg_good_since[k] is None:
                    self._emg_good_since[k] = r.start_ns
            else:
                self._emg_good_since[k] = None
            since = self._emg_good_since[k]
            if (
                self._state == "not_worn"
                and since is not None
                and (r.end_ns - since) / 1e9 >= self.emg_good_s
                and (self._last_change_ns is None or since >= self._last_change_ns)
            ):
                out.append(self._change("worn", since, r.end_ns, "emg_good"))
                self._end_run()
            if self.acc_spec is None and self._state == "worn":
                off = self._all_off_since()
                if off is not None and (r.end_ns - off) / 1e9 >= self.still_s:
                    out.append(self._change("not_worn", off, r.end_ns, "emg_off"))
        return out

    # -- ACC -----------------------------------------------------------------------------
    def _end_run(self) -> None:
        self._run_start = None
        self._run_ref = None
        self._run_var = 0.0
        self._run_lvar = 0.0
        self._run_white_known = True

    def _change(self, state: str, t_ns: int, at_ns: int, reason: str) -> WearStateChange:
        self._state = state
        t_ns = max(t_ns, self._last_change_ns) if self._last_change_ns is not None else t_ns
        self._last_change_ns = at_ns
        return WearStateChange(self.device, state, int(t_ns), int(max(at_ns, t_ns)), reason)

    def _acc_block(self, block: SampleBlock) -> list[WearStateChange]:
        assert self._acc is not None
        epochs, gap_ns = self._acc.feed(block)
        if gap_ns > self.max_gap_s * 1e9:
            self._end_run()
        out: list[WearStateChange] = []
        for start, end, st in epochs:
            mean, var, lvar = st[0:3], st[3:6], st[6:9]
            dyn = math.sqrt(float(var.sum()))
            g = float(np.linalg.norm(mean))
            if self._run_ref is not None and g > 0:
                cos = float(np.dot(mean, self._run_ref)) / (
                    g * float(np.linalg.norm(self._run_ref))
                )
                turned = cos < self._cos_max
            else:
                turned = False
            if self._state == "not_worn":
                if dyn >= self.move_std_mg or turned:
                    out.append(self._change("worn", start, end, "acc_motion"))
                    self._end_run()
                    continue
                if dyn >= self.still_std_mg:
                    continue  # hysteresis band: neither still nor a clear movement
            if dyn >= self.still_std_mg or turned or g == 0:
                self._end_run()
                if dyn >= self.still_std_mg or g == 0:
                    continue
            if self._run_start is None:
                self._run_start = start
                self._run_ref = mean.copy()
            self._run_var += float(var.sum())
            if np.all(np.isfinite(lvar)):
                self._run_lvar += float(lvar.sum())
            else:
                self._run_white_known = False
            if self._state == "not_worn":
                continue
            run_s = (end - self._run_start) / 1e9
            if self._emg_good_last > self._run_start:
                continue  # good EMG during the run: someone wears it
            off = self._all_off_since()
            if off is not None and run_s >= self.emg_off_s and (end - off) / 1e9 >= self.emg_off_s:
                out.append(self._change("not_worn", max(self._run_start, off), end, "emg_off"))
                continue
            if run_s >= self.still_s and self._white():
                out.append(self._change("not_worn", self._run_start, end, "acc_still"))
        return out

    def _white(self) -> bool:
        if not self._run_white_known:
            return True
        if self._run_var <= 0:
            return True  # constant output: a sensor at rest (or stuck)
        return self._run_lvar / self._run_var <= self.white_ratio_max

    @property
    def whiteness_ratio(self) -> float:
        """Whiteness ratio of the current still run (NaN when there is none or it is unknown)."""
        if self._run_start is None or not self._run_white_known or self._run_var <= 0:
            return math.nan
        return self._run_lvar / self._run_var
