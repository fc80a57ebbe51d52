"""``spasmwatch detect`` on a short simulated recording with the bundled models."""

from __future__ import annotations

import json

import pytest

from spasmwatch.cli import main
from spasmwatch.pipeline import merge_blocks
from spasmwatch.simulation import WearerProfile, simulate_wearer, write_ground_truth_csv
from spasmwatch.store import write_recording

FIELDS = {"start_s", "end_s", "start_utc", "end_utc", "type", "severity", "confidence"}


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    d = tmp_path_factory.mktemp("rec")
    w = WearerProfile(spasms_per_day=1500.0, disconnects_per_day=0.0, spasm_intensity=0.7)
    r = simulate_wearer(240.0, 21, ("myo", "polar-h10"), wearer=w, confounders=False)
    write_recording(d / "rec", merge_blocks([r.to_blocks(k, 2048) for k in r.specs]))
    write_ground_truth_csv(d / "ground_truth.csv", r.truth)
    return d / "rec", d / "ground_truth.csv", r.truth


def test_detect_json_finds_the_simulated_spasms(recording, capsys):
    rec, _, truth = recording
    assert len(truth) >= 5
    assert main(["detect", str(rec), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model_id"] == "sw-emg-acc"
    eps = out["episodes"]
    assert eps and all(FIELDS <= set(e) for e in eps)
    assert all(e["start_utc"].endswith("Z") and e["end_s"] >= e["start_s"] for e in eps)
    hit = sum(
        any(e["start_s"] <= t.end_s + 2 and e["end_s"] >= t.start_s - 2 for e in eps) for t in truth
    )
    assert hit / len(truth) >= 0.6, f"only {hit} of {len(truth)} simulated spasms detected"


def test_detect_text_and_model_choice(recording, capsys, tmp_path):
    rec, _, _ = recording
    from spasmwatch.models import BUNDLED_DIR

    assert main(["detect", str(rec), "--model", str(BUNDLED_DIR / "emg.onnx")]) == 0
    text = capsys.readouterr().out
    assert "model sw-emg on myo.emg" in text
    assert main(["detect", str(tmp_path / "missing")]) == 1
