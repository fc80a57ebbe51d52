"""``spasmwatch devices``: the device profiles this spasmwatch knows."""

from __future__ import annotations

import argparse
import json

HELP = (
    "List the device profiles (firmware_configs/*.toml): id, name, vendor and the streams "
    "each sends with rate, channels and units. Use an id with --device in scan, record and "
    "monitor."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``spasmwatch devices``."""
    parser.add_argument("--json", action="store_true", help="print JSON (a list of profiles)")


def profiles_as_dicts() -> list[dict]:
    """Every profile as a JSON-ready dict, by id."""
    from spasmwatch.acquisition import load_profiles

    out = []
    for pid, p in sorted(load_profiles().items()):
        out.append(
            {
                "id": pid,
                "name": p.name,
                "vendor": p.vendor,
                "streams": [
                    {
                        "kind": s.kind,
                        "rate_hz": s.rate_hz,
                        "rates_hz": list(s.rates_hz),
                        "channels": list(s.channels),
                        "units": s.units,
                        "samples_per_notification": s.samples_per_frame,
                    }
                    for s in p.streams
                ],
            }
        )
    return out


def run(args: argparse.Namespace) -> int:
    """Print the profiles; return 0."""
    profiles = profiles_as_dicts()
    if args.json:
        print(json.dumps(profiles, indent=2))
        return 0
    for p in profiles:
        print(f"{p['id']:20s} {p['name']} ({p['vendor']})")
        for s in p["streams"]:
            print(
                f"{'':20s}   {s['kind']:5s} {s['rate_hz']:g} Hz, {len(s['channels'])} ch "
                f"({', '.join(s['channels'])}), {s['units']}"
            )
    return 0
