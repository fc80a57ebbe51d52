"""``spasmwatch data``: export, delete, prune, back up or restore your data."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from spasmwatch._paths import data_home, default_db_path
from spasmwatch.errors import ConfigError

HELP = (
    "Your data is yours. `export` writes everything of one wearer into one zip archive "
    "(tables as CSV and JSON, raw recordings, checksums); `delete` removes one wearer's rows "
    "and recording folders after you type the wearer id, and checks nothing is left; "
    "`prune` deletes raw recordings older than N days but keeps the episodes; `backup` "
    "copies the event store safely while the monitor runs; `restore` puts a backup back."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=None, help=f"event store (default {default_db_path()})")
    common.add_argument(
        "--data-dir",
        default=None,
        help="folder holding recording folders (default: the event store's folder)",
    )
    common.add_argument("--json", action="store_true", help="print the result as JSON")
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    e = sub.add_parser("export", help="one wearer's data as a zip archive", parents=[common])
    e.add_argument("--wearer", required=True, help="wearer id")
    e.add_argument("--out", required=True, help="the .zip file to write")
    e.add_argument("--no-recordings", action="store_true", help="leave out raw recordings")
    e.add_argument("--include-name", action="store_true", help="keep the local display name")
    e.add_argument("--force", action="store_true", help="replace an existing file")
    d = sub.add_parser(
        "delete", help="delete one wearer's data (asks you to confirm)", parents=[common]
    )
    d.add_argument("--wearer", required=True, help="wearer id")
    d.add_argument("--confirm", default=None, help="the wearer id again, for scripts")
    p = sub.add_parser(
        "prune", help="delete raw recordings older than N days (keeps episodes)", parents=[common]
    )
    p.add_argument(
        "--older-than",
        type=float,
        default=None,
        metavar="DAYS",
        help="age limit in days (default: the saved retention setting)",
    )
    p.add_argument("--dry-run", action="store_true", help="only list what would be deleted")
    p.add_argument(
        "--save",
        action="store_true",
        help="save --older-than as the retention setting (settings.json)",
    )
    b = sub.add_parser(
        "backup", help="copy the event store (safe while it is in use)", parents=[common]
    )
    b.add_argument("--out", required=True, help="backup file to write")
    b.add_argument("--force", action="store_true", help="replace an existing file")
    r = sub.add_parser("restore", help="replace the event store by a backup", parents=[common])
    r.add_argument("file", help="backup file")
    r.add_argument(
        "--force", action="store_true", help="replace an existing store (a copy of it is kept)"
    )


def _out(args: argparse.Namespace, obj: dict, text: str) -> None:
    print(json.dumps(obj, indent=2, default=str) if args.json else text)


def run(args: argparse.Namespace) -> int:
    from spasmwatch.store import EventStore
    from spasmwatch.store import _ownership as own

    db = Path(args.db) if args.db else default_db_path()
    if args.data_command == "restore":
        rep = own.restore_store(args.file, db, force=args.force)
        _out(
            args,
            {
                "restored": str(rep.path),
                "schema_version": rep.schema_version,
                "rows": rep.rows,
                "sha256": rep.sha256,
            },
            f"restored {db} from {args.file} (schema {rep.schema_version}, "
            f"{sum(rep.rows.values())} rows, integrity ok)",
        )
        return 0
    data_dir = Path(args.data_dir) if args.data_dir else (db.parent if args.db else data_home())
    with EventStore(db, create=False) as store:
        if args.data_command == "export":
            rep = own.export_wearer(
                store,
                args.wearer,
                args.out,
                data_dir=data_dir,
                include_recordings=not args.no_recordings,
                include_display_name=args.include_name,
                overwrite=args.force,
            )
            _out(
                args,
                {
                    "path": str(rep.path),
                    "rows": rep.rows,
                    "recordings": rep.recordings,
                    "skipped_recordings": rep.skipped_recordings,
                    "bytes": rep.bytes,
                },
                f"wrote {rep.path}: {sum(rep.rows.values())} rows in {len(rep.rows)} tables, "
                f"{len(rep.recordings)} recordings, {rep.bytes / 1e6:.1f} MB",
            )
            for folder, why in rep.skipped_recordings:
                print(f"  skipped {folder}: {why}", file=sys.stderr)
            return 0
        if args.data_command == "delete":
            confirm = args.confirm
            if confirm is None:
                print(
                    f"This deletes every episode, label, prompt, diary entry, device, wear-time "
                    f"row and recording of wearer {args.wearer!r}. It cannot be undone "
                    f"(`spasmwatch data export` first if you want a copy).",
                    file=sys.stderr,
                )
                print(f"Type the wearer id ({args.wearer}) to confirm: ", end="", file=sys.stderr)
                sys.stderr.flush()
                confirm = sys.stdin.readline().strip()
            rep = own.delete_wearer_data(store, args.wearer, confirm=confirm, data_dir=data_dir)
            lines = [f"deleted wearer {args.wearer!r}: {rep.total_rows} rows"]
            lines += [f"  {t}: {n}" for t, n in sorted(rep.rows.items())]
            lines += [f"  folder {f}" for f in rep.folders_deleted]
            lines += [f"  kept folder {f}: {why}" for f, why in rep.folders_skipped]
            lines.append(
                "verified: no row of this wearer is left in any table; its recording "
                "folders are gone"
            )
            _out(
                args,
                {
                    "wearer_id": rep.wearer_id,
                    "rows": rep.rows,
                    "folders_deleted": rep.folders_deleted,
                    "folders_skipped": rep.folders_skipped,
                    "remaining_rows": rep.remaining_rows,
                    "wal_checkpointed": rep.wal_checkpointed,
                },
                "\n".join(lines),
            )
            return 0
        if args.data_command == "prune":
            days = args.older_than
            if days is None:
                days = own.retention_days(data_dir)
                if days is None:
                    raise ConfigError(
                        "no retention period: pass --older-than DAYS (add --save to keep it), "
                        f"or set {own.RETENTION_ENV}"
                    )
            elif args.save:
                saved = own.set_retention_days(days, data_dir)
                print(f"saved retention of {days:g} days in {saved}", file=sys.stderr)
            rep = own.prune_recordings(store, days, data_dir=data_dir, dry_run=args.dry_run)
            verb = "would delete" if rep.dry_run else "deleted"
            lines = [
                f"{verb} {len(rep.pruned)} recordings older than {days:g} days "
                f"({rep.bytes / 1e6:.1f} MB); episodes and labels are kept"
            ]
            lines += [f"  {p['path']}" for p in rep.pruned]
            lines += [f"  skipped {f}: {why}" for f, why in rep.skipped]
            _out(
                args,
                {
                    "older_than_days": days,
                    "dry_run": rep.dry_run,
                    "pruned": rep.pruned,
                    "skipped": rep.skipped,
                    "bytes": rep.bytes,
                },
                "\n".join(lines),
            )
            return 0
        if args.data_command == "backup":
            rep = own.backup_store(store, args.out, overwrite=args.force)
            _out(
                args,
                {
                    "path": str(rep.path),
                    "bytes": rep.bytes,
                    "schema_version": rep.schema_version,
                    "rows": rep.rows,
                    "sha256": rep.sha256,
                },
                f"backed up {db} to {rep.path} ({rep.bytes / 1e6:.1f} MB, schema "
                f"{rep.schema_version}, integrity ok, sha256 {rep.sha256[:16]}...)",
            )
            return 0
    raise ConfigError(f"unknown data action {args.data_command!r}")  # pragma: no cover
