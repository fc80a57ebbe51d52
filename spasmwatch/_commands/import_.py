"""``spasmwatch import FILE --out DIR``: a CSV/text or EDF/EDF+ file as a recording."""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

from spasmwatch.errors import ConfigError

HELP = (
    "Turn a CSV/text file (one sample per row) or an EDF/EDF+ file into a recording folder. "
    "Inconsistent rows are refused with the row named, or skipped and counted with "
    "--skip-bad-rows (they become gaps where samples are missing). Examples: "
    "Myo CSV: spasmwatch import 2.txt --out rec --kind emg --rate 200 --units counts "
    "--ignore-column 8 --skip-bad-rows; Daphnet: spasmwatch import S01R02.txt --out rec "
    "--kind acc --units mG --time-column 0 --time-unit ms --ignore-column 10"
)


def _column(v: str) -> int | str:
    return int(v) if v.lstrip("-").isdigit() else v


def _utc_ns(text: str) -> int:
    try:
        dt = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(
            f"--start must be an ISO 8601 time such as 2024-05-01T08:30:00Z (got {text!r})"
        ) from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.UTC)
    return int(dt.replace(microsecond=0).timestamp()) * 1_000_000_000 + dt.microsecond * 1000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``spasmwatch import``."""
    parser.add_argument("file", type=Path, help="the CSV/text or .edf file")
    parser.add_argument("--out", type=Path, required=True, help="recording folder to create")
    parser.add_argument(
        "--format", choices=["auto", "csv", "edf"], default="auto", help="default: by extension"
    )
    parser.add_argument("--kind", help="stream kind: emg, acc, gyro, ecg... (CSV: required)")
    parser.add_argument("--rate", type=float, help="sample rate in Hz (CSV without time column)")
    parser.add_argument("--units", help="units after --scale, e.g. counts, mG, uV (CSV: required)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply values by this")
    parser.add_argument("--device", default="import", help="device name (default: import)")
    parser.add_argument("--channels", help="comma-separated channel names")
    parser.add_argument(
        "--time-column", type=_column, help="time column: number (from 0) or header name"
    )
    parser.add_argument("--time-unit", choices=["s", "ms", "us", "ns"], help="default: s")
    parser.add_argument(
        "--ignore-column",
        type=_column,
        action="append",
        default=[],
        help="column kept out of the channels (e.g. a label); repeatable",
    )
    parser.add_argument("--delimiter", help="default: detected (comma, semicolon, tab, spaces)")
    hdr = parser.add_mutually_exclusive_group()
    hdr.add_argument("--header", dest="header", action="store_true", default=None)
    hdr.add_argument("--no-header", dest="header", action="store_false")
    parser.add_argument(
        "--skip-bad-rows", action="store_true", help="skip and count bad rows instead of failing"
    )
    parser.add_argument(
        "--start",
        help="UTC start time (ISO 8601) of the first sample; default: an absolute time "
        "column, the EDF header, else the file's modification time",
    )
    parser.add_argument("--json", action="store_true", help="print the import report as JSON")


def run(args: argparse.Namespace) -> int:
    """Run the import; print a summary (or the JSON report)."""
    from spasmwatch.acquisition._import import import_csv, import_edf

    fmt = args.format
    if fmt == "auto":
        fmt = "edf" if args.file.suffix.lower() in (".edf", ".bdf") else "csv"
    start_ns = _utc_ns(args.start) if args.start else None
    if fmt == "edf":
        rec, report = import_edf(
            args.file,
            args.out,
            kind=args.kind,
            device=args.device,
            scale=args.scale,
            units=args.units,
            start_ns=start_ns,
        )
    else:
        missing = [o for o, v in (("--kind", args.kind), ("--units", args.units)) if not v]
        if missing:
            raise ConfigError(
                f"importing a CSV needs {' and '.join(missing)} (e.g. --kind emg --units counts)"
            )
        rec, report = import_csv(
            args.file,
            args.out,
            kind=args.kind,
            units=args.units,
            rate_hz=args.rate,
            scale=args.scale,
            device=args.device,
            channels=args.channels.split(",") if args.channels else None,
            time_column=args.time_column,
            time_unit=args.time_unit,
            has_header=args.header,
            delimiter=args.delimiter,
            skip_bad_rows=args.skip_bad_rows,
            ignore_columns=args.ignore_column,
            start_ns=start_ns,
        )
    if args.json:
        print(json.dumps({"recording": str(rec.path), **report.to_dict()}, indent=1))
        return 0
    streams = ", ".join(
        f"{k} ({rec.specs[k].n_channels} ch, {rec.specs[k].rate_hz:g} Hz, {rec.specs[k].units})"
        for k in report.streams
    )
    print(f"imported {report.rows_imported} of {report.rows_read} rows of {args.file}")
    print(f"  -> {rec.path}: {streams}, {rec.duration_s():.1f} s")
    if report.rows_skipped:
        rows = ", ".join(str(r) for r, _ in report.bad_rows)
        print(
            f"  skipped {report.rows_skipped} bad rows {report.skipped_by_reason} "
            f"(rows {rows}{'...' if report.rows_skipped > len(report.bad_rows) else ''})"
        )
    if report.gaps:
        print(f"  {report.gaps} gap(s) where samples are missing")
    return 0
