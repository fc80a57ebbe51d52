"""Min/max decimation for display, and the per-stream min/max pyramid that makes it cheap.

Drawing the minimum and maximum of each time bucket as a vertical line shows every spike
that plain subsampling would hide. Over hours of EMG the raw read dominates, so each stream
gets a sidecar ``<key>.minmax.parquet``: the samples grouped into *cells* of
:data:`PYRAMID_LEVEL` sample periods of time (cell ``k`` holds the samples with
``t_ns // cell_ns == k``; empty cells are not stored), with per cell the first and last
sample time, the sample count, and per channel the minimum and maximum. A display bucket
then reduces the cells whose *first sample* lies in it instead of the samples.

Exactness: a bucket's result equals the raw min/max over ``[e0', e1')`` where each bucket
edge is moved forward to the first sample of the next cell, i.e. by less than one cell
(``cell_ns``) in time. Where bucket edges fall between cells (for instance on multiples of
``cell_ns``) the result equals :func:`minmax_buckets` on the raw samples exactly, counts
included. Empty buckets (gaps) stay NaN.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from spasmwatch.errors import ConfigError

__all__ = [
    "MAX_BUCKETS",
    "MIN_CELLS_PER_BUCKET",
    "PYRAMID_LEVEL",
    "PYRAMID_MIN_SAMPLES",
    "CellBuilder",
    "Cells",
    "bucket_edges",
    "cells_to_buckets",
    "minmax_buckets",
    "minmax_cells",
]

#: Upper bound on ``buckets`` accepted from a request.
MAX_BUCKETS = 20_000
#: Sample periods per pyramid cell.
PYRAMID_LEVEL = 64
#: The pyramid answers only when a bucket spans at least this many cells, so its edge
#: rounding (< 1 cell) stays under a quarter of a bucket; narrower buckets read raw samples.
MIN_CELLS_PER_BUCKET = 4
#: Streams with fewer stored samples get no sidecar: the raw read is as cheap.
PYRAMID_MIN_SAMPLES = 64 * PYRAMID_LEVEL
SIDECAR_SUFFIX = ".minmax.parquet"
_META_KEY = b"spasmwatch.minmax"
_SIDECAR_FORMAT = "spasmwatch-minmax"
_SIDECAR_VERSION = 1
_ROW_GROUP_CELLS = 65_536


# ------------------------------------------------- numpy <-> Arrow without pandas
#
# pyarrow's ``pa.array(ndarray)`` and ``Array.to_numpy()`` import pandas when it is installed
# (~45 MB of resident memory, for nothing here). Primitive columns without nulls convert
# just as well through the buffer and DLPack protocols, which never touch pandas.


_NUMPY_DTYPES = {pa.int64(): np.dtype(np.int64), pa.float32(): np.dtype(np.float32)}


def _numpy_dtype(type_: pa.DataType) -> np.dtype:
    try:
        return _NUMPY_DTYPES[type_]
    except KeyError:
        raise ConfigError(
            f"Arrow type {type_} is not a stored sample type (int64 or float32)"
        ) from None


def arrow_array(values: np.ndarray, type_: pa.DataType) -> pa.Array:
    """A null-free Arrow array of ``type_`` (int64 or float32) from a 1-D numpy array.

    Zero-copy when ``values`` is already contiguous and of the right dtype (the Arrow
    array then keeps it alive), else one contiguous copy, as ``pa.array`` makes.
    """
    arr = np.ascontiguousarray(values, dtype=_numpy_dtype(type_))
    if arr.ndim != 1:
        raise ConfigError(f"arrow_array needs a 1-D array (got shape {arr.shape})")
    return pa.Array.from_buffers(type_, arr.shape[0], [None, pa.py_buffer(arr)])


def numpy_column(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A null-free primitive Arrow column as a (read-only) numpy array, shape ``(n,)``.

    Zero-copy for a plain array or a single-chunk column; several chunks are joined once.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    if column.null_count:
        raise ConfigError(f"column of {column.type} has {column.null_count} nulls; none expected")
    if len(column) == 0:
        return np.empty(0, dtype=_numpy_dtype(column.type))
    return np.from_dlpack(column)


def _check_window(start_ns: int, end_ns: int, buckets: int) -> None:
    if isinstance(buckets, bool) or not isinstance(buckets, int | np.integer):
        raise ConfigError(f"buckets must be an int (got {buckets!r})")
    if not 1 <= buckets <= MAX_BUCKETS:
        raise ConfigError(f"buckets must be between 1 and {MAX_BUCKETS} (got {buckets})")
    if end_ns <= start_ns:
        raise ConfigError(f"end ({end_ns}) must be after start ({start_ns})")


def bucket_edges(start_ns: int, end_ns: int, buckets: int) -> np.ndarray:
    """Edges of ``buckets`` equal-width buckets over ``[start_ns, end_ns)``.

    Returns
    -------
    numpy.ndarray
        int64, shape ``(buckets + 1,)``; ``edges[0] == start_ns``, ``edges[-1] == end_ns``.
    """
    _check_window(start_ns, end_ns, buckets)
    span = end_ns - start_ns
    edges = start_ns + (np.arange(buckets + 1, dtype=np.float64) * (span / buckets)).astype(
        np.int64
    )
    edges[-1] = end_ns
    return edges


def _reduce(
    key_t: np.ndarray,
    lo_in: np.ndarray,
    hi_in: np.ndarray,
    n_in: np.ndarray,
    edges: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Items at times ``key_t`` (sorted, all inside the edges) -> per-bucket min/max/count."""
    buckets = edges.shape[0] - 1
    n_ch = lo_in.shape[1]
    lo = np.full((buckets, n_ch), np.nan, dtype=np.float32)
    hi = np.full((buckets, n_ch), np.nan, dtype=np.float32)
    counts = np.zeros(buckets, dtype=np.int64)
    if key_t.shape[0] == 0:
        return lo, hi, counts
    # the edges are sorted, so searchsorted is exact even where the float bucket width
    # does not divide the span evenly.
    idx = np.searchsorted(edges, key_t, side="right") - 1
    np.clip(idx, 0, buckets - 1, out=idx)
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    which = idx[starts]
    lo[which] = np.fmin.reduceat(lo_in, starts, axis=0)
    hi[which] = np.fmax.reduceat(hi_in, starts, axis=0)
    counts[which] = np.add.reduceat(n_in, starts)
    return lo, hi, counts


