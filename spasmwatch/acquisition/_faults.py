"""Link and device faults a simulated wearable can inject: :class:`FaultConfig`."""

from __future__ import annotations

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
    """

    disconnect_every_s: float | None = None
    reconnect_delay_s: float = 1.0
    drop_probability: float = 0.0
    corrupt_probability: float = 0.0
    burst_delay_probability: float = 0.0
    burst_delay_s: float = 0.2
    clock_drift_ppm: float = 0.0
    jitter_s: tuple[float, float] = (0.0, 0.0)

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
