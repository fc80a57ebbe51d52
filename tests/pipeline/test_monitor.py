"""The live monitor with real components: simulated BLE devices through bleak, the
detection pipeline, SQLite, a recording folder and the live bus."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spasmwatch.acquisition import FaultConfig
from spasmwatch.api import LiveBus
from spasmwatch.core import Gap, SampleBlock, StreamSpec
from spasmwatch.pipeline import DetectionPipeline, Monitor, simulated_world
from spasmwatch.pipeline._monitor import _join
from spasmwatch.store import EventStore, open_recording

REPO = Path(__file__).resolve().parents[2]


def _run(mon: Monitor, world, seconds: float):
    async def main():
        try:
            return await mon.run(seconds)
        finally:
            await world.aclose()

    return asyncio.run(main())


def _monitor(tmp_path, model, world, devices, **kw) -> Monitor:
    c, s = world.backends()
    return Monitor(
        devices, store=tmp_path / "db.sqlite", model=model, clock=world.clock,
        client_backend=c, scanner_backend=s, **kw,
    )  # fmt: skip


def test_signal_loss_alert_after_configured_silence(tmp_path):
    faults = FaultConfig(disconnect_every_s=15.0, reconnect_delay_s=8.0)
    world = simulated_world(["polar-h10"], speed=20.0, faults=faults)
    lines: list[str] = []
    mon = _monitor(tmp_path, None, world, ["polar-h10"], signal_loss_after_s=3.0,
                   on_line=lines.append)  # fmt: skip
    st = _run(mon, world, 40.0)
    assert st.devices["polar-h10"]["reconnects"] >= 1
    assert st.signal_losses >= 1
    store = EventStore(tmp_path / "db.sqlite")
    losses = store.signal_losses()
    assert losses and all(x.device == "polar-h10" for x in losses)
    # the link was down reconnect_delay_s (8 s) plus reconnection: the loss spans most of it
    assert any(x.cause == "disconnect" and 5.0 <= x.duration_s <= 20.0 for x in losses)
    assert any("ALERT: no signal from polar-h10" in ln for ln in lines)
    assert any("signal back" in ln for ln in lines)


def test_no_alert_while_data_flows(tmp_path):
    world = simulated_world(["polar-h10"], speed=20.0)
    mon = _monitor(tmp_path, None, world, ["polar-h10"], signal_loss_after_s=3.0,
                   on_line=lambda _: None)  # fmt: skip
    st = _run(mon, world, 20.0)
    assert st.signal_losses == 0
    assert EventStore(tmp_path / "db.sqlite").signal_losses() == []


def test_slow_consumers_drop_and_count_without_stalling_acquisition(tmp_path, tiny_model):
    world = simulated_world(["myo"], speed=10.0)
    bus = LiveBus(maxsize=4)
    mon = _monitor(tmp_path, tiny_model, world, ["myo"], record_dir=tmp_path / "rec",
                   consumer_queue_size=4, live_bus=bus, on_line=lambda _: None)  # fmt: skip
    real_write = mon.writer.write

    def slow_write(block):  # a disk that takes 20 ms per block
        time.sleep(0.02)
        real_write(block)

    mon.writer.write = slow_write

    async def main():
        sub = bus.subscribe()  # a web client that never reads
        try:
            return await mon.run(20.0)
        finally:
            sub.close()
            await world.aclose()

    st = asyncio.run(main())
    assert st.dropped["recorder"] > 0
    assert st.dropped["bus"] > 0
    assert st.dropped["acquisition"] == 0
    # acquisition went on at full rate: ~20 s of 200 Hz EMG reached detection
    assert st.samples["myo.emg"] >= 0.9 * 20 * 200
    rec = open_recording(mon.recording_path)
    n = rec.n_samples("myo.emg")
    overflow = [g for g in rec.gaps("myo.emg") if g.cause == "overflow"]
    assert overflow and n < st.samples["myo.emg"]
    assert n + sum(g.n_missing for g in rec.gaps("myo.emg")) == st.samples["myo.emg"]


def test_monitor_uses_the_detection_pipeline_and_stores_episodes(tmp_path, tiny_model):
    from spasmwatch.pipeline import demo_wearer
    from spasmwatch.simulation import simulate_wearer

    wearer = demo_wearer(spasms_per_day=1500)
    res = simulate_wearer(400, 3, ("myo",), wearer=wearer, start_ns=time.time_ns(),
                          packet_loss=False, confounders=False)  # fmt: skip
    world = simulated_world(["myo"], result=res, speed=30.0)
    mon = _monitor(tmp_path, tiny_model, world, ["myo"], on_line=lambda _: None)
    assert isinstance(mon.pipeline, DetectionPipeline)
    st = _run(mon, world, 300.0)
    store = EventStore(tmp_path / "db.sqlite")
    eps = store.episodes()
    assert st.episodes.get("final", 0) == len(eps) >= 1
    assert all(e.final and e.model_id == tiny_model.metadata.model_id for e in eps)
    assert mon.committed_episode_ids == {e.id for e in eps}
    assert st.latency["total"]["count"] > 0 and st.latency["block"]["p99_ms"] > 0
    d = st.to_dict()
    json.dumps(d)
    assert d["episodes_stored"] >= len(eps) and d["model_id"] == "tiny-emg-acc"


SPEC = StreamSpec("myo", "emg", ("a", "b"), 200.0, "counts")


@given(st.lists(st.integers(1, 7), min_size=1, max_size=12), st.integers(0, 11))
def test_join_keeps_every_sample_and_gap(sizes, gap_at):
    blocks, idx = [], 0
    for i, n in enumerate(sizes):
        gaps = ()
        if i == gap_at and i > 0:
            gaps = (Gap(idx * 5_000_000, (idx + 3) * 5_000_000, 3, "packet_loss"),)
            idx += 3
        t = (np.arange(idx, idx + n) * 5_000_000).astype(np.int64)
        blocks.append(SampleBlock(SPEC, t, np.arange(2 * n).reshape(n, 2), idx, gaps))
        idx += n
    other = SampleBlock(StreamSpec("myo", "acc", ("x",), 50.0, "mG"), np.array([1], np.int64),
                        np.zeros((1, 1)))  # fmt: skip
    out = _join([*blocks[:1], other, *blocks[1:]])
    emg = [b for b in out if b.spec.key == "myo.emg"]
    assert np.array_equal(np.concatenate([b.t_ns for b in emg]),
                          np.concatenate([b.t_ns for b in blocks]))  # fmt: skip
    assert [g for b in emg for g in b.gaps] == [g for b in blocks for g in b.gaps]
    for b in emg:
        assert b.end_index - b.first_index == b.n_samples  # no loss inside a joined block
    assert len(emg) == 1 + sum(1 for b in blocks[1:] if b.gaps)


# ------------------------------------------------------------------ the CLI, as a process


def _spawn(tmp_path, model_path, *extra):
    cmd = [sys.executable, "-m", "spasmwatch.cli", "-v", "monitor", "--simulate",
           "--speed", "20", "--device", "myo", "--device", "polar-h10",
           "--db", str(tmp_path / "db.sqlite"), "--record", str(tmp_path / "rec"),
           "--model", str(model_path), "--no-quiet-hours", "--faults", "none", *extra]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=REPO)  # fmt: skip


def _wait_for(proc, pattern: str, count: int, timeout: float) -> list[str]:
    """stderr lines until ``count`` of them contain ``pattern`` (read by a thread)."""
    import queue
    import threading

    q: queue.Queue[str | None] = getattr(proc, "_lines", None) or queue.Queue()
    if not hasattr(proc, "_lines"):
        proc._lines = q

        def reader():
            for ln in proc.stderr:
                q.put(ln)
            q.put(None)

        threading.Thread(target=reader, daemon=True).start()
    seen, hits = [], []
    end = time.monotonic() + timeout
    while time.monotonic() < end and len(hits) < count:
        try:
            ln = q.get(timeout=0.2)
        except queue.Empty:
            continue
        if ln is None:
            break
        seen.append(ln)
        if pattern in ln:
            hits.append(ln)
    assert len(hits) >= count, "".join(seen[-30:])
    return hits


def test_kill_9_mid_run_loses_no_committed_episode(tmp_path, tiny_model):
    proc = _spawn(tmp_path, tiny_model.path)
    try:
        hits = _wait_for(proc, "stored episode", 3, timeout=120)
        time.sleep(1.5)  # let a few recorder flushes happen
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()
    committed = {ln.split("stored episode ")[1].split()[0] for ln in hits}
    store = EventStore(tmp_path / "db.sqlite")
    assert store.integrity_check() == "ok"
    ids = {e.id for e in store.episodes()}
    assert committed <= ids
    (folder,) = (tmp_path / "rec").iterdir()
    rec = open_recording(folder)  # recovers: compacts the segments, writes the manifest
    assert (folder / "manifest.json").exists()
    flushes = [json.loads(ln) for ln in (folder / "journal.jsonl").read_text().splitlines()
               if '"flush"' in ln]  # fmt: skip
    assert flushes
    for key, rows in flushes[-1]["rows"].items():
        assert rec.n_samples(key) >= rows > 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly(tmp_path, tiny_model, sig):
    proc = _spawn(tmp_path, tiny_model.path, "--stats-json", str(tmp_path / "stats.json"))
    try:
        _wait_for(proc, "myo connected", 1, timeout=60)
        time.sleep(3.0)
        proc.send_signal(sig)
        out = proc.stdout.read()
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == 0
    assert "monitored" in out and "dropped" in out
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["samples"]["myo.emg"] > 0
    (folder,) = (tmp_path / "rec").iterdir()
    assert (folder / "manifest.json").exists() and not (folder / ".lock").exists()
    rec = open_recording(folder, recover=False)
    assert rec.n_samples("myo.emg") == stats["samples"]["myo.emg"]
    store = EventStore(tmp_path / "db.sqlite")
    assert all(e.final for e in store.episodes())
    (info,) = store.recordings()
    assert info.end_ns is not None
