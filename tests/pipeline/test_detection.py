"""DetectionPipeline: the same objects live and offline; chunked == whole; stats."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spasmwatch.core import SampleBlock
from spasmwatch.errors import ModelError
from spasmwatch.pipeline import (
    STAGES,
    DetectionPipeline,
    detect_recording,
    merge_blocks,
    run_blocks,
    select_streams,
)
from spasmwatch.simulation import WearerProfile, simulate_wearer
from spasmwatch.store import write_recording

WEARER = WearerProfile(spasms_per_day=2000.0, disconnects_per_day=0.0)


@pytest.fixture(scope="module")
def sim():
    return simulate_wearer(90.0, 5, ("myo", "polar-h10"), wearer=WEARER)


def _blocks(sim, block_samples):
    return merge_blocks([sim.to_blocks(k, block_samples) for k in sim.specs])


def _run(model, sim, block_samples, **kw):
    pipe = DetectionPipeline(list(sim.specs.values()), model, stale_timeout_s=None, **kw)
    ups, scores = run_blocks(pipe, _blocks(sim, block_samples))
    return pipe, ups, scores


def _sig(ups, scores):
    return (
        [(u.kind, u.episode.id, u.episode.start_ns, u.episode.end_ns, u.alarm_ns) for u in ups],
        np.array([s.t_end_ns for s in scores]),
        np.array([s.p_spasm for s in scores]),
    )


def test_device_thresholds_follow_the_emg_channel_count(tiny_model_builder, tmp_path):
    th = {"onset": 0.6, "offset": 0.4, "confirm_windows": 2, "calibration_s": 10}
    th |= {"onset@emg2": 0.95, "offset@emg2": 0.65, "confirm_windows@emg2": 3}
    model = tiny_model_builder(tmp_path / "dev.onnx", thresholds=th)
    two = simulate_wearer(5.0, 1, ("nus-reference",), wearer=WEARER)
    eight = simulate_wearer(5.0, 1, ("myo", "polar-h10"), wearer=WEARER)
    c2 = DetectionPipeline(list(two.specs.values()), model).detector_config
    c8 = DetectionPipeline(list(eight.specs.values()), model).detector_config
    assert (c2.onset_threshold, c2.offset_threshold, c2.confirm_windows) == (0.95, 0.65, 3)
    assert (c8.onset_threshold, c8.offset_threshold, c8.confirm_windows) == (0.6, 0.4, 2)
    assert c2.early_confirm_windows is None and c8.early_confirm_windows is None


def test_corroborated_onsets_follow_the_model_per_device(tiny_model_builder, tmp_path):
    th = {"onset": 0.6, "offset": 0.4, "confirm_windows": 3, "calibration_s": 10}
    th |= {"early_confirm_windows": 2, "early_confirm_intensity": 1.5}
    th |= {"early_confirm_type_p.clonic": 0.5, "early_confirm_type_p.mixed@emg8": 0.7}
    # the 2-channel operating point has it off (0), which must not inherit the pooled one
    th |= {"confirm_windows@emg2": 4, "early_confirm_windows@emg2": 0}
    th |= {"early_confirm_intensity@emg2": 0.0}
    model = tiny_model_builder(tmp_path / "early.onnx", thresholds=th)
    two = simulate_wearer(5.0, 1, ("nus-reference",), wearer=WEARER)
    eight = simulate_wearer(5.0, 1, ("myo", "polar-h10"), wearer=WEARER)
    c2 = DetectionPipeline(list(two.specs.values()), model).detector_config
    c8 = DetectionPipeline(list(eight.specs.values()), model).detector_config
    assert (c8.confirm_windows, c8.early_confirm_windows, c8.early_confirm_intensity) == (
        3,
        2,
        1.5,
    )
    # type gates: the pooled one, plus the 8-channel group's own
    assert c8.early_confirm_type_p == (("clonic", 0.5), ("mixed", 0.7))
    assert (c2.confirm_windows, c2.early_confirm_windows) == (4, None)


def test_pipeline_notches_what_the_model_was_trained_with(tiny_model_builder, tmp_path):
    both = tiny_model_builder(tmp_path / "both.onnx", emg_notch_hz=(50.0, 60.0))
    old = tiny_model_builder(tmp_path / "old.onnx")  # trained before the key: 50 Hz
    specs = list(simulate_wearer(5.0, 1, ("myo", "polar-h10"), wearer=WEARER).specs.values())

    def notch(model, **kw):
        pipe = DetectionPipeline(specs, model, **kw)
        emg = next(s for s in pipe.front.signal._streams if s.spec.kind == "emg")
        return pipe.front.signal.mains_hz, emg.cond.design.label

    mains, label = notch(both)
    assert mains == (50.0, 60.0) and "notch 50+60 Hz" in label
    assert notch(old)[0] == (50.0,) and "notch 50 Hz" in notch(old)[1]
    assert notch(both, mains_hz=60)[0] == (60.0,)  # an explicit setting wins


def test_select_streams_prefers_acc_on_the_emg_device(sim):
    chosen = select_streams(list(sim.specs.values()), ("emg", "acc"))
    assert chosen["emg"].key == "myo.emg" and chosen["acc"].key == "myo.acc"
    # an ACC-only model takes the limb sensor's ACC, as its training features did (the
    # chest strap's has the higher rate); without an EMG device, the highest rate
    acc_only = select_streams(list(sim.specs.values()), ("acc",))
    assert acc_only["acc"].key == "myo.acc"
    no_emg = [s for s in sim.specs.values() if s.device != "myo"]
    assert select_streams(no_emg, ("acc",))["acc"].key == "polar-h10.acc"
    with pytest.raises(ModelError, match="no usable 'emg'"):
        select_streams([sim.specs["polar-h10.acc"]], ("emg",))


def test_pipeline_scores_windows_and_finds_episodes(tiny_model, sim):
    pipe, ups, scores = _run(tiny_model, sim, 512)
    assert len(scores) > 250  # 90 s / 0.25 s, minus warm-up
    usable = [s for s in scores if not s.has_gap]
    assert usable and all(0.0 <= s.p_spasm <= 1.0 for s in usable)
    assert len(usable[0].p_types) == 4
    # frames held back during calibration are scored too: the first window is early
    assert scores[0].t_end_ns - sim.start_ns < 3e9
    finals = [u for u in ups if u.kind == "final"]
    assert finals, "a wearer with ~2 spasms a minute must give episodes"
    assert all(u.episode.model_id == "tiny-emg-acc" for u in finals)
    summ = pipe.stats.summary()
    assert set(summ) == set(STAGES)
    assert summ["total"]["count"] > 0 and summ["model"]["p50_ms"] >= 0
    assert pipe.delay_s == pytest.approx(0.0)  # myo.acc 50 Hz = the model ACC rate: no FIR


@settings(max_examples=4, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(block=st.sampled_from([37, 100, 333, 4096]))
def test_chunked_equals_whole(tiny_model, sim, block):
    _, u1, s1 = _run(tiny_model, sim, 20000)
    _, u2, s2 = _run(tiny_model, sim, block)
    a, b = _sig(u1, s1), _sig(u2, s2)
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[2], b[2])


def test_reset_restores_initial_behaviour(tiny_model, sim):
    pipe = DetectionPipeline(list(sim.specs.values()), tiny_model, stale_timeout_s=None)
    first = run_blocks(pipe, _blocks(sim, 1000))
    pipe.reset()
    second = run_blocks(pipe, _blocks(sim, 1000))
    assert _sig(*first)[0] == _sig(*second)[0]
    np.testing.assert_array_equal(_sig(*first)[2], _sig(*second)[2])


def test_amplitude_scale_does_not_change_decisions(tiny_model, sim):
    """Per-wearer normalisation: the same wearer at 3x EMG gain gives the same episodes."""

    def scaled(k):
        for b in _blocks(sim, 1000):
            if b.spec.kind == "emg":
                b = SampleBlock(b.spec, b.t_ns, b.data * np.float32(k), b.first_index, b.gaps)
            yield b

    out = []
    for k in (1.0, 3.0):
        pipe = DetectionPipeline(list(sim.specs.values()), tiny_model, stale_timeout_s=None)
        ups, _ = run_blocks(pipe, scaled(k))
        out.append([(u.kind, u.episode.start_ns) for u in ups if u.kind == "final"])
    assert out[0] == out[1]


def test_model_that_does_not_fit_is_refused(tiny_model, sim):
    with pytest.raises(ModelError, match="needs a 'emg' stream"):
        DetectionPipeline([sim.specs["polar-h10.acc"]], tiny_model)


def _acc_at_25_hz(sim):
    """Myo EMG 200 Hz + the Myo ACC taken down to 25 Hz (every other sample)."""
    from spasmwatch.core import StreamSpec

    acc = sim.specs["myo.acc"]
    spec25 = StreamSpec(acc.device, acc.kind, acc.channels, 25.0, acc.units)
    out = []
    for b in _blocks(sim, 512):
        if b.spec.key != acc.key:
            out.append(b)
            continue
        keep = (b.first_index + np.arange(len(b))) % 2 == 0
        if keep.any():
            first = (b.first_index + int(np.argmax(keep))) // 2
            out.append(SampleBlock(spec25, b.t_ns[keep], b.data[keep], first_index=first))
    return [sim.specs["myo.emg"], spec25], out


def test_acc_at_25_hz_is_upsampled_not_refused(tiny_model, sim):
    """The issue's rate contract: EMG >= 200 Hz and ACC >= 25 Hz are resampled to the
    model's rates (ACC 50 Hz: 2x up), not refused; below the contract is refused."""
    from spasmwatch.core import StreamSpec

    assert tiny_model.metadata.rates_hz["acc"] == 50.0
    assert tiny_model.metadata.min_rates_hz == {"emg": 200.0, "acc": 25.0}
    specs, blocks = _acc_at_25_hz(sim)
    tiny_model.check_streams(specs)
    pipe = DetectionPipeline(specs, tiny_model, stale_timeout_s=None)
    assert pipe.delay_s > 0  # the ACC went through the interpolation filter
    ups, scores = run_blocks(pipe, iter(blocks))
    usable = [s for s in scores if not s.has_gap]
    assert len(usable) > 250
    assert [u for u in ups if u.kind == "final"]
    acc20 = StreamSpec("myo", "acc", ("x", "y", "z"), 20.0, "g")
    with pytest.raises(ModelError, match=r"20 Hz, the model needs >= 25 Hz"):
        tiny_model.check_streams([specs[0], acc20])
    emg100 = StreamSpec("myo", "emg", tuple(f"ch{i}" for i in range(8)), 100.0, "uV")
    with pytest.raises(ModelError, match=r"needs >= 200 Hz"):
        tiny_model.check_streams([emg100, specs[1]])


