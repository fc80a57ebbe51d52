"""``spasmwatch diary``: add, list or delete diary entries."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time

from spasmwatch._commands.insights import parse_local_time
from spasmwatch._paths import default_db_path

HELP = (
    "Your diary: medication you took, stretching, exercise, heat, cold, fluids, notes. "
    "spasmwatch records what you write, with the time, so that `spasmwatch insights` and "
    "your clinician can see it next to your episodes. It never suggests a medication or dose."
)

_KINDS = ("medication", "stretching", "exercise", "heat", "cold", "fluids", "note")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=None, help=f"event store (default {default_db_path()})")
    common.add_argument("--wearer", default="default", help="wearer id (default 'default')")
    common.add_argument("--tz", default=None, help="IANA time zone (default: this machine's)")
    sub = parser.add_subparsers(dest="diary_command", metavar="ACTION", required=True)
    a = sub.add_parser("add", help="add an entry", parents=[common])
    a.add_argument("--kind", required=True, choices=_KINDS)
    a.add_argument("--text", default="", help="what, as you would write it (e.g. 'baclofen')")
    a.add_argument("--dose", default=None, help="dose or amount as you took it (e.g. '10 mg')")
    a.add_argument("--at", default=None, help="when (ISO date-time or HH:MM today; default now)")
    a.add_argument("--json", action="store_true", help="print the entry as JSON")
    ls = sub.add_parser("list", help="list entries, newest first", parents=[common])
    ls.add_argument("--days", type=int, default=14, help="how many days back (14)")
    ls.add_argument("--kind", action="append", choices=_KINDS, help="only this kind (repeatable)")
    ls.add_argument("--json", action="store_true", help="print JSON")
    d = sub.add_parser("delete", help="delete an entry by id", parents=[common])
    d.add_argument("id")


def _local(t_ns: int, tz: str | None) -> str:
    from spasmwatch.store import resolve_tz

    return dt.datetime.fromtimestamp(t_ns / 1e9, resolve_tz(tz)).strftime("%Y-%m-%d %H:%M")


def run(args: argparse.Namespace) -> int:
    from spasmwatch.episodes import new_id
    from spasmwatch.store import DiaryEntry, EventStore

    db = args.db or default_db_path()
    if args.diary_command == "add":
        t_ns = time.time_ns() if args.at is None else parse_local_time(args.at, args.tz)
        entry = DiaryEntry(
            id=new_id(),
            t_ns=t_ns,
            kind=args.kind,
            text=args.text,
            dose=args.dose or None,
            wearer_id=args.wearer,
        )
        with EventStore(db) as store:
            store.add_diary(entry)
        if args.json:
            print(json.dumps(entry.to_dict()))
        else:
            what = " ".join(x for x in (entry.text, entry.dose or "") if x)
            print(f"recorded {entry.kind} at {_local(t_ns, args.tz)}: {what} (id {entry.id})")
        return 0
    with EventStore(db, create=False) as store:
        if args.diary_command == "delete":
            store.delete_diary(args.id)
            print(f"deleted diary entry {args.id}")
            return 0
        start = time.time_ns() - args.days * 86_400 * 10**9
        entries = store.diary(
            wearer_id=args.wearer, start_ns=start, kinds=args.kind, newest_first=True
        )
    if args.json:
        print(json.dumps([e.to_dict() for e in entries], indent=2))
        return 0
    if not entries:
        print(f"no diary entries in the last {args.days} days")
    for e in entries:
        what = " ".join(x for x in (e.text, e.dose or "") if x)
        print(f"{_local(e.t_ns, args.tz)}  {e.kind:<10}  {what}  [{e.id}]")
    return 0
