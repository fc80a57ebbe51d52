"""``spasmwatch devices`` and ``spasmwatch scan --simulate``."""

from __future__ import annotations

import json

from spasmwatch.acquisition import load_profiles
from spasmwatch.cli import main


def test_devices_json_lists_every_profile_with_streams(capsys):
    assert main(["devices", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    profiles = load_profiles()
    assert [p["id"] for p in out] == sorted(profiles)
    h10 = next(p for p in out if p["id"] == "polar-h10")
    acc = next(s for s in h10["streams"] if s["kind"] == "acc")
    assert acc["rate_hz"] == 200 and acc["units"] == profiles["polar-h10"].stream("acc").units
    assert acc["channels"] == ["x", "y", "z"]
    myo = next(p for p in out if p["id"] == "myo")
    assert {s["kind"] for s in myo["streams"]} >= {"emg", "acc"}


def test_devices_text(capsys):
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    assert "polar-h10" in out and "200 Hz" in out


def test_scan_simulate_finds_one_device_per_profile(capsys):
    assert main(["scan", "--simulate", "--timeout", "0.5", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert sorted(d["profile"] for d in found) == sorted(load_profiles())
    assert all(d["address"] and d["name"] for d in found)
    assert any(d["name"].startswith("Polar H10") for d in found if d["profile"] == "polar-h10")


def test_scan_rejects_bad_timeout(capsys):
    assert main(["scan", "--simulate", "--timeout", "0"]) == 1
    assert "--timeout" in capsys.readouterr().err