def test_detect_recording_offline(tiny_model, sim, tmp_path):
    write_recording(tmp_path / "rec", _blocks(sim, 1024))
    res = detect_recording(tmp_path / "rec", tiny_model, progress=False)
    _, ups, scores = _run(tiny_model, sim, 1024)
    assert [e.start_ns for e in res.episodes] == [
        u.episode.start_ns for u in ups if u.kind == "final"
    ]
    assert len(res.t_end_ns) == len(scores)
    assert res.streams == {"emg": "myo.emg", "acc": "myo.acc"}
    assert res.stats["x_real_time"] > 1


def test_recording_blocks_match_iter_blocks(sim, tmp_path):
    from spasmwatch.pipeline import recording_blocks
    from spasmwatch.store import open_recording

    write_recording(tmp_path / "rec", _blocks(sim, 1024))
    rec = open_recording(tmp_path / "rec")
    for key in rec.specs:
        ref = [b for b in rec.iter_blocks(key, 10**9) if b.n_samples]
        got = list(recording_blocks(rec, key, block_s=10**6, chunk_s=7.0))
        # same samples, same indices at every gap, same gaps
        np.testing.assert_array_equal(
            np.concatenate([b.t_ns for b in ref]), np.concatenate([b.t_ns for b in got])
        )
        ref_gaps = [(b.first_index, b.gaps) for b in ref if b.gaps]
        got_gaps = [(b.first_index, b.gaps) for b in got if b.gaps]
        assert ref_gaps == got_gaps and ref_gaps, key
        assert all(
            b.first_index + len(b) == nb.first_index
            for b, nb in itertools.pairwise(got)
            if not nb.gaps
        )
