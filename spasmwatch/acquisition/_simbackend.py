"""A simulated wearable behind real bleak backends.

:class:`SimWorld` holds :class:`SimulatedDevice` objects and hands out a pair of bleak
backend classes bound to it (:meth:`SimWorld.backends`), so the *real*
``BleakClient(address, backend=client_cls)`` and ``BleakScanner(backend=scanner_cls)``
talk to the simulated devices exactly as they would talk to BlueZ::

    world = SimWorld(speed=20)
    dev = world.add(SimulatedDevice(get_profile("polar-h10"), source=GeneratorSource(1)))
    client_cls, scanner_cls = world.backends()
    found = await BleakScanner.find_device_by_name(dev.name, backend=scanner_cls)
    async with BleakClient(found, backend=client_cls) as client:
        await client.start_notify(PMD_CP, on_cp)        # indications first
        await client.start_notify(PMD_DATA, on_data)
        await client.write_gatt_char(PMD_CP, bytes.fromhex("02 02 00 01 c8 00 01 01 10 00"))

A device advertises its profile's advertisement, exposes a GATT table built from the
profile (real :class:`~bleak.backends.service.BleakGATTServiceCollection` objects), reacts
to the vendor's commands (Polar PMD control point with indicated responses, Myo set-mode,
Movesense GSP subscribe/unsubscribe, NUS reference START/STOP) and, while a stream runs,
sends notifications in the device's own bytes (encoders of
:mod:`spasmwatch.acquisition._codecs`) at the device's pace, ``speed`` times faster than
wall time. :class:`~spasmwatch.acquisition._faults.FaultConfig` injects link loss, drops,
corruption, stalls, clock drift and delivery jitter. The device keeps sampling while the
link is down; what it could not deliver is lost, and every frame's fate is recorded in a
ground-truth log (:meth:`SimulatedDevice.truth`).

Time: :class:`SimClock` is the simulated UTC clock shared by devices and host code (pass
it to :class:`~spasmwatch.acquisition._session.BleSession`). While a notification is
being delivered the clock reads exactly the simulated arrival time, so host timestamps
do not pick up event-loop lag multiplied by ``speed``; and a device whose deliveries fall
behind by more than ``SimClock.max_lag_s`` holds the clock until the host catches up, so a
slow host slows the simulation down instead of being flooded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import struct
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError
from bleak.uuids import normalize_uuid_str

from spasmwatch.acquisition._faults import FaultConfig
from spasmwatch.acquisition._profiles import DeviceProfile, StreamProfile, normalize_uuid
from spasmwatch.acquisition._sources import GeneratorSource, SignalSource
from spasmwatch.errors import ConfigError, DecodeError

__all__ = [
    "FrameTruth",
    "SimBleakClient",
    "SimBleakScanner",
    "SimClock",
    "SimWorld",
    "SimulatedDevice",
    "StreamTruth",
    "SystemClock",
]

POLAR_EPOCH_NS = 946_684_800_000_000_000  # 2000-01-01T00:00:00Z in Unix ns
_CCCD = normalize_uuid_str("2902")
_MTU = 247

_PMD_CP = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
_MYO_CMD = "d5060401-a904-deb9-4748-2c7f4a124842"
_GSP_CMD = "34800001-7185-4d5d-b431-630e7050e8f0"
_GSP_DATA = "34800002-7185-4d5d-b431-630e7050e8f0"
_NUS_RX = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"
_MYO_FW = "d5060201-a904-deb9-4748-2c7f4a124842"
#: Device Information Service strings the simulator answers.
_DIS = {
    normalize_uuid_str("2a24"): "model",
    normalize_uuid_str("2a25"): "serial",
    normalize_uuid_str("2a26"): "firmware",
    normalize_uuid_str("2a27"): "hardware",
}


# ------------------------------------------------------------------------------- clocks


class SystemClock:
    """The real clock: UTC ``time.time_ns()`` and ``asyncio.sleep``. ``speed`` is 1."""

    speed = 1.0

    def now_ns(self) -> int:
        """Current UTC time in ns."""
        return time.time_ns()

    def monotonic_ns(self) -> int:
        """Host monotonic clock (ns); on Linux it stops while the machine is suspended."""
        return time.monotonic_ns()

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of wall time."""
        await asyncio.sleep(max(0.0, seconds))


