"""Insights from a real store, and the `insights` / `diary` commands."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from spasmwatch._insights import compute_insights, format_insights
from spasmwatch.cli import main
from spasmwatch.episodes import Episode, Label
from spasmwatch.store import (
    DiaryEntry,
    EventStore,
    Followup,
    Prompt,
    RecordingInfo,
    SignalLoss,
)

S = 1_000_000_000
TZ = ZoneInfo("Europe/Berlin")
# period: 28 days ending 2024-06-29 00:00 Berlin (no DST change inside)
END = int(dt.datetime(2024, 6, 29, tzinfo=TZ).timestamp()) * S
DAY0 = dt.date(2024, 6, 1)


def at(day: int, hh: int, mm: int = 0) -> int:
    d = DAY0 + dt.timedelta(days=day)
    return int(dt.datetime(d.year, d.month, d.day, hh, mm, tzinfo=TZ).timestamp()) * S


def _ep(i: int, t: int) -> Episode:
    return Episode(
        id=f"e{i}", start_ns=t, end_ns=t + 20 * S, type="tonic", severity=2, confidence=0.9
    )


def _fill(path):
    with EventStore(path) as s:
        eps = []
        for d in range(28):
            # two at 14:xx every day, one at 09:30 (within 3 h of the 08:00 stretching)
            eps += [at(d, 14, 5), at(d, 14, 40), at(d, 9, 30)]
        s.add_episodes(_ep(i, t) for i, t in enumerate(eps))
        for d in range(28):
            s.add_diary(DiaryEntry(f"st{d}", at(d, 8), "stretching", "calves"))
        s.add_diary(DiaryEntry("heat0", at(3, 20), "heat", "warm bath"))
        s.add_diary(DiaryEntry("med0", at(3, 7), "medication", "baclofen", dose="10 mg"))
        for k in range(24):
            outcome = "done" if k % 2 == 0 else ("dismissed" if k % 4 == 1 else "ignored")
            fu = Followup(1800, 2, 0 if outcome == "done" else 1, 40.0, 5.0 * (k % 2) + 1, 0, 0)
            s.add_prompt(
                Prompt(
                    f"p{k}", at(k, 14, 6), "episode_onset", "paced-6", outcome=outcome, followup=fu
                )
            )
        # a false alarm is not counted; neither are another wearer's episodes
        s.add_episode(Episode(id="fa", start_ns=at(5, 3), end_ns=at(5, 3) + S))
        s.add_label(Label("l", at(5, 3), at(5, 3) + S, episode_id="fa", is_false_alarm=True))
        s.add_episode(Episode(id="other", start_ns=at(5, 3), end_ns=at(5, 3) + S, wearer_id="x"))
    return path


@pytest.fixture
def db(tmp_path):
    return _fill(tmp_path / "e.db")


def test_hour_and_weekday_counts_with_exposure(db):
    with EventStore(db) as s:
        ins = compute_insights(s, days=28, now_ns=END, tz=TZ)
    assert ins["episodes"]["n"] == 84 and ins["episodes"]["hours"] == 28 * 24
    hours = {r["hour"]: r for r in ins["by_hour"]}
    assert hours[14]["n"] == 56 and hours[9]["n"] == 28 and hours[3]["n"] == 0
    assert all(r["hours"] == 28 for r in ins["by_hour"])
    assert hours[14]["rate"] == pytest.approx(2.0)
    assert sum(r["hours"] for r in ins["by_weekday"]) == 28 * 24
    assert all(r["n"] == 12 for r in ins["by_weekday"])  # 4 weeks x 3 a day


def test_after_diary_rates_with_counts_and_small_n_note(db):
    with EventStore(db) as s:
        ins = compute_insights(s, days=28, now_ns=END, tz=TZ, window_h=3)
    rows = {r["kind"]: r for r in ins["after_diary"]}
    st = rows["stretching"]
    assert st["entries"] == 28
    assert (st["n_after"], st["hours_after"]) == (28, 84)  # 09:30 falls in 08:00-11:00
    assert (st["n_other"], st["hours_other"]) == (56, 28 * 24 - 84)
    assert st["rate_after"] == pytest.approx(28 / 84)
    assert st["ratio"] == pytest.approx((28 / 84) / (56 / 588))
    assert "x your rate at other times" in st["note"]
    assert rows["heat"]["n_after"] == 0 and rows["heat"]["note"].startswith("too few to compare")
    assert rows["medication"]["entries"] == 1
    assert "too few" in rows["medication"]["note"]
    assert set(rows) == {"stretching", "heat", "medication"}


def test_prompt_groups(db):
    with EventStore(db) as s:
        ins = compute_insights(s, days=28, now_ns=END, tz=TZ)
    done, other = ins["after_prompts"]["groups"]
    assert (done["group"], done["prompts"], other["prompts"]) == ("done", 12, 12)
    assert done["mean_episodes_after"] == 0 and other["mean_episodes_after"] == 1
    assert done["mean_active_s_after"] == 1 and other["mean_active_s_after"] == 6
    assert done["hours_after"] == 6.0
    assert ins["after_prompts"]["window_s"] == 1800
    assert "completed exercises: 1 s" in ins["after_prompts"]["note"]
    with EventStore(db) as s:
        few = compute_insights(s, days=28, now_ns=END, tz=TZ, min_n=13)
    assert few["after_prompts"]["note"].startswith("too few to compare")


def test_text_output_is_readable(db):
    with EventStore(db) as s:
        text = format_insights(compute_insights(s, days=28, now_ns=END, tz=TZ))
    assert "Episodes: 84 episodes — no wear time recorded" in text
    assert "84 in 672 calendar h" in text and "rates are per calendar hour" in text
    assert "  14:00    56 in    28 h" in text
    assert "stretching  28 entries" in text
    assert "associations, not causes" in text
    assert all(len(line) <= 110 for line in text.splitlines())


def _wear_db(path):
    """Three days from Sat 2024-06-01 (Berlin). Recordings 08:00-18:00 on days 0 and 1 and
    08:00-10:00 on day 2, a signal loss 12:00-13:00 on day 0; wear-time rows: day 0 4.5 h
    usable (half of its 9 covered hours), day 1 10 h, day 2 none (its recording counts)."""
    with EventStore(path) as s:
        for d, (a, b) in enumerate([(8, 18), (8, 18), (8, 10)]):
            s.upsert_recording(RecordingInfo(f"r{d}", f"/nowhere/r{d}", at(d, a), at(d, b)))
        s.upsert_signal_loss(SignalLoss("l0", "myo", "emg", at(0, 12), at(0, 13)))
        s.add_wear_time("default", DAY0, "myo", 9 * 3600.0, 4.5 * 3600.0)
        s.add_wear_time("default", DAY0 + dt.timedelta(days=1), "myo", 11 * 3600.0, 10 * 3600.0)
        eps = [at(0, 9, 30), at(0, 9, 40), at(1, 9, 30), at(1, 15), at(2, 9, 15)]
        s.add_episodes(_ep(i, t) for i, t in enumerate(eps))
        s.add_diary(DiaryEntry("st", at(1, 8), "stretching", "calves"))
        fu = Followup(1800, 0, 1, 0.0, 20.0)
        s.add_prompt(Prompt("p", at(0, 9), "episode_onset", "paced-6", outcome="done", followup=fu))
    return path


def test_rates_are_per_hour_of_usable_wear(tmp_path):
    db = _wear_db(tmp_path / "w.db")
    with EventStore(db) as s:
        ins = compute_insights(s, days=3, now_ns=at(3, 0), tz=TZ, min_n=1)
    p, e = ins["period"], ins["episodes"]
    assert p["rate_basis"] == e["rate_basis"] == "usable_wear" and ins["rate_note"] is None
    # 4.5 h + 10 h + 2 h (recording, no row)
    assert e["wear_hours"] == pytest.approx(16.5) and p["usable_wear_hours"] == pytest.approx(16.5)
    assert e["rate"] == pytest.approx(5 / 16.5) and e["hours"] == 72
    assert e["low_wear"]  # 16.5 h in 3 days: under 10 h a day
    assert e["text"] == (
        "5 episodes in 16.5 h worn over 3 days — low wear (under 10 h a day on average), "
        "interpret with care"
    )
    assert (p["local_days"], p["valid_days"]) == (3, 1)
    assert [d["date"] for d in p["low_wear_days"]] == ["2024-06-01", "2024-06-03"]
    hours = {r["hour"]: r for r in ins["by_hour"]}
    # 09:00: half of day 0's covered hour, all of day 1's and day 2's
    assert hours[9]["wear_hours"] == pytest.approx(2.5) and hours[9]["hours"] == 3
    assert (hours[9]["n"], hours[9]["rate"]) == (4, pytest.approx(4 / 2.5))
    assert hours[12]["wear_hours"] == pytest.approx(1.0)  # day 0 lost 12:00-13:00
    assert hours[15]["wear_hours"] == pytest.approx(1.5) and hours[15]["n"] == 1
    assert hours[20]["wear_hours"] == 0 and hours[20]["rate"] is None and hours[20]["low_wear"]
    # an hour-of-day slot of 3 days needs 3 x 10 / 24 = 1.25 h of wear
    assert not hours[9]["low_wear"] and hours[12]["low_wear"]
    days = {r["day"]: r for r in ins["by_weekday"]}
    assert days["Sat"]["wear_hours"] == pytest.approx(4.5) and days["Sat"]["low_wear"]
    assert days["Sun"]["wear_hours"] == pytest.approx(10) and not days["Sun"]["low_wear"]
    assert days["Mon"]["n"] == 1 and days["Tue"]["wear_hours"] == 0
    st = ins["after_diary"][0]
    assert (st["n_after"], st["hours_after"], st["wear_hours_after"]) == (1, 3, 3)
    assert (st["n_other"], st["wear_hours_other"]) == (4, pytest.approx(13.5))
    assert st["rate_after"] == pytest.approx(1 / 3) and st["rate_other"] == pytest.approx(4 / 13.5)
    done = ins["after_prompts"]["groups"][0]
    assert done["hours_after"] == 0.5
    assert done["wear_hours_after"] == pytest.approx(0.25)
    assert done["wear_hours_before"] == pytest.approx(0.25)
    text = format_insights(ins)
    assert "Episodes: 5 episodes in 16.5 h worn over 3 days — low wear" in text
    assert "worn days (at least 10 h usable): 1 of 3" in text
    assert "low wear on 2024-06-01 (4.5 h), 2024-06-03 (2.0 h)" in text
    assert "  09:00     4 in   2.5 h worn" in text and "1.60/h worn" in text
    assert "  Sat     2 in   4.5 h worn (low wear)" in text
    assert "1 episodes in 3.0 h worn (0.33/h worn)" in text
    assert "other times: 4 episodes in 13.5 h worn" in text
    assert "0.5 h after the prompts, 0.2 h of it worn" in text
    assert all(len(line) <= 110 for line in text.splitlines())


def test_a_two_hour_day_is_flagged_low_wear(tmp_path):
    with EventStore(tmp_path / "e.db") as s:
        s.add_wear_time("default", DAY0, "myo", 3 * 3600.0, 2 * 3600.0)
        s.add_episodes([_ep(0, at(0, 9)), _ep(1, at(0, 10)), _ep(2, at(0, 11))])
        ins = compute_insights(s, days=1, now_ns=at(1, 0), tz=TZ)
    e = ins["episodes"]
    assert (e["n"], e["usable_s"], e["low_wear"]) == (3, 7200.0, True)
    assert (
        e["text"] == "3 episodes in 2.0 h worn — low wear (under 10 h a day), interpret with care"
    )
    # no recording indexed: the day's 2 h are spread over its 24 hours
    assert all(r["wear_hours"] == pytest.approx(2 / 24, abs=1e-3) for r in ins["by_hour"])
    assert all(r["low_wear"] for r in ins["by_hour"])
    text = format_insights(ins)
    assert "3 episodes in 2.0 h worn — low wear (under 10 h a day)" in text
    assert "low wear on 2024-06-01 (2.0 h)" in text


def test_empty_store_says_too_few(tmp_path):
    with EventStore(tmp_path / "e.db") as s:
        ins = compute_insights(s, days=7, now_ns=END, tz="UTC")
    assert ins["episodes"]["note"].startswith("too few to compare")
    assert ins["after_diary"] == []
    assert "no diary entries" in format_insights(ins)


def test_insights_cli_json_and_text(db, capsys):
    argv = [
        "insights",
        "--db",
        str(db),
        "--days",
        "28",
        "--tz",
        "Europe/Berlin",
        "--until",
        "2024-06-29T00:00",
    ]
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["episodes"]["n"] == 84 and data["tz"] == "Europe/Berlin"
    assert main(argv) == 0
    assert "By hour of day" in capsys.readouterr().out


def test_insights_cli_missing_db(tmp_path, capsys):
    assert main(["insights", "--db", str(tmp_path / "none.db")]) == 1
    assert "no event store" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()


def test_diary_cli_add_list_delete(tmp_path, capsys):
    db = str(tmp_path / "d.db")
    assert (
        main(
            [
                "diary",
                "add",
                "--db",
                db,
                "--kind",
                "medication",
                "--text",
                "baclofen",
                "--dose",
                "10 mg",
                "--at",
                "2024-06-03T08:00",
                "--tz",
                "Europe/Berlin",
                "--json",
            ]
        )
        == 0
    )
    entry = json.loads(capsys.readouterr().out)
    assert entry["text"] == "baclofen" and entry["dose"] == "10 mg"
    assert entry["t_ns"] == at(2, 8)
    assert main(["diary", "add", "--db", db, "--kind", "stretching", "--text", "calves"]) == 0
    assert "recorded stretching" in capsys.readouterr().out
    assert main(["diary", "list", "--db", db, "--days", "100000", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [e["kind"] for e in listed] == ["stretching", "medication"]  # newest first
    assert main(["diary", "list", "--db", db, "--days", "100000", "--kind", "medication"]) == 0
    out = capsys.readouterr().out
    assert "baclofen 10 mg" in out and "calves" not in out
    assert main(["diary", "delete", "--db", db, entry["id"]]) == 0
    capsys.readouterr()
    assert main(["diary", "delete", "--db", db, entry["id"]]) == 1
    assert "no diary entry" in capsys.readouterr().err
    assert main(["diary", "add", "--db", db, "--kind", "note", "--at", "yesterday"]) == 1
    assert "not ISO 8601" in capsys.readouterr().err


def test_default_paths_follow_environment(tmp_path, monkeypatch):
    from spasmwatch._paths import data_home, default_db_path

    monkeypatch.setenv("SPASMWATCH_HOME", str(tmp_path / "sw"))
    assert default_db_path() == tmp_path / "sw" / "spasmwatch.db"
    monkeypatch.delenv("SPASMWATCH_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_home() == tmp_path / "xdg" / "spasmwatch"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_home() == tmp_path / "home" / ".local" / "share" / "spasmwatch"
