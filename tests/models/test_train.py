"""Training on a tiny configuration: ONNX that SpasmModel loads, metadata, reproducibility."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spasmwatch.models import ModelMetadata, SpasmModel, read_metadata
from spasmwatch.models._dataset import TYPE_CLASSES, label_frames
from spasmwatch.models._train import TrainConfig, feature_names_for, train_models

TINY = TrainConfig(
    seed=11,
    n_train=2,
    n_val=1,
    hours=0.06,
    spasms_per_day=3000.0,
    val_spasms_per_day=3000.0,
    max_iter=8,
    calibration_s=20.0,
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    summary = train_models(TINY, out, models=("sw-emg-acc", "sw-acc"))
    return out, summary


def test_tiny_training_exports_loadable_self_describing_models(trained):
    out, summary = trained
    for mid, kinds, fname in (("sw-emg-acc", ("emg", "acc"), "emg_acc.onnx"),
                              ("sw-acc", ("acc",), "acc.onnx")):  # fmt: skip
        m = SpasmModel(out / fname)
        md = m.metadata
        assert md.model_id == mid and md.stream_kinds == kinds
        assert md.class_names[0] == "none"
        assert md.feature_names == feature_names_for(kinds, TINY.lags, TINY.deltas)
        assert any("@d" in n for n in md.feature_names)
        assert md.rates_hz == {k: TINY.rates_hz[k] for k in kinds}
        assert md.seed == 11 and "simulated" in md.training_data
        assert {"onset", "offset", "confirm_windows", "calibration_s"} <= set(md.thresholds)
        assert "validation" in md.metrics
        assert md.emg_notch_hz == TINY.mains_hz == (50.0, 60.0)
        # metadata round trip through the props map
        assert ModelMetadata.from_props(md.to_props()) == md
        p = m.predict(np.zeros((3, md.n_features), np.float32))
        assert p.p_spasm.shape == (3,) and np.all((p.p_spasm >= 0) & (p.p_spasm <= 1))
        assert (out / fname).stat().st_size < 5 * 1024 * 1024
    js = json.loads((out / "training.json").read_text())
    assert js["models"]["sw-acc"]["sha256"] == summary["models"]["sw-acc"]["sha256"]


def test_training_is_reproducible_from_the_seed(trained, tmp_path):
    """... and does not depend on the number of frame workers (forked: 2 here, 1 above)."""
    out, summary = trained
    again = train_models(TINY, tmp_path, models=("sw-acc",), jobs=2)
    assert again["models"]["sw-acc"]["sha256"] == summary["models"]["sw-acc"]["sha256"]
    assert (tmp_path / "acc.onnx").read_bytes() == (out / "acc.onnx").read_bytes()
    assert (
        read_metadata(tmp_path / "acc.onnx").thresholds
        == read_metadata(out / "acc.onnx").thresholds
    )


def test_label_frames_rule():
    t = np.arange(0, 20, 0.25) + 0.25
    lab = label_frames(t, [(5.0, 8.0, "clonic"), (12.0, 12.1, "myoclonic")], window_s=2.0)
    clonic = TYPE_CLASSES.index("clonic")
    # window ending 5.25 overlaps 0.25 s >= 0.2 s: positive; 5.1 would be ambiguous
    assert lab[np.searchsorted(t, 5.25)] == clonic
    assert lab[np.searchsorted(t, 9.75)] == clonic  # window [7.75, 9.75] still holds the end
    assert lab[np.searchsorted(t, 10.25)] == 0
    # a 0.1 s jerk needs half its length (0.05 s) of overlap
    assert lab[np.searchsorted(t, 12.25)] == TYPE_CLASSES.index("myoclonic")
    assert lab[np.searchsorted(t, 3.0)] == 0


def test_target_cost_is_zero_only_when_every_target_is_met():
    from spasmwatch.models._train import target_cost

    ok = {
        "sensitivity": 0.96,
        "fa_per_24h": 0.5,
        "latency_median_s": 0.8,
        "latency_p90_s": 1.9,
        "fa_per_h.myo-gesture": 0.0,
        "fa_per_h.myo-rest": 0.1,
        "fa_per_h.daphnet-walking": 0.5,
    }
    assert target_cost(ok) == 0.0
    # each shortfall adds its scaled amount
    assert target_cost({**ok, "sensitivity": 0.90}) == pytest.approx(1.0)
    assert target_cost({**ok, "fa_per_24h": 4.0}) == pytest.approx(1.0)
    # retracted onsets are alarms the wearer saw: the total, not the final episodes, counts
    assert target_cost({**ok, "fa_incl_retracted_per_24h": 4.0}) == pytest.approx(1.0)
    assert target_cost({**ok, "fa_incl_retracted_per_24h": 0.9}) == 0.0
    assert target_cost({**ok, "latency_median_s": 1.5}) == pytest.approx(1.0)
    assert target_cost({**ok, "latency_p90_s": 3.0}) == pytest.approx(1.0)
    assert target_cost({**ok, "fa_per_h.myo-rest": 0.4}) == pytest.approx(1.0)
    # missing sensitivity / latency is the worst case, not a free pass
    assert target_cost({k: v for k, v in ok.items() if k != "latency_p90_s"}) > 5


def test_sim_weights_mark_onsets_and_hard_negatives():
    from spasmwatch.models._dataset import Source
    from spasmwatch.models._train import SPASM_WEIGHT, _sim_weights

    t = np.arange(0, 40, 0.25) + 0.25
    truth = [(10.0, 20.0, "tonic")]
    y = label_frames(t, truth, window_s=2.0)
    src = Source("sim-x", [], lambda: iter(()), 0, 40.0)
    src.info["confounders"] = [(30.0, 33.0, "voluntary"), (0.0, 40.0, "typing")]
    cfg = TrainConfig(confounder_weight=3.0, onset_weight=2.0, onset_span_s=1.5)
    w = _sim_weights(t, y, truth, src, cfg)
    i_on = np.searchsorted(t, 11.0)  # 1 s into the event: onset frame
    i_mid = np.searchsorted(t, 15.0)
    i_vol = np.searchsorted(t, 31.0)
    i_quiet = np.searchsorted(t, 5.0)  # only "typing" (a background state): weight 1
    assert w[i_on] == SPASM_WEIGHT * 2.0
    assert w[i_mid] == SPASM_WEIGHT
    assert w[i_vol] == 3.0
    assert w[i_quiet] == 1.0


def test_threshold_choice_reports_grid_edges():
    from spasmwatch.models._train import THRESHOLD_GRID, _at_edge

    mid = {"onset": sorted(THRESHOLD_GRID["onset_threshold"])[2], "confirm_windows": 2.0}
    assert _at_edge(mid) == []
    edge = {"onset": max(THRESHOLD_GRID["onset_threshold"]), "confirm_windows": 1.0}
    assert _at_edge(edge) == ["onset", "confirm_windows"]


def test_real_false_alarms_include_retracted_onsets():
    from spasmwatch.episodes import Detection
    from spasmwatch.models._train import _real_fa

    intervals = [(0.0, 1800.0, "myo-rest"), (1800.0, 3600.0, "myo-gesture")]
    dets = [Detection(100.0, 104.0, "tonic", 100.5)]
    assert dict((lab, n) for lab, n, _h in _real_fa(dets, intervals)) == {
        "myo-rest": 1,
        "myo-gesture": 0,
    }
    got = {lab: (n, h) for lab, n, h in _real_fa(dets, intervals, [200.0, 2000.0, 2100.0])}
    assert got == {"myo-rest": (2, 0.5), "myo-gesture": (2, 0.5)}


def _scored(name, p, truth, emg_channels):
    from types import SimpleNamespace

    from spasmwatch.models._train import _Scored

    n = len(p)
    t_ns = np.round((np.arange(n) + 1) * 0.25 * 1e9).astype(np.int64)
    src = SimpleNamespace(start_ns=0, intervals=[], name=name)
    pt = np.tile([1.0, 0.0, 0.0, 0.0], (n, 1))
    return _Scored(name, t_ns, np.asarray(p, float), pt, np.ones(n), src, truth, 0.0, emg_channels)


def test_device_thresholds_are_chosen_per_emg_channel_count():
    """Wearers with 2 EMG channels have brief p = 0.93 blips outside spasms: their own
    operating point needs a higher onset threshold; the 8-channel wearers keep the lowest
    grid onset, which detects their weak (p = 0.8) spasms."""
    from spasmwatch.models._train import THRESHOLD_GRID, choose_device_thresholds

    types = ["tonic", "clonic", "mixed", "myoclonic"]
    items = []
    for i in range(8):
        p = np.full(2400, 0.01)  # 600 s
        truth = [(100.0, 110.0, "tonic"), (300.0, 310.0, "tonic")]
        for a, _b, _t in truth:
            k = int(a / 0.25)
            p[k + 2 : k + 44] = 0.8 if i % 2 else 0.99
        items.append(_scored(f"w8-{i}", p.copy(), truth, 8))
        q = np.full(2400, 0.01)
        for a, _b, _t in truth:
            k = int(a / 0.25)
            q[k + 2 : k + 44] = 0.99
        q[int(200 / 0.25) : int(200 / 0.25) + 12] = 0.93  # 3 s blip: a false alarm at 0.9
        items.append(_scored(f"w2-{i}", q, truth, 2))
    got = choose_device_thresholds(items, hop_s=0.25, window_s=2.0, type_names=types)
    assert sorted(got) == [2, 8]
    th2, m2 = got[2]
    th8, m8 = got[8]
    assert th2["onset"] > 0.93 and m2["sensitivity"] == 1.0 and m2["fa_per_24h"] == 0.0
    assert th8["onset"] == min(THRESHOLD_GRID["onset_threshold"]) and m8["sensitivity"] == 1.0
    # one channel count only, or too few wearers: no device thresholds
    assert choose_device_thresholds(items[::2], hop_s=0.25, window_s=2.0, type_names=types) == {}
    few = [it for it in items if it.emg_channels == 8] + items[1:4:2]  # 2 two-channel wearers
    assert list(choose_device_thresholds(few, hop_s=0.25, window_s=2.0, type_names=types)) == [8]


def test_early_confirm_is_chosen_only_where_clonic_onsets_gain_and_nothing_is_lost():
    """Second stage of the threshold choice. Clonic spasms look clonic from their first
    window; a voluntary contraction outside spasms reaches p = 0.99 for two windows but
    looks tonic. Type-corroborated onsets confirm the clonic spasms a window earlier without
    adding that false alarm; when the false alarm looks clonic too, the rule costs more
    than it gains and the grid's setting stays as it is (early_confirm_windows 0)."""
    from spasmwatch.models._train import _Scored, choose_early_confirm

    types = ["tonic", "clonic", "mixed", "myoclonic"]
    th = {"onset": 0.96, "offset": 0.66, "confirm_windows": 3.0, "min_duration_s": 2.0,
          "merge_gap_s": 1.0}  # fmt: skip

    def items(blip_type: int) -> list:
        out = []
        for i in range(6):
            p = np.full(4800, 0.01)  # 1200 s
            pt = np.tile([0.8, 0.1, 0.05, 0.05], (4800, 1))
            truth = [(100.0 + 300 * j, 110.0 + 300 * j, "clonic") for j in range(4)]
            for a, _b, _t in truth:
                k = int(a / 0.25)
                p[k + 2 : k + 44] = 0.99
                pt[k + 2 : k + 44] = [0.05, 0.9, 0.03, 0.02]
            k = int((250.0 + 10 * i) / 0.25)
            p[k : k + 2] = 0.99  # two windows: a false alarm with a 2-window rule only
            pt[k : k + 2] = np.eye(4)[blip_type] * 0.9 + 0.025
            it = _scored(f"w-{i}", p, truth, 8)
            out.append(_Scored(it.name, it.t_ns, it.p, pt, it.inten, it.src, truth, 0.0, 8))
        return out

    kw = dict(hop_s=0.25, window_s=2.0, type_names=types)
    got, m = choose_early_confirm(items(0), th, **kw)
    assert got["early_confirm_windows"] >= 1 and got["early_confirm_type_p.clonic"] >= 0.5
    assert {k: v for k, v in got.items() if not k.startswith("early")} == th
    assert m["sensitivity"] == 1.0 and m["fa_per_24h"] == 0.0
    plain, m0 = choose_early_confirm(items(1), th, **kw)  # the blip looks clonic
    assert plain["early_confirm_windows"] == 0.0 and m0["fa_per_24h"] == 0.0
    assert m["latency_median_s"] < m0["latency_median_s"]


