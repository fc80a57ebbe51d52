"""Import CSV/text and EDF/EDF+ files as recordings.

Inconsistent input is refused with :class:`~spasmwatch.errors.ImportFormatError` naming the
file, the 1-based line and the problem; with ``skip_bad_rows=True`` bad rows are skipped,
counted in the :class:`ImportReport`, and become gaps (cause ``"import"``) where the time
column or the sample rate says samples are missing. Nothing is silently glued together.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spasmwatch.core import STREAM_KINDS, Gap, SampleBlock, StreamSpec
from spasmwatch.errors import ImportFormatError
from spasmwatch.store._recording import Recording, write_recording

__all__ = ["TIME_COLUMN_NAMES", "ImportReport", "import_csv", "import_edf"]

#: Column names recognised as the time column when a header is present, with their unit.
TIME_COLUMN_NAMES: dict[str, str | None] = {
    "t": None,
    "time": None,
    "timestamp": None,
    "time_s": "s",
    "t_s": "s",
    "time_ms": "ms",
    "t_ms": "ms",
    "time_us": "us",
    "t_us": "us",
    "t_ns": "ns",
    "time_ns": "ns",
}
_UNIT_NS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
#: Times at least this large (in ns) are taken as absolute UTC (after 2001-09-09).
_ABSOLUTE_NS = 1_000_000_000 * 1_000_000_000
_N_BAD_LISTED = 10
_RATE_TOLERANCE = 0.01
_BLOCK_ROWS = 65_536


@dataclass
class ImportReport:
    """What an import read, kept and skipped.

    Attributes
    ----------
    source : str
        The imported file.
    rows_read : int
        Data rows (or EDF samples of the longest signal) read, bad ones included.
    rows_imported : int
        Rows stored as samples.
    rows_skipped : int
        Bad rows skipped (``skip_bad_rows=True`` only).
    skipped_by_reason : dict of str to int
        ``{"ragged": 2, "non_numeric": 1, "time_backwards": 0, ...}`` (only non-zero).
    bad_rows : list of (int, str)
        The first few skipped rows as (1-based line number, problem).
    gaps : int
        Gaps stored (skipped rows where samples are missing, and holes in a time column).
    streams : list of str
        Keys of the streams written.
    rate_hz : dict of str to float
        Sample rate of each stream.
    start_ns : int
        Start of the recording, UTC ns, and ``start_source``: where it came from
        (``"option"``, ``"time_column"``, ``"edf_header"``, ``"file_mtime"``).
    """

    source: str
    rows_read: int = 0
    rows_imported: int = 0
    rows_skipped: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    bad_rows: list[tuple[int, str]] = field(default_factory=list)
    gaps: int = 0
    streams: list[str] = field(default_factory=list)
    rate_hz: dict[str, float] = field(default_factory=dict)
    start_ns: int = 0
    start_source: str = ""

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (``spasmwatch import --json``)."""
        return {
            "source": self.source,
            "rows_read": self.rows_read,
            "rows_imported": self.rows_imported,
            "rows_skipped": self.rows_skipped,
            "skipped_by_reason": dict(self.skipped_by_reason),
            "bad_rows": [{"row": r, "problem": p} for r, p in self.bad_rows],
            "gaps": self.gaps,
            "streams": list(self.streams),
            "rate_hz": dict(self.rate_hz),
            "start_ns": self.start_ns,
            "start_source": self.start_source,
        }


# --------------------------------------------------------------------------- CSV helpers


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _splitter(delimiter: str | None):
    if delimiter is None or delimiter in ("whitespace", " "):
        return str.split
    return lambda line: [f.strip() for f in line.split(delimiter)]


def _sniff_delimiter(lines: list[str]) -> str | None:
    """Comma, semicolon or tab if every sample line splits into the same >1 fields by it;
    else None (whitespace)."""
    for d in (",", ";", "\t"):
        counts = {len(line.split(d)) for line in lines}
        if len(counts) == 1 and counts.pop() > 1:
            return d
    for d in (",", ";", "\t"):  # ragged, but clearly delimited by it
        if sum(d in line for line in lines) >= 0.5 * len(lines):
            return d
    return None


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _resolve_column(
    col: int | str, names: list[str] | None, n_fields: int, path: Path, what: str
) -> int:
    if isinstance(col, str) and re.fullmatch(r"-?\d+", col.strip()):
        col = int(col)
    if isinstance(col, int):
        idx = col if col >= 0 else n_fields + col
        if not 0 <= idx < n_fields:
            raise ImportFormatError(
                f"{path}: {what} {col} does not exist; rows have {n_fields} columns "
                f"(0..{n_fields - 1}, counting from 0)",
                reason="bad_column",
            )
        return idx
    if names is None or col not in names:
        raise ImportFormatError(
            f"{path}: {what} {col!r} not found; the header names "
            f"{names if names is not None else 'nothing (the file has no header)'}. "
            "Give the column by number (counting from 0) or by a header name",
            reason="bad_column",
        )
    return names.index(col)


