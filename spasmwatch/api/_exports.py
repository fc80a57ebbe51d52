"""Exports of episodes and recordings: CSV, Parquet, FHIR R4 and EDF+.

Pure functions from store values to bytes (or a JSON-ready dict); the HTTP layer only
streams what they return. Exports carry the wearer's pseudonymous id, never a name.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import os
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from spasmwatch._version import __version__
from spasmwatch.episodes._types import Episode
from spasmwatch.errors import ConfigError

__all__ = [
    "EPISODE_COLUMNS",
    "FHIR_SPASM_SYSTEM",
    "SNOMED_SPASM",
    "episodes_csv",
    "episodes_fhir_bundle",
    "episodes_parquet",
    "recording_edf",
]

#: Columns of the CSV and Parquet exports, in order.
EPISODE_COLUMNS = (
    "id",
    "wearer_id",
    "start_utc",
    "end_utc",
    "start_ns",
    "end_ns",
    "duration_s",
    "type",
    "severity",
    "peak_intensity",
    "confidence",
    "source",
    "model_id",
    "device",
    "placement",
    "recording_id",
)

#: Local code system for what SNOMED CT has no exact concept for (spasm type, severity...).
FHIR_SPASM_SYSTEM = "https://spasmwatch.example/fhir/CodeSystem/spasm"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
#: SNOMED CT 45352006 |Spasm (finding)|: the Observation's code.
SNOMED_SPASM = "45352006"


def _iso(t_ns: int) -> str:
    """UTC ISO 8601 with millisecond precision and a ``Z``."""
    s, ns = divmod(int(t_ns), 10**9)
    d = dt.datetime.fromtimestamp(s, tz=dt.UTC).replace(microsecond=ns // 1000)
    return d.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _row(e: Episode) -> dict[str, Any]:
    return {
        "id": e.id,
        "wearer_id": e.wearer_id,
        "start_utc": _iso(e.start_ns),
        "end_utc": _iso(e.end_ns),
        "start_ns": e.start_ns,
        "end_ns": e.end_ns,
        "duration_s": round(e.duration_s, 3),
        "type": e.type,
        "severity": e.severity,
        "peak_intensity": e.peak_intensity,
        "confidence": e.confidence,
        "source": e.source,
        "model_id": e.model_id,
        "device": e.device,
        "placement": e.placement,
        "recording_id": e.recording_id,
    }


def episodes_csv(episodes: Iterable[Episode]) -> bytes:
    """Episodes as UTF-8 CSV with a header row (:data:`EPISODE_COLUMNS`)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=EPISODE_COLUMNS, lineterminator="\n")
    w.writeheader()
    for e in episodes:
        row = _row(e)
        # Cells starting with = + - @ would be formulas in a spreadsheet: quote them.
        for k, v in row.items():
            if isinstance(v, str) and v[:1] in ("=", "+", "-", "@"):
                row[k] = "'" + v
        w.writerow(row)
    return buf.getvalue().encode("utf-8")


_PARQUET_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("wearer_id", pa.string()),
        ("start_utc", pa.timestamp("ns", tz="UTC")),
        ("end_utc", pa.timestamp("ns", tz="UTC")),
        ("start_ns", pa.int64()),
        ("end_ns", pa.int64()),
        ("duration_s", pa.float64()),
        ("type", pa.string()),
        ("severity", pa.string()),
        ("peak_intensity", pa.float64()),
        ("confidence", pa.float64()),
        ("source", pa.string()),
        ("model_id", pa.string()),
        ("device", pa.string()),
        ("placement", pa.string()),
        ("recording_id", pa.string()),
    ],
    metadata={"spasmwatch.export": "episodes", "spasmwatch.version": __version__},
)


def episodes_parquet(episodes: Iterable[Episode]) -> bytes:
    """Episodes as a Parquet file (columns :data:`EPISODE_COLUMNS`, times as UTC timestamps)."""
    rows = [_row(e) for e in episodes]
    cols: dict[str, list[Any]] = {name: [r[name] for r in rows] for name in EPISODE_COLUMNS}
    cols["start_utc"] = cols["start_ns"]
    cols["end_utc"] = cols["end_ns"]
    table = pa.Table.from_pydict(cols, schema=_PARQUET_SCHEMA)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def _coding(system: str, code: str, display: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display}


