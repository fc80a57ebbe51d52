"""Behaviour of the endpoints on a real SQLite store and a real recording folder."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from swapi_fixtures import EMG, T0, S

pytestmark = []


def test_episodes_filter_by_time_type_severity_source(env):
    h = env.h("clinician")
    all_ = env.client.get("/api/episodes", headers=h).json()
    assert all_["count"] == 3
    day1 = env.client.get(
        "/api/episodes", headers=h, params={"start": str(T0), "end": str(T0 + 86_400 * S)}
    ).json()
    assert [e["type"] for e in day1["episodes"]] == ["tonic", "clonic"]
    iso = env.client.get(
        "/api/episodes",
        headers=h,
        params={"start": "2026-03-02T08:30:00Z", "end": "2026-03-02T12:00:00+00:00"},
    ).json()
    assert [e["type"] for e in iso["episodes"]] == ["clonic"]
    typed = env.client.get(
        "/api/episodes", headers=h, params=[("type", "mixed"), ("type", "clonic")]
    )
    assert sorted(e["type"] for e in typed.json()["episodes"]) == ["clonic", "mixed"]
    sev = env.client.get("/api/episodes", headers=h, params={"min_severity": "moderate"}).json()
    assert sorted(e["severity"] for e in sev["episodes"]) == ["moderate", "severe"]
    src = env.client.get("/api/episodes", headers=h, params={"source": "self-report"}).json()
    assert [e["type"] for e in src["episodes"]] == ["mixed"]
    one = env.client.get(f"/api/episodes/{env.episode_ids[0]}", headers=h).json()
    assert one["peak_intensity"] == 6.0 and one["recording_id"] == env.recording_id


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"start": "yesterday"}, "'start'"),
        ({"start": str(T0 + S), "end": str(T0)}, "'end'"),
        ({"type": "wobbly"}, "'type'"),
        ({"min_severity": "extreme"}, "min_severity"),
        ({"limit": "0"}, "limit"),
        ({"start": "-5"}, "'start'"),
        ({"start": "99999999999999999999999"}, "'start'"),
    ],
)
def test_bad_query_gets_422_with_message(env, params, needle):
    r = env.client.get("/api/episodes", headers=env.h("clinician"), params=params)
    assert r.status_code == 422
    assert needle in json.dumps(r.json())


def test_unknown_ids_are_404(env):
    h = env.h("researcher")
    assert env.client.get("/api/episodes/nope", headers=h).status_code == 404
    assert env.client.get("/api/recordings/nope", headers=h).status_code == 404
    assert (
        env.client.patch("/api/labels/nope", headers=h, json={"type": "tonic"}).status_code == 404
    )
    assert env.client.delete("/api/labels/nope", headers=h).status_code == 404
    r = env.client.post(
        "/api/prompts/nope/outcome", headers=env.h("wearer"), json={"outcome": "done"}
    )
    assert r.status_code == 404 and r.json()["error"] == "NotFoundError"


def test_daily_and_hourly_summaries(env):
    h = env.h("clinician")
    d = env.client.get(
        "/api/summary/daily",
        headers=h,
        params={"start": str(T0 - 8 * 3600 * S), "end": str(T0 + 2 * 86_400 * S), "tz": "UTC"},
    ).json()
    counts = {b["label"]: b["n"] for b in d["buckets"]}
    assert counts["2026-03-02"] == 2 and counts["2026-03-03"] == 1
    hr = env.client.get(
        "/api/summary/hourly",
        headers=h,
        params={"start": str(T0), "end": str(T0 + 3 * 3600 * S), "tz": "Europe/Berlin"},
    ).json()
    assert [b["n"] for b in hr["buckets"]] == [1, 1, 0]
    assert hr["buckets"][0]["label"].startswith("2026-03-02T09:00")
    bad = env.client.get("/api/summary/daily", headers=h, params={"tz": "Mars/Olympus"})
    assert bad.status_code == 422 and "tz" in bad.json()["detail"]


def test_recordings_list_detail_and_decimated_signal(env):
    h = env.h("researcher")
    lst = env.client.get("/api/recordings", headers=h).json()
    assert [r["id"] for r in lst["recordings"]] == [env.recording_id]
    det = env.client.get(f"/api/recordings/{env.recording_id}", headers=h).json()
    keys = {s["key"]: s for s in det["streams"]}
    assert set(keys) == {"myo.emg", "myo.acc"}
    assert keys["myo.emg"]["gaps"][0]["cause"] == "packet_loss"
    r = env.client.get(
        f"/api/recordings/{env.recording_id}/signal",
        headers=h,
        params={"stream": "myo.emg", "buckets": 120},
    ).json()
    assert len(r["edges_ns"]) == 121 and len(r["channels"]) == 2
    c1 = r["channels"][0]
    # a 1 s bucket holds 200 samples; the burst (30-40 s) is ~20x the noise
    assert sum(r["counts"]) == 118 * 200
    quiet = np.nanmax(np.abs(np.array(c1["max"][:30], dtype=float)))
    loud = np.nanmax(np.abs(np.array(c1["max"][30:40], dtype=float)))
    assert loud > 8 * quiet
    # the 2 s gap at 60 s is empty: null, not invented values
    assert c1["min"][60] is None and c1["max"][61] is None and r["counts"][60] == 0
    assert r["gaps"][0]["n_missing"] == 400
    # the reader and the endpoint agree with numpy on one bucket
    from spasmwatch.store import open_recording

    rec = open_recording(env.data_dir / "rec1")
    _, x = rec.read("myo.emg", T0 + 5 * S, T0 + 6 * S)
    assert c1["min"][5] == pytest.approx(float(x[:, 0].min()), abs=1e-5)
    assert c1["max"][5] == pytest.approx(float(x[:, 0].max()), abs=1e-5)
    bad = env.client.get(
        f"/api/recordings/{env.recording_id}/signal", headers=h, params={"stream": "polar.ecg"}
    )
    assert bad.status_code == 422 and "myo.emg" in bad.json()["detail"]
    big = env.client.get(
        f"/api/recordings/{env.recording_id}/signal",
        headers=h,
        params={"stream": "myo.emg", "buckets": 10**6},
    )
    assert big.status_code == 422


def test_labels_crud_and_false_alarm(env):
    h = env.h("researcher")
    body = {
        "start_ns": T0 + 31 * S,
        "end_ns": T0 + 38 * S,
        "type": "tonic",
        "recording_id": env.recording_id,
    }
    created = env.client.post("/api/labels", headers=h, json=body)
    assert created.status_code == 201
    lab = created.json()
    assert lab["labeler"] == "researcher-1" and lab["origin"] == "researcher"
    edited = env.client.patch(f"/api/labels/{lab['id']}", headers=h, json={"type": "clonic"})
    assert edited.json()["type"] == "clonic" and edited.json()["start_ns"] == T0 + 31 * S
    listed = env.client.get(
        "/api/labels", headers=h, params={"recording_id": env.recording_id}
    ).json()
    assert [x["type"] for x in listed["labels"]] == ["clonic"]
    inverted = env.client.patch(f"/api/labels/{lab['id']}", headers=h, json={"end_ns": T0})
    assert inverted.status_code == 422 and "end_ns" in inverted.json()["detail"]
    assert env.store.get_label(lab["id"]).type == "clonic"  # nothing stored was changed
    extra = env.client.post("/api/labels", headers=h, json={**body, "sneaky": 1})
    assert extra.status_code == 422
    assert env.client.delete(f"/api/labels/{lab['id']}", headers=h).status_code == 204
    assert lab["id"] not in [x.id for x in env.store.labels()]
    fa = env.client.post(f"/api/episodes/{env.episode_ids[0]}/false-alarm", headers=h)
    assert fa.status_code == 201 and fa.json()["is_false_alarm"] is True
    kept = env.client.get(
        "/api/episodes", headers=h, params={"exclude_false_alarms": "true"}
    ).json()
    assert env.episode_ids[0] not in [e["id"] for e in kept["episodes"]]


def test_diary_crud_by_wearer(env):
    h = env.h("wearer")
    r = env.client.post(
        "/api/diary", headers=h, json={"kind": "stretching", "text": "calves", "dose": "10 min"}
    )
    assert r.status_code == 201
    entry = r.json()
    r2 = env.client.patch(f"/api/diary/{entry['id']}", headers=h, json={"dose": "15 min"})
    assert r2.json()["dose"] == "15 min" and r2.json()["text"] == "calves"
    kinds = [e["kind"] for e in env.client.get("/api/diary", headers=h).json()["entries"]]
    assert sorted(kinds) == ["medication", "stretching"]
    assert env.client.post("/api/diary", headers=h, json={"kind": "pizza"}).status_code == 422
    assert env.client.delete(f"/api/diary/{entry['id']}", headers=h).status_code == 204
    assert [e.kind for e in env.store.diary(wearer_id="alice")] == ["medication"]
    assert r.json()["wearer_id"] == "alice"  # the token's wearer, not a body field


def test_prompt_outcome_is_stored_and_published(env):
    h = env.h("wearer")
    r = env.client.post(
        f"/api/prompts/{env.prompt_id}/outcome", headers=h, json={"outcome": "done"}
    )
    assert r.status_code == 200 and r.json()["outcome"] == "done"
    assert env.store.get_prompt(env.prompt_id).outcome == "done"
    assert (
        env.client.post(
            f"/api/prompts/{env.prompt_id}/outcome", headers=h, json={"outcome": "maybe"}
        ).status_code
        == 422
    )
    started = env.client.post("/api/prompts", headers=h, json={}).json()
    assert started["reason"] == "on_demand" and started["outcome"] == "pending"
    listed = env.client.get("/api/prompts", headers=env.h("clinician")).json()
    assert listed["count"] == 2


def test_exports_csv_parquet_fhir(env):
    h = env.h("clinician")
    r = env.client.get("/api/export/episodes.csv", headers=h)
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [x["type"] for x in rows] == ["tonic", "clonic", "mixed"]
    assert rows[0]["start_utc"] == "2026-03-02T08:00:30.000Z" and rows[0]["duration_s"] == "10.0"
    p = env.client.get("/api/export/episodes.parquet", headers=h, params={"type": "tonic"})
    table = pq.read_table(io.BytesIO(p.content))
    assert table.num_rows == 1 and table.column("severity").to_pylist() == ["severe"]
    b = env.client.get("/api/export/fhir", headers=h).json()
    assert b["resourceType"] == "Bundle" and b["type"] == "collection" and len(b["entry"]) == 3
    obs = b["entry"][0]["resource"]
    assert obs["resourceType"] == "Observation" and obs["status"] == "preliminary"
    assert {"system": "http://snomed.info/sct", "code": "45352006", "display": "Spasm"} in obs[
        "code"
    ]["coding"]
    assert obs["effectivePeriod"] == {
        "start": "2026-03-02T08:00:30.000Z",
        "end": "2026-03-02T08:00:40.000Z",
    }
    comp = {c["code"]["coding"][0]["code"]: c for c in obs["component"]}
    assert comp["spasm-type"]["valueCodeableConcept"]["coding"][0]["code"] == "tonic"
    assert comp["severity"]["valueCodeableConcept"]["coding"][0]["code"] == "severe"
    assert comp["duration"]["valueQuantity"] == {
        "value": 10.0,
        "unit": "s",
        "system": "http://unitsofmeasure.org",
        "code": "s",
    }
    assert b["entry"][2]["resource"]["status"] == "final"  # self-report


def test_edf_export_has_signals_and_annotations(env, tmp_path):
    import pyedflib

    r = env.client.get(
        f"/api/recordings/{env.recording_id}/export.edf", headers=env.h("researcher")
    )
    assert r.status_code == 200
    path = tmp_path / "x.edf"
    path.write_bytes(r.content)
    with pyedflib.EdfReader(str(path)) as f:
        labels = f.getSignalLabels()
        assert labels == ["emg c1", "emg c2", "acc x", "acc y", "acc z"]
        assert f.getSampleFrequency(0) == 200
        x = f.readSignal(0)
        onsets, durations, texts = f.readAnnotations()
    from spasmwatch.store import open_recording

    _, data = open_recording(env.data_dir / "rec1").read("myo.emg")
    step = (x.max() - x.min()) / 65535
    assert np.allclose(x[: 60 * 200], data[: 60 * 200, 0], atol=step)
    texts = list(texts)
    assert any(s.startswith("spasm tonic severe") for s in texts)
    gi = next(i for i, s in enumerate(texts) if s.startswith("gap myo.emg"))
    assert onsets[gi] == pytest.approx(60.0) and durations[gi] == pytest.approx(2.0)
    assert EMG.rate_hz == 200


def test_openapi_and_pages(env):
    schema = env.client.get("/openapi.json").json()
    assert "/api/recordings/{recording_id}/signal" in schema["paths"]
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for page in ("/", "/live", "/timeline", "/recordings", f"/recordings/{env.recording_id}"):
        r = env.client.get(page)
        assert r.status_code == 200 and "<html" in r.text
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["referrer-policy"] == "no-referrer"
        # no CDN: every script and stylesheet is served by us
        assert "http://" not in r.text and "https://" not in r.text
    assert env.client.get("/static/recording.js").status_code == 200
    assert env.client.get("/static/../_app.py").status_code == 404
