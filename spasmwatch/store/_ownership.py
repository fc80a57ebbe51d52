"""Data ownership: export one wearer's data, delete it, prune old raw recordings, back up
and restore the event store.

Every function takes the :class:`~spasmwatch.store.EventStore` (only its file path is used:
each function opens its own SQLite connection, so a snapshot or a secure delete never
changes the store's own connections) and the data folder that holds recording folders
(default: the folder of the store's file, i.e. the data home).

Which rows belong to a wearer is read from the schema, not hard-coded: every table with a
``wearer_id`` column (episodes, labels, prompts, diary, devices, recordings, signal losses,
wear time, and any table a later migration adds), the ``wearers`` row itself, and rows of
tables whose foreign key points at one of those (``recording_devices``). A wearer's
recording folders are the folders of the recording index rows of that wearer plus folders
under ``<data_dir>`` and ``<data_dir>/recordings`` whose ``manifest.json`` names the wearer
(``meta.wearer_id``; none means ``"default"``, as the API's recording index reads it).

See ``docs/data-ownership.md``.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spasmwatch._version import __version__
from spasmwatch.errors import ConfigError, NotFoundError, StoreError
from spasmwatch.store._migrations import LATEST_VERSION, schema_version
from spasmwatch.store._pyramid import SIDECAR_SUFFIX

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "EXPORT_FORMAT",
    "RETENTION_ENV",
    "BackupReport",
    "DeletionReport",
    "ExportReport",
    "PruneReport",
    "RestoreReport",
    "apply_retention",
    "backup_store",
    "check_backup",
    "delete_wearer_data",
    "export_wearer",
    "prune_recordings",
    "pruned_recordings",
    "retention_days",
    "set_retention_days",
    "wearer_recording_folders",
]

EXPORT_FORMAT = "spasmwatch-wearer-export"
EXPORT_FORMAT_VERSION = 1
#: Environment variable with the retention period in days (overrides the settings file).
RETENTION_ENV = "SPASMWATCH_RETENTION_DAYS"
SETTINGS_FILE = "settings.json"
PRUNED_LEDGER = "pruned-recordings.jsonl"
_RECORDING_FORMAT = "spasmwatch-recording"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DAY_NS = 86_400 * 10**9
# Tables that never hold a wearer's data.
_NOT_WEARER_TABLES = {"schema_version"}
# Deleted with the wearer but never exported (hashes of API token secrets).
_NOT_EXPORTED = {"api_tokens"}


# --------------------------------------------------------------------------- helpers


def _db_path(store: Any) -> Path:
    path = getattr(store, "path", None)
    if path is None:
        raise ConfigError(f"store must be an EventStore (got {type(store).__name__})")
    return Path(path)


def _data_dir(store: Any, data_dir: str | os.PathLike[str] | None) -> Path:
    return Path(data_dir) if data_dir is not None else _db_path(store).parent


@contextlib.contextmanager
def _connect(path: Path, *, secure_delete: bool = False) -> Iterator[sqlite3.Connection]:
    try:
        conn = sqlite3.connect(path, timeout=10, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open event store {path}: {exc}", reason="unreadable") from exc
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA foreign_keys = ON")
        if secure_delete:
            conn.execute("PRAGMA secure_delete = ON")
        yield conn
    finally:
        conn.close()


def _q(name: str) -> str:
    if not _IDENT.match(name):
        raise StoreError(f"unexpected table or column name {name!r} in the schema")
    return f'"{name}"'


def _tables(conn: sqlite3.Connection) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({_q(table)})")]


def _wearer_tables(conn: sqlite3.Connection) -> list[str]:
    """Tables with a ``wearer_id`` column (``wearers`` excluded)."""
    return [
        t
        for t in _tables(conn)
        if t not in _NOT_WEARER_TABLES and t != "wearers" and "wearer_id" in _columns(conn, t)
    ]


def _child_tables(conn: sqlite3.Connection, parents: list[str]) -> list[tuple[str, str, str, str]]:
    """``(child, child_col, parent, parent_col)`` for foreign keys from tables without a
    ``wearer_id`` column into ``parents``."""
    out = []
    for t in _tables(conn):
        if t in _NOT_WEARER_TABLES or t in parents or "wearer_id" in _columns(conn, t):
            continue
        for fk in conn.execute(f"PRAGMA foreign_key_list({_q(t)})"):
            parent, from_col, to_col = fk[2], fk[3], fk[4]
            if parent in parents:
                out.append((t, from_col, parent, to_col or "id"))
    return out


def _wearer_rows(
    conn: sqlite3.Connection, wearer_id: str, *, for_export: bool = False
) -> dict[str, tuple[list[str], list]]:
    """Table -> (columns, rows) of everything that belongs to ``wearer_id``."""
    out: dict[str, tuple[list[str], list]] = {}
    cols = _columns(conn, "wearers")
    out["wearers"] = (
        cols,
        conn.execute("SELECT * FROM wearers WHERE id = ?", (wearer_id,)).fetchall(),
    )
    tables = _wearer_tables(conn)
    for t in tables:
        if for_export and t in _NOT_EXPORTED:
            continue
        cols = _columns(conn, t)
        order = ", ".join(str(i + 1) for i in range(len(cols)))
        rows = conn.execute(
            f"SELECT * FROM {_q(t)} WHERE wearer_id = ? ORDER BY {order}", (wearer_id,)
        ).fetchall()
        out[t] = (cols, rows)
    for child, ccol, parent, pcol in _child_tables(conn, tables):
        cols = _columns(conn, child)
        rows = conn.execute(
            f"SELECT * FROM {_q(child)} WHERE {_q(ccol)} IN "
            f"(SELECT {_q(pcol)} FROM {_q(parent)} WHERE wearer_id = ?)",
            (wearer_id,),
        ).fetchall()
        out[child] = (cols, rows)
    return out


def _manifest(folder: Path) -> dict | None:
    try:
        m = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return m if isinstance(m, dict) and m.get("format") == _RECORDING_FORMAT else None


def _is_recording(folder: Path) -> bool:
    return folder.is_dir() and (
        _manifest(folder) is not None or (folder / "journal.jsonl").is_file()
    )


def _is_live(folder: Path) -> bool:
    """A writer holds the folder's lock (recording in progress)."""
    lock = folder / ".lock"
    if not lock.exists() or fcntl is None:
        return False
    with open(lock, "a+") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    return False


