"""Authorisation matrix: every route of the app x (no token, wrong token, revoked, each role)."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.websockets import WebSocketDisconnect
from swapi_fixtures import ROLES

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


def _fill(path: str, env) -> str:
    values = {
        "episode_id": env.episode_ids[1],
        "recording_id": env.recording_id,
        "label_id": "no-such-label",
        "entry_id": env.diary_id,
        "prompt_id": env.prompt_id,
    }
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def _call(env, method: str, path: str, headers: dict):
    kwargs = {"json": {}} if method in {"POST", "PATCH", "PUT"} else {}
    return env.client.request(method, path, headers=headers, **kwargs)


def test_every_api_route_declares_roles(env):
    api_routes = [r for r in iter_routes(env.app) if isinstance(r, APIRoute)]
    assert len(api_routes) >= 20
    for r in api_routes:
        roles = route_roles(r)
        if r.path in PUBLIC:
            assert roles is None, r.path
        else:
            assert r.path.startswith("/api/"), r.path
            assert roles and roles <= set(ROLES), f"{r.path} declares no roles"


def test_authorisation_matrix(env):
    revoked, info = env.app.state.tokens.create("researcher", "gone")
    env.app.state.tokens.revoke(info.id)
    checked = 0
    for route in iter_routes(env.app):
        if not isinstance(route, APIRoute):
            continue
        roles = route_roles(route)
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            path = _fill(route.path, env)
            if roles is None:
                assert _call(env, method, path, {}).status_code == 200, path
                continue
            for headers in (
                {},
                {"Authorization": "Bearer sw_wrong"},
                {"Authorization": f"Bearer {revoked}"},
                {"Authorization": "Basic abc"},
            ):
                r = _call(env, method, path, headers)
                assert r.status_code == 401, (method, path, headers, r.status_code)
                assert r.headers["www-authenticate"] == "Bearer"
            for role in ROLES:
                r = _call(env, method, path, env.h(role))
                if role in roles:
                    assert r.status_code not in (401, 403), (method, path, role, r.text)
                    assert r.status_code < 500, (method, path, role, r.text)
                    if method == "GET":
                        assert r.status_code == 200, (method, path, role, r.text)
                else:
                    assert r.status_code == 403, (method, path, role, r.status_code)
                    assert r.json()["reason"] == "forbidden"
                checked += 1
    assert checked >= 60


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
    for role in ROLES:
        with env.client.websocket_connect(f"/api/live?token={env.tokens[role]}") as ws:
            assert ws.receive_json() == {"type": "hello", "role": role, "live": True}
        with env.client.websocket_connect("/api/live") as ws:
            ws.send_json({"token": env.tokens[role]})
            assert ws.receive_json()["role"] == role