class SimClock:
    """Simulated UTC clock running ``speed`` times faster than wall time, never ahead of
    the host.

    Parameters
    ----------
    speed : float
        Simulated seconds per wall second (> 0).
    start_ns : int, optional
        Simulated UTC ns at creation (default: the real current time).
    max_lag_s : float
        How far (simulated s, > 0) a simulated device's deliveries may fall behind the
        clock before the clock waits for them (:meth:`hold`); default 0.5 s.

    Notes
    -----
    At ``speed`` x wall time a host that cannot keep up (a loaded machine, a slow CI
    runner) would otherwise see simulated time run ahead of the work: notifications
    arrive in bursts, bounded queues overflow and timers fire against data that has not
    been delivered. Instead, a device whose delivery lags by more than ``max_lag_s`` holds
    the clock until it is back within half of that; while held, simulated time stands
    still and :meth:`sleep` / :meth:`sleep_until` wait for it. The simulation then runs
    as fast as the host can follow, up to ``speed``. Simulated time never goes back;
    :attr:`held_s` says how long (wall s) the clock has been held.
    """

    def __init__(
        self, speed: float = 1.0, start_ns: int | None = None, *, max_lag_s: float = 0.5
    ) -> None:
        if not (isinstance(speed, int | float) and math.isfinite(speed) and speed > 0):
            raise ConfigError(f"SimClock.speed must be a number > 0 (got {speed!r})")
        if not (isinstance(max_lag_s, int | float) and math.isfinite(max_lag_s) and max_lag_s > 0):
            raise ConfigError(f"SimClock.max_lag_s must be a number > 0 (got {max_lag_s!r})")
        self.speed = float(speed)
        self.max_lag_ns = int(max_lag_s * 1e9)
        self._wall0 = time.monotonic()
        self._t0 = time.time_ns() if start_ns is None else int(start_ns)
        self._pinned: int | None = None
        self._jump_ns = 0
        self._holders: set[object] = set()
        self._held_wall = 0.0  # wall s spent held, before the current hold
        self._frozen_ns = 0  # simulated ns (without jumps) at which the current hold froze

    def _elapsed_ns(self) -> int:
        if self._holders:
            return self._frozen_ns
        # never below the last frozen value (float rounding at the release)
        t = int((time.monotonic() - self._wall0 - self._held_wall) * self.speed * 1e9)
        return max(t, self._frozen_ns)

    def running_ns(self) -> int:
        """Simulated time from the wall clock (ignores any pinned delivery time)."""
        return self._t0 + self._jump_ns + self._elapsed_ns()

    def monotonic_ns(self) -> int:
        """Simulated host monotonic clock (ns): like :meth:`now_ns` but it does not advance
        over a simulated host suspend (:meth:`jump`), as ``time.monotonic`` on Linux."""
        return self.now_ns() - self._jump_ns

    def jump(self, seconds: float) -> None:
        """Advance the wall time by ``seconds`` at once, without monotonic time passing
        (a host suspend of that length)."""
        if not (isinstance(seconds, int | float) and math.isfinite(seconds) and seconds >= 0):
            raise ConfigError(f"SimClock.jump needs seconds >= 0 (got {seconds!r})")
        self._jump_ns += int(seconds * 1e9)

    def now_ns(self) -> int:
        """Simulated UTC ns; during a notification delivery, its exact arrival time."""
        if self._pinned is not None:
            return self._pinned
        return self.running_ns()

    @property
    def held(self) -> bool:
        """Whether simulated time stands still, waiting for a device's deliveries."""
        return bool(self._holders)

    @property
    def held_s(self) -> float:
        """Wall seconds the clock has stood still so far (the cost of a slow host)."""
        if not self._holders:
            return self._held_wall
        # wall time not turned into simulated time: all earlier holds plus the current one
        return time.monotonic() - self._wall0 - self._frozen_ns / 1e9 / self.speed

    def hold(self, holder: object) -> None:
        """Stop simulated time until every holder has called :meth:`release`."""
        if not self._holders:
            self._frozen_ns = self._elapsed_ns()
        self._holders.add(holder)

    def release(self, holder: object) -> None:
        """End ``holder``'s hold (no-op if it holds none); time runs on from where it
        stood when the last holder lets go."""
        if holder not in self._holders:
            return
        if self._holders == {holder}:
            # the hold's wall time is not simulated time: resume from the frozen value
            self._held_wall = self.held_s
        self._holders.discard(holder)

    @contextlib.contextmanager
    def pinned(self, t_ns: int) -> Iterator[None]:
        """Make :meth:`now_ns` read ``t_ns`` inside the block (used while delivering)."""
        prev = self._pinned
        self._pinned = int(t_ns)
        try:
            yield
        finally:
            self._pinned = prev

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of simulated time (longer in wall time while held)."""
        await self.sleep_until(self.running_ns() + int(max(0.0, seconds) * 1e9), yield_=True)

    async def sleep_until(self, t_ns: int, *, yield_: bool = False) -> None:
        """Sleep until simulated time ``t_ns``; if it has passed, return at once (or, with
        ``yield_``, after one pass of the event loop)."""
        delay = (t_ns - self.running_ns()) / 1e9 / self.speed
        if delay <= 0:
            if yield_:
                await asyncio.sleep(0)
            return
        while delay > 0:
            # while held, poll: the hold ends when a device's deliveries catch up
            await asyncio.sleep(min(delay, 0.005) if self._holders else delay)
            delay = (t_ns - self.running_ns()) / 1e9 / self.speed


# ------------------------------------------------------------------------------- truth


@dataclass(slots=True)
class FrameTruth:
    """What happened to one frame a simulated device produced.

    ``status`` is ``"delivered"``, ``"corrupted"`` (delivered but undecodable),
    ``"dropped"`` (lost on the air) or ``"link_down"`` (no link, not subscribed, or lost in
    flight when the link dropped).
    """

    first_index: int
    n: int
    emit_ns: int
    status: str


class StreamTruth:
    """Ground truth of one stream of a simulated device since it was (re)started.

    Attributes
    ----------
    kind : str
    rate_hz : float
        Nominal rate.
    true_rate_hz : float
        Actual rate (nominal × (1 + drift)).
    epoch_ns : int
        Simulated UTC time of sample 0.
    frames : list of FrameTruth
    """

    def __init__(self, kind: str, rate_hz: float, true_rate_hz: float, epoch_ns: int) -> None:
        self.kind = kind
        self.rate_hz = rate_hz
        self.true_rate_hz = true_rate_hz
        self.epoch_ns = epoch_ns
        self.frames: list[FrameTruth] = []

    def sample_time_ns(self, index: np.ndarray | int) -> np.ndarray:
        """True simulated UTC time (ns) of stream sample(s) ``index``."""
        idx = np.asarray(index, dtype=np.float64)
        return self.epoch_ns + np.round(idx * 1e9 / self.true_rate_hz).astype(np.int64)

    @property
    def produced(self) -> int:
        """Samples produced (in frames) so far."""
        return sum(f.n for f in self.frames)

    def count(self, status: str) -> int:
        """Samples in frames with this status."""
        return sum(f.n for f in self.frames if f.status == status)

    def lost_frames(self) -> list[FrameTruth]:
        """Frames whose samples never reached the host intact."""
        return [f for f in self.frames if f.status != "delivered"]


# ------------------------------------------------------------------------------- device


class _Stream:
    """One running stream group on a device (several kinds when they share frames)."""

    def __init__(
        self,
        device: SimulatedDevice,
        kinds: tuple[str, ...],
        profiles: tuple[StreamProfile, ...],
        epoch_ns: int,
    ) -> None:
        from spasmwatch.acquisition._codecs import make_encoder

        self.device = device
        self.kinds = kinds
        self.profiles = profiles
        sp = profiles[0]
        self.rate_hz = sp.rate_hz
        self.spf = sp.samples_per_frame
        ppm = device.faults.clock_drift_ppm
        self.true_rate = sp.rate_hz * (1.0 + ppm * 1e-6)
        self.epoch_ns = epoch_ns
        self.encoder = make_encoder(
            device.profile, kinds[0], **device.encoder_options.get(kinds[0], {})
        )
        self.spf = getattr(self.encoder, "samples_per_frame", self.spf) or self.spf
        self.next_frame = 0
        self.seq = 0
        self.notes_per_frame: int | None = None  # learnt from the first encoded frame
        self.paused = False
        self.truth = {k: StreamTruth(k, sp.rate_hz, self.true_rate, epoch_ns) for k in kinds}

    def emit_ns(self, j: int) -> int:
        last = (j + 1) * self.spf - 1
        return self.epoch_ns + round(last * 1e9 / self.true_rate)


class SimulatedDevice:
    """A simulated wearable following a device profile.

    Parameters
    ----------
    profile : DeviceProfile
        What device to be (GATT table, advertisement, streams, commands).
    address : str, optional
        Bluetooth address (default: derived from the seed).
    name : str, optional
        Advertised local name (default: the profile's first name prefix plus a serial).
    source : SignalSource, optional
        Where samples come from (default :class:`GeneratorSource` with ``seed``).
    faults : FaultConfig
        Faults to inject (default: none).
    seed : int
        Seed of every random choice (faults and default source).
    battery_level : int
        Battery percentage at the time the device is added to its world; it falls by
        ``faults.battery_drain_per_h``.
    device_info : Mapping, optional
        Device Information strings (``model``, ``firmware``, ``hardware``, ``serial``)
        returned by reads of 0x2A24/0x2A26/0x2A27/0x2A25 where the profile declares them
        (default: the profile name, ``"sim-1.0.0"``, ``"sim"``, the address digits).
    advertise_while_connected : bool
        Keep advertising while a client is connected (Polar sensors accept a second
        connection and keep advertising [U]); the host can then follow the RSSI.
    encoder_options : Mapping, optional
        ``{kind: {option: value}}`` passed to the stream's encoder (e.g. ``{"acc":
        {"frame_type": 0x80}}`` for a Verity Sense sending delta frames with FACTOR).

    Attributes
    ----------
    writes : list of tuple
        ``(sim_time_ns, characteristic_uuid, bytes, response)`` of every write received.
    connections, disconnects : int
        Connections accepted and link losses forced by faults.
    """

    _serials = itertools.count(1)

    def __init__(
        self,
        profile: DeviceProfile,
        *,
        address: str | None = None,
        name: str | None = None,
        source: SignalSource | None = None,
        faults: FaultConfig | None = None,
        seed: int = 0,
        battery_level: int = 87,
        encoder_options: Mapping[str, Mapping[str, Any]] | None = None,
        device_info: Mapping[str, str] | None = None,
        advertise_while_connected: bool = False,
    ) -> None:
        self.profile = profile
        serial = next(self._serials)
        if address is None:
            b = (seed * 7919 + serial * 104729) & 0xFFFFFF
            address = (
                f"C0:DE:{serial & 0xFF:02X}:{b >> 16:02X}:{(b >> 8) & 0xFF:02X}:{b & 0xFF:02X}"
            )
        self.address = address.upper()
        if name is None:
            prefix = profile.match.name_prefixes[0] if profile.match.name_prefixes else "Myo"
            tail = self.address.replace(":", "")[-8:]
            name = f"{prefix} {tail}" if profile.match.name_prefixes else prefix
        self.name = name
        self.source = source if source is not None else GeneratorSource(seed)
        self.faults = faults if faults is not None else FaultConfig()
        self.seed = seed
        self.battery_level = int(battery_level)
        self.device_info = {
            "model": profile.name,
            "firmware": "sim-1.0.0",
            "hardware": "sim",
            "serial": self.address.replace(":", ""),
            **dict(device_info or {}),
        }
        self.advertise_while_connected = bool(advertise_while_connected)
        self.dead = False  # battery ran out (faults.battery_dies_at): off for good
        self.suspends = 0
        self._added_ns: int | None = None
        self._first_connect_ns: int | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self.encoder_options = {k: dict(v) for k, v in (encoder_options or {}).items()}
        self.rng = np.random.default_rng([seed, 0x51D])
        self.world: SimWorld | None = None
        self.writes: list[tuple[int, str, bytes, bool]] = []
        self.connections = 0
        self.disconnects = 0
        self._link: SimBleakClient | None = None
        self._subs: dict[str, NotifyCallback] = {}
        self._available_at = -(2**62)
        self._streams: dict[tuple[str, ...], _Stream] = {}
        self._truth: dict[str, StreamTruth] = {}
        self._queue: deque[tuple[int, str, bytes, SimBleakClient, FrameTruth | None]] = deque()
        self._last_delivery = -(2**62)
        self._stall_until = -(2**62)
        self._deliver_task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._fault_task: asyncio.Task[None] | None = None
        self._producer: asyncio.Task[None] | None = None
        self._producer_wake = asyncio.Event()
        self._clock_t0: int | None = None
        self._decoders: dict[str, Any] = {}
        self._movesense_refs: dict[int, tuple[str, ...]] = {}
        uuids = {c.uuid for c in profile.characteristics}
        self.family = (
            "polar"
            if _PMD_CP in uuids
            else "myo"
            if _MYO_CMD in uuids
            else "movesense"
            if _GSP_CMD in uuids
            else "nus"
            if _NUS_RX in uuids
            else "generic"
        )

    # ------------------------------------------------------------------ basics

    @property
    def clock(self) -> SimClock:
        if self.world is None:
            raise ConfigError(
                f"simulated device {self.name!r} is not in a SimWorld; call world.add(device)"
            )
        return self.world.clock

    def __repr__(self) -> str:
        return f"<SimulatedDevice {self.profile.id} {self.name!r} {self.address}>"

    @property
    def connected(self) -> bool:
        """True while a client holds the link."""
        return self._link is not None

    def available(self, now_ns: int | None = None) -> bool:
        """Reachable (advertising, accepting connections): not in a forced outage, not
        dead, and in range (RSSI at or above ``faults.range_limit_dbm``)."""
        now = self.clock.running_ns() if now_ns is None else now_ns
        if self.dead or self.rssi(now) < self.faults.range_limit_dbm:
            return False
        return now >= self._available_at

    def _since_added_s(self, now_ns: int) -> float:
        if self._added_ns is None:
            self._added_ns = now_ns
        return (now_ns - self._added_ns) / 1e9

    def rssi(self, now_ns: int | None = None) -> float:
        """RSSI (dBm) the host sees now (``faults.rssi_dbm``)."""
        now = self.clock.running_ns() if now_ns is None else now_ns
        return self.faults.rssi_at(self._since_added_s(now))

    def battery(self, now_ns: int | None = None) -> float:
        """Battery level (%) now: ``battery_level`` minus the drain since added."""
        now = self.clock.running_ns() if now_ns is None else now_ns
        used = self.faults.battery_drain_per_h * self._since_added_s(now) / 3600.0
        return float(min(255.0, max(0.0, self.battery_level - used)))

    def device_time_ns(self, t_ns: int | float) -> int:
        """The device's own clock at simulated UTC ``t_ns`` (drifts by ``clock_drift_ppm``).

        Polar devices count ns since 2000-01-01; other devices count from when the device
        was created.
        """
        if self._clock_t0 is None:
            self._clock_t0 = self.clock.running_ns()
        k = 1.0 + self.faults.clock_drift_ppm * 1e-6
        el = (t_ns - self._clock_t0) * k
        base = self._clock_t0 - POLAR_EPOCH_NS if self.family == "polar" else 0
        return int(base + round(el))

    def advertisement(self) -> AdvertisementData:
        """The advertisement the device sends while not connected."""
        uuids = [normalize_uuid_str(u) for u in self.profile.match.service_uuids]
        mdata = {int(m): b"\x00\x00" for m in self.profile.match.manufacturer_ids}
        return AdvertisementData(
            local_name=self.name,
            manufacturer_data=mdata,
            service_data={},
            service_uuids=uuids,
            tx_power=None,
            rssi=round(self.rssi()),
            platform_data=(),
        )

    def truth(self, kind: str) -> StreamTruth:
        """Ground truth of stream ``kind`` since its last (re)start."""
        try:
            return self._truth[kind]
        except KeyError:
            raise ConfigError(
                f"simulated device {self.name!r} has not started a {kind!r} stream "
                f"(started: {sorted(self._truth)})"
            ) from None

    def build_services(self) -> BleakGATTServiceCollection:
        """The GATT table from the profile, as real bleak objects."""
        coll = BleakGATTServiceCollection()
        handle = itertools.count(1)
        services: dict[str, BleakGATTService] = {}
        for c in self.profile.characteristics:
            if c.service not in services:
                svc = BleakGATTService(None, next(handle), c.service)
                services[c.service] = svc
                coll.add_service(svc)
            svc = services[c.service]
            ch = BleakGATTCharacteristic(
                None, next(handle), c.uuid, list(c.properties), lambda: _MTU - 3, svc
            )
            coll.add_characteristic(ch)
            if "notify" in c.properties or "indicate" in c.properties:
                coll.add_descriptor(BleakGATTDescriptor(None, next(handle), _CCCD, ch))
        return coll

    # ------------------------------------------------------------------ link

    def _accept(self, client: SimBleakClient) -> None:
        now = self.clock.running_ns()
        if not self.available(now):
            raise BleakDeviceNotFoundError(
                self.address, f"Device with address {self.address} was not found."
            )
        if self._link is not None:
            raise BleakError(f"{self.name} ({self.address}) already has a connection")
        self._link = client
        self._subs = {}
        self.connections += 1
        if self._first_connect_ns is None:
            self._first_connect_ns = now
        every = self.faults.disconnect_every_s
        if every is not None:
            drop_at = now + int(every * 1e9)
            self._fault_task = asyncio.get_running_loop().create_task(self._drop_at(drop_at))
        if self.faults.watched and (self._watch_task is None or self._watch_task.done()):
            self._watch_task = asyncio.get_running_loop().create_task(self._watch(client))

    def _lose_link(self) -> None:
        """The link ends from the device's side (power off, out of range, host asleep)."""
        link = self._link
        if link is None:
            return
        self.disconnects += 1
        self._release(link)
        link._on_link_lost()

    async def _watch(self, client: SimBleakClient) -> None:
        """While ``client`` holds the link: range, battery death and host suspend faults."""
        f = self.faults
        clock = self.clock
        while self._link is client:
            now = clock.running_ns()
            if f.battery_dies_at is not None and self.battery(now) <= f.battery_dies_at:
                self.dead = True
                self.stop_all()
                self._lose_link()
                return
            if self.rssi(now) < f.range_limit_dbm:
                self._lose_link()
                return
            if (
                f.suspend_at_s is not None
                and f.suspend_for_s > 0
                and self.suspends == 0
                and self._first_connect_ns is not None
                and now >= self._first_connect_ns + int(f.suspend_at_s * 1e9)
            ):
                self.suspends += 1
                assert self.world is not None
                self.world.suspend_host(f.suspend_for_s)
                return
            await clock.sleep(0.05)

    async def _drop_at(self, t_ns: int) -> None:
        await self.clock.sleep_until(t_ns)
        link = self._link
        if link is None:
            return
        self.disconnects += 1
        # the outage runs from when the drop really happened (it can fire late under load)
        self._available_at = max(t_ns, self.clock.running_ns()) + int(
            self.faults.reconnect_delay_s * 1e9
        )
        self._release(link)
        link._on_link_lost()

    def _release(self, client: SimBleakClient) -> None:
        if self._link is not client:
            return
        self._link = None
        self._subs = {}
        for st in self._streams.values():
            st.paused = True  # a real device stops measuring on link loss; counters go on
        if self._fault_task is not None and self._fault_task is not asyncio.current_task():
            self._fault_task.cancel()
        self._fault_task = None
        if self._watch_task is not None and self._watch_task is not asyncio.current_task():
            self._watch_task.cancel()
            self._watch_task = None

    def _subscribe(self, client: SimBleakClient, uuid: str, cb: NotifyCallback | None) -> None:
        if self._link is not client:
            raise BleakError("Not connected")
        if cb is None:
            self._subs.pop(uuid, None)
        else:
            self._subs[uuid] = cb

    # ------------------------------------------------------------------ GATT ops

    def read(self, uuid: str) -> bytes:
        """Value of a characteristic read."""
        if uuid == self.profile.battery_characteristic or uuid == normalize_uuid("2a19"):
            return bytes([max(0, min(255, math.ceil(self.battery(self.clock.now_ns()))))])
        field = _DIS.get(uuid)
        if field is not None:
            return str(self.device_info.get(field) or "").encode("utf-8")
        if uuid == _PMD_CP:
            bits = 0
            for s in self.profile.streams:
                t = s.param("pmd_type")
                if isinstance(t, int) and 0 <= t < 8:
                    bits |= 1 << t
            return bytes([0x0F, bits]) + bytes(15)
        if uuid == _MYO_FW:
            return struct.pack("<4H", 1, 5, 1970, 2)
        return b""

    def write(self, uuid: str, data: bytes, response: bool) -> None:
        """Handle a characteristic write (commands)."""
        now = self.clock.now_ns()
        self.writes.append((now, uuid, bytes(data), bool(response)))
        handler = {
            "polar": self._write_polar,
            "myo": self._write_myo,
            "movesense": self._write_movesense,
            "nus": self._write_nus,
        }.get(self.family, self._write_generic)
        handler(uuid, bytes(data), now)

    def _group_of(self, kind: str) -> tuple[tuple[str, ...], tuple[StreamProfile, ...]]:
        sp = self.profile.stream(kind)
        if sp.decoder == "myo-imu":
            group = tuple(s for s in self.profile.streams if s.decoder == "myo-imu")
            return tuple(s.kind for s in group), group
        return (kind,), (sp,)

    def _start(self, kind: str, now: int) -> _Stream:
        kinds, profiles = self._group_of(kind)
        st = self._streams.get(kinds)
        if st is not None:
            st.paused = False
            return st
        st = _Stream(self, kinds, profiles, now)
        self._streams[kinds] = st
        for k in kinds:
            self._truth[k] = st.truth[k]
        self._ensure_producer()
        return st

    def _stop(self, kind: str) -> None:
        kinds, _ = self._group_of(kind)
        self._streams.pop(kinds, None)

    def stop_all(self) -> None:
        """Stop every stream (the device's own power-off)."""
        for kinds in list(self._streams):
            self._stop(kinds[0])

    def _write_generic(self, uuid: str, data: bytes, now: int) -> None:
        if any(c.characteristic == uuid and c.data == data for c in self.profile.start_commands):
            for s in self.profile.streams:
                self._start(s.kind, now)
        if any(c.characteristic == uuid and c.data == data for c in self.profile.stop_commands):
            for s in self.profile.streams:
                self._stop(s.kind)

    def _write_polar(self, uuid: str, data: bytes, now: int) -> None:
        from spasmwatch.acquisition._polar import build_pmd_cp_response

        if uuid != _PMD_CP or not data:
            return
        op = data[0]
        mtype = data[1] & 0x3F if len(data) > 1 else 0
        streams = [s for s in self.profile.streams if s.param("pmd_type") == mtype]
        status, params = 0, b""
        if op in (0x01, 0x02, 0x03) and len(data) < 2:
            status = 4  # INVALID_LENGTH
        elif op in (0x01, 0x02, 0x03) and not streams:
            status = 2  # INVALID_MEASUREMENT_TYPE
        elif op == 0x01:
            s = streams[0]
            params = b"\x00" + bytes([len(s.rates_hz)])
            params += b"".join(struct.pack("<H", int(r)) for r in s.rates_hz)
            params += b"\x01\x01" + struct.pack("<H", int(s.param("resolution", 16)))
        elif op == 0x02:
            s = streams[0]
            st = self._start(s.kind, now)
            enc = st.encoder
            if getattr(enc, "frame_type", 0) == 0x80:  # Verity: start response carries FACTOR
                params = b"\x05\x01" + struct.pack("<f", float(enc.factor))
        elif op == 0x03:
            self._stop(streams[0].kind)
        else:
            status = 1  # INVALID_OP_CODE
        resp = build_pmd_cp_response(op, mtype, status, params)
        self._send(_PMD_CP, resp, now + int(0.01e9), None)

    def _write_myo(self, uuid: str, data: bytes, now: int) -> None:
        if uuid != _MYO_CMD or len(data) < 2:
            return
        if data[0] == 0x01 and len(data) >= 5:
            emg_mode, imu_mode = data[2], data[3]
            kinds = {s.kind: s for s in self.profile.streams}
            if "emg" in kinds:
                if emg_mode in (2, 3):
                    self._start("emg", now)
                else:
                    self._stop("emg")
            imu = [s.kind for s in self.profile.streams if s.decoder == "myo-imu"]
            if imu:
                if imu_mode in (1, 3, 4):
                    self._start(imu[0], now)
                else:
                    self._stop(imu[0])

    def _write_movesense(self, uuid: str, data: bytes, now: int) -> None:
        if uuid != _GSP_CMD or len(data) < 2:
            return
        cmd, ref = data[0], data[1]
        if cmd == 0x00:
            self._send(_GSP_DATA, bytes([0x01, ref]) + b"Hello", now + int(0.01e9), None)
        elif cmd == 0x01:
            path = data[2:].decode("ascii", "replace")
            for s in self.profile.streams:
                if s.param("path") == path:
                    self._movesense_refs[ref] = (s.kind,)
                    self._start(s.kind, now)
                    return
            self._send(_GSP_DATA, bytes([0x01, ref]) + struct.pack(">H", 404), now, None)
        elif cmd == 0x02:
            for k in self._movesense_refs.pop(ref, ()):
                self._stop(k)

    def _write_nus(self, uuid: str, data: bytes, now: int) -> None:
        if uuid != _NUS_RX or len(data) < 2:
            return
        cmd, mask = data[0], data[1]
        from spasmwatch.acquisition._nus import build_nus_response

        tx = [c.uuid for c in self.profile.characteristics if "notify" in c.properties]
        if tx and cmd in (0x01, 0x02):
            self._send(tx[0], build_nus_response(cmd, 0), now + int(0.01e9), None)
        for s in self.profile.streams:
            bit = 1 << (int(s.param("stream_type", 1)) - 1)
            if mask & bit:
                if cmd == 0x01:
                    self._start(s.kind, now)
                elif cmd == 0x02:
                    self._stop(s.kind)

    # ------------------------------------------------------------------ producing

    def _ensure_producer(self) -> None:
        if self._producer is None or self._producer.done():
            self._producer_wake = asyncio.Event()
            self._producer = asyncio.get_running_loop().create_task(self._produce())
        else:
            self._producer_wake.set()

    async def _produce(self) -> None:
        """Emit the frames of every running stream in time order (one task per device, so
        that frames of different streams go on the air in the order they were made)."""
        clock = self.clock
        while True:
            if not self._streams:
                self._producer_wake.clear()
                await self._producer_wake.wait()
                continue
            nxt = min(st.emit_ns(st.next_frame) for st in self._streams.values())
            self._producer_wake.clear()
            delay = (nxt - clock.running_ns()) / 1e9 / clock.speed
            if delay > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._producer_wake.wait(), timeout=delay)
                continue
            # catch up on everything due (the loop may lag at high speed), oldest first
            now = clock.running_ns()
            while True:
                due = [
                    (st.emit_ns(st.next_frame), i, st)
                    for i, st in enumerate(self._streams.values())
                    if st.emit_ns(st.next_frame) <= now
                ]
                if not due:
                    break
                _, _, st = min(due, key=lambda x: (x[0], x[1]))
                self._emit_frame(st, st.next_frame)
                st.next_frame += 1

    def _frame_samples(self, st: _Stream, j: int) -> dict[str, np.ndarray]:
        start = j * st.spf
        return {
            p.kind: self.source.read(p.kind, start, st.spf, p.rate_hz, p.n_channels)
            for p in st.profiles
        }

    def _emit_frame(self, st: _Stream, j: int) -> None:
        t_emit = st.emit_ns(j)
        first = j * st.spf
        if (self._link is None or st.paused) and st.notes_per_frame is not None:
            # nobody listens (link down, host asleep): book the frame, skip the encoding so
            # that catching up after a clock jump stays cheap
            st.seq += st.notes_per_frame
            for k in st.kinds:
                st.truth[k].frames.append(FrameTruth(first, st.spf, t_emit, "link_down"))
            return
        samples = self._frame_samples(st, j)
        dev_first = self.device_time_ns(st.epoch_ns + first * 1e9 / st.true_rate)
        if len(st.kinds) == 1:
            payload = samples[st.kinds[0]]
            notes = st.encoder.encode(
                payload, device_time_ns=dev_first, seq=st.seq, sample_counter=first
            )
        else:  # Myo IMU: quaternion, accelerometer and gyroscope share one notification
            n = st.spf
            notes = st.encoder.encode_imu(
                samples.get("quat", np.tile([1.0, 0.0, 0.0, 0.0], (n, 1))),
                samples.get("acc", np.zeros((n, 3))),
                samples.get("gyro", np.zeros((n, 3))),
            )
        st.seq += len(notes)
        st.notes_per_frame = len(notes)
        records = [FrameTruth(first, st.spf, t_emit, "link_down") for _ in st.kinds]
        for r, k in zip(records, st.kinds):
            st.truth[k].frames.append(r)
        link_ok = self._link is not None and not st.paused
        for uuid, data in notes:
            if not link_ok or uuid not in self._subs:
                continue
            u = self.rng.random(3)
            if u[0] < self.faults.drop_probability:
                for r in records:
                    r.status = "dropped"
                continue
            corrupt = u[1] < self.faults.corrupt_probability
            if corrupt:
                data = self._corrupt(uuid, data)
            self._send(uuid, data, t_emit, records, corrupt=corrupt)

    def _corrupt(self, uuid: str, data: bytes) -> bytes:
        from spasmwatch.acquisition._codecs import make_decoder

        dec = self._decoders.get(uuid)
        if dec is None:
            dec = self._decoders[uuid] = make_decoder(self.profile, uuid)
        for _ in range(16):
            cut = int(self.rng.integers(1, max(2, len(data))))
            bad = bytearray(data[:cut])
            if self.rng.random() < 0.5 and bad:
                bad[0] ^= 0xFF
            try:
                dec.reset()
                dec.decode(bytes(bad))
            except DecodeError:
                return bytes(bad)
        return b"\xff"

    # ------------------------------------------------------------------ delivering

    def _send(
        self,
        uuid: str,
        data: bytes,
        t_ns: int,
        records: list[FrameTruth] | None,
        *,
        corrupt: bool = False,
    ) -> None:
        link = self._link
        if link is None:
            return
        lo, hi = self.faults.jitter_s
        lat = lo + (hi - lo) * float(self.rng.random()) if hi > 0 else 0.0
        t = t_ns + int(lat * 1e9)
        if self.faults.burst_delay_probability > 0 and (
            self.rng.random() < self.faults.burst_delay_probability
        ):
            self._stall_until = max(self._stall_until, t_ns + int(self.faults.burst_delay_s * 1e9))
        t = max(t, self._stall_until, self._last_delivery)
        self._last_delivery = t
        rec = None
        if records is not None:
            rec = (records, "corrupted" if corrupt else "delivered")
        self._queue.append((t, uuid, data, link, rec))  # type: ignore[arg-type]
        if self._deliver_task is None or self._deliver_task.done():
            self._wake = asyncio.Event()
            self._deliver_task = asyncio.get_running_loop().create_task(self._deliver())
        elif self._wake is not None:
            self._wake.set()

    async def _deliver(self) -> None:
        clock = self.clock
        q = self._queue
        while True:
            if not q:
                clock.release(self)
                assert self._wake is not None
                self._wake.clear()
                await self._wake.wait()
                continue
            t, uuid, data, link, rec = q[0]
            lag = clock.running_ns() - t
            if lag > clock.max_lag_ns:
                clock.hold(self)  # the host is behind: simulated time waits for it
            elif lag <= clock.max_lag_ns // 2:
                clock.release(self)
            if lag > 0:
                await asyncio.sleep(0)  # let the host take what was delivered, one at a time
            else:
                await clock.sleep_until(t)
            q.popleft()
            cb = self._subs.get(uuid) if self._link is link else None
            if cb is None:
                continue
            if rec is not None:
                records, status = rec  # type: ignore[misc]
                for r in records:
                    r.status = status
            with clock.pinned(t):
                cb(bytearray(data))

    async def aclose(self) -> None:
        """Cancel the device's tasks (end of a simulation)."""
        tasks = []
        self._streams.clear()
        for t in (self._producer, self._deliver_task, self._fault_task, self._watch_task):
            if t is not None:
                tasks.append(t)
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._deliver_task = None
        self._fault_task = None
        self._watch_task = None
        self._producer = None
        self._queue.clear()
        self.clock.release(self)


