"""Fixtures of the report tests: a real SQLite store filled by ``report_fixtures.fill``."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_fixtures import fill

from spasmwatch.store import EventStore


@pytest.fixture
def store(tmp_path: Path):
    s = EventStore(tmp_path / "events.db")
    fill(s)
    yield s
    s.close()
