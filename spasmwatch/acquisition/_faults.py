"""Link and device faults a simulated wearable can inject: :class:`FaultConfig`."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from spasmwatch.errors import ConfigError

__all__ = ["FaultConfig"]


def _check(name: str, v: object, *, lo: float = 0.0, hi: float | None = None) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ConfigError(f"FaultConfig.{name} must be a finite number (got {v!r})")
    if v < lo or (hi is not None and v > hi):
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ConfigError(f"FaultConfig.{name} must be {rng} (got {v!r})")
    return float(v)


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """What goes wrong on a simulated device and its link. The default is a perfect link.

    All randomness comes from the device's seed, so a run is reproducible.

    Parameters
    ----------
    disconnect_every_s : float or None
        Force a link loss after this many seconds of each connection (simulated time);
        ``None`` = never.
    reconnect_delay_s : float
        After a forced link loss the device is unreachable (not advertising, connects fail)
        for this long (s).
    drop_probability : float
        Probability that a notification is lost on the air (never delivered).
    corrupt_probability : float
        Probability that a notification arrives truncated/corrupted so that it cannot be
        decoded.
    burst_delay_probability : float
        Probability, per notification, that the link stalls: this and the following
        notifications are held back and delivered together ``burst_delay_s`` later.
    burst_delay_s : float
        Length of a stall (s).
    clock_drift_ppm : float
        The device's oscillator error: its clock and its sample rate are both off by this
        many parts per million (positive = fast).
    jitter_s : tuple of float
        ``(min, max)`` delivery latency (s), drawn uniformly per notification; delivery
        stays in order (a notification never overtakes an earlier one).
    rssi_dbm : float or tuple of (float, float)
        Received signal strength the host sees (dBm), in advertisements: a constant, or a
        profile ``((t_s, dbm), ...)`` over simulated seconds since the device was added to
        its world, linear between points and held after the last (walking out of range:
        ``((0, -60), (20, -60), (30, -98))``).
    range_limit_dbm : float
        While the RSSI is below this (dBm) the link cannot be held: a connection drops (as
        on a supervision timeout) and the device cannot be found or connected.
    battery_drain_per_h : float
        Battery percentage points used per simulated hour (from ``battery_level`` at the
        time the device was added to its world).
    battery_dies_at : float or None
        When the battery falls to this level (%), the device switches off for good: the link
        drops and it never advertises again. ``None``: it keeps running at 0 %.
    suspend_at_s, suspend_for_s : float or None, float
        Host suspend: ``suspend_at_s`` simulated seconds after the device's first connection,
        the host sleeps for ``suspend_for_s`` s — every link of the world drops and the
        :class:`~spasmwatch.acquisition.SimClock` wall time jumps ahead while its monotonic
        time does not (as Linux's ``CLOCK_MONOTONIC`` stops in suspend).
    """

    disconnect_every_s: float | None = None
    reconnect_delay_s: float = 1.0
    drop_probability: float = 0.0
    corrupt_probability: float = 0.0
    burst_delay_probability: float = 0.0
    burst_delay_s: float = 0.2
    clock_drift_ppm: float = 0.0
    jitter_s: tuple[float, float] = (0.0, 0.0)
    rssi_dbm: float | tuple[tuple[float, float], ...] = -60.0
    range_limit_dbm: float = -100.0
    battery_drain_per_h: float = 0.0
    battery_dies_at: float | None = None
    suspend_at_s: float | None = None
    suspend_for_s: float = 0.0

    def __post_init__(self) -> None:
        if self.disconnect_every_s is not None:
            v = _check("disconnect_every_s", self.disconnect_every_s)
            if v <= 0:
                raise ConfigError(
                    f"FaultConfig.disconnect_every_s must be > 0 s or None (got {v!r})"
                )
            object.__setattr__(self, "disconnect_every_s", v)
        object.__setattr__(
            self, "reconnect_delay_s", _check("reconnect_delay_s", self.reconnect_delay_s)
        )
        for name in ("drop_probability", "corrupt_probability", "burst_delay_probability"):
            object.__setattr__(self, name, _check(name, getattr(self, name), hi=1.0))
        object.__setattr__(self, "burst_delay_s", _check("burst_delay_s", self.burst_delay_s))
        object.__setattr__(
            self,
            "clock_drift_ppm",
            _check("clock_drift_ppm", self.clock_drift_ppm, lo=-10_000.0, hi=10_000.0),
        )
        j = self.jitter_s
        if isinstance(j, list):
            j = tuple(j)
        if not isinstance(j, tuple) or len(j) != 2:
            raise ConfigError(f"FaultConfig.jitter_s must be a (min, max) pair of s (got {j!r})")
        lo, hi = _check("jitter_s[0]", j[0]), _check("jitter_s[1]", j[1])
        if hi < lo:
            raise ConfigError(f"FaultConfig.jitter_s must have min <= max (got {j!r})")
        object.__setattr__(self, "jitter_s", (lo, hi))
        r = self.rssi_dbm
        if isinstance(r, list):
            r = tuple(r)
        if isinstance(r, tuple):
            pts = []
            for i, pt in enumerate(r):
                if not isinstance(pt, tuple | list) or len(pt) != 2:
                    raise ConfigError(
                        f"FaultConfig.rssi_dbm[{i}] must be a (t_s, dbm) pair (got {pt!r})"
                    )
                pts.append(
                    (_check(f"rssi_dbm[{i}][0]", pt[0]),
                     _check(f"rssi_dbm[{i}][1]", pt[1], lo=-150.0, hi=30.0))
                )  # fmt: skip
            if not pts or any(b[0] < a[0] for a, b in itertools.pairwise(pts)):
                raise ConfigError(
                    f"FaultConfig.rssi_dbm profile must be non-empty with increasing times "
                    f"(got {r!r})"
                )
            object.__setattr__(self, "rssi_dbm", tuple(pts))
        else:
            object.__setattr__(self, "rssi_dbm", _check("rssi_dbm", r, lo=-150.0, hi=30.0))
        object.__setattr__(
            self,
            "range_limit_dbm",
            _check("range_limit_dbm", self.range_limit_dbm, lo=-150.0, hi=30.0),
        )
        object.__setattr__(
            self, "battery_drain_per_h", _check("battery_drain_per_h", self.battery_drain_per_h)
        )
        if self.battery_dies_at is not None:
            object.__setattr__(
                self, "battery_dies_at", _check("battery_dies_at", self.battery_dies_at, hi=100.0)
            )
        if self.suspend_at_s is not None:
            object.__setattr__(self, "suspend_at_s", _check("suspend_at_s", self.suspend_at_s))
        object.__setattr__(self, "suspend_for_s", _check("suspend_for_s", self.suspend_for_s))

    def rssi_at(self, t_s: float) -> float:
        """RSSI (dBm) ``t_s`` simulated seconds after the device was added to its world."""
        r = self.rssi_dbm
        if not isinstance(r, tuple):
            return float(r)
        if t_s <= r[0][0]:
            return r[0][1]
        for (t0, v0), (t1, v1) in itertools.pairwise(r):
            if t_s <= t1:
                return v0 if t1 == t0 else v0 + (v1 - v0) * (t_s - t0) / (t1 - t0)
        return r[-1][1]

    @property
    def watched(self) -> bool:
        """True when a fault needs the device to watch its link over time (range, battery,
        host suspend)."""
        r = self.rssi_dbm
        weak = (
            any(v < self.range_limit_dbm for _, v in r)
            if isinstance(r, tuple)
            else r < self.range_limit_dbm
        )
        return (
            weak
            or (self.battery_drain_per_h > 0 and self.battery_dies_at is not None)
            or (self.suspend_at_s is not None and self.suspend_for_s > 0)
        )

    @classmethod
    def realistic(cls) -> FaultConfig:
        """A typical BLE link: 5–40 ms delivery latency, rare drops and stalls, 20 ppm drift."""
        return cls(
            drop_probability=0.002,
            burst_delay_probability=0.002,
            burst_delay_s=0.25,
            clock_drift_ppm=20.0,
            jitter_s=(0.005, 0.040),
        )