class _Bad:
    """Collects bad rows: raises on the first one unless skipping."""

    def __init__(self, path: Path, skip: bool, report: ImportReport) -> None:
        self.path, self.skip, self.report = path, skip, report
        self.reasons: Counter[str] = Counter()

    def __call__(self, line_no: int, kind: str, problem: str, fix: str) -> None:
        if not self.skip:
            raise ImportFormatError(
                f"{self.path}: row {line_no}: {problem}. {fix}, or pass --skip-bad-rows "
                "(skip_bad_rows=True) to skip such rows and count them",
                reason=kind,
            )
        self.reasons[kind] += 1
        if len(self.report.bad_rows) < _N_BAD_LISTED:
            self.report.bad_rows.append((line_no, problem))


def _estimate_period_ns(t: np.ndarray) -> float | None:
    """Mean of the regular sample intervals, in ns.

    Regular: within 0.5..1.5 x the 25th-percentile interval, so holes in the time column do
    not count and timestamps quantised to whole ms (15, 16, 16, 15 ms at 64 Hz) average out.
    """
    if t.shape[0] < 2:
        return None
    dt = np.diff(t).astype(np.float64)
    med = float(np.percentile(dt, 25))
    if med <= 0:
        return None
    regular = dt[(dt >= 0.5 * med) & (dt <= 1.5 * med)]
    return float(regular.mean()) if regular.size else med


def _round_rate(rate: float) -> float:
    """Round an estimated rate to 4 significant digits (64.0003 Hz -> 64.0 Hz)."""
    if rate <= 0 or not math.isfinite(rate):
        return rate
    digits = 3 - math.floor(math.log10(rate))
    return round(rate, digits)


def _blocks(
    spec: StreamSpec,
    t: np.ndarray,
    data: np.ndarray,
    index: np.ndarray,
    gaps_before: dict[int, Gap],
    tail_gap: Gap | None,
) -> Iterator[SampleBlock]:
    """Cut samples into blocks at gaps (gap i lies before sample position i)."""
    n = t.shape[0]
    cuts = sorted({0, *gaps_before, n})
    for a, b in itertools.pairwise(cuts):
        for s in range(a, b, _BLOCK_ROWS):
            e = min(s + _BLOCK_ROWS, b)
            g = (gaps_before[s],) if s in gaps_before else ()
            yield SampleBlock(spec, t[s:e], data[s:e], first_index=int(index[s]), gaps=g)
    if tail_gap is not None:
        yield SampleBlock(
            spec,
            np.empty(0, np.int64),
            np.empty((0, spec.n_channels), np.float32),
            first_index=int(index[-1]) + 1 + tail_gap.n_missing if n else tail_gap.n_missing,
            gaps=(tail_gap,),
        )


# --------------------------------------------------------------------------- CSV


