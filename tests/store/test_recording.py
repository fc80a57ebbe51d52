"""Recording folders: round trip, time-range reads, replay, crash recovery."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spasmwatch.core import Gap, SampleBlock, StreamSpec
from spasmwatch.errors import RecordingError
from spasmwatch.store import Recording, RecordingWriter, open_recording, write_recording
from spasmwatch.store._recording import ROW_GROUP_ROWS, _index_of_rows, _RowIndex

T0 = 1_700_000_000_000_000_000
ACC = StreamSpec("polar-h10", "acc", ("x", "y", "z"), 200.0, "mG")
EMG = StreamSpec("myo", "emg", tuple(f"ch{i}" for i in range(1, 9)), 200.0, "counts")


def _signal(spec: StreamSpec, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = T0 + np.arange(n, dtype=np.int64) * int(spec.period_ns)
    d = rng.normal(0, 100, (n, spec.n_channels)).astype(np.float32)
    return t, d


def _blocks_with_gaps(spec: StreamSpec, n: int, cuts: list[int], lost: dict[int, int]):
    """Blocks of one stream cut at ``cuts``; ``lost[c]`` samples starting at c are dropped.

    Which samples are dropped does not depend on ``cuts``; a gap is attached to the block
    starting at the first sample after the dropped run.
    """
    t, d = _signal(spec, n)
    dropped = np.zeros(n, bool)
    for c, k in lost.items():
        if 0 < c < n - 1:
            dropped[c : min(c + k, n - 1)] = True
    kept = np.flatnonzero(~dropped)
    run_ends = [int(i) for i in kept[1:] if dropped[i - 1]]
    starts = sorted(
        {0, *run_ends, *(int(kept[np.searchsorted(kept, c)]) for c in cuts if c <= kept[-1])}
    )
    blocks = []
    for a, b in itertools.pairwise([*starts, n]):
        idx = np.arange(a, b)[~dropped[a:b]]
        gaps = ()
        if a and dropped[a - 1]:
            k = a - int(kept[np.searchsorted(kept, a) - 1]) - 1
            gaps = (Gap(int(t[a - k]), int(t[a]), k, "packet_loss"),)
        blocks.append(SampleBlock(spec, t[idx], d[idx], first_index=a, gaps=gaps))
    return blocks, t[kept], d[kept]


# --------------------------------------------------------------------------- round trip


def test_round_trip_values_specs_gaps(tmp_path):
    blocks, t, d = _blocks_with_gaps(ACC, 3000, [500, 1200, 2000], {1200: 7, 2000: 3})
    et, ed = _signal(EMG, 1500, seed=1)
    emg = [SampleBlock(EMG, et[:700], ed[:700]), SampleBlock(EMG, et[700:], ed[700:], 700)]
    devices = [
        {"id": "polar-h10", "profile": "polar-h10", "address": "AA:BB", "placement": "chest"}
    ]
    rec = write_recording(tmp_path / "r", [*blocks, *emg], devices=devices, meta={"wearer": "w1"})
    assert isinstance(rec, Recording)
    for r in (rec, open_recording(tmp_path / "r")):
        assert r.specs == {ACC.key: ACC, EMG.key: EMG}
        rt, rd = r.read(ACC.key)
        assert rt.dtype == np.int64 and rd.dtype == np.float32 and rd.shape == (len(t), 3)
        np.testing.assert_array_equal(rt, t)
        np.testing.assert_array_equal(rd, d)  # exact float32
        np.testing.assert_array_equal(r.read(EMG.key)[1], ed)
        assert [g.n_missing for g in r.gaps(ACC.key)] == [7, 3]
        assert all(g.cause == "packet_loss" for g in r.gaps(ACC.key))
        assert r.gaps(EMG.key) == []
        assert r.manifest["devices"] == devices
        assert r.manifest["meta"] == {"wearer": "w1"}
        assert r.start_ns == T0
        assert r.end_ns == T0 + 3000 * 5_000_000
        assert r.duration_s() == pytest.approx(15.0)
        assert r.recovered is False
    assert not (tmp_path / "r" / "segments").exists()
    assert not (tmp_path / "r" / ".lock").exists()


def test_parquet_is_readable_without_spasmwatch(tmp_path):
    t, d = _signal(ACC, 100)
    write_recording(tmp_path / "r", [SampleBlock(ACC, t, d)])
    table = pq.read_table(tmp_path / "r" / "polar-h10.acc.parquet")
    assert table.column_names == ["t_ns", "x", "y", "z"]
    assert str(table.schema.field("t_ns").type) == "int64"
    assert str(table.schema.field("x").type) == "float"
    meta = table.schema.metadata
    assert meta[b"units"] == b"mG" and meta[b"rate_hz"] == b"200.0" and meta[b"kind"] == b"acc"
    assert (
        pq.ParquetFile(tmp_path / "r" / "polar-h10.acc.parquet")
        .metadata.row_group(0)
        .column(1)
        .compression
        == "ZSTD"
    )
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["format_version"] == 1 and manifest["streams"][ACC.key]["n_samples"] == 100


def test_live_writer_manifest_and_clock_driven_flush(tmp_path):
    now = [T0]
    w = RecordingWriter(
        tmp_path / "r",
        devices=[{"id": "x"}],
        clock=lambda: now[0],
        flush_interval_s=1.0,
        fsync=False,
    )
    t, d = _signal(ACC, 1000)
    for i in range(0, 1000, 50):  # 50 samples = 0.25 s
        w.write(SampleBlock(ACC, t[i : i + 50], d[i : i + 50], first_index=i))
        now[0] += 250_000_000
    journal = [json.loads(x) for x in (tmp_path / "r" / "journal.jsonl").read_text().splitlines()]
    flushes = [e for e in journal if e["type"] == "flush"]
    # blocks at 0, 0.25 ... 4.75 s of clock time: a flush at each full second
    assert [f["t_ns"] - T0 for f in flushes] == [1e9, 2e9, 3e9, 4e9]
    assert flushes[-1]["rows"] == {ACC.key: 850}
    w.add_gap(ACC.key, Gap(int(t[-1]) + 5_000_000, now[0], 0, "disconnect"))
    w.note("sensor re-seated")
    rec = w.close()
    assert rec.start_ns == T0 and rec.end_ns == now[0]
    assert rec.gaps(ACC.key)[-1].cause == "disconnect"
    assert rec.manifest["notes"][0]["text"] == "sensor re-seated"
    assert w.close() is rec  # idempotent


# --------------------------------------------------------------------------- reads, replay


def test_time_range_read_uses_row_groups(tmp_path):
    n = ROW_GROUP_ROWS * 4 + 123
    t, d = _signal(ACC, n)
    rec = write_recording(
        tmp_path / "r",
        [SampleBlock(ACC, t[i : i + 10_000], d[i : i + 10_000], i) for i in range(0, n, 10_000)],
    )
    assert pq.ParquetFile(rec.parquet_path(ACC.key)).metadata.num_row_groups == 5
    for a, b in [(0, 10), (ROW_GROUP_ROWS - 5, ROW_GROUP_ROWS + 5), (n - 3, n), (1000, 200_000)]:
        rt, rd = rec.read(ACC.key, int(t[a]), int(t[b - 1]) + 1)
        np.testing.assert_array_equal(rt, t[a:b])
        np.testing.assert_array_equal(rd, d[a:b])
    # times between samples, before and after the recording
    rt, _ = rec.read(ACC.key, int(t[10]) + 1, int(t[20]) - 1)
    np.testing.assert_array_equal(rt, t[11:20])
    assert rec.read(ACC.key, 0, T0)[0].shape == (0,)
    assert rec.read(ACC.key, int(t[-1]) + 1)[1].shape == (0, 3)
    # only the overlapping row group is read: a second's worth from the middle is one group
    _, table = rec._rows(ACC.key, int(t[ROW_GROUP_ROWS * 2 + 10]), int(t[ROW_GROUP_ROWS * 2 + 210]))
    assert table.num_rows == 200


def test_iter_blocks_reproduces_blocks_and_gaps(tmp_path):
    blocks, t, d = _blocks_with_gaps(ACC, 2500, [300, 1000, 1700], {1000: 20, 1700: 1})
    trailing = Gap(int(t[-1]) + 5_000_000, int(t[-1]) + 1_000_000_000, 200, "disconnect")
    with RecordingWriter(tmp_path / "r", start_ns=T0, fsync=False) as w:
        for b in blocks:
            w.write(b)
        w.add_gap(ACC.key, trailing)
    rec = open_recording(tmp_path / "r")
    out = list(rec.iter_blocks(ACC.key, block_samples=256))
    assert all(0 < b.n_samples <= 256 for b in out[:-1])
    # the gap blocks start exactly where the recorded ones did
    starts = {b.first_index: b.gaps for b in out if b.gaps}
    assert starts[1020][0].n_missing == 20 and starts[1701][0].n_missing == 1
    assert out[-1].n_samples == 0 and out[-1].gaps == (trailing,)
    assert out[-1].first_index == 2500 + 200
    for prev, nxt in itertools.pairwise(out):
        assert nxt.first_index == prev.end_index + sum(g.n_missing for g in nxt.gaps)
    np.testing.assert_array_equal(np.concatenate([b.t_ns for b in out]), t)
    np.testing.assert_array_equal(np.concatenate([b.data for b in out]), d)
    # replay into a new recording gives the same recording
    rec2 = write_recording(tmp_path / "r2", rec.iter_blocks(ACC.key, 999))
    assert rec2.manifest["streams"][ACC.key] == rec.manifest["streams"][ACC.key]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cuts=st.lists(st.integers(1, 799), max_size=12),
    lost=st.dictionaries(st.integers(1, 799), st.integers(1, 5), max_size=4),
    block_samples=st.integers(1, 900),
)
def test_chunked_writing_equals_writing_at_once(tmp_path_factory, cuts, lost, block_samples):
    base = tmp_path_factory.mktemp("h")
    blocks, t, d = _blocks_with_gaps(ACC, 800, cuts, lost)
    whole_t = np.concatenate([b.t_ns for b in blocks])
    assert np.array_equal(whole_t, t)
    rec = write_recording(base / "chunked", blocks)
    # "at once": the fewest blocks that can carry the same gaps (one per gap-free run)
    coarse, _, _ = _blocks_with_gaps(ACC, 800, [], lost)
    once = write_recording(base / "once", coarse)
    assert once.manifest["streams"] == rec.manifest["streams"]
    np.testing.assert_array_equal(once.read(ACC.key)[1], rec.read(ACC.key)[1])
    rt, rd = rec.read(ACC.key)
    np.testing.assert_array_equal(rt, t)
    np.testing.assert_array_equal(rd, d)
    replay = list(rec.iter_blocks(ACC.key, block_samples))
    assert [(b.first_index, b.gaps) for b in replay if b.gaps] == [
        (b.first_index, b.gaps) for b in blocks if b.gaps
    ]
    assert replay[-1].end_index == blocks[-1].end_index
    np.testing.assert_array_equal(np.concatenate([b.data for b in replay]), d)


def test_missing_index_jump_becomes_explicit_gap(tmp_path):
    t, d = _signal(ACC, 100)
    with RecordingWriter(tmp_path / "r", start_ns=T0, fsync=False) as w:
        w.write(SampleBlock(ACC, t[:50], d[:50], 0))
        w.write(SampleBlock(ACC, t[55:], d[55:], 55))  # 5 lost, no gap given
    (g,) = open_recording(tmp_path / "r").gaps(ACC.key)
    assert g.n_missing == 5 and g.cause == "unknown" and g.end_ns == int(t[55])


# --------------------------------------------------------------------------- refusals


def test_refuses_existing_non_empty_folder(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "keep.txt").write_text("precious")
    with pytest.raises(RecordingError, match="not empty"):
        RecordingWriter(tmp_path / "r")
    assert (tmp_path / "r" / "keep.txt").read_text() == "precious"
    t, d = _signal(ACC, 10)
    write_recording(tmp_path / "done", [SampleBlock(ACC, t, d)])
    with pytest.raises(RecordingError, match="refusing to overwrite"):
        write_recording(tmp_path / "done", [SampleBlock(ACC, t, d)])
    RecordingWriter(tmp_path / "empty-ok" / "nested", fsync=False).close()


def test_refuses_inconsistent_blocks(tmp_path):
    t, d = _signal(ACC, 100)
    w = RecordingWriter(tmp_path / "r", fsync=False)
    w.write(SampleBlock(ACC, t[50:], d[50:], 50))
    with pytest.raises(RecordingError, match="goes back"):
        w.write(SampleBlock(ACC, t[:10], d[:10], 100))
    with pytest.raises(RecordingError, match="first_index 10 is below the expected 100"):
        w.write(SampleBlock(ACC, t[99:], d[99:], 10))
    other = StreamSpec("polar-h10", "acc", ("x", "y", "z"), 100.0, "mG")
    with pytest.raises(RecordingError, match="one key, one spec"):
        w.add_stream(other)
    with pytest.raises(RecordingError, match="unknown stream 'nope'"):
        w.add_gap("nope", Gap(0, 1, 0))
    w.close()
    with pytest.raises(RecordingError, match="already closed"):
        w.write(SampleBlock(ACC, t[99:], d[99:], 100))


def test_open_refuses_non_recordings_and_corrupt_manifest(tmp_path):
    with pytest.raises(RecordingError, match="does not exist"):
        open_recording(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "notes.txt").write_text("x")
    with pytest.raises(RecordingError, match="not a spasmwatch recording"):
        open_recording(tmp_path / "plain")
    t, d = _signal(ACC, 10)
    write_recording(tmp_path / "r", [SampleBlock(ACC, t, d)])
    manifest = tmp_path / "r" / "manifest.json"
    good = manifest.read_text()
    manifest.write_text(good[: len(good) // 2])
    with pytest.raises(RecordingError, match="corrupt") as exc:
        open_recording(tmp_path / "r")
    assert exc.value.reason == "bad_manifest"
    assert (tmp_path / "r" / "polar-h10.acc.parquet").exists()  # nothing deleted
    manifest.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(RecordingError, match="not a spasmwatch recording manifest"):
        open_recording(tmp_path / "r")
    m = json.loads(good)
    del m["streams"]
    manifest.write_text(json.dumps(m))
    with pytest.raises(RecordingError, match="not a valid spasmwatch manifest"):
        open_recording(tmp_path / "r")
    m = json.loads(good)
    m["format_version"] = 99
    manifest.write_text(json.dumps(m))
    with pytest.raises(RecordingError, match="upgrade spasmwatch"):
        open_recording(tmp_path / "r")


def test_live_recording_is_not_recovered_under_the_writer(tmp_path):
    t, d = _signal(ACC, 100)
    w = RecordingWriter(tmp_path / "r", fsync=False)
    w.write(SampleBlock(ACC, t, d))
    w.flush()
    with pytest.raises(RecordingError, match="still being written") as exc:
        open_recording(tmp_path / "r")
    assert exc.value.reason == "in_progress"
    assert w.close().read(ACC.key)[0].shape == (100,)


# --------------------------------------------------------------------------- crash recovery

_CRASH_WRITER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from spasmwatch.core import Gap, SampleBlock, StreamSpec
    from spasmwatch.store import RecordingWriter

    acc = StreamSpec("polar-h10", "acc", ("x", "y", "z"), 200.0, "mG")
    emg = StreamSpec("myo", "emg", ("ch1", "ch2"), 200.0, "counts")
    w = RecordingWriter(sys.argv[1], flush_interval_s=0.1, devices=[{"id": "polar-h10"}])
    i = 0
    t0 = time.time_ns()
    while True:  # runs until killed
        idx = np.arange(i, i + 10)
        t = t0 + idx * 5_000_000
        gaps = (Gap(int(t[0]) - 5_000_000, int(t[0]), 3, "packet_loss"),) if i == 200 else ()
        w.write(SampleBlock(acc, t, np.stack([idx, -idx, 2 * idx], 1).astype(np.float32),
                            first_index=i + (3 if i >= 200 else 0), gaps=gaps))
        w.write(SampleBlock(emg, t, np.stack([idx, idx], 1).astype(np.float32), first_index=i))
        i += 10
        time.sleep(0.01)
    """
)


