"""``spasmwatch evaluate --truth`` on a short recording; the quick evaluation."""

from __future__ import annotations

import json

import pytest

from spasmwatch.cli import main
from spasmwatch.pipeline import merge_blocks
from spasmwatch.simulation import WearerProfile, simulate_wearer, write_ground_truth_csv
from spasmwatch.store import write_recording


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    d = tmp_path_factory.mktemp("rec")
    w = WearerProfile(spasms_per_day=1500.0, disconnects_per_day=0.0)
    r = simulate_wearer(180.0, 8, ("myo", "polar-h10"), wearer=w)
    write_recording(d / "rec", merge_blocks([r.to_blocks(k, 2048) for k in r.specs]))
    write_ground_truth_csv(d / "ground_truth.csv", r.truth)
    return d / "rec", d / "ground_truth.csv"


def test_evaluate_json_has_every_detector_and_figure(recording, capsys):
    rec, gt = recording
    assert main(["evaluate", "--truth", str(gt), str(rec), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {
        "model",
        "baseline-emg-double-threshold",
        "baseline-acc-band-ratio",
    }
    for ev in out.values():
        p = ev["pooled"]
        for key in ("sensitivity", "precision", "f1", "false_alarms_per_24h", "latency"):
            assert key in p
        assert {"median_s", "p90_s"} <= set(p["latency"])
        assert p["n_truth"] > 0
        assert rec.name in ev["per_subject"]
    assert out["model"]["pooled"]["sensitivity"] > 0.5


def test_evaluate_markdown_and_usage_error(recording, capsys):
    rec, gt = recording
    assert main(["evaluate", "--truth", str(gt), str(rec)]) == 0
    assert "| pooled |" in capsys.readouterr().out
    assert main(["evaluate", str(rec)]) == 1


@pytest.mark.slow
def test_quick_evaluation_runs_on_the_committed_excerpts():
    from spasmwatch._evaluation import quick_evaluation

    res = quick_evaluation(0)
    assert res["wall_s"] < 60
    assert {"myo-rest", "myo-gesture", "daphnet-walking"} <= set(res["real"])
    assert res["n_truth"] > 0


def test_report_headline_false_alarms_include_retracted_onsets():
    """The targets table and the overall row count every alarm the wearer saw."""
    from spasmwatch._evaluation import _row, _targets_table
    from spasmwatch.episodes import Detection, SubjectRecord, TruthEvent, evaluate

    truth = [TruthEvent(100.0, 105.0, "tonic")]
    dets = [Detection(100.5, 105.0, "tonic", 101.0), Detection(500.0, 504.0, "tonic", 500.5)]
    ev = evaluate([SubjectRecord("w", truth, dets, 12 * 3600.0, n_retracted=3)])
    assert ev.pooled.false_alarms_per_24h == pytest.approx(2.0)
    assert ev.pooled.retracted_per_24h == pytest.approx(6.0)
    res = {"evaluation": ev, "real": {}}
    fa_row = next(r for r in _targets_table(res) if "false alarms incl. retracted" in r)
    assert "| 8.00 | **not met** | 2.00 false episodes + 6.00 retracted onsets |" in fa_row
    assert "| 8.00 | 2.00 + 6.00 |" in _row("model", res)


def test_scoring_in_worker_processes_gives_the_same_figures():
    from spasmwatch._evaluation import score_sources, test_sim_sources

    dets = {"model": "emg_acc.onnx", "baseline-emg": "baseline-emg"}
    one = score_sources(dets, test_sim_sources(2, 0.25, seed_base=555_000), [])
    two = score_sources(dets, test_sim_sources(2, 0.25, seed_base=555_000), [], jobs=2)
    for name in dets:
        a, b = one[name]["evaluation"].pooled, two[name]["evaluation"].pooled
        assert a.n_truth == b.n_truth > 0
        assert (a.sensitivity, a.false_alarms_per_24h, a.latency.median_s) == (
            b.sensitivity,
            b.false_alarms_per_24h,
            b.latency.median_s,
        )
        assert one[name]["missed"] == two[name]["missed"]
        assert one[name]["fa_causes"] == two[name]["fa_causes"]
