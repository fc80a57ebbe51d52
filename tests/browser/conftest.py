"""Real-browser fixtures: the real server (uvicorn in a thread, loopback, free port) with a
seeded store, and Debian's chromium driven by Playwright (never a downloaded browser).

Without /usr/bin/chromium (or the playwright package) the browser tests are skipped with a
message, except under ``CI=true`` where they fail: CI installs chromium.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("SPASMWATCH_CHROMIUM", "/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _load_test_data():
    path = Path(__file__).resolve().parents[1] / "api" / "swapi_fixtures.py"
    spec = importlib.util.spec_from_file_location("swapi_fixtures_browser", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def _need(ok: bool, why: str) -> None:
    if ok:
        return
    if IN_CI:
        pytest.fail(f"{why} (CI=true: browser tests must run; install chromium)")
    pytest.skip(why)


@dataclass
class Server:
    url: str
    store: object
    bus: object
    tokens: dict
    recording_id: str
    episode_ids: list
    data: object
    seeded: object = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    import uvicorn

    from spasmwatch.api import LiveBus, create_app
    from spasmwatch.store import EventStore

    data = _load_test_data()
    tmp = Path(tempfile.mkdtemp(prefix="sw-browser-"))
    data_dir = tmp / "data"
    data_dir.mkdir()
    store = EventStore(tmp / "events.db")
    seeded = data.seed(store, data_dir)
    rec_id, ep_ids = seeded.recording_id, seeded.episode_ids
    bus = LiveBus()
    app = create_app(tmp / "events.db", data_dir=data_dir, live_bus=bus, store=store)
    tokens = data.make_tokens(app.state.tokens, "b")
    port = _free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield Server(f"http://127.0.0.1:{port}", store, bus, tokens, rec_id, ep_ids, data, seeded)
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        store.close()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    _need(Path(CHROMIUM).exists(), f"{CHROMIUM} not found: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need(False, "the playwright package is not installed (pip install playwright)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(
        viewport={"width": 1280, "height": 860}, timezone_id="UTC", locale="en-GB"
    )
    p = ctx.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.js_errors = errors
    try:
        yield p
    finally:
        ctx.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    """Where the page tests save their screenshots: ``docs/screenshots`` with
    ``SPASMWATCH_SCREENSHOTS=1`` (to refresh the documentation's pictures), else a temporary
    folder, so that a test run does not rewrite committed images."""
    if os.environ.get("SPASMWATCH_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return SCREENSHOTS
    return tmp_path_factory.mktemp("screenshots")
