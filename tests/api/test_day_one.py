"""Self-report, sensor placement and wear time next to every count, through the API on a
real SQLite store."""

from __future__ import annotations

import csv
import io

from swapi_fixtures import T0, A, S

from spasmwatch.health import format_count_with_wear, is_low_wear


def test_log_a_spasm_now_becomes_episode_label_and_report(env):
    h = env.h("wearer")
    r = env.client.post(
        "/api/self-reports",
        headers=h,
        json={
            "t_ns": T0 + 5000 * S,
            "duration_s": 12,
            "severity": 3,
            "body_site": "gastrocnemius-left",
            "trigger": "other",
            "trigger_text": "after the long drive",
        },
    )
    assert r.status_code == 201, r.text
    out = r.json()
    ep = env.store.get_episode(out["episode"]["id"])
    assert ep.source == "self-report" and ep.wearer_id == A and ep.severity == "severe"
    assert ep.duration_s == 12 and ep.placement == "gastrocnemius-left"
    labels = env.store.labels(origin="self-report")
    assert [lb.episode_id for lb in labels] == [ep.id]
    assert labels[0].labeler == "wearer" and not labels[0].is_false_alarm
    assert env.store.labels(origin="researcher", episode_id=ep.id) == []  # kept apart
    rep = env.store.self_reports(wearer_ids=[A])
    assert [(x.kind, x.trigger, x.trigger_text) for x in rep] == [
        ("logged", "other", "after the long drive")
    ]
    # defaults: now, severity unknown (stored as mild on the episode, None on the report)
    r2 = env.client.post("/api/self-reports", headers=h, json={"severity": "moderate"})
    assert r2.status_code == 201
    assert abs(r2.json()["episode"]["start_ns"] - r2.json()["self_report"]["t_ns"]) == 0
    bad = env.client.post("/api/self-reports", headers=h, json={"trigger": "moonlight"})
    assert bad.status_code == 422 and "trigger" in bad.text
    bad = env.client.post("/api/self-reports", headers=h, json={"severity": 5})
    assert bad.status_code == 422
    # the clinician sees the report with its free text; the researcher without it
    clin = env.client.get("/api/self-reports", headers=env.h("clinician")).json()
    assert clin["self_reports"][0]["trigger_text"] == "after the long drive"
    res = env.client.get("/api/self-reports", headers=env.h("researcher")).json()
    first = res["self_reports"][0]
    assert first["trigger_text"] is None and first["withheld"] == ["trigger_text"]
    assert first["trigger"] == "other" and first["wearer_id"].startswith("S-A-")
    assert "long drive" not in str(res)


def test_was_that_a_spasm_answers_become_self_report_labels(env):
    h = env.h("wearer")
    ep = env.episode_ids[0]
    yes = env.client.post(f"/api/episodes/{ep}/confirm", headers=h, json={"answer": "yes"})
    assert yes.status_code == 201
    lab = env.store.labels(origin="self-report", episode_id=ep)
    assert len(lab) == 1 and not lab[0].is_false_alarm
    # changing one's mind replaces the answer (one current answer per wearer and episode)
    no = env.client.post(f"/api/episodes/{ep}/confirm", headers=h, json={"answer": "no"})
    assert no.status_code == 201
    lab = env.store.labels(origin="self-report", episode_id=ep)
    assert len(lab) == 1 and lab[0].is_false_alarm
    kept = env.client.get(
        "/api/episodes", headers=h, params={"exclude_false_alarms": "true"}
    ).json()
    assert ep not in [e["id"] for e in kept["episodes"]]
    unsure = env.client.post(f"/api/episodes/{ep}/confirm", headers=h, json={"answer": "not_sure"})
    assert unsure.status_code == 201 and unsure.json()["label"] is None
    assert env.store.labels(origin="self-report", episode_id=ep) == []  # no ground truth
    answers = env.store.self_reports(episode_id=ep)
    assert [a.answer for a in answers] == ["not_sure"]
    assert (
        env.client.post(
            f"/api/episodes/{ep}/confirm", headers=h, json={"answer": "maybe"}
        ).status_code
        == 422
    )
    # a researcher cannot edit or delete the wearer's answer
    env.client.post(f"/api/episodes/{ep}/confirm", headers=h, json={"answer": "yes"})
    lab_id = env.store.labels(origin="self-report", episode_id=ep)[0].id
    rh = env.h("researcher")
    assert env.client.delete(f"/api/labels/{lab_id}", headers=rh).status_code == 409
    only_self = env.client.get("/api/labels", headers=rh, params={"origin": "self-report"})
    assert [x["id"] for x in only_self.json()["labels"]] == [lab_id]


def test_placement_is_stored_carried_and_filtered(env):
    h = env.h("clinician")
    all_ = env.client.get("/api/placements", headers=h).json()
    assert all_["placements"] == ["forearm_flexors-right", "gastrocnemius-left"]
    assert all_["periods"][0]["muscle"] == "gastrocnemius"
    left = env.client.get(
        "/api/episodes", headers=h, params={"placement": "gastrocnemius-left"}
    ).json()
    assert [e["id"] for e in left["episodes"]] == [env.episode_ids[0]]
    muscle = env.client.get("/api/episodes", headers=h, params={"placement": "gastrocnemius"})
    assert muscle.json()["count"] == 1
    both = env.client.get(
        "/api/episodes",
        headers=h,
        params=[("placement", "gastrocnemius"), ("placement", "forearm_flexors-right")],
    ).json()
    assert both["count"] == 2
    none = env.client.get("/api/episodes", headers=h, params={"placement": "quadriceps"})
    assert none.json()["count"] == 0  # bob's quadriceps episode is not the clinician's
    csv_rows = list(
        csv.DictReader(
            io.StringIO(
                env.client.get(
                    "/api/export/episodes.csv", headers=h, params={"placement": "gastrocnemius"}
                ).text
            )
        )
    )
    assert [r["placement"] for r in csv_rows] == ["gastrocnemius-left"]