def _journal(path: Path) -> list[dict]:
    out = []
    for line in (path / "journal.jsonl").read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return out


def test_sigkill_loses_at_most_the_last_flush_interval(tmp_path):
    path = tmp_path / "crashed"
    script = tmp_path / "writer.py"
    script.write_text(_CRASH_WRITER)
    proc = subprocess.Popen([sys.executable, str(script), str(path)])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if path.joinpath("journal.jsonl").exists():
                flushes = [e for e in _journal(path) if e["type"] == "flush"]
                if len(flushes) >= 8 and flushes[-1]["rows"].get("polar-h10.acc", 0) > 300:
                    break
            time.sleep(0.05)
        else:
            pytest.fail("the writer subprocess did not flush in time")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert (path / "segments").is_dir() and not (path / "manifest.json").exists()
    flushed = [e for e in _journal(path) if e["type"] == "flush"][-1]["rows"]

    with pytest.raises(RecordingError, match="needs recovery"):
        open_recording(path, recover=False)
    rec = open_recording(path)
    assert rec.recovered is True and rec.manifest["recovered"] is True
    assert rec.manifest["devices"] == [{"id": "polar-h10"}]
    for key in ("polar-h10.acc", "myo.emg"):
        t, d = rec.read(key)
        assert len(t) >= flushed[key] > 0
        np.testing.assert_array_equal(d[:, 0], np.arange(len(t), dtype=np.float32))
        assert np.all(np.diff(t) > 0)
    assert [g.n_missing for g in rec.gaps("polar-h10.acc")] == [3]
    replay = list(rec.iter_blocks("polar-h10.acc", 64))
    assert replay[-1].end_index == rec.n_samples("polar-h10.acc") + 3
    assert not (path / "segments").exists()
    # opening again is a plain open of the compacted recording
    again = open_recording(path)
    assert again.manifest == rec.manifest


