"""Throughput of the signal stage (filters, windows, features, alignment).

EMG 8 channels at 200 Hz plus ACC 3 axes at 100 Hz, window 2.0 s, hop 0.25 s (defaults) and
0.5 s. Reported as "x real time" (signal seconds per wall-clock second, one process):

- ``large``: 1 h of signal fed as 60 s blocks (offline ``detect``, replay);
- ``live``: notification-sized blocks (EMG 8 samples = 40 ms, ACC 4 samples), on 5 min of
  signal, blocks built before timing (the source builds them anyway);
- ``live_device``: the blocks real devices send (Myo: 2 EMG samples per notification, Polar
  H10: ~36 ACC samples), with the p99 and maximum compute time of one ``update`` call (the
  live monitor's budget is p99 < 5 ms) and the share of one core both streams need;
- ``neurokit2``: ``nk.emg_clean`` + ``nk.emg_amplitude`` per channel on the same EMG (10 min),
  skipped when neurokit2 is not installed (``pip install -e .[bench]``);
- ``ring_vs_roll``: writing live-sized chunks into the preallocated ring buffer vs an
  ``np.roll`` buffer of the same capacity.

Run: ``python -m benchmarks.bench_signal`` (prints JSON).
"""

from __future__ import annotations

import json
import time
import warnings

import numpy as np

from spasmwatch.core import SampleBlock, StreamSpec
from spasmwatch.signal import RingBuffer, SignalPipeline

EMG = StreamSpec("myo", "emg", tuple(f"c{i}" for i in range(8)), 200.0, "counts")
ACC = StreamSpec("polar-h10", "acc", ("x", "y", "z"), 100.0, "mG")
T0 = 1_700_000_000_000_000_000


