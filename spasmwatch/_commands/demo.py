"""``spasmwatch demo``: a simulated wearer through the real pipeline, at accelerated time."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import sys
import time
from pathlib import Path
from typing import Any

HELP = (
    "Run a simulated wearer (Polar H10 accelerometer and Myo EMG behind the simulated BLE "
    "backend) through the real monitoring pipeline at accelerated time: live detections, "
    "episodes and breathing prompts in the terminal, everything written to a local data "
    "folder, and the web pages served at the printed address. Ends by itself."
)

DEVICES = ("polar-h10", "myo")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``spasmwatch demo``."""
    parser.add_argument(
        "--minutes", type=float, default=15.0, help="simulated minutes (default 15)"
    )
    parser.add_argument(
        "--speed", type=float, default=30.0, help="simulated time per wall time (default 30)"
    )
    parser.add_argument(
        "--data-dir", default="./demo-data", help="where to write (default ./demo-data)"
    )
    parser.add_argument("--port", type=int, default=8765, help="web port (default 8765)")
    parser.add_argument("--no-serve", action="store_true", help="do not serve the web pages")
    parser.add_argument(
        "--serve-after", action="store_true", help="keep serving after the run until Ctrl-C"
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the simulated wearer")
    parser.add_argument("--model", help="ONNX model (default: the bundled one)")
    parser.add_argument(
        "--placement", action="append", default=None, metavar="DEVICE=SIDE-MUSCLE",
        help="where a device sits (default: myo=right-gastrocnemius; repeatable)",
    )  # fmt: skip


def _listen(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1:port, or on a free port when that one is taken."""
    for p in (port, 0):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            s.close()
            continue
        s.listen(128)
        s.setblocking(False)
        return s
    raise OSError("no free TCP port on 127.0.0.1")


async def _serve(app: Any, sock: socket.socket) -> tuple[Any, asyncio.Task[None]]:
    import uvicorn

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):  # the demo handles SIGINT and SIGTERM itself
            yield

    cfg = uvicorn.Config(app, log_level="warning", ws="websockets-sansio", lifespan="on")
    server = _Server(cfg)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.05)
    return server, task


def _matched(truth: list[tuple[int, int]], episodes: list[Any], tol_ns: int) -> int:
    n = 0
    for a, b in truth:
        if any(e.start_ns - tol_ns <= b and e.end_ns + tol_ns >= a for e in episodes):
            n += 1
    return n


async def demo(args: argparse.Namespace) -> int:
    """Run the demo; return the exit code."""
    from spasmwatch._commands.monitor import install, placements_from, simulated_setup
    from spasmwatch._commands.record import targets_for
    from spasmwatch.acquisition import FaultConfig
    from spasmwatch.api import LiveBus, TokenStore, create_app
    from spasmwatch.coach import PromptPolicy, TerminalDelivery
    from spasmwatch.errors import ConfigError
    from spasmwatch.pipeline import Monitor, stream_epochs
    from spasmwatch.simulation import write_ground_truth_csv
    from spasmwatch.store import EventStore, open_recording

    if not args.minutes > 0 or not args.speed > 0:
        raise ConfigError("--minutes and --speed must be > 0")
    placements = placements_from(args.placement or ["myo=right-gastrocnemius"], list(DEVICES))
    data = Path(args.data_dir).resolve()
    data.mkdir(parents=True, exist_ok=True)
    db = data / "spasmwatch.db"
    seconds = args.minutes * 60.0
    print(
        f"spasmwatch demo: a simulated wearer, {args.minutes:g} simulated minutes at "
        f"up to {args.speed:g}x (at least {seconds / args.speed + 5:.0f} s). Polar H10 ACC + "
        "Myo EMG through the simulated BLE backend. Not a diagnostic device.",
        flush=True,
    )
    world, result = simulated_setup(
        list(DEVICES), seconds=seconds + 120.0, seed=args.seed, speed=args.speed,
        faults=FaultConfig.realistic(),
    )  # fmt: skip
    c, s = world.backends()
    store = EventStore(db)
    bus = LiveBus(maxsize=1024)
    # Demo policy: short cooldown and no quiet hours so that prompts show within minutes.
    policy = PromptPolicy(cooldown_s=180.0, quiet_start=None, quiet_end=None, daily_cap=20,
                          response_timeout_s=120.0)  # fmt: skip
    mon = Monitor(
        targets_for(list(DEVICES)),
        store=store,
        model=args.model,
        policy=policy,
        deliveries=[TerminalDelivery()],
        live_bus=bus,
        record_dir=data / "recordings",
        clock=world.clock,
        client_backend=c,
        scanner_backend=s,
        signal_loss_after_s=15.0,
        calibration_s=60.0,
        placements=placements,
        data_dir=data,
        health_every_s=2.0,
        wear_every_s=60.0,
    )
    server = task = None
    url = None
    try:
        if not args.no_serve:
            tokens = TokenStore(db)
            secret, _ = tokens.create("wearer", "demo", wearer_id="default")
            tokens.close()
            app = create_app(db, data_dir=data, live_bus=bus, store=store)
            sock = _listen(args.port)
            port = sock.getsockname()[1]
            server, task = await _serve(app, sock)
            url = f"http://127.0.0.1:{port}/live?token={secret}"
            print(f"live page: {url}", flush=True)
            print(f"timeline:  http://127.0.0.1:{port}/timeline?token={secret}", flush=True)
        install(asyncio.get_running_loop(), mon)
        t0 = time.monotonic()
        stats = await mon.run(seconds)
        wall = time.monotonic() - t0
        epochs = stream_epochs(world)
        write_ground_truth_csv(data / "ground_truth.csv", result.truth)
        print("", flush=True)
        print(stats.format(), flush=True)
        eps = [e for e in store.episodes() if e.final and e.start_ns >= mon.started_ns]
        ep0 = epochs.get("myo", {}).get("emg")
        if ep0 is not None:
            # spasms up to the last EMG sample recorded: the simulated clock runs on while
            # the monitor shuts down, and what came after the data was never seen
            end = stats.t_ns
            if mon.recording_path is not None:
                emg = open_recording(mon.recording_path).manifest["streams"].get("myo.emg")
                if emg and emg.get("t_last_ns") is not None:
                    end = min(end, int(emg["t_last_ns"]))
            truth = [
                (ep0 + round(t.start_s * 1e9), ep0 + round(t.end_s * 1e9))
                for t in result.truth
                if ep0 + round(t.end_s * 1e9) <= end
            ]
            hit = _matched(truth, eps, 2_000_000_000)
            print(
                f"\nsummary: {len(eps)} episodes logged; the simulated wearer had "
                f"{len(truth)} spasms in that time, {hit} of them found; "
                f"{stats.prompts} breathing prompts offered (suggestions you can dismiss); "
                f"{wall:.0f} s wall for {stats.uptime_s:.0f} s simulated.",
                flush=True,
            )
        print(f"data folder: {data} (event store {db.name}, recordings/, ground_truth.csv)")
        if url is not None and args.serve_after:
            print(f"still serving {url} - Ctrl-C to stop", flush=True)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig_name in ("SIGINT", "SIGTERM"):
                import signal

                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(getattr(signal, sig_name), stop.set)
            await stop.wait()
    finally:
        if server is not None and task is not None:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 5.0)
        await world.aclose()
        store.close()
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the demo; return 0."""
    try:
        return asyncio.run(demo(args))
    except KeyboardInterrupt:  # pragma: no cover - handled by the signal handler
        print("stopped", file=sys.stderr)
        return 130
