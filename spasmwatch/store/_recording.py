"""Recording folders: a crash-safe writer, a reader, and recovery after a crash.

Layout of a recording folder (see ``docs/recording-format.md``)::

    <recording>/
        manifest.json              written on close (or recovery), atomically
        journal.jsonl              append-only: header, streams, gaps, flushes, notes
        <device>.<kind>.parquet    one per stream: t_ns int64 + one float32 column per channel
        segments/<key>/NNNNNN.arrows   Arrow IPC stream segments, only while recording
        .lock                      held (flock) by the live writer, removed on close

While recording, samples are buffered in memory and written as one record batch per stream
every ``flush_interval_s`` to an Arrow IPC *stream* segment, so a crash (even ``kill -9``)
loses at most the last flush interval. Closing, or opening a crashed recording, compacts the
segments into zstd-compressed Parquet and writes the manifest.

Sample indices are not stored per row: row ``r`` of a stream has stream-wide index
``first_index + r + sum(g.n_missing for gaps g with 0 < g.row <= r)``, where ``row`` is the
number of stored samples of that stream before the gap.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from spasmwatch._version import __version__
from spasmwatch.core import Gap, SampleBlock, StreamSpec
from spasmwatch.errors import RecordingError, SignalError
from spasmwatch.health._quality import QualityReport
from spasmwatch.health._tracker import QualityLog
from spasmwatch.store._pyramid import (
    MIN_CELLS_PER_BUCKET,
    PYRAMID_MIN_SAMPLES,
    CellBuilder,
    Cells,
    arrow_array,
    bucket_edges,
    cell_ns_for,
    cells_to_buckets,
    minmax_buckets,
    numpy_column,
    read_sidecar,
    sidecar_path,
    write_sidecar,
)

try:  # POSIX advisory locks tell a live recording from a crashed one.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "Recording",
    "RecordingWriter",
    "open_recording",
    "write_recording",
]

log = logging.getLogger(__name__)

FORMAT_NAME = "spasmwatch-recording"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
JOURNAL = "journal.jsonl"
SEGMENTS = "segments"
LOCK = ".lock"
#: Rows per Parquet row group: small enough that an hour of a day-long recording reads fast.
ROW_GROUP_ROWS = 65_536
_SPEC_META_KEY = b"spasmwatch.spec"


# --------------------------------------------------------------------------- helpers


def _schema(spec: StreamSpec) -> pa.Schema:
    fields = [pa.field("t_ns", pa.int64(), nullable=False, metadata={b"unit": b"ns UTC"})]
    fields += [
        pa.field(c, pa.float32(), nullable=False, metadata={b"unit": spec.units.encode()})
        for c in spec.channels
    ]
    meta = {
        _SPEC_META_KEY: json.dumps(spec.to_dict()).encode(),
        b"device": spec.device.encode(),
        b"kind": spec.kind.encode(),
        b"channels": ",".join(spec.channels).encode(),
        b"rate_hz": repr(spec.rate_hz).encode(),
        b"units": spec.units.encode(),
    }
    return pa.schema(fields, metadata=meta)


def _spec_from_schema(schema: pa.Schema, where: Path) -> StreamSpec:
    raw = (schema.metadata or {}).get(_SPEC_META_KEY)
    if raw is None:
        raise RecordingError(
            f"{where}: Arrow schema has no {_SPEC_META_KEY.decode()!r} metadata; "
            "not a spasmwatch stream file",
            reason="bad_segment",
        )
    return StreamSpec.from_dict(json.loads(raw))


def _json_default(o: object) -> object:
    """JSON for numpy scalars/arrays and paths that callers put in devices/meta."""
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def _dumps(o: object, **kw: Any) -> str:
    try:
        return json.dumps(o, default=_json_default, **kw)
    except (TypeError, ValueError) as exc:
        raise RecordingError(
            f"recording metadata must be JSON-ready (dicts, lists, str, numbers): {exc}",
            reason="bad_metadata",
        ) from exc


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _try_lock(path: Path) -> Any | None:
    """Open and exclusively lock ``path``; return the open file, or None if someone holds it."""
    f = open(path, "a+")
    if fcntl is None:  # pragma: no cover
        return f
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        return None
    return f


def _index_of_rows(first_index: int, rows: np.ndarray, gaps: list[tuple[int, Gap]]) -> np.ndarray:
    """Stream-wide sample index of each row number in ``rows`` (int64).

    The direct form of the definition (one pass over the gaps per call); the replay uses
    :class:`_RowIndex`, which computes the same from cumulative sums.
    """
    idx = first_index + rows.astype(np.int64)
    for row, g in gaps:
        if row > 0 and g.n_missing:
            idx = idx + np.where(rows >= row, g.n_missing, 0)
    return idx


class _RowIndex:
    """Row number -> stream-wide sample index, in O(log n_gaps) per look-up.

    ``index(row) = first_index + row + sum(g.n_missing for gaps with 0 < g.row <= row)``:
    the gaps' rows are sorted once with the cumulative sums of their ``n_missing``, and
    ``np.searchsorted`` finds how many gaps lie at or before each row.
    """

    def __init__(self, first_index: int, gaps: list[tuple[int, Gap]]) -> None:
        pairs = sorted((r, g.n_missing) for r, g in gaps if r > 0 and g.n_missing)
        self.first_index = int(first_index)
        self.rows = np.fromiter((r for r, _ in pairs), dtype=np.int64, count=len(pairs))
        self.cum = np.zeros(len(pairs) + 1, dtype=np.int64)
        np.cumsum(np.fromiter((m for _, m in pairs), np.int64, len(pairs)), out=self.cum[1:])

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        return self.first_index + rows + self.cum[np.searchsorted(self.rows, rows, "right")]

    def at(self, row: int) -> int:
        """The index of one row number."""
        k = int(np.searchsorted(self.rows, row, "right"))
        return self.first_index + int(row) + int(self.cum[k])


# --------------------------------------------------------------------------- writer


class _StreamState:
    def __init__(self, spec: StreamSpec, seg_dir: Path) -> None:
        self.spec = spec
        self.schema = _schema(spec)
        self.seg_dir = seg_dir
        self.rows = 0  # samples accepted (buffered + flushed)
        self.flushed_rows = 0
        self.next_index: int | None = None  # expected first_index of the next block
        self.first_index: int | None = None
        self.last_t: int | None = None
        self.pending_missing = 0  # n_missing of gaps recorded since the last block
        self.buf_t: list[np.ndarray] = []
        self.buf_d: list[np.ndarray] = []
        self.seg_no = -1
        self.seg_file: Any = None
        self.seg_writer: ipc.RecordBatchStreamWriter | None = None
        self.seg_batches = 0
        self.gaps: list[tuple[int, Gap]] = []


class RecordingWriter:
    """Write a recording folder, crash-safely, while samples arrive.

    Parameters
    ----------
    path : str or Path
        Recording folder. Created if missing; an existing non-empty folder is refused.
    start_ns : int, optional
        Recording start, UTC ns. Default: ``clock()`` at construction. The manifest's
        start is the earlier of this and the first stored sample.
    devices : list of dict, optional
        One dict per device (id, profile, name, address, placement...), stored as given.
    meta : dict, optional
        Free-form JSON-ready metadata (wearer alias, protocol, ...).
    flush_interval_s : float
        Buffered samples are written to disk at least this often (s, by ``clock``).
    clock : callable, optional
        Returns the current UTC time in ns. Default :func:`time.time_ns`.
    models : dict, optional
        Model ids/versions used while recording (``{"emg_acc": "1.2.0"}``).
    annotations : list of dict, optional
        Time-stamped annotations from a source file (EDF+), stored in the manifest.
    fsync : bool
        Also ``fsync`` segments at each flush (survives power loss, costs a disk sync a
        second). A crash of the process alone is covered by the OS flush either way.
    max_segment_bytes, max_segment_batches : int
        A segment is closed and a new one started after this size or number of flushes.

    Notes
    -----
    One writer per folder: a second writer, or :func:`open_recording` while the writer
    lives, is refused (an advisory lock on ``.lock``). Not thread-safe: call it from one
    thread (or task).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        start_ns: int | None = None,
        devices: list[dict] | None = None,
        meta: dict | None = None,
        flush_interval_s: float = 1.0,
        clock: Callable[[], int] | None = None,
        models: dict | None = None,
        annotations: list[dict] | None = None,
        fsync: bool = True,
        max_segment_bytes: int = 64 * 2**20,
        max_segment_batches: int = 3600,
    ) -> None:
        self.path = Path(path)
        if self.path.exists():
            if not self.path.is_dir():
                raise RecordingError(
                    f"recording path {self.path} exists and is not a folder; "
                    "choose a new folder name",
                    reason="exists",
                )
            if any(self.path.iterdir()):
                raise RecordingError(
                    f"recording folder {self.path} already exists and is not empty; "
                    "refusing to overwrite it. Choose a new folder name",
                    reason="exists",
                )
        if not (flush_interval_s > 0):
            raise RecordingError(
                f"flush_interval_s must be > 0 s (got {flush_interval_s!r})", reason="config"
            )
        created = not self.path.exists()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            (self.path / SEGMENTS).mkdir()
        except OSError as exc:
            raise RecordingError(
                f"cannot create recording folder {self.path}: {exc}", reason="io"
            ) from exc
        self._lock = _try_lock(self.path / LOCK)
        self._clock = clock or time.time_ns
        self._live_start = start_ns is None
        self.start_ns = int(self._clock() if start_ns is None else start_ns)
        self.recording_id = str(uuid.uuid4())
        self.devices = list(devices or [])
        self.meta = dict(meta or {})
        self.models = dict(models or {})
        self.annotations = list(annotations or [])
        self.notes: list[dict] = []
        self.flush_interval_ns = int(flush_interval_s * 1e9)
        self._fsync = fsync
        self._max_seg_bytes = max_segment_bytes
        self._max_seg_batches = max_segment_batches
        self._streams: dict[str, _StreamState] = {}
        self._pending_journal: list[dict] = []
        # EMG quality windows not yet journaled: key -> [[start_ns, end_ns, [status...]]]
        self._quality_pending: dict[str, list[list[Any]]] = {}
        self.device_info: dict[str, dict] = {}
        self._journal = open(self.path / JOURNAL, "a", encoding="utf-8")
        self._last_flush = self._clock()
        self._closed = False
        self._result: Recording | None = None
        header = {
            "type": "recording",
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "recording_id": self.recording_id,
            "start_ns": self.start_ns,
            "software_version": __version__,
            "devices": self.devices,
            "models": self.models,
            "meta": self.meta,
            "annotations": self.annotations,
        }
        try:
            self._journal_now(header)
        except BaseException:
            self._pending_journal.clear()
            self._journal.close()
            self._release_lock(remove=False)
            # leave the folder as it was: remove only what this writer made
            for name in (JOURNAL, LOCK):
                with contextlib.suppress(OSError):
                    (self.path / name).unlink()
            shutil.rmtree(self.path / SEGMENTS, ignore_errors=True)
            if created:
                with contextlib.suppress(OSError):
                    self.path.rmdir()
            raise

    # -- public API ------------------------------------------------------------------

    def add_stream(self, spec: StreamSpec) -> None:
        """Declare a stream. Re-adding the same spec is a no-op; a different spec with the
        same key is refused."""
        self._check_open()
        st = self._streams.get(spec.key)
        if st is not None:
            if st.spec != spec:
                raise RecordingError(
                    f"stream {spec.key} was added as {st.spec.to_dict()} and now comes as "
                    f"{spec.to_dict()}; one key, one spec per recording",
                    reason="spec_mismatch",
                )
            return
        seg_dir = self.path / SEGMENTS / spec.key
        seg_dir.mkdir(parents=True, exist_ok=True)
        self._streams[spec.key] = _StreamState(spec, seg_dir)
        self._pending_journal.append({"type": "stream", "key": spec.key, "spec": spec.to_dict()})

    def write(self, block: SampleBlock) -> None:
        """Append a block (adds its stream if new, records its gaps); flushes when due.

        Raises
        ------
        RecordingError
            If the block's time goes back before the stream's last sample, or its
            ``first_index`` is lower than the previous block's end plus the missing samples
            of the gaps recorded in between.
        """
        self._check_open()
        self.add_stream(block.spec)
        st = self._streams[block.spec.key]
        for g in block.gaps:
            self._record_gap(st, g)
        n = block.n_samples
        if n:
            t0 = int(block.t_ns[0])
            if st.last_t is not None and t0 < st.last_t:
                raise RecordingError(
                    f"stream {st.spec.key}: block starting at {t0} ns goes back before the "
                    f"last stored sample ({st.last_t} ns); blocks must arrive in time order",
                    reason="time_order",
                )
            if st.next_index is None:
                st.first_index = block.first_index
                self._pending_journal.append(
                    {"type": "first_index", "key": st.spec.key, "index": block.first_index}
                )
            else:
                expected = st.next_index + st.pending_missing
                if block.first_index < expected:
                    raise RecordingError(
                        f"stream {st.spec.key}: block first_index {block.first_index} is "
                        f"below the expected {expected} (previous end {st.next_index} plus "
                        f"{st.pending_missing} samples in recorded gaps)",
                        reason="index_order",
                    )
                if block.first_index > expected:
                    # Samples were lost but nobody said so: keep the loss explicit.
                    missing = block.first_index - expected
                    prev = st.last_t if st.last_t is not None else t0
                    start = min(t0, prev + round(st.spec.period_ns))
                    self._record_gap(st, Gap(start, t0, missing, "unknown"))
            st.buf_t.append(np.array(block.t_ns, dtype=np.int64))
            st.buf_d.append(np.array(block.data, dtype=np.float32))
            st.rows += n
            st.last_t = int(block.t_ns[-1])
            st.next_index = block.end_index
            st.pending_missing = 0
        if self._clock() - self._last_flush >= self.flush_interval_ns:
            self.flush()

    def add_gap(self, key: str, gap: Gap) -> None:
        """Record a gap of stream ``key`` after the samples written so far."""
        self._check_open()
        st = self._streams.get(key)
        if st is None:
            raise RecordingError(
                f"add_gap: unknown stream {key!r}; known: {sorted(self._streams)}. "
                "Add the stream (add_stream or write) first",
                reason="unknown_stream",
            )
        self._record_gap(st, gap)

    def add_quality(self, key: str, report: QualityReport | dict) -> None:
        """Record the EMG quality of one window of stream ``key``.

        Parameters
        ----------
        key : str
            Stream key (the stream must have been added).
        report : QualityReport or dict
            One window (:meth:`QualityReport.to_dict` form accepted).

        Notes
        -----
        Windows are kept run-length encoded (consecutive windows with the same statuses
        merged) and journaled at each flush, so a crash loses at most the last flush
        interval. The manifest's ``streams[key]["quality"]`` holds, per channel,
        ``[start_ns, end_ns, status]`` intervals and a summary (share of good time); read it
        back with :meth:`Recording.quality`.

        Raises
        ------
        RecordingError
            Unknown stream, a report of another stream or with other channels, or a
            malformed report (reason ``"bad_quality"``).
        """
        self._check_open()
        st = self._streams.get(key)
        if st is None:
            raise RecordingError(
                f"add_quality: unknown stream {key!r}; known: {sorted(self._streams)}. "
                "Add the stream (add_stream or write) first",
                reason="unknown_stream",
            )
        try:
            r = report if isinstance(report, QualityReport) else QualityReport.from_dict(report)
        except (SignalError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RecordingError(
                f"add_quality({key}): not a quality report (QualityReport or its to_dict()): "
                f"{exc!r}",
                reason="bad_quality",
            ) from exc
        names = tuple(c.channel for c in r.channels)
        if r.stream != key or names != st.spec.channels:
            raise RecordingError(
                f"add_quality({key}): report is for stream {r.stream} with channels "
                f"{list(names)}; expected {key} with {list(st.spec.channels)}",
                reason="bad_quality",
            )
        runs = self._quality_pending.setdefault(key, [])
        statuses = list(r.statuses)
        if runs:
            last = runs[-1]
            tol = (r.end_ns - r.start_ns) // 2
            if last[2] == statuses and last[0] <= r.start_ns <= last[1] + tol:
                last[1] = max(last[1], r.end_ns)
                return
        runs.append([r.start_ns, r.end_ns, statuses])

    def set_device_info(self, device: str, info: dict) -> None:
        """Store facts about a device in the manifest's ``devices`` entry with ``id ==
        device`` (added if missing), under ``"info"``.

        Parameters
        ----------
        device : str
            Device instance name.
        info : dict
            JSON-ready facts, merged with earlier calls: typically
            :meth:`~spasmwatch.health.DeviceInfo.to_dict` (model, firmware, hardware,
            serial). Battery readings go through :meth:`add_battery`.
        """
        self._check_open()
        if not isinstance(device, str) or not device:
            raise RecordingError(
                f"set_device_info: device must be a name (got {device!r})", reason="bad_metadata"
            )
        if not isinstance(info, dict):
            raise RecordingError(
                f"set_device_info({device}): info must be a dict (got {type(info).__name__})",
                reason="bad_metadata",
            )
        entry = {"type": "device_info", "device": device, "info": dict(info)}
        _dumps(entry)  # refuse what is not JSON-ready now, not at close
        self.device_info.setdefault(device, {}).update(info)
        self._pending_journal.append(entry)

    def add_battery(self, device: str, level: int, t_ns: int | None = None) -> None:
        """Record a battery reading (percent) of ``device``; the manifest keeps the first
        and the last under ``devices[...]["battery"]`` (``start``/``end``: level, t_ns)."""
        self._check_open()
        if (
            isinstance(level, bool)
            or not isinstance(level, int | np.integer)
            or not (0 <= int(level) <= 100)
        ):
            raise RecordingError(
                f"add_battery({device}): level must be an int 0-100 % (got {level!r})",
                reason="bad_metadata",
            )
        t = int(self._clock() if t_ns is None else t_ns)
        self._pending_journal.append(
            {"type": "battery", "device": str(device), "level": int(level), "t_ns": t}
        )

    def note(self, text: str, t_ns: int | None = None, **extra: Any) -> None:
        """Add a time-stamped free-text note (journal and manifest ``notes``)."""
        self._check_open()
        entry = {"t_ns": int(self._clock() if t_ns is None else t_ns), "text": str(text), **extra}
        self.notes.append(entry)
        self._pending_journal.append({"type": "note", **entry})

    def flush(self) -> None:
        """Write buffered samples and journal lines to disk now."""
        self._check_open()
        for key, runs in self._quality_pending.items():
            if runs:
                self._pending_journal.append({"type": "quality", "key": key, "runs": runs})
        self._quality_pending = {}
        self._write_journal_pending()
        counts: dict[str, int] = {}
        for st in self._streams.values():
            if st.buf_t:
                t = np.concatenate(st.buf_t)
                d = np.concatenate(st.buf_d, axis=0)
                st.buf_t.clear()
                st.buf_d.clear()
                cols = [arrow_array(t, pa.int64())] + [
                    arrow_array(d[:, j], pa.float32()) for j in range(st.spec.n_channels)
                ]
                batch = pa.RecordBatch.from_arrays(cols, schema=st.schema)
                self._segment_writer(st).write_batch(batch)
                st.seg_file.flush()
                if self._fsync:
                    os.fsync(st.seg_file.fileno())
                st.seg_batches += 1
                st.flushed_rows += batch.num_rows
                if (
                    st.seg_batches >= self._max_seg_batches
                    or st.seg_file.tell() >= self._max_seg_bytes
                ):
                    self._close_segment(st)
            counts[st.spec.key] = st.flushed_rows
        now = self._clock()
        self._journal_now({"type": "flush", "t_ns": int(now), "rows": counts})
        self._last_flush = now

    def close(self) -> Recording:
        """Flush, compact segments to Parquet, write the manifest; return the recording.

        Calling it again returns the same :class:`Recording`.
        """
        if self._result is not None:
            return self._result
        self._check_open()
        self.flush()
        end_ns = int(self._clock()) if self._live_start else None
        self._journal_now({"type": "close", "t_ns": end_ns})
        for st in self._streams.values():
            self._close_segment(st)
        self._journal.close()
        self._closed = True
        rec = _compact(self.path, recovered=False, end_hint_ns=end_ns)
        self._release_lock()
        self._result = rec
        return rec

    def abort(self) -> None:
        """Flush and stop without compacting (as after a crash); recovery compacts later."""
        if self._closed:
            return
        with contextlib.suppress(Exception):
            self.flush()
        for st in self._streams.values():
            with contextlib.suppress(Exception):
                self._close_segment(st)
        self._journal.close()
        self._closed = True
        self._release_lock(remove=False)

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            # Keep what was written; the next open_recording recovers it.
            self.abort()

    @property
    def keys(self) -> list[str]:
        """Stream keys added so far."""
        return list(self._streams)

    # -- internals -------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RecordingError(f"recording {self.path} is already closed", reason="closed")

    def _record_gap(self, st: _StreamState, gap: Gap) -> None:
        st.gaps.append((st.rows, gap))
        st.pending_missing += gap.n_missing
        self._pending_journal.append(
            {"type": "gap", "key": st.spec.key, "row": st.rows, "gap": gap.to_dict()}
        )

    def _journal_now(self, entry: dict) -> None:
        self._pending_journal.append(entry)
        self._write_journal_pending()

    def _write_journal_pending(self) -> None:
        if not self._pending_journal:
            return
        self._journal.write(
            "".join(_dumps(e, separators=(",", ":")) + "\n" for e in self._pending_journal)
        )
        self._pending_journal.clear()
        self._journal.flush()
        if self._fsync:
            os.fsync(self._journal.fileno())

    def _segment_writer(self, st: _StreamState) -> ipc.RecordBatchStreamWriter:
        if st.seg_writer is None:
            st.seg_no += 1
            st.seg_file = open(st.seg_dir / f"{st.seg_no:06d}.arrows", "wb")
            st.seg_writer = ipc.new_stream(st.seg_file, st.schema)
            st.seg_batches = 0
        return st.seg_writer

    def _close_segment(self, st: _StreamState) -> None:
        if st.seg_writer is not None:
            st.seg_writer.close()
            st.seg_file.flush()
            if self._fsync:
                os.fsync(st.seg_file.fileno())
            st.seg_file.close()
            st.seg_writer = None
            st.seg_file = None

    def _release_lock(self, *, remove: bool = True) -> None:
        if self._lock is not None:
            if remove:
                with contextlib.suppress(OSError):
                    (self.path / LOCK).unlink()
            self._lock.close()
            self._lock = None


# --------------------------------------------------------------------------- compaction


def _read_journal(path: Path) -> list[dict]:
    """Journal entries; a torn last line (crash mid-write) is ignored."""
    out: list[dict] = []
    p = path / JOURNAL
    if not p.exists():
        return out
    with open(p, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                log.warning("%s line %d is not JSON (torn write?); ignored", p, n)
    return out


def _iter_segment_batches(seg: Path) -> Iterator[pa.RecordBatch]:
    """Record batches of one IPC stream segment, stopping quietly at a truncated tail."""
    try:
        with open(seg, "rb") as f:
            try:
                reader = ipc.open_stream(f)
            except (pa.ArrowInvalid, OSError, EOFError):
                log.warning("segment %s has no readable schema (empty or torn); skipped", seg)
                return
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                except (pa.ArrowInvalid, OSError, EOFError):
                    log.warning("segment %s ends in a truncated batch; kept what came before", seg)
                    return
                yield batch
    except OSError as exc:
        raise RecordingError(f"cannot read segment {seg}: {exc}", reason="io") from exc


def _segment_schema(seg: Path) -> pa.Schema | None:
    try:
        with open(seg, "rb") as f:
            return ipc.open_stream(f).schema
    except (pa.ArrowInvalid, OSError, EOFError):
        return None


def _compact_stream(
    spec: StreamSpec, segs: list[Path], out: Path, cells: CellBuilder | None = None
) -> tuple[int, int | None, int | None]:
    """Segments -> ``out`` Parquet (via a temp file). Returns (rows, t_first, t_last).

    If ``cells`` is given, every row written is also fed to it (the min/max pyramid).
    """
    schema = _schema(spec)
    tmp = out.with_name(out.name + ".tmp")
    rows = 0
    t_first: int | None = None
    t_last: int | None = None
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    with pq.ParquetWriter(tmp, schema, compression="zstd", write_statistics=True) as pw:

        def emit(final: bool) -> None:
            nonlocal pending, pending_rows
            if not pending:
                return
            table = pa.Table.from_batches(pending, schema=schema)
            while table.num_rows >= ROW_GROUP_ROWS or (final and table.num_rows):
                chunk = table.slice(0, ROW_GROUP_ROWS)
                pw.write_table(chunk, row_group_size=ROW_GROUP_ROWS)
                if cells is not None:
                    cells.update(*_table_arrays(chunk, spec))
                table = table.slice(chunk.num_rows)
            pending = table.to_batches() if table.num_rows else []
            pending_rows = table.num_rows

        for seg in segs:
            for batch in _iter_segment_batches(seg):
                if batch.num_rows == 0:
                    continue
                if batch.schema.names != schema.names:
                    raise RecordingError(
                        f"segment {seg} has columns {batch.schema.names}, expected {schema.names}",
                        reason="bad_segment",
                    )
                batch = pa.RecordBatch.from_arrays(batch.columns, schema=schema)
                t = batch.column(0)
                if t_first is None:
                    t_first = int(t[0].as_py())
                t_last = int(t[-1].as_py())
                rows += batch.num_rows
                pending.append(batch)
                pending_rows += batch.num_rows
                if pending_rows >= ROW_GROUP_ROWS:
                    emit(False)
        emit(True)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, out)
    return rows, t_first, t_last


def _table_arrays(table: pa.Table, spec: StreamSpec) -> tuple[np.ndarray, np.ndarray]:
    """``t_ns`` (int64, ``(n,)``) and samples (float32, ``(n, n_channels)``) of a table."""
    t = numpy_column(table.column("t_ns")).astype(np.int64, copy=False)
    data = np.empty((table.num_rows, spec.n_channels), dtype=np.float32)
    for j, c in enumerate(spec.channels):
        data[:, j] = numpy_column(table.column(c))
    return t, data


def _write_pyramid(
    stream_file: Path, spec: StreamSpec, rows: int, cells: Cells, *, fsync: bool
) -> None:
    """Write (or, for a short stream, remove) the min/max sidecar of ``stream_file``.

    The sidecar is derived data: failing to write it only costs speed, so it is logged.
    """
    side = sidecar_path(stream_file)
    try:
        if rows < PYRAMID_MIN_SAMPLES:
            side.unlink(missing_ok=True)
        else:
            write_sidecar(side, cells, spec.channels, fsync=fsync)
    except OSError as exc:
        log.warning("cannot write min/max sidecar %s (%s); display reads raw data", side, exc)


def _compact(path: Path, *, recovered: bool, end_hint_ns: int | None = None) -> Recording:
    """Turn segments + journal into Parquet files + manifest. Idempotent if interrupted."""
    journal = _read_journal(path)
    header: dict = next((e for e in journal if e.get("type") == "recording"), {})
    specs: dict[str, StreamSpec] = {}
    first_index: dict[str, int] = {}
    gaps: dict[str, list[tuple[int, Gap]]] = {}
    flushed: dict[str, int] = {}
    notes: list[dict] = []
    close_t: int | None = None
    quality: dict[str, list[list[Any]]] = {}
    dev_info: dict[str, dict] = {}
    battery: dict[str, dict[str, dict]] = {}
    for e in journal:
        kind = e.get("type")
        try:
            if kind == "stream":
                specs[e["key"]] = StreamSpec.from_dict(e["spec"])
            elif kind == "first_index":
                first_index[e["key"]] = int(e["index"])
            elif kind == "gap":
                gaps.setdefault(e["key"], []).append((int(e["row"]), Gap.from_dict(e["gap"])))
            elif kind == "flush":
                flushed.update({k: int(v) for k, v in e.get("rows", {}).items()})
            elif kind == "note":
                notes.append({k: v for k, v in e.items() if k != "type"})
            elif kind == "close" and e.get("t_ns") is not None:
                close_t = int(e["t_ns"])
            elif kind == "quality":
                quality.setdefault(str(e["key"]), []).extend(e["runs"])
            elif kind == "device_info":
                dev_info.setdefault(str(e["device"]), {}).update(dict(e["info"]))
            elif kind == "battery":
                b = battery.setdefault(str(e["device"]), {})
                reading = {"level": int(e["level"]), "t_ns": int(e["t_ns"])}
                b.setdefault("start", reading)
                b["end"] = reading
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("%s: journal entry %r is malformed (%s); ignored", path, e, exc)
    seg_root = path / SEGMENTS
    seg_lists: dict[str, list[Path]] = {}
    if seg_root.is_dir():
        for d in sorted(p for p in seg_root.iterdir() if p.is_dir()):
            segs = sorted(d.glob("*.arrows"))
            seg_lists[d.name] = segs
            if d.name not in specs:
                # The journal lost the stream line: the segment schema still knows the spec.
                for s in segs:
                    sch = _segment_schema(s)
                    if sch is not None:
                        specs[d.name] = _spec_from_schema(sch, s)
                        break
    streams: dict[str, dict] = {}
    starts: list[int] = []
    ends: list[int] = []
    for key, spec in specs.items():
        out = path / f"{key}.parquet"
        builder = CellBuilder(cell_ns_for(spec.rate_hz), spec.n_channels)
        rows, t_first, t_last = _compact_stream(spec, seg_lists.get(key, []), out, builder)
        _write_pyramid(out, spec, rows, builder.finish(), fsync=True)
        if recovered and rows < flushed.get(key, 0):
            log.warning(
                "%s: recovered %d rows of %s, the journal says %d were flushed",
                path,
                rows,
                key,
                flushed[key],
            )
        g = [(min(r, rows), gap) for r, gap in gaps.get(key, [])]
        streams[key] = {
            **spec.to_dict(),
            "file": out.name,
            "n_samples": rows,
            "first_index": first_index.get(key, 0),
            "t_first_ns": t_first,
            "t_last_ns": t_last,
            "gaps": [{**gap.to_dict(), "row": r} for r, gap in g],
        }
        if quality.get(key):
            qlog = _quality_log(path, key, spec, quality[key])
            if qlog is not None:
                streams[key]["quality"] = qlog
        if t_first is not None and t_last is not None:
            starts.append(t_first)
            ends.append(t_last + round(spec.period_ns))
        ends.extend(gap.end_ns for _, gap in g)
    start_ns = header.get("start_ns")
    start_ns = min([int(start_ns), *starts]) if start_ns is not None else min(starts, default=0)
    end_candidates = ends + [x for x in (end_hint_ns, close_t) if x is not None]
    if recovered and not end_candidates:
        end_candidates = [start_ns]
    end_ns = max(end_candidates, default=start_ns)
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "recording_id": header.get("recording_id") or str(uuid.uuid4()),
        "start_ns": int(start_ns),
        "end_ns": int(max(end_ns, start_ns)),
        "software_version": header.get("software_version", __version__),
        "recovered": recovered,
        "devices": _devices_with_info(header.get("devices", []), dev_info, battery),
        "models": header.get("models", {}),
        "streams": streams,
        "annotations": header.get("annotations", []),
        "notes": notes,
        "meta": header.get("meta", {}),
    }
    if recovered:
        manifest["recovered_by_version"] = __version__
    _atomic_write_text(path / MANIFEST, _dumps(manifest, indent=1))
    # Only now, with Parquet and manifest safely on disk, drop the segments.
    shutil.rmtree(seg_root, ignore_errors=True)
    return Recording(path, manifest)


