"""Versioned schema of the event store.

The schema is the ordered tuple :data:`MIGRATIONS`. Each migration is one SQL script applied
in its own transaction together with the row that records it in ``schema_version``; a
failure rolls the whole step back. To change the schema, append a migration with the next
version number, never edit one that has shipped (``tests/store/test_db.py`` pins the SQL of
the released ones by hash).

Adding tables later (clinician/researcher assignments, API tokens...) is a new entry::

    Migration(3, "assignments", '''
        CREATE TABLE assignments (...) STRICT;
    ''')
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from spasmwatch.errors import StoreError

__all__ = ["LATEST_VERSION", "MIGRATIONS", "Migration", "apply_migrations", "schema_version"]


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: ``version`` (1, 2, ...), a short ``name`` and its SQL script."""

    version: int
    name: str
    sql: str


_V1 = """
CREATE TABLE wearers (
    id           TEXT PRIMARY KEY,
    pseudonym    TEXT NOT NULL,
    display_name TEXT,
    created_ns   INTEGER NOT NULL
) STRICT;

CREATE TABLE episodes (
    id             TEXT PRIMARY KEY,
    wearer_id      TEXT NOT NULL REFERENCES wearers(id) ON DELETE CASCADE,
    start_ns       INTEGER NOT NULL,
    end_ns         INTEGER NOT NULL CHECK (end_ns >= start_ns),
    type           TEXT NOT NULL,
    peak_intensity REAL NOT NULL CHECK (peak_intensity >= 0),
    severity       INTEGER NOT NULL CHECK (severity BETWEEN 1 AND 3),
    confidence     REAL NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    source         TEXT NOT NULL,
    model_id       TEXT,
    device         TEXT,
    placement      TEXT,
    recording_id   TEXT,
    final          INTEGER NOT NULL CHECK (final IN (0, 1)),
    updated_ns     INTEGER NOT NULL
) STRICT;
CREATE INDEX episodes_wearer_start ON episodes (wearer_id, start_ns);
CREATE INDEX episodes_start ON episodes (start_ns);
-- lets max(end_ns - start_ns) be read in O(log n): bounds the overlap query
CREATE INDEX episodes_span ON episodes (end_ns - start_ns);
CREATE INDEX episodes_recording ON episodes (recording_id) WHERE recording_id IS NOT NULL;

CREATE TABLE labels (
    id             TEXT PRIMARY KEY,
    wearer_id      TEXT NOT NULL REFERENCES wearers(id) ON DELETE CASCADE,
    recording_id   TEXT,
    start_ns       INTEGER NOT NULL,
    end_ns         INTEGER NOT NULL CHECK (end_ns >= start_ns),
    type           TEXT NOT NULL,
    labeler        TEXT NOT NULL,
    origin         TEXT NOT NULL,
    episode_id     TEXT REFERENCES episodes(id) ON DELETE SET NULL,
    is_false_alarm INTEGER NOT NULL CHECK (is_false_alarm IN (0, 1)),
    note           TEXT NOT NULL,
    updated_ns     INTEGER NOT NULL
) STRICT;
CREATE INDEX labels_recording ON labels (recording_id, start_ns);
CREATE INDEX labels_wearer_start ON labels (wearer_id, start_ns);
CREATE INDEX labels_episode ON labels (episode_id);

CREATE TABLE prompts (
    id                 TEXT PRIMARY KEY,
    wearer_id          TEXT NOT NULL REFERENCES wearers(id) ON DELETE CASCADE,
    t_ns               INTEGER NOT NULL,
    reason             TEXT NOT NULL,
    episode_id         TEXT REFERENCES episodes(id) ON DELETE SET NULL,
    exercise_id        TEXT NOT NULL,
    outcome            TEXT NOT NULL,
    outcome_t_ns       INTEGER,
    fu_window_s        REAL,
    fu_episodes_before INTEGER,
    fu_episodes_after  INTEGER,
    fu_active_s_before REAL,
    fu_active_s_after  REAL,
    fu_lost_s_before   REAL,
    fu_lost_s_after    REAL
) STRICT;
CREATE INDEX prompts_wearer_t ON prompts (wearer_id, t_ns);
CREATE INDEX prompts_episode ON prompts (episode_id);

CREATE TABLE diary (
    id        TEXT PRIMARY KEY,
    wearer_id TEXT NOT NULL REFERENCES wearers(id) ON DELETE CASCADE,
    t_ns      INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    text      TEXT NOT NULL,
    dose      TEXT
) STRICT;
CREATE INDEX diary_wearer_t ON diary (wearer_id, t_ns);
"""

