"""API latency: the clinician timeline over a year and an hour of signal for display.

Both go through the real app (FastAPI ``TestClient``, token auth and wearer scoping) on a
real SQLite event store and a real recording folder on disk:

* ``timeline_year_ms`` — ``GET /api/episodes?layout=columns`` (what the timeline page
  asks for) for one wearer over 365 days holding 20 episodes a day (7,300 episodes), as a
  clinician assigned to that wearer, response parsed. Target < 100 ms.
  ``timeline_year_records_ms`` is the same with the default list of objects.
* ``signal_hour_ms`` — ``GET /api/recordings/{id}/signal`` for one hour of Myo EMG
  (8 channels at 200 Hz: 720,000 samples) at display resolution (2,000 min/max buckets).
  Target < 200 ms. Steady state: the stream's min/max sidecar (``myo.emg.minmax.parquet``,
  written at close for every recording) answers the request.
* ``signal_hour_first_ms`` — the same request, once, on a recording without the sidecar
  (an older recording): the pyramid is built from the raw samples and cached on disk.

Medians of several runs after one warm-up; ``python -m benchmarks.bench_api`` prints them.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

WEARER = "bench-wearer"
DAY_NS = 86_400 * 10**9
T0 = 1_735_689_600 * 10**9  # 2025-01-01 00:00 UTC
RUNS = 9


def _median_ms(fn, runs: int = RUNS) -> float:
    fn()  # warm-up (connections, caches, first parquet read)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(times), 2)


def _year_of_episodes(store) -> int:
    from spasmwatch.episodes import Episode

    rng = np.random.default_rng(3)
    types = ("tonic", "clonic", "mixed", "myoclonic", "unknown")
    eps = []
    for day in range(365):
        starts = np.sort(rng.integers(0, DAY_NS - 120 * 10**9, 20))
        for k, s in enumerate(starts):
            dur = int(rng.integers(2, 90)) * 10**9
            eps.append(
                Episode(
                    id=f"e{day:03d}-{k:02d}",
                    start_ns=T0 + day * DAY_NS + int(s),
                    end_ns=T0 + day * DAY_NS + int(s) + dur,
                    type=types[int(rng.integers(0, 5))],
                    peak_intensity=float(rng.uniform(1.5, 9)),
                    severity=int(rng.integers(1, 4)),
                    confidence=float(rng.uniform(0.5, 1)),
                    wearer_id=WEARER,
                    model_id="emg-acc-1",
                    device="myo",
                    placement="gastrocnemius-left",
                )
            )
    return store.add_episodes(eps)


def _hour_of_myo(folder: Path) -> str:
    from spasmwatch.core import SampleBlock, StreamSpec
    from spasmwatch.store import write_recording

    spec = StreamSpec("myo", "emg", tuple(f"emg{i}" for i in range(8)), 200.0, "raw")
    rng = np.random.default_rng(5)
    blocks = []
    per_block = 200 * 60  # one minute
    for m in range(60):
        t = T0 + (m * per_block + np.arange(per_block)) * spec.period_ns
        x = rng.normal(0, 8, (per_block, 8)).astype(np.float32)
        blocks.append(SampleBlock(spec, t.astype(np.int64), x, first_index=m * per_block))
    rec = write_recording(folder, blocks, devices=[{"id": "myo"}], meta={"wearer_id": WEARER})
    return rec.id


def run() -> dict:
    """Median latencies (ms) of the timeline year query and of one hour of signal."""
    from fastapi.testclient import TestClient

    from spasmwatch.api import create_app
    from spasmwatch.store import EventStore, RecordingInfo

    tmp = Path(tempfile.mkdtemp(prefix="sw-bench-api-"))
    try:
        store = EventStore(tmp / "events.db")
        n = _year_of_episodes(store)
        rec_id = _hour_of_myo(tmp / "rec")
        store.upsert_recording(
            RecordingInfo(rec_id, str(tmp / "rec"), T0, T0 + 3600 * 10**9, WEARER, ("myo",))
        )
        app = create_app(tmp / "events.db", data_dir=tmp, store=store)
        token = app.state.tokens.create("clinician", "bench", wearers=[WEARER])[0]
        h = {"Authorization": f"Bearer {token}"}
        with TestClient(app) as client:
            year = {"start": str(T0), "end": str(T0 + 365 * DAY_NS), "wearer_id": WEARER}

            def timeline() -> None:
                # what the timeline page asks for: the columnar layout
                r = client.get("/api/episodes", headers=h, params={**year, "layout": "columns"})
                assert r.status_code == 200 and len(r.json()["columns"]["id"]) == n, r.text[:200]

            def timeline_records() -> None:
                r = client.get("/api/episodes", headers=h, params=year)
                assert r.status_code == 200 and r.json()["count"] == n, r.text[:200]

            def timeline_month() -> None:
                q = {**year, "start": str(T0 + 300 * DAY_NS), "end": str(T0 + 328 * DAY_NS)}
                assert client.get("/api/episodes", headers=h, params=q).status_code == 200

            def daily_year() -> None:
                q = {**year, "tz": "Europe/Berlin"}
                assert client.get("/api/summary/daily", headers=h, params=q).status_code == 200

            def signal() -> None:
                r = client.get(
                    f"/api/recordings/{rec_id}/signal",
                    headers=h,
                    params={"stream": "myo.emg", "buckets": 2000},
                )
                assert r.status_code == 200 and sum(r.json()["counts"]) == 720_000

            # first fetch of a recording without the sidecar: lazy build + cache on disk
            side = tmp / "rec" / "myo.emg.minmax.parquet"
            assert side.is_file(), "the sidecar is written at close"
            side.unlink()
            # warm the app and open the recording first, so only the fetch is timed
            assert client.get(f"/api/recordings/{rec_id}", headers=h).status_code == 200
            t = time.perf_counter()
            signal()
            first_ms = round((time.perf_counter() - t) * 1000, 2)
            assert side.is_file(), "the first fetch caches the sidecar"

            out = {
                "timeline_year_ms": _median_ms(timeline),
                "signal_hour_ms": _median_ms(signal),
                "signal_hour_first_ms": first_ms,
                "timeline_year_records_ms": _median_ms(timeline_records),
                "timeline_28_days_ms": _median_ms(timeline_month),
                "daily_summary_year_ms": _median_ms(daily_year),
                "episodes_in_year": n,
                "signal_samples": 720_000,
                "signal_buckets": 2000,
            }
        store.close()
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    for k, v in run().items():
        print(f"{k:24s} {v}")
