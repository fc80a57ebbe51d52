"""Live monitoring: compute latency per notification, algorithmic latency, CPU, memory,
and the offline ``detect`` speed.

* **notification latency**: the bundled EMG+ACC pipeline fed notification-sized blocks as a
  Myo (2 EMG samples, 1 IMU sample) and a Polar H10 (36 ACC samples) deliver them, in
  arrival order, over 5 simulated minutes after the rest calibration; each
  ``DetectionPipeline.update`` call is timed with ``time.perf_counter_ns``.
* **algorithmic latency**: what the design adds before a spasm can be seen, from the
  pipeline's own parameters: half a window, the filters' group delay in their pass band,
  the resampler delay and the detector's confirmation windows.
* **CPU and memory**: ``spasmwatch.pipeline.Monitor`` on two simulated devices (Polar H10 +
  Myo, through the real bleak API) at real-time pace for ``live_s`` seconds; process CPU
  time / wall time (this includes the simulated devices themselves, so it is an upper
  bound of the monitor's share), and the peak RSS of the process.
* **offline detect**: ``detect_recording`` on one simulated hour, as a multiple of real time.

``run() -> dict`` for ``python -m benchmarks.run``.
"""

from __future__ import annotations

import asyncio
import heapq
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


def live_cpu(live_s: float = 25.0) -> dict:
    from spasmwatch.acquisition import FaultConfig
    from spasmwatch.pipeline import Monitor, demo_wearer, simulated_world
    from spasmwatch.simulation import simulate_wearer

    res = simulate_wearer(live_s + 60, 9, ("myo", "polar-h10"), wearer=demo_wearer(),
                          start_ns=time.time_ns(), packet_loss=False)  # fmt: skip
    with tempfile.TemporaryDirectory() as d:

        async def main():
            world = simulated_world(["polar-h10", "myo"], result=res, speed=1.0,
                                    faults=FaultConfig.realistic())  # fmt: skip
            c, s = world.backends()
            mon = Monitor(["polar-h10", "myo"], store=Path(d) / "db.sqlite", clock=world.clock,
                          client_backend=c, scanner_backend=s, record_dir=Path(d) / "rec",
                          on_line=lambda _: None)  # fmt: skip
            await asyncio.sleep(0)
            c0, w0 = time.process_time(), time.perf_counter()
            st = await mon.run(live_s)
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            await world.aclose()
            return st, cpu, wall

        st, cpu, wall = asyncio.run(main())
    blk = st.latency["block"]
    return {
        "devices": "polar-h10 (ACC 200 Hz, ECG 130 Hz) + myo (EMG 8x200 Hz, IMU 50 Hz)",
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 3),
        "pct_one_core": round(100 * cpu / wall, 2),
        "note": "process CPU incl. the simulated BLE devices and recording to disk",
        "blocks": st.blocks,
        "block_p50_ms": round(blk["p50_ms"], 4),
        "block_p99_ms": round(blk["p99_ms"], 4),
        "dropped": sum(st.dropped.values()),
    }


def offline_detect(hours: float = 1.0) -> dict:
    from spasmwatch.cli import main as cli
    from spasmwatch.pipeline import detect_recording

    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "rec"
        cli(["simulate", "--hours", str(hours), "--seed", "4", "--out", str(out)])
        r = detect_recording(out, progress=False)
    return {
        "signal_s": round(r.stats["signal_s"], 1),
        "wall_s": round(r.stats["wall_s"], 3),
        "x_realtime": round(r.stats["x_real_time"], 1),
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


def _live_in_child(live_s: float) -> dict:
    """:func:`live_cpu` in a fresh process, so its peak RSS is the monitor's alone."""
    import json
    import subprocess
    import sys

    code = (
        "import json; from benchmarks.bench_monitor import live_cpu, _vm_hwm_mb; "
        f"r = live_cpu({live_s!r}); r['rss_peak_mb'] = _vm_hwm_mb(); print(json.dumps(r))"
    )
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(measure_s: float = 300.0, live_s: float = 25.0, hours: float = 1.0) -> dict:
    """Run every part; returns nested figures (see the module docstring)."""
    notif, pipe = notification_latency(measure_s)
    algo = algorithmic_latency(pipe)
    cpu = _live_in_child(live_s)
    rss_mb = cpu.pop("rss_peak_mb")
    det = offline_detect(hours)
    return {
        "notification": notif,
        "algorithmic_latency": algo,
        "cpu": cpu,
        "rss_peak_mb": rss_mb,
        "rss_peak_mb_benchmark_process": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1
        ),
        "detect": det,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
