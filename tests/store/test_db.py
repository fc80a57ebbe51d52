"""The SQLite event store, on real files: migrations, round trips, filters, durability."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spasmwatch.episodes import Episode, Label, new_id
from spasmwatch.errors import NotFoundError, StoreError
from spasmwatch.store import (
    LATEST_VERSION,
    MIGRATIONS,
    Device,
    DiaryEntry,
    EventStore,
    Followup,
    Placement,
    Prompt,
    RecordingInfo,
    SelfReport,
    SignalLoss,
    Wearer,
    WearTime,
)
from spasmwatch.store._migrations import apply_migrations

S = 1_000_000_000
T0 = 1_717_200_000 * S  # 2024-06-01 00:00 UTC


def ep(i: int = 0, **kw) -> Episode:
    base = dict(
        id=f"ep-{i}",
        start_ns=T0 + i * 600 * S,
        end_ns=T0 + i * 600 * S + 20 * S,
        type="tonic",
        peak_intensity=4.5,
        severity="moderate",
        confidence=0.8,
    )
    base.update(kw)
    return Episode(**base)


@pytest.fixture
def store(tmp_path):
    s = EventStore(tmp_path / "events.db")
    yield s
    s.close()


# ----------------------------------------------------------------------------- migrations


def test_released_migrations_are_pinned():
    # Editing a shipped migration would leave existing files with a different schema than
    # new ones: append a migration instead, and add its hash here.
    pinned = {
        1: "acd8b2551aeb",
        2: "0b7a06065e09",
        3: "47ee6a631bff",
    }
    got = {m.version: hashlib.sha256(m.sql.encode()).hexdigest()[:12] for m in MIGRATIONS}
    for version, digest in pinned.items():
        assert got[version] == digest, f"migration {version} was edited"


def test_new_file_is_wal_latest_and_private(tmp_path):
    path = tmp_path / "sub" / "events.db"
    with EventStore(path) as s:
        assert s.version == LATEST_VERSION
        conn = s._conn()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_version")]
        assert versions == list(range(1, LATEST_VERSION + 1))
    assert (path.stat().st_mode & 0o777) == 0o600
    assert (path.parent.stat().st_mode & 0o777) == 0o700


def test_migrates_v1_file_and_keeps_data(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert apply_migrations(conn, target=1) == 1
    conn.execute("INSERT INTO wearers VALUES ('w1', 'P01', NULL, 0)")
    conn.execute(
        "INSERT INTO episodes VALUES ('e1', 'w1', 10, 20, 'clonic', 3.0, 2, 0.9, 'auto', "
        "'m1', NULL, NULL, NULL, 1, 0)"
    )
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type='table'")}
    assert "devices" not in tables
    conn.close()
    with EventStore(path) as s:
        assert s.version == LATEST_VERSION
        assert s.get_episode("e1").type == "clonic"
        assert s.get_wearer("w1").pseudonym == "P01"
        s.upsert_device(Device(id="myo", profile="myo", wearer_id="w1"))
        assert s.integrity_check() == "ok"


def test_newer_schema_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "new.db"
    EventStore(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("INSERT INTO schema_version VALUES (?, 'from the future', 0)", (99,))
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="newer spasmwatch") as ei:
        EventStore(path)
    assert ei.value.reason == "newer_schema"
    assert path.read_bytes() == before


def test_foreign_and_garbage_files_are_refused(tmp_path):
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a spasmwatch event store"):
        EventStore(other)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError) as ei:
        EventStore(junk)
    assert ei.value.reason == "unreadable"
    with pytest.raises(NotFoundError):
        EventStore(tmp_path / "missing.db", create=False)
    with pytest.raises(StoreError):
        EventStore(":memory:")


def test_failed_migration_rolls_back_the_step(tmp_path):
    from spasmwatch.store._migrations import Migration

    bad = (*MIGRATIONS, Migration(LATEST_VERSION + 1, "broken", "CREATE TABLE t (x);\nNOPE;"))
    path = tmp_path / "e.db"
    EventStore(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(StoreError, match="rolled back") as ei:
        apply_migrations(conn, migrations=bad)
    assert ei.value.reason == "migration"
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type='table'")}
    assert "t" not in names
    conn.close()
    with EventStore(path) as s:
        assert s.version == LATEST_VERSION


# ----------------------------------------------------------------------------- round trips


def test_every_value_round_trips(store):
    w = Wearer("w1", pseudonym="P07", display_name="Sam", created_ns=5)
    store.upsert_wearer(w)
    assert store.get_wearer("w1") == w
    e = ep(
        1,
        wearer_id="w1",
        model_id="emg-acc-v1",
        device="myo",
        placement="gastrocnemius-left",
        recording_id="rec-1",
        source="researcher:alice",
        final=False,
    )
    store.add_episode(e)
    assert store.get_episode(e.id) == e
    lb = Label(
        id="l1",
        start_ns=e.start_ns,
        end_ns=e.end_ns,
        type="mixed",
        labeler="alice",
        recording_id="rec-1",
        wearer_id="w1",
        episode_id=e.id,
        is_false_alarm=True,
        note="leg moved by carer",
    )
    store.add_label(lb)
    assert store.get_label("l1") == lb
    fu = Followup(1800.0, 2, 1, 40.0, 12.5, 0.0, 30.0)
    p = Prompt(
        "p1",
        t_ns=e.start_ns + S,
        reason="episode_onset",
        exercise_id="paced-6",
        wearer_id="w1",
        episode_id=e.id,
        outcome="done",
        outcome_t_ns=e.start_ns + 70 * S,
        followup=fu,
    )
    store.add_prompt(p)
    assert store.get_prompt("p1") == p
    d = DiaryEntry("d1", t_ns=T0, kind="medication", text="baclofen", dose="10 mg", wearer_id="w1")
    store.add_diary(d)
    assert store.get_diary("d1") == d
    dev = Device(
        "polar-h10",
        profile="polar-h10",
        name="Polar H10 1234",
        address="AA:BB:CC:DD:EE:FF",
        battery_pct=87,
        firmware="3.1.1",
        placement_muscle="quadriceps",
        placement_side="right",
        wearer_id="w1",
        last_seen_ns=T0,
    )
    store.upsert_device(dev)
    assert store.get_device("polar-h10") == dev
    assert dev.placement == "quadriceps-right"
    rec = RecordingInfo(
        "rec-1", path="/data/rec-1", start_ns=T0, wearer_id="w1", devices=("myo", "polar-h10")
    )
    store.upsert_recording(rec)
    assert store.get_recording("rec-1") == rec
    store.upsert_recording(replace(rec, end_ns=T0 + 3600 * S, devices=("myo",)))
    assert store.get_recording("rec-1").devices == ("myo",)
    loss = SignalLoss(
        "s1",
        device="myo",
        stream="emg",
        start_ns=T0,
        end_ns=T0 + 5 * S,
        cause="disconnect",
        wearer_id="w1",
        recording_id="rec-1",
    )
    store.upsert_signal_loss(loss)
    assert store.signal_losses(wearer_id="w1") == [loss]
    day = dt.date(2024, 6, 1)
    assert store.add_wear_time("w1", day, "myo", 3600, 3000) == WearTime(
        "w1", day, "myo", 3600, 3000
    )
    total = store.add_wear_time("w1", day, "myo", 600, 600)
    assert (total.worn_s, total.usable_s) == (4200.0, 3600.0)
    assert store.wear_time("w1", day, day) == [total]
    for v in (e, lb, p, d, dev, rec, loss, total, w, fu):
        assert type(v).from_dict(v.to_dict()) == v
    assert store.integrity_check() == "ok"


def test_invalid_values_name_the_field():
    with pytest.raises(StoreError, match=r"Episode\.end_ns"):
        ep(end_ns=T0 - 1)
    with pytest.raises(StoreError, match=r"Episode\.type"):
        ep(type="cramp")
    with pytest.raises(StoreError, match=r"Episode\.confidence"):
        ep(confidence=1.5)
    with pytest.raises(StoreError, match=r"Episode\.peak_intensity"):
        ep(peak_intensity=float("nan"))
    with pytest.raises(StoreError, match=r"Episode\.source"):
        ep(source="someone")
    with pytest.raises(StoreError, match=r"Episode\.id"):
        ep(id="")
    with pytest.raises(StoreError, match=r"Episode\.start_ns"):
        ep(start_ns=1.5)
    with pytest.raises(StoreError, match=r"Prompt\.outcome"):
        Prompt("p", 0, "episode_onset", "paced-6", outcome="maybe")
    with pytest.raises(StoreError, match=r"DiaryEntry\.kind"):
        DiaryEntry("d", 0, kind="advice")
    with pytest.raises(StoreError, match=r"WearTime\.usable_s"):
        WearTime("w", dt.date(2024, 1, 1), "myo", 10, 20)
    with pytest.raises(StoreError, match=r"Device\.placement_side"):
        Device("myo", "myo", placement_side="up")
    assert ep(severity=3).severity == "severe"


def test_store_refuses_non_values_and_bad_filters(store):
    with pytest.raises(StoreError, match="episode must be a Episode"):
        store.add_episode({"id": "x"})
    with pytest.raises(StoreError, match="types"):
        store.episodes(types=["cramp"])
    with pytest.raises(StoreError, match="start_ns"):
        store.episodes(start_ns="yesterday")
    with pytest.raises(StoreError, match="severity"):
        store.episodes(min_severity="awful")


def test_unknown_ids_raise_not_found(store):
    for call in (
        lambda: store.get_episode("nope"),
        lambda: store.delete_episode("nope"),
        lambda: store.get_label("nope"),
        lambda: store.update_label(Label("nope", 0, 1)),
        lambda: store.set_prompt_outcome("nope", "done", 1),
        lambda: store.get_diary("nope"),
        lambda: store.delete_diary("nope"),
        lambda: store.get_device("nope"),
        lambda: store.get_recording("nope"),
        lambda: store.get_wearer("nope"),
        lambda: store.add_label(Label("l", 0, 1, episode_id="nope")),
        lambda: store.add_prompt(Prompt("p", 0, "episode_onset", "paced-6", episode_id="nope")),
    ):
        with pytest.raises(NotFoundError):
            call()
    assert store.count_episodes() == 0
    assert store.labels() == [] and store.prompts() == []


# ----------------------------------------------------------------------------- semantics


def test_upsert_live_onset_then_final(store):
    onset = ep(1, end_ns=T0 + 600 * S + 2 * S, final=False, peak_intensity=2.0)
    assert store.upsert_episode(onset) is True
    assert store.get_episode(onset.id).final is False
    final = replace(onset, end_ns=onset.start_ns + 30 * S, final=True, peak_intensity=6.0)
    assert store.upsert_episode(final) is False
    assert store.get_episode(onset.id) == final
    assert store.count_episodes() == 1
    with pytest.raises(StoreError, match="already final") as ei:
        store.upsert_episode(onset)
    assert ei.value.reason == "conflict"
    with pytest.raises(StoreError, match="cannot move"):
        store.upsert_episode(replace(final, wearer_id="someone-else"))
    with pytest.raises(StoreError) as ei:
        store.add_episode(final)
    assert ei.value.reason == "duplicate"
    assert store.get_episode(onset.id) == final


def test_episode_filters(store):
    eps = [
        ep(0, type="tonic", severity="mild", source="auto"),
        ep(1, type="clonic", severity="severe", source="researcher:alice", wearer_id="w2"),
        ep(2, type="mixed", severity="moderate", source="self-report", final=False),
        ep(3, type="tonic", severity="severe", source="researcher:bob", recording_id="r1"),
    ]
    store.add_episodes(eps)
    ids = lambda xs: [e.id for e in xs]  # noqa: E731
    assert ids(store.episodes()) == ["ep-0", "ep-1", "ep-2", "ep-3"]
    assert ids(store.episodes(wearer_id="w2")) == ["ep-1"]
    assert ids(store.episodes(types=["tonic"])) == ["ep-0", "ep-3"]
    assert ids(store.episodes(types="clonic")) == ["ep-1"]
    assert ids(store.episodes(min_severity="moderate")) == ["ep-1", "ep-2", "ep-3"]
    assert ids(store.episodes(min_severity=3)) == ["ep-1", "ep-3"]
    assert ids(store.episodes(source="researcher:*")) == ["ep-1", "ep-3"]
    assert ids(store.episodes(source="auto")) == ["ep-0"]
    assert ids(store.episodes(limit=2)) == ["ep-0", "ep-1"]
    assert ids(store.episodes(limit=2, newest_first=True)) == ["ep-3", "ep-2"]
    assert ids(store.episodes(final_only=True)) == ["ep-0", "ep-1", "ep-3"]
    assert ids(store.episodes(recording_id="r1")) == ["ep-3"]
    # overlap semantics on [start, end): ep-1 spans 600..620 s
    assert ids(store.episodes(start_ns=T0 + 610 * S, end_ns=T0 + 611 * S)) == ["ep-1"]
    assert ids(store.episodes(start_ns=T0 + 620 * S, end_ns=T0 + 1200 * S)) == ["ep-1"]
    assert ids(store.episodes(start_ns=T0 + 621 * S, end_ns=T0 + 1200 * S)) == []
    assert ids(store.episodes(start_ns=T0 + 621 * S, end_ns=T0 + 1201 * S)) == ["ep-2"]
    store.add_label(
        Label("fa", eps[0].start_ns, eps[0].end_ns, episode_id="ep-0", is_false_alarm=True)
    )
    assert ids(store.episodes(exclude_false_alarms=True)) == ["ep-1", "ep-2", "ep-3"]


def test_long_episode_still_found_by_overlap(store):
    # The overlap query bounds the index range by the longest stored episode.
    store.add_episode(ep(0, end_ns=T0 + 10 * 3600 * S))
    store.add_episode(ep(100))
    got = store.episodes(start_ns=T0 + 9 * 3600 * S, end_ns=T0 + 9 * 3600 * S + 1)
    assert [e.id for e in got] == ["ep-0"]


@given(
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 500)), min_size=0, max_size=30),
    st.integers(0, 11_000),
    st.integers(0, 2_000),
)
def test_overlap_query_matches_brute_force(tmp_path_factory, spans, q0, qlen):
    path = tmp_path_factory.mktemp("ov") / "e.db"
    with EventStore(path) as s:
        eps = [ep(i, start_ns=a * S, end_ns=(a + d) * S) for i, (a, d) in enumerate(spans)]
        s.add_episodes(eps)
        got = {e.id for e in s.episodes(start_ns=q0 * S, end_ns=(q0 + qlen) * S)}
        want = {e.id for e in eps if e.end_ns >= q0 * S and e.start_ns < (q0 + qlen) * S}
        assert got == want


def test_delete_episode_detaches_labels_and_prompts(store):
    store.add_episode(ep(1))
    store.add_label(Label("l1", T0, T0 + S, episode_id="ep-1"))
    store.add_prompt(Prompt("p1", T0, "episode_onset", "paced-6", episode_id="ep-1"))
    store.delete_episode("ep-1")
    assert store.get_label("l1").episode_id is None
    assert store.get_prompt("p1").episode_id is None
    with pytest.raises(NotFoundError):
        store.get_episode("ep-1")


def test_labels_edit_delete_and_filter(store):
    store.add_label(Label("a", T0, T0 + S, recording_id="r1", origin="researcher", labeler="al"))
    store.add_label(Label("b", T0 + 10 * S, T0 + 11 * S, origin="self-report", labeler="me"))
    store.update_label(Label("a", T0, T0 + 2 * S, type="clonic", recording_id="r1"))
    assert store.get_label("a").type == "clonic"
    assert [lb.id for lb in store.labels(recording_id="r1")] == ["a"]
    assert [lb.id for lb in store.labels(origin="self-report")] == ["b"]
    assert [lb.id for lb in store.labels(start_ns=T0 + 5 * S)] == ["b"]
    store.delete_label("a")
    assert [lb.id for lb in store.labels()] == ["b"]


def test_prompts_outcome_followup_and_filters(store):
    store.add_prompt(Prompt("p1", T0, "episode_onset", "paced-6"))
    store.add_prompt(Prompt("p2", T0 + 60 * S, "on_demand", "box-4"))
    got = store.set_prompt_outcome("p1", "dismissed", T0 + 5 * S)
    assert (got.outcome, got.outcome_t_ns) == ("dismissed", T0 + 5 * S)
    assert [p.id for p in store.prompts(outcomes=["pending"])] == ["p2"]
    assert [p.id for p in store.prompts(reasons=["on_demand"])] == ["p2"]
    assert [p.id for p in store.prompts(without_followup=True)] == ["p1", "p2"]
    store.set_prompt_followup("p1", Followup(600, 1, 0, 10, 0))
    assert [p.id for p in store.prompts(without_followup=True)] == ["p2"]
    assert store.upsert_prompt(replace(store.get_prompt("p2"), outcome="done")) is False
    assert store.get_prompt("p2").outcome == "done"
    with pytest.raises(StoreError, match="outcome"):
        store.set_prompt_outcome("p1", "great", T0)


def test_diary_filters_and_delete(store):
    for i, kind in enumerate(["medication", "stretching", "heat", "medication"]):
        store.add_diary(DiaryEntry(f"d{i}", T0 + i * S, kind, text=f"t{i}"))
    assert [d.id for d in store.diary(kinds=["medication"])] == ["d0", "d3"]
    assert [d.id for d in store.diary(start_ns=T0 + S, end_ns=T0 + 3 * S)] == ["d1", "d2"]
    assert [d.id for d in store.diary(limit=1, newest_first=True)] == ["d3"]
    store.update_diary(DiaryEntry("d1", T0 + S, "stretching", text="calves, 10 min"))
    assert store.get_diary("d1").text == "calves, 10 min"
    store.delete_diary("d0")
    assert [d.id for d in store.diary()] == ["d1", "d2", "d3"]


def test_devices_recordings_and_losses_queries(store):
    store.upsert_device(Device("myo", "myo", wearer_id="w1"))
    store.upsert_device(Device("h10", "polar-h10"))
    assert [d.id for d in store.devices(wearer_id="w1")] == ["myo"]
    store.delete_device("h10")
    assert [d.id for d in store.devices()] == ["myo"]
    store.upsert_recording(RecordingInfo("r1", "/x/r1", T0, T0 + 100 * S, "w1", ("myo",)))
    store.upsert_recording(RecordingInfo("r2", "/x/r2", T0 + 200 * S, None, "w1", ("h10",)))
    assert [r.id for r in store.recordings(device="h10")] == ["r2"]
    assert [r.id for r in store.recordings(start_ns=T0 + 150 * S)] == ["r2"]  # open: ongoing
    assert [r.id for r in store.recordings(end_ns=T0 + 150 * S)] == ["r1"]
    store.delete_recording("r1")
    assert [r.id for r in store.recordings()] == ["r2"]
    store.upsert_signal_loss(SignalLoss("s", "myo", "emg", T0, T0 + S, wearer_id="w1"))
    store.upsert_signal_loss(SignalLoss("s", "myo", "emg", T0, T0 + 9 * S, wearer_id="w1"))
    assert [x.end_ns for x in store.signal_losses(device="myo")] == [T0 + 9 * S]
    assert store.signal_losses(start_ns=T0 + 9 * S) == []


def test_delete_wearer_cascades(store):
    store.add_episode(ep(1, wearer_id="w9"))
    store.add_diary(DiaryEntry("d", T0, "heat", wearer_id="w9"))
    store.add_wear_time("w9", dt.date(2024, 6, 1), "myo", 10, 10)
    store.add_episode(ep(2))
    store.delete_wearer("w9")
    assert [e.id for e in store.episodes()] == ["ep-2"]
    assert store.diary() == [] and store.wear_time("w9") == []
    assert [w.id for w in store.wearers()] == ["default"]


def test_failed_transaction_leaves_nothing(store):
    good = ep(1)
    with pytest.raises(StoreError) as ei:
        store.add_episodes([good, ep(2), replace(good)])  # duplicate id inside the batch
    assert ei.value.reason == "integrity"
    assert store.count_episodes() == 0


# ----------------------------------------------------------------------------- summaries


def test_daily_summary_local_days_including_dst(store):
    tz = "Europe/Berlin"  # DST ends 2024-10-27: that local day is 25 h long
    day = dt.datetime(2024, 10, 26, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    base = int(day.timestamp()) * S
    times = [base + 1 * 3600 * S, base + 23 * 3600 * S + 59 * 60 * S, base + 50 * 3600 * S]
    for i, t in enumerate(times):
        store.add_episode(ep(i, start_ns=t, end_ns=t + 30 * S, type=["tonic", "clonic"][i % 2]))
    rows = store.daily_summary("default", base, base + 3 * 86400 * S, tz)
    assert [r.label for r in rows] == ["2024-10-26", "2024-10-27", "2024-10-28"]
    assert [r.n for r in rows] == [2, 0, 1]  # 23:59 local on the 26th stays on the 26th
    assert rows[1].end_ns - rows[1].start_ns == 25 * 3600 * S
    assert rows[0].by_type["tonic"] == 1 and rows[0].by_type["clonic"] == 1
    assert rows[0].duration_s == 60.0
    assert rows[0].by_severity["moderate"] == 2
    assert rows[0].max_peak == 4.5
    # in UTC the 23:59 episode falls on the 26th too (21:59 UTC); at 3:00 in Tokyo it moves
    tokyo = store.daily_summary("default", base, base + 3 * 86400 * S, "Asia/Tokyo")
    assert sum(r.n for r in tokyo) == 3
    with pytest.raises(StoreError, match="time zone"):
        store.daily_summary("default", base, base + S, "Mars/Olympus")


def test_hourly_summary(store):
    store.add_episode(ep(0, start_ns=T0 + 90 * 60 * S, end_ns=T0 + 91 * 60 * S))
    rows = store.hourly_summary("default", T0, T0 + 3 * 3600 * S, "UTC")
    assert [r.n for r in rows] == [0, 1, 0]
    assert rows[1].label == "2024-06-01T01:00+00:00"
    assert rows[1].duration_s == 60.0


def test_summary_excludes_false_alarms(store):
    store.add_episode(ep(0))
    store.add_label(Label("fa", T0, T0 + S, episode_id="ep-0", is_false_alarm=True))
    assert sum(r.n for r in store.daily_summary("default", T0, T0 + 86400 * S, "UTC")) == 0
    rows = store.daily_summary("default", T0, T0 + 86400 * S, "UTC", exclude_false_alarms=False)
    assert sum(r.n for r in rows) == 1


# ----------------------------------------------------------------------------- durability


def test_integrity_after_many_writes(store):
    for i in range(300):
        store.upsert_episode(ep(i, final=False))
        store.upsert_episode(ep(i, final=True, end_ns=T0 + i * 600 * S + 40 * S))
        if i % 3 == 0:
            store.add_prompt(
                Prompt(f"p{i}", T0 + i * 600 * S, "episode_onset", "paced-6", episode_id=f"ep-{i}")
            )
        if i % 7 == 0:
            store.delete_episode(f"ep-{i}")
    assert store.count_episodes() == 300 - len(range(0, 300, 7))
    assert store.integrity_check() == "ok"


def test_threads_read_while_one_writes(tmp_path):
    path = tmp_path / "e.db"
    errors: list[BaseException] = []
    with EventStore(path) as s:
        stop = threading.Event()

        def reader():
            try:
                while not stop.is_set():
                    n = len(s.episodes())
                    assert n >= 0
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=reader) for _ in range(2)]
        for t in threads:
            t.start()
        for i in range(200):
            s.add_episode(ep(i))
        stop.set()
        for t in threads:
            t.join()
        assert errors == []
        assert s.count_episodes() == 200
        assert len(s._conns) == 3  # one connection per thread
    # a second process-level handle sees the same data
    with EventStore(path) as s2:
        assert s2.count_episodes() == 200


_CHILD = r"""
import sys
from spasmwatch.episodes import Episode
from spasmwatch.store import EventStore
s = EventStore(sys.argv[1])
i = 0
while True:
    e = Episode(id=f"k{i}", start_ns=i * 10**9, end_ns=i * 10**9 + 5 * 10**9, type="tonic",
                peak_intensity=3.0, severity=2, confidence=0.9)
    s.upsert_episode(e)
    s.upsert_episode(Episode(**{**e.to_dict(), "end_ns": e.end_ns + 1}))
    print(e.id, flush=True)
    i += 1
