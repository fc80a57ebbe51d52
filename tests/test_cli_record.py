"""``spasmwatch record`` through the real bleak API against simulated devices."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from spasmwatch.cli import main
from spasmwatch.store import open_recording

REPO = Path(__file__).resolve().parents[1]


def test_record_counts_within_half_a_percent(tmp_path, capsys):
    out = tmp_path / "rec"
    argv = ["record", "--simulate", "--speed", "15", "--device", "polar-h10", "--device",
            "myo", "--duration", "60", "--out", str(out), "--json"]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    for key in ("polar-h10.acc", "myo.emg"):
        s = summary["streams"][key]
        assert abs(s["samples"] - 60 * 200) <= 0.005 * 60 * 200, (key, s)
        assert abs(s["rate_hz"] - 200) < 1.0
        assert s["gaps"] == 0
    rec = open_recording(out, recover=False)
    assert (out / "manifest.json").exists()
    assert rec.n_samples("myo.emg") == summary["streams"]["myo.emg"]["samples"]
    assert rec.n_samples("polar-h10.acc") == summary["streams"]["polar-h10.acc"]["samples"]
    assert summary["devices"]["myo"]["decode_errors"] == 0


def test_record_realistic_faults_makes_loss_explicit(tmp_path, capsys):
    out = tmp_path / "rec"
    argv = ["record", "--simulate", "--speed", "20", "--device", "myo", "--duration", "30",
            "--faults", "realistic", "--seed", "3", "--out", str(out), "--json"]  # fmt: skip
    assert main(argv) == 0
    s = json.loads(capsys.readouterr().out)["streams"]["myo.emg"]
    # received + counted as missing = what the device produced in 30 s (200 Hz)
    assert abs(s["samples"] + s["missing_samples"] - 30 * 200) <= 0.005 * 30 * 200
    rec = open_recording(out)
    assert sum(g.n_missing for g in rec.gaps("myo.emg")) == s["missing_samples"]


def _spawn(out: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "spasmwatch.cli", "record", "--simulate", "--speed", "5",
           "--device", "polar-h10", "--out", str(out)]  # fmt: skip
    return subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _flushes(out: Path) -> list[dict]:
    j = out / "journal.jsonl"
    if not j.exists():
        return []
    lines = j.read_text().splitlines()
    return [json.loads(ln) for ln in lines if '"flush"' in ln and ln.endswith("}")]


def _wait_rows(out: Path, proc: subprocess.Popen, min_flushes: int) -> None:
    end = time.monotonic() + 60
    while time.monotonic() < end and proc.poll() is None:
        fl = [f for f in _flushes(out) if f["rows"].get("polar-h10.acc", 0) > 0]
        if len(fl) >= min_flushes:
            return
        time.sleep(0.1)
    raise AssertionError(f"no flushes (exit {proc.poll()})")


def test_kill_9_during_record_keeps_everything_up_to_the_last_flush(tmp_path):
    out = tmp_path / "rec"
    proc = _spawn(out)
    try:
        _wait_rows(out, proc, 3)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    last = _flushes(out)[-1]["rows"]
    rec = open_recording(out)  # recovery compacts the segments
    assert (out / "manifest.json").exists()
    for key, rows in last.items():
        assert rec.n_samples(key) >= rows
    assert rec.n_samples("polar-h10.acc") > 0
    t, _ = rec.read("polar-h10.acc")
    assert len(t) == rec.n_samples("polar-h10.acc") and (t[1:] >= t[:-1]).all()


def test_sigterm_during_record_closes_cleanly(tmp_path):
    out = tmp_path / "rec"
    proc = _spawn(out)
    try:
        _wait_rows(out, proc, 1)
        proc.send_signal(signal.SIGTERM)
        stdout, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert b"polar-h10.acc" in stdout and b"samples at" in stdout
    assert (out / "manifest.json").exists() and not (out / ".lock").exists()
    assert open_recording(out, recover=False).n_samples("polar-h10.acc") > 0