_V2 = """
CREATE TABLE devices (
    id               TEXT PRIMARY KEY,
    profile          TEXT NOT NULL,
    name             TEXT NOT NULL,
    address          TEXT,
    battery_pct      REAL,
    firmware         TEXT,
    placement_muscle TEXT,
    placement_side   TEXT,
    wearer_id        TEXT REFERENCES wearers(id) ON DELETE SET NULL,
    last_seen_ns     INTEGER
) STRICT;
CREATE INDEX devices_wearer ON devices (wearer_id);

CREATE TABLE recordings (
    id        TEXT PRIMARY KEY,
    path      TEXT NOT NULL,
    start_ns  INTEGER NOT NULL,
    end_ns    INTEGER,
    wearer_id TEXT NOT NULL REFERENCES wearers(id) ON DELETE CASCADE
) STRICT;
CREATE INDEX recordings_wearer_start ON recordings (wearer_id, start_ns);

CREATE TABLE recording_devices (
    recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    device       TEXT NOT NULL,
    PRIMARY KEY (recording_id, position)
) STRICT, WITHOUT ROWID;
CREATE INDEX recording_devices_device ON recording_devices (device);

CREATE TABLE signal_losses (
    id           TEXT PRIMARY KEY,
    wearer_id    TEXT NOT NULL REFERENCES wearers(id) ON DELETE CASCADE,
    device       TEXT NOT NULL,
    stream       TEXT NOT NULL,
    start_ns     INTEGER NOT NULL,
    end_ns       INTEGER NOT NULL CHECK (end_ns >= start_ns),
    cause        TEXT NOT NULL,
    recording_id TEXT
) STRICT;
CREATE INDEX signal_losses_wearer_start ON signal_losses (wearer_id, start_ns);

CREATE TABLE wear_time (
    wearer_id TEXT NOT NULL REFERENCES wearers(id) ON DELETE CASCADE,
    day       TEXT NOT NULL,
    device    TEXT NOT NULL,
    worn_s    REAL NOT NULL CHECK (worn_s >= 0),
    usable_s  REAL NOT NULL CHECK (usable_s >= 0 AND usable_s <= worn_s),
    PRIMARY KEY (wearer_id, day, device)
) STRICT, WITHOUT ROWID;
"""

