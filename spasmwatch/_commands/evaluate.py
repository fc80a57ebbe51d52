"""``spasmwatch evaluate``: event-level scoring of the detector and both baselines."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from spasmwatch.errors import ConfigError

HELP = (
    "Score the detector and both baselines (EMG double threshold, ACC 3-8 Hz band ratio) "
    "event by event: any-overlap sensitivity, precision, F1, false alarms per 24 h, onset "
    "latency (median, p90), overall, per type and per recording. Either on recordings with "
    "a ground-truth CSV (--truth ground_truth.csv REC...), or regenerate the whole report "
    "on held-out simulated wearers and the real datasets (--report docs/evaluation.md "
    "--data-dir ../shared/data)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``spasmwatch evaluate``."""
    parser.add_argument("recordings", nargs="*", type=Path, help="recording folders")
    parser.add_argument("--truth", type=Path, help="ground-truth CSV (start_s,end_s,type)")
    parser.add_argument("--model", type=Path, help="ONNX model (default: bundled, by streams)")
    parser.add_argument("--json", action="store_true", help="JSON output")
    parser.add_argument("--report", type=Path, help="write the full evaluation report here")
    parser.add_argument(
        "--data-dir", type=Path, help="real data folder (myo-readings, daphnet-fog)"
    )
    parser.add_argument(
        "--test-wearers", type=int, default=36, help="simulated test wearers (default 36)"
    )
    parser.add_argument("--hours", type=float, default=2.0, help="hours per test wearer")
    parser.add_argument(
        "--robustness-wearers", type=int, default=6, help="wearers per robustness condition"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes for --report (default: one per core; same figures)",
    )


def _clean(o):  # noqa: ANN001
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_clean(v) for v in o]
    return o


def run(args: argparse.Namespace) -> int:
    """Evaluate."""
    from spasmwatch import _evaluation as ev

    if args.report is not None:
        res = ev.write_report(
            args.report,
            data_dir=args.data_dir,
            n_wearers=args.test_wearers,
            hours=args.hours,
            robustness_wearers=args.robustness_wearers,
            progress=lambda m: print(m, file=sys.stderr),
            jobs=max(1, args.jobs),
        )
        if args.json:
            json.dump(_clean(res), sys.stdout, indent=1)
            sys.stdout.write("\n")
        else:
            print(f"wrote {args.report}")
        return 0
    if args.truth is None or not args.recordings:
        raise ConfigError(
            "give --truth ground_truth.csv and one or more recording folders, or --report PATH"
        )
    out = ev.evaluate_recordings(args.recordings, args.truth, model=args.model)
    if args.json:
        json.dump(_clean({k: v.to_dict() for k, v in out.items()}), sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    for name, e in out.items():
        print(e.to_markdown(title=name))
    return 0
