"""All health pieces of one device in one streaming object: :class:`DeviceHealthTracker`.

A tracker is fed every :class:`~spasmwatch.core.SampleBlock` of its device and the device's
events (battery readings, device information) and returns :class:`HealthEvent` values when
something a wearer should see changes: a channel's EMG quality (debounced), the wear state,
a battery warning. It also answers, at any time, what the live view shows
(:meth:`~DeviceHealthTracker.snapshot`), what the store keeps
(:meth:`~DeviceHealthTracker.wear_days`, :meth:`~DeviceHealthTracker.quality_log`) and what
the acquisition layer needs to state the cause of a data loss
(:attr:`~DeviceHealthTracker.worn`, :attr:`~DeviceHealthTracker.contact_lost`).

:class:`QualityLog` is the compact form of EMG quality stored with a recording: per channel,
run-length ``[start_ns, end_ns, status]`` intervals (consecutive windows of one status merged)
and a summary (share of ``good`` time per channel).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spasmwatch.core import SampleBlock, StreamSpec
from spasmwatch.errors import ConfigError, SignalError
from spasmwatch.health._battery import BatteryMonitor, BatteryReading, DeviceInfo
from spasmwatch.health._quality import QUALITY_STATUSES, EmgQualityMonitor, QualityReport
from spasmwatch.health._wear import NotWornDetector, WearStateChange
from spasmwatch.health._weartime import WearDay, WearTimeAccumulator

__all__ = ["HEALTH_EVENT_KINDS", "DeviceHealthTracker", "HealthEvent", "QualityLog"]

#: Kinds of :class:`HealthEvent`.
HEALTH_EVENT_KINDS = ("quality", "wear", "battery_low", "battery_critical")


@dataclass(frozen=True, slots=True)
class HealthEvent:
    """Something about a device's health changed.

    Parameters
    ----------
    device : str
        Device instance name.
    kind : str
        One of :data:`HEALTH_EVENT_KINDS`: ``"quality"`` (one EMG channel's debounced
        status changed), ``"wear"`` (worn / not worn), ``"battery_low"``,
        ``"battery_critical"``.
    t_ns : int
        UTC ns (data time) from which the new state holds.
    detail : Mapping
        ``quality``: ``{"stream", "channel", "status", "previous", "detected_ns"}``;
        ``wear``: :meth:`WearStateChange.to_dict`; battery: :meth:`BatteryWarning.to_dict`.
    """

    device: str
    kind: str
    t_ns: int
    detail: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in HEALTH_EVENT_KINDS:
            raise SignalError(
                f"HealthEvent.kind must be one of {HEALTH_EVENT_KINDS} (got {self.kind!r})"
            )
        if isinstance(self.t_ns, np.integer):
            object.__setattr__(self, "t_ns", int(self.t_ns))
        if isinstance(self.t_ns, bool) or not isinstance(self.t_ns, int):
            raise SignalError(f"HealthEvent.t_ns must be an int of UTC ns (got {self.t_ns!r})")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for the live bus)."""
        return {"device": self.device, "kind": self.kind, "t_ns": self.t_ns, **self.detail}


# ------------------------------------------------------------------------- quality log


