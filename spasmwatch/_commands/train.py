"""``spasmwatch train``: train and export the bundled ONNX spasm models."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HELP = (
    "Train the EMG+ACC, EMG-only and ACC-only spasm classifiers on simulated wearers plus "
    "real hard negatives (Myo rest/gestures, Daphnet walking/freezing from --data-dir), "
    "choose their thresholds on validation wearers, and export self-describing ONNX files "
    "and training.json. Reproducible from --seed. Needs the train extra: "
    "pip install -e '.[train]'."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``spasmwatch train``."""
    parser.add_argument("--seed", type=int, default=7, help="training seed (default 7)")
    parser.add_argument(
        "--wearers", type=int, default=288, help="simulated training wearers (default 288)"
    )
    parser.add_argument(
        "--val-wearers", type=int, default=96, help="simulated validation wearers (default 96)"
    )
    parser.add_argument("--hours", type=float, default=1.0, help="hours per simulated wearer")
    parser.add_argument("--data-dir", type=Path, help="real data (myo-readings, daphnet-fog)")
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default: the bundled models)"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes for the feature frames and the threshold grid (default: one "
        "per core; the models do not depend on it)",
    )
    parser.add_argument(
        "--mains",
        choices=("50", "60", "50,60"),
        default="50,60",
        help="mains frequencies notched out of the EMG before the features, Hz (default "
        "50,60: the simulated wearers live on either grid); stored in the models' "
        "emg_notch_hz, which the pipeline follows",
    )
    parser.add_argument(
        "--models",
        default="sw-emg-acc,sw-emg,sw-acc",
        help="comma-separated model ids (default: all three)",
    )


def run(args: argparse.Namespace) -> int:
    """Train."""
    from spasmwatch.models import BUNDLED_DIR
    from spasmwatch.models._train import TrainConfig, train_models

    cfg = TrainConfig(
        seed=args.seed,
        n_train=args.wearers,
        n_val=args.val_wearers,
        hours=args.hours,
        data_dir=str(args.data_dir) if args.data_dir else None,
        mains_hz=tuple(float(f) for f in args.mains.split(",")),
    )
    out = args.out or BUNDLED_DIR
    summary = train_models(
        cfg,
        out,
        models=[m.strip() for m in args.models.split(",") if m.strip()],
        progress=lambda m: print(m, file=sys.stderr),
        jobs=max(1, args.jobs),
    )
    for mid, m in summary["models"].items():
        print(f"{mid}: {out / m['file']} ({m['bytes'] / 1e6:.2f} MB) thresholds {m['thresholds']}")
    return 0