def _quality_log(path: Path, key: str, spec: StreamSpec, runs: list[Any]) -> dict | None:
    """Journaled quality runs ``[start, end, [status per channel]]`` -> manifest form."""
    qlog = QualityLog(key, spec.channels)
    try:
        for a, b, statuses in runs:
            if len(statuses) != spec.n_channels:
                raise SignalError(f"{len(statuses)} statuses for {spec.n_channels} channels")
            for c, s in zip(spec.channels, statuses, strict=True):
                qlog.add_run(c, int(a), int(b), str(s))
    except (SignalError, TypeError, ValueError) as exc:
        log.warning("%s: quality journal of %s is malformed (%s); ignored", path, key, exc)
        return None
    return qlog.to_dict()


def _devices_with_info(
    devices: list[dict], info: dict[str, dict], battery: dict[str, dict[str, dict]]
) -> list[dict]:
    out = [dict(d) if isinstance(d, dict) else d for d in devices]
    for name in sorted(set(info) | set(battery)):
        d = next((x for x in out if isinstance(x, dict) and x.get("id") == name), None)
        if d is None:
            d = {"id": name}
            out.append(d)
        if name in info:
            d["info"] = {**d.get("info", {}), **info[name]}
        if name in battery:
            d["battery"] = battery[name]
    return out


