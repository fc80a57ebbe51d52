"""Model input columns (features, lags, changes): parsing, and training inputs == live inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spasmwatch.errors import ModelError
from spasmwatch.models._dataset import frames_of, normalise_frames, simulated_source
from spasmwatch.models._train import feature_names_for
from spasmwatch.pipeline import FeatureFrontEnd
from spasmwatch.pipeline._detection import FeatureColumn, parse_feature_names
from spasmwatch.signal import FeatureSet

WINDOW_S, HOP_S, CAL_S = 2.0, 0.25, 10.0
RATES = {"emg": 200.0, "acc": 50.0}


def test_names_parse_into_lags_and_changes():
    cols = parse_feature_names(["emg.RMS", "emg.RMS@-4", "acc.JERK@d1", "acc.JERK@d12"])
    assert cols == [
        FeatureColumn("emg.RMS", 0, False),
        FeatureColumn("emg.RMS", 4, False),
        FeatureColumn("acc.JERK", 1, True),
        FeatureColumn("acc.JERK", 12, True),
    ]


@pytest.mark.parametrize("bad", ["emg.RMS@-0", "emg.RMS@d0", "emg.RMS@x3", "emg.RMS@-", "emg.RMS@"])
def test_bad_suffix_is_refused_with_the_grammar(bad):
    with pytest.raises(ModelError, match=r"'@-<k>' \(lag\) or '@d<k>'"):
        parse_feature_names([bad])


def test_feature_names_for_lists_lags_then_changes():
    names = feature_names_for(("acc",), (1, 4), (4,))
    base = ("MAGVAR", "JERK", "BPR", "DOMF", "SPEN", "ORIENT", "JERK_REC", "MAGVAR_REC")
    assert names[:8] == tuple(f"acc.{n}" for n in base)
    assert names[8] == "acc.MAGVAR@-1" and names[16] == "acc.MAGVAR@-4"
    assert names[24:] == tuple(n + "@d4" for n in names[:8])


def test_static_features_get_no_lagged_or_change_columns():
    names = feature_names_for(("emg",), (1, 4), (1, 4))
    assert "emg.NCH" in names and not [n for n in names if n.startswith("emg.NCH@")]
    moving = [n for n in names if "@" not in n and n != "emg.NCH"]
    assert len(names) == len(moving) * 5 + 1  # base, 2 lags, 2 changes; NCH once
    fs2 = FeatureSet(("emg",), "fs-2").names  # no static feature: every column is lagged
    assert feature_names_for(("emg",), (1,), (), "fs-2") == fs2 + tuple(f"{n}@-1" for n in fs2)


@pytest.fixture(scope="module")
def source():
    # 100 s with spasms and BLE losses (segment starts inside the run)
    return simulated_source(31, 100.0, spasms_per_day=3000.0, block_s=7.0)


def _live(src, names):
    front = FeatureFrontEnd(
        src.specs, RATES, names, window_s=WINDOW_S, hop_s=HOP_S, calibration_s=CAL_S,
        stale_timeout_s=None,
    )  # fmt: skip
    parts = [front.update(b) for b in src.blocks()]
    parts.append(front.flush())
    t = np.concatenate([p.t_end_ns for p in parts])
    X = np.concatenate([p.X for p in parts])
    return t, X


def test_training_inputs_equal_the_live_front_end(source):
    """What the classifier is trained on is exactly what it is fed live (no skew)."""
    names = feature_names_for(("emg", "acc"), (1, 4), (1, 4))
    fr = frames_of(source, RATES, window_s=WINDOW_S, hop_s=HOP_S)
    X_train, ok = normalise_frames(fr, names, calibration_s=CAL_S, hop_s=HOP_S)
    t_live, X_live = _live(source, names)
    t_train = source.start_ns + np.round(fr.t_s * 1e9).astype(np.int64)
    np.testing.assert_array_equal(t_train, t_live)
    assert ok.sum() > 200
    np.testing.assert_allclose(X_train[ok], X_live[ok], rtol=1e-5, atol=1e-5)
    assert np.isnan(X_live[~ok]).all()


def test_change_columns_are_now_minus_then(source):
    names = ("emg.RMS", "emg.RMS@-4", "emg.RMS@d4")
    _, X = _live(source, names)
    ok = np.isfinite(X).all(axis=1)
    np.testing.assert_allclose(X[ok, 2], X[ok, 0] - X[ok, 1], atol=1e-5)
    assert np.abs(X[ok, 2]).max() > 0.5  # spasm onsets make real rises


@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(block_s=st.sampled_from([0.13, 0.5, 3.7, 25.0]))
def test_lag_and_change_columns_chunked_equal_whole(source, block_s):
    """Lag/change history carried across blocks gives the same inputs whatever the blocks."""
    names = feature_names_for(("emg", "acc"), (1, 4), (1, 4))
    t1, X1 = _live(source, names)
    chunked = simulated_source(31, 100.0, spasms_per_day=3000.0, block_s=block_s)
    t2, X2 = _live(chunked, names)
    np.testing.assert_array_equal(t1, t2)
    # the features agree to float rounding across chunkings (tests/signal); the columns
    # built from them must not add more than that
    np.testing.assert_array_equal(np.isnan(X1), np.isnan(X2))
    np.testing.assert_allclose(X1, X2, rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize("version, n_base", [("fs-1", 17), ("fs-2", 20), ("fs-3", 21)])
def test_a_model_gets_the_feature_set_it_was_trained_on(
    tmp_path, tiny_model_builder, version, n_base
):
    """Models of older feature sets keep running after a newer one became the default."""
    from spasmwatch.pipeline import DetectionPipeline, run_blocks

    model = tiny_model_builder(tmp_path / "m.onnx", version=version)
    src = simulated_source(5, 60.0, spasms_per_day=3000.0)
    pipe = DetectionPipeline(src.specs, model, stale_timeout_s=None, calibration_s=10.0)
    assert pipe.front.feature_set.version == version
    assert len(pipe.front.feature_set.names) == n_base
    _, scores = run_blocks(pipe, src.blocks())
    assert len(scores) > 100 and np.isfinite([s.p_spasm for s in scores]).mean() > 0.5