"""


def test_sigkill_mid_write_loses_no_committed_episode(tmp_path):
    path = tmp_path / "kill.db"
    EventStore(path).close()
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path)], stdout=subprocess.PIPE, text=True
    )
    committed: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while len(committed) < 150 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            committed.append(line.strip())
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        if proc.stdout:
            # the child may have committed (and reported) more between our last read and
            # the kill: those lines are still in the pipe
            committed.extend(ln.strip() for ln in proc.stdout.read().splitlines() if ln.strip())
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert len(committed) >= 150
    with EventStore(path) as s:
        assert s.integrity_check() == "ok"
        stored = {e.id for e in s.episodes()}
        assert set(committed) <= stored  # every reported commit survived
        assert len(stored) - len(committed) <= 1  # at most the one in flight, whole or not at all
        for e in s.episodes():
            assert e.end_ns in (e.start_ns + 5 * S, e.start_ns + 5 * S + 1)


def test_year_timeline_query_returns_the_year_without_a_per_row_cost(store):
    eps = [
        Episode(
            id=new_id(),
            start_ns=T0 + i * 4320 * S,
            end_ns=T0 + i * 4320 * S + 30 * S,
            type="tonic",
            peak_intensity=3.0,
            severity=2,
            confidence=0.9,
        )
        for i in range(7300)
    ]
    store.add_episodes(eps)
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        got = store.episodes(wearer_id="default", start_ns=T0, end_ns=T0 + 366 * 86400 * S)
        best = min(best, time.perf_counter() - t)
    assert len(got) == 7300
    print(f"year timeline (7300 episodes): {best * 1000:.1f} ms")
    # an order-of-magnitude guard only (a per-row query would take seconds); the latency
    # budget is checked by the benchmarks (bench_api.timeline_year_ms), not here
    assert best < 1.0


# ----------------------------------------------------------------------------- ownership


def test_queries_scoped_to_a_set_of_wearers(store):
    for i, w in enumerate(("a", "b", "c")):
        store.add_episode(ep(i, wearer_id=w))
        store.add_diary(DiaryEntry(f"d{i}", T0 + i, "heat", wearer_id=w))
        store.add_prompt(Prompt(f"p{i}", T0 + i, "on_demand", "paced-breathing", wearer_id=w))
        store.add_label(Label(f"l{i}", T0, T0 + S, wearer_id=w))
        store.upsert_signal_loss(SignalLoss(f"s{i}", "myo", "emg", T0, T0 + S, wearer_id=w))
        store.upsert_recording(RecordingInfo(f"r{i}", f"/x/r{i}", T0, T0 + S, w))
    for fn in (
        store.episodes,
        store.diary,
        store.prompts,
        store.labels,
        store.signal_losses,
        store.recordings,
    ):
        assert {x.wearer_id for x in fn(wearer_ids=["a", "c"])} == {"a", "c"}, fn
        assert fn(wearer_ids=[]) == [], fn  # nobody visible: nothing, never everything
        assert len(fn()) == 3
    with pytest.raises(StoreError, match="wearer_ids"):
        store.episodes(wearer_ids=[1])


def test_placements_over_time_and_episode_filter(store):
    store.upsert_device(Device("myo", "myo", wearer_id="w1"))
    store.set_placement("myo", "gastrocnemius", "left", T0, wearer_id="w1")
    assert store.get_device("myo").placement == "gastrocnemius-left"
    store.set_placement("myo", "quadriceps", "right", T0 + 3600 * S, wearer_id="w1")
    assert store.get_device("myo").placement == "quadriceps-right"
    assert store.placement_at("myo", T0 + 10 * S).name == "gastrocnemius-left"
    assert store.placement_at("myo", T0 + 3600 * S).name == "quadriceps-right"
    assert store.placement_at("myo", T0 - 1) is None
    assert store.placement_at("other", T0) is None
    periods = store.placements("myo")
    assert [(p.muscle, p.until_ns) for p in periods] == [
        ("gastrocnemius", T0 + 3600 * S),
        ("quadriceps", None),
    ]
    assert store.placements(wearer_ids=["nobody"]) == []
    with pytest.raises(StoreError) as ei:
        store.set_placement("myo", "forearm_flexors", None, T0 + 60 * S)
    assert ei.value.reason == "conflict"
    with pytest.raises(StoreError, match="side"):
        store.set_placement("myo", "calf", "up", T0 + 7200 * S)
    with pytest.raises(StoreError, match="muscle"):
        Placement("myo", "calf-left", "left")
    store.add_episode(ep(1, placement="gastrocnemius-left"))
    store.add_episode(ep(2, placement="gastrocnemius-right"))
    store.add_episode(ep(3, placement="gastrocnemiusx"))
    store.add_episode(ep(4))
    assert [e.id for e in store.episodes(placements=["gastrocnemius"])] == ["ep-1", "ep-2"]
    assert [e.id for e in store.episodes(placements=["gastrocnemius-right"])] == ["ep-2"]
    assert store.episodes(placements=[]) == []
    assert store.episode_placements() == [
        "gastrocnemius-left",
        "gastrocnemius-right",
        "gastrocnemiusx",
    ]


def test_self_reports_logged_and_answers(store):
    e = ep(1, source="self-report", confidence=1.0)
    lab = Label("l1", e.start_ns, e.end_ns, labeler="wearer", origin="self-report", episode_id=e.id)
    rep = SelfReport(
        "r1",
        e.start_ns,
        "logged",
        "yes",
        episode_id=e.id,
        label_id="l1",
        severity=2,
        trigger="heat",
    )
    store.log_self_report(e, rep, lab)
    assert store.self_reports() == [replace(rep, severity="moderate")]
    assert [x.id for x in store.labels(origin="self-report")] == ["l1"]
    assert store.labels(origin="researcher") == []
    # all or nothing: a duplicate episode id leaves no label or report behind
    with pytest.raises(StoreError):
        store.log_self_report(e, replace(rep, id="r2", label_id="l2"), replace(lab, id="l2"))
    assert [x.id for x in store.self_reports()] == ["r1"]
    # answers
    store.add_episode(ep(5))
    no_lab = Label("l5", T0, T0 + S, origin="self-report", episode_id="ep-5", is_false_alarm=True)
    store.answer_episode(
        SelfReport("a1", T0, "answer", "no", episode_id="ep-5", label_id="l5"), no_lab
    )
    assert store.episodes(exclude_false_alarms=True, wearer_ids=["default"])[-1].id != "ep-5"
    store.answer_episode(SelfReport("a2", T0 + 1, "answer", "not_sure", episode_id="ep-5"), None)
    assert store.labels(episode_id="ep-5") == []
    assert [x.answer for x in store.self_reports(episode_id="ep-5")] == ["not_sure"]
    with pytest.raises(StoreError, match="matching"):
        store.answer_episode(SelfReport("a3", T0, "answer", "yes", episode_id="ep-5"), None)
    with pytest.raises(NotFoundError):
        store.answer_episode(SelfReport("a4", T0, "answer", "not_sure", episode_id="zz"), None)
    with pytest.raises(StoreError, match="trigger"):
        SelfReport("x", T0, "logged", "yes", trigger="moon")
    with pytest.raises(StoreError, match="answer"):
        SelfReport("x", T0, "logged", "no")


def test_wear_by_day_takes_the_longest_worn_device(store):
    day = dt.date(2024, 6, 1)
    store.add_wear_time("w1", day, "myo", 5 * 3600, 4 * 3600)
    store.add_wear_time("w1", day, "h10", 8 * 3600, 3 * 3600)
    store.add_wear_time("w1", day + dt.timedelta(days=2), "myo", 60, 60)
    got = store.wear_by_day("w1", day, day + dt.timedelta(days=3))
    assert got == {day: (8 * 3600.0, 4 * 3600.0), day + dt.timedelta(days=2): (60.0, 60.0)}
    assert store.wear_by_day("w2", day, day) == {}


def test_schema_2_file_with_legacy_token_table_migrates(tmp_path):
    path = tmp_path / "v2.db"
    con = sqlite3.connect(path, isolation_level=None)
    apply_migrations(con, target=2)
    con.execute(
        "CREATE TABLE IF NOT EXISTS api_tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL, "
        "role TEXT NOT NULL, token_sha256 TEXT NOT NULL UNIQUE, created_ns INTEGER NOT NULL, "
        "last_used_ns INTEGER, revoked_ns INTEGER)"
    )
    con.execute("INSERT INTO api_tokens VALUES ('t1', 'w', 'wearer', 'abc', 5, NULL, NULL)")
    con.close()
    with EventStore(path) as s:
        assert s.version == LATEST_VERSION
        assert s.integrity_check() == "ok"
        rows = s._query("SELECT id, role, wearer_id FROM api_tokens")
        assert rows == [("t1", "wearer", "default")]
        assert [w.id for w in s.wearers()] == ["default"]
