"""The event store: one SQLite file in WAL mode holding episodes, labels, prompts, diary
entries, wearers, devices, the recording index, signal losses and wear time.

Durability and concurrency
--------------------------
* ``journal_mode=WAL``: readers never block the writer and the writer never blocks readers,
  so the monitor can log episodes while the API (another thread or process) reads a
  timeline.
* ``synchronous=NORMAL``: in WAL mode a commit is appended to the WAL file and reaches the
  OS before ``commit`` returns, so a crash or ``kill -9`` of spasmwatch loses nothing that
  was committed (tested). Only a power cut or OS crash can lose the last commits
  (a few hundred ms) and never corrupts the file. ``FULL`` would add an fsync per episode,
  which costs battery and flash wear on the small machines the monitor runs on.
* ``foreign_keys=ON``; ``busy_timeout`` (default 5 s) so a second writer waits rather
  than failing.
* One connection per thread (``threading.local``), created on first use. Every write is one
  ``BEGIN IMMEDIATE`` ... ``COMMIT`` transaction with parameterised SQL only.
"""

from __future__ import annotations

import bisect
import datetime as dt
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from spasmwatch.episodes._types import (
    EPISODE_TYPES,
    LABEL_ORIGINS,
    SEVERITIES,
    Episode,
    Label,
    severity_rank,
)
from spasmwatch.errors import NotFoundError, StoreError
from spasmwatch.store import _rows as rows
from spasmwatch.store._migrations import LATEST_VERSION, apply_migrations, schema_version
from spasmwatch.store._rows import (
    DEVICE_COLS,
    DIARY_COLS,
    EP_COLS,
    LABEL_COLS,
    LOSS_COLS,
    PROMPT_COLS,
    SR_COLS,
)
from spasmwatch.store._values import (
    DIARY_KINDS,
    PROMPT_OUTCOMES,
    PROMPT_REASONS,
    Device,
    DiaryEntry,
    Followup,
    Placement,
    Prompt,
    RecordingInfo,
    SelfReport,
    SignalLoss,
    SummaryBucket,
    Wearer,
    WearTime,
)

__all__ = ["EventStore", "resolve_tz"]

_NOT_FALSE_ALARM = (
    "NOT EXISTS (SELECT 1 FROM labels l WHERE l.episode_id = e.id AND l.is_false_alarm = 1)"
)

# The plain CRUD statements, derived from the column lists in _rows (schema order).
_EP_STAMPED = (*rows.EPISODE_FIELDS, "updated_ns")
_EP_INSERT = rows.insert_sql("episodes", _EP_STAMPED)
_EP_UPSERT = rows.insert_sql("episodes", _EP_STAMPED, update=_EP_STAMPED[1:])
_LABEL_STAMPED = (*rows.LABEL_FIELDS, "updated_ns")
_LABEL_INSERT = rows.insert_sql("labels", _LABEL_STAMPED)
_LABEL_UPDATE = rows.update_sql("labels", _LABEL_STAMPED[1:])
_PROMPT_COLUMNS = (*rows.PROMPT_FIELDS, *rows.FOLLOWUP_COLUMNS)
_PROMPT_INSERT = rows.insert_sql("prompts", _PROMPT_COLUMNS)
_PROMPT_REPLACE = rows.insert_sql("prompts", _PROMPT_COLUMNS, verb="INSERT OR REPLACE")
_PROMPT_OUTCOME_UPDATE = rows.update_sql("prompts", ("outcome", "outcome_t_ns"))
_PROMPT_FOLLOWUP_UPDATE = rows.update_sql("prompts", rows.FOLLOWUP_COLUMNS)
_DIARY_INSERT = rows.insert_sql("diary", rows.DIARY_FIELDS)
_DIARY_UPDATE = rows.update_sql("diary", rows.DIARY_FIELDS[1:])
_DEVICE_REPLACE = rows.insert_sql("devices", rows.DEVICE_FIELDS, verb="INSERT OR REPLACE")
_LOSS_REPLACE = rows.insert_sql("signal_losses", rows.LOSS_FIELDS, verb="INSERT OR REPLACE")
_SR_INSERT = rows.insert_sql("self_reports", (*rows.SELF_REPORT_FIELDS, "created_ns"))
# Upserts, never INSERT OR REPLACE: replacing a wearer or recording row would cascade.
_WEARER_UPSERT = rows.insert_sql(
    "wearers", rows.WEARER_FIELDS, update=("pseudonym", "display_name")
)
_RECORDING_UPSERT = rows.insert_sql(
    "recordings", rows.RECORDING_FIELDS, update=rows.RECORDING_FIELDS[1:]
)


def _wearer(r: Sequence[Any]) -> Wearer:
    return Wearer(*r)


def _placement(r: Sequence[Any]) -> Placement:
    return Placement(*r)


def _first(r: Sequence[Any]) -> Any:
    return r[0]


def resolve_tz(tz: str | dt.tzinfo | None) -> dt.tzinfo:
    """A tzinfo from an IANA name, a tzinfo, or ``None`` (the system's local zone)."""
    if tz is None:
        local = dt.datetime.now().astimezone().tzinfo
        assert local is not None
        return local
    if isinstance(tz, dt.tzinfo):
        return tz
    if isinstance(tz, str):
        try:
            return ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise StoreError(
        f"tz must be an IANA time zone name like 'Europe/Berlin' (got {tz!r})", reason="invalid"
    )


def _need(value: object, name: str, kind: type | tuple[type, ...], optional: bool = True):
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, kind):
        raise StoreError(
            f"{name} must be {getattr(kind, '__name__', kind)}"
            f"{' or None' if optional else ''} (got {value!r})",
            reason="invalid",
        )


def _need_choices(value: Iterable[str] | None, name: str, allowed: tuple[str, ...]) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    vals = list(value)
    bad = [v for v in vals if v not in allowed]
    if bad or not vals:
        raise StoreError(
            f"{name} must be a non-empty list of {list(allowed)} (got {vals!r})", reason="invalid"
        )
    return vals


