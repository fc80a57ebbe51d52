"""Live monitoring: compute latency per notification, algorithmic latency, CPU, memory,
and the offline ``detect`` speed.

* **notification latency**: the bundled EMG+ACC pipeline fed notification-sized blocks as a
  Myo (2 EMG samples, 1 IMU sample) and a Polar H10 (36 ACC samples) deliver them, in
  arrival order, over 5 simulated minutes after the rest calibration; each
  ``DetectionPipeline.update`` call is timed with ``time.perf_counter_ns``.
* **algorithmic latency**: what the design adds before a spasm can be seen, from the
  pipeline's own parameters: half a window, the filters' group delay in their pass band,
  the resampler delay and the detector's confirmation windows.
* **CPU and memory**: four live modes (:data:`LIVE_MODES`: the simulated devices alone,
  + ``BleSession``, ``Monitor`` as ``spasmwatch monitor`` runs by default, ``Monitor`` with
  ``--record``), each in its own process, two simulated devices (Polar H10 + Myo, through
  the real bleak API) at real-time pace; ``time.process_time`` / wall time over 3 windows
  of 20 s after a 5 s warm-up, and the peak RSS. The budgeted CPU figure is the monitor's
  own share, ``monitor - devices`` (on real hardware the devices and the OS BLE stack do
  the ``devices`` work).
* **offline detect**: ``detect_recording`` on one simulated hour, 3 times, as a multiple of
  real time by wall time and by CPU time (median, min, max).

``run() -> dict`` for ``python -m benchmarks.run``.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import signal as sps


def _notifications(res, seconds: float):
    """Notification-sized blocks of the simulated streams, in arrival order."""
    from spasmwatch.core import SampleBlock

    sizes = {"myo.emg": 2, "myo.acc": 1, "polar-h10.acc": 36}
    heap = []
    for key, n in sizes.items():
        spec, t, x = res.streams[key]
        m = int(seconds * spec.rate_hz)
        for i in range(0, m - n + 1, n):
            heap.append((int(t[i + n - 1]), key, i, n))
    heapq.heapify(heap)
    while heap:
        _, key, i, n = heapq.heappop(heap)
        spec, t, x = res.streams[key]
        yield SampleBlock(spec, t[i : i + n], x[i : i + n], first_index=i)


def notification_latency(measure_s: float = 300.0) -> dict:
    from spasmwatch.models import SpasmModel, choose_bundled_model
    from spasmwatch.pipeline import DetectionPipeline, demo_wearer
    from spasmwatch.simulation import simulate_wearer

    cal = 60.0
    res = simulate_wearer(cal + measure_s, 5, ("myo", "polar-h10"), wearer=demo_wearer(),
                          packet_loss=False)  # fmt: skip
    specs = [s for s, _, _ in res.streams.values()]
    model = SpasmModel(choose_bundled_model({s.kind for s in specs}))
    pipe = DetectionPipeline(specs, model, calibration_s=cal)
    per_kind: dict[str, list[int]] = {}
    t_cal = res.start_ns + int(cal * 1e9)
    for b in _notifications(res, cal + measure_s):
        t0 = time.perf_counter_ns()
        pipe.update(b)
        dt = time.perf_counter_ns() - t0
        if int(b.t_ns[0]) >= t_cal:
            per_kind.setdefault(b.spec.key, []).append(dt)
    allv = np.concatenate([np.asarray(v) for v in per_kind.values()]) / 1e6
    out = {
        "model": model.metadata.model_id,
        "notifications": int(allv.size),
        "p50_ms": round(float(np.percentile(allv, 50)), 4),
        "p99_ms": round(float(np.percentile(allv, 99)), 4),
        "p999_ms": round(float(np.percentile(allv, 99.9)), 4),
        "max_ms": round(float(allv.max()), 3),
        "per_stream": {},
    }
    for k, v in per_kind.items():
        a = np.asarray(v) / 1e6
        out["per_stream"][k] = {
            "notifications": int(a.size),
            "p50_ms": round(float(np.percentile(a, 50)), 4),
            "p99_ms": round(float(np.percentile(a, 99)), 4),
        }
    # CPU share of the pipeline alone at real-time pace: compute per second of signal
    out["pipeline_cpu_pct_at_realtime"] = round(float(allv.sum()) / 1e3 / measure_s * 100, 3)
    return out, pipe


def _group_delay_s(sos: np.ndarray, rate_hz: float, f_hz: float) -> float:
    total = 0.0
    for sec in sos:
        _, gd = sps.group_delay((sec[:3], sec[3:]), w=[f_hz], fs=rate_hz)
        total += float(gd[0])
    return total / rate_hz


def algorithmic_latency(pipe) -> dict:
    from spasmwatch.signal import design_acc_lowpass, design_emg

    cfg = pipe.detector_config
    emg = pipe.streams.get("emg")
    acc = pipe.streams.get("acc")
    emg_fs = pipe.model.metadata.rates_hz.get("emg", emg.rate_hz if emg else 200.0)
    acc_fs = pipe.model.metadata.rates_hz.get("acc", acc.rate_hz if acc else 25.0)
    gd_emg = _group_delay_s(design_emg(emg_fs).sos, emg_fs, 80.0)
    gd_acc = _group_delay_s(design_acc_lowpass(acc_fs).sos, acc_fs, 5.0)
    half = cfg.window_s / 2
    confirm = (cfg.confirm_windows - 1) * cfg.hop_s
    total = half + max(gd_emg, gd_acc) + pipe.delay_s + confirm
    return {
        "window_s": cfg.window_s,
        "hop_s": cfg.hop_s,
        "half_window_s": half,
        "emg_filter_group_delay_s": round(gd_emg, 4),
        "acc_filter_group_delay_s": round(gd_acc, 4),
        "resampler_delay_s": round(pipe.delay_s, 4),
        "confirm_delay_s": confirm,
        "hop_quantisation_max_s": cfg.hop_s,
        "total_s": round(total, 3),
    }


#: What each live mode runs (all at real-time pace, speed 1.0, the same simulated wearer).
LIVE_MODES = {
    "devices": "the simulated Polar H10 + Myo streaming through the bleak API to no-op "
    "callbacks: frame encoding, notification scheduling and delivery (on real hardware the "
    "devices and the OS BLE stack do this)",
    "acquisition": "devices + BleSession (decoding, clock fit, gap bookkeeping), blocks discarded",
    "monitor": "spasmwatch monitor as it runs by default: devices + session + detection + "
    "store + coach + live bus, no raw recording",
    "monitor_record": "as monitor, plus raw recording to disk (--record, fsync each flush)",
}


def _rss_mb(field: str = "VmRSS") -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024.0, 1)
    return float("nan")


async def _devices_only(world, names: list[str], seconds: float) -> None:
    """Connect a bare bleak client to each simulated device, subscribe, send the start
    commands and let the notifications go to a callback that only counts them."""
    from bleak import BleakClient

    from spasmwatch.acquisition._profiles import get_profile

    client_cls, _ = world.backends()
    by_profile = {d.profile.id: d for d in world.devices.values()}
    counts = {"notifications": 0}

    def on_note(_ch, _data) -> None:
        counts["notifications"] += 1

    clients = []
    for name in names:
        prof = get_profile(name)
        c = BleakClient(by_profile[name].address, backend=client_cls)
        await c.connect()
        for u in prof.notify_characteristics():
            await c.start_notify(u, on_note)
        for cmd in prof.start_commands:
            await c.write_gatt_char(cmd.characteristic, cmd.data, response=cmd.response)
            await asyncio.sleep(0.05)
        clients.append(c)
    await asyncio.sleep(seconds)
    for c in clients:
        await c.disconnect()
    if counts["notifications"] == 0:
        raise RuntimeError("devices-only mode received no notification")


async def _acquisition_only(world, names: list[str], seconds: float) -> None:
    from spasmwatch.acquisition import BleSession, DeviceTarget

    c, s = world.backends()
    session = BleSession([DeviceTarget(n) for n in names], client_backend=c, scanner_backend=s,
                         clock=world.clock)  # fmt: skip
    n = 0

    async def stop_later():
        await asyncio.sleep(seconds)
        await session.stop()

    async with session:
        stopper = asyncio.create_task(stop_later())
        async for _b in session:
            n += 1
        await stopper
    if n == 0:
        raise RuntimeError("acquisition mode received no block")


def live_cpu(
    mode: str = "monitor", window_s: float = 20.0, windows: int = 3, warmup_s: float = 5.0
) -> dict:
    """CPU time / wall time of one live mode (:data:`LIVE_MODES`) at real-time pace.

    After ``warmup_s`` (connection, model load, start of calibration), ``time.process_time``
    (all threads of the process) is sampled every ``window_s`` wall seconds for ``windows``
    windows; each window gives one CPU share of one core (%).
    """
    from spasmwatch.acquisition import FaultConfig
    from spasmwatch.pipeline import Monitor, demo_wearer, simulated_world
    from spasmwatch.simulation import simulate_wearer

    if mode not in LIVE_MODES:
        raise ValueError(f"mode must be one of {sorted(LIVE_MODES)}")
    rss_imports = _rss_mb()
    live_s = warmup_s + windows * window_s
    names = ["polar-h10", "myo"]
    res = simulate_wearer(live_s + 60, 9, ("myo", "polar-h10"), wearer=demo_wearer(),
                          start_ns=time.time_ns(), packet_loss=False)  # fmt: skip
    marks: list[tuple[float, float]] = []
    extra: dict = {}

    async def sample() -> None:
        await asyncio.sleep(warmup_s)
        marks.append((time.process_time(), time.perf_counter()))
        for _ in range(windows):
            await asyncio.sleep(window_s)
            marks.append((time.process_time(), time.perf_counter()))

    with tempfile.TemporaryDirectory() as d:

        async def main() -> None:
            world = simulated_world(names, result=res, speed=1.0,
                                    faults=FaultConfig.realistic())  # fmt: skip
            if mode == "devices":
                work = _devices_only(world, names, live_s + 0.5)
            elif mode == "acquisition":
                work = _acquisition_only(world, names, live_s + 0.5)
            else:
                c, s = world.backends()
                rec = Path(d) / "rec" if mode == "monitor_record" else None
                mon = Monitor(names, store=Path(d) / "db.sqlite", clock=world.clock,
                              client_backend=c, scanner_backend=s, record_dir=rec,
                              on_line=lambda _: None)  # fmt: skip
                work = mon.run(live_s + 0.5)
            out = await asyncio.gather(work, sample())
            await world.aclose()
            if mode.startswith("monitor"):
                st = out[0]
                blk = st.latency["block"]
                extra.update(blocks=st.blocks, block_p50_ms=round(blk["p50_ms"], 4),
                             block_p99_ms=round(blk["p99_ms"], 4),
                             dropped=sum(st.dropped.values()))  # fmt: skip

        asyncio.run(main())
    pct = [100 * (c1 - c0) / (w1 - w0) for (c0, w0), (c1, w1) in itertools.pairwise(marks)]

    return {
        "mode": mode,
        "what": LIVE_MODES[mode],
        "windows": len(pct),
        "window_s": window_s,
        "pct_one_core": round(float(np.median(pct)), 2),
        "pct_min": round(min(pct), 2),
        "pct_max": round(max(pct), 2),
        "pct_each": ", ".join(f"{p:.2f}" for p in pct),
        "rss_after_imports_mb": rss_imports,
        "rss_peak_mb": _vm_hwm_mb(),
        "threads": threading_count(),
        "blas_threads": _blas_threads(),
        **extra,
    }


def _blas_threads() -> str:
    """BLAS libraries loaded and their thread counts (threadpoolctl, when installed)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl not installed)"
    return ", ".join(
        f"{i['prefix']} {i['num_threads']}" for i in threadpool_info() if i["user_api"] == "blas"
    )


