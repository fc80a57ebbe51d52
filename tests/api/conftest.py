"""Fixtures of the API tests: a real SQLite store, a real recording folder, tokens per role."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from swapi_fixtures import ROLES, make_recording, seed

from spasmwatch.api import LiveBus, create_app
from spasmwatch.store import EventStore


@dataclass
class Env:
    app: object
    client: TestClient
    store: EventStore
    tokens: dict[str, str]
    bus: LiveBus
    data_dir: Path
    recording_id: str
    episode_ids: list[str]
    prompt_id: str
    diary_id: str

    def h(self, role: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}


@pytest.fixture
def env(tmp_path: Path) -> Env:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    rec_id = make_recording(data_dir / "rec1")
    store = EventStore(tmp_path / "events.db")
    ep_ids, prompt_id, diary_id = seed(store, rec_id, data_dir / "rec1")
    bus = LiveBus(maxsize=8)
    app = create_app(tmp_path / "events.db", data_dir=data_dir, live_bus=bus, store=store)
    tokens = {r: app.state.tokens.create(r, f"{r}-1")[0] for r in ROLES}
    with TestClient(app) as client:
        yield Env(app, client, store, tokens, bus, data_dir, rec_id, ep_ids, prompt_id, diary_id)
    store.close()
