"""``spasmwatch token``: create, list or revoke API tokens."""

from __future__ import annotations

import argparse
import json
import sys

from spasmwatch._paths import default_db_path

HELP = (
    "Create, list or revoke API tokens. A token is shown once when created; only its "
    "SHA-256 is stored (in the event store file). Roles: wearer, clinician, researcher."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", default=None, help=f"event store file (default: {default_db_path()})"
    )
    sub = parser.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    c = sub.add_parser("create", help="create a token and print it once")
    c.add_argument("--role", required=True, choices=["wearer", "clinician", "researcher"])
    c.add_argument("--name", required=True, help="who or what uses it, e.g. 'dr-meyer'")
    c.add_argument("--json", action="store_true", help="print JSON instead of the bare token")
    ls = sub.add_parser("list", help="list tokens (never their secrets)")
    ls.add_argument("--json", action="store_true", help="print JSON")
    r = sub.add_parser("revoke", help="revoke a token by id, or all active tokens of a name")
    r.add_argument("id_or_name")


def run(args: argparse.Namespace) -> int:
    from spasmwatch.api import TokenStore
    from spasmwatch.store import EventStore

    db = args.db or default_db_path()
    EventStore(db).close()  # create and migrate the store first
    tokens = TokenStore(db)
    try:
        if args.token_command == "create":
            secret, info = tokens.create(args.role, args.name)
            if args.json:
                print(json.dumps({**info.to_dict(), "token": secret}))
            else:
                print(secret)
                print(
                    f"token {info.id} ({info.role}, {info.name}) created; it is shown only "
                    "now, store it safely",
                    file=sys.stderr,
                )
        elif args.token_command == "list":
            items = tokens.list()
            if args.json:
                print(json.dumps([t.to_dict() for t in items]))
            else:
                for t in items:
                    state = "active" if t.active else "revoked"
                    print(f"{t.id}  {t.role:<10}  {state:<7}  {t.name}")
        else:
            for t in tokens.revoke(args.id_or_name):
                print(f"revoked {t.id} ({t.role}, {t.name})")
    finally:
        tokens.close()
    return 0
