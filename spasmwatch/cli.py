"""The ``spasmwatch`` command.

Each subcommand lives in its own module ``spasmwatch._commands.<name>`` exposing
``HELP: str``, ``add_arguments(parser) -> None`` and ``run(args) -> int``. Modules are
imported only when their subcommand runs, so ``spasmwatch --help`` stays fast and a
missing optional extra (training) only affects its own command.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from spasmwatch._version import __version__
from spasmwatch.errors import SpasmwatchError

__all__ = ["main"]

#: subcommand -> (module name under spasmwatch._commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "devices": ("devices", "list the device profiles"),
    "scan": ("scan", "list matching wearables nearby (or simulated ones)"),
    "record": ("record", "record raw streams from one or more wearables to a recording folder"),
    "import": ("import_", "turn a CSV or EDF/EDF+ file into a recording"),
    "simulate": ("simulate", "simulate a wearer: a recording plus ground_truth.csv"),
    "train": ("train", "train and export the ONNX spasm models (needs the [train] extra)"),
    "evaluate": ("evaluate", "event-level scoring of the detector and the baselines"),
    "detect": ("detect", "the spasm episodes of a recording"),
    "monitor": ("monitor", "real-time monitoring: log episodes, offer exercises"),
    "insights": ("insights", "patterns in your own episodes, diary and prompts"),
    "diary": ("diary", "add or list diary entries (medication taken, stretching, heat...)"),
    "serve": ("serve", "serve the API and web pages (localhost by default)"),
    "token": ("token", "create, list or revoke API tokens"),
    "demo": ("demo", "a simulated wearer through the real pipeline, at accelerated time"),
    "report": ("report", "clinical summary for a date range, as text, JSON or PDF"),
    "data": ("data", "export, delete, prune, back up or restore your data"),
}


def _available() -> dict[str, tuple[str, str]]:
    out = {}
    for name, (mod, help_) in COMMANDS.items():
        if importlib.util.find_spec(f"spasmwatch._commands.{mod}") is not None:
            out[name] = (mod, help_)
    return out


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (imports every available subcommand module)."""
    parser = argparse.ArgumentParser(
        prog="spasmwatch",
        description=(
            "spasmwatch: an objective spasm log from commodity wearables. "
            "A self-monitoring and research tool, not a diagnostic device."
        ),
    )
    parser.add_argument("--version", action="version", version=f"spasmwatch {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (mod, help_) in _available().items():
        module = importlib.import_module(f"spasmwatch._commands.{mod}")
        p = sub.add_parser(name, help=help_, description=getattr(module, "HELP", help_))
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spasmwatch`` console script. Returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except SpasmwatchError as exc:
        print(f"spasmwatch {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `spasmwatch insights | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
