"""The episode filter: the four episode routes share one set of query parameters
(``/api/episodes`` and the CSV, Parquet and FHIR exports) and must accept, reject and
apply them identically."""

from __future__ import annotations

import csv
import dataclasses
import io

import pyarrow.parquet as pq
import pytest
from swapi_fixtures import T0, A, B, S

from spasmwatch.api._filters import EpisodeFilter
from spasmwatch.errors import ConfigError

ROUTES = (
    "/api/episodes",
    "/api/export/episodes.csv",
    "/api/export/episodes.parquet",
    "/api/export/fhir",
)
#: the parameters every one of the four routes takes (``/api/episodes`` adds ``limit``,
#: ``exclude_false_alarms`` and ``layout``)
FILTER_PARAMS = ("start", "end", "type", "min_severity", "source", "wearer_id", "placement")


def _ids(route: str, r) -> list[str]:
    """Episode ids in a route's answer, in the answer's order."""
    if route == "/api/episodes":
        return [e["id"] for e in r.json()["episodes"]]
    if route.endswith(".csv"):
        return [row["id"] for row in csv.DictReader(io.StringIO(r.text))]
    if route.endswith(".parquet"):
        return pq.read_table(io.BytesIO(r.content)).column("id").to_pylist()
    return [e["resource"]["id"] for e in r.json()["entry"]]


BAD = [
    {"start": "yesterday"},
    {"end": "2026-13-01"},
    {"start": "-5"},
    {"start": str(2**63)},
    {"start": "99999999999999999999999"},
    {"start": str(T0 + S), "end": str(T0)},
    {"start": "2026-03-03T00:00:00Z", "end": "2026-03-02"},
    {"type": "wobbly"},
    {"type": ["tonic", "wobbly", ""]},
    {"type": ""},
    {"min_severity": "extreme"},
    {"min_severity": "3"},
    {"source": "x" * 201},
    {"wearer_id": "w" * 129},
    {"placement": ["calf"] * 201},
    # several bad values at once: the same one wins on every route
    {"start": "yesterday", "type": "wobbly", "min_severity": "extreme"},
    {"type": "wobbly", "min_severity": "extreme"},
    {"type": "wobbly", "wearer_id": "w" * 129},
    {"start": str(T0 + S), "end": str(T0), "source": "x" * 201},
    {"wearer_id": "nobody"},  # a wearer the caller cannot see: 404, not 422
    {"wearer_id": B},
]


@pytest.mark.parametrize("params", BAD, ids=lambda p: "&".join(f"{k}" for k in p))
def test_four_routes_reject_the_same_values_with_the_same_error(env, params):
    answers = [env.client.get(r, headers=env.h("clinician"), params=params) for r in ROUTES]
    bodies = [a.json() for a in answers]
    assert all(b == bodies[0] for b in bodies), bodies
    if "wearer_id" in params and len(params["wearer_id"]) < 129:
        assert {a.status_code for a in answers} == {404}
        assert bodies[0]["error"] == "NotFoundError"
    else:
        assert {a.status_code for a in answers} == {422}
        assert any(k in str(bodies[0]) for k in params)  # the message names a parameter


GOOD = [
    ({}, [0, 1, 2]),
    ({"start": str(T0), "end": str(T0 + 86_400 * S)}, [0, 1]),
    ({"start": "2026-03-02T08:30:00Z", "end": "2026-03-02T12:00:00+00:00"}, [1]),
    ({"start": "2026-03-02T08:30:00"}, [1, 2]),  # no offset: UTC
    ({"end": str(T0 + 35 * S)}, [0]),
    ({"start": str(T0 + 35 * S), "end": str(T0 + 35 * S)}, [0]),  # an instant inside it
    ({"type": ["mixed", "clonic"]}, [1, 2]),
    ({"min_severity": "moderate"}, [0, 2]),
    ({"source": "self-report"}, [2]),
    ({"source": "au*"}, [0, 1]),
    ({"wearer_id": A}, [0, 1, 2]),
    ({"placement": "gastrocnemius"}, [0]),
    ({"placement": ["forearm_flexors-right", "gastrocnemius-left"]}, [0, 1]),
    ({"placement": "quadriceps"}, []),
    ({"type": "tonic", "min_severity": "severe", "source": "auto", "wearer_id": A}, [0]),
    ({"start": "", "end": "", "min_severity": "mild"}, [0, 1, 2]),  # empty times: no bound
]


@pytest.mark.parametrize(("params", "want"), GOOD, ids=lambda p: str(p)[:40])
def test_four_routes_keep_the_same_episodes(env, params, want):
    expected = [env.episode_ids[i] for i in want]
    for route in ROUTES:
        r = env.client.get(route, headers=env.h("clinician"), params=params)
        assert r.status_code == 200, (route, r.text)
        assert _ids(route, r) == expected, route