def test_every_count_carries_its_wear_time(env):
    h = env.h("clinician")
    rng = {"start": str(T0 - 8 * 3600 * S), "end": str(T0 + 2 * 86_400 * S), "tz": "UTC"}
    d = env.client.get("/api/summary/daily", headers=h, params=rng).json()
    days = {b["label"]: b for b in d["buckets"]}
    mon, tue, wed = days["2026-03-02"], days["2026-03-03"], days["2026-03-04"]
    assert (mon["n"], mon["worn_s"], mon["usable_s"], mon["low_wear"]) == (
        2,
        14 * 3600.0,
        12 * 3600.0,
        False,
    )
    assert (tue["n"], tue["usable_s"], tue["low_wear"]) == (1, 2 * 3600.0, True)
    # a 2-hour day is flagged low wear, in the flag and in the one wording of health
    assert tue["text"] == "1 spasm in 2.0 h worn — low wear (under 10 h a day), interpret with care"
    assert mon["text"] == "2 spasms in 12.0 h worn (4.0 per 24 h worn)"
    assert wed["worn_s"] == 0 and wed["low_wear"]
    assert wed["text"] == "0 spasms — no wear time recorded, not comparable with other days"
    for day in (mon, tue, wed):
        assert day["text"] == format_count_with_wear(day["n"], day["usable_s"])
        assert day["low_wear"] == is_low_wear(day["usable_s"])
    assert d["min_valid_wear_s"] == 36_000
    hr = env.client.get(
        "/api/summary/hourly",
        headers=h,
        params={"start": str(T0), "end": str(T0 + 2 * 3600 * S), "tz": "UTC"},
    ).json()
    assert [(b["n"], b["day_usable_s"], b["low_wear"]) for b in hr["buckets"]] == [
        (1, 43_200.0, False),
        (1, 43_200.0, False),
    ]
    wk = env.client.get("/api/summary/weekly", headers=h, params=rng).json()
    assert [(b["label"], b["n"], b["usable_s"], b["low_wear_days"]) for b in wk["buckets"]] == [
        ("2026-W10", 3, 14 * 3600.0, 2)
    ]
    assert wk["buckets"][0]["low_wear"]  # 14 h in 3 days: under 10 h a day
    # the wearer of B: their own counts and wear, by default
    b = env.client.get("/api/summary/daily", headers=env.h("wearer_b"), params=rng).json()
    assert {x["label"]: x["usable_s"] for x in b["buckets"]}["2026-03-02"] == 19 * 3600.0
    # a researcher's summary names the wearer by pseudonym
    r = env.client.get("/api/summary/daily", headers=env.h("researcher"), params=rng).json()
    assert r["wearer_id"].startswith("S-A-")


def test_weekly_text_agrees_with_its_low_wear_flag(env):
    h = env.h("clinician")
    rng = {"start": str(T0 - 8 * 3600 * S), "end": str(T0 + 2 * 86_400 * S), "tz": "UTC"}
    wk = env.client.get("/api/summary/weekly", headers=h, params=rng).json()["buckets"][0]
    assert wk["low_wear"]
    assert wk["text"] == format_count_with_wear(3, 14 * 3600.0, days=wk["days"])
    assert "low wear (under 10 h a day on average)" in wk["text"]


def test_api_wear_helpers_delegate_to_health():
    from spasmwatch.api import MIN_VALID_WEAR_S
    from spasmwatch.api import format_count_with_wear as api_format
    from spasmwatch.api import is_low_wear as api_low
    from spasmwatch.api._wear import wear_fields
    from spasmwatch.health import VALID_DAY_S

    assert MIN_VALID_WEAR_S == VALID_DAY_S == 36_000
    assert api_low is is_low_wear
    for n, usable, days in ((3, 7200, 1), (3, 72_000, 1), (0, None, 1), (12, 50 * 3600, 7)):
        assert api_format(n, usable, days) == format_count_with_wear(n, usable, days=days)
    assert "low wear" in api_format(3, 7200) and "low wear" not in api_format(3, 72_000)
    assert is_low_wear(5 * 36_000, days=7) and not is_low_wear(7 * 36_000, days=7)
    f = wear_fields(1, 3 * 3600.0, 2 * 3600.0)
    assert f == {
        "n": 1,
        "worn_s": 3 * 3600.0,
        "usable_s": 2 * 3600.0,
        "low_wear": True,
        "rate_per_24h_worn": None,
        "text": "1 spasm in 2.0 h worn — low wear (under 10 h a day), interpret with care",
    }
    assert wear_fields(2, None, None)["low_wear"] is True


def test_columns_layout_holds_the_same_episodes(env):
    for who in ("clinician", "researcher"):
        h = env.h(who)
        rec = env.client.get("/api/episodes", headers=h).json()
        col = env.client.get("/api/episodes", headers=h, params={"layout": "columns"}).json()
        assert col["count"] == rec["count"] == 3
        rebuilt = [{k: v[i] for k, v in col["columns"].items()} for i in range(col["count"])]
        assert rebuilt == rec["episodes"]
    assert rebuilt[0]["wearer_id"].startswith("S-A-")  # researcher: pseudonyms here too