def _crashed_copy(tmp_path: Path, n_flushes: int = 6) -> tuple[Path, int]:
    """A recording abandoned after n flushes of 100 rows each (as after a crash)."""
    t, d = _signal(ACC, 100 * n_flushes)
    w = RecordingWriter(tmp_path / "live", start_ns=T0, fsync=False, max_segment_batches=4)
    for k in range(n_flushes):
        w.write(SampleBlock(ACC, t[k * 100 : (k + 1) * 100], d[k * 100 : (k + 1) * 100], k * 100))
        w.flush()
    w.abort()
    return tmp_path / "live", 100 * n_flushes


def test_truncated_last_segment_is_tolerated(tmp_path):
    path, n = _crashed_copy(tmp_path)
    segs = sorted((path / "segments" / ACC.key).glob("*.arrows"))
    assert len(segs) == 2  # rotated after 4 batches
    last = segs[-1]
    raw = last.read_bytes()
    last.write_bytes(raw[: len(raw) - 700])  # cut into the last batch (and the end marker)
    rec = open_recording(path)
    t, d = rec.read(ACC.key)
    assert len(t) == n - 100  # only the torn batch is lost
    np.testing.assert_array_equal(d, _signal(ACC, n)[1][: n - 100])


def test_segment_torn_inside_its_schema_and_journal_torn_line(tmp_path):
    path, _n = _crashed_copy(tmp_path)
    segs = sorted((path / "segments" / ACC.key).glob("*.arrows"))
    segs[-1].write_bytes(segs[-1].read_bytes()[:20])
    with open(path / "journal.jsonl", "a") as f:
        f.write('{"type": "gap", "key": "polar-h')  # torn line
    rec = open_recording(path)
    assert rec.n_samples(ACC.key) == 400


