"""The detection regression gate's logic (the gate itself runs in .ci/run)."""

import math
import subprocess

import pytest

from spasmwatch import _gate
from spasmwatch.errors import ConfigError

GOOD = {
    "sensitivity": 0.96,
    "precision": 0.9,
    "fa_per_24h": 0.5,
    "fa_incl_retracted_per_24h": 0.5,
    "latency_median_s": 0.8,
    "latency_p90_s": 1.5,
    "real": {"myo-rest": {"n": 0, "hours": 0.1, "per_h": 0.0}, "walk": {"per_h": 0.4}},
}
MODEL = {
    "name": "emg_acc.onnx",
    "min_sensitivity": 0.95,
    "max_fa_per_24h": 1.0,
    "max_latency_median_s": 1.0,
    "max_latency_p90_s": 2.0,
    "max_real_fa_per_h": 0.5,
}


def test_the_committed_gate_file_is_valid():
    cfg = _gate.load_gate()
    assert {m["name"] for m in cfg["model"]} >= {"emg_acc.onnx"}


def test_all_figures_within_limits_pass():
    checks = _gate.compare(MODEL, GOOD)
    assert len(checks) == 5 and all(c.passed for c in checks)


@pytest.mark.parametrize(
    "figure, value, failing",
    [
        ("sensitivity", 0.90, "sensitivity"),
        ("fa_incl_retracted_per_24h", 3.0, "fa_incl_retracted_per_24h"),
        ("latency_median_s", 1.2, "latency_median_s"),
        ("latency_p90_s", 2.5, "latency_p90_s"),
    ],
)
def test_a_worse_figure_fails_exactly_its_check(figure, value, failing):
    checks = _gate.compare(MODEL, {**GOOD, figure: value})
    assert [c.figure for c in checks if not c.passed] == [failing]


def test_worst_real_dataset_counts_and_nan_never_passes():
    worse = {**GOOD, "real": {"a": {"per_h": 0.1}, "b": {"per_h": 0.9}}}
    assert [c.figure for c in _gate.compare(MODEL, worse) if not c.passed] == ["real_fa_per_h_max"]
    nan = _gate.compare(MODEL, {**GOOD, "sensitivity": None})
    sens = next(c for c in nan if c.figure == "sensitivity")
    assert math.isnan(sens.value) and not sens.passed


def test_run_gate_uses_the_file_settings(tmp_path):
    f = tmp_path / "gate.toml"
    f.write_text(
        '[run]\nseed = 3\nn_wearers = 2\nhours = 0.1\n\n[[model]]\nname = "m.onnx"\n'
        "min_sensitivity = 0.95\n"
    )
    calls = []

    def fake(seed, **kw):
        calls.append((seed, kw))
        return {**GOOD, "sensitivity": 0.5}

    checks = _gate.run_gate(f, evaluate=fake)
    assert calls == [(3, {"n_wearers": 2, "hours": 0.1, "model": "m.onnx"})]
    assert [c.passed for c in checks] == [False]


@pytest.mark.parametrize(
    "text, needle",
    [
        ('[[model]]\nname = "m"\nmin_sensitivity = 1\n', "missing [run]"),
        ("[run]\nseed = 0\n", "no [[model]]"),
        ('[run]\nspeed = 1\n[[model]]\nname = "m"\nmin_sensitivity = 1\n', "run.speed"),
        ('[run]\n[[model]]\nname = "m"\nmin_sens = 1\n', "model[0].min_sens"),
        ('[run]\n[[model]]\nname = "m"\nmin_sensitivity = "high"\n', "expected a number"),
        ('[run]\n[[model]]\nname = "m"\n', "no limits"),
    ],
)
def test_bad_gate_files_are_refused_naming_the_key(tmp_path, text, needle):
    f = tmp_path / "gate.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        _gate.load_gate(f)


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_history_check_names_commits_without_a_reason(tmp_path):
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "config", "user.email", "t@example.org")
    _git(tmp_path, "config", "user.name", "t")
    gate = tmp_path / "detection-gate.toml"
    gate.write_text("a = 1\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "add gate\n\nGate-Reason: first limits")
    assert _gate.check_history(gate, tmp_path) == []
    gate.write_text("a = 2\n")
    _git(tmp_path, "commit", "-qam", "loosen quietly")
    bad = _gate.check_history(gate, tmp_path)
    assert len(bad) == 1
    (tmp_path / "other.txt").write_text("x")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "unrelated, no reason needed")
    assert _gate.check_history(gate, tmp_path) == bad
