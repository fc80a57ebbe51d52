"""Data ownership against a real SQLite store and real recording folders on disk."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from spasmwatch.cli import main
from spasmwatch.core import SampleBlock, StreamSpec
from spasmwatch.episodes import Episode, Label
from spasmwatch.errors import ConfigError, NotFoundError, StoreError
from spasmwatch.store import (
    Device,
    DiaryEntry,
    EventStore,
    Prompt,
    RecordingInfo,
    SignalLoss,
    Wearer,
    open_recording,
    write_recording,
)
from spasmwatch.store import _ownership as own

S = 10**9
DAY = 86_400 * S
NOW = 1_760_000_000 * S  # fixed "now" (2025-10-09)
SECRET = "ZEBRAQUARTZ-7781"  # a diary text only alice has: must vanish from the file
ACC = StreamSpec("myo", "acc", ("x", "y", "z"), 50.0, "mG")


def _recording(folder: Path, t0: int, wearer: str, seconds: int = 4) -> str:
    n = seconds * 50
    t = t0 + (np.arange(n) * ACC.period_ns).astype(np.int64)
    x = np.random.default_rng(1).normal(0, 1, (n, 3)).astype(np.float32)
    rec = write_recording(
        folder, [SampleBlock(ACC, t, x)], devices=[{"id": "myo"}], meta={"wearer_id": wearer}
    )
    return rec.id


def _rows(db: Path, wearer: str) -> dict[str, list]:
    """Every row mentioning ``wearer`` in a wearer_id/id column, table by table."""
    con = sqlite3.connect(db)
    out = {}
    for (t,) in con.execute("SELECT name FROM sqlite_schema WHERE type='table'"):
        cols = [r[1] for r in con.execute(f'PRAGMA table_info("{t}")')]
        if "wearer_id" in cols:
            out[t] = sorted(
                map(repr, con.execute(f'SELECT * FROM "{t}" WHERE wearer_id=?', (wearer,)))
            )
    out["wearers"] = con.execute("SELECT * FROM wearers WHERE id=?", (wearer,)).fetchall()
    con.close()
    return out


@pytest.fixture
def world(tmp_path: Path):
    data = tmp_path / "home"
    data.mkdir()
    db = data / "spasmwatch.db"
    store = EventStore(db)
    recs = {}
    for w in ("alice", "bob"):
        store.upsert_wearer(Wearer(w, f"P-{w}", f"{w.title()} Smith", 1))
        old = NOW - 40 * DAY
        new = NOW - 2 * DAY
        for tag, t0 in (("old", old), ("new", new)):
            folder = data / "recordings" / f"{w}-{tag}"
            rid = _recording(folder, t0, w)
            store.upsert_recording(RecordingInfo(rid, str(folder), t0, t0 + 4 * S, w, ("myo",)))
            recs[(w, tag)] = (rid, folder)
        store.add_episode(
            Episode(
                f"{w}-e1",
                old + S,
                old + 3 * S,
                "tonic",
                5.0,
                2,
                0.9,
                wearer_id=w,
                recording_id=recs[(w, "old")][0],
            )
        )
        store.add_episode(
            Episode(f"{w}-e2", new + S, new + 2 * S, "clonic", 3.0, 1, 0.8, wearer_id=w)
        )
        store.add_label(
            Label(f"{w}-l1", old + S, old + 3 * S, "tonic", wearer_id=w, episode_id=f"{w}-e1")
        )
        store.add_prompt(
            Prompt(
                f"{w}-p1", new + S, "episode_onset", "paced-6", wearer_id=w, episode_id=f"{w}-e2"
            )
        )
        text = SECRET if w == "alice" else "baclofen"
        store.add_diary(DiaryEntry(f"{w}-d1", new, "medication", text, "10 mg", w))
        store.upsert_device(Device(f"myo-{w}", "myo", "Myo", wearer_id=w))
        store.add_signal_loss(SignalLoss(f"{w}-s1", "myo", "*", new, new + S, wearer_id=w))
        store.add_wear_time(w, __import__("datetime").date(2025, 10, 7), "myo", 3600.0, 3000.0)
    # a folder of alice's that only the data folder knows (not in the index)
    _recording(data / "alice-loose", NOW - 50 * DAY, "alice")
    # bob labels alice's episode (cross-reference: must survive as episode_id NULL)
    store.add_label(
        Label("bob-l2", NOW - 40 * DAY, NOW - 40 * DAY + S, wearer_id="bob", episode_id="alice-e1")
    )
    yield store, db, data, recs
    store.close()


# --------------------------------------------------------------------------- export


def test_export_archive_holds_every_table_recordings_and_valid_checksums(world, tmp_path):
    store, _db, _data, _recs = world
    out = tmp_path / "alice.zip"
    rep = own.export_wearer(store, "alice", out)
    assert rep.rows["episodes"] == 2 and rep.rows["diary"] == 1 and rep.rows["wearers"] == 1
    assert rep.rows["recording_devices"] == 2 and rep.rows["wear_time"] == 1
    assert len(rep.recordings) == 3  # two indexed + the loose folder
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
        assert {"README.txt", "manifest.json", "SHA256SUMS"} <= names
        for t in (
            "episodes",
            "labels",
            "prompts",
            "diary",
            "devices",
            "wear_time",
            "signal_losses",
            "recordings",
            "wearers",
        ):
            assert f"tables/{t}.csv" in names and f"tables/{t}.json" in names
        assert "tables/api_tokens.csv" not in names
        # every file is listed with its checksum, and the checksums hold
        listed = set(manifest["files"])
        assert listed == names - {"manifest.json", "SHA256SUMS"}
        for name, meta in manifest["files"].items():
            blob = zf.read(name)
            assert hashlib.sha256(blob).hexdigest() == meta["sha256"]
            assert len(blob) == meta["bytes"]
        sums = zf.read("SHA256SUMS").decode().splitlines()
        assert len(sums) == len(listed)
        # only alice's rows; the display name is left out by default
        eps = json.loads(zf.read("tables/episodes.json"))
        assert {e["id"] for e in eps} == {"alice-e1", "alice-e2"}
        assert json.loads(zf.read("tables/wearers.json"))[0]["display_name"] is None
        diary_csv = zf.read("tables/diary.csv").decode()
        assert SECRET in diary_csv and "baclofen" not in diary_csv
        # the raw recording is there and readable as Parquet
        pqs = sorted(n for n in names if n.endswith(".parquet"))
        assert len(pqs) == 3 and all(n.startswith("recordings/") for n in pqs)
        table = pq.read_table(io.BytesIO(zf.read(pqs[0])))
        assert table.num_rows == 200 and table.column_names == ["t_ns", "x", "y", "z"]
        assert not any("bob" in n for n in names)
    with pytest.raises(StoreError, match="already exists"):
        own.export_wearer(store, "alice", out)
    with pytest.raises(NotFoundError):
        own.export_wearer(store, "nobody", tmp_path / "x.zip")


# --------------------------------------------------------------------------- delete


def test_wrong_confirmation_is_refused_and_nothing_changes(world):
    store, db, _data, recs = world
    before = _rows(db, "alice")
    with pytest.raises(ConfigError, match="not confirmed") as ei:
        own.delete_wearer_data(store, "alice", confirm="alic")
    assert ei.value.reason == "confirmation"
    assert _rows(db, "alice") == before
    assert all(folder.exists() for (w, _), (_, folder) in recs.items())


def test_delete_removes_every_row_and_folder_and_leaves_bob_alone(world):
    store, db, data, recs = world
    from spasmwatch.api._auth import TokenStore

    tokens = TokenStore(db)  # a wearer token and a clinician assignment also name alice
    tokens.create("wearer", "alice-phone", wearer_id="alice")
    tokens.create("clinician", "dr-a")
    tokens.assign("dr-a", "alice")
    tokens.close()
    assert _rows(db, "alice")["api_tokens"] and _rows(db, "alice")["clinician_wearers"]
    bob_before = _rows(db, "bob")
    rep = own.delete_wearer_data(store, "alice", confirm="alice")
    assert rep.rows["api_tokens"] == 1 and rep.rows["clinician_wearers"] == 1
    assert rep.rows["episodes"] == 2 and rep.rows["wearers"] == 1
    assert rep.rows["recording_devices"] == 2
    assert len(rep.folders_deleted) == 3 and rep.remaining_rows == {}
    # nothing of alice in any table, checked independently of the module
    assert all(not rows for rows in _rows(db, "alice").values())
    con = sqlite3.connect(db)
    assert con.execute(
        "SELECT count(*) FROM recording_devices WHERE recording_id IN (?, ?)",
        (recs[("alice", "old")][0], recs[("alice", "new")][0]),
    ).fetchone() == (0,)
    assert con.execute("SELECT episode_id FROM labels WHERE id='bob-l2'").fetchone() == (None,)
    con.close()
    for tag in ("old", "new"):
        assert not recs[("alice", tag)][1].exists()
        assert recs[("bob", tag)][1].exists()
    assert not (data / "alice-loose").exists()
    # bob's rows are all still there (only the cross-reference was emptied)
    bob_after = _rows(db, "bob")
    assert {t: len(r) for t, r in bob_after.items()} == {t: len(r) for t, r in bob_before.items()}
    assert store.count_episodes("bob") == 2
    # the deleted text does not linger in the database file or its WAL (secure_delete +
    # checkpoint)
    assert rep.wal_checkpointed
    for f in (db, db.with_name(db.name + "-wal")):
        if f.exists():
            assert SECRET.encode() not in f.read_bytes()
    with pytest.raises(NotFoundError):
        own.delete_wearer_data(store, "alice", confirm="alice")


def test_delete_never_removes_a_folder_that_is_not_a_recording(world, tmp_path):
    store, _db, _data, _recs = world
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("do not delete")
    store.upsert_recording(RecordingInfo("fake", str(precious), NOW, NOW + S, "alice"))
    rep = own.delete_wearer_data(store, "alice", confirm="alice")
    assert (precious / "thesis.txt").exists()
    assert any(f == str(precious.resolve()) for f, _ in rep.folders_skipped)


def test_cli_delete_asks_for_the_typed_id(world, monkeypatch, capsys):
    store, db, _data, _recs = world
    monkeypatch.setattr("sys.stdin", io.StringIO("bobby\n"))
    assert main(["data", "delete", "--db", str(db), "--wearer", "bob"]) == 1
    assert "not confirmed" in capsys.readouterr().err
    assert store.count_episodes("bob") == 2
    monkeypatch.setattr("sys.stdin", io.StringIO("bob\n"))
    assert main(["data", "delete", "--db", str(db), "--wearer", "bob"]) == 0
    out = capsys.readouterr().out
    assert "deleted wearer 'bob'" in out and "episodes: 2" in out and "verified" in out
    assert store.count_episodes("bob") == 0 and store.count_episodes("alice") == 2
    assert (
        main(
            ["data", "delete", "--db", str(db), "--wearer", "alice", "--confirm", "alice", "--json"]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["remaining_rows"] == {}


# --------------------------------------------------------------------------- prune


def test_prune_deletes_old_raw_recordings_and_keeps_episodes(world):
    store, _db, data, recs = world
    n_eps = store.count_episodes()
    dry = own.prune_recordings(store, 30, now_ns=NOW, dry_run=True)
    assert {Path(p["path"]).name for p in dry.pruned} == {"alice-old", "bob-old", "alice-loose"}
    assert all(Path(p["path"]).exists() for p in dry.pruned)
    rep = own.prune_recordings(store, 30, now_ns=NOW)
    assert len(rep.pruned) == 3 and rep.bytes > 0
    for w in ("alice", "bob"):
        assert not recs[(w, "old")][1].exists()
        assert open_recording(recs[(w, "new")][1]).n_samples("myo.acc") == 200
    assert store.count_episodes() == n_eps
    assert store.get_episode("alice-e1").recording_id == recs[("alice", "old")][0]
    assert store.get_recording(recs[("alice", "old")][0]).id  # the index row stays
    ledger = own.pruned_recordings(data)
    assert {e["id"] for e in ledger} >= {recs[("alice", "old")][0], recs[("bob", "old")][0]}
    assert all(e["pruned_ns"] == NOW for e in ledger)
    # nothing left to prune
    assert own.prune_recordings(store, 30, now_ns=NOW).pruned == []


def test_retention_setting_from_env_or_settings_file(world, monkeypatch):
    store, _db, data, _recs = world
    monkeypatch.delenv(own.RETENTION_ENV, raising=False)
    assert own.retention_days(data) is None
    assert own.apply_retention(store, now_ns=NOW) is None
    own.set_retention_days(45, data)
    assert own.retention_days(data) == 45
    rep = own.apply_retention(store, now_ns=NOW)
    assert [Path(p["path"]).name for p in rep.pruned] == ["alice-loose"]  # 50 days old
    monkeypatch.setenv(own.RETENTION_ENV, "30")
    assert own.retention_days(data) == 30
    monkeypatch.setenv(own.RETENTION_ENV, "0")
    with pytest.raises(ConfigError, match="between 1 and"):
        own.retention_days(data)


def test_cli_prune_uses_and_saves_the_setting(world, monkeypatch, capsys):
    _store, db, data, _recs = world
    monkeypatch.delenv(own.RETENTION_ENV, raising=False)
    assert main(["data", "prune", "--db", str(db)]) == 1
    assert "no retention period" in capsys.readouterr().err
    assert main(["data", "prune", "--db", str(db), "--older-than", "1000", "--save"]) == 0
    assert "deleted 0 recordings" in capsys.readouterr().out
    assert own.retention_days(data) == 1000


# --------------------------------------------------------------------------- backup


def _dump(db: Path) -> dict[str, list]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    out = {}
    for (t,) in con.execute("SELECT name FROM sqlite_schema WHERE type='table' ORDER BY name"):
        out[t] = sorted(map(repr, con.execute(f'SELECT * FROM "{t}"')))
    con.close()
    return out


def test_backup_while_writing_then_restore_gives_the_same_tables(tmp_path):
    db = tmp_path / "live.db"
    store = EventStore(db)
    store.add_episodes(Episode(f"e{i:05d}", i * S, i * S + S) for i in range(300))
    stop = threading.Event()
    written = [300]

    def writer() -> None:
        w = EventStore(db)  # its own connection, like the monitor process
        i = written[0]
        while not stop.is_set() and i < 20_000:
            w.add_episode(Episode(f"e{i:05d}", i * S, i * S + S))
            i += 1
            written[0] = i
        w.close()

    th = threading.Thread(target=writer)
    th.start()
    while written[0] < 600:
        time.sleep(0.005)
    rep = own.backup_store(store, tmp_path / "b.sqlite")
    at_backup = written[0]
    time.sleep(0.05)
    stop.set()
    th.join()
    assert written[0] > at_backup  # the writer kept going during and after the backup
    # the snapshot is a consistent prefix of the committed episodes
    ids = sorted(r[0] for r in sqlite3.connect(rep.path).execute("SELECT id FROM episodes"))
    assert ids == [f"e{i:05d}" for i in range(len(ids))]
    assert 600 <= len(ids) <= written[0]
    assert rep.rows["episodes"] == len(ids) and rep.schema_version >= 2
    assert not Path(str(rep.path) + "-wal").exists()
    # restore into a new file and compare every table with the backup
    target = tmp_path / "restored" / "spasmwatch.db"
    res = own.restore_store(rep.path, target)
    assert res.rows == rep.rows
    assert _dump(target) == _dump(rep.path)
    # ... and with the live store's rows of the same episodes
    live = {r for r in _dump(db)["episodes"]}
    assert set(_dump(target)["episodes"]) <= live
    with EventStore(target) as restored:
        assert restored.integrity_check() == "ok"
        assert restored.count_episodes() == len(ids)
    store.close()


def test_restore_refuses_to_overwrite_and_bad_files(tmp_path, capsys):
    db = tmp_path / "s.db"
    with EventStore(db) as store:
        store.add_episode(Episode("a", 0, S))
        own.backup_store(store, tmp_path / "b1")
        store.add_episode(Episode("b", 2 * S, 3 * S))
    with pytest.raises(StoreError, match="exists") as ei:
        own.restore_store(tmp_path / "b1", db)
    assert ei.value.reason == "exists"
    with EventStore(db) as store:
        assert store.count_episodes() == 2
    # with --force the old store is kept beside it
    assert main(["data", "restore", str(tmp_path / "b1"), "--db", str(db), "--force"]) == 0
    with EventStore(db) as store:
        assert store.count_episodes() == 1
    kept = list(tmp_path.glob("s.db.before-restore-*"))
    assert len(kept) == 1
    assert sqlite3.connect(kept[0]).execute("SELECT count(*) FROM episodes").fetchone() == (2,)
    # garbage and a newer schema are refused before anything is touched
    bad = tmp_path / "garbage"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x07" * 4000)
    with pytest.raises(StoreError):
        own.restore_store(bad, tmp_path / "new.db")
    assert not (tmp_path / "new.db").exists()
    newer = tmp_path / "newer"
    newer.write_bytes((tmp_path / "b1").read_bytes())
    con = sqlite3.connect(newer)
    con.execute("INSERT INTO schema_version VALUES (99, 'future', 0)")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="schema version 99") as ei:
        own.restore_store(newer, tmp_path / "new.db")
    assert ei.value.reason == "newer_schema"
    # the CLI backup refuses to overwrite too
    assert main(["data", "backup", "--db", str(db), "--out", str(tmp_path / "b1")]) == 1
    assert "already exists" in capsys.readouterr().err
