"""Authorisation matrix: every route of the app x (no token, wrong/revoked/malformed token,
wearer A, wearer B, clinician assigned to A, clinician with none, researcher in A's study,
researcher in B's study): expected status, and answers that hold only allowed wearers
(pseudonyms for researchers, never names, free text the wearer wrote, or folder paths).
"""

from __future__ import annotations

import json
import re

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.websockets import WebSocketDisconnect
from swapi_fixtures import NAMES, PRINCIPALS, ROLE_OF, ROLES, SEES, A, B

from spasmwatch.api import iter_routes, route_roles

PUBLIC = {
    "/",
    "/live",
    "/timeline",
    "/recordings",
    "/recordings/{recording_id}",
    "/favicon.ico",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
}

#: valid bodies, so that a call reaches the scope check instead of stopping at validation
BODIES = {
    "/api/episodes/{episode_id}/confirm": {"answer": "yes"},
    "/api/prompts/{prompt_id}/outcome": {"outcome": "done"},
    "/api/labels/{label_id}": {"note": "checked"},
    "/api/diary/{entry_id}": {"dose": "5 mg"},
    "/api/diary": {"kind": "note", "text": "tired"},
    "/api/self-reports": {"severity": 2, "trigger": "heat"},
    "/api/labels": {"start_ns": 1, "end_ns": 2},
}
#: per-wearer answers: with no visible wearer there is nothing to summarise
# routes about one wearer: a caller who sees no wearer at all gets 404 ("no wearer is visible")
SUMMARIES = {
    "/api/summary/daily",
    "/api/summary/hourly",
    "/api/summary/weekly",
    "/api/reports/summary",
    "/api/reports/pdf",
}


def _ids(env, side: str) -> dict[str, str]:
    s = env.seeded
    if side == "A":
        return {
            "episode_id": s.episode_ids[1],
            "recording_id": s.recording_id,
            "label_id": s.label_id,
            "entry_id": s.diary_id,
            "prompt_id": s.prompt_id,
        }
    return {
        "episode_id": s.b_episode_id,
        "recording_id": s.b_recording_id,
        "label_id": s.b_label_id,
        "entry_id": s.b_diary_id,
        "prompt_id": s.b_prompt_id,
    }


def _fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def _call(env, method: str, route_path: str, path: str, headers: dict, params=None):
    kwargs = {}
    if method in {"POST", "PATCH", "PUT"}:
        kwargs["json"] = BODIES.get(route_path, {})
    return env.client.request(method, path, headers=headers, params=params, **kwargs)


def _wearer_ids(obj) -> set[str]:
    """Every value of a 'wearer_id' key anywhere in a JSON answer."""
    out: set[str] = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "wearer_id" and isinstance(v, str):
                out.add(v)
            else:
                out |= _wearer_ids(v)
    elif isinstance(obj, list):
        for v in obj:
            out |= _wearer_ids(v)
    return out


def _api_routes(env):
    for route in iter_routes(env.app):
        if isinstance(route, APIRoute):
            for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
                yield route, method, route_roles(route)


def _pseudonyms(env) -> dict[str, dict[str, str]]:
    """principal -> {real wearer id: id shown to it}."""
    from spasmwatch.api._auth import Principal

    out = {}
    for p in PRINCIPALS:
        who = env.app.state.tokens.authenticate(env.tokens[p])
        assert isinstance(who, Principal)
        vis = env.app.state.tokens.visible_wearers(who)
        out[p] = {w: (s if s is not None else w) for w, s in vis.items()}
    return out


def test_every_api_route_declares_roles(env):
    api_routes = [r for r in iter_routes(env.app) if isinstance(r, APIRoute)]
    assert len(api_routes) >= 25
    for r in api_routes:
        roles = route_roles(r)
        if r.path in PUBLIC:
            assert roles is None, r.path
        else:
            assert r.path.startswith("/api/"), r.path
            assert roles and roles <= set(ROLES), f"{r.path} declares no roles"


def test_visibility_and_pseudonyms(env):
    shown = _pseudonyms(env)
    assert shown["wearer"] == {A: A} and shown["wearer_b"] == {B: B}
    assert shown["clinician"] == {A: A} and shown["clinician_none"] == {}
    assert list(shown["researcher"]) == [A] and list(shown["researcher_b"]) == [B]
    p = shown["researcher"][A]
    assert re.fullmatch(r"S-A-[0-9a-f]{12}", p)
    # stable: the same pseudonym on every call, from the study's secret
    assert _pseudonyms(env)["researcher"][A] == p
    # another study enrolling the same wearer gives another, unlinkable pseudonym
    env.app.state.tokens.enrol("S-C", A)
    other = env.app.state.tokens.create("researcher", "r-c", studies=["S-C"])[0]
    me = env.client.get("/api/me", headers={"Authorization": f"Bearer {other}"}).json()
    assert me["wearers"] == [{"id": me["wearers"][0]["id"]}]
    assert me["wearers"][0]["id"].startswith("S-C-") and me["wearers"][0]["id"][4:] != p[4:]


