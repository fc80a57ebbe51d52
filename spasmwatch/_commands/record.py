"""``spasmwatch record``: raw streams of one or more wearables into a recording folder."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

HELP = (
    "Record the raw streams of one or more wearables to a new recording folder (Arrow IPC "
    "segments flushed every second, compacted to Parquet with a manifest when done). "
    "Ctrl-C or SIGTERM stops cleanly; even after a crash everything up to the last flush "
    "is recoverable. With --simulate the devices are simulated wearables behind the real "
    "bleak API, at --speed times real time."
)

FAULTS = ("none", "realistic")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``spasmwatch record``."""
    parser.add_argument(
        "--device",
        action="append",
        required=True,
        metavar="ID",
        help="device profile id (repeatable; see `spasmwatch devices`)",
    )
    parser.add_argument("--out", required=True, help="new recording folder")
    parser.add_argument("--duration", type=float, help="stop after this many seconds of data")
    parser.add_argument("--simulate", action="store_true", help="simulated devices")
    parser.add_argument(
        "--speed", type=float, default=1.0, help="simulated time per wall time (default 1)"
    )
    parser.add_argument(
        "--faults", choices=FAULTS, default="none", help="simulated link faults (default none)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated devices")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def targets_for(ids: list[str]) -> list[Any]:
    """One DeviceTarget per id; a repeated profile gets instance names ``<id>-2``..."""
    from spasmwatch.acquisition import DeviceTarget

    seen: dict[str, int] = {}
    out = []
    for pid in ids:
        seen[pid] = seen.get(pid, 0) + 1
        inst = pid if seen[pid] == 1 else f"{pid}-{seen[pid]}"
        out.append(DeviceTarget(pid, instance=inst))
    return out


def install_stop_handlers(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM set ``stop`` (where the platform allows signal handlers)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)


