"""The simulated wearable through the real bleak API (BleakScanner/BleakClient + backend=)."""

from __future__ import annotations

import asyncio
import itertools
import time

import numpy as np
import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakError
from hypothesis import given
from hypothesis import strategies as hst

from spasmwatch.acquisition._codecs import make_decoders
from spasmwatch.acquisition._faults import FaultConfig
from spasmwatch.acquisition._polar import parse_pmd_cp_response
from spasmwatch.acquisition._profiles import get_profile
from spasmwatch.acquisition._simbackend import SimClock, SimulatedDevice, SimWorld
from spasmwatch.acquisition._sources import ArraySource, GeneratorSource
from spasmwatch.errors import ConfigError

PMD_CP = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
MYO_CMD = "d5060401-a904-deb9-4748-2c7f4a124842"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_scanner_finds_by_name_address_and_service_uuid():
    async def main():
        w = SimWorld(speed=20)
        h10 = w.add(SimulatedDevice(get_profile("polar-h10"), seed=1))
        myo = w.add(SimulatedDevice(get_profile("myo"), seed=2))
        _, scanner = w.backends()
        by_name = await BleakScanner.find_device_by_name(h10.name, timeout=2, backend=scanner)
        by_addr = await BleakScanner.find_device_by_address(
            myo.address.lower(), timeout=2, backend=scanner
        )
        async with BleakScanner(
            service_uuids=["d5060001-a904-deb9-4748-2c7f4a124842"], backend=scanner
        ) as sc:
            await asyncio.sleep(0.05)
            seen = sc.discovered_devices_and_advertisement_data
        missing = await BleakScanner.find_device_by_name("nope", timeout=0.1, backend=scanner)
        return h10, myo, by_name, by_addr, seen, missing

    h10, myo, by_name, by_addr, seen, missing = run(main())
    assert by_name is not None and by_name.address == h10.address
    assert by_name.name.startswith("Polar H10 ")
    assert by_addr is not None and by_addr.address == myo.address
    assert list(seen) == [myo.address]  # the service-UUID filter let only the Myo through
    _, adv = seen[myo.address]
    assert "d5060001-a904-deb9-4748-2c7f4a124842" in adv.service_uuids
    assert missing is None


def test_gatt_table_battery_and_polar_control_point():
    async def main():
        w = SimWorld(speed=20)
        dev = w.add(SimulatedDevice(get_profile("polar-h10"), seed=1, battery_level=64))
        client_cls, _ = w.backends()
        got: list[tuple[str, bytes]] = []
        async with BleakClient(dev.address, backend=client_cls) as client:
            services = client.services
            props = services.get_characteristic(PMD_CP).properties
            battery = await client.read_gatt_char("2a19")
            features = await client.read_gatt_char(PMD_CP)
            await client.start_notify(PMD_CP, lambda c, d: got.append(("cp", bytes(d))))
            await client.start_notify(PMD_DATA, lambda c, d: got.append(("data", bytes(d))))
            cmd = get_profile("polar-h10").start_commands[0]
            await client.write_gatt_char(PMD_CP, cmd.data, response=True)
            await w.clock.sleep(1.0)
            await client.write_gatt_char(PMD_CP, b"\x03\x02", response=True)
            await w.clock.sleep(0.1)
            with pytest.raises(BleakError):
                await client.write_gatt_char(PMD_DATA, b"\x00", response=True)
        await w.aclose()
        return props, battery, features, got, dev

    props, battery, features, got, dev = run(main())
    assert set(props) == {"read", "write", "indicate"}
    assert battery == bytearray([64])
    assert features[0] == 0x0F and features[1] == 0b101  # ECG + ACC
    cp = [parse_pmd_cp_response(d) for k, d in got if k == "cp"]
    assert [(r.op, r.type, r.ok) for r in cp] == [(2, 2, True), (3, 2, True)]
    data = [d for k, d in got if k == "data"]
    assert len(data) >= 4  # 200 Hz / 36 per frame ≈ 5.6 frames in 1 s
    decoders = make_decoders(get_profile("polar-h10"))
    frames = [f for d in data for f in decoders[PMD_DATA].decode(d)]
    assert all(f.kind == "acc" and f.samples.shape == (36, 3) for f in frames)
    assert np.mean(np.concatenate([f.samples for f in frames])[:, 2]) == pytest.approx(1000, abs=30)
    assert [w[1] for w in dev.writes] == [PMD_CP, PMD_CP]