def _safe_to_remove(folder: Path, protected: list[Path]) -> str | None:
    """Why ``folder`` must not be removed, or ``None`` if it may."""
    try:
        real = folder.resolve()
    except OSError as exc:
        return f"cannot resolve: {exc}"
    if not real.is_dir():
        return "not a folder"
    for p in protected:
        pr = p.resolve()
        if real == pr or real in pr.parents:
            return f"contains or is {p}"
    if real == Path(real.anchor) or real == Path.home().resolve():
        return "a root or home folder"
    if not _is_recording(real):
        return "not a spasmwatch recording folder (no manifest.json or journal.jsonl)"
    return None


def _scan_folders(data_dir: Path) -> list[tuple[Path, dict]]:
    out = []
    for root in (data_dir, data_dir / "recordings"):
        if not root.is_dir():
            continue
        for folder in sorted(root.iterdir()):
            if folder.is_dir():
                m = _manifest(folder)
                if m is not None:
                    out.append((folder, m))
    return out


def wearer_recording_folders(
    store: Any, wearer_id: str, data_dir: str | os.PathLike[str] | None = None
) -> list[tuple[str | None, Path]]:
    """``(recording_id, folder)`` of every recording of ``wearer_id`` that exists on disk.

    From the recording index (rows of that wearer) and from folders under ``data_dir`` and
    ``data_dir/recordings`` whose manifest names the wearer (``meta.wearer_id``, default
    ``"default"``). A folder the index gives to another wearer is never included.
    """
    ddir = _data_dir(store, data_dir)
    found: dict[Path, str | None] = {}
    others: set[str] = set()
    with _connect(_db_path(store)) as conn:
        for rid, path, w in conn.execute("SELECT id, path, wearer_id FROM recordings"):
            if w == wearer_id:
                p = Path(path)
                if p.is_dir():
                    found[p.resolve()] = rid
            else:
                others.add(rid)
    for folder, m in _scan_folders(ddir):
        rid = str(m.get("recording_id", ""))
        meta = m.get("meta") if isinstance(m.get("meta"), dict) else {}
        if str(meta.get("wearer_id", "default")) == wearer_id and rid not in others:
            found.setdefault(folder.resolve(), rid or None)
    return sorted(((rid, p) for p, rid in found.items()), key=lambda x: str(x[1]))


