"""Device health in BleSession: battery, device information, and the stated cause of every
loss — all through the real bleak API against simulated wearables."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest

from spasmwatch.acquisition._faults import FaultConfig
from spasmwatch.acquisition._profiles import get_profile
from spasmwatch.acquisition._session import BleSession, DeviceEvent, DeviceTarget
from spasmwatch.acquisition._simbackend import SimClock, SimulatedDevice, SimWorld
from spasmwatch.acquisition._sources import GeneratorSource
from spasmwatch.core import SampleBlock
from spasmwatch.errors import ConfigError
from spasmwatch.health._tracker import DeviceHealthTracker


def collect(world: SimWorld, targets, seconds: float, **kw):
    events: list[DeviceEvent] = []
    client_cls, scanner_cls = world.backends()
    session = BleSession(
        targets,
        client_backend=client_cls,
        scanner_backend=scanner_cls,
        clock=world.clock,
        on_event=events.append,
        reconnect=kw.pop("reconnect", None),
        **kw,
    )
    blocks: dict[str, list[SampleBlock]] = defaultdict(list)

    async def main():
        async def stop_later():
            await world.clock.sleep(seconds)
            await session.stop()

        async with session:
            stopper = asyncio.create_task(stop_later())
            async for b in session:
                blocks[b.spec.key].append(b)
            await stopper
        await world.aclose()

    asyncio.run(asyncio.wait_for(main(), 60))
    return session, blocks, events


def gaps(blocks: list[SampleBlock]):
    return [g for b in blocks for g in b.gaps]


def of(events, device, kind):
    return [e for e in events if e.device == device and e.kind == kind]


def test_battery_read_periodically_warns_once_per_crossing_and_device_info():
    w = SimWorld(speed=20)  # the Myo sends 100 notifications/s: keep the event loop ahead
    # 24 % draining 1 % per simulated second: crosses 20 % and 10 % once each
    w.add(
        SimulatedDevice(
            get_profile("polar-h10"),
            seed=1,
            battery_level=24,
            faults=FaultConfig(battery_drain_per_h=3600.0),
            device_info={"firmware": "3.1.1"},
        )
    )
    w.add(SimulatedDevice(get_profile("myo"), seed=2))
    session, blocks, events = collect(
        w, [DeviceTarget("polar-h10"), DeviceTarget("myo")], seconds=20.0, battery_interval_s=2.0
    )
    levels = [e.detail["level"] for e in of(events, "polar-h10", "battery")]
    assert len(levels) >= 5 and 21 <= levels[0] <= 24  # read at connect, then every 2 s
    assert levels == sorted(levels, reverse=True) and levels[-1] <= 8
    low = of(events, "polar-h10", "battery_low")
    crit = of(events, "polar-h10", "battery_critical")
    assert len(low) == 1 and len(crit) == 1  # once per crossing, not per reading
    assert low[0].detail["level"] <= 20 < low[0].detail["level"] + 6
    assert crit[0].detail["threshold"] == 10 and "charge" in crit[0].detail["message"]
    info = of(events, "polar-h10", "device_info")
    assert info and info[0].detail == {
        "model": "Polar H10",
        "firmware": "3.1.1",
        "hardware": "sim",
        "serial": info[0].detail["serial"],
    }
    assert info[0].detail["serial"]
    myo = of(events, "myo", "device_info")
    assert myo[0].detail["firmware"] == "1.5.1970" and myo[0].detail["hardware"] == "rev D"
    kinds = [e.kind for e in events if e.device == "myo"]
    assert kinds[:4] == ["scanning", "connected", "battery", "device_info"]
    assert not of(events, "myo", "battery_low")
    assert blocks["polar-h10.acc"] and session.stats["polar-h10"].battery_errors == 0


def test_a_bad_battery_value_is_counted_not_fatal():
    w = SimWorld(speed=50)
    w.add(SimulatedDevice(get_profile("nus-reference"), seed=3, battery_level=150))
    session, blocks, events = collect(
        w, [DeviceTarget("nus-reference")], seconds=5.0, battery_interval_s=1.0
    )
    assert session.stats["nus-reference"].battery_errors >= 2  # at connect, then every 1 s
    assert not of(events, "nus-reference", "battery")
    assert sum(b.n_samples for k, bl in blocks.items() for b in bl) > 0


def test_battery_dies_gap_cause_is_battery_and_the_device_stays_silent():
    w = SimWorld(speed=50)
    dev = w.add(
        SimulatedDevice(
            get_profile("polar-h10"),
            seed=4,
            battery_level=12,
            faults=FaultConfig(battery_drain_per_h=3600.0, battery_dies_at=0.0),
        )
    )
    _session, blocks, events = collect(
        w,
        [DeviceTarget("polar-h10")],
        seconds=25.0,
        battery_interval_s=2.0,
        report_open_gaps=True,
    )
    assert dev.dead and dev.connections == 1
    disc = of(events, "polar-h10", "disconnected")
    assert len(disc) == 1 and disc[0].detail["cause"] == "battery"
    assert disc[0].detail["context"]["battery_pct"] <= 5
    for key in ("polar-h10.acc", "polar-h10.ecg"):
        tail = blocks[key][-1]
        assert tail.n_samples == 0 and [g.cause for g in tail.gaps] == ["battery"]
        g = tail.gaps[0]
        assert g.start_ns > blocks[key][-2].t_ns[-1]
        assert 10.0 < g.duration_s < 20.0  # died at ~12 s, stopped at ~25 s
        assert all(g.cause != "battery" for b in blocks[key][:-1] for g in b.gaps)


def test_walking_out_of_range_rssi_falls_then_disconnect_is_out_of_range():
    w = SimWorld(speed=40)
    faults = FaultConfig(
        rssi_dbm=((0, -60), (10, -60), (20, -99), (30, -99), (34, -60)),
        range_limit_dbm=-96.0,
    )
    dev = w.add(
        SimulatedDevice(
            get_profile("polar-h10"), seed=5, faults=faults, advertise_while_connected=True
        )
    )
    _session, blocks, events = collect(
        w,
        [DeviceTarget("polar-h10")],
        seconds=45.0,
        rssi_interval_s=1.0,
        rssi_scan_s=0.5,
    )
    assert dev.disconnects == 1 and dev.connections == 2
    disc = of(events, "polar-h10", "disconnected")
    assert disc[0].detail["cause"] == "out_of_range"
    assert disc[0].detail["context"]["rssi_dbm"] < -90
    for key in ("polar-h10.acc", "polar-h10.ecg"):
        gs = gaps(blocks[key])
        assert [g.cause for g in gs] == ["out_of_range"]
        assert gs[0].duration_s > 8  # out of range from ~18.5 s to ~32.5 s


def test_same_disconnect_without_weak_rssi_stays_disconnect():
    w = SimWorld(speed=40)
    w.add(
        SimulatedDevice(
            get_profile("polar-h10"),
            seed=6,
            faults=FaultConfig(disconnect_every_s=10.0, reconnect_delay_s=3.0),
            advertise_while_connected=True,
        )
    )
    _, blocks, events = collect(
        w, [DeviceTarget("polar-h10")], seconds=18.0, rssi_interval_s=1.0, rssi_scan_s=0.5
    )
    assert of(events, "polar-h10", "disconnected")[0].detail["cause"] == "disconnect"
    assert [g.cause for g in gaps(blocks["polar-h10.acc"])] == ["disconnect"]


@pytest.mark.parametrize("profile", ["polar-h10", "myo"])
def test_host_suspend_gap_is_host_asleep(profile):
    clock = SimClock(speed=20)
    w = SimWorld(clock=clock)
    dev = w.add(
        SimulatedDevice(
            get_profile(profile),
            seed=7,
            faults=FaultConfig(suspend_at_s=6.0, suspend_for_s=30.0),
        )
    )
    _session, blocks, events = collect(w, [DeviceTarget(profile)], seconds=16.0)
    assert dev.suspends == 1
    kind = "acc" if profile == "polar-h10" else "emg"
    gs = gaps(blocks[f"{profile}.{kind}"])
    assert [g.cause for g in gs] == ["host_asleep"]
    assert 30.0 < gs[0].duration_s < 40.0  # 30 s asleep, then the reconnection
    assert of(events, profile, "disconnected")[0].detail["cause"] == "host_asleep"


def test_plain_drops_stay_packet_loss():
    w = SimWorld(speed=40)
    w.add(
        SimulatedDevice(get_profile("polar-h10"), seed=8, faults=FaultConfig(drop_probability=0.05))
    )
    _, blocks, _ = collect(w, [DeviceTarget("polar-h10")], seconds=15.0, battery_interval_s=1.0)
    gs = gaps(blocks["polar-h10.acc"])
    assert len(gs) > 3 and {g.cause for g in gs} == {"packet_loss"}


def test_attached_tracker_gets_blocks_and_explains_a_drop_as_bad_contact():
    w = SimWorld(speed=10)
    # electrodes off: the EMG is flat; the link drops every 6 s
    w.add(
        SimulatedDevice(
            get_profile("myo"),
            seed=9,
            source=GeneratorSource(9, emg_level=0.0),
            faults=FaultConfig(disconnect_every_s=6.0, reconnect_delay_s=1.0),
        )
    )
    specs = [s for s in BleSession([DeviceTarget("myo")]).specs()]
    tracker = DeviceHealthTracker(specs, "Europe/Berlin", debounce_windows=2)
    session, blocks, events = collect(
        w, [DeviceTarget("myo")], seconds=16.0, health={"myo": tracker}
    )
    q = of(events, "myo", "quality")
    assert {e.detail["status"] for e in q} == {"contact_lost"} and len(q) == 8
    assert tracker.contact_lost is True and tracker.device_info is not None
    assert tracker.battery is not None and tracker.battery.level == 87
    gs = gaps(blocks["myo.emg"])
    assert gs and {g.cause for g in gs} == {"bad_contact"}, (session.stats, events)
    snap = tracker.snapshot()
    assert snap["quality"]["myo.emg"]["channels"]["ch0"] == "contact_lost"
    assert snap["battery"]["level"] == 87 and snap["device_info"]["firmware"] == "1.5.1970"


def test_session_validates_health_arguments():
    spec = BleSession([DeviceTarget("myo")]).specs()
    tr = DeviceHealthTracker(spec, "UTC")
    with pytest.raises(ConfigError, match="unknown devices"):
        BleSession([DeviceTarget("polar-h10")], health={"myo": tr})
    with pytest.raises(ConfigError, match="battery_interval_s"):
        BleSession([DeviceTarget("myo")], battery_interval_s=0)
    with pytest.raises(ConfigError, match="rssi_dbm"):
        FaultConfig(rssi_dbm=((5, -60), (1, -70)))
    f = FaultConfig(rssi_dbm=((0, -60), (10, -100)))
    assert f.rssi_at(5) == pytest.approx(-80.0) and f.rssi_at(99) == -100.0