# ------------------------------------------------------------------------------- world


class SimWorld:
    """A set of simulated devices sharing one :class:`SimClock`.

    Parameters
    ----------
    speed : float
        Simulated seconds per wall second (ignored when ``clock`` is given).
    clock : SimClock, optional
        The clock to share (default: a new one at ``speed``).
    advertising_interval_s : float
        Simulated time between two advertisements of a device.
    """

    def __init__(
        self,
        speed: float = 1.0,
        *,
        clock: SimClock | None = None,
        advertising_interval_s: float = 0.1,
    ) -> None:
        self.clock = clock if clock is not None else SimClock(speed)
        self.advertising_interval_s = float(advertising_interval_s)
        self.devices: dict[str, SimulatedDevice] = {}
        self._backends: tuple[type[SimBleakClient], type[SimBleakScanner]] | None = None

    def add(self, device: SimulatedDevice) -> SimulatedDevice:
        """Put ``device`` in this world; returns it."""
        if device.address in self.devices:
            raise ConfigError(f"a simulated device with address {device.address} exists already")
        device.world = self
        self.devices[device.address] = device
        device._added_ns = self.clock.running_ns()
        return device

    def add_device(self, profile: DeviceProfile, **kwargs: Any) -> SimulatedDevice:
        """Create a :class:`SimulatedDevice` (same arguments) and add it."""
        return self.add(SimulatedDevice(profile, **kwargs))

    def lookup(self, address: str) -> SimulatedDevice | None:
        """Device with this address (case-insensitive), or None."""
        return self.devices.get(address.upper())

    def advertising(self) -> list[SimulatedDevice]:
        """Devices advertising now: not connected and not in an outage."""
        now = self.clock.running_ns()
        return [
            d
            for d in self.devices.values()
            if (not d.connected or d.advertise_while_connected) and d.available(now)
        ]

    def suspend_host(self, seconds: float) -> None:
        """Simulate the host sleeping ``seconds``: every link drops and the clock's wall
        time jumps ahead (its monotonic time does not). The disconnections are reported
        to the clients as the host wakes, after the jump."""
        links = []
        for d in self.devices.values():
            link = d._link
            if link is not None:
                d.disconnects += 1
                d._release(link)
                links.append(link)
        self.clock.jump(seconds)
        for link in links:
            link._on_link_lost()

    def backends(self) -> tuple[type[SimBleakClient], type[SimBleakScanner]]:
        """``(client_cls, scanner_cls)`` bound to this world, for bleak's ``backend=``."""
        if self._backends is None:
            client = type("SimBleakClient", (SimBleakClient,), {"world": self})
            scanner = type("SimBleakScanner", (SimBleakScanner,), {"world": self})
            self._backends = (client, scanner)
        return self._backends

    async def aclose(self) -> None:
        """Stop every device's tasks."""
        for d in self.devices.values():
            await d.aclose()