def _signals(seconds: float, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    ne, na = int(seconds * EMG.rate_hz), int(seconds * ACC.rate_hz)
    te = T0 + 2_000_000 + np.arange(ne, dtype=np.int64) * 5_000_000
    ta = T0 + 7_000_000 + np.arange(na, dtype=np.int64) * 10_000_000
    burst = 1.0 + 5.0 * (np.sin(2 * np.pi * 0.05 * np.arange(ne) / EMG.rate_hz) > 0.8)
    xe = (rng.normal(size=(ne, 8)) * 8.0 * burst[:, None]).astype(np.float32)
    xa = (rng.normal(size=(na, 3)) * 30.0 + [0.0, 0.0, 1000.0]).astype(np.float32)
    return {"emg": (te, xe), "acc": (ta, xa)}


def _blocks(spec: StreamSpec, t: np.ndarray, x: np.ndarray, n: int) -> list[SampleBlock]:
    return [
        SampleBlock(spec, t[a : a + n], x[a : a + n], first_index=a) for a in range(0, len(t), n)
    ]


def _interleave(*lists: list[SampleBlock]) -> list[SampleBlock]:
    return sorted((b for lst in lists for b in lst), key=lambda b: int(b.t_ns[-1]))


def _stream(blocks: list[SampleBlock], hop_s: float) -> tuple[float, int]:
    pipe = SignalPipeline([EMG, ACC], hop_s=hop_s)
    n = 0
    t = time.perf_counter()
    for b in blocks:
        n += len(pipe.update_batch(b))
    n += len(pipe.flush_batch())
    return time.perf_counter() - t, n


def _per_call(blocks: list[SampleBlock], hop_s: float) -> np.ndarray:
    """Seconds spent in each ``update`` call (what the live monitor waits for)."""
    pipe = SignalPipeline([EMG, ACC], hop_s=hop_s)
    out = np.empty(len(blocks))
    clock = time.perf_counter
    for i, b in enumerate(blocks):
        t = clock()
        pipe.update(b)
        out[i] = clock() - t
    return out


def _neurokit(x: np.ndarray, seconds: float) -> dict[str, object]:
    try:
        import neurokit2 as nk
    except ImportError:
        return {"skipped": "neurokit2 not installed (pip install -e .[bench])"}
    out: dict[str, object] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            nk.emg_clean(x[:1000, 0].astype(np.float64), sampling_rate=int(EMG.rate_hz))
            rate = int(EMG.rate_hz)
        except ValueError as e:  # its fixed 100 Hz high-pass is at Nyquist for 200 Hz
            out["at_200_hz"] = f"fails: {e}"
            rate = 1000  # same samples, labelled 1 kHz: same work per sample
        t = time.perf_counter()
        for ch in range(x.shape[1]):
            clean = nk.emg_clean(x[:, ch].astype(np.float64), sampling_rate=rate)
            nk.emg_amplitude(clean)
        dt = time.perf_counter() - t
    out.update(
        {
            "sampling_rate_given": rate,
            "seconds_of_signal": seconds,
            "wall_s": round(dt, 4),
            "x_realtime": round(seconds / dt, 1),
            "what": "emg_clean + emg_amplitude per channel, whole signal, not streaming",
        }
    )
    return out


def _ring_vs_roll(x: np.ndarray, chunk: int, capacity: int) -> dict[str, object]:
    ring = RingBuffer(capacity, x.shape[1], np.float32)
    n = len(x)
    t = time.perf_counter()
    for a in range(0, n, chunk):
        ring.write(x[a : a + chunk], a)
    ring_s = time.perf_counter() - t
    buf = np.zeros((capacity, x.shape[1]), np.float32)
    t = time.perf_counter()
    for a in range(0, n, chunk):
        c = x[a : a + chunk]
        buf = np.roll(buf, -len(c), axis=0)
        buf[-len(c) :] = c
    roll_s = time.perf_counter() - t
    n_chunks = -(-n // chunk)
    return {
        "chunk_samples": chunk,
        "capacity_samples": capacity,
        "ring_us_per_chunk": round(ring_s / n_chunks * 1e6, 2),
        "roll_us_per_chunk": round(roll_s / n_chunks * 1e6, 2),
        "speedup": round(roll_s / ring_s, 2),
    }


def run(hour_s: float = 3600.0, live_s: float = 300.0, nk_s: float = 600.0) -> dict:
    """Run the benchmark; returns nested figures (see the module docstring)."""
    sig = _signals(hour_s)
    out: dict[str, object] = {
        "setup": {
            "emg": "8 ch @ 200 Hz",
            "acc": "3 axes @ 100 Hz",
            "window_s": 2.0,
            "signal_s": hour_s,
        }
    }
    large = _interleave(
        _blocks(EMG, *sig["emg"], int(60 * EMG.rate_hz)),
        _blocks(ACC, *sig["acc"], int(60 * ACC.rate_hz)),
    )
    ne_live, na_live = int(live_s * EMG.rate_hz), int(live_s * ACC.rate_hz)
    live = _interleave(
        _blocks(EMG, sig["emg"][0][:ne_live], sig["emg"][1][:ne_live], 8),
        _blocks(ACC, sig["acc"][0][:na_live], sig["acc"][1][:na_live], 4),
    )
    device = _interleave(
        _blocks(EMG, sig["emg"][0][:ne_live], sig["emg"][1][:ne_live], 2),
        _blocks(ACC, sig["acc"][0][:na_live], sig["acc"][1][:na_live], 36),
    )
    for hop in (0.25, 0.5):
        key = f"hop_{int(hop * 1000)}ms"
        dt, n = _stream(large, hop)
        dt_live, n_live = _stream(live, hop)
        calls = _per_call(device, hop)
        out[key] = {
            "large": {
                "block_s": 60,
                "wall_s": round(dt, 4),
                "frames": n,
                "x_realtime": round(hour_s / dt, 1),
            },
            "live": {
                "blocks": len(live),
                "wall_s": round(dt_live, 4),
                "frames": n_live,
                "us_per_block": round(dt_live / len(live) * 1e6, 1),
                "x_realtime": round(live_s / dt_live, 1),
            },
            "live_device": {
                "emg_block_samples": 2,
                "acc_block_samples": 36,
                "blocks": len(device),
                "us_per_block": round(float(calls.mean()) * 1e6, 1),
                "p99_us_per_block": round(float(np.percentile(calls, 99)) * 1e6, 1),
                "max_us_per_block": round(float(calls.max()) * 1e6, 1),
                "core_share_pct": round(float(calls.sum()) / live_s * 100, 3),
                "x_realtime": round(live_s / float(calls.sum()), 1),
            },
        }
    nn = int(nk_s * EMG.rate_hz)
    out["neurokit2"] = _neurokit(sig["emg"][1][:nn], nk_s)
    pipe_emg = SignalPipeline([EMG])
    t = time.perf_counter()
    pipe_emg.extract({"emg": (sig["emg"][0][:nn], sig["emg"][1][:nn])})
    dt = time.perf_counter() - t
    out["spasmwatch_emg_only_same_signal"] = {
        "seconds_of_signal": nk_s,
        "wall_s": round(dt, 4),
        "x_realtime": round(nk_s / dt, 1),
    }
    out["ring_vs_roll"] = _ring_vs_roll(sig["emg"][1][: int(600 * EMG.rate_hz)], 8, 400 + 3200)
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