class QualityLog:
    """Run-length EMG quality of one stream: per channel ``[start_ns, end_ns, status]``.

    Consecutive windows of one channel with the same status are merged into one interval
    when the next window starts no later than half a window after the previous one ends
    (host timestamps jitter); a longer hole (a gap) starts a new interval.

    Parameters
    ----------
    stream : str
        Stream key.
    channels : sequence of str
        Channel names, in spec order.
    """

    def __init__(self, stream: str, channels: Sequence[str]) -> None:
        if not channels:
            raise ConfigError(f"QualityLog({stream}) needs at least one channel")
        self.stream = stream
        self.channels = tuple(channels)
        self._runs: dict[str, list[list[Any]]] = {c: [] for c in self.channels}

    def add(self, report: QualityReport | Mapping[str, Any]) -> None:
        """Add one window (a :class:`QualityReport` or its ``to_dict()``)."""
        r = report if isinstance(report, QualityReport) else QualityReport.from_dict(dict(report))
        if r.stream != self.stream:
            raise SignalError(
                f"QualityLog({self.stream}): report of stream {r.stream}; use one log per stream"
            )
        for c in r.channels:
            self.add_run(c.channel, r.start_ns, r.end_ns, c.status)

    def add_run(self, channel: str, start_ns: int, end_ns: int, status: str) -> None:
        """Add an interval of one channel (merged with the last one when it continues it)."""
        runs = self._runs.get(channel)
        if runs is None:
            raise SignalError(
                f"QualityLog({self.stream}): unknown channel {channel!r}; "
                f"channels: {list(self.channels)}"
            )
        if status not in QUALITY_STATUSES:
            raise SignalError(f"quality status must be one of {QUALITY_STATUSES} (got {status!r})")
        start_ns, end_ns = int(start_ns), int(end_ns)
        if end_ns < start_ns:
            raise SignalError(f"QualityLog: interval end {end_ns} before start {start_ns}")
        if runs:
            last = runs[-1]
            tol = (end_ns - start_ns) // 2
            if last[2] == status and last[0] <= start_ns <= last[1] + tol:
                last[1] = max(last[1], end_ns)
                return
        runs.append([start_ns, end_ns, status])

    def runs(self, channel: str) -> list[tuple[int, int, str]]:
        """Intervals of ``channel`` in time order."""
        return [(a, b, s) for a, b, s in self._runs[channel]]

    @property
    def empty(self) -> bool:
        """True before the first window."""
        return not any(self._runs.values())

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per channel: ``good_share`` (share of assessed time with status ``good``, None
        when nothing was assessed) and ``seconds`` by status."""
        out: dict[str, dict[str, Any]] = {}
        for c, runs in self._runs.items():
            secs: dict[str, float] = {}
            for a, b, s in runs:
                secs[s] = secs.get(s, 0.0) + (b - a) / 1e9
            total = sum(secs.values())
            out[c] = {
                "good_share": (secs.get("good", 0.0) / total) if total > 0 else None,
                "seconds": secs,
            }
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"channels": {name: [[start, end, status], ...]}, "summary": ...}``."""
        return {
            "channels": {c: [list(r) for r in runs] for c, runs in self._runs.items()},
            "summary": self.summary(),
        }

    @classmethod
    def from_dict(cls, stream: str, d: Mapping[str, Any]) -> QualityLog:
        """Inverse of :meth:`to_dict` (the summary is recomputed)."""
        chans = d.get("channels")
        if not isinstance(chans, Mapping) or not chans:
            raise SignalError(f"quality log of {stream} must have a 'channels' mapping (got {d!r})")
        log = cls(stream, list(chans))
        for c, runs in chans.items():
            for a, b, s in runs:
                log.add_run(c, int(a), int(b), str(s))
        return log


# ------------------------------------------------------------------------- tracker


class _ChannelState:
    __slots__ = ("candidate", "count", "shown", "since")

    def __init__(self) -> None:
        self.shown: str | None = None
        self.candidate: str | None = None
        self.count = 0
        self.since = 0