# --------------------------------------------------------------------------- reader


class Recording:
    """A closed (or recovered) recording folder.

    Attributes
    ----------
    path : Path
        The folder.
    manifest : dict
        The parsed ``manifest.json``.
    start_ns, end_ns : int
        Recording start and end, UTC ns.
    recovered : bool
        True if it was compacted by recovery after a crash rather than by ``close()``.
    specs : dict of str to StreamSpec
        Stream key -> spec.
    """

    def __init__(self, path: str | Path, manifest: dict) -> None:
        self.path = Path(path)
        self.manifest = manifest
        self._pyramid_lock = threading.Lock()
        self._pyramid_mem: dict[str, Cells] = {}  # built but not writable to disk
        try:
            self.start_ns = int(manifest["start_ns"])
            self.end_ns = int(manifest["end_ns"])
            self.recovered = bool(manifest.get("recovered", False))
            self.specs = {k: StreamSpec.from_dict(v) for k, v in manifest["streams"].items()}
            self._gaps = {
                k: [(int(g["row"]), Gap.from_dict(g)) for g in v.get("gaps", [])]
                for k, v in manifest["streams"].items()
            }
        except Exception as exc:
            raise RecordingError(
                f"{self.path / MANIFEST} is not a valid spasmwatch manifest ({exc!r}); "
                "it may be corrupt or from a newer version",
                reason="bad_manifest",
            ) from exc

    def __repr__(self) -> str:
        return f"Recording({str(self.path)!r}, streams={sorted(self.specs)})"

    @property
    def id(self) -> str:
        """The recording's UUID."""
        return str(self.manifest.get("recording_id", ""))

    def _stream(self, key: str) -> dict:
        try:
            return self.manifest["streams"][key]
        except KeyError:
            raise RecordingError(
                f"recording {self.path} has no stream {key!r}; it has {sorted(self.specs)}",
                reason="unknown_stream",
            ) from None

    def parquet_path(self, key: str) -> Path:
        """Path of the Parquet file of stream ``key``."""
        return self.path / self._stream(key).get("file", f"{key}.parquet")

    def n_samples(self, key: str) -> int:
        """Number of stored samples of stream ``key``."""
        return int(self._stream(key)["n_samples"])

    def _open(self, key: str) -> pq.ParquetFile:
        p = self.parquet_path(key)
        try:
            return pq.ParquetFile(p)
        except (OSError, pa.ArrowInvalid) as exc:
            raise RecordingError(
                f"cannot read stream file {p}: {exc}", reason="bad_stream_file"
            ) from exc

    def _table_to_arrays(self, table: pa.Table, spec: StreamSpec) -> tuple[np.ndarray, np.ndarray]:
        t = numpy_column(table.column("t_ns")).astype(np.int64, copy=False)
        data = np.empty((table.num_rows, spec.n_channels), dtype=np.float32)
        for j, c in enumerate(spec.channels):
            data[:, j] = numpy_column(table.column(c))
        return t, data

    def _rows(self, key: str, start_ns: int | None, end_ns: int | None) -> tuple[int, pa.Table]:
        """(first row number, table) of the samples with start_ns <= t < end_ns."""
        pf = self._open(key)
        md = pf.metadata
        ti = pf.schema_arrow.get_field_index("t_ns")
        groups: list[int] = []
        row0 = 0
        first_row: int | None = None
        for i in range(md.num_row_groups):
            rg = md.row_group(i)
            st = rg.column(ti).statistics
            lo = hi = None
            if st is not None and st.has_min_max:
                lo, hi = int(st.min), int(st.max)
            keep = not (
                (start_ns is not None and hi is not None and hi < start_ns)
                or (end_ns is not None and lo is not None and lo >= end_ns)
            )
            if keep:
                if first_row is None:
                    first_row = row0
                groups.append(i)
            elif groups and end_ns is not None and lo is not None and lo >= end_ns:
                break
            row0 += rg.num_rows
        if not groups:
            return 0, pf.schema_arrow.empty_table()
        table = pf.read_row_groups(groups)
        t = numpy_column(table.column("t_ns"))
        a = 0 if start_ns is None else int(np.searchsorted(t, start_ns, side="left"))
        b = len(t) if end_ns is None else int(np.searchsorted(t, end_ns, side="left"))
        return (first_row or 0) + a, table.slice(a, max(b - a, 0))

    def read(
        self, key: str, start_ns: int | None = None, end_ns: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Samples of stream ``key`` with ``start_ns <= t_ns < end_ns``.

        Only the Parquet row groups whose ``t_ns`` statistics overlap the range are read.

        Returns
        -------
        t_ns : numpy.ndarray
            int64 UTC ns, shape ``(n_samples,)``.
        data : numpy.ndarray
            float32, shape ``(n_samples, n_channels)``, in ``specs[key].units``.
        """
        spec = self.specs.get(key) or self._stream(key)  # raises for unknown keys
        _, table = self._rows(key, start_ns, end_ns)
        return self._table_to_arrays(table, spec)

    def minmax(
        self, key: str, start_ns: int, end_ns: int, buckets: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-bucket min and max of stream ``key`` over ``[start_ns, end_ns)``, for display.

        Uses the stream's min/max pyramid (``<key>.minmax.parquet``, built lazily and cached
        on disk if missing) when a bucket spans at least ``MIN_CELLS_PER_BUCKET`` (4) cells of
        ``PYRAMID_LEVEL`` (64) sample periods, else the raw samples. See :meth:`minmax_buckets` for
        the exactness guarantee.

        Returns
        -------
        t_ns : numpy.ndarray
            int64, shape ``(buckets,)``: start of each bucket, UTC ns.
        mins, maxs : numpy.ndarray
            float32, shape ``(buckets, n_channels)``; NaN in buckets without samples.
        """
        edges, lo, hi, _ = self.minmax_buckets(key, start_ns, end_ns, buckets)
        return edges[:-1], lo, hi

    def minmax_buckets(
        self, key: str, start_ns: int, end_ns: int, buckets: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`minmax` with the bucket edges and sample counts.

        With the pyramid, each cell of ``PYRAMID_LEVEL`` sample periods counts in the bucket
        holding its first sample: the result is the raw min/max (and count) over the bucket
        with both edges moved forward to the first sample of the next cell, i.e. by less
        than one cell. Where edges fall between cells it equals
        :func:`~spasmwatch.store._pyramid.minmax_buckets` on the raw samples exactly.

        Returns
        -------
        edges_ns : numpy.ndarray
            int64, shape ``(buckets + 1,)``.
        mins, maxs : numpy.ndarray
            float32, shape ``(buckets, n_channels)``.
        counts : numpy.ndarray
            int64, shape ``(buckets,)``.
        """
        spec = self.specs.get(key) or self._stream(key)  # raises for unknown keys
        edges = bucket_edges(start_ns, end_ns, buckets)  # validates the window
        cell_ns = cell_ns_for(spec.rate_hz)
        if (end_ns - start_ns) / buckets >= MIN_CELLS_PER_BUCKET * cell_ns:
            cells = self._cells(key, int(edges[0]), int(edges[-1]))
            if cells is not None:
                lo, hi, counts = cells_to_buckets(cells, edges)
                return edges, lo, hi, counts
        t, data = self.read(key, start_ns, end_ns)
        return minmax_buckets(t, data, start_ns, end_ns, buckets)

    def _cells(self, key: str, start_ns: int, end_ns: int) -> Cells | None:
        """Pyramid cells starting in ``[start_ns, end_ns)``; None for short streams."""
        spec = self.specs[key]
        n = self.n_samples(key)
        if n < PYRAMID_MIN_SAMPLES:
            return None
        cell_ns = cell_ns_for(spec.rate_hz)
        side = sidecar_path(self.parquet_path(key))
        with self._pyramid_lock:
            cells = self._pyramid_mem.get(key)
            if cells is None:
                cells = read_sidecar(side, spec.channels, n, cell_ns, start_ns, end_ns)
                if cells is not None:
                    return cells
                cells = self._build_cells(key)
                try:
                    write_sidecar(side, cells, spec.channels, fsync=False)
                except OSError as exc:
                    log.warning("cannot cache min/max sidecar %s (%s)", side, exc)
                    self._pyramid_mem[key] = cells
        a, b = np.searchsorted(cells.t_start_ns, [start_ns, end_ns], side="left")
        return cells.slice(int(a), int(b))

    def _build_cells(self, key: str) -> Cells:
        spec = self.specs[key]
        builder = CellBuilder(cell_ns_for(spec.rate_hz), spec.n_channels)
        for batch in self._open(key).iter_batches(batch_size=ROW_GROUP_ROWS):
            builder.update(*_table_arrays(pa.Table.from_batches([batch]), spec))
        cells = builder.finish()
        if cells.n_samples != self.n_samples(key):
            raise RecordingError(
                f"stream file {self.parquet_path(key)} holds {cells.n_samples} samples, the "
                f"manifest says {self.n_samples(key)}; the recording is inconsistent",
                reason="bad_stream_file",
            )
        return cells

    def quality(self, key: str) -> dict | None:
        """EMG quality of stream ``key`` as stored at close, or None if none was recorded.

        Returns
        -------
        dict or None
            ``{"channels": {name: [[start_ns, end_ns, status], ...]}, "summary": {name:
            {"good_share": float or None, "seconds": {status: s}}}}``.
        """
        q = self._stream(key).get("quality")
        return q if q else None

    def gaps(self, key: str) -> list[Gap]:
        """Gaps of stream ``key`` in time order."""
        self._stream(key)
        return [g for _, g in self._gaps.get(key, [])]

    def iter_blocks(self, key: str, block_samples: int = 1024) -> Iterator[SampleBlock]:
        """Replay stream ``key`` as :class:`SampleBlock` s of at most ``block_samples``.

        Blocks are split at gaps, so each gap is attached to the block that follows it and
        ``first_index`` counts the missing samples, as when the stream was recorded. Gaps
        after the last sample come in a final empty block.
        """
        if block_samples < 1:
            raise RecordingError(f"block_samples must be >= 1 (got {block_samples})")
        info = self._stream(key)
        spec = self.specs[key]
        n = int(info["n_samples"])
        first_index = int(info.get("first_index", 0))
        gaps = self._gaps.get(key, [])
        by_row: dict[int, list[Gap]] = {}
        for r, g in gaps:
            by_row.setdefault(r, []).append(g)
        index = _RowIndex(first_index, gaps)
        # rows where a block must start (a gap comes before them), in order, then n
        cuts = iter([*sorted(r for r in by_row if 0 < r < n), n])
        nxt_cut = next(cuts)
        pf = self._open(key) if n else None
        batch_iter = (
            pf.iter_batches(batch_size=max(block_samples, 4096)) if pf is not None else iter(())
        )
        # samples read but not yet replayed: arrays, and the offset of the first unused row
        buf_t = np.empty(0, np.int64)
        buf_d = np.empty((0, spec.n_channels), np.float32)
        pos = 0
        row = 0
        while row < n:
            while nxt_cut <= row:
                nxt_cut = next(cuts)
            stop = min(row + block_samples, nxt_cut)
            need = stop - row
            if buf_t.shape[0] - pos < need:
                parts_t, parts_d = [buf_t[pos:]], [buf_d[pos:]]
                have = buf_t.shape[0] - pos
                while have < need:
                    b = next(batch_iter)
                    t, d = self._table_to_arrays(pa.Table.from_batches([b]), spec)
                    parts_t.append(t)
                    parts_d.append(d)
                    have += t.shape[0]
                buf_t, buf_d, pos = np.concatenate(parts_t), np.concatenate(parts_d), 0
            yield SampleBlock(
                spec,
                buf_t[pos : pos + need].copy(),
                buf_d[pos : pos + need].copy(),
                first_index=index.at(row),
                gaps=tuple(by_row.get(row, ())),
            )
            pos += need
            row = stop
        tail = [g for r, g in gaps if r >= n]
        if tail:
            yield SampleBlock(
                spec,
                np.empty(0, np.int64),
                np.empty((0, spec.n_channels), np.float32),
                first_index=index.at(n),
                gaps=tuple(tail),
            )

    def duration_s(self) -> float:
        """``(end_ns - start_ns)`` in seconds."""
        return (self.end_ns - self.start_ns) / 1e9


def open_recording(path: str | Path, *, recover: bool = True) -> Recording:
    """Open a recording folder; recover (compact) it first if a crash left it unfinished.

    Parameters
    ----------
    path : str or Path
        The recording folder.
    recover : bool
        If False, a crashed recording is refused instead of recovered.

    Raises
    ------
    RecordingError
        The folder does not exist, is not a recording, has a corrupt manifest, is still
        being written by a live writer, or needs recovery and ``recover`` is False.
    """
    p = Path(path)
    if not p.is_dir():
        raise RecordingError(f"recording folder {p} does not exist", reason="not_found")
    manifest_p = p / MANIFEST
    has_segments = (p / SEGMENTS).is_dir()
    if manifest_p.exists():
        try:
            manifest = json.loads(manifest_p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RecordingError(
                f"{manifest_p} is corrupt (not valid JSON: {exc}). The stream files "
                f"{sorted(x.name for x in p.glob('*.parquet'))} are intact; restore the "
                "manifest from a backup",
                reason="bad_manifest",
            ) from exc
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
            raise RecordingError(
                f"{manifest_p} is not a spasmwatch recording manifest "
                f"(expected format {FORMAT_NAME!r})",
                reason="bad_manifest",
            )
        if int(manifest.get("format_version", 0)) > FORMAT_VERSION:
            raise RecordingError(
                f"{p} has recording format version {manifest['format_version']}, this "
                f"spasmwatch reads up to {FORMAT_VERSION}; upgrade spasmwatch",
                reason="format_version",
            )
        if has_segments and recover:
            # A compaction was interrupted after the manifest was written: the manifest
            # lists everything, the leftover segments are already in Parquet.
            shutil.rmtree(p / SEGMENTS, ignore_errors=True)
        return Recording(p, manifest)
    if not has_segments and not (p / JOURNAL).exists():
        raise RecordingError(
            f"{p} is not a spasmwatch recording: no {MANIFEST}, no {JOURNAL}, no {SEGMENTS}/",
            reason="not_a_recording",
        )
    lock = _try_lock(p / LOCK)
    if lock is None:
        raise RecordingError(
            f"recording {p} is still being written by a live process; open it after "
            "that recording is closed",
            reason="in_progress",
        )
    try:
        if not recover:
            raise RecordingError(
                f"recording {p} was not closed (crash?) and needs recovery; open it with "
                "recover=True to compact its segments",
                reason="needs_recovery",
            )
        log.warning("recording %s was not closed; recovering it", p)
        rec = _compact(p, recovered=True)
        with contextlib.suppress(OSError):
            (p / LOCK).unlink()
        return rec
    finally:
        lock.close()


def write_recording(
    path: str | Path,
    blocks: Iterable[SampleBlock],
    *,
    devices: list[dict] | None = None,
    meta: dict | None = None,
    models: dict | None = None,
    annotations: list[dict] | None = None,
    specs: Iterable[StreamSpec] = (),
) -> Recording:
    """Write ``blocks`` (any mix of streams, each in time order) as a closed recording.

    For offline producers (simulator, import). The start is the earliest sample; the end is
    the last sample plus one period. ``specs`` declares streams that may get no samples.
    """
    it = iter(blocks)
    lead: list[SampleBlock] = []  # blocks before the first sample (gaps only)
    for b in it:
        lead.append(b)
        if b.n_samples:
            break
    start = int(lead[-1].t_ns[0]) if lead and lead[-1].n_samples else None
    if start is None:
        start = min((g.start_ns for b in lead for g in b.gaps), default=0)
    writer = RecordingWriter(
        path,
        start_ns=start,
        devices=devices,
        meta=meta,
        models=models,
        annotations=annotations,
        flush_interval_s=3600.0,
        clock=_Counter(),
        fsync=False,
    )
    try:
        for s in specs:
            writer.add_stream(s)
        for b in lead:
            writer.write(b)
        pending = 0
        for b in it:
            writer.write(b)
            pending += b.n_samples
            if pending >= ROW_GROUP_ROWS:
                writer.flush()
                pending = 0
    except BaseException:
        writer.abort()
        raise
    return writer.close()


class _Counter:
    """A clock for offline writing: never triggers time-based flushes."""

    def __call__(self) -> int:
        return 0
