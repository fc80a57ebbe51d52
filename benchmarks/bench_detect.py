"""Offline detection speed: ``detect_recording`` over a simulated hour, as x real time.

One hour of a simulated wearer (Myo EMG 8 ch 200 Hz + Polar H10 ACC 200 Hz, daily living,
BLE losses) is written as a recording folder, then the bundled EMG+ACC model's full
pipeline (gap bridge, resampling, features, calibration, ONNX, episode detector) runs over
it. Reported: wall time, x real time (target >= 500) and the per-stage p50/p99 of the
pipeline's own ``perf_counter_ns`` measurements.

``run() -> dict`` for ``python -m benchmarks.run``; ``python -m benchmarks.bench_detect``
prints the figures.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from spasmwatch.pipeline import detect_recording, merge_blocks
from spasmwatch.simulation import simulate_wearer
from spasmwatch.store import write_recording

HOURS = 1.0


def run(hours: float = HOURS) -> dict:
    """Simulate, write, detect; the figures as a dict."""
    r = simulate_wearer(hours * 3600.0, 31337, ("myo", "polar-h10"))
    keys = [k for k in r.specs if k != "myo.acc"]  # Myo 8 ch EMG + H10 200 Hz ACC
    with tempfile.TemporaryDirectory() as d:
        rec = Path(d) / "rec"
        write_recording(rec, merge_blocks([r.to_blocks(k, 4096) for k in keys]))
        res = detect_recording(rec, progress=False)
    st = res.stats
    return {
        "signal_h": st["signal_s"] / 3600.0,
        "wall_s": st["wall_s"],
        "x_real_time": st["x_real_time"],
        "episodes": len(res.episodes),
        "stages_ms": {
            k: {"p50": v["p50_ms"], "p99": v["p99_ms"], "total_s": v["total_s"]}
            for k, v in st.items()
            if isinstance(v, dict)
        },
    }


if __name__ == "__main__":  # pragma: no cover
    out = run()
    print(
        f"{out['signal_h']:.2f} h of signal in {out['wall_s']:.2f} s: "
        f"{out['x_real_time']:.0f}x real time ({out['episodes']} episodes)"
    )
    for k, v in out["stages_ms"].items():
        print(f"  {k:<9} p50 {v['p50']:.3f} ms  p99 {v['p99']:.3f} ms  total {v['total_s']:.2f} s")
