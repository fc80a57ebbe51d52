"""Property-based requests generated from the OpenAPI schema: never a 5xx.

schemathesis draws path, query and body values from each operation's schema (valid and
invalid ones); the caller uses a token whose role the operation admits, so validation and
the store are exercised rather than only the 403 path.
"""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, settings
from swapi_fixtures import ROLES

from spasmwatch.api import iter_routes, route_roles

# Import-time app for schema loading; the test itself talks to the same app.
_STATE: dict = {}


@pytest.fixture
def fuzz_env(env):
    _STATE["env"] = env
    return env


def _schema():
    import tempfile
    from pathlib import Path

    from spasmwatch.api import create_app

    d = Path(tempfile.mkdtemp(prefix="sw-schema-"))
    app = create_app(d / "schema.db")
    return schemathesis.openapi.from_asgi("/openapi.json", app)


schema = _schema()


def _role_for(env, method: str, path: str) -> str:
    """A role the operation admits (any role for methods the path does not have)."""
    for r in iter_routes(env.app):
        if isinstance(r, APIRoute) and r.path == path and method.upper() in r.methods:
            roles = route_roles(r)
            return next(x for x in ROLES if roles and x in roles)
    return "researcher"  # schemathesis also tries undeclared methods: expect 405


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors(case, fuzz_env):
    env = fuzz_env
    role = _role_for(env, case.method, case.path)
    path = case.formatted_path
    kwargs = {"params": case.query, "headers": env.h(role)}
    if case.body is not None and not isinstance(case.body, schemathesis.core.NotSet):
        if isinstance(case.body, bytes | str):
            kwargs["content"] = case.body
            kwargs["headers"]["content-type"] = case.media_type or "application/json"
        else:
            kwargs["json"] = case.body
    r = env.client.request(case.method, path, **kwargs)
    assert r.status_code < 500, (case.method, path, case.query, case.body, r.text[:300])
    if r.status_code >= 400:
        assert r.json().get("detail"), r.text[:300]
