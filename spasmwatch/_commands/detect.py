"""``spasmwatch detect RECORDING``: the spasm episodes of a recording."""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

HELP = (
    "List the spasm episodes of a recording folder: start and end (seconds from the "
    "recording start and UTC), type, severity and confidence. Runs the same pipeline "
    "objects as live monitoring (resampling, features, per-wearer calibration on the first "
    "minute of usable signal, ONNX model, episode detector), far faster than real time. "
    "Without --model the bundled model that fits the recording's streams is used."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``spasmwatch detect``."""
    parser.add_argument("recording", type=Path, help="recording folder")
    parser.add_argument("--model", type=Path, help="ONNX model (default: bundled, by streams)")
    parser.add_argument("--json", action="store_true", help="JSON output for scripts")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--calibration-s", type=float, help="rest calibration length in s (default: model's)"
    )


def _utc(ns: int) -> str:
    dt = datetime.datetime.fromtimestamp(ns / 1e9, tz=datetime.UTC)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def episode_rows(result) -> list[dict]:  # noqa: ANN001
    """JSON-ready rows of a :class:`~spasmwatch.pipeline.DetectResult`'s episodes."""
    rows = []
    for e in result.episodes:
        rows.append(
            {
                "id": e.id,
                "start_s": round((e.start_ns - result.start_ns) / 1e9, 3),
                "end_s": round((e.end_ns - result.start_ns) / 1e9, 3),
                "start_utc": _utc(e.start_ns),
                "end_utc": _utc(e.end_ns),
                "duration_s": round(e.duration_s, 3),
                "type": e.type,
                "severity": e.severity,
                "confidence": round(e.confidence, 3),
                "peak_intensity": round(e.peak_intensity, 3),
            }
        )
    return rows


def run(args: argparse.Namespace) -> int:
    """Detect and print."""
    from spasmwatch.pipeline import detect_recording

    res = detect_recording(
        args.recording,
        args.model,
        progress=not args.no_progress and not args.json,
        calibration_s=args.calibration_s,
    )
    rows = episode_rows(res)
    if args.json:
        out = {
            "recording": str(args.recording),
            "model_id": res.model_id,
            "model_path": res.model_path,
            "streams": res.streams,
            "duration_s": round((res.end_ns - res.start_ns) / 1e9, 3),
            "episodes": rows,
            "speed_x_real_time": round(res.stats["x_real_time"], 1),
        }
        json.dump(out, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    print(
        f"{args.recording}: {len(rows)} episode(s), model {res.model_id} on "
        f"{', '.join(res.streams.values())}; {res.stats['x_real_time']:.0f}x real time"
    )
    if rows:
        print(f"{'start_s':>9} {'end_s':>9}  {'start (UTC)':<24} {'type':<10} {'severity':<9} conf")
        for r in rows:
            print(
                f"{r['start_s']:9.2f} {r['end_s']:9.2f}  {r['start_utc']:<24} {r['type']:<10} "
                f"{r['severity']:<9} {r['confidence']:.2f}"
            )
    return 0