def test_recovery_without_journal_uses_segment_schema(tmp_path):
    path, n = _crashed_copy(tmp_path)
    (path / "journal.jsonl").unlink()
    rec = open_recording(path)
    assert rec.specs == {ACC.key: ACC}
    assert rec.n_samples(ACC.key) == n


def test_interrupted_recovery_is_idempotent(tmp_path):
    path, n = _crashed_copy(tmp_path)
    # a previous recovery died after writing part of a Parquet temp file / a stale file
    (path / f"{ACC.key}.parquet.tmp").write_bytes(b"PAR1 half written")
    (path / f"{ACC.key}.parquet").write_bytes(b"stale")
    rec = open_recording(path)
    assert rec.n_samples(ACC.key) == n
    np.testing.assert_array_equal(rec.read(ACC.key)[1], _signal(ACC, n)[1])
    # died after the manifest but before removing segments: nothing is redone or lost
    path2, _ = _crashed_copy(tmp_path / "b")
    saved = path2.parent / "seg-copy"
    shutil.copytree(path2 / "segments", saved)
    open_recording(path2)
    shutil.copytree(saved, path2 / "segments")
    rec2 = open_recording(path2)
    assert rec2.n_samples(ACC.key) == n and not (path2 / "segments").exists()


def test_metadata_must_be_json_ready_and_numpy_scalars_are_fine(tmp_path):
    with pytest.raises(RecordingError, match="JSON-ready"):
        RecordingWriter(tmp_path / "r", meta={"x": object()}, fsync=False)
    assert not (tmp_path / "r").exists()  # nothing left behind
    rec = RecordingWriter(tmp_path / "r", meta={"n": np.int64(3), "v": np.float32(0.5)}).close()
    assert rec.manifest["meta"] == {"n": 3, "v": 0.5}


