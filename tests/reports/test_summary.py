"""Summary numbers on a hand-built store, worked out by hand (see conftest.fill)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from report_fixtures import D0, TZ, W, at

from spasmwatch.cli import main
from spasmwatch.errors import ConfigError, NotFoundError
from spasmwatch.reports import clinical_summary
from spasmwatch.store import RecordingInfo, SignalLoss

S = 10**9
END = D0 + dt.timedelta(days=2)


def test_counts_rates_and_wear_are_exact(store):
    s = clinical_summary(store, W, D0, END, TZ, now_ns=at(3, 9))
    assert s.pseudonym == "P-07" and s.tz == "Europe/Berlin"
    # counted: a1 a2 a3 a4 s1 r1 a6; a5 is a false alarm; the self-report label merges into a1
    assert [e.id for e in s.episodes] == ["a1", "a2", "a3", "a4", "s1", "r1", "a6"]
    assert s.n_false_alarms_excluded == 1 and s.n_self_reports_merged == 1
    assert s.episodes[0].also_self_reported and not s.episodes[1].also_self_reported
    assert s.by_source == {
        "auto": 5,
        "labeled": 1,
        "self-report": 1,
        "self-report_merged_into_detected": 1,
    }
    # days: 3/3/1 spasms; usable 20 h (best device), 18 h, 5 h -> the last is not worn
    assert [d.n for d in s.days] == [3, 3, 1]
    assert [d.usable_s / 3600 for d in s.days] == [20, 18, 5]
    assert [d.worn_s / 3600 for d in s.days] == [22, 19, 6]
    assert [d.worn for d in s.days] == [True, True, False]
    assert [(d.n_auto, d.n_labeled, d.n_self_report) for d in s.days] == [
        (3, 0, 0),
        (1, 1, 1),
        (1, 0, 0),
    ]
    assert s.days[0].by_hour[9] == 2 and s.days[0].by_hour[23] == 1 and sum(s.days[0].by_hour) == 3
    assert s.n_worn_days == 2 and s.worn_days_usable_h == 38
    assert s.n_on_worn_days == 6 and s.per_worn_day == 3.0
    # nights (22:00-07:00, pro rata from daily wear): night of D0 = 2 h x 20/24 + 7 h x 18/24
    n0, n1 = s.nights
    assert n0.night_of == D0 and n0.n == 2 and n0.wear_source == "wear_time_pro_rata"
    assert n0.usable_s == pytest.approx((2 * 20 / 24 + 7 * 18 / 24) * 3600)
    assert n0.worn
    assert n1.n == 0 and n1.usable_s == pytest.approx((2 * 18 / 24 + 7 * 5 / 24) * 3600)
    assert not n1.worn
    assert s.n_worn_nights == 1 and s.per_worn_night == 2.0
    # durations of detected + labeled: 10 30 20 40 8 20 -> median 20, p90 35, total 128
    assert s.durations.n == 6 and s.durations.median_s == 20.0
    assert s.durations.p90_s == pytest.approx(35.0) and s.durations.total_s == 128.0
    assert s.intensity_median == 5.0 and s.intensity_n == 5  # 4 8 2 6 5
    assert s.type_counts == {"tonic": 3, "clonic": 2, "mixed": 1, "myoclonic": 0, "unknown": 1}
    assert s.type_percent()["tonic"] == pytest.approx(300 / 7)
    # PSFS-style: 6 spasms / 38 worn hours -> grade 2; severities 2 3 1 2 3 2 -> upper median 2
    assert s.psfs.n_spasms == 6 and s.psfs.rate_per_h == pytest.approx(6 / 38)
    assert s.psfs.frequency == 2 and s.psfs.severity == 2
    assert s.psfs.severity_counts == {1: 1, 2: 3, 3: 2}
    assert s.psfs_night.n_spasms == 2 and s.psfs_night.frequency == 2
    # diary: in range only, as written
    assert [(e.kind, e.text, e.dose) for e in s.diary] == [
        ("medication", "baclofen", "10 mg"),
        ("stretching", "calves", "15 min"),
    ]
    d = json.loads(json.dumps(s.to_dict()))
    assert d["headline"]["per_worn_day"] == 3.0 and d["headline"]["worn_days_usable_h"] == 38
    assert d["psfs"]["disclaimer"] == "PSFS-style, derived, not a clinical PSFS assessment"


def test_worn_day_threshold_moves_the_rates(store):
    s = clinical_summary(store, W, D0, END, TZ, min_worn_h=19, now_ns=at(3, 9))
    assert [d.worn for d in s.days] == [True, False, False]
    assert s.per_worn_day == 3.0 and s.psfs.rate_per_h == pytest.approx(3 / 20)


def test_default_worn_day_is_the_one_low_wear_rule(store):
    from spasmwatch.health import VALID_DAY_S, VALID_NIGHT_S, is_low_wear
    from spasmwatch.store import WearTime

    # day 1: exactly 10 h usable is a worn day; day 2: 2 h is low wear
    store.set_wear_time(WearTime(W, D0 + dt.timedelta(days=1), "myo", 11 * 3600.0, VALID_DAY_S))
    store.set_wear_time(WearTime(W, END, "myo", 3 * 3600.0, 2 * 3600.0))
    s = clinical_summary(store, W, D0, END, TZ, now_ns=at(3, 9))
    assert (s.min_worn_h, s.min_night_worn_h) == (VALID_DAY_S / 3600, VALID_NIGHT_S / 3600)
    assert [d.usable_s / 3600 for d in s.days] == [20, 10, 2]
    assert [d.worn for d in s.days] == [True, True, False]
    assert all(d.worn == (not is_low_wear(d.usable_s)) for d in s.days)
    assert s.to_dict()["days"][2]["worn"] is False
    store.set_wear_time(WearTime(W, D0 + dt.timedelta(days=1), "myo", 11 * 3600.0, 35_940.0))
    s = clinical_summary(store, W, D0, END, TZ, now_ns=at(3, 9))
    assert [d.worn for d in s.days] == [True, False, False]  # a minute short of 10 h


def test_wear_from_recordings_when_there_is_no_wear_time_log(tmp_path):
    from spasmwatch.store import EventStore

    with EventStore(tmp_path / "e.db") as st:
        d = dt.date(2024, 6, 10)
        t = int(dt.datetime(2024, 6, 10, tzinfo=TZ).timestamp()) * S
        st.upsert_recording(
            RecordingInfo("r1", "/nowhere/r1", t - 3 * 3600 * S, t + 12 * 3600 * S, W)
        )
        st.add_signal_loss(
            SignalLoss("l1", "myo", "*", t + 3600 * S, t + 2 * 3600 * S, wearer_id=W)
        )
        s = clinical_summary(st, W, d - dt.timedelta(days=1), d, TZ, now_ns=t + 86400 * S)
        day = s.days[1]
        assert day.wear_source == "recordings"
        assert day.worn_s == 12 * 3600 and day.usable_s == 11 * 3600 and day.worn
        night = s.nights[0]  # 22:00 the day before to 07:00: covered from 21:00 on
        assert night.wear_source == "recordings"
        assert night.usable_s == pytest.approx((9 - 1) * 3600)


def test_bad_input_is_refused(store):
    with pytest.raises(ConfigError, match="before start"):
        clinical_summary(store, W, END, D0, TZ)
    with pytest.raises(ConfigError, match="at most 400"):
        clinical_summary(store, W, D0, D0 + dt.timedelta(days=500), TZ)
    with pytest.raises(ConfigError, match="date"):
        clinical_summary(store, W, "June", END, TZ)
    with pytest.raises(NotFoundError):
        clinical_summary(store, "nobody", D0, END, TZ)


def test_report_command_text_json_pdf(store, tmp_path, capsys):
    db = str(store.path)
    args = [
        "report",
        "--db",
        db,
        "--wearer",
        W,
        "--from",
        str(D0),
        "--to",
        str(END),
        "--tz",
        "Europe/Berlin",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "spasms per worn day       3.0" in out and "PSFS-style, derived" in out
    assert "baclofen 10 mg" in out
    assert main([*args, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["headline"]["n_on_worn_days"] == 6
    assert main([*args, "--format", "pdf"]) == 1
    assert "--out" in capsys.readouterr().err
    pdf = tmp_path / "r.pdf"
    assert main([*args, "--format", "pdf", "--out", str(pdf)]) == 0
    assert pdf.read_bytes().startswith(b"%PDF")
