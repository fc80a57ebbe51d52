"""Device health, wear time, placement and retention in the live monitor: simulated devices
through the real bleak API, the real health trackers, SQLite, a recording folder and the bus.

One simulated minute of a Myo at 10x: EMG channel ch3 goes flat after 10 s, the battery
starts at 22 % and drains 0.1 %/s (read every 5 s), the link drops after 30 s of each
connection and the device stays away for 8 s. (10x, not 20x: simulated time follows the
wall clock, and on an overloaded machine 20x lost data the assertions count.)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from spasmwatch.acquisition import FaultConfig
from spasmwatch.api import LiveBus
from spasmwatch.errors import ConfigError
from spasmwatch.pipeline import Monitor, parse_placement, simulated_world
from spasmwatch.store import EventStore, open_recording

RUN_S = 60.0
WEARER = "alice"


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_model):
    d = tmp_path_factory.mktemp("health")
    faults = FaultConfig(disconnect_every_s=30.0, reconnect_delay_s=8.0, battery_drain_per_h=360.0)
    world = simulated_world(
        ["myo"], speed=10.0, faults=faults, battery_level=22, flat={"myo": ("emg", [3], 10.0)}
    )
    c, s = world.backends()
    bus = LiveBus(maxsize=100_000)
    lines: list[str] = []
    events: list[dict] = []

    async def main():
        sub = bus.subscribe()
        mon = Monitor(
            ["myo"], store=d / "db.sqlite", model=tiny_model, clock=world.clock,
            client_backend=c, scanner_backend=s, live_bus=bus, record_dir=d / "rec",
            wearer_id=WEARER, signal_loss_after_s=3.0, on_line=lines.append,
            placements={"myo": "right-gastrocnemius"}, tz="Europe/Berlin",
            session_options={"battery_interval_s": 5.0}, health_every_s=0.5, wear_every_s=10.0,
        )  # fmt: skip
        try:
            stats = await mon.run(RUN_S)
        finally:
            await world.aclose()
        while (ev := sub.get_nowait()) is not None:
            events.append(ev)
        return mon, stats

    mon, stats = asyncio.run(main())
    return {"dir": d, "mon": mon, "stats": stats, "lines": lines, "events": events}


def test_flat_emg_channel_is_contact_lost_in_lines_bus_and_recording(run):
    lines, events = run["lines"], run["events"]
    assert any("electrode contact lost on EMG channel ch3" in ln for ln in lines), lines
    assert not any("contact lost on EMG channel ch2" in ln for ln in lines)
    changes = [e["change"] for e in events if e["type"] == "health" and "change" in e]
    lost = [c for c in changes if c["kind"] == "quality" and c["status"] == "contact_lost"]
    assert [c["channel"] for c in lost] == ["ch3"]
    last = [e for e in events if e["type"] == "health"][-1]
    chans = last["quality"]["myo.emg"]["channels"]
    assert chans["ch3"] == "contact_lost"
    assert all(v == "good" for k, v in chans.items() if k != "ch3")
    assert last["channels"]["myo.emg"] == [f"ch{i}" for i in range(8)]
    # the recording manifest keeps the per-channel quality of the stored samples
    rec = open_recording(run["mon"].recording_path)
    q = rec.quality("myo.emg")["summary"]
    assert q["ch3"]["seconds"]["contact_lost"] > 30
    assert 8 <= q["ch3"]["seconds"].get("good", 0.0) <= 12  # flat from 10 s on
    assert all(q[f"ch{i}"]["good_share"] == 1.0 for i in range(8) if i != 3)


def test_battery_low_line_device_row_and_manifest(run):
    assert any("battery low (" in ln and "charge it soon" in ln for ln in run["lines"])
    assert run["stats"].extra["health_changes"].get("battery_low") == 1
    store = EventStore(run["dir"] / "db.sqlite")
    (dev,) = store.devices()
    assert dev.id == "myo" and dev.wearer_id == WEARER
    assert dev.battery_pct is not None and dev.battery_pct < 20  # 22 % - 0.1 %/s for a minute
    assert dev.firmware and "1.5" in dev.firmware
    assert (dev.placement_muscle, dev.placement_side) == ("gastrocnemius", "right")
    m = open_recording(run["mon"].recording_path).manifest["devices"][0]
    assert m["placement"] == "gastrocnemius-right"
    assert m["battery"]["start"]["level"] == 22 and m["battery"]["end"]["level"] < 20
    assert m["info"]["firmware"]


def test_disconnect_is_one_signal_loss_with_its_cause(run):
    store = EventStore(run["dir"] / "db.sqlite")
    losses = store.signal_losses()
    assert len(losses) == 1, losses  # one per outage, not one per stream
    (loss,) = losses
    assert loss.cause == "disconnect" and loss.wearer_id == WEARER
    assert 7.0 <= loss.duration_s <= 20.0
    assert loss.recording_id == run["mon"].recording_id
    alert = [ln for ln in run["lines"] if "ALERT: no signal from myo" in ln]
    assert alert and "cause: the link dropped" in alert[0]
    assert any("signal back after" in ln and "the link dropped" in ln for ln in run["lines"])
    last = [e for e in run["events"] if e["type"] == "health"][-1]
    assert last["last_loss"]["cause"] == "disconnect" and not last["last_loss"]["open"]


def test_wear_time_rows_cover_the_worn_time(run):
    st = run["stats"]
    store = EventStore(run["dir"] / "db.sqlite")
    rows = store.wear_time(WEARER)
    assert rows and {r.device for r in rows} == {"myo"}
    worn = sum(r.worn_s for r in rows)
    usable = sum(r.usable_s for r in rows)
    received = st.samples["myo.emg"] / 200.0  # worn all the time: worn = data received
    assert abs(worn - received) < 2.0, (worn, received)
    assert RUN_S - 20 < worn <= RUN_S + 1
    assert 0 < usable <= worn
    day = dt.datetime.fromtimestamp(run["mon"].started_ns / 1e9, ZoneInfo("Europe/Berlin"))
    assert rows[0].day == day.date()  # local days in the monitor's --tz
    assert st.extra["wear_rows_written"] >= 2  # periodic and final


def test_placement_stored_and_carried_by_episodes(run):
    store = EventStore(run["dir"] / "db.sqlite")
    (pl,) = store.placements()
    assert (pl.device, pl.muscle, pl.side, pl.wearer_id) == ("myo", "gastrocnemius", "right",
                                                             WEARER)  # fmt: skip
    assert pl.since_ns == run["mon"].started_ns
    eps = store.episodes()
    assert eps, "the generator's EMG bursts give episodes"
    assert {e.placement for e in eps} == {"gastrocnemius-right"}
    bus_eps = [e["episode"] for e in run["events"] if e["type"] == "episode"]
    assert bus_eps and all(e["placement"] == "gastrocnemius-right" for e in bus_eps)


def test_every_bus_event_names_the_wearer(run):
    events = run["events"]
    assert {"health", "device_status", "signal_loss", "status"} <= {e["type"] for e in events}
    assert all(e.get("wearer_id") == WEARER for e in events)


def test_retention_runs_at_start_and_then_periodically(tmp_path):
    from spasmwatch.core import SampleBlock, StreamSpec
    from spasmwatch.store import RecordingInfo, write_recording
    from spasmwatch.store._ownership import pruned_recordings, set_retention_days

    set_retention_days(30, tmp_path)
    now = time.time_ns()
    old_t0 = now - 40 * 86_400 * 10**9
    spec = StreamSpec("polar-h10", "acc", ("x", "y", "z"), 50.0, "mG")
    t = old_t0 + np.arange(100, dtype=np.int64) * 20_000_000
    old = write_recording(tmp_path / "old-rec", [SampleBlock(spec, t, np.zeros((100, 3)))])
    fresh_t = now - 86_400 * 10**9 + np.arange(100, dtype=np.int64) * 20_000_000
    fresh = write_recording(
        tmp_path / "fresh-rec", [SampleBlock(spec, fresh_t, np.zeros((100, 3)))]
    )
    store = EventStore(tmp_path / "db.sqlite")
    for rec in (old, fresh):
        store.upsert_recording(RecordingInfo(rec.id, str(rec.path), rec.start_ns, rec.end_ns))
    world = simulated_world(["polar-h10"], speed=20.0)
    c, s = world.backends()
    lines: list[str] = []
    mon = Monitor(["polar-h10"], store=store, clock=world.clock, client_backend=c,
                  scanner_backend=s, on_line=lines.append, retention_every_s=5.0)  # fmt: skip

    async def main():
        try:
            return await mon.run(16.0)
        finally:
            await world.aclose()

    st = asyncio.run(main())
    assert not (tmp_path / "old-rec").exists() and (tmp_path / "fresh-rec").exists()
    assert [p["id"] for p in pruned_recordings(tmp_path)] == [old.id]
    assert st.extra["recordings_pruned"] == 1
    assert 3 <= st.extra["retention_runs"] <= 5  # at 0, 5, 10, 15 s of the monitor's clock
    assert any("retention: removed 1 raw recording" in ln for ln in lines)
    store.close()


def test_wear_time_of_two_runs_on_one_day_adds_up(tmp_path):
    totals = []
    for _ in range(2):
        world = simulated_world(["polar-h10"], speed=20.0)
        c, s = world.backends()
        mon = Monitor(["polar-h10"], store=tmp_path / "db.sqlite", clock=world.clock,
                      client_backend=c, scanner_backend=s, on_line=lambda _: None, tz="UTC",
                      retention_every_s=None)  # fmt: skip

        async def main(mon=mon, world=world):
            try:
                return await mon.run(10.0)
            finally:
                await world.aclose()

        st = asyncio.run(main())
        totals.append(st.samples["polar-h10.acc"] / 200.0)  # H10 ACC at 200 Hz
    rows = EventStore(tmp_path / "db.sqlite").wear_time("default")
    if len(rows) == 2:  # the two runs straddled midnight UTC
        rows = [sum(r.worn_s for r in rows)]
    else:
        rows = [rows[0].worn_s]
    assert abs(rows[0] - sum(totals)) < 2.0, (rows, totals)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("myo=right-gastrocnemius", ("myo", "gastrocnemius", "right")),
        ("myo=gastrocnemius-left", ("myo", "gastrocnemius", "left")),
        ("polar-h10=chest", ("polar-h10", "chest", None)),
        ("Midline-Rectus Abdominis", (None, "rectus_abdominis", "midline")),
    ],
)
def test_parse_placement(text, expected):
    assert parse_placement(text) == expected


@pytest.mark.parametrize("text", ["", "myo=", "=right-calf", "myo=right", "myo=left-right",
                                  "myo=calf-thigh", "myo=a-b-c"])  # fmt: skip
def test_parse_placement_refuses_with_a_hint(text):
    with pytest.raises(ConfigError, match="placement"):
        parse_placement(text)


def test_placement_for_an_unknown_device_is_refused(tmp_path):
    world = simulated_world(["polar-h10"])
    c, s = world.backends()
    with pytest.raises(ConfigError, match="not monitored"):
        Monitor(["polar-h10"], store=tmp_path / "db.sqlite", client_backend=c,
                scanner_backend=s, placements={"myo": "right-gastrocnemius"})  # fmt: skip


def test_not_worn_then_worn_again_lines_and_wear_time(tmp_path):
    # the H10 lies still (flat horizontal axes, sensor noise on the vertical) from 10 to 30 s;
    # the generator's slow 30 mG sway is the "movement" (hence the low motion threshold)
    world = simulated_world(["polar-h10"], speed=20.0, flat={"polar-h10": ("acc", [0, 1], 10.0,
                                                                           30.0)})  # fmt: skip
    c, s = world.backends()
    lines: list[str] = []
    mon = Monitor(["polar-h10"], store=tmp_path / "db.sqlite", clock=world.clock,
                  client_backend=c, scanner_backend=s, on_line=lines.append, tz="UTC",
                  health_options={"wear": {"still_s": 10.0, "still_std_mg": 5.0,
                                                 "move_std_mg": 6.0}})  # fmt: skip

    async def main():
        try:
            return await mon.run(45.0)
        finally:
            await world.aclose()

    st = asyncio.run(main())
    assert st.extra["health_changes"] == {"wear:not_worn": 1, "wear:worn": 1}
    nw = [ln for ln in lines if "polar-h10: not worn since" in ln]
    assert len(nw) == 1 and "no movement at all" in nw[0]
    assert sum("polar-h10: worn again" in ln for ln in lines) == 1
    assert st.devices["polar-h10"]["worn"] is True
    worn = sum(r.worn_s for r in EventStore(tmp_path / "db.sqlite").wear_time("default"))
    received = st.samples["polar-h10.acc"] / 200.0
    assert abs(worn - (received - 20.0)) < 2.5, (worn, received)  # 20 s lying still


def test_cli_placements_and_summary(run):
    from spasmwatch._commands.monitor import placements_from

    assert placements_from(
        ["myo=gastrocnemius-right", "polar-h10=chest"], ["myo", "polar-h10"]
    ) == {
        "myo": "right-gastrocnemius",
        "polar-h10": "chest",
    }
    assert placements_from(["left-soleus"], ["myo"]) == {"myo": "left-soleus"}
    with pytest.raises(ConfigError, match="say which device"):
        placements_from(["left-soleus"], ["myo", "polar-h10"])
    with pytest.raises(ConfigError, match="twice"):
        placements_from(["myo=left-soleus", "myo=right-soleus"], ["myo"])
    summary = run["stats"].format()
    assert "myo: stopped, 1 reconnects" in summary and "EMG ch3 contact lost" in summary


def test_a_flapping_channel_is_said_once_per_repeat_interval(tmp_path):
    """Mains hum coming and going must not print a line every few seconds."""
    from spasmwatch.pipeline._monitor import QUALITY_REPEAT_S

    lines: list[str] = []
    mon = Monitor(["myo"], store=tmp_path / "db.sqlite", on_line=lines.append,
                  retention_every_s=None)  # fmt: skip
    t0 = 1_700_000_000 * 10**9

    def change(status, prev, dt_s, chan="ch3"):
        det = {"status": status, "previous": prev, "channel": chan, "stream": "myo.emg",
               "t_ns": t0 + int(dt_s * 1e9)}  # fmt: skip
        mon._on_quality("myo", det)

    change("good", None, 0)  # first assessment: nothing to say
    change("powerline", "good", 10)
    change("good", "powerline", 30)
    for k in range(10):  # flapping within the repeat interval: silent
        change("powerline", "good", 40 + 20 * k)
        change("good", "powerline", 50 + 20 * k)
    change("contact_lost", "good", 300)  # another problem is said at once
    change("good", "contact_lost", 320)
    change("powerline", "good", 10 + QUALITY_REPEAT_S + 1)  # interval over: said again
    change("powerline", "good", 20, chan="ch5")  # other channels are independent
    said = [ln.split("  ", 1)[1] for ln in lines]
    assert said == [
        "myo: mains (powerline) interference on EMG channel ch3",
        "myo: EMG channel ch3 signal good again (was: mains (powerline) interference)",
        "myo: electrode contact lost on EMG channel ch3; check the electrode",
        "myo: EMG channel ch3 signal good again (was: electrode contact lost)",
        "myo: mains (powerline) interference on EMG channel ch3",
        "myo: mains (powerline) interference on EMG channel ch5",
    ]
