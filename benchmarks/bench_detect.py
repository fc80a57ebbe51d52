"""Offline detection speed: ``detect_recording`` over a simulated hour, as x real time.

One hour of a simulated wearer (Myo EMG 8 ch 200 Hz + Polar H10 ACC 200 Hz, daily living,
BLE losses) is written as a recording folder, then the bundled EMG+ACC model's full
pipeline (gap bridge, resampling, features, calibration, ONNX, episode detector) runs over
it. Reported: wall time, x real time (target >= 500) and the per-stage p50/p99 of the
pipeline's own ``perf_counter_ns`` measurements.

``replay_10k_gaps``: ``Recording.iter_blocks`` over a recording with 10,000 gaps (runs of
4 samples, blocks of at most 3), whole replay time, and the time of its index book-keeping
(next cut, sample index of each block) against the former per-block computation, which
went through every gap for every block (quadratic in the number of gaps).

``run() -> dict`` for ``python -m benchmarks.run``; ``python -m benchmarks.bench_detect``
prints the figures.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from spasmwatch.core import Gap, SampleBlock, StreamSpec
from spasmwatch.pipeline import detect_recording, merge_blocks
from spasmwatch.simulation import simulate_wearer
from spasmwatch.store import write_recording
from spasmwatch.store._recording import _index_of_rows, _RowIndex

HOURS = 1.0


def detect(hours: float = HOURS) -> dict:
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


def replay_gaps(n_gaps: int = 10_000, run: int = 4, block_samples: int = 3) -> dict:
    """Replay a recording with ``n_gaps`` gaps; the former and the current index work."""
    spec = StreamSpec("polar-h10", "acc", ("x", "y", "z"), 200.0, "mG")
    lost = np.random.default_rng(1).integers(1, 4, n_gaps)
    starts = np.concatenate([[0], np.cumsum(run + lost)])
    n = int(starts[-1]) + run
    t = 1_700_000_000_000_000_000 + np.arange(n, dtype=np.int64) * 5_000_000
    d = np.zeros((n, 3), np.float32)
    blocks = [SampleBlock(spec, t[:run], d[:run], 0)]
    for s, k in zip(starts[1:].tolist(), lost.tolist(), strict=True):
        gap = Gap(int(t[s - k]), int(t[s]), k, "packet_loss")
        blocks.append(SampleBlock(spec, t[s : s + run], d[s : s + run], s, (gap,)))
    with tempfile.TemporaryDirectory() as tmp:
        rec = write_recording(Path(tmp) / "r", blocks)
        t0 = time.perf_counter()
        out = list(rec.iter_blocks(spec.key, block_samples))
        replay_s = time.perf_counter() - t0
        gaps = rec._gaps[spec.key]
    rows = rec.n_samples(spec.key)
    cut_rows = sorted({0, *(r for r, _ in gaps if r < rows)})
    block_rows = [0]
    for a, b in zip(cut_rows, [*cut_rows[1:], rows], strict=True):
        block_rows += list(range(a, b, block_samples))[1 if a == 0 else 0 :]
    # former: a linear scan of the cuts and of the gaps for each block; timed on one block
    # in ``sample`` (its cost per block does not depend on which block) and scaled up
    sample = 100
    t0 = time.perf_counter()
    old = []
    for row in block_rows[::sample]:
        next((c for c in cut_rows if c > row), rows)
        old.append(int(_index_of_rows(0, np.array([row]), gaps)[0]))
    old_s = (time.perf_counter() - t0) * len(block_rows) / len(old)
    t0 = time.perf_counter()
    index = _RowIndex(0, gaps)
    new = [index.at(row) for row in block_rows]
    new_s = time.perf_counter() - t0
    assert new == [b.first_index for b in out] and new[::sample] == old
    return {
        "gaps": n_gaps,
        "blocks": len(out),
        "replay_s": round(replay_s, 3),
        "index_s_former_est": round(old_s, 1),
        "index_s_now": round(new_s, 4),
        "speedup": round(old_s / new_s, 1),
    }


def run(hours: float = HOURS) -> dict:
    """:func:`detect` and :func:`replay_gaps`; the figures as a dict."""
    return {**detect(hours), "replay_10k_gaps": replay_gaps()}


if __name__ == "__main__":  # pragma: no cover
    out = run()
    print(
        f"{out['signal_h']:.2f} h of signal in {out['wall_s']:.2f} s: "
        f"{out['x_real_time']:.0f}x real time ({out['episodes']} episodes)"
    )
    for k, v in out["stages_ms"].items():
        print(f"  {k:<9} p50 {v['p50']:.3f} ms  p99 {v['p99']:.3f} ms  total {v['total_s']:.2f} s")
