"""Memory-related properties of the recording path: numpy <-> Arrow conversions that never
import pandas (pyarrow's own ``pa.array`` / ``to_numpy`` do, ~45 MB of resident memory in the
monitoring process), and compaction of many small segments into the same Parquet content as
writing everything at once."""

from __future__ import annotations

import importlib.util
import itertools
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spasmwatch.core import Gap, SampleBlock, StreamSpec
from spasmwatch.errors import ConfigError
from spasmwatch.store import RecordingWriter, write_recording
from spasmwatch.store._pyramid import (
    arrow_array,
    cell_ns_for,
    minmax_cells,
    numpy_column,
    read_sidecar,
    sidecar_path,
)
from spasmwatch.store._recording import ROW_GROUP_ROWS

T0 = 1_700_000_000_000_000_000
EMG = StreamSpec("myo", "emg", tuple(f"ch{i}" for i in range(1, 9)), 200.0, "counts")
ACC = StreamSpec("polar-h10", "acc", ("x", "y", "z"), 200.0, "mG")


# --------------------------------------------------------------------------- conversions


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 300),
    cols=st.integers(1, 5),
    j=st.integers(0, 4),
    cuts=st.lists(st.integers(0, 300), max_size=4),
)
def test_arrow_array_and_numpy_column_round_trip(n, cols, j, cuts):
    rng = np.random.default_rng(n)
    block = rng.normal(0, 100, (n, cols)).astype(np.float32)
    col = block[:, j % cols]  # strided view, as the writer's per-channel columns
    a = arrow_array(col, pa.float32())
    assert a.type == pa.float32() and len(a) == n and a.null_count == 0
    assert a.equals(pa.array(np.ascontiguousarray(col), pa.float32()))
    np.testing.assert_array_equal(numpy_column(a), col)
    # a column in several chunks (row groups read together) and a sliced one
    bounds = sorted({0, n, *(min(c, n) for c in cuts)})
    chunked = pa.chunked_array(
        [a.slice(x, y - x) for x, y in itertools.pairwise(bounds)], pa.float32()
    )
    np.testing.assert_array_equal(numpy_column(chunked), col)
    if n > 3:
        np.testing.assert_array_equal(numpy_column(a.slice(2, n - 3)), col[2 : n - 1])
    t = T0 + np.arange(n, dtype=np.int64) * 5_000_000
    np.testing.assert_array_equal(numpy_column(arrow_array(t, pa.int64())), t)


def test_conversions_refuse_what_they_cannot_store():
    with pytest.raises(ConfigError, match="1-D"):
        arrow_array(np.zeros((2, 2), np.float32), pa.float32())
    with pytest.raises(ConfigError, match="not a stored sample type"):
        arrow_array(np.zeros(2), pa.float64())
    with pytest.raises(ConfigError, match="nulls"):
        numpy_column(pa.array([1.0, None], pa.float32()))
    assert numpy_column(pa.chunked_array([], pa.int64())).dtype == np.int64


def test_contiguous_input_is_not_copied():
    t = np.arange(10, dtype=np.int64)
    a = arrow_array(t, pa.int64())
    assert a.buffers()[1].address == t.ctypes.data
    assert np.shares_memory(numpy_column(a), t)