def test_list_only_parameters_are_checked_before_the_filter_values(env):
    # a bad 'limit' is FastAPI's own 422 even when a filter value is bad too
    r = env.client.get(
        "/api/episodes", headers=env.h("clinician"), params={"limit": "0", "type": "wobbly"}
    )
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["detail"]] == [["query", "limit"]]
    r = env.client.get(
        "/api/episodes",
        headers=env.h("clinician"),
        params={"exclude_false_alarms": "maybe", "limit": "100001"},
    )
    assert sorted(tuple(e["loc"]) for e in r.json()["detail"]) == [
        ("query", "exclude_false_alarms"),
        ("query", "limit"),
    ]
    # the export routes do not take them: ignored like any unknown parameter
    r = env.client.get(
        "/api/export/fhir", headers=env.h("clinician"), params={"limit": "0", "layout": "x"}
    )
    assert r.status_code == 200 and len(r.json()["entry"]) == 3


def test_list_only_parameters_apply(env):
    h = env.h("clinician")
    got = env.client.get("/api/episodes", headers=h, params={"limit": "2"}).json()
    assert [e["id"] for e in got["episodes"]] == env.episode_ids[:2]
    # episode 1 carries a researcher label, but not a false-alarm one: kept
    got = env.client.get("/api/episodes", headers=h, params={"exclude_false_alarms": "true"})
    assert got.json()["count"] == 3
    env.client.post(f"/api/episodes/{env.episode_ids[1]}/false-alarm", headers=env.h("researcher"))
    got = env.client.get("/api/episodes", headers=h, params={"exclude_false_alarms": "true"})
    assert [e["id"] for e in got.json()["episodes"]] == [env.episode_ids[0], env.episode_ids[2]]
    # the exports never leave false alarms out
    r = env.client.get("/api/export/episodes.csv", headers=h)
    assert _ids("/api/export/episodes.csv", r) == env.episode_ids


def test_openapi_parameters_are_the_same_on_the_four_routes(env):
    paths = env.client.get("/openapi.json").json()["paths"]
    params = {r: {p["name"]: p for p in paths[r]["get"]["parameters"]} for r in ROUTES}
    for r in ROUTES[1:]:
        assert sorted(params[r]) == sorted(FILTER_PARAMS)
        assert params[r] == {k: params["/api/episodes"][k] for k in FILTER_PARAMS}
    assert sorted(params["/api/episodes"]) == sorted(
        (*FILTER_PARAMS, "limit", "exclude_false_alarms", "layout")
    )
    t = params["/api/episodes"]["type"]
    assert t["in"] == "query" and t["required"] is False
    assert t["schema"]["anyOf"][0] == {"type": "array", "items": {"type": "string"}}


# ------------------------------------------------------------------ the value object


def test_filter_from_query_parses_and_normalises():
    f = EpisodeFilter.from_query(
        start="2026-03-02T08:00:00Z",
        end=str(T0 + S),
        type_=["tonic", "clonic"],
        min_severity="mild",
        source="auto",
        wearer_id=A,
        placement=["calf"],
    )
    assert (f.start_ns, f.end_ns) == (T0, T0 + S)
    assert f.types == ("tonic", "clonic") and f.placements == ("calf",)
    assert f.limit is None and f.exclude_false_alarms is False
    assert EpisodeFilter.from_query(type_=[], placement=[]) == EpisodeFilter()
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.limit = 3  # type: ignore[misc]
    assert hash(f) == hash(dataclasses.replace(f))


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"start_ns": -1}, "'start'"),
        ({"end_ns": 2**63}, "'end'"),
        ({"start_ns": 5, "end_ns": 4}, "'end' (4) must not be before 'start' (5)"),
        ({"types": ("tonic", "wobbly")}, "'type' must be among"),
        ({"min_severity": "extreme"}, "'min_severity' must be one of"),
        ({"limit": 0}, "'limit'"),
        ({"limit": 100_001}, "'limit'"),
        ({"types": "tonic"}, "'type'"),
        ({"placements": "calf"}, "'placement'"),
    ],
)
def test_filter_rejects_bad_values(kwargs, needle):
    with pytest.raises(ConfigError) as exc:
        EpisodeFilter(**kwargs)
    assert needle in str(exc.value)


def test_filter_same_messages_as_the_api(env):
    r = env.client.get("/api/episodes", headers=env.h("clinician"), params={"type": "wobbly"})
    with pytest.raises(ConfigError) as exc:
        EpisodeFilter.from_query(type_=["wobbly"])
    assert r.json()["detail"] == str(exc.value)


@pytest.mark.parametrize("params", [{"type": "wobbly"}, {"limit": "0"}, {"wearer_id": "w" * 129}])
def test_the_token_is_checked_before_the_filter(env, params):
    for route in ROUTES:
        r = env.client.get(route, params=params)
        assert r.status_code == 401, route
        assert r.json()["error"] == "AuthError"
