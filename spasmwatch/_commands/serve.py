"""``spasmwatch serve``: the API and web pages with uvicorn (127.0.0.1 by default)."""

from __future__ import annotations

import argparse
import logging
import re
import sys

from spasmwatch._paths import data_home, default_db_path

HELP = (
    "Serve the API (OpenAPI at /openapi.json) and the web pages (/live, /timeline, "
    "/recordings) on 127.0.0.1:8765. Create a token first with `spasmwatch token create`, "
    "then open http://127.0.0.1:8765/timeline?token=<token>."
)

_TOKEN_RE = re.compile(r"(token=)[^&\s\"]+")


class RedactTokens(logging.Filter):
    """Blank out ``token=...`` in log records (page URLs carry it once)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(
                _TOKEN_RE.sub(r"\1<redacted>", a) if isinstance(a, str) else a
                for a in (record.args if isinstance(record.args, tuple) else (record.args,))
            )
        if isinstance(record.msg, str):
            record.msg = _TOKEN_RE.sub(r"\1<redacted>", record.msg)
        return True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (default 8765)")
    parser.add_argument(
        "--db", default=None, help=f"event store file (default: {default_db_path()})"
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help=f"folder whose recordings are served (default: {data_home()})",
    )


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from spasmwatch.api import LiveBus, create_app

    if args.host not in {"127.0.0.1", "localhost", "::1"}:
        print(
            f"warning: serving on {args.host}: anyone who can reach it and holds a token can "
            "read health data. Put it behind TLS.",
            file=sys.stderr,
        )
    # A bus of its own: pages connect and on-demand exercises work; a monitor running in
    # this process (spasmwatch monitor --serve) publishes into the same kind of bus.
    app = create_app(
        args.db or default_db_path(), data_dir=args.data_dir or data_home(), live_bus=LiveBus()
    )
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(RedactTokens())
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", ws="websockets-sansio")
    return 0