def test_threshold_grid_scored_in_workers_gives_the_same_choice():
    """Two forked workers score the grid: same thresholds, metrics and grid rows, in order."""
    from spasmwatch.models._train import choose_thresholds

    types = ["tonic", "clonic", "mixed", "myoclonic"]
    items = []
    for i in range(3):
        p = np.full(2400, 0.01)
        truth = [(100.0, 110.0, "tonic"), (300.0, 303.0, "tonic")]
        p[402:440] = 0.95
        p[1202:1212] = 0.8 + 0.05 * i
        p[2000 + 4 * i : 2010 + 4 * i] = 0.92  # a false alarm at low thresholds
        items.append(_scored(f"w-{i}", p, truth, 8))
    one = choose_thresholds(items, hop_s=0.25, window_s=2.0, type_names=types)
    two = choose_thresholds(items, hop_s=0.25, window_s=2.0, type_names=types, jobs=2)
    assert repr(one) == repr(two)  # repr: NaN metrics (no latency) compare equal
    assert len(one[2]) > 50  # the whole grid, not a prefix


def test_cli_defaults_are_the_training_and_evaluation_defaults():
    """The command modules repeat the defaults as literals (their parsers must not import
    the training code); this keeps the twins from drifting apart."""
    import inspect

    from spasmwatch._evaluation import write_report
    from spasmwatch.cli import build_parser

    parser = build_parser()
    train = parser.parse_args(["train"])
    cfg = TrainConfig()
    assert (train.seed, train.wearers, train.val_wearers, train.hours) == (
        cfg.seed,
        cfg.n_train,
        cfg.n_val,
        cfg.hours,
    )
    assert tuple(float(f) for f in train.mains.split(",")) == cfg.mains_hz
    ev = parser.parse_args(["evaluate"])
    params = inspect.signature(write_report).parameters
    assert ev.test_wearers == params["n_wearers"].default
    assert ev.hours == params["hours"].default
    assert ev.robustness_wearers == params["robustness_wearers"].default


