"""End-to-end: two simulated devices, one simulated hour with disconnects, packet loss and
corrupted frames, through the real BLE API, the bundled model, SQLite and a recording."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import time

import pytest

from spasmwatch.acquisition import FaultConfig
from spasmwatch.api import LiveBus
from spasmwatch.coach import PromptPolicy
from spasmwatch.pipeline import Monitor, demo_wearer, simulated_world, stream_epochs
from spasmwatch.simulation import simulate_wearer
from spasmwatch.store import EventStore, open_recording

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # ~4 min at 20x, longer on a slow host

HOUR_S = 3600.0
SPEED = 20.0  # the simulated clock waits for a host that cannot keep up (SimClock.max_lag_s)
POLICY = PromptPolicy(
    cooldown_s=600.0, quiet_start=None, quiet_end=None, daily_cap=3, response_timeout_s=120.0
)
FAULTS = FaultConfig(
    disconnect_every_s=900.0,
    reconnect_delay_s=8.0,
    drop_probability=0.002,
    corrupt_probability=0.002,
    burst_delay_probability=0.002,
    clock_drift_ppm=20.0,
    jitter_s=(0.005, 0.04),
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("e2e")
    result = simulate_wearer(
        HOUR_S + 300, 11, ("myo", "polar-h10"), wearer=demo_wearer(spasms_per_day=400.0),
        start_ns=time.time_ns(), packet_loss=False, confounders=False,
    )  # fmt: skip
    lines: list[str] = []
    events: list[dict] = []

    async def main():
        world = simulated_world(
            ["polar-h10", "myo"], result=result, speed=SPEED, faults=FAULTS, seed=5
        )
        c, s = world.backends()
        bus = LiveBus(maxsize=100_000)
        sub = bus.subscribe()
        mon = Monitor(
            ["polar-h10", "myo"], store=d / "db.sqlite", policy=POLICY, live_bus=bus,
            record_dir=d / "rec", clock=world.clock, client_backend=c, scanner_backend=s,
            signal_loss_after_s=4.0, on_line=lines.append, queue_size=65536,
        )  # fmt: skip
        t0 = time.monotonic()
        stats = await mon.run(HOUR_S)
        wall = time.monotonic() - t0
        while (ev := sub.get_nowait()) is not None:
            events.append(ev)
        epochs = stream_epochs(world)
        truth = {k: world_dev.truth(k) for world_dev in world.devices.values()
                 if world_dev.profile.id == "myo" for k in ("emg", "acc")}  # fmt: skip
        await world.aclose()
        return mon, stats, wall, epochs, truth

    mon, stats, wall, epochs, truth = asyncio.run(main())
    return {
        "dir": d, "result": result, "mon": mon, "stats": stats, "wall": wall,
        "epochs": epochs, "truth": truth, "lines": lines, "events": events,
    }  # fmt: skip


def test_nothing_crashed_and_faults_happened(run):
    st = run["stats"]
    print(st.format(), f"\nwall {run['wall']:.1f} s")
    assert st.uptime_s >= HOUR_S
    assert st.devices["myo"]["reconnects"] >= 2 and st.devices["polar-h10"]["reconnects"] >= 2
    assert st.decode_errors > 0
    assert sum(st.gaps.values()) > 0
    assert st.latency["total"]["count"] > 1000
    assert st.episodes.get("final", 0) >= 5


def test_every_truth_episode_outside_gaps_is_logged(run):
    st = run["stats"]
    store = EventStore(run["dir"] / "db.sqlite")
    eps = store.episodes(final_only=True)
    assert all(e.final for e in store.episodes())  # clean stop: no onset left open
    rec = open_recording(next((run["dir"] / "rec").iterdir()))
    # losses longer than the pipeline conceals (a disconnect, a stall): no signal to judge
    lost = [
        (g.start_ns, g.end_ns)
        for k in ("myo.emg", "myo.acc")
        for g in rec.gaps(k)
        if g.duration_s > 0.25
    ]
    ep0 = run["epochs"]["myo"]["emg"]
    margin = 3_000_000_000
    # the end of the data, not the stop: the clock runs on while the monitor shuts down
    # (recording closed, store flushed), tens of simulated seconds on a busy host
    end = min(st.t_ns, rec.manifest["streams"]["myo.emg"]["t_last_ns"])
    checked = missed = 0
    for ev in run["result"].truth:
        a, b = ep0 + round(ev.start_s * 1e9), ep0 + round(ev.end_s * 1e9)
        if b > end - 10_000_000_000 or a < run["mon"].started_ns + 5_000_000_000:
            continue
        if any(g0 < b + margin and g1 > a - margin for g0, g1 in lost):
            continue
        checked += 1
        if not any(e.start_ns - 2e9 <= b and e.end_ns + 2e9 >= a for e in eps):
            missed += 1
            print("missed", ev)
    print(f"checked {checked} ground-truth episodes outside gaps, missed {missed}")
    assert checked >= 10
    # Every one, as the issue asks. Until 2026-11-25 a busy host could miss strong spasms
    # here: one Myo stream's backlog arrived > 5 s after the other's, the pipeline declared
    # it stale and dropped ~1,000 of its windows (no gap in the recording, a hole for the
    # detector). Streams of one device now wait for each other (SignalPipeline
    # same_device_stale_s); the count of such windows is in the stats.
    assert st.dropped["detector_late"] == 0
    assert missed == 0, f"{missed} of {checked} ground-truth episodes missed"


def test_prompts_follow_the_policy(run):
    st = run["stats"]
    store = EventStore(run["dir"] / "db.sqlite")
    prompts = store.prompts()
    assert len(prompts) == st.prompts == st.decisions.get("prompted", 0) >= 1
    times = sorted(p.t_ns for p in prompts)
    assert all(b - a >= POLICY.cooldown_s * 1e9 for a, b in itertools.pairwise(times))
    days: dict[dt.date, int] = {}
    for p in prompts:
        day = dt.datetime.fromtimestamp(p.t_ns / 1e9).date()
        days[day] = days.get(day, 0) + 1
    assert max(days.values()) <= POLICY.daily_cap
    refused = {k for k in st.decisions if k != "prompted"}
    assert refused & {"cooldown", "pending", "daily_cap"}  # the policy did refuse some
    ids = {e.id for e in store.episodes()}
    assert all(p.episode_id is None or p.episode_id in ids for p in prompts)
    assert {p.outcome for p in prompts} <= {"pending", "ignored"}
    assert any(p.outcome == "ignored" for p in prompts)  # nobody answered: timed out
    bus_prompts = [e for e in run["events"] if e["type"] == "prompt"]
    assert len(bus_prompts) == len(prompts)


def test_store_and_signal_losses(run):
    store = EventStore(run["dir"] / "db.sqlite")
    assert store.integrity_check() == "ok"
    losses = store.signal_losses()
    assert any(x.cause == "disconnect" and x.duration_s >= 4.0 for x in losses)
    assert any("ALERT: no signal from" in ln for ln in run["lines"])
    assert {"device_status", "detection", "episode", "signal_preview", "signal_loss", "status"} <= {
        e["type"] for e in run["events"]
    }
    (info,) = store.recordings()
    assert info.end_ns is not None and info.devices == ("polar-h10", "myo")


def test_live_episodes_match_offline_detection_of_the_recording(run):
    """The monitor loses nothing: offline detection of what it recorded finds the same
    episodes it logged live (same DetectionPipeline, same model)."""
    from spasmwatch.pipeline import detect_recording

    store = EventStore(run["dir"] / "db.sqlite")
    live = store.episodes(final_only=True)
    folder = next((run["dir"] / "rec").iterdir())
    off = detect_recording(folder, progress=False).episodes
    assert off
    unmatched = [
        e for e in off
        if not any(x.start_ns - 3e9 <= e.end_ns and x.end_ns + 3e9 >= e.start_ns for x in live)
    ]  # fmt: skip
    print(f"offline {len(off)}, live {len(live)}, offline not live {len(unmatched)}")
    assert len(unmatched) <= max(1, 0.1 * len(off))
