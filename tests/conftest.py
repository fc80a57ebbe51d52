"""Shared test configuration.

- ``SHARED_DATA``: the real recordings folder (``../shared/data`` beside the repo, or
  ``$SPASMWATCH_SHARED_DATA``); tests that need it skip when it is absent, except the ones
  that use the committed excerpts under ``tests/data/``.
- Hypothesis: a ``ci`` profile with a deadline off (2 shared cores make timings noisy).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]
TESTS_DATA = REPO / "tests" / "data"
SHARED_DATA = Path(os.environ.get("SPASMWATCH_SHARED_DATA", REPO.parent / "shared" / "data"))
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

settings.register_profile(
    "default",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("default")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real-recordings folder; skips the test when it is not beside the repo."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real recordings not found at {SHARED_DATA} (set SPASMWATCH_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tests_data() -> Path:
    """Committed small excerpts of real data (with licence and source)."""
    return TESTS_DATA