# ------------------------------------------------------------------------------- backends


class SimBleakClient(BaseBleakClient):
    """bleak client backend talking to a :class:`SimulatedDevice` of a :class:`SimWorld`.

    Use the subclass from :meth:`SimWorld.backends` (it carries the world).
    """

    world: SimWorld

    def __init__(self, address_or_ble_device: BLEDevice | str, **kwargs: Any) -> None:
        super().__init__(
            address_or_ble_device,
            disconnected_callback=kwargs.get("disconnected_callback"),
            timeout=kwargs.get("timeout", 30.0),
        )
        if not hasattr(type(self), "world"):
            raise BleakError("use the client class from SimWorld.backends(), not SimBleakClient")
        self._device: SimulatedDevice | None = None
        self._connected = False

    @property
    def name(self) -> str:
        dev = self.world.lookup(self.address)
        return dev.name if dev is not None else self.address

    @property
    def mtu_size(self) -> int:
        return _MTU

    @property
    def is_connected(self) -> bool:
        return self._connected

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        await asyncio.sleep(0)
        dev = self.world.lookup(self.address)
        if dev is None:
            raise BleakDeviceNotFoundError(
                self.address, f"Device with address {self.address} was not found."
            )
        dev._accept(self)
        self._device = dev
        self._connected = True
        self.services = dev.build_services()

    async def disconnect(self) -> None:
        await asyncio.sleep(0)
        if not self._connected or self._device is None:
            return
        self._device._release(self)
        self._connected = False
        if self._disconnected_callback is not None:
            self._disconnected_callback()  # BlueZ calls it on every disconnect

    def _on_link_lost(self) -> None:
        self._connected = False
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def unpair(self) -> None:
        return None

    def _dev(self) -> SimulatedDevice:
        if not self._connected or self._device is None:
            raise BleakError("Not connected")
        return self._device

    async def read_gatt_char(
        self,
        characteristic: BleakGATTCharacteristic,
        *,
        use_cached: bool = False,
        **kwargs: Any,
    ) -> bytearray:
        dev = self._dev()
        if "read" not in characteristic.properties:
            raise BleakError(f"characteristic {characteristic.uuid} is not readable")
        await asyncio.sleep(0)
        return bytearray(dev.read(characteristic.uuid))

    async def read_gatt_descriptor(
        self,
        descriptor: BleakGATTDescriptor,
        *,
        use_cached: bool = False,
        **kwargs: Any,
    ) -> bytearray:
        self._dev()
        return bytearray(b"\x00\x00")

    async def write_gatt_char(
        self,
        characteristic: BleakGATTCharacteristic,
        data: Any,
        response: bool,
    ) -> None:
        dev = self._dev()
        props = characteristic.properties
        if response and "write" not in props:
            raise BleakError(f"characteristic {characteristic.uuid} has no write-with-response")
        if not response and "write-without-response" not in props:
            raise BleakError(f"characteristic {characteristic.uuid} has no write-without-response")
        await asyncio.sleep(0)
        dev.write(characteristic.uuid, bytes(data), response)

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        self._dev()

    async def start_notify(
        self,
        characteristic: BleakGATTCharacteristic,
        callback: NotifyCallback,
        **kwargs: Any,
    ) -> None:
        dev = self._dev()
        if not {"notify", "indicate"} & set(characteristic.properties):
            raise BleakError(f"characteristic {characteristic.uuid} cannot notify or indicate")
        await asyncio.sleep(0)
        dev._subscribe(self, characteristic.uuid, callback)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        dev = self._dev()
        await asyncio.sleep(0)
        dev._subscribe(self, characteristic.uuid, None)


class SimBleakScanner(BaseBleakScanner):
    """bleak scanner backend seeing the advertising devices of a :class:`SimWorld`.

    Use the subclass from :meth:`SimWorld.backends` (it carries the world).
    """

    world: SimWorld

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        uuids = None if service_uuids is None else [normalize_uuid_str(u) for u in service_uuids]
        super().__init__(detection_callback, uuids)
        if not hasattr(type(self), "world"):
            raise BleakError("use the scanner class from SimWorld.backends(), not SimBleakScanner")
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.seen_devices = {}
        self._task = asyncio.get_running_loop().create_task(self._advertise())

    async def _advertise(self) -> None:
        world = self.world
        while True:
            await asyncio.sleep(0)
            for dev in world.advertising():
                adv = dev.advertisement()
                if self.is_allowed_uuid(adv.service_uuids):
                    bd = self.create_or_update_device(dev.address, dev.address, dev.name, dev, adv)
                    self.call_detection_callbacks(bd, adv)
            await world.clock.sleep(world.advertising_interval_s)

    async def stop(self) -> None:
        t, self._task = self._task, None
        if t is not None:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await t