def _observation(e: Episode) -> dict[str, Any]:
    components = [
        {
            "code": {"coding": [_coding(FHIR_SPASM_SYSTEM, "spasm-type", "Spasm type")]},
            "valueCodeableConcept": {
                "coding": [_coding(FHIR_SPASM_SYSTEM, e.type, f"{e.type.capitalize()} spasm")]
            },
        },
        {
            "code": {"coding": [_coding(FHIR_SPASM_SYSTEM, "severity", "Spasm severity")]},
            "valueCodeableConcept": {
                "coding": [_coding(FHIR_SPASM_SYSTEM, e.severity, e.severity.capitalize())]
            },
        },
        {
            "code": {"coding": [_coding(FHIR_SPASM_SYSTEM, "duration", "Episode duration")]},
            "valueQuantity": {
                "value": round(e.duration_s, 3),
                "unit": "s",
                "system": UCUM,
                "code": "s",
            },
        },
        {
            "code": {
                "coding": [_coding(FHIR_SPASM_SYSTEM, "peak-intensity", "Peak muscle activity")]
            },
            "valueQuantity": {
                "value": round(e.peak_intensity, 3),
                "unit": "× resting baseline",
                "system": UCUM,
                "code": "1",
            },
        },
    ]
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": e.id,
        # A detector's episode is preliminary until a human confirms it.
        "status": "preliminary" if e.source == "auto" else "final",
        "code": {
            "coding": [
                _coding(SNOMED, SNOMED_SPASM, "Spasm"),
                _coding(FHIR_SPASM_SYSTEM, "spasm-episode", "Spasm episode"),
            ],
            "text": f"{e.type} spasm episode",
        },
        "subject": {
            "identifier": {
                "system": "https://spasmwatch.example/fhir/wearer",
                "value": e.wearer_id,
            }
        },
        "effectivePeriod": {"start": _iso(e.start_ns), "end": _iso(e.end_ns)},
        "method": {
            "coding": [
                _coding(
                    FHIR_SPASM_SYSTEM,
                    "detector" if e.source == "auto" else "report",
                    "Automatic detection from wearable EMG/accelerometer"
                    if e.source == "auto"
                    else "Human label or self-report",
                )
            ]
        },
        "component": components,
    }
    if e.source == "auto" and e.model_id:
        obs["device"] = {"display": f"spasmwatch {__version__}, model {e.model_id}"}
    if e.placement:
        obs["bodySite"] = {"text": e.placement}
    if e.source == "auto":
        obs["note"] = [{"text": f"detector confidence {e.confidence:.2f}"}]
    return obs


def episodes_fhir_bundle(episodes: Iterable[Episode]) -> dict[str, Any]:
    """A FHIR R4 ``Bundle`` of type ``collection`` with one ``Observation`` per episode.

    The Observation code is SNOMED CT 45352006 |Spasm (finding)| plus the local code
    ``spasm-episode``; type, severity, duration and peak intensity are components. See
    ``docs/api.md`` for which codes are standard and which are local.
    """
    entries = [
        {
            "fullUrl": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'spasmwatch:' + e.id)}",
            "resource": _observation(e),
        }
        for e in episodes
    ]
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "collection",
        "timestamp": _iso(time.time_ns()),
        "entry": entries,
    }


# --------------------------------------------------------------------------- EDF+


def _record_duration(rates: Sequence[float]) -> int:
    for d in (1, 2, 4, 5, 10, 20, 25, 50, 100):
        if all(abs(r * d - round(r * d)) < 1e-6 for r in rates):
            return d
    raise ConfigError(
        f"EDF+ needs sample rates that fill whole data records; rates {list(rates)} Hz do not "
        "fit records of up to 100 s. Export to Parquet instead"
    )


def _edf_bound(v: float, up: bool) -> float:
    """``v`` rounded outward to a number whose text fits EDF's 8-character header field."""
    if abs(v) >= 1e7:
        raise ConfigError(
            f"a signal value of {v:g} does not fit EDF's 8-character physical range; "
            "export to Parquet instead"
        )
    for d in range(7, -1, -1):
        q = 10.0**-d
        r = (math.ceil(v / q) if up else math.floor(v / q)) * q
        text = f"{r:.{d}f}"
        if len(text) <= 8 and len(str(float(text))) <= 8:
            return float(text)
    return float(math.ceil(v) if up else math.floor(v))  # pragma: no cover


