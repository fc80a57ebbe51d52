"""Delivery channels: terminal line, notify-send (a real subprocess), the bus callback."""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import stat

from spasmwatch.coach import (
    BusDelivery,
    DesktopDelivery,
    TerminalDelivery,
    deliver_all,
    get_exercise,
    prompt_message,
)
from spasmwatch.store import Prompt

S = 1_000_000_000
T = int(dt.datetime(2024, 6, 3, 14, 2, 30, tzinfo=dt.UTC).timestamp()) * S
PROMPT = Prompt("p1", T, "episode_onset", "paced-6", episode_id="e1")
PACED = get_exercise("paced-6")


def test_terminal_line():
    out = io.StringIO()
    assert TerminalDelivery(out, tz="UTC").deliver(PROMPT, PACED)
    assert out.getvalue() == (
        "Spasm detected 14:02 — try 1 minute of slow breathing (4 s in, 6 s out)? "
        "[you can ignore this]\n"
    )


def test_message_variants_and_local_time():
    tone = Prompt("p2", T, "sustained_tone", "box-4")
    assert prompt_message(tone, get_exercise("box-4"), "Europe/Berlin").startswith(
        "Muscles tense for a while 16:02 — try 1 minute of box breathing"
    )
    demand = Prompt("p3", T, "on_demand", "paced-6")
    assert "starting 1 minute of slow breathing" in prompt_message(demand, PACED, "UTC")


def test_desktop_disabled_without_notify_send(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("PATH", str(tmp_path))
    with caplog.at_level(logging.INFO, logger="spasmwatch.coach._delivery"):
        d = DesktopDelivery()
    assert not d.available
    assert "notify-send not found" in d.unavailable_reason
    assert "notify-send not found" in caplog.text
    assert d.deliver(PROMPT, PACED) is False


def _fake_notify(tmp_path, body: str):
    exe = tmp_path / "notify-send"
    exe.write_text("#!/bin/sh\n" + body)
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


def test_desktop_runs_notify_send(tmp_path, monkeypatch):
    log_file = tmp_path / "args.txt"
    _fake_notify(tmp_path, f'for a in "$@"; do echo "$a" >> {log_file}; done\n')
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ.get("PATH", ""))
    d = DesktopDelivery(tz="UTC")
    assert d.available
    assert d.deliver(PROMPT, PACED) is True
    args = log_file.read_text().splitlines()
    assert args[:3] == ["--app-name=spasmwatch", "--urgency=low", "spasmwatch"]
    assert args[3].startswith("Spasm detected 14:02")


def test_desktop_failure_is_reported_not_raised(tmp_path, monkeypatch):
    _fake_notify(tmp_path, "exit 3\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert DesktopDelivery().deliver(PROMPT, PACED) is False
    _fake_notify(tmp_path, "sleep 5\n")
    assert DesktopDelivery(timeout_s=0.2).deliver(PROMPT, PACED) is False


def test_bus_publishes_dict_and_survives_a_broken_callback():
    got = []
    assert BusDelivery(got.append, tz="UTC").deliver(PROMPT, PACED)
    (msg,) = got
    assert msg["type"] == "coach.prompt"
    assert msg["prompt"]["id"] == "p1" and msg["prompt"]["followup"] is None
    assert msg["exercise"]["id"] == "paced-6" and len(msg["exercise"]["phases"]) == 12
    assert msg["message"].startswith("Spasm detected 14:02")

    def broken(_):
        raise RuntimeError("bus down")

    out = io.StringIO()
    names = deliver_all([BusDelivery(broken), TerminalDelivery(out)], PROMPT, PACED)
    assert names == ["terminal"]