def test_authorisation_matrix(env):
    revoked, info = env.app.state.tokens.create("researcher", "gone")
    env.app.state.tokens.revoke(info.id)
    shown = _pseudonyms(env)
    checked = 0
    for side in ("A", "B"):
        ids = _ids(env, side)
        owner = A if side == "A" else B
        for route, method, roles in _api_routes(env):
            path = _fill(route.path, ids)
            has_object = "{" in route.path
            if roles is None:
                if side == "A":
                    assert _call(env, method, route.path, path, {}).status_code == 200, path
                continue
            if side == "A":
                for headers in (
                    {},
                    {"Authorization": "Bearer sw_wrong"},
                    {"Authorization": f"Bearer {revoked}"},
                    {"Authorization": "Basic abc"},
                ):
                    r = _call(env, method, route.path, path, headers)
                    assert r.status_code == 401, (method, path, headers, r.status_code)
                    assert r.headers["www-authenticate"] == "Bearer"
            elif not has_object:
                continue  # collection routes do not depend on the side
            # those who may not see the object first: they must change nothing
            order = sorted(PRINCIPALS, key=lambda p: p in SEES[side])
            for who in order:
                r = _call(env, method, route.path, path, env.h(who))
                ctx = (method, path, who, r.status_code, r.text[:200])
                checked += 1
                if ROLE_OF[who] not in roles:
                    assert r.status_code == 403, ctx
                    assert r.json()["reason"] == "forbidden"
                    continue
                if has_object and who not in SEES[side]:
                    # another wearer's object: exactly what a missing id gets
                    assert r.status_code == 404, ctx
                    missing = _call(
                        env,
                        method,
                        route.path,
                        _fill(route.path, dict.fromkeys(ids, "nope")),
                        env.h(who),
                    ).json()
                    obj_id = path.split("/")[3]
                    got = r.json()
                    assert (got["error"], got["reason"]) == (missing["error"], missing["reason"])
                    assert got["detail"].replace(obj_id, "ID") == missing["detail"].replace(
                        "nope", "ID"
                    ), ctx
                    continue
                if route.path in SUMMARIES and who == "clinician_none":
                    assert r.status_code == 404, ctx
                    continue
                assert r.status_code not in (401, 403, 404), ctx
                assert r.status_code < 500, ctx
                if method == "GET":
                    assert r.status_code == 200, ctx
                _check_body(r, who, shown, owner if has_object else None)
    assert checked >= 240


def _check_body(r, who: str, shown: dict[str, dict[str, str]], owner: str | None) -> None:
    ctype = r.headers.get("content-type", "")
    if r.status_code == 204:
        return
    text = r.content.decode("utf-8", "replace") if "parquet" not in ctype else ""
    allowed = set(shown[who].values())
    if "json" in ctype:
        got = _wearer_ids(r.json())
        assert got <= allowed, (r.request.url, who, got, allowed)
        if owner is not None and got:
            assert got == {shown[who][owner]}
    forbidden = {w for w in (A, B) if shown[who].get(w, None) != w}  # real ids not shown
    for w in forbidden:
        assert not re.search(rf"\b{w}\b", text), (r.request.url, who, w)
    for name in NAMES.values():
        if ROLE_OF[who] == "researcher" or (name == NAMES[B] and who != "wearer_b"):
            assert name not in text, (r.request.url, who, name)
    assert "/data/rec" not in text, (r.request.url, who)  # folder paths never leave


