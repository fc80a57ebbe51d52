"""Fixtures of the API tests: a real SQLite store, real recording folders, tokens per
principal of the authorisation matrix (see ``swapi_fixtures``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from swapi_fixtures import Seeded, make_tokens, seed

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
    seeded: Seeded

    @property
    def recording_id(self) -> str:
        return self.seeded.recording_id

    @property
    def episode_ids(self) -> list[str]:
        return self.seeded.episode_ids

    @property
    def prompt_id(self) -> str:
        return self.seeded.prompt_id

    @property
    def diary_id(self) -> str:
        return self.seeded.diary_id

    def h(self, who: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}


@pytest.fixture
def env(tmp_path: Path) -> Env:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    store = EventStore(tmp_path / "events.db")
    seeded = seed(store, data_dir)
    bus = LiveBus(maxsize=8)
    app = create_app(tmp_path / "events.db", data_dir=data_dir, live_bus=bus, store=store)
    tokens = make_tokens(app.state.tokens)
    with TestClient(app) as client:
        yield Env(app, client, store, tokens, bus, data_dir, seeded)
    store.close()
