"""``spasmwatch monitor``: real-time monitoring of one or more wearables."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from spasmwatch._paths import default_db_path

HELP = (
    "Monitor wearables in real time: detect spasm episodes and log them to the event store, "
    "offer a breathing exercise when one starts (a suggestion you can dismiss), raise an "
    "alert when a device stops sending (with its cause), reconnect by itself, follow each "
    "device's battery, electrode contact and wear time, and optionally record the raw "
    "streams. Runs in the foreground until Ctrl-C or SIGTERM (see docs/monitoring.md for a "
    "systemd user service). With --simulate, a simulated wearer with spasms streams "
    "through the simulated BLE backend at --speed times real time."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``spasmwatch monitor``."""
    parser.add_argument(
        "--device", action="append", required=True, metavar="ID",
        help="device profile id (repeatable; see `spasmwatch devices`)",
    )  # fmt: skip
    parser.add_argument("--db", default=None, help=f"event store (default {default_db_path()})")
    parser.add_argument("--record", metavar="DIR", help="also record raw data under DIR")
    parser.add_argument("--model", help="ONNX model (default: the bundled one for the streams)")
    parser.add_argument("--wearer", default="default", help="wearer id (default 'default')")
    parser.add_argument(
        "--placement", action="append", default=[], metavar="DEVICE=SIDE-MUSCLE",
        help="where a device sits, e.g. myo=right-gastrocnemius (repeatable; SIDE is left, "
        "right or midline; MUSCLE-SIDE and a bare MUSCLE are accepted too). Episodes carry it",
    )  # fmt: skip
    parser.add_argument(
        "--tz", default=None,
        help="IANA time zone for wear-time days and clock times (default: this machine's)",
    )  # fmt: skip
    parser.add_argument(
        "--signal-loss-after", type=float, default=30.0, metavar="S",
        help="alert after S seconds without data from a device (default 30)",
    )  # fmt: skip
    parser.add_argument("--duration", type=float, help="stop after S seconds (default: run on)")
    parser.add_argument("--no-prompts", action="store_true", help="never offer exercises")
    parser.add_argument(
        "--cooldown", type=float, default=None, metavar="S",
        help="minimum seconds between two prompts (default 1200)",
    )  # fmt: skip
    parser.add_argument(
        "--no-quiet-hours", action="store_true", help="also prompt between 22:00 and 07:00"
    )
    parser.add_argument("--no-desktop", action="store_true", help="no notify-send notifications")
    parser.add_argument("--quiet", action="store_true", help="no live lines, only the summary")
    parser.add_argument("--simulate", action="store_true", help="a simulated wearer and devices")
    parser.add_argument("--speed", type=float, default=1.0, help="simulated time per wall time")
    parser.add_argument(
        "--faults", choices=("none", "realistic"), default="realistic",
        help="simulated link faults (default realistic)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated wearer")
    parser.add_argument(
        "--battery", type=int, default=None, metavar="PCT",
        help="with --simulate: battery level of the simulated devices at start (default 87)",
    )  # fmt: skip
    parser.add_argument("--stats-json", metavar="FILE", help="write the final statistics here")


def placements_from(values: list[str], devices: list[str]) -> dict[str, str]:
    """``--placement`` values -> ``{device: "side-muscle"}`` (a value without ``DEVICE=``
    is allowed when only one device is monitored)."""
    from spasmwatch.errors import ConfigError
    from spasmwatch.pipeline import parse_placement

    out: dict[str, str] = {}
    for v in values:
        dev, muscle, side = parse_placement(v)
        if dev is None:
            if len(set(devices)) != 1:
                raise ConfigError(
                    f"--placement {v!r}: say which device, e.g. {devices[0]}={v} "
                    f"(devices: {', '.join(devices)})"
                )
            dev = devices[0]
        if dev in out:
            raise ConfigError(f"--placement given twice for {dev!r}")
        out[dev] = f"{side}-{muscle}" if side else muscle
    return out


def policy_from(args: argparse.Namespace) -> Any:
    """The prompt policy the options ask for."""
    from spasmwatch.coach import PromptPolicy

    kw: dict[str, Any] = {"enabled": not args.no_prompts}
    if args.cooldown is not None:
        kw["cooldown_s"] = args.cooldown
    if args.no_quiet_hours:
        kw["quiet_start"] = kw["quiet_end"] = None
    return PromptPolicy(**kw)


