"""Why data was lost: attribute a :class:`~spasmwatch.core.Gap` to a stated cause.

The acquisition layer knows *that* samples are missing (a counter jumped: ``packet_loss``;
the link dropped: ``disconnect``) but not *why*. :func:`attribute_loss_cause` refines such a
generic cause with what was known around the gap (:class:`LossContext`). The rules, first
match wins (also in ``docs/device-health.md``):

1. A gap that already has a specific cause (anything but ``packet_loss``, ``disconnect``,
   ``unknown``) keeps it.
2. ``host_asleep``: the host's monotonic clock advanced less than the wall clock over the gap
   by more than ``suspend_min_s`` and ``suspend_min_share`` of the gap (Linux's
   ``time.monotonic`` stops while the machine is suspended), or the disconnect reason says
   the host suspended.
3. ``battery``: the last battery reading was at or below ``battery_empty_pct``, or the
   disconnect reason says the battery.
4. ``not_worn`` (link-level gaps only: ``disconnect``/``unknown``): the device was not worn
   when the gap began.
5. ``bad_contact`` (link-level gaps only): every EMG channel had lost contact just before the
   gap (some devices stop streaming without skin contact).
6. ``out_of_range``: the last RSSI was below ``weak_rssi_dbm``, or the link ended on a
   supervision timeout / "out of range" reason.
7. Otherwise the gap keeps its generic cause.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from spasmwatch.core import Gap
from spasmwatch.errors import ConfigError

__all__ = [
    "DISCONNECT_REASONS",
    "LossContext",
    "LossRules",
    "attribute_gap",
    "attribute_loss_cause",
    "suspend_seconds",
]

#: Disconnect reasons a session may report, and the cause each implies (None: no opinion).
DISCONNECT_REASONS: dict[str, str | None] = {
    "supervision_timeout": "out_of_range",
    "timeout": "out_of_range",
    "out_of_range": "out_of_range",
    "battery": "battery",
    "power_off": None,  # the device switched off: battery only if the level was low
    "remote_terminated": None,
    "local_terminated": None,
    "host_suspend": "host_asleep",
    "unknown": None,
}

_GENERIC = frozenset({"packet_loss", "disconnect", "unknown"})
_LINK = frozenset({"disconnect", "unknown"})


def _opt_num(obj: object, name: str, lo: float | None = None, hi: float | None = None) -> None:
    v = getattr(obj, name)
    if v is None:
        return
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ConfigError(f"LossContext.{name} must be None or a finite number (got {v!r})")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ConfigError(f"LossContext.{name} must be in [{lo}, {hi}] (got {v!r})")
    object.__setattr__(obj, name, float(v))


@dataclass(frozen=True, slots=True)
class LossContext:
    """What was known about a device around one gap. ``None`` means "not known".

    Parameters
    ----------
    battery_pct : float, optional
        Last battery level before the gap (percent).
    rssi_dbm : float, optional
        Last received signal strength before the gap (dBm).
    disconnect_reason : str, optional
        One of :data:`DISCONNECT_REASONS` when the link dropped.
    worn : bool, optional
        Wear state when the gap began (from :class:`~spasmwatch.health.NotWornDetector`).
    contact_lost : bool, optional
        True when every EMG channel was ``contact_lost`` in the last quality window before
        the gap.
    monotonic_s : float, optional
        Host monotonic clock (``time.monotonic``) advance over the gap (s).
    wall_s : float, optional
        Host wall clock (``time.time``) advance over the gap (s).
    """

    battery_pct: float | None = None
    rssi_dbm: float | None = None
    disconnect_reason: str | None = None
    worn: bool | None = None
    contact_lost: bool | None = None
    monotonic_s: float | None = None
    wall_s: float | None = None

    def __post_init__(self) -> None:
        _opt_num(self, "battery_pct", 0.0, 100.0)
        _opt_num(self, "rssi_dbm", -150.0, 30.0)
        _opt_num(self, "monotonic_s", 0.0)
        _opt_num(self, "wall_s")
        if self.disconnect_reason is not None and self.disconnect_reason not in DISCONNECT_REASONS:
            raise ConfigError(
                f"LossContext.disconnect_reason must be one of {sorted(DISCONNECT_REASONS)} "
                f"(got {self.disconnect_reason!r})"
            )
        for name in ("worn", "contact_lost"):
            v = getattr(self, name)
            if v is not None and not isinstance(v, bool):
                raise ConfigError(f"LossContext.{name} must be None or a bool (got {v!r})")


@dataclass(frozen=True, slots=True)
class LossRules:
    """Thresholds of :func:`attribute_loss_cause`.

    Parameters
    ----------
    weak_rssi_dbm : float
        RSSI below this (dBm) counts as out of range.
    battery_empty_pct : float
        A battery at or below this (percent) explains a loss.
    suspend_min_s : float
        Least wall-minus-monotonic difference (s) that counts as a host suspend.
    suspend_min_share : float
        ... and least share of the wall-clock gap it must be (0-1).
    """

    weak_rssi_dbm: float = -90.0
    battery_empty_pct: float = 5.0
    suspend_min_s: float = 2.0
    suspend_min_share: float = 0.2

    def __post_init__(self) -> None:
        for name in dataclasses.fields(self):
            v = getattr(self, name.name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ConfigError(f"LossRules.{name.name} must be a finite number (got {v!r})")
        if not 0.0 <= self.suspend_min_share <= 1.0:
            raise ConfigError(
                f"LossRules.suspend_min_share must be in [0, 1] (got {self.suspend_min_share!r})"
            )


def suspend_seconds(monotonic_s: float | None, wall_s: float | None) -> float | None:
    """Seconds the host was (by its clocks) suspended: ``wall_s - monotonic_s``, or None."""
    if monotonic_s is None or wall_s is None:
        return None
    return float(wall_s) - float(monotonic_s)


def attribute_loss_cause(
    gap: Gap, context: LossContext | None = None, rules: LossRules | None = None
) -> str:
    """The cause of a gap, one of :data:`spasmwatch.core.GAP_CAUSES`.

    Parameters
    ----------
    gap : Gap
        The gap (its own cause is the starting point).
    context : LossContext, optional
        What was known around the gap; without it the gap's cause is returned.
    rules : LossRules, optional
        Thresholds; defaults as documented.

    Returns
    -------
    str
        The most specific cause the evidence supports (rules in the module docstring).
    """
    if not isinstance(gap, Gap):
        raise ConfigError(f"attribute_loss_cause needs a Gap (got {type(gap).__name__})")
    ctx = context if context is not None else LossContext()
    r = rules if rules is not None else LossRules()
    if gap.cause not in _GENERIC:
        return gap.cause
    reason_cause = DISCONNECT_REASONS.get(ctx.disconnect_reason or "unknown")
    susp = suspend_seconds(ctx.monotonic_s, ctx.wall_s)
    if reason_cause == "host_asleep" or (
        susp is not None
        and susp > r.suspend_min_s
        and susp >= r.suspend_min_share * max(ctx.wall_s or 0.0, 0.0)
    ):
        return "host_asleep"
    if reason_cause == "battery" or (
        ctx.battery_pct is not None and ctx.battery_pct <= r.battery_empty_pct
    ):
        return "battery"
    if gap.cause in _LINK:
        if ctx.worn is False:
            return "not_worn"
        if ctx.contact_lost is True:
            return "bad_contact"
    if reason_cause == "out_of_range" or (
        ctx.rssi_dbm is not None and ctx.rssi_dbm < r.weak_rssi_dbm
    ):
        return "out_of_range"
    return gap.cause


def attribute_gap(
    gap: Gap, context: LossContext | None = None, rules: LossRules | None = None
) -> Gap:
    """The gap with its cause replaced by :func:`attribute_loss_cause`."""
    cause = attribute_loss_cause(gap, context, rules)
    return gap if cause == gap.cause else dataclasses.replace(gap, cause=cause)