_V3 = """
-- API tokens: until now created by the API with CREATE TABLE IF NOT EXISTS. Make sure the
-- old table exists (empty on a fresh file), copy its rows into the new shape, swap.
CREATE TABLE IF NOT EXISTS api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,
    created_ns INTEGER NOT NULL,
    last_used_ns INTEGER,
    revoked_ns INTEGER
);
CREATE TABLE api_tokens_v3 (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('wearer', 'clinician', 'researcher')),
    token_sha256 TEXT NOT NULL UNIQUE,
    wearer_id    TEXT REFERENCES wearers(id) ON DELETE CASCADE,
    created_ns   INTEGER NOT NULL,
    last_used_ns INTEGER,
    revoked_ns   INTEGER,
    CHECK ((role = 'wearer') = (wearer_id IS NOT NULL))
) STRICT;
-- a wearer token of the single-user era was the 'default' wearer's
INSERT OR IGNORE INTO wearers (id, pseudonym, created_ns)
    SELECT 'default', 'default', created_ns FROM api_tokens WHERE role = 'wearer' LIMIT 1;
INSERT INTO api_tokens_v3
    (id, name, role, token_sha256, wearer_id, created_ns, last_used_ns, revoked_ns)
    SELECT id, name, role, token_sha256, CASE WHEN role = 'wearer' THEN 'default' END,
           created_ns, last_used_ns, revoked_ns
    FROM api_tokens WHERE role IN ('wearer', 'clinician', 'researcher');
DROP TABLE api_tokens;
ALTER TABLE api_tokens_v3 RENAME TO api_tokens;
CREATE INDEX api_tokens_name ON api_tokens (name);

-- clinician (token name) -> wearers they may see
CREATE TABLE clinician_wearers (
    clinician TEXT NOT NULL,
    wearer_id TEXT NOT NULL REFERENCES wearers(id) ON DELETE CASCADE,
    since_ns  INTEGER NOT NULL,
    PRIMARY KEY (clinician, wearer_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX clinician_wearers_wearer ON clinician_wearers (wearer_id);

-- studies: a per-study secret keys the wearers' pseudonyms (HMAC-SHA256)
CREATE TABLE studies (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    secret     TEXT NOT NULL,
    created_ns INTEGER NOT NULL
) STRICT;
CREATE TABLE study_wearers (
    study_id  TEXT NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    wearer_id TEXT NOT NULL REFERENCES wearers(id) ON DELETE CASCADE,
    since_ns  INTEGER NOT NULL,
    PRIMARY KEY (study_id, wearer_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX study_wearers_wearer ON study_wearers (wearer_id);
CREATE TABLE study_members (
    study_id   TEXT NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    researcher TEXT NOT NULL,
    since_ns   INTEGER NOT NULL,
    PRIMARY KEY (study_id, researcher)
) STRICT, WITHOUT ROWID;

-- Clinician and researcher tokens of the single-user era saw every wearer: keep that for
-- the wearers that exist now (new wearers need an explicit assignment or enrolment).
INSERT INTO clinician_wearers (clinician, wearer_id, since_ns)
    SELECT DISTINCT t.name, w.id, t.created_ns FROM api_tokens t, wearers w
    WHERE t.role = 'clinician' AND t.revoked_ns IS NULL;
INSERT INTO studies (id, name, secret, created_ns)
    SELECT 'legacy', 'researchers before per-study access', lower(hex(randomblob(32))),
           (SELECT min(created_ns) FROM api_tokens WHERE role = 'researcher')
    WHERE EXISTS (SELECT 1 FROM api_tokens WHERE role = 'researcher' AND revoked_ns IS NULL);
INSERT INTO study_wearers (study_id, wearer_id, since_ns)
    SELECT s.id, w.id, s.created_ns FROM studies s, wearers w WHERE s.id = 'legacy';
INSERT INTO study_members (study_id, researcher, since_ns)
    SELECT DISTINCT 'legacy', t.name, t.created_ns FROM api_tokens t
    WHERE t.role = 'researcher' AND t.revoked_ns IS NULL
      AND EXISTS (SELECT 1 FROM studies WHERE id = 'legacy');

-- where each device sat, per period: muscle + side, from since_ns until until_ns (open: NULL)
CREATE TABLE placements (
    device    TEXT NOT NULL,
    since_ns  INTEGER NOT NULL,
    until_ns  INTEGER CHECK (until_ns IS NULL OR until_ns >= since_ns),
    wearer_id TEXT REFERENCES wearers(id) ON DELETE CASCADE,
    muscle    TEXT NOT NULL,
    side      TEXT CHECK (side IS NULL OR side IN ('left', 'right', 'midline')),
    PRIMARY KEY (device, since_ns)
) STRICT, WITHOUT ROWID;
CREATE INDEX episodes_placement ON episodes (placement, start_ns) WHERE placement IS NOT NULL;

-- the wearer's own reports: "log one now" and answers to "was that a spasm?"
CREATE TABLE self_reports (
    id           TEXT PRIMARY KEY,
    wearer_id    TEXT NOT NULL REFERENCES wearers(id) ON DELETE CASCADE,
    t_ns         INTEGER NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('logged', 'answer')),
    answer       TEXT NOT NULL CHECK (answer IN ('yes', 'no', 'not_sure')),
    episode_id   TEXT REFERENCES episodes(id) ON DELETE SET NULL,
    label_id     TEXT REFERENCES labels(id) ON DELETE SET NULL,
    severity     INTEGER CHECK (severity IS NULL OR severity BETWEEN 1 AND 3),
    body_site    TEXT,
    trigger      TEXT,
    trigger_text TEXT,
    created_ns   INTEGER NOT NULL
) STRICT;
CREATE INDEX self_reports_wearer_t ON self_reports (wearer_id, t_ns);
CREATE INDEX self_reports_episode ON self_reports (episode_id);
"""