_NO_PANDAS = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import numpy as np
    from spasmwatch.core import SampleBlock, StreamSpec
    from spasmwatch.store import RecordingWriter, open_recording

    spec = StreamSpec("myo", "emg", tuple(f"ch{i}" for i in range(8)), 200.0, "counts")
    path = Path(sys.argv[1])
    now = [0]
    w = RecordingWriter(path, start_ns=0, clock=lambda: now[0], fsync=False)
    n = 5000
    t = np.arange(n, dtype=np.int64) * 5_000_000
    d = np.random.default_rng(0).normal(0, 50, (n, 8)).astype(np.float32)
    for i in range(0, n, 500):
        w.write(SampleBlock(spec, t[i : i + 500], d[i : i + 500], first_index=i))
        now[0] += 10**9
    rec = w.close()
    rec = open_recording(path)
    rt, rd = rec.read(spec.key, int(t[100]), int(t[4000]))
    assert np.array_equal(rd, d[100:4000])
    rec.minmax(spec.key, int(t[0]), int(t[-1]), 10)
    sum(b.n_samples for b in rec.iter_blocks(spec.key, 700))
    print("pandas" in sys.modules)
    """
)


@pytest.mark.skipif(importlib.util.find_spec("pandas") is None, reason="pandas not installed")
def test_record_compact_and_read_never_import_pandas(tmp_path):
    script = tmp_path / "rec.py"
    script.write_text(_NO_PANDAS)
    out = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "r")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert out.stdout.strip().splitlines()[-1] == "False", out.stdout + out.stderr


# --------------------------------------------------------------------------- compaction


def _blocks(spec: StreamSpec, n: int, seed: int) -> list[SampleBlock]:
    """Blocks of random sizes with a few lost samples (gaps) in between."""
    rng = np.random.default_rng(seed)
    t = T0 + np.arange(n, dtype=np.int64) * int(spec.period_ns)
    d = np.round(rng.normal(0, 80, (n, spec.n_channels))).astype(np.float32)
    out, i, k = [], 0, 0
    while i < n:
        m = int(rng.integers(1, 2_500))
        gaps = ()
        if k % 17 == 16 and i + 5 < n:  # drop 3 samples, say so
            gaps = (Gap(int(t[i]), int(t[i + 3]), 3, "packet_loss"),)
            i += 3
        out.append(SampleBlock(spec, t[i : i + m], d[i : i + m], first_index=i, gaps=gaps))
        i += m
        k += 1
    return out


def test_compaction_of_many_segments_equals_writing_at_once(tmp_path):
    """A live recording flushed in hundreds of small batches over many segment files
    compacts to the same Parquet content, row groups and min/max sidecar as one offline
    write of the same blocks."""
    n_emg, n_acc = 2 * ROW_GROUP_ROWS + 4_321, ROW_GROUP_ROWS // 2 + 17
    emg, acc = _blocks(EMG, n_emg, 1), _blocks(ACC, n_acc, 2)
    now = [T0]
    w = RecordingWriter(
        tmp_path / "live",
        start_ns=T0,
        clock=lambda: now[0],
        fsync=False,
        max_segment_batches=3,
    )
    order = sorted([*emg, *acc], key=lambda b: int(b.t_ns[0]) if b.n_samples else 0)
    for b in order:
        w.write(b)
        now[0] += 400_000_000  # a flush every 2-3 blocks
    n_segments = len(list((tmp_path / "live" / "segments" / EMG.key).glob("*.arrows")))
    live = w.close()
    assert n_segments > 10
    once = write_recording(tmp_path / "once", [*emg, *acc])
    for spec in (EMG, ACC):
        a = pq.ParquetFile(live.parquet_path(spec.key))
        b = pq.ParquetFile(once.parquet_path(spec.key))
        assert a.schema_arrow.equals(b.schema_arrow, check_metadata=True)
        sizes = [a.metadata.row_group(i).num_rows for i in range(a.metadata.num_row_groups)]
        assert sizes == [b.metadata.row_group(i).num_rows for i in range(b.metadata.num_row_groups)]
        assert all(s == ROW_GROUP_ROWS for s in sizes[:-1])
        assert a.read().equals(b.read())
        assert live.gaps(spec.key) == once.gaps(spec.key)
        assert live.n_samples(spec.key) == once.n_samples(spec.key)
        # the sidecar built while compacting equals the batch form over all stored samples
        t, d = live.read(spec.key)
        want = minmax_cells(t, d, cell_ns_for(spec.rate_hz))
        side = sidecar_path(live.parquet_path(spec.key))
        got = read_sidecar(
            side, spec.channels, len(t), cell_ns_for(spec.rate_hz), 0, int(t[-1]) + 1
        )
        assert got is not None and got.n_cells == want.n_cells
        for f in ("t_start_ns", "t_end_ns", "counts", "mins", "maxs"):
            np.testing.assert_array_equal(getattr(got, f), getattr(want, f))
        assert side.read_bytes() == sidecar_path(once.parquet_path(spec.key)).read_bytes()
    assert live.n_samples(EMG.key) == n_emg - 3 * len(live.gaps(EMG.key))