def test_lists_hold_only_visible_wearers(env):
    """The collections, per principal: only their wearers, pseudonymised for researchers."""
    shown = _pseudonyms(env)
    expected_eps = {
        "wearer": 3,
        "clinician": 3,
        "researcher": 3,
        "wearer_b": 1,
        "researcher_b": 1,
        "clinician_none": 0,
    }
    for who, n in expected_eps.items():
        r = env.client.get("/api/episodes", headers=env.h(who)).json()
        assert r["count"] == n, who
        assert {e["wearer_id"] for e in r["episodes"]} <= set(shown[who].values())
    res = env.client.get("/api/recordings", headers=env.h("researcher")).json()
    assert [x["id"] for x in res["recordings"]] == [env.recording_id]
    assert "path" not in res["recordings"][0]
    assert res["recordings"][0]["wearer_id"] == shown["researcher"][A]
    # a researcher names a wearer by pseudonym; the real id is unknown to them
    p = shown["researcher"][A]
    h = env.h("researcher")
    assert env.client.get("/api/episodes", headers=h, params={"wearer_id": p}).json()["count"] == 3
    assert env.client.get("/api/episodes", headers=h, params={"wearer_id": A}).status_code == 404
    assert env.client.get("/api/episodes", headers=h, params={"wearer_id": B}).status_code == 404
    wa = env.h("wearer")
    assert env.client.get("/api/episodes", headers=wa, params={"wearer_id": B}).status_code == 404
    assert env.client.get("/api/diary", headers=wa, params={"wearer_id": B}).status_code == 404
    # a wearer cannot write into another wearer's diary by naming them in the body
    r = env.client.post("/api/diary", headers=wa, json={"kind": "note", "wearer_id": B})
    assert r.status_code == 404 and env.store.diary(wearer_id=B)[0].text == "bob's hot bath"
    # exports carry the pseudonym for researchers, the id for others
    csv_r = env.client.get("/api/export/episodes.csv", headers=h).text
    assert p in csv_r and not re.search(r"\balice\b", csv_r)
    fhir = env.client.get("/api/export/fhir", headers=h).json()
    ids = {e["resource"]["subject"]["identifier"]["value"] for e in fhir["entry"]}
    assert ids == {p}
    # the researcher creates a label for the pseudonymised wearer: stored under the real id
    lab = env.client.post(
        "/api/labels", headers=h, json={"start_ns": 1, "end_ns": 2, "wearer_id": p}
    ).json()
    assert lab["wearer_id"] == p and env.store.get_label(lab["id"]).wearer_id == A


def test_anonymous_gets_401_even_with_malformed_body(env):
    r = env.client.post(
        "/api/labels", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 401


def test_live_socket_auth(env):
    ws_routes = [r for r in iter_routes(env.app) if isinstance(r, APIWebSocketRoute)]
    assert [r.path for r in ws_routes] == ["/api/live"]
    for bad in (None, "sw_wrong"):
        with env.client.websocket_connect("/api/live") as ws:
            ws.send_json({"token": bad})
            msg = ws.receive_json()
            assert msg["type"] == "error"
            with pytest.raises(WebSocketDisconnect) as exc:
                ws.receive_json()
            assert exc.value.code == 4401
    for who in PRINCIPALS:
        role = ROLE_OF[who]
        with env.client.websocket_connect(f"/api/live?token={env.tokens[who]}") as ws:
            assert ws.receive_json() == {"type": "hello", "role": role, "live": True}
        with env.client.websocket_connect("/api/live") as ws:
            ws.send_json({"token": env.tokens[who]})
            assert ws.receive_json()["role"] == role


def test_token_rows_of_schema_2_are_migrated(tmp_path):
    """A file whose api_tokens table was made by the old CREATE TABLE IF NOT EXISTS keeps
    its tokens: wearer tokens become the 'default' wearer's, clinicians and researchers
    keep seeing the wearers that existed."""
    import hashlib
    import sqlite3

    from spasmwatch.api import TokenStore
    from spasmwatch.store._migrations import apply_migrations

    path = tmp_path / "old.db"
    con = sqlite3.connect(path, isolation_level=None)
    apply_migrations(con, target=2)
    con.execute(
        "CREATE TABLE IF NOT EXISTS api_tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL, "
        "role TEXT NOT NULL, token_sha256 TEXT NOT NULL UNIQUE, created_ns INTEGER NOT NULL, "
        "last_used_ns INTEGER, revoked_ns INTEGER)"
    )
    con.execute("INSERT INTO wearers VALUES ('default', 'P01', NULL, 1)")
    secrets = {}
    for i, role in enumerate(ROLES):
        secrets[role] = f"sw_old-{role}"
        con.execute(
            "INSERT INTO api_tokens VALUES (?, ?, ?, ?, ?, NULL, NULL)",
            (f"t{i}", f"{role}-old", role, hashlib.sha256(secrets[role].encode()).hexdigest(), i),
        )
    con.close()
    tokens = TokenStore(path)
    try:
        for role in ROLES:
            who = tokens.authenticate(secrets[role])
            assert who.role == role
            vis = tokens.visible_wearers(who)
            assert list(vis) == ["default"], role
        assert tokens.authenticate(secrets["wearer"]).wearer_id == "default"
        assert tokens.visible_wearers(tokens.authenticate(secrets["researcher"]))[
            "default"
        ].startswith("legacy-")
    finally:
        tokens.close()


def test_token_options_must_fit_the_role(env):
    from spasmwatch.errors import ConfigError

    t = env.app.state.tokens
    with pytest.raises(ConfigError, match="wearer_id"):
        t.create("wearer", "w-x")
    with pytest.raises(ConfigError, match="only a wearer token"):
        t.create("clinician", "c-x", wearer_id=A)
    with pytest.raises(ConfigError, match="clinician"):
        t.create("researcher", "r-x", wearers=[A])
    with pytest.raises(ConfigError, match="study id"):
        t.create("researcher", "r-x", studies=["bad study!"])
    assert json.dumps(t.access())  # JSON-ready, no secrets
    assert "secret" not in json.dumps(t.access())