def simulated_setup(
    devices: list[str],
    *,
    seconds: float,
    seed: int,
    speed: float,
    faults: Any,
    wearer: Any = None,
    **world_kw: Any,
) -> tuple[Any, Any]:
    """A simulated wearer (``simulate_wearer``) behind a :class:`SimWorld` of ``devices``;
    returns ``(world, simulation result)``. Devices the simulator has no preset for send
    generator signals. ``world_kw`` go to :func:`~spasmwatch.pipeline.simulated_world`
    (``battery_level``, ``flat``)."""
    import time

    from spasmwatch.pipeline._simworld import demo_wearer, simulated_world
    from spasmwatch.simulation import DEVICE_PRESETS, simulate_wearer

    sim_devs = tuple(d for d in dict.fromkeys(devices) if d in DEVICE_PRESETS)
    result = None
    if sim_devs:
        result = simulate_wearer(
            seconds, seed, sim_devs, wearer=wearer or demo_wearer(),
            start_ns=time.time_ns(), packet_loss=False,  # the BLE simulator loses packets
        )  # fmt: skip
    world = simulated_world(
        devices, result=result, speed=speed, faults=faults, seed=seed, **world_kw
    )
    return world, result


def install(loop: asyncio.AbstractEventLoop, monitor: Any) -> None:
    """SIGINT / SIGTERM stop the monitor cleanly."""
    import contextlib
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, monitor.request_stop)


async def monitor_main(args: argparse.Namespace) -> Any:
    """Build and run the monitor; returns its final stats."""
    from spasmwatch._commands.record import targets_for
    from spasmwatch.acquisition import FaultConfig
    from spasmwatch.coach import DesktopDelivery, TerminalDelivery
    from spasmwatch.errors import ConfigError
    from spasmwatch.pipeline import Monitor
    from spasmwatch.store import EventStore

    if not args.speed > 0:
        raise ConfigError(f"--speed must be > 0 (got {args.speed})")
    if args.speed != 1.0 and not args.simulate:
        raise ConfigError("--speed only applies to --simulate (real devices run in real time)")
    kw: dict[str, Any] = {}
    world = None
    placements = placements_from(args.placement, args.device)
    if args.battery is not None and not args.simulate:
        raise ConfigError("--battery only applies to --simulate")
    if args.simulate:
        faults = FaultConfig.realistic() if args.faults == "realistic" else None
        seconds = max(600.0, min(args.duration or 3600.0, 6 * 3600.0) + 120.0)
        wkw = {"battery_level": args.battery} if args.battery is not None else {}
        world, _ = simulated_setup(
            args.device, seconds=seconds, seed=args.seed, speed=args.speed, faults=faults, **wkw
        )
        kw["client_backend"], kw["scanner_backend"] = world.backends()
        kw["clock"] = world.clock
    deliveries: list[Any] = [TerminalDelivery()] if not args.quiet else []
    if not args.no_desktop and not args.simulate:
        desk = DesktopDelivery()
        if desk.available:
            deliveries.append(desk)
    store = EventStore(Path(args.db) if args.db else default_db_path())
    try:
        mon = Monitor(
            targets_for(args.device),
            store=store,
            model=args.model,
            policy=policy_from(args),
            deliveries=deliveries,
            record_dir=args.record,
            wearer_id=args.wearer,
            signal_loss_after_s=args.signal_loss_after,
            on_line=(lambda _line: None) if args.quiet else None,
            tz=args.tz,
            placements=placements,
            **kw,
        )
        install(asyncio.get_running_loop(), mon)
        stats = await mon.run(args.duration)
    finally:
        if world is not None:
            await world.aclose()
        store.close()
    return stats


def run(args: argparse.Namespace) -> int:
    """Monitor until stopped; print the summary; return 0."""
    stats = asyncio.run(monitor_main(args))
    print(stats.format(), flush=True)
    if args.stats_json:
        Path(args.stats_json).write_text(json.dumps(stats.to_dict(), indent=2))
    if stats.latency.get("total", {}).get("count", 0) == 0 and stats.blocks == 0:
        print("no data arrived from any device", file=sys.stderr)
    return 0