async def record(args: argparse.Namespace) -> dict[str, Any]:
    """Record until the duration is reached or a stop signal; return the summary."""
    import numpy as np

    from spasmwatch.acquisition import BleSession, FaultConfig, SystemClock
    from spasmwatch.core import SampleBlock
    from spasmwatch.errors import ConfigError
    from spasmwatch.pipeline._simworld import simulated_world
    from spasmwatch.store import RecordingWriter

    if not args.speed > 0:
        raise ConfigError(f"--speed must be > 0 (got {args.speed})")
    if args.speed != 1.0 and not args.simulate:
        raise ConfigError("--speed only applies to --simulate (real devices run in real time)")
    if args.duration is not None and not args.duration > 0:
        raise ConfigError(f"--duration must be > 0 s (got {args.duration})")
    targets = targets_for(args.device)
    world = None
    kw: dict[str, Any] = {}
    if args.simulate:
        faults = FaultConfig.realistic() if args.faults == "realistic" else None
        world = simulated_world(
            [t.profile.id for t in targets], speed=args.speed, faults=faults, seed=args.seed
        )
        kw["client_backend"], kw["scanner_backend"] = world.backends()
        clock: Any = world.clock
    else:
        clock = SystemClock()
    events: dict[str, dict[str, int]] = {t.instance: {} for t in targets}

    def on_event(ev: Any) -> None:
        c = events.setdefault(ev.device, {})
        c[ev.kind] = c.get(ev.kind, 0) + 1
        if ev.kind in ("connected", "disconnected", "reconnecting", "error"):
            detail = ev.detail.get("message", "") if ev.kind == "error" else ""
            print(f"{ev.device}: {ev.kind} {detail}".rstrip(), file=sys.stderr, flush=True)

    session = BleSession(targets, clock=clock, on_event=on_event, queue_size=65536, **kw)
    out = Path(args.out)
    writer = RecordingWriter(
        out,
        start_ns=clock.now_ns(),
        devices=[{"id": t.instance, "profile": t.profile.id, "name": t.name} for t in targets],
        meta={"source": "spasmwatch record", "simulated": bool(args.simulate)},
        clock=time.time_ns,  # flush every wall second: a crash loses at most that
        flush_interval_s=1.0,
    )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    install_stop_handlers(loop, stop)
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    samples: dict[str, int] = {}
    gaps: dict[str, int] = {}
    missing: dict[str, int] = {}
    t_first: list[int] = []

    async def consume() -> None:
        async for b in session:
            key = b.spec.key
            if b.n_samples and not t_first:
                t_first.append(int(b.t_ns[0]))
                print(f"recording to {out} ...", file=sys.stderr, flush=True)
            if args.duration is not None and t_first and b.n_samples:
                cut = t_first[0] + round(args.duration * 1e9)  # data time: exact counts
                if int(b.t_ns[0]) >= cut:
                    continue
                if int(b.t_ns[-1]) >= cut:
                    m = int(np.searchsorted(b.t_ns, cut))
                    b = SampleBlock(b.spec, b.t_ns[:m], b.data[:m], b.first_index, b.gaps,
                                    b.seq)  # fmt: skip
            writer.write(b)
            samples[key] = samples.get(key, 0) + b.n_samples
            gaps[key] = gaps.get(key, 0) + len(b.gaps)
            missing[key] = missing.get(key, 0) + sum(g.n_missing for g in b.gaps)
            if b.n_samples:
                first.setdefault(key, int(b.t_ns[0]))
                last[key] = int(b.t_ns[-1])

    async def until_duration() -> None:
        while True:
            await clock.sleep(0.2)
            if t_first and (clock.now_ns() - t_first[0]) / 1e9 >= args.duration + 1.0:
                return

    async def flusher() -> None:  # keeps flushing while devices are silent
        while True:
            await asyncio.sleep(1.0)
            writer.flush()

    consumer = loop.create_task(consume())
    fl = loop.create_task(flusher())
    waits = [loop.create_task(stop.wait()), consumer]
    if args.duration is not None:
        waits.append(loop.create_task(until_duration()))
    t_wall = time.monotonic()
    await session.start()
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            if w is not consumer:
                w.cancel()
        await session.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
        fl.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await fl
        rec = writer.close()
        if world is not None:
            await world.aclose()
    wall = time.monotonic() - t_wall
    streams = {}
    for key in sorted(samples):
        span = (last[key] - first[key]) / 1e9 if key in first else 0.0
        streams[key] = {
            "samples": samples[key],
            "rate_hz": (samples[key] - 1) / span if span > 0 else 0.0,
            "nominal_rate_hz": next(s.rate_hz for s in session.specs() if s.key == key),
            "gaps": gaps[key],
            "missing_samples": missing[key],
        }
    devices = {
        name: {
            "notifications": st.notifications,
            "decode_errors": st.decode_errors,
            "reconnects": st.reconnects,
            "dropped_blocks": st.dropped_blocks,
        }
        for name, st in session.stats.items()
    }
    return {
        "recording": str(out),
        "recording_id": rec.id,
        "duration_s": rec.duration_s(),
        "wall_s": wall,
        "streams": streams,
        "devices": devices,
    }


def run(args: argparse.Namespace) -> int:
    """Record; print what was recorded; return 0."""
    summary = asyncio.run(record(args))
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"recorded {summary['duration_s']:.1f} s to {summary['recording']}")
    for key, s in summary["streams"].items():
        print(
            f"  {key:22s} {s['samples']:9d} samples at {s['rate_hz']:.2f} Hz "
            f"(nominal {s['nominal_rate_hz']:g}), {s['gaps']} gaps, "
            f"{s['missing_samples']} samples missing"
        )
    for name, d in summary["devices"].items():
        print(
            f"  {name:22s} {d['notifications']} notifications, {d['decode_errors']} decode "
            f"errors, {d['reconnects']} reconnects, {d['dropped_blocks']} blocks dropped"
        )
    return 0
