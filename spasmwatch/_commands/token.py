"""``spasmwatch token``: create, list or revoke API tokens."""

from __future__ import annotations

import argparse
import json
import sys

from spasmwatch._paths import default_db_path
from spasmwatch.errors import ConfigError

HELP = (
    "Create, list or revoke API tokens, and say who sees whom. A token is shown once when "
    "created; only its SHA-256 is stored (in the event store file). Roles: wearer (bound to "
    "one wearer: --wearer), clinician (sees the wearers assigned to their name: --wearer, "
    "`token assign`), researcher (sees the pseudonymised wearers of their studies: --study, "
    "`token enrol`)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", default=None, help=f"event store file (default: {default_db_path()})"
    )
    sub = parser.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    c = sub.add_parser("create", help="create a token and print it once")
    c.add_argument("--role", required=True, choices=["wearer", "clinician", "researcher"])
    c.add_argument("--name", required=True, help="who or what uses it, e.g. 'dr-meyer'")
    c.add_argument(
        "--wearer",
        action="append",
        default=[],
        metavar="ID",
        help="wearer token: whose (exactly one); clinician: assign this wearer (repeatable)",
    )
    c.add_argument(
        "--study",
        action="append",
        default=[],
        metavar="ID",
        help="researcher token: make NAME a member of this study (repeatable)",
    )
    c.add_argument("--json", action="store_true", help="print JSON instead of the bare token")
    a = sub.add_parser("assign", help="let a clinician (token name) see these wearers")
    a.add_argument("clinician")
    a.add_argument("wearers", nargs="+", metavar="WEARER")
    a.add_argument("--remove", action="store_true", help="end the assignments instead")
    e = sub.add_parser("enrol", help="enrol wearers in a study (created if new)")
    e.add_argument("study")
    e.add_argument("wearers", nargs="+", metavar="WEARER")
    m = sub.add_parser("member", help="make researchers (token names) members of a study")
    m.add_argument("study")
    m.add_argument("researchers", nargs="+", metavar="RESEARCHER")
    ac = sub.add_parser("access", help="show assignments, studies, enrolments and members")
    ac.add_argument("--json", action="store_true", help="print JSON")
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
            if args.role == "wearer" and len(args.wearer) != 1:
                raise ConfigError(
                    "a wearer token belongs to exactly one wearer: pass --wearer ID once "
                    f"(got {len(args.wearer)})"
                )
            secret, info = tokens.create(
                args.role,
                args.name,
                wearer_id=args.wearer[0] if args.role == "wearer" else None,
                wearers=args.wearer if args.role == "clinician" else (),
                studies=args.study,
            )
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
                    who = f"  (wearer {t.wearer_id})" if t.wearer_id else ""
                    print(f"{t.id}  {t.role:<10}  {state:<7}  {t.name}{who}")
        elif args.token_command == "assign":
            for w in args.wearers:
                if args.remove:
                    done = tokens.unassign(args.clinician, w)
                    print(f"{args.clinician} {'no longer sees' if done else 'did not see'} {w}")
                else:
                    tokens.assign(args.clinician, w)
                    print(f"{args.clinician} sees {w}")
        elif args.token_command == "enrol":
            for w in args.wearers:
                tokens.enrol(args.study, w)
                print(f"{w} enrolled in study {args.study}")
        elif args.token_command == "member":
            for r in args.researchers:
                tokens.add_member(args.study, r)
                print(f"{r} is a member of study {args.study}")
        elif args.token_command == "access":
            acc = tokens.access()
            if args.json:
                print(json.dumps(acc))
            else:
                for c, ws in acc["clinicians"].items():
                    print(f"clinician {c}: {', '.join(ws)}")
                for sid, st in acc["studies"].items():
                    print(
                        f"study {sid}: wearers {', '.join(st['wearers']) or '-'}; "
                        f"researchers {', '.join(st['researchers']) or '-'}"
                    )
        else:
            for t in tokens.revoke(args.id_or_name):
                print(f"revoked {t.id} ({t.role}, {t.name})")
    finally:
        tokens.close()
    return 0