class DeviceHealthTracker:
    """Health of one device: EMG quality, wear state, wear time, battery, device info.

    Parameters
    ----------
    specs : sequence of StreamSpec
        The device's streams (all of one device). EMG streams get an
        :class:`EmgQualityMonitor`; ACC and EMG feed a :class:`NotWornDetector`.
    tz : str
        IANA time zone of the wearer (local days of :meth:`wear_days`).
    quality : dict, optional
        Keyword arguments of :class:`EmgQualityMonitor` (``window_s``, ``powerline_hz``...).
    wear : dict, optional
        Keyword arguments of :class:`NotWornDetector` (``still_s``...).
    battery : BatteryMonitor, optional
        Thresholds of the battery warnings (default 20 % / 10 %).
    debounce_windows : int
        A channel's shown quality changes only after this many consecutive windows of the
        new status (1 = no debounce).

    Notes
    -----
    Everything is a function of the data fed, not of the wall clock: cutting the same blocks
    into other chunks gives the same events, log and wear time.
    """

    def __init__(
        self,
        specs: Sequence[StreamSpec],
        tz: str,
        *,
        quality: Mapping[str, Any] | None = None,
        wear: Mapping[str, Any] | None = None,
        battery: BatteryMonitor | None = None,
        debounce_windows: int = 3,
    ) -> None:
        specs = list(specs)
        if not specs or not all(isinstance(s, StreamSpec) for s in specs):
            raise ConfigError(
                "DeviceHealthTracker.specs must be StreamSpec objects of one device "
                f"(got {specs!r})"
            )
        devices = sorted({s.device for s in specs})
        if len(devices) != 1:
            raise ConfigError(
                f"DeviceHealthTracker follows one device; got streams of {devices}. "
                "Make one tracker per device"
            )
        if (
            isinstance(debounce_windows, bool)
            or not isinstance(debounce_windows, int)
            or (debounce_windows < 1)
        ):
            raise ConfigError(
                "DeviceHealthTracker.debounce_windows must be an int >= 1 "
                f"(got {debounce_windows!r})"
            )
        if battery is not None and not isinstance(battery, BatteryMonitor):
            raise ConfigError(
                f"DeviceHealthTracker.battery must be a BatteryMonitor (got {battery!r})"
            )
        self.device = devices[0]
        self.specs = {s.key: s for s in specs}
        self.tz = tz
        self.debounce_windows = debounce_windows
        qkw = dict(quality or {})
        self._monitors = {
            s.key: EmgQualityMonitor(s, **qkw)
            for s in specs
            if s.kind == "emg"  # type: ignore[arg-type]
        }
        wear_specs = [s for s in specs if s.kind in ("acc", "emg")]
        accs = [s for s in wear_specs if s.kind == "acc"]
        if len(accs) > 1:
            wear_specs = [accs[0], *[s for s in wear_specs if s.kind == "emg"]]
        self._wear_kw = dict(wear or {})
        self._wear_kw.setdefault("quality", qkw)
        self._wear_specs = wear_specs
        self._battery_kw = (
            (battery.low_threshold, battery.critical, battery.rearm) if battery else (20, 10, 5)
        )
        self._wt = WearTimeAccumulator(tz)  # validates tz
        self.reset()

    def reset(self) -> None:
        """Back to the initial state (nothing seen)."""
        for m in self._monitors.values():
            m.reset()
        self._detector = (
            NotWornDetector(self._wear_specs, **self._wear_kw) if self._wear_specs else None
        )
        self._wt.reset()
        lo, crit, rearm = self._battery_kw
        self._battery = BatteryMonitor(lo, crit, rearm=rearm)
        self._info: DeviceInfo | None = None
        self._logs = {k: QualityLog(k, self.specs[k].channels) for k in self._monitors}
        self._last: dict[str, QualityReport] = {}
        self._chan = {
            k: {c: _ChannelState() for c in self.specs[k].channels} for k in self._monitors
        }
        self._last_t: int | None = None
        self._wear_since: int | None = None

    # -- input ------------------------------------------------------------------------

    def update(self, item: SampleBlock | Any) -> list[HealthEvent]:
        """Feed one block of this device, or one device event.

        Parameters
        ----------
        item : SampleBlock or DeviceEvent
            A block of one of the tracker's streams, or any object with ``kind``, ``t_ns``
            and ``detail`` (a :class:`~spasmwatch.acquisition.DeviceEvent`): ``"battery"``
            (``detail["level"]``) and ``"device_info"`` (``DeviceInfo.to_dict()``) are used,
            other kinds are ignored.

        Returns
        -------
        list of HealthEvent
            What changed, in data-time order within each kind.
        """
        if isinstance(item, SampleBlock):
            return self._block(item)
        if all(hasattr(item, a) for a in ("kind", "t_ns", "detail")):
            return self._event(str(item.kind), int(item.t_ns), dict(item.detail))
        raise SignalError(
            f"DeviceHealthTracker({self.device}).update expects a SampleBlock or a DeviceEvent "
            f"(got {type(item).__name__})"
        )

    def extend(self, items: Iterable[SampleBlock | Any]) -> list[HealthEvent]:
        """:meth:`update` with each item; all events."""
        out: list[HealthEvent] = []
        for it in items:
            out.extend(self.update(it))
        return out

    def battery_reading(self, level: int, t_ns: int) -> list[HealthEvent]:
        """Record a battery level (percent) read at ``t_ns``; the warnings it triggers."""
        ws = self._battery.update(self.device, level, t_ns)
        return [HealthEvent(self.device, f"battery_{w.severity}", w.t_ns, w.to_dict()) for w in ws]

    def set_device_info(self, info: DeviceInfo | Mapping[str, Any]) -> None:
        """Remember the device's model/firmware information."""
        if not isinstance(info, DeviceInfo):
            keys = ("model", "firmware", "hardware", "serial")
            info = DeviceInfo(**{k: info.get(k) for k in keys})
        self._info = info

    def _event(self, kind: str, t_ns: int, detail: dict[str, Any]) -> list[HealthEvent]:
        if kind == "battery" and detail.get("level") is not None:
            return self.battery_reading(int(detail["level"]), t_ns)
        if kind == "device_info":
            self.set_device_info(detail)
        return []

    def _block(self, block: SampleBlock) -> list[HealthEvent]:
        spec = block.spec
        if self.specs.get(spec.key) != spec:
            raise SignalError(
                f"DeviceHealthTracker({self.device}): block of stream {spec.key} is not one of "
                f"its streams {sorted(self.specs)}"
            )
        if block.n_samples:
            end = int(block.t_ns[-1])
            self._last_t = end if self._last_t is None else max(self._last_t, end)
        self._wt.update(block)
        out: list[HealthEvent] = []
        changes: list[WearStateChange] = []
        mon = self._monitors.get(spec.key)
        if mon is not None:
            for r in mon.update(block):
                self._logs[spec.key].add(r)
                self._last[spec.key] = r
                self._wt.update(r)
                out.extend(self._quality_events(r))
                if self._detector is not None:
                    changes.extend(self._detector.update(r))
        elif self._detector is not None and spec.kind == "acc" and spec in self._wear_specs:
            changes.extend(self._detector.update(block))
        for ch in changes:
            self._wt.update(ch)
            self._wear_since = ch.t_ns
            out.append(HealthEvent(self.device, "wear", ch.t_ns, ch.to_dict()))
        return out

    def _quality_events(self, r: QualityReport) -> list[HealthEvent]:
        out = []
        states = self._chan[r.stream]
        for c in r.channels:
            s = states[c.channel]
            if c.status == s.candidate:
                s.count += 1
            else:
                s.candidate, s.count, s.since = c.status, 1, r.start_ns
            if s.count >= self.debounce_windows and s.candidate != s.shown:
                prev, s.shown = s.shown, s.candidate
                out.append(
                    HealthEvent(
                        self.device,
                        "quality",
                        s.since,
                        {
                            "stream": r.stream,
                            "channel": c.channel,
                            "status": s.shown,
                            "previous": prev,
                            "detected_ns": r.end_ns,
                        },
                    )
                )
        return out

    # -- state -------------------------------------------------------------------------

    @property
    def worn(self) -> bool | None:
        """True/False from the not-worn detector; None for a device without ACC or EMG."""
        if self._detector is None:
            return None
        return self._detector.state == "worn"

    @property
    def contact_lost(self) -> bool | None:
        """True when every channel of every EMG stream was ``contact_lost`` in its last
        window; None before the first window or without EMG."""
        if not self._last:
            return None
        return all(r.all_contact_lost for r in self._last.values())

    @property
    def battery(self) -> BatteryReading | None:
        """Last battery reading, or None."""
        return self._battery.last(self.device)

    @property
    def device_info(self) -> DeviceInfo | None:
        """Model/firmware information, or None."""
        return self._info

    def quality_status(self, stream: str) -> dict[str, str | None]:
        """Debounced status per channel of EMG stream ``stream`` (None before it is known)."""
        try:
            return {c: s.shown for c, s in self._chan[stream].items()}
        except KeyError:
            raise SignalError(
                f"DeviceHealthTracker({self.device}): no EMG stream {stream!r}; "
                f"EMG streams: {sorted(self._monitors)}"
            ) from None

    def wear_days(self) -> list[WearDay]:
        """Wear time per local day of this device (empty before any data)."""
        if self.device not in self._wt.devices:
            return []
        return self._wt.days(self.device)

    def quality_log(self, stream: str | None = None) -> dict[str, Any]:
        """Run-length quality log: of one EMG stream (``QualityLog.to_dict()``), or of all as
        ``{stream_key: log}``."""
        if stream is not None:
            if stream not in self._logs:
                raise SignalError(
                    f"DeviceHealthTracker({self.device}): no EMG stream {stream!r}; "
                    f"EMG streams: {sorted(self._logs)}"
                )
            return self._logs[stream].to_dict()
        return {k: log.to_dict() for k, log in self._logs.items()}

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready state for the live bus.

        Keys: ``device``; ``battery`` (``{"level", "t_ns", "low"}`` or None);
        ``device_info`` (or None); ``quality`` (per EMG stream: ``t_ns`` end of the last
        window, ``channels`` debounced status per channel, ``last`` the last window's
        statuses); ``worn`` (True/False/None) and ``worn_since_ns``; ``wear_today`` (the
        local day of the latest sample: ``date``, ``worn_s``, ``usable_s``, ``recorded_s``,
        or None).
        """
        b = self.battery
        quality = {}
        for k in self._monitors:
            last = self._last.get(k)
            quality[k] = {
                "t_ns": last.end_ns if last else None,
                "channels": self.quality_status(k),
                "last": dict(zip(self.specs[k].channels, last.statuses, strict=True))
                if last
                else None,
            }
        today = None
        if self._last_t is not None:
            date = dt.datetime.fromtimestamp(self._last_t / 1e9, self._wt.tz).date()
            row = next((d for d in self.wear_days() if d.date == date), None)
            if row is not None:
                today = {
                    "date": row.date.isoformat(),
                    "worn_s": _r(row.worn_s),
                    "usable_s": _r(row.usable_s),
                    "recorded_s": _r(row.recorded_s),
                }
        return {
            "device": self.device,
            "battery": None
            if b is None
            else {"level": b.level, "t_ns": b.t_ns, "low": self._battery.is_low(self.device)},
            "device_info": self._info.to_dict() if self._info else None,
            "quality": quality,
            "worn": self.worn,
            "worn_since_ns": self._wear_since,
            "wear_today": today,
        }


def _r(x: float) -> float:
    return round(x, 3) if math.isfinite(x) else x