def test_verity_start_response_carries_factor_and_delta_frames_decode():
    async def main():
        w = SimWorld(speed=20)
        prof = get_profile("polar-verity-sense")
        opts = {"acc": {"frame_type": 0x80}}
        dev = w.add(SimulatedDevice(prof, seed=3, encoder_options=opts))
        client_cls, _ = w.backends()
        decoders = make_decoders(prof)
        frames = []

        def on(c, d):
            frames.extend(decoders[c.uuid].decode(d))

        async with BleakClient(dev.address, backend=client_cls) as client:
            await client.start_notify(PMD_CP, on)
            await client.start_notify(PMD_DATA, on)
            await client.write_gatt_char(PMD_CP, prof.start_commands[0].data, response=True)
            await w.clock.sleep(3.0)
        await w.aclose()
        return decoders, frames

    decoders, frames = run(main())
    r = decoders[PMD_CP].responses[0]
    assert r.ok and r.factor == pytest.approx(2.44e-4, rel=1e-6)
    acc = np.concatenate([f.samples for f in frames])
    assert acc.shape[0] >= 57 * 2
    assert np.mean(acc[:, 2]) == pytest.approx(1000, abs=30)  # mG after FACTOR x 1000


def test_forced_disconnect_calls_the_disconnected_callback_and_device_recovers():
    async def main():
        w = SimWorld(speed=50)
        faults = FaultConfig(disconnect_every_s=2.0, reconnect_delay_s=1.0)
        dev = w.add(SimulatedDevice(get_profile("myo"), seed=4, faults=faults))
        client_cls, _ = w.backends()
        lost = asyncio.Event()
        client = BleakClient(dev.address, lambda c: lost.set(), backend=client_cls)
        await client.connect()
        await client.write_gatt_char(MYO_CMD, b"\x01\x03\x03\x01\x00", response=True)
        await asyncio.wait_for(lost.wait(), 5)
        connected_after_loss = client.is_connected
        with pytest.raises(BleakError):  # still in its outage
            await BleakClient(dev.address, backend=client_cls).connect()
        await w.clock.sleep(1.2)
        again = BleakClient(dev.address, backend=client_cls)
        await again.connect()
        ok = again.is_connected
        await again.disconnect()
        await w.aclose()
        return dev, connected_after_loss, ok

    dev, connected_after_loss, ok = run(main())
    assert not connected_after_loss and ok
    assert dev.disconnects == 1 and dev.connections == 2
    tr = dev.truth("emg")
    assert tr.count("link_down") > 0  # the device kept sampling while nobody listened


def test_myo_emg_rotates_over_four_characteristics_at_the_device_pace():
    async def main():
        w = SimWorld(speed=20)
        dev = w.add(SimulatedDevice(get_profile("myo"), seed=5))
        client_cls, _ = w.backends()
        prof = get_profile("myo")
        emg = prof.stream("emg").characteristics
        got: list[str] = []
        async with BleakClient(dev.address, backend=client_cls) as client:
            for u in emg:
                await client.start_notify(u, lambda c, d: got.append(c.uuid))
            t0 = w.clock.now_ns()
            await client.write_gatt_char(MYO_CMD, b"\x01\x03\x03\x00\x00", response=True)
            await w.clock.sleep(2.0)
            t1 = w.clock.now_ns()
        await w.aclose()
        return emg, got, (t1 - t0) / 1e9

    emg, got, elapsed = run(main())
    assert got[:8] == list(emg) * 2
    assert len(got) == pytest.approx(100 * elapsed, rel=0.05)  # 200 Hz / 2 per frame


def test_a_host_slower_than_the_simulation_holds_the_clock_instead_of_falling_behind():
    # The Myo sends 100 notifications per simulated second; at 20x that is 2,000 per wall
    # second, and this host spends 2 ms of CPU on each (500 per wall second): four times too
    # slow. Without the hold, deliveries would lag 3 simulated s after 4 s. With it,
    # simulated time waits: every notification due by an instant is delivered within the
    # clock's allowed lag (plus a few notifications' work and scheduling noise).
    max_lag_s = 0.25

    async def main():
        w = SimWorld(clock=SimClock(speed=20, max_lag_s=max_lag_s))
        dev = w.add(SimulatedDevice(get_profile("myo"), seed=5))
        client_cls, _ = w.backends()
        emg = get_profile("myo").stream("emg").characteristics
        lags: list[int] = []

        def slow_host(_c, _d):
            lags.append(w.clock.running_ns() - w.clock.now_ns())  # clock minus arrival
            end = time.perf_counter() + 0.002
            while time.perf_counter() < end:
                pass

        async with BleakClient(dev.address, backend=client_cls) as client:
            for u in emg:
                await client.start_notify(u, slow_host)
            t0 = w.clock.now_ns()
            await client.write_gatt_char(MYO_CMD, b"\x01\x03\x03\x00\x00", response=True)
            await w.clock.sleep(4.0)
            elapsed = (w.clock.now_ns() - t0) / 1e9
            n = len(lags)
        held = w.clock.held_s
        await w.aclose()
        return n, elapsed, lags, held, w.clock.held

    n, elapsed, lags, held, still_held = run(main())
    assert n >= 100 * (elapsed - max_lag_s - 0.5)  # what was due, less the allowed lag
    assert max(lags[10:]) < (max_lag_s + 0.5) * 1e9  # 3 s without the hold
    assert held > 0.5 and not still_held  # it did wait, and let go when the device closed


