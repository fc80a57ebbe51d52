"""Real onnxruntime sessions on tiny models built here (skl2onnx and the onnx helper API)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from skl2onnx import to_onnx
from sklearn.linear_model import LogisticRegression

import spasmwatch.models as models
from spasmwatch import StreamSpec
from spasmwatch.errors import ModelError
from spasmwatch.models import ModelMetadata, SpasmModel, choose_bundled_model, read_metadata

CLASSES = ("none", "tonic", "clonic", "mixed")
FEATS = ("emg_rms", "emg_mnf", "acc_band_ratio", "acc_rms")


def _meta(**kw) -> ModelMetadata:
    base = dict(
        model_id="test-emg-acc",
        version="0.1",
        input_layout="features",
        stream_kinds=("emg", "acc"),
        rates_hz={"emg": 200, "acc": 50},
        min_channels={"acc": 3},
        window_s=2.0,
        hop_s=0.25,
        class_names=CLASSES,
        feature_names=FEATS,
        feature_set="fs-test",
        thresholds={"onset": 0.6, "offset": 0.4},
        training_data="synthetic gaussian blobs (test)",
        seed=7,
        metrics={"event_sensitivity": 0.9},
    )
    base.update(kw)
    return ModelMetadata(**base)


def _logreg_onnx(path, meta: ModelMetadata, n_features: int | None = None):
    rng = np.random.default_rng(0)
    nf = n_features if n_features is not None else meta.n_features
    X = rng.normal(size=(400, nf)).astype(np.float32)
    y = np.argmax(
        X[:, : len(meta.class_names)] + rng.normal(0, 0.3, (400, len(meta.class_names)))
        if nf >= len(meta.class_names)
        else rng.normal(size=(400, len(meta.class_names))),
        axis=1,
    )
    clf = LogisticRegression(max_iter=500).fit(X, y)
    onx = to_onnx(clf, X[:1], options={id(clf): {"zipmap": False}}, target_opset=15)
    meta.attach_to(onx)
    onnx.save(onx, str(path))
    return clf


@pytest.fixture
def model_file(tmp_path):
    meta = _meta()
    path = tmp_path / "m.onnx"
    clf = _logreg_onnx(path, meta)
    return path, clf, meta


def test_metadata_props_round_trip():
    m = _meta()
    props = m.to_props()
    assert all(isinstance(v, str) for v in props.values())
    assert json.loads(props["class_names"]) == list(CLASSES)
    back = ModelMetadata.from_props(props)
    assert back == m
    assert back.type_names == ("tonic", "clonic", "mixed")
    assert back.min_channels == {"emg": 1, "acc": 3}
    assert back.min_rates_hz == {"emg": 200.0, "acc": 25.0}  # the rate contract


def test_min_rates_default_to_the_contract_and_old_files_without_them_still_load():
    assert _meta(rates_hz={"emg": 1000, "acc": 50}).min_rates_hz == {"emg": 200.0, "acc": 25.0}
    # a model whose own rate is below the contract accepts its own rate
    assert _meta(rates_hz={"emg": 200, "acc": 20}).min_rates_hz["acc"] == 20.0
    assert _meta(min_rates_hz={"acc": 40}).min_rates_hz == {"emg": 200.0, "acc": 40.0}
    props = _meta().to_props()
    del props["min_rates_hz"]  # written before the field existed
    assert ModelMetadata.from_props(props).min_rates_hz == {"emg": 200.0, "acc": 25.0}


def test_emg_notch_round_trips_and_old_files_mean_50_hz():
    both = _meta(emg_notch_hz=(60, 50))
    assert both.emg_notch_hz == (50.0, 60.0)
    assert json.loads(both.to_props()["emg_notch_hz"]) == [50.0, 60.0]
    assert ModelMetadata.from_props(both.to_props()) == both
    props = both.to_props()
    del props["emg_notch_hz"]  # models trained before the key existed notched 50 Hz only
    assert ModelMetadata.from_props(props).emg_notch_hz == (50.0,)
    props["emg_notch_hz"] = "60"  # a bare number is read as a one-element list
    assert ModelMetadata.from_props(props).emg_notch_hz == (60.0,)


@pytest.mark.parametrize(
    "kw, needle",
    [
        (dict(input_layout="pixels"), "input_layout"),
        (dict(stream_kinds=("eeg",), rates_hz={"eeg": 1}), "stream_kinds"),
        (dict(rates_hz={"emg": 200}), "rates_hz"),
        (dict(rates_hz={"emg": 0, "acc": 50}), "rates_hz.emg"),
        (dict(hop_s=3.0), "hop_s"),
        (dict(class_names=("tonic", "clonic")), "negative_class"),
        (dict(feature_names=()), "feature_names"),
        (dict(thresholds={"onset": 0.3, "offset": 0.5}), "thresholds.offset"),
        (dict(thresholds={"onset": 0.9, "offset": 0.6, "onset@emg2": 0.5}), "offset@emg2"),
        (dict(thresholds={"onset": 0.9, "offset": 0.6, "onset@emg2": 1.5}), "onset@emg2"),
        (dict(thresholds={"onset": 0.9, "offset": 0.6, "onset@acc3": 0.9}), "onset@acc3"),
        (dict(thresholds={"onset": 0.9, "offset": 0.6, "onset@emg0": 0.9}), "onset@emg0"),
        (
            dict(
                stream_kinds=("acc",),
                rates_hz={"acc": 50},
                thresholds={"onset": 0.9, "offset": 0.6, "onset@emg2": 0.9},
            ),
            "model has no EMG",
        ),
        (dict(min_channels={"gyro": 3}), "min_channels"),
        (dict(min_rates_hz={"acc": 100}), "min_rates_hz.acc"),
        (dict(min_rates_hz={"acc": 0}), "min_rates_hz.acc"),
        (dict(min_rates_hz={"gyro": 25}), "min_rates_hz"),
        (dict(emg_notch_hz=(55.0,)), "emg_notch_hz"),
        (dict(emg_notch_hz=()), "emg_notch_hz"),
    ],
)
def test_metadata_validation_names_the_field(kw, needle):
    with pytest.raises(ModelError, match=needle):
        _meta(**kw)


def test_device_thresholds_override_plain_keys_for_their_channel_count_only():
    md = _meta(
        thresholds={
            "onset": 0.9,
            "offset": 0.6,
            "confirm_windows": 3,
            "onset@emg2": 0.96,
            "offset@emg2": 0.66,
            "confirm_windows@emg2": 4,
        }
    )
    assert md.emg_channel_groups == (2,)
    assert md.thresholds_for(2) == {"onset": 0.96, "offset": 0.66, "confirm_windows": 4.0}
    pooled = {"onset": 0.9, "offset": 0.6, "confirm_windows": 3.0}
    assert md.thresholds_for(8) == pooled  # no keys of its own: the pooled operating point
    assert md.thresholds_for(None) == pooled
    back = ModelMetadata.from_props(md.to_props())
    assert back.thresholds_for(2) == md.thresholds_for(2)


def test_from_props_refuses_foreign_and_malformed_maps():
    with pytest.raises(ModelError, match="not a spasmwatch model") as ei:
        ModelMetadata.from_props({"model_id": "x"}, source="foo.onnx")
    assert ei.value.reason == "no_metadata"
    props = _meta().to_props()
    props["class_names"] = "[tonic"
    with pytest.raises(ModelError, match="'class_names' is not valid JSON"):
        ModelMetadata.from_props(props)
    del props["window_s"]
    with pytest.raises(ModelError, match="lacks 'window_s'"):
        ModelMetadata.from_props(props)


def test_real_session_matches_sklearn_and_metadata_survives_file(model_file):
    path, clf, meta = model_file
    m = SpasmModel(path)
    assert m.metadata == meta
    assert read_metadata(path) == meta
    X = np.random.default_rng(1).normal(size=(37, 4)).astype(np.float32)
    out = m.predict(X)
    ref = clf.predict_proba(X)
    assert out.p_spasm.shape == (37,) and out.p_types.shape == (37, 3)
    np.testing.assert_allclose(out.p_spasm, 1 - ref[:, 0], atol=1e-5)
    cond = ref[:, 1:] / ref[:, 1:].sum(axis=1, keepdims=True)
    np.testing.assert_allclose(out.p_types, cond, atol=1e-5)
    np.testing.assert_allclose(out.p_types.sum(axis=1), 1.0, atol=1e-9)
    assert out.type_names == ("tonic", "clonic", "mixed")


def test_batch_equals_single_windows(model_file):
    path, _, _ = model_file
    m = SpasmModel(path)
    X = np.random.default_rng(2).normal(size=(20, 4))
    batch = m.predict(X)
    for i in range(20):
        one = m.predict(X[i])
        assert len(one) == 1
        np.testing.assert_allclose(one.p_spasm[0], batch.p_spasm[i], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(one.p_types[0], batch.p_types[i], rtol=1e-6, atol=1e-7)
    empty = m.predict(np.zeros((0, 4)))
    assert empty.p_spasm.shape == (0,) and empty.p_types.shape == (0, 3)


@pytest.mark.parametrize("shape", [(5, 3), (5, 5), (2, 2, 4), (3,)])
def test_predict_refuses_wrong_shapes(model_file, shape):
    m = SpasmModel(model_file[0])
    with pytest.raises(ModelError, match=r"shape \(n_windows, 4\)") as ei:
        m.predict(np.zeros(shape))
    assert ei.value.reason == "bad_input"
    with pytest.raises(ModelError, match="numeric"):
        m.predict(np.array([["a"] * 4]))


def test_session_is_single_threaded_sequential_by_default(model_file):
    import onnxruntime as ort

    m = SpasmModel(model_file[0])
    so = m.session_options
    assert so.intra_op_num_threads == 1
    assert so.inter_op_num_threads == 1
    assert so.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert SpasmModel(model_file[0], intra_op_threads=2).session_options.intra_op_num_threads == 2
    with pytest.raises(ModelError, match="intra_op_threads"):
        SpasmModel(model_file[0], intra_op_threads=0)


def _spec(kind, rate, channels):
    return StreamSpec("dev", kind, tuple(f"c{i}" for i in range(channels)), rate, "u")


def test_check_streams_accepts_fitting_streams(model_file):
    m = SpasmModel(model_file[0])
    m.check_streams([_spec("emg", 200, 8), _spec("acc", 52, 3), _spec("gyro", 50, 3)])
    m.check_streams([_spec("emg", 198.5, 1), _spec("acc", 50, 3)])  # within 2 % slack
    m.check_streams([_spec("emg", 200, 8), _spec("acc", 25, 3)])  # upsampled to 50 Hz


def test_check_streams_says_what_does_not_match(model_file):
    m = SpasmModel(model_file[0])
    with pytest.raises(ModelError) as ei:
        m.check_streams([_spec("emg", 100, 8)])
    msg = str(ei.value)
    assert ei.value.reason == "stream_mismatch"
    assert "needs a 'acc' stream" in msg
    assert "runs at 100 Hz, the model needs >= 200 Hz" in msg
    with pytest.raises(ModelError, match=r"runs at 20 Hz, the model needs >= 25 Hz"):
        m.check_streams([_spec("emg", 200, 8), _spec("acc", 20, 3)])
    with pytest.raises(ModelError, match=r"has 1 channel\(s\), the model needs >= 3"):
        m.check_streams([_spec("emg", 200, 8), _spec("acc", 50, 1)])


def test_load_errors(tmp_path):
    with pytest.raises(ModelError, match="does not exist") as ei:
        SpasmModel(tmp_path / "nope.onnx")
    assert ei.value.reason == "missing"
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx file")
    with pytest.raises(ModelError, match="cannot load") as ei:
        SpasmModel(bad)
    assert ei.value.reason == "invalid"
    # a valid ONNX graph without spasmwatch metadata
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])
    y = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 4])
    g = helper.make_graph([helper.make_node("Softmax", ["x"], ["probabilities"])], "g", [x], [y])
    plain = helper.make_model(g, opset_imports=[helper.make_opsetid("", 15)])
    plain.ir_version = 8
    onnx.save(plain, str(tmp_path / "plain.onnx"))
    with pytest.raises(ModelError, match="not a spasmwatch model") as ei:
        SpasmModel(tmp_path / "plain.onnx")
    assert ei.value.reason == "no_metadata"
    # metadata that disagrees with the graph: 5 features listed, graph takes 4
    _meta(feature_names=(*FEATS, "extra")).attach_to(plain)
    onnx.save(plain, str(tmp_path / "mismatch.onnx"))
    with pytest.raises(ModelError, match="metadata lists 5 features"):
        SpasmModel(tmp_path / "mismatch.onnx")


def test_hand_built_softmax_graph_with_other_output_name(tmp_path):
    x = helper.make_tensor_value_info("feats", TensorProto.FLOAT, [None, 4])
    y = helper.make_tensor_value_info("probs", TensorProto.FLOAT, [None, 4])
    g = helper.make_graph(
        [helper.make_node("Softmax", ["feats"], ["probs"], axis=1)], "g", [x], [y]
    )
    mp = helper.make_model(g, opset_imports=[helper.make_opsetid("", 15)])
    mp.ir_version = 8
    _meta(output_name="probs").attach_to(mp)
    onnx.save(mp, str(tmp_path / "soft.onnx"))
    m = SpasmModel(tmp_path / "soft.onnx")
    X = np.array([[0.0, 0.0, 0.0, 0.0], [5.0, 0.0, 0.0, 0.0], [0.0, 2.0, 1.0, 1.0]])
    out = m.predict(X)
    e = np.exp(X - X.max(axis=1, keepdims=True))
    sm = e / e.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(out.p_spasm, 1 - sm[:, 0], atol=1e-6)
    np.testing.assert_allclose(out.p_types[0], [1 / 3] * 3, rtol=1e-6)


def test_choose_bundled_model_prefers_most_streams(tmp_path):
    for name, kinds in [("a_acc", ("acc",)), ("b_emg", ("emg",)), ("c_both", ("emg", "acc"))]:
        meta = _meta(
            model_id=name.replace("_", "-"),
            stream_kinds=kinds,
            rates_hz={k: 50 for k in kinds},
            min_channels={},
        )
        _logreg_onnx(tmp_path / f"{name}.onnx", meta)
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    assert choose_bundled_model({"emg", "acc", "gyro"}, tmp_path).name == "c_both.onnx"
    assert choose_bundled_model(["emg"], tmp_path).name == "b_emg.onnx"
    assert choose_bundled_model(["acc", "gyro"], tmp_path).name == "a_acc.onnx"
    with pytest.raises(ModelError, match=r"no model in .* fits the available streams \['ecg'\]"):
        choose_bundled_model(["ecg"], tmp_path)


def test_public_api_is_pinned():
    assert sorted(models.__all__) == [
        "BUNDLED_DIR",
        "FORMAT_VERSION",
        "MIN_STREAM_RATES_HZ",
        "ModelMetadata",
        "Probabilities",
        "SpasmModel",
        "choose_bundled_model",
        "read_metadata",
    ]