# --------------------------------------------------------------------------- export


@dataclass(frozen=True, slots=True)
class ExportReport:
    """What :func:`export_wearer` wrote: the archive, row counts per table, recordings."""

    path: Path
    wearer_id: str
    rows: dict[str, int]
    recordings: list[str]
    skipped_recordings: list[tuple[str, str]]
    n_files: int
    bytes: int


def _csv_bytes(cols: list[str], rows: list) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    return buf.getvalue().encode("utf-8")


def _readme(wearer_id: str, created: str, rows: dict[str, int], recs: list[str]) -> str:
    lines = [
        "spasmwatch data export",
        "======================",
        "",
        f"Wearer: {wearer_id}",
        f"Created: {created} (UTC) by spasmwatch {__version__}",
        "",
        "This archive holds everything spasmwatch stored about this wearer on the machine",
        "it was made on. spasmwatch is a self-monitoring and research tool, not a",
        "diagnostic device.",
        "",
        "  tables/<table>.csv   one file per table, a header row, times as UTC ns",
        "  tables/<table>.json  the same rows as a JSON list of objects",
        "  recordings/<folder>/ raw recordings: manifest.json + one Parquet file per stream",
        "                       (open them with pyarrow, pandas, polars or DuckDB)",
        "  manifest.json        what is in here, with a SHA-256 and size for every file",
        "  SHA256SUMS           the same checksums for `sha256sum -c SHA256SUMS`",
        "",
        "Rows per table:",
        *[f"  {t}: {n}" for t, n in sorted(rows.items())],
        "",
        f"Recordings: {len(recs)}",
        "",
        "Times: int64 nanoseconds since 1970-01-01 UTC. Severity: 1 mild, 2 moderate, 3 severe.",
        "Peak intensity: multiple of the wearer's resting baseline. See docs/event-store.md",
        "and docs/recording-format.md in the spasmwatch repository for every column.",
        "",
    ]
    return "\n".join(lines)