def test_sim_clock_hold_stops_simulated_time_and_release_resumes_without_a_jump():
    async def main():
        c = SimClock(speed=1000, start_ns=0)
        await c.sleep(0.5)
        c.hold("a")
        c.hold("b")
        frozen = c.now_ns()
        waiter = asyncio.create_task(c.sleep(1.0))
        await asyncio.sleep(0.01)  # 10 s of simulated time if the clock ran
        during = c.now_ns()
        c.release("a")  # one holder left: still held
        await asyncio.sleep(0.005)
        still = c.now_ns()
        waiting = not waiter.done()
        c.release("b")
        after = c.now_ns()
        c.release("b")  # releasing twice is harmless
        await waiter
        return frozen, during, still, waiting, after, c.now_ns(), c.held_s

    frozen, during, still, waiting, after, end, held_s = run(main())
    assert frozen == during == still and waiting
    assert frozen <= after < frozen + 0.2e9  # resumes from where it stood, not 15 s later
    assert end >= frozen + 1e9  # the sleeper woke only after a full simulated second
    assert held_s >= 0.015
    with pytest.raises(ConfigError, match="max_lag_s"):
        SimClock(speed=1, max_lag_s=0)


@given(cuts=hst.lists(hst.integers(1, 499), max_size=6, unique=True))
def test_generator_source_is_chunk_invariant(cuts):
    src = GeneratorSource(seed=9)
    for kind, c in (("acc", 3), ("emg", 8), ("ecg", 1)):
        whole = src.read(kind, 100, 500, 200.0, c)
        edges = [0, *sorted(cuts), 500]
        parts = [src.read(kind, 100 + a, b - a, 200.0, c) for a, b in itertools.pairwise(edges)]
        np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_generator_source_is_plausible():
    src = GeneratorSource(seed=1)
    acc = src.read("acc", 0, 2000, 200.0, 3)
    assert acc.shape == (2000, 3) and np.mean(acc[:, 2]) == pytest.approx(1000, abs=10)
    emg = src.read("emg", 0, 200 * 16, 200.0, 8)
    rest, burst = emg[: 200 * 3], emg[int(200 * 4.2) : int(200 * 5.0)]
    assert np.std(burst) > 5 * np.std(rest)
    assert np.abs(emg).max() < 128  # fits the Myo's int8


def test_array_source_replays_and_resamples():
    a = np.arange(40, dtype=float).reshape(20, 2)
    src = ArraySource({"emg": (100.0, a)})
    np.testing.assert_array_equal(src.read("emg", 18, 4, 100.0, 2), a[[18, 19, 0, 1]])
    half = src.read("emg", 0, 4, 200.0, 2)  # device at twice the rate: interpolated
    np.testing.assert_allclose(half[:, 0], [0, 1, 2, 3])
    with pytest.raises(ConfigError, match="channels"):
        src.read("emg", 0, 4, 100.0, 8)
    with pytest.raises(ConfigError, match="no 'acc' stream"):
        src.read("acc", 0, 4, 100.0, 3)
    with pytest.raises(ConfigError, match="ended"):
        ArraySource({"emg": (100.0, a)}, loop=False).read("emg", 15, 10, 100.0, 2)


def test_fault_config_validates():
    with pytest.raises(ConfigError, match="drop_probability"):
        FaultConfig(drop_probability=1.5)
    with pytest.raises(ConfigError, match="jitter_s"):
        FaultConfig(jitter_s=(0.04, 0.005))
    assert FaultConfig.realistic().jitter_s == (0.005, 0.04)


def test_sim_clock_runs_at_speed_and_pins():
    async def main():
        c = SimClock(speed=50, start_ns=0)
        await c.sleep(1.0)  # 20 ms of wall time
        t = c.now_ns()
        with c.pinned(123):
            pinned = c.now_ns()
        return t, pinned

    t, pinned = run(main())
    assert 0.9e9 < t < 3e9 and pinned == 123
    with pytest.raises(ConfigError, match="speed"):
        SimClock(speed=0)