# --------------------------------------------------------------------------- replay index


@settings(max_examples=200, deadline=None)
@given(
    first_index=st.integers(0, 10**6),
    gaps=st.lists(st.tuples(st.integers(0, 500), st.integers(0, 50)), max_size=40),
    rows=st.lists(st.integers(0, 600), min_size=1, max_size=50),
)
def test_row_index_equals_the_definition(first_index, gaps, rows):
    # gaps in any order, several on one row, rows 0 and n_missing 0 included
    pairs = [(r, Gap(T0 + r, T0 + r + 1, m, "packet_loss")) for r, m in gaps]
    ref = _index_of_rows(first_index, np.array(rows), pairs)
    index = _RowIndex(first_index, pairs)
    np.testing.assert_array_equal(index(np.array(rows)), ref)
    assert [index.at(r) for r in rows] == ref.tolist()


def test_replay_of_10000_gaps_reproduces_every_block(tmp_path):
    # 10,000 losses of 1-3 samples between runs of 4 kept samples: the replay starts a
    # block at each gap with the recorded first_index (the old replay summed all gaps per
    # block, quadratic in their number; benchmarks/bench_detect.py times both)
    n_gaps, run = 10_000, 4
    lost = np.random.default_rng(1).integers(1, 4, n_gaps)
    starts = np.concatenate([[0], np.cumsum(run + lost)])  # first index of each kept run
    t, d = _signal(ACC, int(starts[-1]) + run)
    blocks = [SampleBlock(ACC, t[:run], d[:run], 0)]
    for s, k in zip(starts[1:].tolist(), lost.tolist(), strict=True):
        gap = Gap(int(t[s - k]), int(t[s]), k, "packet_loss")
        blocks.append(SampleBlock(ACC, t[s : s + run], d[s : s + run], s, (gap,)))
    rec = write_recording(tmp_path / "r", blocks)
    assert len(rec.gaps(ACC.key)) == n_gaps
    replay = list(rec.iter_blocks(ACC.key, block_samples=3))
    with_gaps = [(b.first_index, b.gaps) for b in replay if b.gaps]
    assert with_gaps == [(b.first_index, b.gaps) for b in blocks[1:]]
    assert len(replay) == 2 * (n_gaps + 1)  # each run of 4 in blocks of 3 and 1
    for prev, nxt in itertools.pairwise(replay):
        assert nxt.first_index == prev.end_index + sum(g.n_missing for g in nxt.gaps)
    assert replay[-1].end_index == blocks[-1].end_index
    np.testing.assert_array_equal(np.concatenate([b.t_ns for b in replay]), rec.read(ACC.key)[0])
    np.testing.assert_array_equal(np.concatenate([b.data for b in replay]), rec.read(ACC.key)[1])


