"""``spasmwatch simulate``: a simulated wearer written as a recording plus ground_truth.csv."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from spasmwatch._version import __version__
from spasmwatch.errors import ConfigError

HELP = (
    "Simulate a wearer with spasms among daily-living confounders and write a recording "
    "folder (Parquet per stream, manifest) plus ground_truth.csv and confounders.csv. "
    "Reproducible bit for bit from --seed."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``spasmwatch simulate``."""
    from spasmwatch.simulation import DEVICE_PRESETS

    parser.add_argument("--hours", type=float, default=1.0, help="duration in hours (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--device",
        action="append",
        choices=sorted(DEVICE_PRESETS),
        help="device to simulate (repeatable; default myo and polar-h10)",
    )
    parser.add_argument("--out", required=True, help="new recording folder to write")
    parser.add_argument("--no-confounders", action="store_true", help="spasms on a quiet limb")
    parser.add_argument("--no-packet-loss", action="store_true", help="no BLE packet loss")
    parser.add_argument("--wearer", help="JSON file of WearerProfile fields (default: from seed)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")


def run(args: argparse.Namespace) -> int:
    """Write the recording and the ground truth; return 0."""
    from tqdm import tqdm

    from spasmwatch.simulation import Simulator, WearerProfile, write_ground_truth_csv
    from spasmwatch.store import RecordingWriter

    if not args.hours > 0:
        raise ConfigError(f"--hours must be > 0 (got {args.hours})")
    wearer = None
    if args.wearer:
        try:
            wearer = WearerProfile.from_dict(json.loads(Path(args.wearer).read_text()))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"--wearer {args.wearer}: cannot read a JSON object: {exc}") from exc
    devices = tuple(args.device or ("myo", "polar-h10"))
    sim = Simulator(args.hours * 3600.0, args.seed, devices, wearer=wearer,
                    confounders=not args.no_confounders,
                    packet_loss=not args.no_packet_loss)  # fmt: skip
    out = Path(args.out)
    meta = {
        "simulated": True,
        "simulator": {
            "seed": args.seed,
            "hours": args.hours,
            "devices": list(devices),
            "confounders": not args.no_confounders,
            "packet_loss": not args.no_packet_loss,
            "software_version": __version__,
            "wearer": sim.wearer.to_dict(),
        },
    }
    dev_meta = [{"id": d, "profile": d, "simulated": True} for d in dict.fromkeys(
        s.device for s in sim.streams)]  # fmt: skip
    writer = RecordingWriter(out, start_ns=sim.start_ns, devices=dev_meta, meta=meta,
                             flush_interval_s=3600.0, clock=lambda: 0, fsync=False)  # fmt: skip
    try:
        for spec in sim.specs.values():
            writer.add_stream(spec)
        total = sum(sim.n_samples.values())
        with tqdm(total=total, unit="sample", disable=None, desc="simulate") as bar:
            pending = 0
            for block in sim.blocks(block_samples=4096, chunk_s=600.0):
                writer.write(block)
                bar.update(block.n_samples + sum(g.n_missing for g in block.gaps))
                pending += block.n_samples
                if pending >= 1_000_000:
                    writer.flush()
                    pending = 0
    except BaseException:
        writer.abort()
        raise
    rec = writer.close()
    write_ground_truth_csv(out / "ground_truth.csv", sim.timeline.truth)
    with open(out / "confounders.csv", "w", encoding="utf-8") as f:
        f.write("start_s,end_s,name\n")
        for a, b, name in sim.timeline.confounders:
            f.write(f"{a!r},{b!r},{name}\n")
    summary = {
        "recording": str(out),
        "streams": {k: rec.n_samples(k) for k in sim.specs},
        "spasms": len(sim.timeline.truth),
        "confounders": len(sim.timeline.confounders),
        "seed": args.seed,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"wrote {out}: {summary['spasms']} spasms, streams {summary['streams']}")
    return 0
