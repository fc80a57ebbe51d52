"""Decode throughput per device profile, in samples per second.

Realistic notifications are made once with the profiles' own encoders (the simulator's
frame sizes; Polar H10 ACC raw int16 and a delta-compressed 0x81 variant, Verity 0x80
delta frames, Myo EMG and IMU, Movesense ACC, NUS EMG and ACC), then each decoder runs
over them repeatedly, timed with ``time.perf_counter``. Every case also reports the
real-time factor: decoded samples per second / the stream's nominal rate.

``run() -> dict`` for ``python -m benchmarks.run``; ``python -m benchmarks.bench_decode``
prints the table.
"""

from __future__ import annotations

import time

import numpy as np

from spasmwatch.acquisition._codecs import make_decoder, make_encoder
from spasmwatch.acquisition._profiles import load_profiles

SECONDS_OF_SIGNAL = 20.0
MIN_TIME_S = 0.3


def _signal(n: int, c: int, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n)[:, None]
    base = amplitude * 0.5 * np.sin(2 * np.pi * t / 37.0 + np.arange(c))
    return base + rng.normal(0, amplitude * 0.05, size=(n, c))


def _cases() -> list[tuple[str, object, str, list[tuple[str, bytes]], int, float]]:
    rng = np.random.default_rng(1)
    p = load_profiles()
    out = []

    def add(name: str, prof_id: str, kind: str, amplitude: float, **opts: object) -> None:
        prof = p[prof_id]
        s = prof.stream(kind)
        n = int(SECONDS_OF_SIGNAL * s.rate_hz)
        enc = make_encoder(prof, kind, **opts)
        x = _signal(n, s.n_channels, amplitude, rng)
        if prof_id == "myo" and kind != "emg":
            notes = enc.encode_imu(  # type: ignore[attr-defined]
                np.tile([1.0, 0, 0, 0], (n, 1)), x, x / 10
            )
        else:
            notes = enc.encode(x)
        out.append((name, prof, kind, notes, n, s.rate_hz))

    add("polar-h10.acc_raw", "polar-h10", "acc", 1000.0)
    add("polar-h10.acc_delta_0x81", "polar-h10", "acc", 1000.0, frame_type=0x81)
    add("polar-h10.ecg", "polar-h10", "ecg", 1500.0)
    add("polar-verity-sense.acc_delta_0x80", "polar-verity-sense", "acc", 1000.0)
    add("myo.emg", "myo", "emg", 60.0)
    add("myo.imu", "myo", "acc", 1000.0)
    add("movesense.acc", "movesense", "acc", 1000.0)
    add("nus-reference.emg", "nus-reference", "emg", 500.0)
    add("nus-reference.acc", "nus-reference", "acc", 1000.0)
    return out


def _time_case(prof: object, notes: list[tuple[str, bytes]]) -> tuple[float, int]:
    decs = {u: make_decoder(prof, u) for u in {u for u, _ in notes}}  # type: ignore[arg-type]
    reps = 0
    t0 = time.perf_counter()
    elapsed = 0.0
    while elapsed < MIN_TIME_S:
        for u, b in notes:
            decs[u].decode(b)
        reps += 1
        elapsed = time.perf_counter() - t0
    return elapsed, reps


def run() -> dict:
    """Decode throughput per case: samples/s, notifications/s, x real time."""
    results: dict[str, dict[str, float | int]] = {}
    for name, prof, _kind, notes, n, rate in _cases():
        elapsed, reps = _time_case(prof, notes)
        sps = n * reps / elapsed
        results[name] = {
            "samples_per_s": round(sps),
            "notifications_per_s": round(len(notes) * reps / elapsed),
            "samples_per_notification": round(n / len(notes), 2),
            "x_realtime": round(sps / rate),
        }
    return {"decode": results}


if __name__ == "__main__":
    res = run()["decode"]
    print(f"{'case':36s} {'samples/s':>12s} {'notif/s':>10s} {'smp/notif':>9s} {'x realtime':>11s}")
    for k, v in res.items():
        print(
            f"{k:36s} {v['samples_per_s']:12,d} {v['notifications_per_s']:10,d} "
            f"{v['samples_per_notification']:9.2f} {v['x_realtime']:11,d}"
        )
