"""Min/max decimation equals a plain numpy loop over buckets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spasmwatch.api import minmax_buckets
from spasmwatch.errors import ConfigError


@given(
    n=st.integers(0, 400),
    buckets=st.integers(1, 60),
    lo=st.integers(-50, 300),
    span=st.integers(1, 500),
    seed=st.integers(0, 2**16),
)
def test_matches_reference_loop(n, buckets, lo, span, seed):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, 400, n)).astype(np.int64)
    x = rng.normal(size=(n, 2)).astype(np.float32)
    edges, mn, mx, counts = minmax_buckets(t, x, lo, lo + span, buckets)
    assert edges[0] == lo and edges[-1] == lo + span and np.all(np.diff(edges) >= 0)
    for k in range(buckets):
        sel = (t >= edges[k]) & (t < edges[k + 1])
        assert counts[k] == sel.sum()
        if sel.any():
            np.testing.assert_array_equal(mn[k], x[sel].min(axis=0))
            np.testing.assert_array_equal(mx[k], x[sel].max(axis=0))
        else:
            assert np.isnan(mn[k]).all() and np.isnan(mx[k]).all()


def test_rejects_bad_arguments():
    t = np.arange(10, dtype=np.int64)
    x = np.zeros((10, 1), np.float32)
    with pytest.raises(ConfigError, match="buckets"):
        minmax_buckets(t, x, 0, 10, 0)
    with pytest.raises(ConfigError, match="after start"):
        minmax_buckets(t, x, 10, 10, 5)


def test_hours_of_emg_decimate_fast():
    import time

    n = 200 * 3600 * 2  # two hours of 200 Hz
    t = np.arange(n, dtype=np.int64) * 5_000_000
    x = np.random.default_rng(0).normal(size=(n, 8)).astype(np.float32)
    t0 = time.perf_counter()
    _, mn, _mx, _ = minmax_buckets(t, x, 0, int(t[-1]) + 1, 2000)
    elapsed = time.perf_counter() - t0
    assert mn.shape == (2000, 8) and not np.isnan(mn).any()
    assert elapsed < 2.0


def test_signal_route_answers_wide_buckets_from_the_pyramid(tmp_path):
    """Through the real app: equal to raw min/max on cell-aligned buckets, and served from
    the sidecar alone (the raw stream file is not needed for a wide view)."""
    from fastapi.testclient import TestClient

    from spasmwatch.api import create_app
    from spasmwatch.core import SampleBlock, StreamSpec
    from spasmwatch.store import EventStore, RecordingInfo, write_recording
    from spasmwatch.store._pyramid import cell_ns_for, sidecar_path

    spec = StreamSpec("myo", "emg", ("a", "b"), 200.0, "raw")
    cell = cell_ns_for(spec.rate_hz)
    t0 = 1_735_689_600 * 10**9 // cell * cell
    n = 40_000
    t = t0 + np.arange(n, dtype=np.int64) * 5_000_000
    keep = (np.arange(n) < 10_000) | (np.arange(n) >= 14_000)  # a 20 s gap
    x = np.random.default_rng(1).normal(0, 9, (n, 2)).astype(np.float32)
    rec = write_recording(
        tmp_path / "rec",
        [SampleBlock(spec, t[keep], x[keep])],
        meta={"wearer_id": "w"},
    )
    store = EventStore(tmp_path / "events.db")
    try:
        store.upsert_recording(
            RecordingInfo(rec.id, str(tmp_path / "rec"), rec.start_ns, rec.end_ns, "w", ("myo",))
        )
        app = create_app(tmp_path / "events.db", data_dir=tmp_path, store=store)
        token = app.state.tokens.create("clinician", "t", wearers=["w"])[0]
        h = {"Authorization": f"Bearer {token}"}
        start, end = t0, t0 + 100 * 8 * cell  # 100 buckets of 8 cells, aligned
        rec.parquet_path("myo.emg").unlink()  # only the sidecar is left
        assert sidecar_path(rec.parquet_path("myo.emg")).is_file()
        with TestClient(app) as client:
            r = client.get(
                f"/api/recordings/{rec.id}/signal",
                headers=h,
                params={"stream": "myo.emg", "buckets": 100, "start": start, "end": end},
            )
        assert r.status_code == 200, r.text[:300]
        body = r.json()
        edges, lo, hi, counts = minmax_buckets(t[keep], x[keep], start, end, 100)
        assert body["edges_ns"] == edges.tolist() and body["counts"] == counts.tolist()
        for j, ch in enumerate(body["channels"]):
            got_lo = np.array([np.nan if v is None else v for v in ch["min"]])
            got_hi = np.array([np.nan if v is None else v for v in ch["max"]])
            np.testing.assert_allclose(got_lo, lo[:, j], atol=1e-6)
            np.testing.assert_allclose(got_hi, hi[:, j], atol=1e-6)
        assert any(v is None for v in body["channels"][0]["min"])  # the gap stays visible
    finally:
        store.close()
