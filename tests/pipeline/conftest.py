"""A tiny real ONNX model (seconds to build) for the pipeline tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spasmwatch.models import ModelMetadata, SpasmModel
from spasmwatch.models._train import TrainConfig, _to_onnx, feature_names_for
from spasmwatch.signal import FEATURE_SET_VERSION


def build_tiny_model(
    path: Path,
    kinds=("emg", "acc"),
    lags=(4,),
    deltas=(),
    version=FEATURE_SET_VERSION,
    thresholds=None,
    emg_notch_hz=(50.0,),
) -> SpasmModel:
    """HGB on synthetic normalised features: spasm = high EMG RMS (or ACC MAGVAR)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    names = feature_names_for(kinds, lags, deltas, version)
    rng = np.random.default_rng(0)
    X = rng.normal(0.0, 0.3, size=(3000, len(names))).astype(np.float32)
    y = np.zeros(3000, int)
    y[:1500] = rng.integers(1, 5, 1500)
    X[:1500, 0] += 2.0  # the first feature (emg.RMS or acc.MAGVAR) is high in a spasm
    clf = HistGradientBoostingClassifier(max_iter=5, random_state=0).fit(X, y)
    onx = _to_onnx(clf, len(names))
    ModelMetadata(
        model_id="tiny-" + "-".join(kinds),
        version="0",
        input_layout="features",
        stream_kinds=tuple(kinds),
        rates_hz={k: TrainConfig().rates_hz[k] for k in kinds},
        window_s=2.0,
        hop_s=0.25,
        class_names=("none", "tonic", "clonic", "mixed", "myoclonic"),
        feature_names=names,
        feature_set=f"{version}:" + "+".join(kinds),
        min_channels={"acc": 3} if "acc" in kinds else {},
        thresholds=thresholds
        or {"onset": 0.6, "offset": 0.4, "confirm_windows": 2, "calibration_s": 10},
        emg_notch_hz=emg_notch_hz,
    ).attach_to(onx)
    path.write_bytes(onx.SerializeToString())
    return SpasmModel(path)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> SpasmModel:
    return build_tiny_model(tmp_path_factory.mktemp("m") / "tiny.onnx")


@pytest.fixture(scope="session")
def tiny_model_with_changes(tmp_path_factory) -> SpasmModel:
    """The tiny model with change columns (``@d1``) too: their history crosses blocks."""
    return build_tiny_model(tmp_path_factory.mktemp("m") / "tiny_d.onnx", deltas=(1,))


@pytest.fixture(scope="session")
def tiny_model_builder():
    """:func:`build_tiny_model` for tests that need their own variant (a fixture, because
    ``from conftest import ...`` picks whichever conftest module was imported first)."""
    return build_tiny_model
