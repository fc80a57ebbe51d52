"""Live acquisition from BLE wearables: :class:`BleSession`.

A session finds each target device (by address, by name, or by its profile's
advertisement), connects with bleak, enables notifications (control-point indications
first), writes the profile's start commands, keeps the device awake, decodes every
notification and emits :class:`~spasmwatch.core.SampleBlock` values with per-sample host
timestamps from a drift-tracking :class:`~spasmwatch.acquisition._clock.DeviceClockFit`.
On an unexpected disconnect it reconnects with capped exponential backoff and resumes
the same streams. ::

    session = BleSession([DeviceTarget("polar-h10"), DeviceTarget("myo")])
    async with session:
        async for block in session:
            ...

Loss is never glued over. How missing samples are counted depends on what the device
sends:

* **sample counter** (NUS reference firmware): exact.
* **device timestamps** (Polar PMD, Movesense): a frame whose device-time step exceeds
  1.5 frames means the samples in between were lost; their number is
  ``round(Δt / period) − n``, exact as long as the device clock runs.
* **nothing** (Myo): EMG arrives round-robin on four characteristics, so a notification
  on an unexpected one reveals how many were lost (modulo four); a silence longer than
  ``silence_s`` is measured against the clock fit. Consequence, documented as a limit:
  a loss of exactly a multiple of four consecutive EMG notifications (≥ 40 ms) inside a
  shorter silence, and any loss on the single-characteristic Myo IMU shorter than
  ``silence_s``, goes unseen; the index count after a reconnect is an estimate (±
  the link latency, a few samples).

Each loss becomes a :class:`~spasmwatch.core.Gap` on the next block of that stream
(cause ``"packet_loss"``, ``"decode_error"`` or ``"disconnect"``) and ``first_index``
jumps by the same number. Blocks the consumer could not take in time (bounded queue)
are counted and become ``"overflow"`` gaps on the stream's next block.

The time line of a stream holds across losses and reconnects: sample times strictly
increase within and across blocks (when the clock fit moves back, e.g. after the first
notifications of a connection were held back, new samples slew onto it instead of
landing on or before samples already emitted); a gap starts after the previous block's
last sample, spans its missing samples at the nominal rate, and a block's gaps tile the
time up to its first sample (each ends where the next starts). Every wait on the device
is bounded (``command_timeout_s``); a link lost while a command waits for its answer
ends that wait at once, and :meth:`BleSession.stop` always ends :meth:`BleSession.blocks`.

Device health: the session reads the battery level at connect and every
``battery_interval_s`` (``"battery"``, ``"battery_low"``, ``"battery_critical"`` events),
the Device Information strings or the Myo firmware version (``"device_info"``), and follows
the RSSI from advertisements (at discovery, and in short scans every ``rssi_interval_s``
while connected, where the device keeps advertising). Every generic gap is then given its
stated cause with :func:`~spasmwatch.health.attribute_gap` from what was known when the
data stopped: battery, RSSI, host wall-vs-monotonic clock (suspend), and — with a
:class:`~spasmwatch.health.DeviceHealthTracker` attached (``health=``) — wear state and
electrode contact (``battery``, ``out_of_range``, ``host_asleep``, ``not_worn``,
``bad_contact``, else ``packet_loss``/``disconnect``).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import math
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from bleak import BleakClient, BleakScanner
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import BaseBleakScanner
from bleak.exc import BleakError

from spasmwatch.acquisition._clock import ClockFitState, DeviceClockFit
from spasmwatch.acquisition._frames import DecodedFrame
from spasmwatch.acquisition._profiles import Command, DeviceProfile, get_profile
from spasmwatch.core import Gap, SampleBlock, StreamSpec
from spasmwatch.errors import AcquisitionError, ConfigError, DecodeError
from spasmwatch.health._battery import BatteryMonitor, DeviceInfo, parse_battery_level
from spasmwatch.health._loss import LossContext, LossRules, attribute_gap
from spasmwatch.health._tracker import DeviceHealthTracker

__all__ = [
    "Backoff",
    "BleSession",
    "Clock",
    "DeviceEvent",
    "DeviceStats",
    "DeviceTarget",
]

log = logging.getLogger(__name__)

_U32 = 1 << 32
_DIS_UUIDS = tuple(f"0000{u}-0000-1000-8000-00805f9b34fb" for u in ("2a24", "2a25", "2a26", "2a27"))
_MYO_FW = "d5060201-a904-deb9-4748-2c7f4a124842"
#: Wall seconds stop() waits for a device task to end (then again after cancelling it).
_TASK_END_S = 2.0


class Clock(Protocol):
    """Time source of a session: UTC ns, a sleep, and how fast it runs vs wall time."""

    speed: float

    def now_ns(self) -> int: ...

    async def sleep(self, seconds: float) -> None: ...


# A clock may also have ``monotonic_ns()`` (host monotonic time, ns; stops in suspend):
# SystemClock and SimClock do. Without it the session has no evidence of a host suspend.


class _FuncClock:
    def __init__(self, f: Callable[[], int]) -> None:
        self._f = f
        self.speed = 1.0

    def now_ns(self) -> int:
        return int(self._f())

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


def _as_clock(clock: Clock | Callable[[], int] | None) -> Clock:
    if clock is None:
        from spasmwatch.acquisition._simbackend import SystemClock

        return SystemClock()
    if hasattr(clock, "now_ns"):
        if not hasattr(clock, "sleep"):
            return _FuncClock(clock.now_ns)  # type: ignore[union-attr]
        return clock  # type: ignore[return-value]
    if callable(clock):
        return _FuncClock(clock)
    raise ConfigError(f"BleSession clock must have now_ns() or be a callable (got {clock!r})")


# ------------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential backoff between reconnection attempts.

    Attempt ``k`` (0-based) waits ``min(max_s, initial_s * factor**k)`` seconds.
    """

    initial_s: float = 0.5
    max_s: float = 30.0
    factor: float = 2.0

    def __post_init__(self) -> None:
        for name in ("initial_s", "max_s", "factor"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ConfigError(f"Backoff.{name} must be a finite number (got {v!r})")
        if self.initial_s <= 0 or self.max_s < self.initial_s or self.factor < 1:
            raise ConfigError(
                "Backoff needs 0 < initial_s <= max_s and factor >= 1 "
                f"(got initial_s={self.initial_s}, max_s={self.max_s}, factor={self.factor})"
            )

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt`` (0-based)."""
        return float(min(self.max_s, self.initial_s * self.factor ** min(attempt, 64)))


@dataclass(frozen=True, slots=True)
class DeviceTarget:
    """Which device to stream from.

    Parameters
    ----------
    profile : DeviceProfile or str
        The device's profile (or its id, loaded with :func:`get_profile`).
    name : str, optional
        Exact advertised local name to look for.
    address : str, optional
        Bluetooth address (takes precedence over ``name``).
    instance : str, optional
        Device name used in stream specs and events (default: the profile id). Must be
        unique within a session.

    Without ``name`` and ``address`` the first advertisement matching the profile's
    ``[match]`` rules (name prefix, service UUID or manufacturer id) is taken.
    """

    profile: DeviceProfile | str
    name: str | None = None
    address: str | None = None
    instance: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.profile, str):
            object.__setattr__(self, "profile", get_profile(self.profile))
        if not isinstance(self.profile, DeviceProfile):
            raise ConfigError(
                f"DeviceTarget.profile must be a DeviceProfile or a profile id "
                f"(got {self.profile!r})"
            )
        if self.instance is None:
            object.__setattr__(self, "instance", self.profile.id)


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """Something that happened to a device, besides samples.

    Parameters
    ----------
    device : str
        Device instance name.
    kind : str
        ``"scanning"``, ``"connected"``, ``"disconnected"``, ``"reconnecting"``,
        ``"battery"``, ``"battery_low"``, ``"battery_critical"``, ``"device_info"``,
        ``"quality"``, ``"wear"`` (the last two from an attached health tracker),
        ``"decode_error"``, ``"command_failed"``, ``"error"``, ``"stopped"``.
    t_ns : int
        Host time (UTC ns, session clock).
    detail : Mapping
        Kind-specific facts (e.g. ``{"level": 87}``, ``{"in_s": 0.5, "attempt": 1}``,
        ``{"count": 3, "message": "..."}``; ``disconnected``: ``{"expected": False,
        "cause": "out_of_range", "context": {...}}``; ``device_info``:
        ``DeviceInfo.to_dict()``; battery warnings: ``BatteryWarning.to_dict()``).
    """

    device: str
    kind: str
    t_ns: int
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class DeviceStats:
    """Running counters of one device (mutable; read them any time)."""

    notifications: int = 0
    bytes: int = 0
    decode_errors: int = 0
    connects: int = 0
    reconnects: int = 0
    dropped_blocks: int = 0
    battery_errors: int = 0
    samples: dict[str, int] = field(default_factory=dict)
    gaps: dict[str, int] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)


# ------------------------------------------------------------------------------- streams

#: Closest spacing (fraction of the nominal period) between a frame's samples and the
#: samples already emitted when the clock fit moved back since (see _continue_after).
_MIN_SPACING = 0.5


def _continue_after(t: np.ndarray, last_t: int | None, missing: int, period: float) -> np.ndarray:
    """Host times ``t`` (int64 ns, shape ``(n,)``) of a frame, made to follow the stream's
    last emitted time ``last_t`` strictly.

    The clock fit is a lower envelope: a notification faster than all before it (e.g.
    after the first ones of a connection were held back by a busy host) moves it back,
    and the new frame would map onto or before samples already emitted. Emitted times
    cannot change, so the ``missing`` samples lost in between keep their full nominal
    span and the frame's ``i``-th sample (0-based) is placed at least
    ``(i + 1) * period * _MIN_SPACING`` after that: the stream slews back onto the fit
    within a few samples instead of stalling on one time. Times stay strictly increasing
    within and across blocks, and a gap's start ``t[0] - missing * period`` (see
    :func:`_gap_start`) stays after ``last_t``.
    """
    if last_t is None:
        return t
    i = np.arange(1, t.shape[0] + 1, dtype=np.float64)
    floor = last_t + round(missing * period) + np.ceil(i * (period * _MIN_SPACING))
    return np.maximum(t, floor.astype(np.int64))


def _gap_start(t0: int, last_t: int, missing: int, period: float) -> int:
    """Start (ns) of the gap of ``missing`` samples before a frame whose first sample is at
    ``t0``: the expected time of the first missing sample, ``missing`` periods before
    ``t0``, but strictly after the last sample delivered (``last_t``) and at most ``t0``.

    Taking it from ``t0`` rather than from the clock fit keeps the gap and the samples on
    one time line: the fit may have moved since ``last_t`` was emitted (the frame that
    ends the gap is usually the one that moves it), and a start mapped through the new
    fit could fall before samples already delivered.
    """
    return min(t0, max(last_t + 1, t0 - round(missing * period)))


class _StreamState:
    def __init__(self, spec: StreamSpec, chars: tuple[str, ...], fit: DeviceClockFit) -> None:
        self.spec = spec
        self.chars = chars
        self.period = 1e9 / spec.rate_hz
        self.fit = fit
        self.next_index: int | None = None
        self.last_dev: int | None = None  # device time of the last sample received
        self.last_dev_eff: int | None = None  # same, as fed to the clock fit
        self.counter_end: int | None = None  # device counter after the last frame
        self.last_arrival: int | None = None
        self.last_mono: int | None = None  # host monotonic ns at last_arrival
        self.last_t: int | None = None  # last host timestamp emitted
        self.expected_char: int | None = None  # round-robin position (counterless)
        self.cause: str | None = None  # cause for the next gap
        self.reconnected = False
        self.pending: list[Gap] = []


# ------------------------------------------------------------------------------- device


class _DeviceRunner:
    def __init__(self, session: BleSession, target: DeviceTarget) -> None:
        from spasmwatch.acquisition._codecs import make_decoders

        self.s = session
        self.target = target
        self.profile: DeviceProfile = target.profile  # type: ignore[assignment]
        self.instance: str = target.instance  # type: ignore[assignment]
        self.stats = DeviceStats()
        self.decoders = make_decoders(self.profile)
        self.streams: dict[str, _StreamState] = {}
        for sp in self.profile.streams:
            spec = self.profile.stream_spec(sp.kind, device=self.instance)
            self.streams[sp.kind] = _StreamState(
                spec, sp.characteristics, DeviceClockFit(**session.clock_fit_params)
            )
            self.stats.samples[sp.kind] = 0
            self.stats.gaps[sp.kind] = 0
            self.stats.missing[sp.kind] = 0
        self.notify_uuids = self.profile.notify_characteristics()
        self.client: BleakClient | None = None
        self.ble_device: BLEDevice | str | None = None
        self.task: asyncio.Task[None] | None = None
        self.lost: asyncio.Event | None = None
        # control-point answers awaited by _write: True = answered, False = link lost
        self.waiters: dict[str, asyncio.Future[bool]] = {}
        self.ever_connected = False
        self.linked = False  # the current connection attempt got a link
        self.streaming = False
        # health
        self.tracker: DeviceHealthTracker | None = session.health.get(self.instance)
        self.battery_level: int | None = None
        self.rssi: float | None = None
        self.rssi_t: int | None = None
        self.info: DeviceInfo | None = None
        self.loss_ctx: dict[str, Any] | None = None  # what was known when the link dropped

    # -------------------------------------------------------------- connection loop

    async def run(self) -> None:
        s = self.s
        attempt = 0
        while not s._stopping:
            self.linked = False
            try:
                if self.ble_device is None:
                    self.ble_device = await self._find()
                await self._connect_and_stream()
                attempt = 0
            except (TimeoutError, BleakError, AcquisitionError, OSError) as e:
                if self.streaming:
                    self.loss_ctx = self._context_now()
                if self.linked and self.lost is not None and self.lost.is_set():
                    # the link dropped while configuring or writing a keep-awake command:
                    # a disconnect like any other, not an error
                    if not s._stopping:
                        self._report_loss()
                else:
                    s._event(self.instance, "error", {"message": str(e), "type": type(e).__name__})
            finally:
                self.streaming = False
                await self._drop_client()
            if s._stopping:
                break
            delay = s.reconnect.delay(attempt)
            attempt += 1
            s._event(self.instance, "reconnecting", {"in_s": delay, "attempt": attempt})
            await s.clock.sleep(delay)

    async def _find(self) -> BLEDevice | str:
        s, t = self.s, self.target
        timeout = s.scan_timeout_s / s.clock.speed
        kw: dict[str, Any] = {}
        if s.scanner_backend is not None:
            kw["backend"] = s.scanner_backend
        s._event(self.instance, "scanning", {"address": t.address, "name": t.name})
        m = self.profile.match
        claimed = s._claimed
        address = t.address.lower() if t.address is not None else None

        def ok(d: BLEDevice, ad: Any) -> bool:
            if address is not None:
                hit = d.address.lower() == address
            elif t.name is not None:
                hit = ad.local_name == t.name
            else:
                hit = d.address not in claimed and m.matches(
                    ad.local_name, ad.service_uuids, ad.manufacturer_data.keys()
                )
            if hit and isinstance(getattr(ad, "rssi", None), int | float):
                self._set_rssi(float(ad.rssi))
            return hit

        dev = await BleakScanner.find_device_by_filter(ok, timeout=timeout, **kw)
        if dev is None:
            what = t.address or t.name or f"a {self.profile.name} advertisement"
            raise AcquisitionError(
                f"{self.instance}: no device found for {what} within {s.scan_timeout_s:g} s; "
                "is it switched on, in range and not connected to another host?",
                reason="not_found",
            )
        s._claimed.add(dev.address)
        return dev

    async def _connect_and_stream(self) -> None:
        s = self.s
        lost = asyncio.Event()
        self.lost = lost

        def on_disconnect(_client: BleakClient) -> None:
            lost.set()
            if self.lost is lost:  # not a late callback of an earlier connection
                self._release_waiters()

        kw: dict[str, Any] = {}
        if s.client_backend is not None:
            kw["backend"] = s.client_backend
        assert self.ble_device is not None
        client = BleakClient(self.ble_device, on_disconnect, timeout=s.connect_timeout_s, **kw)
        self.client = client
        await asyncio.wait_for(client.connect(), timeout=s.connect_timeout_s / s.clock.speed)
        self.linked = True
        self.stats.connects += 1
        if self.ever_connected:
            self.stats.reconnects += 1
            for st in self.streams.values():
                st.reconnected = True
        self.ever_connected = True
        s._event(self.instance, "connected", {"address": client.address})
        for d in self.decoders.values():
            d.reset()
        await self._read_battery(client)
        await self._read_info(client)
        for uuid in self.notify_uuids:
            await self._bounded(
                client.start_notify(uuid, self._make_callback(uuid)), f"subscribing to {uuid}"
            )
        self.streaming = True
        for cmd in self.profile.start_commands:
            await self._write(client, cmd)
        poll: asyncio.Task[None] | None = None
        if s.battery_interval_s is not None and self.profile.battery_characteristic is not None:
            poll = asyncio.get_running_loop().create_task(self._battery_loop(client, lost))
        try:
            await self._keep_awake(client, lost)
        finally:
            if poll is not None:
                poll.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poll
        if not s._stopping:
            self._report_loss()

    def _report_loss(self) -> None:
        """A ``disconnected`` event with the loss's stated cause (what is known now)."""
        s = self.s
        self.loss_ctx = ctx = self._context_now()
        now = s.clock.now_ns()
        last = max(
            (st for st in self.streams.values() if st.last_arrival is not None),
            key=lambda st: st.last_arrival or 0,
            default=None,
        )
        start = last.last_t if last is not None and last.last_t is not None else now
        gap = self._attribute(Gap(min(start, now), now, 0, "disconnect"), last, now)
        s._event(
            self.instance, "disconnected", {"expected": False, "cause": gap.cause, "context": ctx}
        )

    async def _keep_awake(self, client: BleakClient, lost: asyncio.Event) -> None:
        cmds = self.profile.keep_awake_commands
        for cmd in cmds:
            await self._write(client, cmd)
        interval = self.profile.keep_awake_interval_s
        while not lost.is_set():
            if cmds and interval is not None:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(lost.wait(), timeout=interval / self.s.clock.speed)
                if lost.is_set() or self.s._stopping:
                    break
                for cmd in cmds:
                    await self._write(client, cmd)
            else:
                await lost.wait()

    async def _read_battery(self, client: BleakClient) -> None:
        u = self.profile.battery_characteristic
        if u is None:
            return
        try:
            ch = client.services.get_characteristic(u)
            if ch is None or "read" not in ch.properties:
                return
            raw = await self._bounded(client.read_gatt_char(ch), "reading the battery level")
        except (BleakError, AcquisitionError) as e:
            log.debug("spasmwatch: %s: battery level not read: %s", self.instance, e)
            return
        try:
            level = parse_battery_level(raw)
        except DecodeError as e:
            self.stats.battery_errors += 1
            log.debug("spasmwatch: %s: bad battery value ignored: %s", self.instance, e)
            return
        self.battery_level = level
        s = self.s
        now = s.clock.now_ns()
        s._event(self.instance, "battery", {"level": level})
        for w in s._battery.update(self.instance, level, now):
            s._event(self.instance, f"battery_{w.severity}", w.to_dict())
        if self.tracker is not None:
            self.tracker.battery_reading(level, now)

    async def _battery_loop(self, client: BleakClient, lost: asyncio.Event) -> None:
        s = self.s
        assert s.battery_interval_s is not None
        while not lost.is_set() and not s._stopping:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(lost.wait(), timeout=s.battery_interval_s / s.clock.speed)
            if lost.is_set() or s._stopping:
                return
            await self._read_battery(client)

    async def _read_info(self, client: BleakClient) -> None:
        """Device Information strings (0x2A24-0x2A27) and the Myo firmware version, where
        the device has them -> a ``device_info`` event."""
        vals: dict[int | str, bytes] = {}
        myo: bytes | None = None
        for u in (*_DIS_UUIDS, _MYO_FW):
            try:
                ch = client.services.get_characteristic(u)
                if ch is None or "read" not in ch.properties:
                    continue
                raw = bytes(await self._bounded(client.read_gatt_char(ch), f"reading {u}"))
            except (BleakError, AcquisitionError) as e:
                log.debug("spasmwatch: %s: %s not read: %s", self.instance, u, e)
                continue
            if u == _MYO_FW:
                myo = raw
            else:
                vals[u] = raw
        if not vals and myo is None:
            return
        try:
            info = DeviceInfo.from_dis(vals)
            if myo is not None:
                fw = DeviceInfo.from_myo(myo)
                info = DeviceInfo(
                    model=info.model or fw.model,
                    firmware=fw.firmware,
                    hardware=fw.hardware,
                    serial=info.serial,
                )
        except (DecodeError, ConfigError) as e:
            self.stats.decode_errors += 1
            log.debug("spasmwatch: %s: device information unreadable: %s", self.instance, e)
            return
        self.info = info
        if self.tracker is not None:
            self.tracker.set_device_info(info)
        self.s._event(self.instance, "device_info", info.to_dict())

    # -------------------------------------------------------------- loss context

    def _set_rssi(self, dbm: float) -> None:
        self.rssi = dbm
        self.rssi_t = self.s.clock.now_ns()

    def _context_now(self) -> dict[str, Any]:
        """What is known about the device now, for attributing a loss that begins now."""
        s = self.s
        rssi = self.rssi
        if rssi is not None and self.rssi_t is not None:
            age_s = (s.clock.now_ns() - self.rssi_t) / 1e9
            if age_s > s.rssi_max_age_s:
                rssi = None  # too old to say anything about this loss
        tr = self.tracker
        return {
            "battery_pct": self.battery_level,
            "rssi_dbm": None if rssi is None else min(30.0, max(-150.0, float(rssi))),
            "worn": tr.worn if tr is not None else None,
            "contact_lost": tr.contact_lost if tr is not None else None,
        }

    def _attribute(self, gap: Gap, st: _StreamState | None, arrival: int) -> Gap:
        """``gap`` with its stated cause (see :func:`~spasmwatch.health.attribute_gap`)."""
        if gap.cause not in ("packet_loss", "disconnect", "unknown"):
            return gap
        s = self.s
        base = self.loss_ctx if (gap.cause == "disconnect" and self.loss_ctx) else None
        ctx = dict(base if base is not None else self._context_now())
        mono = s._monotonic_ns()
        if st is not None and st.last_arrival is not None:
            ctx["wall_s"] = (arrival - st.last_arrival) / 1e9
            if mono is not None and st.last_mono is not None:
                ctx["monotonic_s"] = max(0.0, (mono - st.last_mono) / 1e9)
        try:
            return attribute_gap(gap, LossContext(**ctx), s.loss_rules)
        except ConfigError:
            log.exception("spasmwatch: %s: could not attribute a gap", self.instance)
            return gap

    def open_gaps(self, now: int) -> list[SampleBlock]:
        """Empty blocks carrying the still-open gap of every stream that had samples (the
        device is silent at the end of the session)."""
        out = []
        for st in self.streams.values():
            if st.next_index is None or st.last_t is None:
                continue
            start = st.last_t + round(st.period)
            if now <= start:
                continue
            n = max(0, round((now - start) / st.period))
            gap = self._attribute(Gap(start, now, n, "disconnect"), st, now)
            out.append(
                SampleBlock(
                    st.spec,
                    np.empty(0, np.int64),
                    np.empty((0, st.spec.n_channels), np.float32),
                    first_index=st.next_index + n,
                    gaps=(gap,),
                )
            )
        return out

    async def _bounded(self, aw: Any, what: str) -> Any:
        """Await a GATT operation for at most ``command_timeout_s`` (session-clock s); a
        link that dies without bleak noticing must not block the session forever."""
        s = self.s
        try:
            return await asyncio.wait_for(aw, timeout=s.command_timeout_s / s.clock.speed)
        except TimeoutError:
            raise AcquisitionError(
                f"{self.instance}: {what} did not complete within {s.command_timeout_s:g} s; "
                "the link is probably dead (the session reconnects)",
                reason="timeout",
            ) from None

    def _release_waiters(self) -> None:
        """The link is gone: every command still waiting for an answer gets "no answer"
        (``False``) at once, instead of waiting out its timeout or being cancelled under
        the feet of whoever awaits it (e.g. :meth:`stop`)."""
        for f in self.waiters.values():
            if not f.done():
                f.set_result(False)

    async def _write(self, client: BleakClient, cmd: Command) -> None:
        """Write a command; for a control point that answers (it is subscribed), wait for
        the answer before the next command, as the Polar PMD requires.

        Raises
        ------
        AcquisitionError
            ``reason="link_lost"`` when the link drops before the answer came,
            ``reason="timeout"`` when the write itself does not complete in time.
        """
        s = self.s
        desc = cmd.description or cmd.data.hex(" ")
        waits = cmd.characteristic in self.notify_uuids
        fut: asyncio.Future[bool] | None = None
        if waits:
            fut = asyncio.get_running_loop().create_future()
            self.waiters[cmd.characteristic] = fut
        try:
            await self._bounded(
                client.write_gatt_char(cmd.characteristic, cmd.data, response=cmd.response),
                f"writing {desc!r}",
            )
            if fut is None:
                return
            if self.lost is not None and self.lost.is_set() and not fut.done():
                fut.set_result(False)  # lost during the write: no answer will come
            try:
                answered = await asyncio.wait_for(fut, timeout=s.command_timeout_s / s.clock.speed)
            except TimeoutError:
                s._event(
                    self.instance, "command_failed", {"command": desc, "status": "no response"}
                )
                return
        finally:
            if fut is not None and self.waiters.get(cmd.characteristic) is fut:
                del self.waiters[cmd.characteristic]
        if not answered:
            raise AcquisitionError(
                f"{self.instance}: the link dropped while waiting for the answer to {desc!r}",
                reason="link_lost",
            )
        dec = self.decoders.get(cmd.characteristic)
        responses = getattr(dec, "responses", None)
        if responses:
            r = responses[-1]
            if not r.ok and not (cmd in self.profile.stop_commands and r.status == 6):
                s._event(
                    self.instance,
                    "command_failed",
                    {"command": cmd.description or cmd.data.hex(" "), "status": r.status_name},
                )

    async def _drop_client(self) -> None:
        c, self.client = self.client, None
        self._release_waiters()
        self.waiters.clear()
        if c is not None and c.is_connected:
            with contextlib.suppress(BleakError, AcquisitionError, OSError):
                await self._bounded(c.disconnect(), "disconnecting")

    async def stop(self) -> None:
        """Stop commands, unsubscribe, disconnect, end the device task. Every wait is
        bounded; a link that drops meanwhile ends the stop early, never hangs it."""
        c = self.client
        if not self.streaming and self.task is not None:
            # scanning, connecting or waiting to reconnect: nothing to tell the device
            self.task.cancel()
        if c is not None and c.is_connected and self.streaming:
            try:
                for cmd in self.profile.stop_commands:
                    await self._write(c, cmd)
                self.streaming = False
                for uuid in self.notify_uuids:
                    with contextlib.suppress(BleakError, AcquisitionError):
                        await self._bounded(c.stop_notify(uuid), f"unsubscribing {uuid}")
                await self._bounded(c.disconnect(), "disconnecting")
            except (TimeoutError, BleakError, AcquisitionError, OSError) as e:
                if not (isinstance(e, AcquisitionError) and e.reason == "link_lost"):
                    self.s._event(self.instance, "error", {"message": str(e), "during": "stop"})
        self.streaming = False
        if self.lost is not None:
            self.lost.set()
        t = self.task
        if t is not None:
            if not t.done():
                done, _ = await asyncio.wait({t}, timeout=_TASK_END_S)
                if not done:
                    t.cancel()
                    done, _ = await asyncio.wait({t}, timeout=_TASK_END_S)
                if not done:
                    msg = (
                        f"{self.instance}: the device task did not end within "
                        f"{2 * _TASK_END_S:g} s of stop(), even when cancelled; left behind"
                    )
                    log.error("spasmwatch: %s", msg)
                    self.s._event(self.instance, "error", {"message": msg, "during": "stop"})
            if t.done() and not t.cancelled() and t.exception() is not None:
                log.error("spasmwatch: device task %s failed: %r", self.instance, t.exception())
        self.s._event(self.instance, "stopped", {})

    # -------------------------------------------------------------- notifications

    def _make_callback(self, uuid: str) -> Callable[[Any, bytearray], None]:
        def cb(_char: Any, data: bytearray) -> None:
            self.on_notify(uuid, data)

        return cb

    def on_notify(self, uuid: str, data: bytearray) -> None:
        s = self.s
        arrival = s.clock.now_ns()
        self.stats.notifications += 1
        self.stats.bytes += len(data)
        fut = self.waiters.get(uuid)
        dec = self.decoders.get(uuid)
        try:
            frames = dec.decode(data) if dec is not None else []
        except DecodeError as e:
            self.stats.decode_errors += 1
            for st in self.streams.values():
                if uuid in st.chars:
                    if st.cause is None:
                        st.cause = "decode_error"
                    self._advance_rotation(st, uuid)
            s._event(
                self.instance,
                "decode_error",
                {"count": self.stats.decode_errors, "message": str(e), "reason": e.reason},
            )
            frames = []
        finally:
            if fut is not None and not fut.done():
                fut.set_result(True)
        if not self.streaming:
            return
        for fr in frames:
            st = self.streams.get(fr.kind)
            if st is None or fr.n_samples == 0:
                continue
            try:
                self._frame(st, uuid, fr, arrival)
            except Exception as e:  # a bug here must not kill the BLE callback
                log.exception("spasmwatch: failed to process a %s frame", st.spec.key)
                s._event(self.instance, "error", {"message": repr(e), "stream": st.spec.key})

    def _advance_rotation(self, st: _StreamState, uuid: str) -> None:
        if len(st.chars) > 1 and st.expected_char is not None and uuid in st.chars:
            st.expected_char = (st.chars.index(uuid) + 1) % len(st.chars)

    def _missing_counterless(self, st: _StreamState, uuid: str, n: int, arrival: int) -> int:
        """Lost samples before this frame for a device without counter or clock."""
        assert st.last_arrival is not None
        r = 0
        L = len(st.chars)
        if L > 1 and st.expected_char is not None and uuid in st.chars:
            r = (st.chars.index(uuid) - st.expected_char) % L
        if arrival - st.last_arrival > self.s.silence_s * 1e9:
            # a long silence: measure it against the clock fit
            lost_frames = self._missing_from_arrival(st, n, arrival) / n
            if L > 1:
                m = max(0, round((lost_frames - r) / L))
                return (r + L * m) * n
            return round(lost_frames) * n
        return r * n

    def _missing_from_arrival(self, st: _StreamState, n: int, arrival: int) -> int:
        """Samples between the last one received and a frame of ``n`` samples arriving at
        ``arrival``, placing that frame on the fit's minimum-latency line (an estimate that
        errs by the latency above the floor, i.e. by a few samples at most)."""
        assert st.last_dev_eff is not None
        fs = st.fit.state()
        ref_h = fs.offset_ns + fs.device_ref_ns
        dev = fs.device_ref_ns + (arrival - ref_h) / (1.0 - fs.drift_ppm * 1e-6)
        return max(0, math.floor((dev - st.last_dev_eff) / st.period + 1e-6) - n)

    def _frame(self, st: _StreamState, uuid: str, fr: DecodedFrame, arrival: int) -> None:
        s = self.s
        n = fr.n_samples
        period = st.period
        if fr.device_time_ns is not None:
            dev_last = int(fr.device_time_ns) + (
                round((n - 1) * period) if fr.first_sample_time else 0
            )
        else:
            dev_last = None
        cause = "packet_loss"
        missing = 0
        if st.next_index is None:
            idx = 0
        else:
            if st.reconnected:
                cause = "disconnect"
            elif st.cause is not None:
                cause = st.cause
            if fr.sample_counter is not None and st.counter_end is not None:
                delta = (int(fr.sample_counter) - st.counter_end) % _U32
                if delta < _U32 // 2:
                    missing = delta
                else:  # counter went back: the device restarted its counters
                    missing = self._restart_estimate(st, n, arrival)
            elif dev_last is not None and st.last_dev is not None:
                steps = (dev_last - st.last_dev) / period
                if steps < -0.5:  # device clock went back
                    missing = self._restart_estimate(st, n, arrival)
                else:
                    missing = max(0, round(steps) - n)
                    if missing < max(1, n // 2):  # within 1.5 frames: timestamp jitter
                        missing = 0
            elif st.reconnected:
                missing = self._restart_estimate(st, n, arrival)
            else:
                missing = self._missing_counterless(st, uuid, n, arrival)
            idx = st.next_index + missing
        if dev_last is None:
            dev_last_eff = round((idx + n - 1) * period)
        else:
            dev_last_eff = dev_last
        st.fit.update(dev_last_eff, arrival)
        offs = np.round((np.arange(n) - (n - 1)) * period).astype(np.int64)
        t = _continue_after(st.fit.to_host(dev_last_eff + offs), st.last_t, missing, period)
        gaps = list(st.pending)
        st.pending = []
        new_gap: Gap | None = None
        if missing > 0:
            assert st.last_t is not None  # missing > 0 needs a previous frame
            start = _gap_start(int(t[0]), st.last_t, missing, period)
            new_gap = self._attribute(Gap(start, int(t[0]), int(missing), cause), st, arrival)
            self.stats.gaps[st.spec.kind] += 1
            self.stats.missing[st.spec.kind] += int(missing)
        if gaps and gaps[-1].cause == "overflow":
            # blocks dropped for a slow consumer: that gap ends where the next one starts,
            # or at this block
            g = gaps[-1]
            end = new_gap.start_ns if new_gap is not None else int(t[0])
            gaps[-1] = Gap(g.start_ns, max(g.start_ns, end), g.n_missing, g.cause)
        if new_gap is not None:
            gaps.append(new_gap)
        seq = (int(fr.seq), int(fr.seq)) if fr.seq is not None else None
        block = SampleBlock(st.spec, t, fr.samples, first_index=idx, gaps=tuple(gaps), seq=seq)
        # state
        st.next_index = idx + n
        st.last_dev = dev_last
        st.last_dev_eff = dev_last_eff
        if fr.sample_counter is not None:
            st.counter_end = (int(fr.sample_counter) + n) % _U32
        st.last_arrival = arrival
        st.last_mono = s._monotonic_ns()
        st.last_t = int(t[-1])
        st.cause = None
        st.reconnected = False
        if len(st.chars) > 1 and uuid in st.chars:
            st.expected_char = (st.chars.index(uuid) + 1) % len(st.chars)
        if self.tracker is not None:
            for ev in self.tracker.update(block):
                if ev.kind in ("quality", "wear"):
                    s._event(self.instance, ev.kind, ev.to_dict())
        try:
            s._queue.put_nowait(block)
            self.stats.samples[st.spec.kind] += n
        except asyncio.QueueFull:
            self.stats.dropped_blocks += 1
            st.pending = gaps  # carried to the stream's next block
            prev = gaps[-1] if gaps and missing == 0 else None
            if prev is not None and prev.cause == "overflow":  # consecutive drops: one gap
                gaps[-1] = Gap(prev.start_ns, int(t[-1]), prev.n_missing + n, "overflow")
            else:
                gaps.append(Gap(int(t[0]), int(t[-1]), n, "overflow"))

    def _restart_estimate(self, st: _StreamState, n: int, arrival: int) -> int:
        """Samples missed across a discontinuity of the device's counter or clock, from the
        arrival time; restarts the clock fit (keeping its drift)."""
        missing = self._missing_from_arrival(st, n, arrival)
        st.fit.reset(keep_drift=True)
        st.last_dev = None
        st.counter_end = None
        st.expected_char = None
        return missing


# ------------------------------------------------------------------------------- session


class BleSession:
    """Stream sample blocks from one or more BLE wearables.

    Parameters
    ----------
    devices : list of DeviceTarget
        Devices to stream from (instance names must be unique).
    client_backend, scanner_backend : type, optional
        bleak backend classes (e.g. from :meth:`SimWorld.backends`); default: the
        platform's.
    clock : Clock or callable, optional
        Host time source: an object with ``now_ns()``, ``sleep(s)`` and ``speed``
        (:class:`~spasmwatch.acquisition._simbackend.SimClock` for simulations), or a bare
        callable returning UTC ns. Default: ``time.time_ns``.
    reconnect : Backoff
        Wait between reconnection attempts.
    on_event : callable, optional
        Called with each :class:`DeviceEvent` (from the event loop; must not block).
    queue_size : int
        Blocks buffered for the consumer; beyond that, blocks are dropped and counted.
    scan_timeout_s, connect_timeout_s, command_timeout_s : float
        Timeouts (session-clock seconds).
    silence_s : float
        For devices without counters or clock: a silence longer than this is measured
        against the clock fit to count lost samples.
    latency_floor_s : float
        Minimum BLE delivery latency to subtract from the clock fit (0 when unknown).
    clock_fit : Mapping, optional
        Other :class:`DeviceClockFit` parameters (``horizon_s``, ``bin_s``...).
    battery_interval_s : float or None
        Read the battery level this often while connected (session-clock s; also at every
        connect). ``None``: only at connect.
    battery_low_pct, battery_critical_pct : int
        ``battery_low`` / ``battery_critical`` events when a reading falls to or below these
        (once per crossing; see :class:`~spasmwatch.health.BatteryMonitor`).
    rssi_interval_s : float or None
        While connected, scan for ``rssi_scan_s`` every this many seconds to follow the RSSI
        of devices that keep advertising (the RSSI at discovery is always kept). ``None``:
        no scans.
    rssi_scan_s : float
        Length of each of those scans (s).
    rssi_max_age_s : float, optional
        An RSSI older than this (s) is not used to explain a loss (default: twice
        ``rssi_interval_s`` plus the scan, at least 10 s).
    health : Mapping, optional
        ``{device instance: DeviceHealthTracker}``. The session feeds each tracker its
        device's blocks and battery/device-info readings, forwards its ``quality`` and
        ``wear`` events, and uses its wear state and EMG contact to explain losses.
    loss_rules : LossRules, optional
        Thresholds of the loss attribution.
    report_open_gaps : bool
        At :meth:`stop`, end each stream of a device that is not streaming (dead battery,
        out of range...) with an empty block carrying the open gap and its cause.
    """

    def __init__(
        self,
        devices: list[DeviceTarget],
        *,
        client_backend: type[BaseBleakClient] | None = None,
        scanner_backend: type[BaseBleakScanner] | None = None,
        clock: Clock | Callable[[], int] | None = None,
        reconnect: Backoff | None = None,
        on_event: Callable[[DeviceEvent], Any] | None = None,
        queue_size: int = 4096,
        scan_timeout_s: float = 10.0,
        connect_timeout_s: float = 20.0,
        command_timeout_s: float = 5.0,
        silence_s: float = 0.5,
        latency_floor_s: float = 0.0,
        clock_fit: Mapping[str, float] | None = None,
        battery_interval_s: float | None = 300.0,
        battery_low_pct: int = 20,
        battery_critical_pct: int = 10,
        rssi_interval_s: float | None = 60.0,
        rssi_scan_s: float = 2.0,
        rssi_max_age_s: float | None = None,
        health: Mapping[str, DeviceHealthTracker] | None = None,
        loss_rules: LossRules | None = None,
        report_open_gaps: bool = False,
    ) -> None:
        if not devices:
            raise ConfigError("BleSession needs at least one DeviceTarget")
        names = [d.instance for d in devices]
        if len(set(names)) != len(names):
            raise ConfigError(
                f"BleSession device instances must be unique (got {names}); give "
                "DeviceTarget(instance=...) to the second device of a profile"
            )
        if queue_size < 1:
            raise ConfigError(f"BleSession queue_size must be >= 1 (got {queue_size})")
        self.client_backend = client_backend
        self.scanner_backend = scanner_backend
        self.clock = _as_clock(clock)
        self.reconnect = reconnect if reconnect is not None else Backoff()
        self.on_event = on_event
        self.scan_timeout_s = float(scan_timeout_s)
        self.connect_timeout_s = float(connect_timeout_s)
        self.command_timeout_s = float(command_timeout_s)
        self.silence_s = float(silence_s)
        self.clock_fit_params: dict[str, float] = dict(clock_fit or {})
        self.clock_fit_params.setdefault("latency_floor_s", float(latency_floor_s))
        for name, v in (
            ("battery_interval_s", battery_interval_s),
            ("rssi_interval_s", rssi_interval_s),
            ("rssi_max_age_s", rssi_max_age_s),
            ("rssi_scan_s", rssi_scan_s),
        ):
            if v is not None and (
                isinstance(v, bool)
                or not isinstance(v, int | float)
                or not math.isfinite(v)
                or v <= 0
            ):
                raise ConfigError(f"BleSession {name} must be a number of seconds > 0 (got {v!r})")
        self.battery_interval_s = None if battery_interval_s is None else float(battery_interval_s)
        self._battery = BatteryMonitor(battery_low_pct, battery_critical_pct)
        self.rssi_interval_s = None if rssi_interval_s is None else float(rssi_interval_s)
        self.rssi_scan_s = float(rssi_scan_s)
        if rssi_max_age_s is None:
            rssi_max_age_s = max(10.0, 2 * (self.rssi_interval_s or 0.0) + self.rssi_scan_s)
        self.rssi_max_age_s = float(rssi_max_age_s)
        self.health: dict[str, DeviceHealthTracker] = dict(health or {})
        unknown = set(self.health) - set(names)
        if unknown:
            raise ConfigError(
                f"BleSession health trackers for unknown devices {sorted(unknown)}; "
                f"devices: {names}"
            )
        for k, tr in self.health.items():
            if not isinstance(tr, DeviceHealthTracker) or tr.device != k:
                raise ConfigError(
                    f"BleSession health[{k!r}] must be a DeviceHealthTracker of device {k!r} "
                    f"(got {tr!r})"
                )
        self.loss_rules = loss_rules if loss_rules is not None else LossRules()
        self.report_open_gaps = bool(report_open_gaps)
        self._rssi_task: asyncio.Task[None] | None = None
        self._queue_size = int(queue_size)
        self._queue: asyncio.Queue[SampleBlock | None] = asyncio.Queue(self._queue_size)
        self._claimed: set[str] = set()
        self._bg: set[asyncio.Future[Any]] = set()
        self._stopping = False
        self._started = False
        self._runners = {d.instance: _DeviceRunner(self, d) for d in devices}  # type: ignore[misc]

    # -------------------------------------------------------------- public

    @property
    def stats(self) -> dict[str, DeviceStats]:
        """Counters per device instance."""
        return {k: r.stats for k, r in self._runners.items()}

    def specs(self) -> list[StreamSpec]:
        """Stream specs of every device and stream."""
        return [st.spec for r in self._runners.values() for st in r.streams.values()]

    def clock_fit(self, device: str, kind: str) -> ClockFitState:
        """Current device-clock fit of stream ``kind`` of ``device``."""
        try:
            return self._runners[device].streams[kind].fit.state()
        except KeyError:
            raise ConfigError(
                f"no stream {device}.{kind} in this session (have {[s.key for s in self.specs()]})"
            ) from None

    async def start(self) -> None:
        """Start one task per device (finding, connecting, streaming, reconnecting)."""
        if self._started:
            return
        self._started = True
        self._stopping = False
        loop = asyncio.get_running_loop()
        for r in self._runners.values():
            r.task = loop.create_task(r.run(), name=f"spasmwatch-ble-{r.instance}")
        if self.rssi_interval_s is not None:
            self._rssi_task = loop.create_task(self._rssi_loop(), name="spasmwatch-ble-rssi")

    async def stop(self) -> None:
        """Send stop commands, unsubscribe, disconnect, end :meth:`blocks`."""
        if self._stopping:
            return
        self._stopping = True
        silent = [r for r in self._runners.values() if not r.streaming]
        t = self._rssi_task
        if t is not None:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await t
            self._rssi_task = None
        try:
            results = await asyncio.gather(
                *(r.stop() for r in self._runners.values()), return_exceptions=True
            )
            for r, res in zip(self._runners.values(), results, strict=True):
                if isinstance(res, BaseException):
                    log.error("spasmwatch: stopping %s failed: %r", r.instance, res)
                    self._event(r.instance, "error", {"message": repr(res), "during": "stop"})
            if self.report_open_gaps:
                now = self.clock.now_ns()
                for r in silent:
                    for b in r.open_gaps(now):
                        try:
                            self._queue.put_nowait(b)
                        except asyncio.QueueFull:
                            r.stats.dropped_blocks += 1
        finally:  # whatever happened, blocks() must end
            while True:
                try:
                    self._queue.put_nowait(None)
                    break
                except asyncio.QueueFull:  # make room for the end marker
                    self._queue.get_nowait()

    async def blocks(self) -> AsyncIterator[SampleBlock]:
        """Sample blocks of every device and stream, in arrival order, until :meth:`stop`."""
        while True:
            b = await self._queue.get()
            if b is None:
                return
            yield b

    def __aiter__(self) -> AsyncIterator[SampleBlock]:
        return self.blocks()

    async def __aenter__(self) -> BleSession:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -------------------------------------------------------------- internals

    def _monotonic_ns(self) -> int | None:
        f = getattr(self.clock, "monotonic_ns", None)
        return int(f()) if f is not None else None

    async def _rssi_loop(self) -> None:
        """Short scans while connected: the RSSI of devices that keep advertising."""
        assert self.rssi_interval_s is not None
        kw: dict[str, Any] = {}
        if self.scanner_backend is not None:
            kw["backend"] = self.scanner_backend

        def seen(d: BLEDevice, ad: Any) -> None:
            a = d.address.lower()
            for r in self._runners.values():
                bd = r.ble_device
                addr = bd.address if isinstance(bd, BLEDevice) else bd
                if r.streaming and addr is not None and addr.lower() == a:
                    rssi = getattr(ad, "rssi", None)
                    if isinstance(rssi, int | float):
                        r._set_rssi(float(rssi))

        while not self._stopping:
            await self.clock.sleep(self.rssi_interval_s)
            if self._stopping or not any(r.streaming for r in self._runners.values()):
                continue
            scanner = BleakScanner(seen, **kw)
            try:
                await scanner.start()
                try:
                    await self.clock.sleep(self.rssi_scan_s)
                finally:
                    await scanner.stop()
            except (BleakError, OSError) as e:
                log.debug("spasmwatch: RSSI scan failed: %r", e)

    def _event(self, device: str, kind: str, detail: Mapping[str, Any]) -> None:
        if self.on_event is None:
            return
        ev = DeviceEvent(device, kind, self.clock.now_ns(), dict(detail))
        try:
            res = self.on_event(ev)
            if inspect.isawaitable(res):
                task = asyncio.ensure_future(res)
                self._bg.add(task)
                task.add_done_callback(self._bg.discard)
        except Exception:
            log.exception("spasmwatch: on_event callback failed for %s", kind)
