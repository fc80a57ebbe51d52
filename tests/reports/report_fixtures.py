"""A hand-built store whose summary numbers are worked out by hand in the tests (the
``store`` fixture is in ``conftest.py``)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from spasmwatch.episodes import Episode, Label
from spasmwatch.store import DiaryEntry, EventStore, Wearer

S = 10**9
TZ = ZoneInfo("Europe/Berlin")
D0 = dt.date(2024, 6, 3)  # Monday; the range is D0..D0+2 (no DST change)
W = "w1"


def at(day: int, hh: int, mm: int = 0, ss: int = 0) -> int:
    d = D0 + dt.timedelta(days=day)
    return int(dt.datetime(d.year, d.month, d.day, hh, mm, ss, tzinfo=TZ).timestamp()) * S


def ep(
    id_: str,
    t: int,
    dur_s: int,
    typ: str,
    sev: int,
    peak: float,
    source: str = "auto",
    wearer: str = W,
) -> Episode:
    return Episode(id_, t, t + dur_s * S, typ, peak, sev, 0.9, source, wearer_id=wearer)


def fill(store: EventStore) -> None:
    store.upsert_wearer(Wearer(W, "P-07", "Jo Example", 1))
    store.add_episodes(
        [
            ep("a1", at(0, 9), 10, "tonic", 2, 4.0),
            ep("a2", at(0, 9, 30), 30, "clonic", 3, 8.0),
            ep("a3", at(0, 23), 20, "mixed", 1, 2.0),
            ep("a4", at(1, 2), 40, "tonic", 2, 6.0),
            ep("a5", at(1, 14), 2, "myoclonic", 1, 3.0),  # marked a false alarm below
            ep("s1", at(1, 15), 60, "unknown", 3, 0.0, source="self-report"),
            ep("r1", at(1, 16), 8, "clonic", 2, 0.0, source="researcher:ann"),
            ep("a6", at(2, 10), 20, "tonic", 2, 5.0),
            ep("x1", at(0, 12), 10, "tonic", 3, 9.0, wearer="someone-else"),
            ep("b0", at(-1, 12), 10, "tonic", 3, 9.0),  # the day before the range
        ]
    )
    store.add_label(
        Label(
            "fa",
            at(1, 14),
            at(1, 14) + 2 * S,
            episode_id="a5",
            wearer_id=W,
            is_false_alarm=True,
            origin="self-report",
        )
    )
    # a self-report 20 s after a1 ended: the same spasm, counted once
    store.add_label(
        Label(
            "sr",
            at(0, 9, 0, 30),
            at(0, 9, 0, 40),
            origin="self-report",
            labeler="wearer",
            wearer_id=W,
        )
    )
    # wear: day 0 two devices (best 20 h usable), day 1 18 h, day 2 5 h (not a worn day)
    store.add_wear_time(W, D0, "myo", 22 * 3600.0, 20 * 3600.0)
    store.add_wear_time(W, D0, "polar", 10 * 3600.0, 8 * 3600.0)
    store.add_wear_time(W, D0 + dt.timedelta(days=1), "myo", 19 * 3600.0, 18 * 3600.0)
    store.add_wear_time(W, D0 + dt.timedelta(days=2), "myo", 6 * 3600.0, 5 * 3600.0)
    store.add_diary(DiaryEntry("m1", at(0, 8), "medication", "baclofen", "10 mg", W))
    store.add_diary(DiaryEntry("st", at(1, 7, 45), "stretching", "calves", "15 min", W))
    store.add_diary(DiaryEntry("old", at(-1, 8), "medication", "baclofen", "10 mg", W))