def export_wearer(
    store: Any,
    wearer_id: str,
    out: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    include_recordings: bool = True,
    include_display_name: bool = False,
    overwrite: bool = False,
) -> ExportReport:
    """Write every record and recording of ``wearer_id`` into one zip archive.

    Parameters
    ----------
    store : EventStore
        The event store.
    wearer_id : str
        Whose data. Unknown wearers raise :class:`NotFoundError`.
    out : path
        The ``.zip`` to write (atomically; an existing file is refused unless
        ``overwrite``).
    data_dir : path, optional
        Folder holding recording folders (default: the store's folder).
    include_recordings : bool
        Add the raw recordings (Parquet + manifests).
    include_display_name : bool
        Keep ``wearers.display_name`` (a local-only name; left out by default).
    overwrite : bool
        Replace an existing ``out``.

    Returns
    -------
    ExportReport
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise StoreError(
            f"{out} already exists; choose another file or pass --force", reason="exists"
        )
    with _connect(_db_path(store)) as conn:
        conn.execute("BEGIN")  # one consistent snapshot of every table
        try:
            tables = _wearer_rows(conn, wearer_id, for_export=True)
            version = schema_version(conn)
        finally:
            conn.execute("COMMIT")
    if not tables["wearers"][1] and not any(rows for _, rows in tables.values()):
        raise NotFoundError(f"no wearer {wearer_id!r} in the event store", reason="wearer")
    if not include_display_name and "display_name" in tables["wearers"][0]:
        cols, rows = tables["wearers"]
        i = cols.index("display_name")
        tables["wearers"] = (
            cols,
            [tuple(None if j == i else v for j, v in enumerate(r)) for r in rows],
        )
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    files: dict[str, dict[str, Any]] = {}
    rows_n = {t: len(rows) for t, (_, rows) in tables.items()}
    recs: list[str] = []
    skipped: list[tuple[str, str]] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:

            def put(name: str, data: bytes, compress: bool = True) -> None:
                zf.writestr(name, data, zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED)
                files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}

            for t, (cols, rows) in sorted(tables.items()):
                put(f"tables/{t}.csv", _csv_bytes(cols, rows))
                objs = [dict(zip(cols, r)) for r in rows]
                put(f"tables/{t}.json", json.dumps(objs, indent=1).encode("utf-8"))
            if include_recordings:
                used: set[str] = set()
                for rid, folder in wearer_recording_folders(store, wearer_id, data_dir):
                    if _is_live(folder) or _manifest(folder) is None:
                        skipped.append((str(folder), "recording not closed (in progress?)"))
                        continue
                    name = folder.name
                    k = 1
                    while name in used:
                        k += 1
                        name = f"{folder.name}-{k}"
                    used.add(name)
                    for f in sorted(folder.rglob("*")):
                        rel = f.relative_to(folder)
                        if not f.is_file() or rel.parts[0] in ("segments", ".lock"):
                            continue
                        if f.name.endswith(SIDECAR_SUFFIX):
                            continue  # display cache, rebuilt from the stream on demand
                        put(
                            f"recordings/{name}/{rel.as_posix()}",
                            f.read_bytes(),
                            compress=f.suffix != ".parquet",
                        )
                    recs.append(rid or name)
            readme = _readme(wearer_id, created, rows_n, recs)
            put("README.txt", readme.encode("utf-8"))
            manifest = {
                "format": EXPORT_FORMAT,
                "format_version": EXPORT_FORMAT_VERSION,
                "wearer_id": wearer_id,
                "created_utc": created,
                "software_version": __version__,
                "schema_version": version,
                "rows": rows_n,
                "recordings": recs,
                "skipped_recordings": [{"folder": f, "why": w} for f, w in skipped],
                "files": dict(sorted(files.items())),
            }
            sums = "".join(f"{v['sha256']}  {k}\n" for k, v in sorted(files.items()))
            zf.writestr("manifest.json", json.dumps(manifest, indent=1))
            zf.writestr("SHA256SUMS", sums)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return ExportReport(out, wearer_id, rows_n, recs, skipped, len(files) + 2, out.stat().st_size)


# --------------------------------------------------------------------------- delete


@dataclass(frozen=True, slots=True)
class DeletionReport:
    """What :func:`delete_wearer_data` removed, and the proof that nothing is left."""

    wearer_id: str
    rows: dict[str, int]
    folders_deleted: list[str]
    folders_skipped: list[tuple[str, str]]
    remaining_rows: dict[str, int]
    wal_checkpointed: bool

    @property
    def total_rows(self) -> int:
        """Rows deleted over all tables."""
        return sum(self.rows.values())


def delete_wearer_data(
    store: Any,
    wearer_id: str,
    *,
    confirm: str,
    data_dir: str | os.PathLike[str] | None = None,
) -> DeletionReport:
    """Delete every row and recording folder of ``wearer_id``, then check none is left.

    Parameters
    ----------
    store : EventStore
        The event store.
    wearer_id : str
        Whose data.
    confirm : str
        Must equal ``wearer_id`` exactly (the typed confirmation); anything else is refused
        before anything is touched.
    data_dir : path, optional
        Folder holding recording folders (default: the store's folder).

    Returns
    -------
    DeletionReport
        Rows deleted per table, folders deleted (and skipped, with why).

    Raises
    ------
    ConfigError
        ``confirm`` differs from ``wearer_id`` (``reason="confirmation"``).
    NotFoundError
        No such wearer.
    StoreError
        Rows or folders remained after deleting (``reason="not_deleted"``).

    Notes
    -----
    Rows are deleted in one transaction with ``PRAGMA secure_delete`` (freed pages are
    overwritten with zeros) and the WAL is then checkpointed and truncated, so the deleted
    values do not linger in the database file or its WAL. Labels and prompts of *other*
    wearers that pointed at a deleted episode keep their rows with ``episode_id`` emptied.
    """
    if not isinstance(confirm, str) or confirm != wearer_id:
        raise ConfigError(
            f"deletion of wearer {wearer_id!r} not confirmed: type the wearer id exactly "
            f"(got {confirm!r}); nothing was deleted",
            reason="confirmation",
        )
    path = _db_path(store)
    ddir = _data_dir(store, data_dir)
    with _connect(path) as conn:
        present = _wearer_rows(conn, wearer_id)
    if not any(rows for _, rows in present.values()):
        raise NotFoundError(f"no wearer {wearer_id!r} in the event store", reason="wearer")
    folders = wearer_recording_folders(store, wearer_id, ddir)
    protected = [path, path.parent, ddir]
    deleted_rows: dict[str, int] = {}
    with _connect(path, secure_delete=True) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            tables = _wearer_tables(conn)
            for child, ccol, parent, pcol in _child_tables(conn, tables):
                cur = conn.execute(
                    f"DELETE FROM {_q(child)} WHERE {_q(ccol)} IN "
                    f"(SELECT {_q(pcol)} FROM {_q(parent)} WHERE wearer_id = ?)",
                    (wearer_id,),
                )
                deleted_rows[child] = deleted_rows.get(child, 0) + cur.rowcount
            for t in tables:
                cur = conn.execute(f"DELETE FROM {_q(t)} WHERE wearer_id = ?", (wearer_id,))
                deleted_rows[t] = cur.rowcount
            cur = conn.execute("DELETE FROM wearers WHERE id = ?", (wearer_id,))
            deleted_rows["wearers"] = cur.rowcount
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise StoreError(
                    f"deleting wearer {wearer_id!r} failed: {exc}; nothing was deleted",
                    reason="sqlite",
                ) from exc
            raise
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        checkpointed = busy == 0
    removed: list[str] = []
    skipped: list[tuple[str, str]] = []
    for _rid, folder in folders:
        why = _safe_to_remove(folder, protected)
        if why is not None:
            skipped.append((str(folder), why))
            continue
        shutil.rmtree(folder)
        removed.append(str(folder))
    # ---- verify
    with _connect(path) as conn:
        remaining = {t: len(rows) for t, (_, rows) in _wearer_rows(conn, wearer_id).items()}
    remaining = {t: n for t, n in remaining.items() if n}
    left = [f for f in removed if Path(f).exists()]
    if remaining or left:
        raise StoreError(
            f"wearer {wearer_id!r} was not fully deleted: rows left {remaining}, folders left "
            f"{left}",
            reason="not_deleted",
        )
    return DeletionReport(
        wearer_id=wearer_id,
        rows={t: n for t, n in deleted_rows.items() if n},
        folders_deleted=removed,
        folders_skipped=skipped,
        remaining_rows=remaining,
        wal_checkpointed=checkpointed,
    )


# --------------------------------------------------------------------------- retention


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What :func:`prune_recordings` removed (or would remove, with ``dry_run``)."""

    older_than_days: float
    cutoff_ns: int
    dry_run: bool
    pruned: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        """Bytes freed (or that would be)."""
        return sum(int(p["bytes"]) for p in self.pruned)


def _folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def retention_days(data_dir: str | os.PathLike[str] | None = None) -> float | None:
    """The retention period in days: ``$SPASMWATCH_RETENTION_DAYS``, else ``retention_days``
    in ``<data_dir>/settings.json``, else ``None`` (keep raw recordings forever)."""
    env = os.environ.get(RETENTION_ENV)
    if env not in (None, ""):
        return _check_days(env, RETENTION_ENV)
    if data_dir is None:
        from spasmwatch._paths import data_home

        data_dir = data_home()
    p = Path(data_dir) / SETTINGS_FILE
    if not p.is_file():
        return None
    try:
        settings = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{p} is not valid JSON ({exc}); fix or delete it") from exc
    v = settings.get("retention_days") if isinstance(settings, dict) else None
    return None if v is None else _check_days(v, f"retention_days in {p}")


def _check_days(value: object, name: str) -> float:
    try:
        days = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        days = float("nan")
    if not (days >= 1) or days > 36_500:
        raise ConfigError(f"{name} must be a number of days between 1 and 36500 (got {value!r})")
    return days


def set_retention_days(days: float | None, data_dir: str | os.PathLike[str]) -> Path:
    """Persist the retention period (``None`` removes it) in ``<data_dir>/settings.json``."""
    p = Path(data_dir) / SETTINGS_FILE
    settings: dict[str, Any] = {}
    if p.is_file():
        with contextlib.suppress(OSError, ValueError):
            loaded = json.loads(p.read_text(encoding="utf-8"))
            if isinstance(loaded, dict):
                settings = loaded
    if days is None:
        settings.pop("retention_days", None)
    else:
        settings["retention_days"] = _check_days(days, "days")
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(settings, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, p)
    return p


def prune_recordings(
    store: Any,
    older_than_days: float,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    now_ns: int | None = None,
    dry_run: bool = False,
) -> PruneReport:
    """Delete raw recording folders that ended more than ``older_than_days`` ago.

    Episodes, labels and every other row stay; so does the recording's index row (its
    time span and devices). Each pruned recording is appended to
    ``<data_dir>/pruned-recordings.jsonl`` and, once the schema has a
    ``recordings.pruned_ns`` column, marked there too. Recordings still being written, or
    not closed, are skipped.

    Parameters
    ----------
    store : EventStore
        The event store.
    older_than_days : float
        Age limit in days (>= 1), counted from each recording's end.
    data_dir : path, optional
        Folder holding recording folders and the ledger (default: the store's folder).
    now_ns : int, optional
        "Now" (UTC ns; default the wall clock).
    dry_run : bool
        Only report what would be pruned.
    """
    days = _check_days(older_than_days, "older_than_days")
    now = time.time_ns() if now_ns is None else int(now_ns)
    cutoff = now - int(days * _DAY_NS)
    path = _db_path(store)
    ddir = _data_dir(store, data_dir)
    cands: dict[Path, dict[str, Any]] = {}
    with _connect(path) as conn:
        index = conn.execute(
            "SELECT id, path, start_ns, end_ns, wearer_id FROM recordings "
            "WHERE end_ns IS NOT NULL AND end_ns < ?",
            (cutoff,),
        ).fetchall()
        has_col = "pruned_ns" in _columns(conn, "recordings")
    for rid, p, s, e, w in index:
        folder = Path(p)
        if folder.is_dir():
            cands[folder.resolve()] = {"id": rid, "start_ns": s, "end_ns": e, "wearer_id": w}
    for folder, m in _scan_folders(ddir):
        try:
            end = int(m["end_ns"])
        except (KeyError, TypeError, ValueError):
            continue
        if end < cutoff:
            meta = m.get("meta") if isinstance(m.get("meta"), dict) else {}
            cands.setdefault(
                folder.resolve(),
                {
                    "id": str(m.get("recording_id", "")),
                    "start_ns": int(m.get("start_ns", end)),
                    "end_ns": end,
                    "wearer_id": str(meta.get("wearer_id", "default")),
                },
            )
    report = PruneReport(days, cutoff, dry_run)
    protected = [path, path.parent, ddir]
    for folder, info in sorted(cands.items(), key=lambda kv: kv[1]["end_ns"]):
        if _is_live(folder) or _manifest(folder) is None:
            report.skipped.append((str(folder), "recording not closed"))
            continue
        why = _safe_to_remove(folder, protected)
        if why is not None:
            report.skipped.append((str(folder), why))
            continue
        entry = {**info, "path": str(folder), "bytes": _folder_bytes(folder)}
        if not dry_run:
            shutil.rmtree(folder)
            entry["pruned_ns"] = now
            entry["older_than_days"] = days
            ddir.mkdir(parents=True, exist_ok=True)
            with open(ddir / PRUNED_LEDGER, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")
            if has_col and info["id"]:
                with _connect(path) as conn:
                    conn.execute(
                        "UPDATE recordings SET pruned_ns = ? WHERE id = ?", (now, info["id"])
                    )
        report.pruned.append(entry)
    return report


def pruned_recordings(data_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The entries of ``<data_dir>/pruned-recordings.jsonl`` (oldest first)."""
    p = Path(data_dir) / PRUNED_LEDGER
    if not p.is_file():
        return []
    out = []
    for line in p.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError):
            out.append(json.loads(line))
    return out


def apply_retention(
    store: Any, data_dir: str | os.PathLike[str] | None = None, *, now_ns: int | None = None
) -> PruneReport | None:
    """Prune with the configured retention period (:func:`retention_days`); ``None`` if no
    period is set. Meant to be called once a day by the monitor."""
    ddir = _data_dir(store, data_dir)
    days = retention_days(ddir)
    if days is None:
        return None
    return prune_recordings(store, days, data_dir=ddir, now_ns=now_ns)


# --------------------------------------------------------------------------- backup


@dataclass(frozen=True, slots=True)
class BackupReport:
    """A backup (or restore) file: its path, size, schema version, rows per table, SHA-256."""

    path: Path
    bytes: int
    schema_version: int
    rows: dict[str, int]
    sha256: str


RestoreReport = BackupReport


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _row_counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {
        t: int(conn.execute(f"SELECT count(*) FROM {_q(t)}").fetchone()[0]) for t in _tables(conn)
    }


def _verify(conn: sqlite3.Connection, where: str) -> int:
    res = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    if res != ["ok"]:
        raise StoreError(
            f"{where} fails the integrity check: {'; '.join(res[:5])}", reason="corrupt"
        )
    fk = conn.execute("PRAGMA foreign_key_check").fetchall()
    if fk:
        raise StoreError(f"{where} has {len(fk)} foreign key violations", reason="corrupt")
    v = schema_version(conn)  # raises for a foreign database
    if v == 0:
        raise StoreError(
            f"{where} is empty: not a spasmwatch event store", reason="foreign_database"
        )
    if v > LATEST_VERSION:
        raise StoreError(
            f"{where} has schema version {v}; this spasmwatch knows up to {LATEST_VERSION}. "
            "Upgrade spasmwatch to restore it",
            reason="newer_schema",
        )
    return v


def backup_store(
    store: Any, out: str | os.PathLike[str], *, overwrite: bool = False
) -> BackupReport:
    """Copy the event store to ``out`` with SQLite's online backup API.

    The copy is one consistent snapshot even while the monitor keeps writing (the backup
    reads inside a single read transaction; WAL lets the writer go on). The result is a
    single self-contained file (rollback-journal mode, no ``-wal``), checked with
    ``integrity_check`` before it replaces ``out`` atomically; mode 0600.
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise StoreError(
            f"{out} already exists; choose another file or pass --force", reason="exists"
        )
    src_path = _db_path(store)
    if out.resolve() == src_path.resolve():
        raise ConfigError(f"the backup file must not be the store itself ({src_path})")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with contextlib.suppress(OSError):
        tmp.unlink()
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    os.close(fd)
    try:
        with _connect(src_path) as src:
            dst = sqlite3.connect(tmp, isolation_level=None)
            try:
                src.backup(dst)  # pages=-1: the whole database in one step, one snapshot
                dst.execute("PRAGMA journal_mode = DELETE")
                version = _verify(dst, f"backup {out}")
                rows = _row_counts(dst)
            finally:
                dst.close()
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return BackupReport(out, out.stat().st_size, version, rows, _sha256(out))


def check_backup(path: str | os.PathLike[str]) -> BackupReport:
    """Check a backup file without changing it: integrity, foreign keys, schema version."""
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"no backup file {p}", reason="backup")
    try:
        conn = sqlite3.connect(f"file:{p.resolve()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {p}: {exc}", reason="unreadable") from exc
    try:
        version = _verify(conn, f"backup {p}")
        rows = _row_counts(conn)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{p} is not a SQLite database ({exc})", reason="unreadable") from exc
    finally:
        conn.close()
    return BackupReport(p, p.stat().st_size, version, rows, _sha256(p))


def restore_store(
    backup: str | os.PathLike[str], db_path: str | os.PathLike[str], *, force: bool = False
) -> RestoreReport:
    """Restore the event store at ``db_path`` from a backup file.

    The backup is checked first (:func:`check_backup`). An existing store is only
    overwritten with ``force``, and then first copied to
    ``<db>.before-restore-<UTC time>`` so that nothing is lost. Stop the monitor and the
    API server before restoring: they would keep their view of the old data.
    """
    info = check_backup(backup)
    target = Path(db_path)
    if target.resolve() == Path(backup).resolve():
        raise ConfigError("the backup file and the store to restore are the same file")
    existed = target.exists() and target.stat().st_size > 0
    if existed and not force:
        raise StoreError(
            f"event store {target} exists; restoring would replace it. Pass --force to "
            "replace it (a copy of it is kept as <db>.before-restore-<time>)",
            reason="exists",
        )
    if existed:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        safety = target.with_name(f"{target.name}.before-restore-{stamp}")
        with _connect(target) as cur, contextlib.closing(sqlite3.connect(safety)) as keep:
            cur.backup(keep)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not target.exists():
        fd = os.open(target, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    src = sqlite3.connect(f"file:{Path(backup).resolve()}?mode=ro", uri=True)
    try:
        with _connect(target) as dst:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode = WAL")
            version = _verify(dst, f"restored store {target}")
            rows = _row_counts(dst)
            dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        src.close()
    if rows != info.rows:
        raise StoreError(
            f"restored store {target} has rows {rows}, the backup {info.rows}",
            reason="restore_mismatch",
        )
    return RestoreReport(target, target.stat().st_size, version, rows, info.sha256)
