"""``/api/reports``: JSON and PDF for a clinician and the wearer, 401/403/404 otherwise."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from report_fixtures import D0, fill

from spasmwatch.api import create_app
from spasmwatch.api._auth import iter_routes
from spasmwatch.api._routes_reports import router
from spasmwatch.episodes import Episode
from spasmwatch.store import EventStore

Q = {"start": str(D0), "end": str(D0 + dt.timedelta(days=2)), "tz": "Europe/Berlin"}


@pytest.fixture
def api(tmp_path):
    db = tmp_path / "events.db"
    store = EventStore(db)
    fill(store)
    store.add_episode(Episode("other", 10**18, 10**18 + 10**9, wearer_id="w2"))
    app = create_app(db, data_dir=tmp_path, store=store)
    if not any(getattr(r, "path", "") == "/api/reports/pdf" for r in iter_routes(app)):
        app.include_router(router)  # until _app.py includes it
    t = app.state.tokens
    tokens = {
        "wearer": t.create("wearer", "w1-phone", wearer_id="w1")[0],
        "other-wearer": t.create("wearer", "w2-phone", wearer_id="w2")[0],
        "clinician": t.create("clinician", "dr-a")[0],
        "unassigned": t.create("clinician", "dr-b")[0],
        "researcher": t.create("researcher", "res-1")[0],
    }
    t.assign("dr-a", "w1")
    with TestClient(app) as client:
        yield client, tokens
    store.close()


def _h(tokens, who):
    return {"Authorization": f"Bearer {tokens[who]}"}


@pytest.mark.parametrize("who", ["wearer", "clinician"])
def test_allowed_roles_get_json_and_pdf(api, who):
    client, tokens = api
    q = dict(Q, wearer_id="w1") if who == "clinician" else Q
    r = client.get("/api/reports/summary", params=q, headers=_h(tokens, who))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["wearer_id"] == "w1" and body["headline"]["per_worn_day"] == 3.0
    assert body["psfs"]["frequency"] == 2
    assert [d["text"] for d in body["diary"]] == ["baclofen", "calves"]
    r = client.get("/api/reports/pdf", params=q, headers=_h(tokens, who))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    assert (
        'filename="spasmwatch-P-07-2024-06-03-2024-06-05.pdf"' in r.headers["content-disposition"]
    )


@pytest.mark.parametrize("path", ["/api/reports/summary", "/api/reports/pdf"])
def test_others_are_refused(api, path):
    client, tokens = api
    q = dict(Q, wearer_id="w1")
    assert client.get(path, params=q).status_code == 401
    assert client.get(path, params=q, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get(path, params=q, headers=_h(tokens, "researcher")).status_code == 403
    # another wearer, or a clinician w1 is not assigned to: as if w1 did not exist
    assert client.get(path, params=q, headers=_h(tokens, "other-wearer")).status_code == 404
    assert client.get(path, params=q, headers=_h(tokens, "unassigned")).status_code == 404


def test_bad_dates_are_4xx(api):
    client, tokens = api
    h = _h(tokens, "wearer")
    r = client.get("/api/reports/summary", params={"start": "June"}, headers=h)
    assert r.status_code == 422
    r = client.get(
        "/api/reports/summary", params={"start": "2024-06-05", "end": "2024-06-01"}, headers=h
    )
    assert 400 <= r.status_code < 500


@pytest.mark.parametrize(
    "q",
    [
        {"end": "0001-01-01"},  # the default start, 29 days earlier, is no date
        {"start": "9999-12-01", "end": "9999-12-31"},  # beyond int64 ns
        {"start": "1969-12-31", "end": "1970-01-05"},
    ],
)
@pytest.mark.parametrize("path", ["/api/reports/summary", "/api/reports/pdf"])
def test_days_outside_the_storable_range_are_refused_not_500(api, path, q):
    client, tokens = api
    r = client.get(path, params=q, headers=_h(tokens, "wearer"))
    assert 400 <= r.status_code < 500, r.text
    assert "must lie between 1970-02-01 and 2261-12-31" in r.text