#: The ordered schema history. Append only.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "events: wearers, episodes, labels, prompts, diary", _V1),
    Migration(2, "devices, recording index, signal losses, wear time", _V2),
    Migration(3, "api tokens, clinician assignments, studies, placements, self-reports", _V3),
)

#: Schema version this code writes and understands.
LATEST_VERSION = MIGRATIONS[-1].version

_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_ns INTEGER NOT NULL
) STRICT
"""


def _check_sequence(migrations: tuple[Migration, ...]) -> None:
    for i, m in enumerate(migrations, start=1):
        if m.version != i:
            raise StoreError(
                f"migration list is not 1, 2, 3...: position {i} holds version {m.version}",
                reason="migration",
            )


def schema_version(conn: sqlite3.Connection) -> int:
    """Version of the schema in ``conn``: 0 for an empty database.

    Raises
    ------
    StoreError
        The file holds tables but no ``schema_version`` table (not a spasmwatch store).
    """
    names = {
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    }
    if "schema_version" not in names:
        if names:
            raise StoreError(
                f"this SQLite file holds tables {sorted(names)[:5]} but no schema_version "
                "table: it is not a spasmwatch event store. Point --db at another file.",
                reason="foreign_database",
            )
        return 0
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def apply_migrations(
    conn: sqlite3.Connection,
    target: int | None = None,
    migrations: tuple[Migration, ...] = MIGRATIONS,
    *,
    where: str = "the event store",
) -> int:
    """Bring the schema in ``conn`` up to ``target`` (default: the latest). Returns it.

    ``conn`` must be in autocommit mode (``isolation_level=None``). Each step runs in a
    ``BEGIN IMMEDIATE`` transaction, so two processes opening a fresh file at once do not
    both migrate it: the second one waits, re-reads the version and finds nothing to do.

    Raises
    ------
    StoreError
        The database is newer than this code (``reason="newer_schema"``), is not a
        spasmwatch store, or a step failed (``reason="migration"``; the step is rolled back).
    """
    _check_sequence(migrations)
    latest = migrations[-1].version if migrations else 0
    target = latest if target is None else target
    if not 0 <= target <= latest:
        raise StoreError(f"target schema version must be 0..{latest} (got {target})")
    version = schema_version(conn)
    if version > latest:
        raise StoreError(
            f"{where} has schema version {version}, but this spasmwatch knows versions up to "
            f"{latest}: it was written by a newer spasmwatch. Upgrade spasmwatch; the file "
            "was left unchanged.",
            reason="newer_schema",
        )
    for m in migrations:
        if m.version <= version or m.version > target:
            continue
        try:
            conn.execute("BEGIN IMMEDIATE")
            current = schema_version(conn)  # another process may have migrated meanwhile
            if current >= m.version:
                conn.execute("COMMIT")
                continue
            conn.execute(_VERSION_TABLE)
            for statement in _split(m.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, name, applied_ns) VALUES (?, ?, ?)",
                (m.version, m.name, time.time_ns()),
            )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(
                f"migrating {where} to schema version {m.version} ({m.name}) failed: {exc}. "
                "The step was rolled back; the file is at its previous version.",
                reason="migration",
            ) from exc
    return max(version, min(target, schema_version(conn)))


def _split(script: str) -> list[str]:
    """Split a migration script into complete statements (``sqlite3.complete_statement``)."""
    out: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip() and not all(
        ln.strip().startswith("--") or not ln.strip() for ln in buf.splitlines()
    ):
        raise StoreError(f"incomplete SQL statement at the end of a migration: {buf[:80]!r}")
    return out