def _ids(value: Iterable[str] | None, name: str) -> list[str] | None:
    """A list of ids from an iterable (``None`` passes: no filter; ``[]``: matches nothing)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    vals = list(value)
    if not all(isinstance(v, str) for v in vals):
        raise StoreError(f"{name} must be a list of strings (got {vals[:5]!r})", reason="invalid")
    return vals


class _Where:
    """Collects ``AND``-ed conditions with their parameters (never string-formatted values)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.params: list[Any] = []

    def add(self, sql: str, *params: Any) -> None:
        self.parts.append(sql)
        self.params.extend(params)

    def add_in(self, column: str, values: list[str]) -> None:
        if values:
            self.add(f"{column} IN ({', '.join('?' * len(values))})", *values)

    def add_ids(self, column: str, value: Iterable[str] | None, name: str) -> bool:
        """Limit ``column`` to the ids ``value`` (``None``: no limit). ``False`` when the
        list is empty, i.e. nothing can match and the caller should return ``[]``."""
        ids = _ids(value, name)
        if ids is None:
            return True
        if not ids:
            return False
        self.add_in(column, ids)
        return True

    def add_eq(self, column: str, value: str | None, name: str | None = None) -> None:
        """``column = value`` unless ``value`` is ``None`` (a str is required otherwise)."""
        _need(value, name or column, str)
        if value is not None:
            self.add(f"{column} = ?", value)

    def add_window(self, column: str, start_ns: int | None, end_ns: int | None) -> None:
        """``start_ns <= column < end_ns`` (each bound only if given)."""
        _need(start_ns, "start_ns", int)
        _need(end_ns, "end_ns", int)
        if start_ns is not None:
            self.add(f"{column} >= ?", start_ns)
        if end_ns is not None:
            self.add(f"{column} < ?", end_ns)

    def add_overlap(self, start_ns: int | None, end_ns: int | None, end_op: str) -> None:
        """Rows whose ``[start_ns, end_ns]`` columns overlap the given interval: ``start_ns <
        end_ns`` and ``end_ns {end_op} start_ns`` (each only if given)."""
        _need(start_ns, "start_ns", int)
        _need(end_ns, "end_ns", int)
        if end_ns is not None:
            self.add("start_ns < ?", end_ns)
        if start_ns is not None:
            self.add(f"end_ns {end_op} ?", start_ns)

    def sql(self) -> str:
        return (" WHERE " + " AND ".join(self.parts)) if self.parts else ""