def threading_count() -> int:
    """OS threads of this process (``/proc/self/task``)."""
    import os

    return len(os.listdir("/proc/self/task"))


def cpu_breakdown(window_s: float = 20.0, windows: int = 3, env: dict | None = None) -> dict:
    """Every live mode in its own process; the budgeted figure is the monitor's own share,
    ``monitor - devices`` (see ``docs/performance.md``)."""
    modes = {m: _live_in_child(m, window_s, windows, env) for m in LIVE_MODES}
    own = modes["monitor"]["pct_one_core"] - modes["devices"]["pct_one_core"]
    own_rec = modes["monitor_record"]["pct_one_core"] - modes["devices"]["pct_one_core"]
    return {
        "pct_one_core": round(own, 2),
        "pct_one_core_with_record": round(own_rec, 2),
        "definition": "monitor's own share = monitor (default, no --record) minus the "
        "simulated devices' share, medians of the windows",
        **modes,
    }


def offline_detect(hours: float = 1.0, repeats: int = 3) -> dict:
    """``detect_recording`` on one simulated hour, ``repeats`` times: median and spread of
    x real time by wall time and by the process's CPU time (which a busy machine does not
    inflate the way it inflates wall time)."""
    from spasmwatch.cli import main as cli
    from spasmwatch.pipeline import detect_recording

    walls, cpus = [], []
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "rec"
        cli(["simulate", "--hours", str(hours), "--seed", "4", "--out", str(out)])
        for _ in range(repeats):
            c0 = time.process_time()
            r = detect_recording(out, progress=False)
            cpus.append(time.process_time() - c0)
            walls.append(r.stats["wall_s"])
    sig = r.stats["signal_s"]
    xw = sorted(sig / w for w in walls)
    xc = sorted(sig / c for c in cpus)
    return {
        "signal_s": round(sig, 1),
        "repeats": repeats,
        "wall_s": round(float(np.median(walls)), 3),
        "x_realtime": round(float(np.median(xw)), 1),
        "x_realtime_min": round(xw[0], 1),
        "x_realtime_max": round(xw[-1], 1),
        "x_realtime_cpu": round(float(np.median(xc)), 1),
        "x_realtime_cpu_min": round(xc[0], 1),
        "x_realtime_cpu_max": round(xc[-1], 1),
        "episodes": len(r.episodes),
        "model": r.model_id,
    }