# --------------------------------------------------------------------------- min/max pyramid

from spasmwatch.store._pyramid import (  # noqa: E402
    MIN_CELLS_PER_BUCKET,
    PYRAMID_MIN_SAMPLES,
    CellBuilder,
    cell_ns_for,
    cells_to_buckets,
    minmax_buckets,
    minmax_cells,
    sidecar_path,
)


def _gappy(seed: int, n: int, n_gaps: int) -> tuple[np.ndarray, np.ndarray]:
    """Increasing int times (1-3 ns apart, some long gaps) and 2-channel data."""
    rng = np.random.default_rng(seed)
    dt = rng.integers(1, 4, n)
    if n:
        dt[rng.integers(0, n, n_gaps)] += rng.integers(20, 200, n_gaps)
    t = np.cumsum(dt).astype(np.int64)
    return t, rng.normal(size=(n, 2)).astype(np.float32)


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(0, 600),
    n_gaps=st.integers(0, 6),
    cell_ns=st.integers(1, 12),
    k0=st.integers(0, 40),
    m=st.integers(1, 8),
    buckets=st.integers(1, 40),
)
def test_pyramid_equals_raw_minmax_on_aligned_buckets(seed, n, n_gaps, cell_ns, k0, m, buckets):
    t, x = _gappy(seed, n, n_gaps)
    start = k0 * cell_ns
    end = start + buckets * m * cell_ns  # every edge is a multiple of cell_ns
    edges, lo, hi, counts = minmax_buckets(t, x, start, end, buckets)
    assert np.all(edges % cell_ns == 0)
    plo, phi, pcounts = cells_to_buckets(minmax_cells(t, x, cell_ns), edges)
    np.testing.assert_array_equal(plo, lo)  # NaN (gap) where raw is NaN
    np.testing.assert_array_equal(phi, hi)
    np.testing.assert_array_equal(pcounts, counts)


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(0, 600),
    n_gaps=st.integers(0, 6),
    cell_ns=st.integers(1, 12),
    start=st.integers(-20, 300),
    span=st.integers(1, 900),
    buckets=st.integers(1, 40),
)
def test_pyramid_is_raw_minmax_with_edges_moved_to_the_next_cell(
    seed, n, n_gaps, cell_ns, start, span, buckets
):
    t, x = _gappy(seed, n, n_gaps)
    edges, *_ = minmax_buckets(t, x, start, start + span, buckets)
    cells = minmax_cells(t, x, cell_ns)
    lo, hi, counts = cells_to_buckets(cells, edges)
    # each edge moves forward to the first sample of the next cell (inf: none left)
    k = np.searchsorted(cells.t_start_ns, edges, side="left")
    ends = np.r_[cells.t_start_ns, np.iinfo(np.int64).max]
    snapped = ends[k]
    for e, s in zip(edges, snapped, strict=True):
        between = t[(t >= e) & (t < s)]
        # the move skips only samples of the one cell that holds the edge
        assert np.all(between // cell_ns == e // cell_ns)
    for b in range(buckets):
        sel = (t >= snapped[b]) & (t < snapped[b + 1])
        assert counts[b] == sel.sum()
        if sel.any():
            np.testing.assert_array_equal(lo[b], x[sel].min(axis=0))
            np.testing.assert_array_equal(hi[b], x[sel].max(axis=0))
        else:
            assert np.isnan(lo[b]).all() and np.isnan(hi[b]).all()


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(0, 500),
    cell_ns=st.integers(1, 12),
    cuts=st.lists(st.integers(0, 500), max_size=8),
)
def test_cell_builder_chunked_equals_whole(seed, n, cell_ns, cuts):
    t, x = _gappy(seed, n, 3)
    whole = minmax_cells(t, x, cell_ns)
    b = CellBuilder(cell_ns, 2)
    for a, z in itertools.pairwise([0, *sorted(c for c in cuts if c <= n), n]):
        b.update(t[a:z], x[a:z])
    got = b.finish()
    for f in ("t_start_ns", "t_end_ns", "counts", "mins", "maxs"):
        np.testing.assert_array_equal(getattr(got, f), getattr(whole, f))
    b.reset()
    assert b.finish().n_cells == 0