def test_hard_negative_mining_finds_and_suppresses_confident_negatives():
    from sklearn.ensemble import HistGradientBoostingClassifier

    from spasmwatch.models._train import _hard_negatives

    rng = np.random.default_rng(3)
    X = rng.normal(size=(4000, 2)).astype(np.float32)
    y = (X[:, 0] > 1.0).astype(int)
    y[(X[:, 0] > 1.0) & (rng.random(4000) < 0.3)] = 0  # negatives that look like positives
    kw = dict(max_iter=20, max_leaf_nodes=4, random_state=0)
    clf = HistGradientBoostingClassifier(**kw).fit(X, y)
    hard = _hard_negatives(clf, X, y, 0.3)
    p = clf.predict_proba(X)[:, 1]
    assert np.array_equal(hard, (y == 0) & (p > 0.3)) and hard.sum() > 10
    again = HistGradientBoostingClassifier(**kw).fit(X, y, sample_weight=np.where(hard, 8.0, 1.0))
    assert again.predict_proba(X[hard])[:, 1].mean() < p[hard].mean() - 0.1


@pytest.mark.parametrize("kw", [dict(n_train=0), dict(n_train=401), dict(n_val=501)])
def test_wearer_counts_that_would_reuse_validation_seeds_are_refused(kw):
    from spasmwatch.errors import ConfigError

    with pytest.raises(ConfigError, match="must not overlap"):
        TrainConfig(**kw)