def _vm_hwm_mb() -> float:
    """Peak resident set of this process (MB): ``VmHWM`` (``ru_maxrss`` would carry the
    parent's peak over a fork on Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024.0, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


def _live_in_child(mode: str, window_s: float, windows: int, env: dict | None = None) -> dict:
    """:func:`live_cpu` in a fresh process, so its CPU and peak RSS are that mode's alone."""
    import json
    import os
    import subprocess
    import sys

    code = (
        "import json; from benchmarks.bench_monitor import live_cpu; "
        f"print(json.dumps(live_cpu({mode!r}, {window_s!r}, {windows!r})))"
    )
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(
    measure_s: float = 300.0, window_s: float = 20.0, windows: int = 3, hours: float = 1.0
) -> dict:
    """Run every part; returns nested figures (see the module docstring)."""
    notif, pipe = notification_latency(measure_s)
    algo = algorithmic_latency(pipe)
    cpu = cpu_breakdown(window_s, windows)
    det = offline_detect(hours)
    return {
        "notification": notif,
        "algorithmic_latency": algo,
        "cpu": cpu,
        # peak RSS of the monitoring process as `spasmwatch monitor` runs by default, and
        # with --record (the recorder's first flush costs ~6 MB since it avoids pyarrow's pandas
        # paths, the Parquet compaction ~16 MB)
        "rss_peak_mb": cpu["monitor"]["rss_peak_mb"],
        "rss_peak_mb_with_record": cpu["monitor_record"]["rss_peak_mb"],
        "rss_peak_mb_benchmark_process": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1
        ),
        "detect": det,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
