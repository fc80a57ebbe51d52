"""``spasmwatch scan``: wearables nearby that match a device profile."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

HELP = (
    "Scan for BLE wearables whose advertisement matches a device profile (name prefix, "
    "service UUID or manufacturer id) and list them. With --simulate, scan a simulated "
    "world holding one device of every profile (no Bluetooth needed)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``spasmwatch scan``."""
    parser.add_argument("--simulate", action="store_true", help="scan simulated devices")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to listen (default 5)")
    parser.add_argument("--json", action="store_true", help="print JSON (a list of devices)")


async def scan(timeout_s: float, *, simulate: bool = False) -> list[dict[str, Any]]:
    """Advertisements seen within ``timeout_s`` that match a profile, one per address."""
    from bleak import BleakScanner

    from spasmwatch.acquisition import SimulatedDevice, SimWorld, load_profiles

    profiles = load_profiles()
    kw: dict[str, Any] = {}
    world = None
    if simulate:
        world = SimWorld(speed=1.0)
        for i, p in enumerate(profiles.values()):
            world.add(SimulatedDevice(p, seed=i))
        kw["backend"] = world.backends()[1]
    found: dict[str, dict[str, Any]] = {}

    def on_adv(device: Any, ad: Any) -> None:
        for pid, p in profiles.items():
            if p.match.matches(ad.local_name, ad.service_uuids, ad.manufacturer_data.keys()):
                found[device.address] = {
                    "address": device.address,
                    "name": ad.local_name or device.name or "",
                    "profile": pid,
                    "rssi": ad.rssi,
                }
                break

    try:
        async with BleakScanner(on_adv, **kw):
            await asyncio.sleep(timeout_s)
    finally:
        if world is not None:
            await world.aclose()
    return sorted(found.values(), key=lambda d: (d["profile"], d["address"]))


def run(args: argparse.Namespace) -> int:
    """Scan and print; return 0 (1 when nothing was found)."""
    from spasmwatch.errors import AcquisitionError, ConfigError

    if not args.timeout > 0:
        raise ConfigError(f"--timeout must be > 0 s (got {args.timeout})")
    try:
        devices = asyncio.run(scan(args.timeout, simulate=args.simulate))
    except Exception as exc:  # no adapter, BlueZ not running...
        if isinstance(exc, ConfigError):
            raise
        raise AcquisitionError(
            f"scanning failed: {exc}. Is Bluetooth on and an adapter present? "
            "(try --simulate without hardware)",
            reason="scan_failed",
        ) from exc
    if args.json:
        print(json.dumps(devices, indent=2))
    elif not devices:
        print("no matching wearables found (switched on, in range, not connected elsewhere?)")
    else:
        for d in devices:
            print(f"{d['address']}  {d['profile']:20s} {d['name']}  RSSI {d['rssi']}")
    return 0 if devices else 1