def import_csv(
    path: str | Path,
    out: str | Path,
    *,
    kind: str,
    units: str,
    rate_hz: float | None = None,
    scale: float = 1.0,
    device: str = "import",
    channels: Sequence[str] | None = None,
    time_column: int | str | None = None,
    time_unit: str | None = None,
    has_header: bool | None = None,
    delimiter: str | None = None,
    skip_bad_rows: bool = False,
    ignore_columns: Sequence[int | str] = (),
    start_ns: int | None = None,
) -> tuple[Recording, ImportReport]:
    """Import a delimited text file (one sample per row) as a one-stream recording.

    Parameters
    ----------
    path : str or Path
        The CSV/text file.
    out : str or Path
        The recording folder to create (must not exist or be empty).
    kind : str
        Stream kind (``"emg"``, ``"acc"``...).
    units : str
        Units of the values after ``scale`` (``"counts"``, ``"mG"``, ``"uV"``).
    rate_hz : float, optional
        Sample rate in Hz. Required without a time column; with one, it must agree with
        the time column's mean regular interval within 1 %.
    scale : float
        Values are multiplied by this.
    device : str
        Device name of the stream (key ``"<device>.<kind>"``).
    channels : sequence of str, optional
        Channel names; default the header names, else ``ch1..chN``.
    time_column : int or str, optional
        Column (0-based number or header name) holding each row's time. Default: a header
        column named t, time, time_s, time_ms, timestamp or t_ns; else none (times from
        ``rate_hz``).
    time_unit : {"s", "ms", "us", "ns"}, optional
        Unit of the time column (default from its name, else seconds). Times of at least
        1e9 s are absolute UTC; smaller ones are relative to the start.
    has_header : bool, optional
        Default: detected (a first line with a non-numeric field is a header).
    delimiter : str, optional
        Default: detected among comma, semicolon, tab, whitespace.
    skip_bad_rows : bool
        Skip and count ragged rows, non-numeric or non-finite cells and times that do not
        increase, instead of refusing the file.
    ignore_columns : sequence of int or str
        Columns kept out of the channels (e.g. a label column).
    start_ns : int, optional
        UTC ns of the first sample (relative times). Default: the file's modification time.

    Returns
    -------
    recording : Recording
    report : ImportReport

    Raises
    ------
    ImportFormatError
        Naming the file, the 1-based row and the problem.
    """
    path = Path(path)
    if kind not in STREAM_KINDS:
        raise ImportFormatError(
            f"--kind must be one of {sorted(STREAM_KINDS)} (got {kind!r})", reason="bad_kind"
        )
    if time_unit is not None and time_unit not in _UNIT_NS:
        raise ImportFormatError(
            f"--time-unit must be one of {sorted(_UNIT_NS)} (got {time_unit!r})",
            reason="bad_unit",
        )
    if rate_hz is not None and not (rate_hz > 0 and math.isfinite(rate_hz)):
        raise ImportFormatError(f"--rate must be > 0 Hz (got {rate_hz!r})", reason="bad_rate")
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise ImportFormatError(f"cannot read {path}: {exc}", reason="io") from exc
    lines = text.splitlines()
    numbered = [(i + 1, ln) for i, ln in enumerate(lines) if ln.strip()]
    if not numbered:
        raise ImportFormatError(
            f"{path}: the file is empty; nothing to import. Check the file name",
            reason="empty",
        )
    sample = [ln for _, ln in numbered[:50]]
    if delimiter is None:
        delimiter = _sniff_delimiter(sample)
    split = _splitter(delimiter)
    first_fields = split(numbered[0][1])
    if has_header is None:
        has_header = not all(_is_number(f) for f in first_fields if f != "")
    names: list[str] | None = [f.strip().strip('"') for f in first_fields] if has_header else None
    rows = numbered[1:] if has_header else numbered
    if not rows:
        raise ImportFormatError(
            f"{path}: the file has a header but no data rows; nothing to import",
            reason="empty",
        )
    n_fields = (
        len(names)
        if names is not None
        else Counter(len(split(ln)) for _, ln in rows[:50]).most_common(1)[0][0]
    )

    # --- which column is what
    t_col: int | None = None
    if time_column is not None:
        t_col = _resolve_column(time_column, names, n_fields, path, "time column")
    elif names is not None:
        lowered = [nm.lower() for nm in names]
        t_col = next((i for i, nm in enumerate(lowered) if nm in TIME_COLUMN_NAMES), None)
    if t_col is not None and time_unit is None:
        name_unit = TIME_COLUMN_NAMES.get(names[t_col].lower()) if names is not None else None
        time_unit = name_unit or "s"
    ignored = {_resolve_column(c, names, n_fields, path, "ignored column") for c in ignore_columns}
    data_cols = [i for i in range(n_fields) if i != t_col and i not in ignored]
    if not data_cols:
        raise ImportFormatError(
            f"{path}: no data columns left (time column {t_col}, ignored {sorted(ignored)})",
            reason="no_channels",
        )
    if channels is not None:
        channels = [str(c) for c in channels]
        if len(channels) != len(data_cols):
            raise ImportFormatError(
                f"{path}: --channels names {len(channels)} channels but the file has "
                f"{len(data_cols)} data columns ({data_cols})",
                reason="bad_channels",
            )
    elif names is not None:
        channels = [names[i] or f"ch{k + 1}" for k, i in enumerate(data_cols)]
        if len(set(channels)) != len(channels):
            channels = [f"ch{k + 1}" for k in range(len(data_cols))]
    else:
        channels = [f"ch{k + 1}" for k in range(len(data_cols))]

    # --- parse rows
    report = ImportReport(source=str(path))
    bad = _Bad(path, skip_bad_rows, report)
    fix_ragged = f"Every row must have {n_fields} fields"
    vals: list[list[float]] = []
    times: list[float] = []
    ordinals: list[int] = []  # position of each kept row among all data rows
    bad_between: list[int] = []  # number of bad rows right before each kept row
    n_bad_run = 0
    unit_ns = _UNIT_NS[time_unit] if time_unit else 1
    last_t: float | None = None
    for ordinal, (line_no, line) in enumerate(rows):
        fields = split(line)
        if len(fields) != n_fields:
            bad(
                line_no,
                "ragged",
                f"expected {n_fields} fields, found {len(fields)} ({line.strip()[:60]!r})",
                fix_ragged,
            )
            n_bad_run += 1
            continue
        try:
            row = [float(f) for f in fields]
        except ValueError:
            cell = next(f for f in fields if not _is_number(f))
            bad(line_no, "non_numeric", f"cell {cell!r} is not a number", "Fix or remove the row")
            n_bad_run += 1
            continue
        if not all(math.isfinite(row[i]) for i in data_cols) or (
            t_col is not None and not math.isfinite(row[t_col])
        ):
            bad(line_no, "non_finite", "a cell is NaN or infinite", "Fix or remove the row")
            n_bad_run += 1
            continue
        if t_col is not None:
            tv = row[t_col]
            if last_t is not None and tv <= last_t:
                problem = "goes backwards" if tv < last_t else "repeats the previous time"
                bad(
                    line_no,
                    "time_backwards" if tv < last_t else "time_repeated",
                    f"time {fields[t_col]} {problem} (previous row: {last_t:g} {time_unit})",
                    "Rows must be in time order",
                )
                n_bad_run += 1
                continue
            last_t = tv
            times.append(tv)
        vals.append([row[i] for i in data_cols])
        ordinals.append(ordinal)
        bad_between.append(n_bad_run)
        n_bad_run = 0
    trailing_bad = n_bad_run
    report.rows_read = len(rows)
    report.rows_skipped = sum(bad.reasons.values())
    report.skipped_by_reason = dict(bad.reasons)
    report.rows_imported = len(vals)
    if not vals:
        raise ImportFormatError(
            f"{path}: no valid data rows ({report.rows_skipped} bad rows skipped: "
            f"{report.skipped_by_reason}); nothing to import",
            reason="empty",
        )
    data = np.asarray(vals, dtype=np.float64) * scale
    data = data.astype(np.float32)

    # --- time base
    if t_col is not None:
        t_rel = np.round(np.asarray(times, dtype=np.float64) * unit_ns).astype(np.int64)
        absolute = abs(float(times[0])) * unit_ns >= _ABSOLUTE_NS
        period = _estimate_period_ns(t_rel)
        if rate_hz is None:
            if period is None:
                raise ImportFormatError(
                    f"{path}: one row only; cannot tell the sample rate from the time column. "
                    "Pass --rate",
                    reason="no_rate",
                )
            rate_hz = _round_rate(1e9 / period)
        elif period is not None and abs(1e9 / rate_hz - period) > _RATE_TOLERANCE * period:
            raise ImportFormatError(
                f"{path}: --rate {rate_hz:g} Hz contradicts the time column (column {t_col}, "
                f"unit {time_unit}): its sample interval is {period / 1e6:.4g} ms = "
                f"{1e9 / period:.4g} Hz, more than 1 % away. Check --rate and --time-unit, "
                "or leave --rate out to use the time column's rate",
                reason="rate_mismatch",
            )
        if absolute:
            t_ns = t_rel
            start_source = "time_column"
            if start_ns is not None:
                t_ns = t_ns - t_ns[0] + start_ns
                start_source = "option"
        else:
            if start_ns is None:
                start_ns, start_source = int(path.stat().st_mtime_ns), "file_mtime"
            else:
                start_source = "option"
            t_ns = t_rel + int(start_ns)
    else:
        if rate_hz is None:
            raise ImportFormatError(
                f"{path}: no time column, so the sample rate must be given: pass --rate HZ "
                "(or --time-column if a column holds the time)",
                reason="no_rate",
            )
        if start_ns is None:
            start_ns, start_source = int(path.stat().st_mtime_ns), "file_mtime"
        else:
            start_source = "option"
        t_ns = int(start_ns) + np.round(
            np.asarray(ordinals, dtype=np.float64) * (1e9 / rate_hz)
        ).astype(np.int64)

    spec = StreamSpec(
        device=device, kind=kind, channels=tuple(channels), rate_hz=rate_hz, units=units
    )
    period_ns = spec.period_ns

    # --- gaps and stream indices
    gaps_before: dict[int, Gap] = {}
    index = np.empty(len(t_ns), dtype=np.int64)
    tail_gap: Gap | None = None
    if t_col is None:
        # every data row is one sample: bad rows are missing samples
        index[:] = ordinals
        for pos in np.flatnonzero(np.asarray(bad_between) > 0):
            k = int(bad_between[pos])
            t_after = int(t_ns[pos])
            gaps_before[int(pos)] = Gap(t_after - round(k * period_ns), t_after, k, "import")
        if trailing_bad:
            t_start = int(t_ns[-1]) + round(period_ns)
            tail_gap = Gap(
                t_start, t_start + round(trailing_bad * period_ns), trailing_bad, "import"
            )
    else:
        index[0] = 0
        dt = np.diff(t_ns)
        missing = np.maximum(np.round(dt / period_ns).astype(np.int64) - 1, 0)
        missing[dt <= 1.5 * period_ns] = 0
        index[1:] = np.arange(1, len(t_ns)) + np.cumsum(missing)
        for pos in np.flatnonzero(missing) + 1:
            cause = "import" if bad_between[pos] else "unknown"
            gaps_before[int(pos)] = Gap(
                int(t_ns[pos - 1]) + round(period_ns), int(t_ns[pos]), int(missing[pos - 1]), cause
            )
    report.gaps = len(gaps_before) + (tail_gap is not None)
    report.streams = [spec.key]
    report.rate_hz = {spec.key: spec.rate_hz}
    report.start_ns = int(t_ns[0])
    report.start_source = start_source

    meta = {
        "import": {
            "source": path.name,
            "format": "csv",
            "sha256": _sha256(path),
            "options": {
                "kind": kind,
                "units": units,
                "rate_hz": rate_hz,
                "scale": scale,
                "time_column": t_col,
                "time_unit": time_unit,
                "delimiter": delimiter or "whitespace",
                "has_header": has_header,
                "ignore_columns": sorted(ignored),
                "skip_bad_rows": skip_bad_rows,
            },
            "report": report.to_dict(),
        }
    }
    devices = [{"id": device, "profile": "import", "name": path.name}]
    rec = write_recording(
        out,
        _blocks(spec, t_ns, data, index, gaps_before, tail_gap),
        devices=devices,
        meta=meta,
    )
    return rec, report


