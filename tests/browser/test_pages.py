"""The pages in a real headless chromium against the real server."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.browser


def _wait(pred, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_label_on_viewer_then_find_it_on_timeline(server, page, screenshots):
    page.goto(f"{server.url}/recordings/{server.recording_id}?token={server.tokens['researcher']}")
    assert "token=" not in page.url  # taken once, kept in sessionStorage
    page.wait_for_selector("canvas[data-ready='1']")
    page.wait_for_selector("#episodes li[data-id]")
    box = page.locator("#canvas").bounding_box()
    y = box["y"] + box["height"] * 0.6
    # the recording is 120 s wide: drag from 70 % to 80 % of the width (84 s to 96 s)
    page.mouse.move(box["x"] + box["width"] * 0.70, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.75, y, steps=4)
    page.mouse.move(box["x"] + box["width"] * 0.80, y, steps=4)
    page.mouse.up()
    page.wait_for_selector("#labels li[data-id]")
    labels = _wait(lambda: server.store.labels(recording_id=server.recording_id), what="label")
    assert len(labels) == 1 and labels[0].type == "tonic"
    T0, S = server.data.T0, server.data.S
    assert abs(labels[0].start_ns - (T0 + 84 * S)) < 2 * S
    assert abs(labels[0].end_ns - (T0 + 96 * S)) < 2 * S
    page.keyboard.press("c")  # selected label -> clonic
    _wait(lambda: server.store.get_label(labels[0].id).type == "clonic", what="type change")
    # zoom with the wheel and pan with keys: the viewer asks for a narrower window
    before = page.evaluate("SWRec.t1 - SWRec.t0")
    page.mouse.move(box["x"] + box["width"] * 0.3, y)
    page.mouse.wheel(0, -300)
    page.keyboard.press("ArrowRight")
    _wait(lambda: page.evaluate("SWRec.t1 - SWRec.t0") < before * 0.9, what="zoom")
    # mark the automatic episode as a false alarm via its list entry and the f key
    page.click(f"#episodes li[data-id='{server.episode_ids[0]}']")
    page.keyboard.press("f")
    _wait(
        lambda: any(
            x.is_false_alarm for x in server.store.labels(episode_id=server.episode_ids[0])
        ),
        what="false alarm",
    )
    page.keyboard.press("0")
    page.wait_for_timeout(300)
    page.screenshot(path=str(screenshots / "recording.png"), full_page=True)

    page.goto(f"{server.url}/timeline?token={server.tokens['clinician']}&end=2026-03-03&days=7")
    page.wait_for_selector("#grid[data-ready='1']")
    rect = page.locator(f"#grid rect[data-id='{labels[0].id}']")
    assert rect.count() == 1 and rect.get_attribute("data-type") == "clonic"
    assert page.locator(f"#grid rect[data-id='{server.episode_ids[1]}']").count() == 1
    # the false alarm is hidden unless asked for
    assert page.locator(f"#grid rect[data-id='{server.episode_ids[0]}']").count() == 0
    assert page.locator("#grid path.diary").count() == 1
    assert "baclofen" in page.inner_text("#diary")
    weekly = page.inner_text("#weekly")
    assert "2026-W10" in weekly and "h worn" in weekly

    # every day's count carries its hours worn; a 2-hour day is greyed
    def count_text(day):
        loc = page.locator(f"#grid text.count[data-day='{day}']")
        return loc, loc.evaluate("e => e.firstChild.nodeValue")

    mon, mon_text = count_text("2026-03-02")
    tue, tue_text = count_text("2026-03-03")
    assert mon_text == "2 · 12.0 h worn" and mon.get_attribute("data-low-wear") == "0"
    assert tue_text == "1 · 2.0 h worn" and tue.get_attribute("data-low-wear") == "1"
    assert "lowwear" in tue.get_attribute("class")
    assert count_text("2026-02-28")[1] == "0 · not worn"
    # hovering gives the one wording of spasmwatch.health, low wear included
    assert tue.locator("title").text_content() == (
        "1 spasm in 2.0 h worn — low wear (under 10 h a day), interpret with care; "
        "on the body 3.0 h"
    )
    assert (
        mon.locator("title")
        .text_content()
        .startswith("2 spasms in 12.0 h worn (4.0 per 24 h worn)")
    )
    # the weekly table words its counts exactly as the Python formatter does
    from spasmwatch.health import format_count_with_wear

    w10 = page.locator("#weekly tr[data-week='2026-W10']")
    n, usable, days = (w10.get_attribute(f"data-{k}") for k in ("n", "usable-s", "days"))
    assert (float(usable), int(days)) == (14 * 3600.0, 2)
    cell = w10.locator("td").nth(1).inner_text()
    assert cell == format_count_with_wear(int(n), float(usable), days=int(days))
    assert "low wear (under 10 h a day on average)" in cell
    assert "lowwear" in w10.get_attribute("class")
    # "Download PDF report": fetched with the token from sessionStorage, saved as a file
    with page.expect_download() as dl:
        page.click("#pdf")
    pdf = dl.value
    assert pdf.suggested_filename == "spasmwatch-report-alice-2026-02-25-to-2026-03-03.pdf"
    with open(pdf.path(), "rb") as fh:
        assert fh.read(5) == b"%PDF-"
    page.wait_for_selector("#status:has-text('PDF report downloaded')")
    # bob's episode never reaches alice's clinician
    assert page.locator(f"#grid rect[data-id='{server.seeded.b_episode_id}']").count() == 0
    page.screenshot(path=str(screenshots / "timeline.png"), full_page=True)
    page.emulate_media(media="print")
    assert not page.locator("#print").is_visible()  # controls hidden in the printed report
    assert page.locator(".print-only").first.is_visible()
    page.screenshot(path=str(screenshots / "timeline-print.png"), full_page=True)
    page.emulate_media(media="screen")
    # the placement filter: only the forearm episode; researcher labels have no placement
    options = page.locator("#placement option").all_inner_texts()
    assert "gastrocnemius left" in options and "forearm_flexors right" in options
    page.select_option("#placement", "forearm_flexors-right")
    _wait(
        lambda: page.locator(f"#grid rect[data-id='{labels[0].id}']").count() == 0,
        what="placement filter",
    )
    page.wait_for_selector("#grid[data-ready='1']")
    assert page.locator(f"#grid rect[data-id='{server.episode_ids[1]}']").count() == 1
    assert page.locator("#grid rect.ep").count() == 1
    page.screenshot(path=str(screenshots / "timeline-placement.png"), full_page=True)
    assert page.js_errors == []


def test_breathing_prompt_followed_to_done(server, page, screenshots):
    from spasmwatch.episodes._types import new_id
    from spasmwatch.store import Prompt

    page.goto(f"{server.url}/live?token={server.tokens['wearer']}")
    page.wait_for_selector("#conn.on")
    _wait(lambda: server.bus.n_subscribers >= 1, what="live subscriber")
    T0 = server.data.T0
    prompt = Prompt(
        new_id(), T0 + 40 * 10**9, "episode_onset", "paced-breathing", wearer_id="alice"
    )
    server.store.add_prompt(prompt)
    bus = server.bus
    bus.publish_threadsafe(
        {
            "type": "device_status",
            "wearer_id": "alice",
            "device": "myo",
            "state": "connected",
            "battery_pct": 81,
        }
    )
    bus.publish_threadsafe({"type": "detection", "wearer_id": "alice", "activity": 0.72})
    ep = server.store.get_episode(server.episode_ids[0]).to_dict()
    bus.publish_threadsafe({"type": "episode", "episode": ep})
    bus.publish_threadsafe(
        {
            "type": "prompt",
            "wearer_id": "alice",
            "prompt_id": prompt.id,
            "exercise_id": "paced-breathing",
            "inhale_s": 4,
            "exhale_s": 6,
            "reason": "episode_onset",
        }
    )
    page.wait_for_selector("#guide:not([hidden])")
    assert page.inner_text("#pacing") == "4 s in, 6 s out"
    r0 = float(page.get_attribute("#pace", "r"))
    page.wait_for_timeout(1500)
    r1 = float(page.get_attribute("#pace", "r"))
    assert r1 > r0  # breathing in: the circle grows
    assert page.inner_text("#phase") == "Breathe in"
    assert "myo: connected" in page.inner_text("#devices")
    assert page.get_attribute("#meter", "aria-valuenow") == "72"
    page.screenshot(path=str(screenshots / "live.png"), full_page=True)
    page.click("#done")
    _wait(lambda: server.store.get_prompt(prompt.id).outcome == "done", what="outcome")
    assert page.locator("#guide").is_hidden()
    # on demand: a new prompt is created and can be dismissed
    page.click("#start-guide")
    page.wait_for_selector("#guide:not([hidden])")
    pid = page.get_attribute("#guide", "data-prompt-id")
    assert pid and server.store.get_prompt(pid).reason == "on_demand"
    page.click("#dismiss")
    _wait(lambda: server.store.get_prompt(pid).outcome == "dismissed", what="dismissed")
    assert page.js_errors == []


def test_log_a_spasm_now_and_answer_was_that_a_spasm(server, page, screenshots):
    from spasmwatch.episodes._types import Episode, new_id

    page.goto(f"{server.url}/live?token={server.tokens['wearer']}")
    page.wait_for_selector("#conn.on")
    page.wait_for_selector("#log-panel:not([hidden])")
    _wait(lambda: server.bus.n_subscribers >= 1, what="live subscriber")
    before = {r.id for r in server.store.self_reports()}
    page.click("#log-more summary")
    page.select_option("#log-severity", "severe")
    page.fill("#log-site", "gastrocnemius-left")
    page.select_option("#log-trigger", "other")
    page.fill("#log-trigger-text", "cold floor")
    page.click("#log-now")
    new = _wait(
        lambda: [r for r in server.store.self_reports() if r.id not in before], what="report"
    )
    rep = new[0]
    assert (rep.kind, rep.wearer_id, rep.severity, rep.trigger) == (
        "logged",
        "alice",
        "severe",
        "other",
    )
    assert rep.trigger_text == "cold floor" and rep.body_site == "gastrocnemius-left"
    ep = server.store.get_episode(rep.episode_id)
    assert ep.source == "self-report" and ep.placement == "gastrocnemius-left"
    assert [x.origin for x in server.store.labels(episode_id=ep.id)] == ["self-report"]
    page.wait_for_selector("#status:has-text('Spasm logged')")
    assert "severe" in page.inner_text("#episodes")
    # an automatic detection arrives: one tap answers "was that a spasm?"
    T0, S = server.data.T0, server.data.S
    auto = Episode(
        new_id(),
        T0 + 9000 * S,
        T0 + 9012 * S,
        "clonic",
        3.5,
        "moderate",
        0.8,
        "auto",
        wearer_id="alice",
        placement="gastrocnemius-left",
    )
    server.store.add_episode(auto)
    # bob's detection is not shown to alice; hers is
    bob = server.store.get_episode(server.seeded.b_episode_id).to_dict()
    server.bus.publish_threadsafe({"type": "episode", "episode": bob})
    server.bus.publish_threadsafe({"type": "episode", "episode": auto.to_dict()})
    page.wait_for_selector("#ask:not([hidden])")
    assert page.get_attribute("#ask", "data-episode-id") == auto.id
    assert "clonic" in page.inner_text("#ask-what")
    page.screenshot(path=str(screenshots / "self-report.png"), full_page=True)
    page.click("#ask-no")
    lab = _wait(lambda: server.store.labels(episode_id=auto.id), what="answer label")
    assert lab[0].origin == "self-report" and lab[0].is_false_alarm
    assert page.locator("#ask").is_hidden()
    assert [r.answer for r in server.store.self_reports(episode_id=auto.id)] == ["no"]
    assert page.js_errors == []


def test_pages_load_without_errors_and_reject_bad_token(server, page):
    for path in ("/", "/recordings"):
        page.goto(f"{server.url}{path}?token={server.tokens['clinician']}")
        page.wait_for_selector("#who:has-text('clinician')")
    page.wait_for_selector("#list a")
    # alice's clinician lists alice's recording, not bob's
    assert page.locator("#list a").count() == 1
    page.goto(f"{server.url}/live?token={server.tokens['clinician']}")
    page.wait_for_selector("#conn.on")
    assert page.locator("#log-panel").is_hidden()  # logging is the wearer's
    page.goto(f"{server.url}/timeline?token=sw_wrong")
    page.wait_for_selector("#token-form.show")
    assert page.js_errors == []


def _monitor_events(tmp_dir, wearer_id: str) -> list[dict]:
    """Bus events of a short simulated monitor run: Myo EMG channel ch3 goes flat after 5 s,
    the battery starts at 19 %, the link drops once."""
    import asyncio

    from spasmwatch.acquisition import FaultConfig
    from spasmwatch.api import LiveBus
    from spasmwatch.pipeline import Monitor, simulated_world

    faults = FaultConfig(disconnect_every_s=20.0, reconnect_delay_s=5.0)
    world = simulated_world(
        ["myo"], speed=20.0, faults=faults, battery_level=19, flat={"myo": ("emg", [3], 5.0)}
    )
    c, s = world.backends()
    bus = LiveBus(maxsize=100_000)
    events: list[dict] = []

    async def main():
        sub = bus.subscribe()
        mon = Monitor(
            ["myo"], store=tmp_dir / "mon.db", clock=world.clock, client_backend=c,
            scanner_backend=s, live_bus=bus, wearer_id=wearer_id, signal_loss_after_s=2.0,
            on_line=lambda _: None, placements={"myo": "right-gastrocnemius"}, tz="UTC",
            health_every_s=0.2, wear_every_s=5.0,
        )  # fmt: skip
        try:
            await mon.run(40.0)
        finally:
            await world.aclose()
        while (ev := sub.get_nowait()) is not None:
            events.append(ev)

    # Playwright's sync API holds this thread's event loop: the monitor gets its own thread
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as ex:
        ex.submit(asyncio.run, main()).result(timeout=120)
    return events


def test_live_device_health_panel(server, page, screenshots, tmp_path):
    events = _monitor_events(tmp_path, "alice")
    kinds = {e["type"] for e in events}
    assert {"health", "signal_loss", "device_status"} <= kinds
    assert all(e.get("wearer_id") == "alice" for e in events)
    page.goto(f"{server.url}/live?token={server.tokens['wearer']}")
    page.wait_for_selector("#conn.on")
    _wait(lambda: server.bus.n_subscribers >= 1, what="live subscriber")
    for ev in events:
        if ev["type"] in ("health", "signal_loss", "device_status"):
            server.bus.publish_threadsafe(ev)
    # bob's device never shows on alice's page
    server.bus.publish_threadsafe({**events[-1], "type": "health", "wearer_id": "bob",
                                   "device": "bobs-myo"})  # fmt: skip
    card = page.locator(".hcard[data-device='myo']")
    card.wait_for()
    _wait(lambda: card.locator(".qdot[data-channel='ch3']").get_attribute("data-status")
          == "contact_lost", what="ch3 contact lost")  # fmt: skip
    dot = card.locator(".qdot[data-channel='ch3']")
    assert dot.get_attribute("title") == "ch3: electrode contact lost"
    assert card.locator(".qdot[data-status='good']").count() == 7
    assert "ch3 electrode contact lost" in card.locator(".qsum").inner_text()
    battery = card.locator(".hrow.battery")
    assert (
        "low" in battery.get_attribute("class") and int(battery.get_attribute("data-level")) <= 19
    )
    assert "charge" in battery.inner_text()
    assert card.get_attribute("data-battery-low") == "1"
    assert card.get_attribute("data-worn") == "worn"
    loss = card.locator(".hrow.loss")
    assert loss.get_attribute("data-cause") in {"disconnect", "out_of_range", "unknown"}
    assert "Last signal loss" in loss.inner_text() and " — " in loss.inner_text()
    wear = card.locator(".hrow.wear")
    assert (
        wear.inner_text().startswith("Worn today") and float(wear.get_attribute("data-worn-s")) > 15
    )
    assert "gastrocnemius-right" in card.locator(".hhead").inner_text()
    assert page.locator(".hcard[data-device='bobs-myo']").count() == 0
    page.screenshot(path=str(screenshots / "live-health.png"), full_page=True)
    assert page.js_errors == []