def minmax_buckets(
    t_ns: np.ndarray,
    data: np.ndarray,
    start_ns: int,
    end_ns: int,
    buckets: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-bucket minimum and maximum of each channel over ``[start_ns, end_ns)``.

    Parameters
    ----------
    t_ns : numpy.ndarray
        Sample times, int64 UTC ns, shape ``(n_samples,)``, non-decreasing.
    data : numpy.ndarray
        Samples, shape ``(n_samples, n_channels)``.
    start_ns, end_ns : int
        Window, UTC ns; ``end_ns > start_ns``. Samples outside are ignored.
    buckets : int
        Number of equal-width time buckets, 1 to :data:`MAX_BUCKETS`.

    Returns
    -------
    edges_ns : numpy.ndarray
        int64, shape ``(buckets + 1,)``: bucket ``k`` spans ``[edges_ns[k], edges_ns[k+1])``.
    lo, hi : numpy.ndarray
        float32, shape ``(buckets, n_channels)``: minimum and maximum; NaN in buckets
        without samples (a gap or beyond the data).
    counts : numpy.ndarray
        int64, shape ``(buckets,)``: number of samples per bucket.
    """
    edges = bucket_edges(start_ns, end_ns, buckets)
    t = np.asarray(t_ns, dtype=np.int64)
    x = np.asarray(data)
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    i0, i1 = np.searchsorted(t, [start_ns, end_ns], side="left")
    xx = x[i0:i1].astype(np.float32, copy=False)
    ones = np.ones(xx.shape[0], dtype=np.int64)
    lo, hi, counts = _reduce(t[i0:i1], xx, xx, ones, edges)
    return edges, lo, hi, counts


# --------------------------------------------------------------------------- cells


@dataclass(frozen=True)
class Cells:
    """Pyramid cells of one stream, in time order.

    Attributes
    ----------
    cell_ns : int
        Cell width, ns: cell ``k`` holds the samples with ``t_ns // cell_ns == k``.
    t_start_ns, t_end_ns : numpy.ndarray
        int64, shape ``(n_cells,)``: first and last sample time of each (non-empty) cell.
    counts : numpy.ndarray
        int64, shape ``(n_cells,)``: samples per cell.
    mins, maxs : numpy.ndarray
        float32, shape ``(n_cells, n_channels)``.
    """

    cell_ns: int
    t_start_ns: np.ndarray
    t_end_ns: np.ndarray
    counts: np.ndarray
    mins: np.ndarray
    maxs: np.ndarray

    def __post_init__(self) -> None:
        n = self.t_start_ns.shape[0]
        if self.cell_ns < 1:
            raise ConfigError(f"cell_ns must be >= 1 ns (got {self.cell_ns})")
        shapes = (self.t_end_ns.shape, self.counts.shape, self.mins.shape[:1], self.maxs.shape[:1])
        if any(s != (n,) for s in shapes) or self.mins.shape != self.maxs.shape:
            raise ConfigError(f"cell arrays disagree in length ({n} cells expected)")

    @property
    def n_cells(self) -> int:
        """Number of stored cells."""
        return int(self.t_start_ns.shape[0])

    @property
    def n_samples(self) -> int:
        """Samples summarised."""
        return int(self.counts.sum())

    def slice(self, a: int, b: int) -> Cells:
        """Cells ``a`` to ``b - 1``."""
        return Cells(
            self.cell_ns,
            self.t_start_ns[a:b],
            self.t_end_ns[a:b],
            self.counts[a:b],
            self.mins[a:b],
            self.maxs[a:b],
        )

    @staticmethod
    def empty(cell_ns: int, n_channels: int) -> Cells:
        """No cells."""
        z = np.empty(0, np.int64)
        f = np.empty((0, n_channels), np.float32)
        return Cells(cell_ns, z, z.copy(), z.copy(), f, f.copy())

    @staticmethod
    def concat(parts: list[Cells], cell_ns: int, n_channels: int) -> Cells:
        """Join cells of consecutive chunks, merging a cell split across a chunk border."""
        parts = [p for p in parts if p.n_cells]
        if not parts:
            return Cells.empty(cell_ns, n_channels)
        ts = np.concatenate([p.t_start_ns for p in parts])
        te = np.concatenate([p.t_end_ns for p in parts])
        cn = np.concatenate([p.counts for p in parts])
        mn = np.concatenate([p.mins for p in parts])
        mx = np.concatenate([p.maxs for p in parts])
        ids = ts // cell_ns
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        if starts.shape[0] == ids.shape[0]:
            return Cells(cell_ns, ts, te, cn, mn, mx)
        ends = np.r_[starts[1:], ids.shape[0]] - 1
        return Cells(
            cell_ns,
            ts[starts],
            te[ends],
            np.add.reduceat(cn, starts),
            np.fmin.reduceat(mn, starts, axis=0),
            np.fmax.reduceat(mx, starts, axis=0),
        )


def minmax_cells(t_ns: np.ndarray, data: np.ndarray, cell_ns: int) -> Cells:
    """Group samples into pyramid cells of ``cell_ns`` (batch form of :class:`CellBuilder`).

    Parameters
    ----------
    t_ns : numpy.ndarray
        int64 UTC ns, shape ``(n_samples,)``, non-decreasing.
    data : numpy.ndarray
        shape ``(n_samples, n_channels)``.
    cell_ns : int
        Cell width, ns (>= 1).
    """
    t = np.asarray(t_ns, dtype=np.int64)
    x = np.asarray(data, dtype=np.float32)
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    if t.shape[0] == 0:
        return Cells.empty(int(cell_ns), x.shape[1])
    ids = t // int(cell_ns)
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    ends = np.r_[starts[1:], t.shape[0]]
    return Cells(
        int(cell_ns),
        t[starts],
        t[ends - 1],
        (ends - starts).astype(np.int64),
        np.fmin.reduceat(x, starts, axis=0),
        np.fmax.reduceat(x, starts, axis=0),
    )


class CellBuilder:
    """Streaming :func:`minmax_cells`: feed chunks in time order with :meth:`update`.

    ``finish()`` after any chunking equals ``minmax_cells`` on the whole signal.
    """

    def __init__(self, cell_ns: int, n_channels: int) -> None:
        if cell_ns < 1:
            raise ConfigError(f"cell_ns must be >= 1 ns (got {cell_ns})")
        self.cell_ns = int(cell_ns)
        self.n_channels = int(n_channels)
        self._parts: list[Cells] = []

    def update(self, t_ns: np.ndarray, data: np.ndarray) -> None:
        """Add a chunk of samples (shape ``(n,)`` and ``(n, n_channels)``)."""
        self._parts.append(minmax_cells(t_ns, data, self.cell_ns))

    def finish(self) -> Cells:
        """All cells so far."""
        out = Cells.concat(self._parts, self.cell_ns, self.n_channels)
        self._parts = [out]
        return out

    def reset(self) -> None:
        """Forget all samples."""
        self._parts = []


def cells_to_buckets(cells: Cells, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reduce cells to display buckets: each cell goes to the bucket of its first sample.

    Parameters
    ----------
    cells : Cells
    edges : numpy.ndarray
        int64, shape ``(buckets + 1,)``, sorted.

    Returns
    -------
    lo, hi : numpy.ndarray
        float32, shape ``(buckets, n_channels)``; NaN where no cell starts in the bucket.
    counts : numpy.ndarray
        int64, shape ``(buckets,)``.
    """
    a, b = np.searchsorted(cells.t_start_ns, [edges[0], edges[-1]], side="left")
    return _reduce(
        cells.t_start_ns[a:b], cells.mins[a:b], cells.maxs[a:b], cells.counts[a:b], edges
    )


# --------------------------------------------------------------------------- sidecar


def sidecar_path(stream_file: Path) -> Path:
    """``<key>.parquet`` -> ``<key>.minmax.parquet``."""
    name = stream_file.name
    stem = name[: -len(".parquet")] if name.endswith(".parquet") else name
    return stream_file.with_name(stem + SIDECAR_SUFFIX)


def cell_ns_for(rate_hz: float) -> int:
    """Cell width (ns) of a stream sampled at ``rate_hz``: :data:`PYRAMID_LEVEL` periods."""
    return max(1, round(PYRAMID_LEVEL * 1e9 / float(rate_hz)))


def _sidecar_meta(cells: Cells, channels: tuple[str, ...], n_samples: int) -> dict:
    return {
        "format": _SIDECAR_FORMAT,
        "version": _SIDECAR_VERSION,
        "level": PYRAMID_LEVEL,
        "cell_ns": cells.cell_ns,
        "n_samples": int(n_samples),
        "channels": list(channels),
    }


def write_sidecar(path: Path, cells: Cells, channels: tuple[str, ...], *, fsync: bool) -> None:
    """Write ``cells`` to ``path`` atomically (unique temp file, then rename)."""
    cols: dict[str, pa.Array] = {
        "t_start_ns": arrow_array(cells.t_start_ns, pa.int64()),
        "t_end_ns": arrow_array(cells.t_end_ns, pa.int64()),
        "count": arrow_array(cells.counts, pa.int64()),
    }
    for j, c in enumerate(channels):
        cols[f"min.{c}"] = arrow_array(cells.mins[:, j], pa.float32())
        cols[f"max.{c}"] = arrow_array(cells.maxs[:, j], pa.float32())
    meta = _sidecar_meta(cells, channels, cells.n_samples)
    table = pa.Table.from_arrays(list(cols.values()), names=list(cols)).replace_schema_metadata(
        {_META_KEY: json.dumps(meta).encode()}
    )
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        pq.write_table(
            table, tmp, compression="zstd", row_group_size=_ROW_GROUP_CELLS, write_statistics=True
        )
        if fsync:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def read_sidecar(
    path: Path,
    channels: tuple[str, ...],
    n_samples: int,
    cell_ns: int,
    start_ns: int,
    end_ns: int,
) -> Cells | None:
    """Cells with ``start_ns <= t_start_ns < end_ns`` from a sidecar, or None if it is
    missing, unreadable, or does not describe this stream (other samples, channels, level)."""
    try:
        pf = pq.ParquetFile(path)
        meta = json.loads((pf.schema_arrow.metadata or {})[_META_KEY])
    except (OSError, pa.ArrowException, KeyError, ValueError):
        return None
    if meta != {
        "format": _SIDECAR_FORMAT,
        "version": _SIDECAR_VERSION,
        "level": PYRAMID_LEVEL,
        "cell_ns": int(cell_ns),
        "n_samples": int(n_samples),
        "channels": list(channels),
    }:
        return None
    md = pf.metadata
    ti = pf.schema_arrow.get_field_index("t_start_ns")
    groups = []
    for i in range(md.num_row_groups):
        st = md.row_group(i).column(ti).statistics
        if st is not None and st.has_min_max and (st.max < start_ns or st.min >= end_ns):
            continue
        groups.append(i)
    if not groups:
        return Cells.empty(int(cell_ns), len(channels))
    try:
        table = pf.read_row_groups(groups)
    except (OSError, pa.ArrowException):
        return None
    ts = numpy_column(table.column("t_start_ns")).astype(np.int64, copy=False)
    a, b = np.searchsorted(ts, [start_ns, end_ns], side="left")
    table = table.slice(a, b - a)
    n = table.num_rows
    mins = np.empty((n, len(channels)), np.float32)
    maxs = np.empty((n, len(channels)), np.float32)
    for j, c in enumerate(channels):
        mins[:, j] = numpy_column(table.column(f"min.{c}"))
        maxs[:, j] = numpy_column(table.column(f"max.{c}"))
    return Cells(
        int(cell_ns),
        ts[a:b],
        numpy_column(table.column("t_end_ns")).astype(np.int64, copy=False),
        numpy_column(table.column("count")).astype(np.int64, copy=False),
        mins,
        maxs,
    )