def _emg_recording(path: Path, n: int = 30_000) -> tuple[Recording, np.ndarray, np.ndarray]:
    blocks, t, d = _blocks_with_gaps(EMG, n, [7_000, 15_000], {9_000: 2_000, 20_000: 37})
    return write_recording(path, blocks), t, d


def _aligned_window(rec: Recording, key: str, cells_per_bucket: int, buckets: int):
    cell = cell_ns_for(rec.specs[key].rate_hz)
    a = (rec.start_ns // cell) * cell
    return a, a + buckets * cells_per_bucket * cell


def test_sidecar_written_at_close_answers_wide_buckets(tmp_path):
    rec, t, d = _emg_recording(tmp_path / "r")
    side = sidecar_path(rec.parquet_path(EMG.key))
    assert side.name == "myo.emg.minmax.parquet" and side.is_file()
    a, b = _aligned_window(rec, EMG.key, MIN_CELLS_PER_BUCKET, 120)
    edges, lo, hi, counts = rec.minmax_buckets(EMG.key, a, b, 120)
    raw = minmax_buckets(t, d, a, b, 120)
    for got, want in zip((edges, lo, hi, counts), raw, strict=True):
        np.testing.assert_array_equal(got, want)
    assert np.isnan(lo).any(), "the 2000-sample gap must show as empty buckets"
    t_b, mn, _ = rec.minmax(EMG.key, a, b, 120)
    np.testing.assert_array_equal(t_b, edges[:-1])
    np.testing.assert_array_equal(mn, lo)
    # wide buckets need only the sidecar; deep zoom needs the samples
    rec.parquet_path(EMG.key).unlink()
    np.testing.assert_array_equal(rec.minmax(EMG.key, a, b, 120)[2], hi)
    with pytest.raises(RecordingError, match="cannot read stream file"):
        rec.minmax(EMG.key, a, a + 10**9, 100)


def test_deep_zoom_reads_raw_samples(tmp_path):
    rec, t, d = _emg_recording(tmp_path / "r")
    a, b = int(t[100]) + 1, int(t[900]) + 7  # 5 ms buckets: far below a pyramid cell
    got = rec.minmax_buckets(EMG.key, a, b, 400)
    for g, w in zip(got, minmax_buckets(t, d, a, b, 400), strict=True):
        np.testing.assert_array_equal(g, w)


def test_missing_or_stale_sidecar_is_built_lazily_and_cached(tmp_path):
    rec, *_ = _emg_recording(tmp_path / "r")
    side = sidecar_path(rec.parquet_path(EMG.key))
    a, b = _aligned_window(rec, EMG.key, 6, 50)
    want = rec.minmax_buckets(EMG.key, a, b, 50)
    good = side.read_bytes()
    side.unlink()
    again = open_recording(tmp_path / "r")
    got = again.minmax_buckets(EMG.key, a, b, 50)
    assert side.is_file() and side.read_bytes() == good
    assert not list((tmp_path / "r").glob("*.tmp"))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    # a sidecar of other samples (here: another recording's) is not trusted
    other, *_ = _emg_recording(tmp_path / "o", n=12_000)
    shutil.copy(sidecar_path(other.parquet_path(EMG.key)), side)
    got = open_recording(tmp_path / "r").minmax_buckets(EMG.key, a, b, 50)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    assert side.read_bytes() == good


def test_short_streams_get_no_sidecar_and_still_decimate(tmp_path):
    n = PYRAMID_MIN_SAMPLES - 1
    t, d = _signal(ACC, n)
    rec = write_recording(tmp_path / "r", [SampleBlock(ACC, t, d)])
    assert not sidecar_path(rec.parquet_path(ACC.key)).exists()
    got = rec.minmax_buckets(ACC.key, rec.start_ns, rec.end_ns, 4)
    for g, w in zip(got, minmax_buckets(t, d, rec.start_ns, rec.end_ns, 4), strict=True):
        np.testing.assert_array_equal(g, w)
    assert not sidecar_path(rec.parquet_path(ACC.key)).exists()


def test_recovery_builds_the_sidecar(tmp_path):
    t, d = _signal(ACC, 5_000)
    w = RecordingWriter(tmp_path / "live", start_ns=T0, fsync=False)
    for k in range(0, 5_000, 500):
        w.write(SampleBlock(ACC, t[k : k + 500], d[k : k + 500], k))
        w.flush()
    w.abort()
    assert not list((tmp_path / "live").glob("*.minmax.parquet"))
    rec = open_recording(tmp_path / "live")
    assert rec.recovered and sidecar_path(rec.parquet_path(ACC.key)).is_file()
    a, b = _aligned_window(rec, ACC.key, 5, 10)
    got = rec.minmax_buckets(ACC.key, a, b, 10)
    for g, w_ in zip(got, minmax_buckets(t, d, a, b, 10), strict=True):
        np.testing.assert_array_equal(g, w_)