# --------------------------------------------------------------------------- EDF

_KIND_PATTERNS = [
    ("emg", re.compile(r"emg", re.I)),
    ("ecg", re.compile(r"ecg|ekg", re.I)),
    ("gyro", re.compile(r"gyr", re.I)),
    ("mag", re.compile(r"\bmag", re.I)),
    ("acc", re.compile(r"acc", re.I)),
]
_ACC_UNITS = {"g", "mg", "m/s2", "m/s^2", "m/s²"}


def _edf_kind(label: str, units: str) -> str | None:
    for kind, pat in _KIND_PATTERNS:
        if pat.search(label):
            return kind
    if units.strip().lower() in _ACC_UNITS:
        return "acc"
    return None


def _slug(s: str) -> str:
    s = re.sub(r"[^a-z0-9_\-]+", "-", s.lower()).strip("-_")
    return s or "edf"


def import_edf(
    path: str | Path,
    out: str | Path,
    *,
    kind: str | None = None,
    device: str = "import",
    scale: float = 1.0,
    units: str | None = None,
    start_ns: int | None = None,
) -> tuple[Recording, ImportReport]:
    """Import an EDF or EDF+ file: signals grouped into streams, annotations kept.

    Signals with the same kind, sample rate and physical unit form one stream. The kind
    comes from ``kind`` (all signals) or from each label (EMG, ECG/EKG, ACC, GYRO, MAG) or
    an acceleration unit (g, mg, m/s2). EDF+ annotations go to the manifest's
    ``annotations`` as ``{"onset_ns", "duration_s", "text"}``.

    Parameters
    ----------
    path : str or Path
        The ``.edf`` file.
    out : str or Path
        The recording folder to create.
    kind : str, optional
        Stream kind for every signal; default guessed per signal.
    device : str
        Device name; a second stream of the same kind gets ``<device>-2`` and so on.
    scale : float
        Physical values are multiplied by this (then ``units`` should say the new unit).
    units : str, optional
        Override of the header's physical dimension for every signal.
    start_ns : int, optional
        UTC ns of the start. Default: the header's start date and time, read as UTC (EDF
        does not record a time zone).

    Raises
    ------
    ImportFormatError
        The file is not readable EDF, has no signals, or a signal's kind cannot be told.
    """
    try:
        import pyedflib
    except ImportError as exc:  # pragma: no cover - pyedflib is in the [edf] extra
        raise ImportFormatError(
            "reading EDF needs pyedflib: pip install 'spasmwatch[edf]'", reason="missing_dep"
        ) from exc
    path = Path(path)
    if kind is not None and kind not in STREAM_KINDS:
        raise ImportFormatError(
            f"--kind must be one of {sorted(STREAM_KINDS)} (got {kind!r})", reason="bad_kind"
        )
    try:
        reader = pyedflib.EdfReader(str(path))
    except OSError as exc:
        raise ImportFormatError(
            f"{path}: not a readable EDF/EDF+ file ({exc}). Check that it is EDF, or "
            "import it as CSV",
            reason="bad_edf",
        ) from exc
    try:
        n_sig = reader.signals_in_file
        if n_sig == 0:
            raise ImportFormatError(f"{path}: the EDF file has no signals", reason="empty")
        groups: dict[tuple[str, float, str], list[int]] = {}
        for i in range(n_sig):
            label = reader.getLabel(i).strip()
            unit = units or reader.getPhysicalDimension(i).strip() or "unknown"
            k = kind or _edf_kind(label, unit)
            if k is None:
                raise ImportFormatError(
                    f"{path}: cannot tell the stream kind of signal {i} {label!r} (unit "
                    f"{unit!r}); pass --kind (one of {sorted(STREAM_KINDS)})",
                    reason="unknown_kind",
                )
            groups.setdefault((k, float(reader.getSampleFrequency(i)), unit), []).append(i)
        if start_ns is None:
            dt = reader.getStartdatetime().replace(tzinfo=datetime.UTC)
            start_ns = int(dt.replace(microsecond=0).timestamp()) * 1_000_000_000
            start_ns += dt.microsecond * 1000
            start_source = "edf_header"
        else:
            start_source = "option"
        report = ImportReport(source=str(path), start_ns=int(start_ns), start_source=start_source)
        blocks: list[SampleBlock] = []
        seen_keys: Counter[str] = Counter()
        for (k, fs, unit), idxs in groups.items():
            labels = [reader.getLabel(i).strip() or f"ch{j + 1}" for j, i in enumerate(idxs)]
            if len(set(labels)) != len(labels):
                labels = [f"{lab}-{j + 1}" for j, lab in enumerate(labels)]
            n = int(min(reader.getNSamples()[i] for i in idxs))
            data = np.empty((n, len(idxs)), dtype=np.float32)
            for j, i in enumerate(idxs):
                data[:, j] = (reader.readSignal(i)[:n] * scale).astype(np.float32)
            seen_keys[k] += 1
            dev = device if seen_keys[k] == 1 else f"{device}-{seen_keys[k]}"
            spec = StreamSpec(dev, k, tuple(labels), fs, unit)
            t_ns = int(start_ns) + np.round(np.arange(n) * (1e9 / fs)).astype(np.int64)
            for s in range(0, n, _BLOCK_ROWS):
                blocks.append(
                    SampleBlock(spec, t_ns[s : s + _BLOCK_ROWS], data[s : s + _BLOCK_ROWS], s)
                )
            report.streams.append(spec.key)
            report.rate_hz[spec.key] = spec.rate_hz
            report.rows_read = max(report.rows_read, n)
            report.rows_imported = max(report.rows_imported, n)
        onsets, durations, texts = reader.readAnnotations()
        annotations = [
            {
                "onset_ns": int(start_ns) + round(float(o) * 1e9),
                "duration_s": float(d) if d is not None and float(d) >= 0 else None,
                "text": str(tx),
            }
            for o, d, tx in zip(onsets, durations, texts, strict=True)
        ]
        header = {
            "technician": reader.getTechnician(),
            "equipment": reader.getEquipment(),
            "recording_additional": reader.getRecordingAdditional(),
        }
    finally:
        reader.close()
    meta = {
        "import": {
            "source": path.name,
            "format": "edf",
            "sha256": _sha256(path),
            "edf_header": header,
            "options": {"kind": kind, "scale": scale, "units": units},
            "report": report.to_dict(),
        }
    }
    devices = [{"id": device, "profile": "import", "name": path.name}]
    rec = write_recording(out, blocks, devices=devices, meta=meta, annotations=annotations)
    return rec, report
