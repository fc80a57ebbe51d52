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
        assert md.feature_names == feature_names_for(kinds, TINY.lags)
        assert md.rates_hz == {k: TINY.rates_hz[k] for k in kinds}
        assert md.seed == 11 and "simulated" in md.training_data
        assert {"onset", "offset", "confirm_windows", "calibration_s"} <= set(md.thresholds)
        assert "validation" in md.metrics
        # metadata round trip through the props map
        assert ModelMetadata.from_props(md.to_props()) == md
        p = m.predict(np.zeros((3, md.n_features), np.float32))
        assert p.p_spasm.shape == (3,) and np.all((p.p_spasm >= 0) & (p.p_spasm <= 1))
        assert (out / fname).stat().st_size < 5 * 1024 * 1024
    js = json.loads((out / "training.json").read_text())
    assert js["models"]["sw-acc"]["sha256"] == summary["models"]["sw-acc"]["sha256"]


def test_training_is_reproducible_from_the_seed(trained, tmp_path):
    out, summary = trained
    again = train_models(TINY, tmp_path, models=("sw-acc",))
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