def recording_edf(
    recording: Any,
    episodes: Iterable[Episode] = (),
    *,
    streams: Sequence[str] | None = None,
) -> bytes:
    """A recording as EDF+ (continuous), episodes and gaps as annotations.

    Parameters
    ----------
    recording : spasmwatch.store.Recording
        The recording to export.
    episodes : iterable of Episode
        Written as annotations ``"spasm <type> <severity> [<source>]"`` at their onset with
        their duration.
    streams : sequence of str, optional
        Stream keys to include (default: all).

    Notes
    -----
    EDF+ stores samples on a regular grid. Each sample is placed at the grid index nearest
    its timestamp; samples missing in a gap are written as 0 **and** annotated
    ``"gap <stream>: <cause>, <n> samples"`` so a reader knows they are not data. The start
    time is UTC (EDF has no time zone field). Labels are ``"<kind> <channel>"`` (EDF allows
    16 characters); the device name is in the transducer field.
    """
    import pyedflib

    keys = list(recording.specs) if streams is None else list(streams)
    if not keys:
        raise ConfigError("the recording has no streams to export")
    specs = [recording.specs[k] for k in keys if k in recording.specs]
    missing = [k for k in keys if k not in recording.specs]
    if missing:
        raise ConfigError(
            f"streams {missing} are not in the recording; it has {sorted(recording.specs)}"
        )
    rates = [s.rate_hz for s in specs]
    rec_s = _record_duration(rates)
    start_ns = int(recording.start_ns)
    dur_s = max((int(recording.end_ns) - start_ns) / 1e9, 1e-9)
    n_records = max(1, math.ceil(dur_s / rec_s))

    headers: list[dict[str, Any]] = []
    signals: list[np.ndarray] = []
    annotations: list[tuple[float, float, str]] = []
    for spec in specs:
        t, data = recording.read(spec.key)
        n_grid = round(spec.rate_hz * rec_s) * n_records
        idx = np.rint((t - start_ns) * (spec.rate_hz / 1e9)).astype(np.int64)
        ok = (idx >= 0) & (idx < n_grid)
        for j, ch in enumerate(spec.channels):
            x = np.zeros(n_grid, dtype=np.float64)
            col = data[ok, j].astype(np.float64)
            col[~np.isfinite(col)] = 0.0
            x[idx[ok]] = col
            lo = float(x.min()) if x.size else -1.0
            hi = float(x.max()) if x.size else 1.0
            if hi - lo < 1e-6:
                lo, hi = lo - 1.0, hi + 1.0
            lo, hi = _edf_bound(lo, up=False), _edf_bound(hi, up=True)
            headers.append(
                {
                    "label": f"{spec.kind} {ch}"[:16],
                    "dimension": spec.units[:8],
                    "sample_frequency": spec.rate_hz,
                    "physical_min": lo,
                    "physical_max": hi,
                    "digital_min": -32768,
                    "digital_max": 32767,
                    "transducer": f"{spec.device} {spec.kind}"[:80],
                    "prefilter": "",
                }
            )
            signals.append(x)
        for g in recording.gaps(spec.key):
            annotations.append(
                (
                    (g.start_ns - start_ns) / 1e9,
                    g.duration_s,
                    f"gap {spec.key}: {g.cause}, {g.n_missing} samples",
                )
            )
    for e in episodes:
        annotations.append(
            (
                (e.start_ns - start_ns) / 1e9,
                e.duration_s,
                f"spasm {e.type} {e.severity} [{e.source}]",
            )
        )

    fd, tmp = tempfile.mkstemp(suffix=".edf")
    os.close(fd)
    try:
        w = pyedflib.EdfWriter(tmp, len(headers), file_type=pyedflib.FILETYPE_EDFPLUS)
        try:
            if rec_s != 1:
                w.setDatarecordDuration(rec_s)
            w.setSignalHeaders(headers)
            s, ns = divmod(start_ns, 10**9)
            w.setStartdatetime(
                dt.datetime.fromtimestamp(s, tz=dt.UTC).replace(tzinfo=None, microsecond=ns // 1000)
            )
            w.setEquipment(f"spasmwatch_{__version__}"[:80])
            w.setRecordingAdditional("start_time_is_UTC")
            w.writeSamples(signals)
            for onset, duration, text in annotations:
                if 0 <= onset <= n_records * rec_s:
                    w.writeAnnotation(onset, max(duration, 0.0), text[:40])
        finally:
            w.close()
        with open(tmp, "rb") as f:
            return f.read()
    finally:
        os.unlink(tmp)