class EventStore:
    """The SQLite event store.

    Parameters
    ----------
    path : str or Path
        Database file. Created (mode 0600, parent folders 0700) unless ``create=False``.
        An older schema is migrated on open; a newer one is refused.
    create : bool
        If ``False`` and the file does not exist, raise :class:`NotFoundError`.
    busy_timeout_s : float
        How long a write waits for another writer (s).

    Raises
    ------
    StoreError
        Not a SQLite file, not a spasmwatch store, a newer schema, WAL unavailable.
    NotFoundError
        ``create=False`` and no such file.

    Notes
    -----
    Safe to share between threads: each thread gets its own connection. Several processes
    may open the same file (WAL). Use as a context manager or call :meth:`close`.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, create: bool = True, busy_timeout_s: float = 5.0
    ) -> None:
        self.path = Path(path)
        if str(path) == ":memory:" or str(path).startswith("file:"):
            raise StoreError(
                "the event store needs a file path (WAL and per-thread connections do not "
                f"work with {str(path)!r}); use a temporary file in tests",
                reason="invalid",
            )
        self._busy_ms = int(busy_timeout_s * 1000)
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        if not self.path.exists():
            if not create:
                raise NotFoundError(
                    f"no event store at {self.path}; run `spasmwatch monitor` (or pass "
                    "another --db) first",
                    reason="no_database",
                )
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        conn = self._conn()
        self.version = apply_migrations(conn, where=f"event store {self.path}")

    # ------------------------------------------------------------------ connections

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"event store {self.path} is closed", reason="closed")
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_ms / 1000,
                isolation_level=None,
                check_same_thread=False,  # closed from another thread by close()
            )
            conn.execute(f"PRAGMA busy_timeout = {self._busy_ms:d}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                conn.close()
                raise StoreError(
                    f"could not switch {self.path} to WAL mode (got {mode!r}); is it on a "
                    "network file system? Keep the store on a local disk.",
                    reason="no_wal",
                )
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"cannot open event store {self.path}: {exc}. Is it a SQLite file written "
                "by spasmwatch?",
                reason="unreadable",
            ) from exc
        if getattr(self, "version", None) is not None:
            # A connection opened after __init__: make sure nobody installed a newer schema.
            v = schema_version(conn)
            if v > LATEST_VERSION:
                conn.close()
                raise StoreError(
                    f"event store {self.path} was upgraded to schema {v} by a newer "
                    "spasmwatch while open",
                    reason="newer_schema",
                )
        self._local.conn = conn
        with self._lock:
            self._conns.append(conn)
        return conn

    def close(self) -> None:
        """Close every connection (of every thread). Further use raises StoreError."""
        with self._lock:
            self._closed = True
            conns, self._conns = self._conns, []
        for c in conns:
            try:
                c.close()
            except sqlite3.Error:  # pragma: no cover - closing is best effort
                pass

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: ``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on any error)."""
        conn = self._conn()
        if conn.in_transaction:  # nested: join the outer transaction
            yield conn
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"event store {self.path} is busy: {exc}", reason="busy") from exc
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.IntegrityError):
                raise StoreError(
                    f"event store refused the write: {exc}", reason="integrity"
                ) from exc
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"event store write failed: {exc}", reason="sqlite") from exc
            raise

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"event store query failed: {exc}", reason="sqlite") from exc

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check`` plus ``foreign_key_check``: ``"ok"`` when healthy."""
        res = [r[0] for r in self._query("PRAGMA integrity_check")]
        fk = self._query("PRAGMA foreign_key_check")
        if fk:
            res.append(f"{len(fk)} foreign key violations, first {fk[0]}")
        return "ok" if res == ["ok"] else "; ".join(res)

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _ensure_wearer(conn: sqlite3.Connection, wearer_id: str) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO wearers (id, pseudonym, created_ns) VALUES (?, ?, ?)",
            (wearer_id, wearer_id, time.time_ns()),
        )

    @staticmethod
    def _exists(conn: sqlite3.Connection, table: str, id_: str) -> bool:
        # table comes from this module only, never from the caller
        return conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (id_,)).fetchone() is not None

    def _require_episode(self, conn: sqlite3.Connection, episode_id: str | None) -> None:
        if episode_id is not None and not self._exists(conn, "episodes", episode_id):
            raise NotFoundError(
                f"episode {episode_id!r} does not exist; store the episode before what refers "
                "to it",
                reason="episode",
            )

    @staticmethod
    def _check_type(value: object, cls: type, what: str) -> None:
        if not isinstance(value, cls):
            raise StoreError(
                f"{what} must be a {cls.__name__} (got {type(value).__name__})", reason="invalid"
            )

    def _delete(self, table: str, what: str, id_: str) -> None:
        _need(id_, f"{what} id", str, optional=False)
        with self.transaction() as conn:
            if conn.execute(f"DELETE FROM {table} WHERE id = ?", (id_,)).rowcount == 0:
                raise NotFoundError(f"no {what} with id {id_!r}", reason=what)

    def _get(self, cols: str, table: str, what: str, id_: str, conv: Callable[..., Any]) -> Any:
        _need(id_, f"{what} id", str, optional=False)
        rows = self._query(f"SELECT {cols} FROM {table} WHERE id = ?", (id_,))
        if not rows:
            raise NotFoundError(f"no {what} with id {id_!r}", reason=what)
        return conv(rows[0])

    def _select(
        self,
        cols: str,
        table: str,
        where: _Where,
        order: str,
        conv: Callable[[Sequence[Any]], Any],
        limit: int | None = None,
    ) -> list[Any]:
        """``SELECT cols FROM table WHERE ... ORDER BY order [LIMIT ?]``, rows through conv."""
        sql = f"SELECT {cols} FROM {table}{where.sql()} ORDER BY {order}"
        params = list(where.params)
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [conv(r) for r in self._query(sql, params)]

    def _refuse_duplicate(
        self, conn: sqlite3.Connection, table: str, what: str, id_: str, hint: str = ""
    ) -> None:
        if self._exists(conn, table, id_):
            raise StoreError(f"{what} {id_!r} already exists{hint}", reason="duplicate")

    # ------------------------------------------------------------------ wearers

    def upsert_wearer(self, wearer: Wearer) -> None:
        """Add a wearer or update pseudonym / display name of an existing one."""
        self._check_type(wearer, Wearer, "wearer")
        with self.transaction() as conn:
            conn.execute(_WEARER_UPSERT, rows.params(wearer, rows.WEARER_FIELDS))

    def get_wearer(self, wearer_id: str) -> Wearer:
        """The wearer with this id (NotFoundError if none)."""
        return self._get(rows.WEARER_COLS, "wearers", "wearer", wearer_id, _wearer)

    def wearers(self) -> list[Wearer]:
        """All wearers, by id."""
        return self._select(rows.WEARER_COLS, "wearers", _Where(), "id", _wearer)

    def delete_wearer(self, wearer_id: str) -> None:
        """Delete a wearer and, by cascade, all their episodes, labels, prompts, diary,
        recording index, signal losses and wear time (the recording folders stay on disk)."""
        self._delete("wearers", "wearer", wearer_id)

    # ------------------------------------------------------------------ episodes

    def add_episode(self, ep: Episode) -> None:
        """Insert a new episode (StoreError ``reason="duplicate"`` if the id exists)."""
        self._check_type(ep, Episode, "episode")
        with self.transaction() as conn:
            self._refuse_duplicate(
                conn, "episodes", "episode", ep.id, "; use upsert_episode to update it"
            )
            self._ensure_wearer(conn, ep.wearer_id)
            conn.execute(_EP_INSERT, rows.episode_params(ep, time.time_ns()))

    def upsert_episode(self, ep: Episode) -> bool:
        """Insert or replace an episode by id. Returns ``True`` if it was new.

        The live pipeline stores the onset (``final=False``) and later the final version with
        the same id. Refused (StoreError ``reason="conflict"``): turning a final episode
        back into a non-final one, or moving an episode to another wearer.
        """
        self._check_type(ep, Episode, "episode")
        with self.transaction() as conn:
            old = conn.execute(
                "SELECT wearer_id, final FROM episodes WHERE id = ?", (ep.id,)
            ).fetchone()
            if old is not None:
                if old[0] != ep.wearer_id:
                    raise StoreError(
                        f"episode {ep.id!r} belongs to wearer {old[0]!r}, not "
                        f"{ep.wearer_id!r}; an update cannot move it",
                        reason="conflict",
                    )
                if old[1] and not ep.final:
                    raise StoreError(
                        f"episode {ep.id!r} is already final; a live (final=False) update "
                        "arrived after the final one and was refused",
                        reason="conflict",
                    )
            self._ensure_wearer(conn, ep.wearer_id)
            conn.execute(_EP_UPSERT, rows.episode_params(ep, time.time_ns()))
            return old is None

    def add_episodes(self, eps: Iterable[Episode]) -> int:
        """Insert many new episodes in one transaction (all or none). Returns the count."""
        eps = list(eps)
        for ep in eps:
            self._check_type(ep, Episode, "episode")
        with self.transaction() as conn:
            for w in {e.wearer_id for e in eps}:
                self._ensure_wearer(conn, w)
            conn.executemany(_EP_INSERT, [rows.episode_params(e, time.time_ns()) for e in eps])
        return len(eps)

    def get_episode(self, episode_id: str) -> Episode:
        """The episode with this id (NotFoundError if none)."""
        return self._get(EP_COLS, "episodes", "episode", episode_id, rows.episode)

    def delete_episode(self, episode_id: str) -> None:
        """Delete an episode; labels and prompts that referred to it keep ``episode_id=None``."""
        self._delete("episodes", "episode", episode_id)

    def episodes(
        self,
        wearer_id: str | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        types: Iterable[str] | None = None,
        min_severity: str | int | None = None,
        source: str | None = None,
        limit: int | None = None,
        *,
        recording_id: str | None = None,
        final_only: bool = False,
        exclude_false_alarms: bool = False,
        newest_first: bool = False,
        wearer_ids: Iterable[str] | None = None,
        placements: Iterable[str] | None = None,
    ) -> list[Episode]:
        """Episodes matching every given filter, ordered by start.

        Parameters
        ----------
        wearer_id : str, optional
            Only this wearer's.
        start_ns, end_ns : int, optional
            Only episodes overlapping ``[start_ns, end_ns)`` (UTC ns): ``end >= start_ns``
            and ``start < end_ns``.
        types : iterable of str, optional
            Only these types.
        min_severity : str or int, optional
            Only this severity or worse.
        source : str, optional
            Only this source (``"auto"``, ``"self-report"``, ``"researcher:alice"``); a
            trailing ``*`` matches a prefix (``"researcher:*"``).
        limit : int, optional
            At most this many (the first in the chosen order).
        recording_id : str, optional
            Only episodes of this recording.
        final_only : bool
            Leave out live episodes still going on.
        exclude_false_alarms : bool
            Leave out episodes that a label marks as a false alarm.
        newest_first : bool
            Order by start descending (with ``limit``: the latest ones).
        wearer_ids : iterable of str, optional
            Only episodes of these wearers (an empty list matches nothing): how the API
            scopes a query to the wearers a caller may see.
        placements : iterable of str, optional
            Only episodes whose ``placement`` is one of these (``"gastrocnemius-left"``); a
            bare muscle (``"gastrocnemius"``) also matches every side of it.
        """
        w = _Where()
        if not w.add_ids("e.wearer_id", wearer_ids, "wearer_ids"):
            return []
        places = _ids(placements, "placements")
        if places is not None:
            if not places:
                return []
            ors = []
            for p in places:
                ors.append("(e.placement = ? OR substr(e.placement, 1, ?) = ?)")
                w.params.extend([p, len(p) + 1, p + "-"])
            w.parts.append("(" + " OR ".join(ors) + ")")
        _need(wearer_id, "wearer_id", str)
        _need(start_ns, "start_ns", int)
        _need(end_ns, "end_ns", int)
        _need(limit, "limit", int)
        _need(source, "source", str)
        _need(recording_id, "recording_id", str)
        if wearer_id is not None:
            w.add("e.wearer_id = ?", wearer_id)
        if end_ns is not None:
            w.add("e.start_ns < ?", end_ns)
        if start_ns is not None:
            w.add("e.end_ns >= ?", start_ns)
            # Bound the index range from below with the longest stored episode.
            span = self._query("SELECT max(end_ns - start_ns) FROM episodes")[0][0] or 0
            w.add("e.start_ns >= ?", start_ns - span)
        w.add_in("e.type", _need_choices(types, "types", EPISODE_TYPES))
        if min_severity is not None:
            w.add("e.severity >= ?", severity_rank(min_severity))
        if source is not None:
            if source.endswith("*"):
                w.add("substr(e.source, 1, ?) = ?", len(source) - 1, source[:-1])
            else:
                w.add("e.source = ?", source)
        if recording_id is not None:
            w.add("e.recording_id = ?", recording_id)
        if final_only:
            w.add("e.final = 1")
        if exclude_false_alarms:
            w.add(_NOT_FALSE_ALARM)
        if limit is not None and limit < 0:
            raise StoreError(f"limit must be >= 0 (got {limit})", reason="invalid")
        order = "DESC" if newest_first else "ASC"
        return self._select(
            EP_COLS, "episodes e", w, f"e.start_ns {order}, e.id", rows.episode, limit
        )

    def count_episodes(self, wearer_id: str | None = None) -> int:
        """Number of stored episodes (of one wearer, or all)."""
        if wearer_id is None:
            return int(self._query("SELECT count(*) FROM episodes")[0][0])
        return int(
            self._query("SELECT count(*) FROM episodes WHERE wearer_id = ?", (wearer_id,))[0][0]
        )

    # ------------------------------------------------------------------ summaries

    def _buckets_summary(
        self, wearer_id: str, edges: list[int], labels: list[str], exclude_false_alarms: bool
    ) -> list[SummaryBucket]:
        _need(wearer_id, "wearer_id", str, optional=False)
        fa = f" AND {_NOT_FALSE_ALARM}" if exclude_false_alarms else ""
        rows = self._query(
            "SELECT e.start_ns, e.end_ns, e.type, e.severity, e.peak_intensity FROM episodes e "
            f"WHERE e.wearer_id = ? AND e.start_ns >= ? AND e.start_ns < ?{fa} "
            "ORDER BY e.start_ns",
            (wearer_id, edges[0], edges[-1]),
        )
        n = len(edges) - 1
        by_type = [dict.fromkeys(EPISODE_TYPES, 0) for _ in range(n)]
        by_sev = [dict.fromkeys(SEVERITIES, 0) for _ in range(n)]
        dur = [0.0] * n
        peak = [0.0] * n
        for s, e, typ, sev, pk in rows:
            i = bisect.bisect_right(edges, s) - 1
            by_type[i][typ] = by_type[i].get(typ, 0) + 1
            by_sev[i][SEVERITIES[sev - 1]] += 1
            dur[i] += (e - s) / 1e9
            peak[i] = max(peak[i], pk)
        return [
            SummaryBucket(
                start_ns=edges[i],
                end_ns=edges[i + 1],
                label=labels[i],
                n=sum(by_type[i].values()),
                by_type=by_type[i],
                by_severity=by_sev[i],
                duration_s=dur[i],
                max_peak=peak[i],
            )
            for i in range(n)
        ]

    def daily_summary(
        self,
        wearer_id: str,
        start_ns: int,
        end_ns: int,
        tz: str | dt.tzinfo | None = None,
        *,
        exclude_false_alarms: bool = True,
    ) -> list[SummaryBucket]:
        """Episodes per local calendar day, zeros included.

        Buckets are the whole local days (in ``tz``; ``None`` = this machine's zone) that
        intersect ``[start_ns, end_ns)``; a DST day is 23 or 25 h long. An episode counts in
        the day it started; its whole duration is added there.
        """
        _need(start_ns, "start_ns", int, optional=False)
        _need(end_ns, "end_ns", int, optional=False)
        zone = resolve_tz(tz)
        if end_ns <= start_ns:
            return []
        d0 = dt.datetime.fromtimestamp(start_ns / 1e9, zone).date()
        d1 = dt.datetime.fromtimestamp((end_ns - 1) / 1e9, zone).date()
        days = [d0 + dt.timedelta(days=i) for i in range((d1 - d0).days + 2)]
        edges = [_local_midnight_ns(d, zone) for d in days]
        labels = [d.isoformat() for d in days[:-1]]
        return self._buckets_summary(wearer_id, edges, labels, exclude_false_alarms)

    def hourly_summary(
        self,
        wearer_id: str,
        start_ns: int,
        end_ns: int,
        tz: str | dt.tzinfo | None = None,
        *,
        exclude_false_alarms: bool = True,
    ) -> list[SummaryBucket]:
        """Episodes per clock hour (local hours of ``tz``) intersecting ``[start_ns, end_ns)``.

        Labels are local ISO date-times with offset, so the repeated hour of a DST change
        appears twice with different offsets.
        """
        _need(start_ns, "start_ns", int, optional=False)
        _need(end_ns, "end_ns", int, optional=False)
        zone = resolve_tz(tz)
        if end_ns <= start_ns:
            return []
        first = dt.datetime.fromtimestamp(start_ns // 10**9, zone).replace(
            minute=0, second=0, microsecond=0
        )
        e0 = int(first.timestamp()) * 10**9
        hour = 3600 * 10**9
        n = -(-(end_ns - e0) // hour)
        edges = [e0 + i * hour for i in range(n + 1)]
        labels = [
            dt.datetime.fromtimestamp(x // 10**9, zone).isoformat(timespec="minutes")
            for x in edges[:-1]
        ]
        return self._buckets_summary(wearer_id, edges, labels, exclude_false_alarms)

    # ------------------------------------------------------------------ labels

    def add_label(self, label: Label) -> None:
        """Insert a new label (``episode_id`` must exist; duplicate id refused)."""
        self._check_type(label, Label, "label")
        with self.transaction() as conn:
            self._refuse_duplicate(conn, "labels", "label", label.id)
            self._require_episode(conn, label.episode_id)
            self._ensure_wearer(conn, label.wearer_id)
            conn.execute(_LABEL_INSERT, rows.label_params(label, time.time_ns()))

    def update_label(self, label: Label) -> None:
        """Replace an existing label (same id) with this version (NotFoundError if none)."""
        self._check_type(label, Label, "label")
        with self.transaction() as conn:
            if not self._exists(conn, "labels", label.id):
                raise NotFoundError(f"no label with id {label.id!r}", reason="label")
            self._require_episode(conn, label.episode_id)
            self._ensure_wearer(conn, label.wearer_id)
            p = rows.label_params(label, time.time_ns())
            conn.execute(_LABEL_UPDATE, (*p[1:], p[0]))

    def get_label(self, label_id: str) -> Label:
        """The label with this id (NotFoundError if none)."""
        return self._get(LABEL_COLS, "labels", "label", label_id, rows.label)

    def delete_label(self, label_id: str) -> None:
        """Delete a label (NotFoundError if none)."""
        self._delete("labels", "label", label_id)

    def labels(
        self,
        recording_id: str | None = None,
        wearer_id: str | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        origin: str | None = None,
        labeler: str | None = None,
        episode_id: str | None = None,
        *,
        wearer_ids: Iterable[str] | None = None,
    ) -> list[Label]:
        """Labels matching every given filter (interval overlap as in :meth:`episodes`).

        ``origin="self-report"`` gives the wearers' own answers (kept apart from
        ``"researcher"`` labels); ``wearer_ids`` limits to those wearers ([] = none).
        """
        w = _Where()
        if not w.add_ids("wearer_id", wearer_ids, "wearer_ids"):
            return []
        w.add_eq("recording_id", recording_id)
        w.add_eq("wearer_id", wearer_id)
        w.add_eq("labeler", labeler)
        w.add_eq("episode_id", episode_id)
        w.add_overlap(start_ns, end_ns, ">=")
        w.add_in("origin", _need_choices(origin, "origin", LABEL_ORIGINS))
        return self._select(LABEL_COLS, "labels", w, "start_ns, id", rows.label)

    # ------------------------------------------------------------------ prompts

    def add_prompt(self, prompt: Prompt) -> None:
        """Insert a new prompt (its ``episode_id``, if any, must already be stored)."""
        self._check_type(prompt, Prompt, "prompt")
        with self.transaction() as conn:
            self._refuse_duplicate(conn, "prompts", "prompt", prompt.id)
            self._require_episode(conn, prompt.episode_id)
            self._ensure_wearer(conn, prompt.wearer_id)
            conn.execute(_PROMPT_INSERT, rows.prompt_params(prompt))

    def upsert_prompt(self, prompt: Prompt) -> bool:
        """Insert or replace a prompt by id. Returns ``True`` if it was new."""
        self._check_type(prompt, Prompt, "prompt")
        with self.transaction() as conn:
            new = not self._exists(conn, "prompts", prompt.id)
            self._require_episode(conn, prompt.episode_id)
            self._ensure_wearer(conn, prompt.wearer_id)
            conn.execute(_PROMPT_REPLACE, rows.prompt_params(prompt))
            return new

    def set_prompt_outcome(self, prompt_id: str, outcome: str, t_ns: int) -> Prompt:
        """Record what became of a prompt; returns the updated prompt."""
        _need(prompt_id, "prompt id", str, optional=False)
        _need(t_ns, "t_ns", int, optional=False)
        _need_choices([outcome], "outcome", PROMPT_OUTCOMES)
        self._update_prompt(_PROMPT_OUTCOME_UPDATE, prompt_id, (outcome, t_ns))
        return self.get_prompt(prompt_id)

    def set_prompt_followup(self, prompt_id: str, followup: Followup) -> Prompt:
        """Store the spasm activity after vs before a prompt; returns the updated prompt."""
        _need(prompt_id, "prompt id", str, optional=False)
        self._check_type(followup, Followup, "followup")
        self._update_prompt(_PROMPT_FOLLOWUP_UPDATE, prompt_id, rows.followup_params(followup))
        return self.get_prompt(prompt_id)

    def _update_prompt(self, sql: str, prompt_id: str, values: tuple[Any, ...]) -> None:
        with self.transaction() as conn:
            if conn.execute(sql, (*values, prompt_id)).rowcount == 0:
                raise NotFoundError(f"no prompt with id {prompt_id!r}", reason="prompt")

    def get_prompt(self, prompt_id: str) -> Prompt:
        """The prompt with this id (NotFoundError if none)."""
        return self._get(PROMPT_COLS, "prompts", "prompt", prompt_id, rows.prompt)

    def delete_prompt(self, prompt_id: str) -> None:
        """Delete a prompt (NotFoundError if none)."""
        self._delete("prompts", "prompt", prompt_id)

    def prompts(
        self,
        wearer_id: str | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        outcomes: Iterable[str] | None = None,
        reasons: Iterable[str] | None = None,
        *,
        without_followup: bool = False,
        limit: int | None = None,
        wearer_ids: Iterable[str] | None = None,
    ) -> list[Prompt]:
        """Prompts offered in ``[start_ns, end_ns)`` matching every given filter, by time."""
        w = _Where()
        if not w.add_ids("wearer_id", wearer_ids, "wearer_ids"):
            return []
        w.add_eq("wearer_id", wearer_id)
        w.add_window("t_ns", start_ns, end_ns)
        _need(limit, "limit", int)
        w.add_in("outcome", _need_choices(outcomes, "outcomes", PROMPT_OUTCOMES))
        w.add_in("reason", _need_choices(reasons, "reasons", PROMPT_REASONS))
        if without_followup:
            w.add("fu_window_s IS NULL")
        return self._select(PROMPT_COLS, "prompts", w, "t_ns, id", rows.prompt, limit)

    # ------------------------------------------------------------------ diary

    def add_diary(self, entry: DiaryEntry) -> None:
        """Record a diary entry (duplicate id refused)."""
        self._check_type(entry, DiaryEntry, "diary entry")
        with self.transaction() as conn:
            self._refuse_duplicate(conn, "diary", "diary entry", entry.id)
            self._ensure_wearer(conn, entry.wearer_id)
            conn.execute(_DIARY_INSERT, rows.params(entry, rows.DIARY_FIELDS))

    def update_diary(self, entry: DiaryEntry) -> None:
        """Replace an existing diary entry (same id) (NotFoundError if none)."""
        self._check_type(entry, DiaryEntry, "diary entry")
        with self.transaction() as conn:
            self._ensure_wearer(conn, entry.wearer_id)
            p = rows.params(entry, rows.DIARY_FIELDS)
            cur = conn.execute(_DIARY_UPDATE, (*p[1:], p[0]))
            if cur.rowcount == 0:
                raise NotFoundError(f"no diary entry with id {entry.id!r}", reason="diary")

    def get_diary(self, entry_id: str) -> DiaryEntry:
        """The diary entry with this id (NotFoundError if none)."""
        return self._get(DIARY_COLS, "diary", "diary entry", entry_id, rows.diary)

    def delete_diary(self, entry_id: str) -> None:
        """Delete a diary entry (NotFoundError if none)."""
        self._delete("diary", "diary entry", entry_id)

    def diary(
        self,
        wearer_id: str | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        kinds: Iterable[str] | None = None,
        limit: int | None = None,
        *,
        newest_first: bool = False,
        wearer_ids: Iterable[str] | None = None,
    ) -> list[DiaryEntry]:
        """Diary entries with ``t_ns`` in ``[start_ns, end_ns)`` matching the filters."""
        w = _Where()
        if not w.add_ids("wearer_id", wearer_ids, "wearer_ids"):
            return []
        w.add_eq("wearer_id", wearer_id)
        w.add_window("t_ns", start_ns, end_ns)
        _need(limit, "limit", int)
        w.add_in("kind", _need_choices(kinds, "kinds", DIARY_KINDS))
        order = "DESC" if newest_first else "ASC"
        return self._select(DIARY_COLS, "diary", w, f"t_ns {order}, id", rows.diary, limit)

    # ------------------------------------------------------------------ devices

    def upsert_device(self, device: Device) -> None:
        """Add a device or replace what is known about it."""
        self._check_type(device, Device, "device")
        with self.transaction() as conn:
            if device.wearer_id is not None:
                self._ensure_wearer(conn, device.wearer_id)
            conn.execute(_DEVICE_REPLACE, rows.params(device, rows.DEVICE_FIELDS))

    def get_device(self, device_id: str) -> Device:
        """The device with this id (NotFoundError if none)."""
        return self._get(DEVICE_COLS, "devices", "device", device_id, rows.device)

    def devices(self, wearer_id: str | None = None) -> list[Device]:
        """Known devices (of one wearer), by id."""
        w = _Where()
        w.add_eq("wearer_id", wearer_id)
        return self._select(DEVICE_COLS, "devices", w, "id", rows.device)

    def delete_device(self, device_id: str) -> None:
        """Forget a device (NotFoundError if unknown)."""
        self._delete("devices", "device", device_id)

    # ------------------------------------------------------------------ recordings

    def upsert_recording(self, rec: RecordingInfo) -> None:
        """Add a recording to the index or update it (e.g. set ``end_ns`` when it closes)."""
        self._check_type(rec, RecordingInfo, "recording")
        with self.transaction() as conn:
            self._ensure_wearer(conn, rec.wearer_id)
            conn.execute(_RECORDING_UPSERT, rows.params(rec, rows.RECORDING_FIELDS))
            conn.execute("DELETE FROM recording_devices WHERE recording_id = ?", (rec.id,))
            conn.executemany(
                "INSERT INTO recording_devices (recording_id, position, device) VALUES (?, ?, ?)",
                [(rec.id, i, d) for i, d in enumerate(rec.devices)],
            )

    def _recordings(self, where: _Where) -> list[RecordingInfo]:
        rows = self._query(
            "SELECT r.id, r.path, r.start_ns, r.end_ns, r.wearer_id, "
            "(SELECT group_concat(device, char(31)) FROM "
            " (SELECT device FROM recording_devices d WHERE d.recording_id = r.id "
            "  ORDER BY position)) "
            f"FROM recordings r{where.sql()} ORDER BY r.start_ns, r.id",
            where.params,
        )
        return [
            RecordingInfo(
                id=r[0],
                path=r[1],
                start_ns=r[2],
                end_ns=r[3],
                wearer_id=r[4],
                devices=tuple(r[5].split("\x1f")) if r[5] else (),
            )
            for r in rows
        ]

    def get_recording(self, recording_id: str) -> RecordingInfo:
        """The index entry of a recording (NotFoundError if none)."""
        _need(recording_id, "recording id", str, optional=False)
        w = _Where()
        w.add("r.id = ?", recording_id)
        out = self._recordings(w)
        if not out:
            raise NotFoundError(f"no recording with id {recording_id!r}", reason="recording")
        return out[0]

    def recordings(
        self,
        wearer_id: str | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        device: str | None = None,
        *,
        wearer_ids: Iterable[str] | None = None,
    ) -> list[RecordingInfo]:
        """Indexed recordings overlapping ``[start_ns, end_ns)`` (open ones count as
        ongoing), optionally only one wearer's (or these wearers') or those including
        ``device``."""
        w = _Where()
        if not w.add_ids("r.wearer_id", wearer_ids, "wearer_ids"):
            return []
        w.add_eq("r.wearer_id", wearer_id, "wearer_id")
        _need(start_ns, "start_ns", int)
        _need(end_ns, "end_ns", int)
        _need(device, "device", str)
        if end_ns is not None:
            w.add("r.start_ns < ?", end_ns)
        if start_ns is not None:
            w.add("(r.end_ns IS NULL OR r.end_ns >= ?)", start_ns)
        if device is not None:
            w.add(
                "EXISTS (SELECT 1 FROM recording_devices d WHERE d.recording_id = r.id "
                "AND d.device = ?)",
                device,
            )
        return self._recordings(w)

    def delete_recording(self, recording_id: str) -> None:
        """Remove a recording from the index (the folder on disk is not touched)."""
        self._delete("recordings", "recording", recording_id)

    # ------------------------------------------------------------------ signal loss

    def upsert_signal_loss(self, loss: SignalLoss) -> None:
        """Record a loss of signal, or extend one still open (same id, later ``end_ns``)."""
        self._check_type(loss, SignalLoss, "signal loss")
        with self.transaction() as conn:
            self._ensure_wearer(conn, loss.wearer_id)
            conn.execute(_LOSS_REPLACE, rows.params(loss, rows.LOSS_FIELDS))

    add_signal_loss = upsert_signal_loss

    def signal_losses(
        self,
        wearer_id: str | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        device: str | None = None,
        *,
        wearer_ids: Iterable[str] | None = None,
    ) -> list[SignalLoss]:
        """Signal losses overlapping ``[start_ns, end_ns)``, by start."""
        w = _Where()
        if not w.add_ids("wearer_id", wearer_ids, "wearer_ids"):
            return []
        w.add_eq("wearer_id", wearer_id)
        w.add_eq("device", device)
        w.add_overlap(start_ns, end_ns, ">")
        return self._select(LOSS_COLS, "signal_losses", w, "start_ns, id", rows.loss)

    # ------------------------------------------------------------------ wear time

    def add_wear_time(
        self, wearer_id: str, day: dt.date, device: str, worn_s: float, usable_s: float
    ) -> WearTime:
        """Add seconds to one wearer/day/device total; returns the new total.

        The monitor calls this periodically with the seconds since its last call.
        """
        inc = WearTime(wearer_id, day, device, worn_s, usable_s)  # validates
        with self.transaction() as conn:
            self._ensure_wearer(conn, wearer_id)
            conn.execute(
                "INSERT INTO wear_time (wearer_id, day, device, worn_s, usable_s) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (wearer_id, day, device) DO UPDATE SET "
                "worn_s = worn_s + excluded.worn_s, usable_s = usable_s + excluded.usable_s",
                (wearer_id, inc.day.isoformat(), device, inc.worn_s, inc.usable_s),
            )
            r = conn.execute(
                "SELECT worn_s, usable_s FROM wear_time WHERE wearer_id = ? AND day = ? "
                "AND device = ?",
                (wearer_id, inc.day.isoformat(), device),
            ).fetchone()
            total = WearTime(wearer_id, inc.day, device, r[0], r[1])  # validates the sum
        return total

    def set_wear_time(self, wt: WearTime) -> None:
        """Replace one wearer/day/device total."""
        self._check_type(wt, WearTime, "wear time")
        with self.transaction() as conn:
            self._ensure_wearer(conn, wt.wearer_id)
            conn.execute(
                "INSERT OR REPLACE INTO wear_time (wearer_id, day, device, worn_s, usable_s) "
                "VALUES (?, ?, ?, ?, ?)",
                (wt.wearer_id, wt.day.isoformat(), wt.device, wt.worn_s, wt.usable_s),
            )

    def wear_time(
        self,
        wearer_id: str,
        start_day: dt.date | None = None,
        end_day: dt.date | None = None,
        device: str | None = None,
    ) -> list[WearTime]:
        """Wear-time rows of a wearer for days in ``[start_day, end_day]`` (inclusive)."""
        w = _Where()
        _need(wearer_id, "wearer_id", str, optional=False)
        w.add("wearer_id = ?", wearer_id)
        if start_day is not None:
            _need(start_day, "start_day", dt.date)
            w.add("day >= ?", start_day.isoformat())
        if end_day is not None:
            _need(end_day, "end_day", dt.date)
            w.add("day <= ?", end_day.isoformat())
        if device is not None:
            _need(device, "device", str)
            w.add("device = ?", device)
        rows = self._query(
            f"SELECT wearer_id, day, device, worn_s, usable_s FROM wear_time{w.sql()} "
            "ORDER BY day, device",
            w.params,
        )
        return [WearTime(r[0], dt.date.fromisoformat(r[1]), r[2], r[3], r[4]) for r in rows]

    def wear_by_day(
        self, wearer_id: str, start_day: dt.date, end_day: dt.date
    ) -> dict[dt.date, tuple[float, float]]:
        """Seconds worn and usable per local day in ``[start_day, end_day]`` (inclusive).

        A day worn with several devices counts the device worn longest (the totals of
        different devices overlap in time and cannot be added). Days without a row are
        absent from the dict (nothing was worn, or nothing was recorded).
        """
        out: dict[dt.date, tuple[float, float]] = {}
        for r in self.wear_time(wearer_id, start_day, end_day):
            worn, usable = out.get(r.day, (0.0, 0.0))
            out[r.day] = (max(worn, r.worn_s), max(usable, r.usable_s))
        return out

    # ------------------------------------------------------------------ placements

    def set_placement(
        self,
        device_id: str,
        muscle: str,
        side: str | None,
        since_ns: int,
        *,
        wearer_id: str | None = None,
    ) -> Placement:
        """Record that ``device_id`` sits on ``muscle`` / ``side`` from ``since_ns`` on.

        The device's previous open placement (if it started earlier) ends at ``since_ns``;
        the device row (if known) gets the new placement as its current one. Returns the
        stored :class:`Placement`. Episodes should carry :attr:`Placement.name`.

        Raises
        ------
        StoreError
            ``reason="invalid"`` for a bad muscle/side/time, ``"conflict"`` if a placement
            of this device starts later than ``since_ns`` (placements are appended in
            time order).
        """
        pl = Placement(device_id, muscle, side, since_ns, None, wearer_id)  # validates
        with self.transaction() as conn:
            later = conn.execute(
                "SELECT since_ns FROM placements WHERE device = ? AND since_ns > ? LIMIT 1",
                (device_id, since_ns),
            ).fetchone()
            if later is not None:
                raise StoreError(
                    f"device {device_id!r} already has a placement from {later[0]} ns, after "
                    f"{since_ns}; placements are recorded in time order",
                    reason="conflict",
                )
            if wearer_id is not None:
                self._ensure_wearer(conn, wearer_id)
            conn.execute(
                "UPDATE placements SET until_ns = ? WHERE device = ? AND until_ns IS NULL "
                "AND since_ns < ?",
                (since_ns, device_id, since_ns),
            )
            conn.execute(
                "INSERT OR REPLACE INTO placements (device, since_ns, until_ns, wearer_id, "
                "muscle, side) VALUES (?, ?, NULL, ?, ?, ?)",
                (device_id, since_ns, wearer_id, muscle, side),
            )
            conn.execute(
                "UPDATE devices SET placement_muscle = ?, placement_side = ? WHERE id = ?",
                (muscle, side, device_id),
            )
        return pl

    def placement_at(self, device_id: str, t_ns: int) -> Placement | None:
        """The placement of ``device_id`` at time ``t_ns``, or ``None`` if none was set."""
        _need(device_id, "device_id", str, optional=False)
        _need(t_ns, "t_ns", int, optional=False)
        found = self._query(
            f"SELECT {rows.PLACEMENT_COLUMNS} FROM placements "
            "WHERE device = ? AND since_ns <= ? AND (until_ns IS NULL OR until_ns > ?) "
            "ORDER BY since_ns DESC LIMIT 1",
            (device_id, t_ns, t_ns),
        )
        return Placement(*found[0]) if found else None

    def placements(
        self,
        device: str | None = None,
        *,
        wearer_ids: Iterable[str] | None = None,
    ) -> list[Placement]:
        """Recorded placements (of one device, of these wearers), by device and time."""
        w = _Where()
        w.add_eq("device", device)
        if not w.add_ids("wearer_id", wearer_ids, "wearer_ids"):
            return []
        return self._select(rows.PLACEMENT_COLUMNS, "placements", w, "device, since_ns", _placement)

    def episode_placements(self, *, wearer_ids: Iterable[str] | None = None) -> list[str]:
        """Distinct ``placement`` values of stored episodes (of these wearers), sorted."""
        w = _Where()
        w.add("placement IS NOT NULL")
        if not w.add_ids("wearer_id", wearer_ids, "wearer_ids"):
            return []
        return self._select("DISTINCT placement", "episodes", w, "placement", _first)

    # ------------------------------------------------------------------ self-reports

    def _insert_self_report(self, conn: sqlite3.Connection, r: SelfReport) -> None:
        conn.execute(_SR_INSERT, rows.self_report_params(r, time.time_ns()))

    def log_self_report(
        self, episode: Episode, report: SelfReport, label: Label
    ) -> tuple[Episode, SelfReport, Label]:
        """Store a spasm the wearer logged: the episode (source ``self-report``), its
        ``self-report`` label and the report, in one transaction (all or nothing)."""
        self._check_type(episode, Episode, "episode")
        self._check_type(report, SelfReport, "self-report")
        self._check_type(label, Label, "label")
        if (
            episode.source != "self-report"
            or label.origin != "self-report"
            or report.kind != "logged"
            or not (episode.wearer_id == report.wearer_id == label.wearer_id)
            or report.episode_id != episode.id
            or label.episode_id != episode.id
            or report.label_id != label.id
        ):
            raise StoreError(
                "a logged self-report needs an episode with source 'self-report', a label "
                "with origin 'self-report' and a report of kind 'logged', all of one wearer "
                "and pointing at each other",
                reason="invalid",
            )
        with self.transaction() as conn:
            self._ensure_wearer(conn, episode.wearer_id)
            now = time.time_ns()
            conn.execute(_EP_INSERT, rows.episode_params(episode, now))
            conn.execute(_LABEL_INSERT, rows.label_params(label, now))
            self._insert_self_report(conn, report)
        return episode, report, label

    def answer_episode(
        self, report: SelfReport, label: Label | None
    ) -> tuple[SelfReport, Label | None]:
        """Store the wearer's answer to "was that a spasm?" about ``report.episode_id``.

        ``yes``/``no`` come with a ``self-report`` label (``no`` marks a false alarm);
        ``not_sure`` with ``label=None``. A new answer replaces the wearer's previous
        answer to the same episode (and its label): one wearer, one current answer.
        """
        self._check_type(report, SelfReport, "self-report")
        if report.kind != "answer" or report.episode_id is None:
            raise StoreError("an answer needs kind='answer' and an episode_id", reason="invalid")
        if (label is None) != (report.answer == "not_sure") or (
            label is not None
            and (
                label.origin != "self-report"
                or label.episode_id != report.episode_id
                or label.wearer_id != report.wearer_id
                or report.label_id != label.id
                or label.is_false_alarm != (report.answer == "no")
            )
        ):
            raise StoreError(
                "answer 'yes'/'no' needs a matching self-report label (is_false_alarm for "
                "'no'), 'not_sure' none",
                reason="invalid",
            )
        with self.transaction() as conn:
            self._require_episode(conn, report.episode_id)
            old = conn.execute(
                "SELECT id, label_id FROM self_reports WHERE episode_id = ? AND wearer_id = ? "
                "AND kind = 'answer'",
                (report.episode_id, report.wearer_id),
            ).fetchall()
            for _rid, lid in old:
                if lid is not None:
                    conn.execute("DELETE FROM labels WHERE id = ?", (lid,))
            conn.execute(
                "DELETE FROM self_reports WHERE episode_id = ? AND wearer_id = ? "
                "AND kind = 'answer'",
                (report.episode_id, report.wearer_id),
            )
            if label is not None:
                conn.execute(_LABEL_INSERT, rows.label_params(label, time.time_ns()))
            self._insert_self_report(conn, report)
        return report, label

    def self_reports(
        self,
        start_ns: int | None = None,
        end_ns: int | None = None,
        *,
        wearer_ids: Iterable[str] | None = None,
        episode_id: str | None = None,
        kind: str | None = None,
    ) -> list[SelfReport]:
        """Self-reports with ``t_ns`` in ``[start_ns, end_ns)`` matching the filters."""
        w = _Where()
        w.add_window("t_ns", start_ns, end_ns)
        w.add_eq("episode_id", episode_id)
        w.add_in("kind", _need_choices(kind, "kind", ("logged", "answer")))
        if not w.add_ids("wearer_id", wearer_ids, "wearer_ids"):
            return []
        return self._select(SR_COLS, "self_reports", w, "t_ns, id", rows.self_report)


def _local_midnight_ns(day: dt.date, zone: dt.tzinfo) -> int:
    local = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    return int(local.timestamp()) * 10**9
