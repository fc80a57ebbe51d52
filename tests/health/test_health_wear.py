"""NotWornDetector: a device on a table, a moving wearer, simulated sleep, EMG support."""

from __future__ import annotations

import numpy as np
import pytest
from healthutil import MYO_ACC, MYO_EMG, T0, acc_moving, acc_still, block, chunks, cuts, emg_counts
from hypothesis import given, settings
from hypothesis import strategies as st

from spasmwatch.core import StreamSpec
from spasmwatch.errors import ConfigError, SignalError
from spasmwatch.health import NotWornDetector, WearStateChange

FS = 50.0
S = 1_000_000_000


def _run(det, blocks):
    return [c for b in blocks for c in det.update(b)]


def test_device_on_table_reads_not_worn_from_when_it_was_put_down():
    move = acc_moving(int(60 * FS), FS)
    still = acc_still(int(700 * FS), FS)
    x = np.concatenate([move, still])
    det = NotWornDetector([MYO_ACC])  # defaults: 10 min
    ch = _run(det, chunks(MYO_ACC, x, list(range(0, x.shape[0], 1000))))
    assert len(ch) == 1
    c = ch[0]
    assert (c.state, c.reason, c.device) == ("not_worn", "acc_still", "myo")
    assert c.t_ns == T0 + 60 * S  # the still run began when it was put down
    assert c.detected_ns == T0 + 660 * S
    assert det.state == "not_worn"
    assert det.whiteness_ratio == pytest.approx(1.0, abs=0.15)


def test_picked_up_again_reads_worn_and_small_noise_does_not_flicker():
    x = np.concatenate([
        acc_still(int(130 * FS), FS),
        acc_still(int(20 * FS), FS, noise_mg=8.0, seed=2),  # a lorry passes: hysteresis band
        acc_still(int(20 * FS), FS, seed=3),
        acc_moving(int(5 * FS), FS),
    ])  # fmt: skip
    det = NotWornDetector([MYO_ACC], still_s=120.0)
    ch = _run(det, chunks(MYO_ACC, x, list(range(0, x.shape[0], 777))))
    assert [(c.state, c.reason) for c in ch] == [("not_worn", "acc_still"), ("worn", "acc_motion")]
    assert ch[1].t_ns == T0 + 170 * S


def test_turning_the_device_restarts_the_still_run():
    a = acc_still(int(100 * FS), FS, g=(0.0, 0.0, 1000.0))
    b = acc_still(int(100 * FS), FS, g=(0.0, 173.6, 984.8), seed=1)  # tilted by 10 degrees
    det = NotWornDetector([MYO_ACC], still_s=150.0)
    assert _run(det, [block(MYO_ACC, np.concatenate([a, b]))]) == []
    assert det.still_since_ns == T0 + 100 * S


def test_simulated_sleep_is_not_read_as_not_worn():
    sim = pytest.importorskip("spasmwatch.simulation")
    from spasmwatch.simulation._devices import DEVICE_PRESETS

    w = sim.WearerProfile.from_seed(np.random.SeedSequence(0))
    off = w.utc_offset_h * 3600
    start_s = 1_704_067_200 + (w.sleep_start_h * 3600 - off) % 86400 + 600
    for dev in ("myo", "polar-verity-sense"):
        acc = next(s for s in DEVICE_PRESETS[dev] if s.kind == "acc")
        r = sim.simulate_wearer(5400.0, 0, [acc], wearer=w, start_ns=int(start_s * 1e9),
                                packet_loss=False)  # fmt: skip
        blocks = list(r.to_blocks(acc.key, 2048))
        det = NotWornDetector([acc.spec])
        assert _run(det, blocks) == [], dev
        # the guard that makes the difference: without the whiteness test, sleep would be
        # read as "not worn" (so this test can fail)
        naive = NotWornDetector([acc.spec], white_ratio_max=1e9)
        assert any(c.state == "not_worn" for c in _run(naive, blocks)), dev


def test_emg_at_floor_makes_a_still_device_not_worn_sooner():
    acc = acc_still(int(200 * FS), FS)
    emg = np.zeros(((200 * 200), 8))
    det = NotWornDetector([MYO_ACC, MYO_EMG])
    ch = []
    for k in range(200):  # one second of each stream at a time, as they arrive
        ch += det.update(block(MYO_EMG, emg[k * 200 : (k + 1) * 200], k * 200))
        ch += det.update(block(MYO_ACC, acc[k * 50 : (k + 1) * 50], k * 50))
    assert [(c.state, c.reason) for c in ch] == [("not_worn", "emg_off")]
    assert ch[0].t_ns == T0 and ch[0].detected_ns == T0 + 120 * S


def test_good_emg_vetoes_not_worn_and_brings_worn_back():
    acc = acc_still(int(200 * FS), FS)
    emg = np.round(emg_counts(200 * 200, rms=5.0))
    det = NotWornDetector([MYO_ACC, MYO_EMG], still_s=60.0)
    ch = []
    for k in range(200):
        ch += det.update(block(MYO_EMG, emg[k * 200 : (k + 1) * 200], k * 200))
        ch += det.update(block(MYO_ACC, acc[k * 50 : (k + 1) * 50], k * 50))
    assert ch == []  # a still but worn arm (e.g. asleep): EMG shows skin contact
    det2 = NotWornDetector([MYO_ACC, MYO_EMG], still_s=60.0)
    ch2 = _run(det2, [block(MYO_ACC, acc[: 100 * 50])])
    assert [c.state for c in ch2] == ["not_worn"]
    ch2 = _run(det2, [block(MYO_EMG, emg[: 10 * 200], i0=0, t0=T0 + 100 * S)])
    assert [(c.state, c.reason) for c in ch2] == [("worn", "emg_good")]
    assert ch2[0].t_ns == T0 + 100 * S and ch2[0].detected_ns == T0 + 105 * S


def test_emg_only_device():
    spec = StreamSpec("nus-reference", "emg", ("emg0", "emg1"), 1000.0, "uV")
    det = NotWornDetector([spec], still_s=30.0)
    flat = np.zeros((40_000, 2))
    ch = _run(det, chunks(spec, flat, [12_345, 20_000]))
    assert [(c.state, c.reason, c.t_ns) for c in ch] == [("not_worn", "emg_off", T0)]
    good = emg_counts(10_000, 2, rms=20.0, rate_hz=1000.0)
    ch = _run(det, [block(spec, good, i0=40_000)])
    assert [(c.state, c.reason) for c in ch] == [("worn", "emg_good")]


def test_long_gap_ends_the_still_run():
    x = acc_still(int(100 * FS), FS)
    det = NotWornDetector([MYO_ACC], still_s=90.0, max_gap_s=30.0)
    bl = chunks(MYO_ACC, x, [], gap_at=int(50 * FS), gap_len=int(40 * FS))
    assert _run(det, bl) == []
    det2 = NotWornDetector([MYO_ACC], still_s=90.0, max_gap_s=60.0)
    assert [c.state for c in _run(det2, bl)] == ["not_worn"]


@settings(max_examples=25)
@given(b=cuts(int(400 * FS), 12), gap=st.sampled_from([None, 4321]))
def test_chunked_equals_whole(b, gap):
    x = np.concatenate([acc_moving(int(30 * FS), FS), acc_still(int(300 * FS), FS),
                        acc_moving(int(70 * FS), FS, seed=4)])  # fmt: skip
    ref = _run(NotWornDetector([MYO_ACC], still_s=120.0), chunks(MYO_ACC, x, [], gap_at=gap,
                                                                 gap_len=10))  # fmt: skip
    got = _run(NotWornDetector([MYO_ACC], still_s=120.0), chunks(MYO_ACC, x, b, gap_at=gap,
                                                                 gap_len=10))  # fmt: skip
    assert got == ref
    assert [c.state for c in ref] == ["not_worn", "worn"]


def test_reset_and_other_streams():
    x = acc_still(int(100 * FS), FS)
    det = NotWornDetector([MYO_ACC], still_s=60.0)
    assert len(_run(det, [block(MYO_ACC, x)])) == 1
    det.reset()
    assert det.state == "worn" and det.still_since_ns is None
    assert len(_run(det, [block(MYO_ACC, x)])) == 1
    gyro = StreamSpec("myo", "gyro", ("x", "y", "z"), 50.0, "deg/s")
    assert det.update(block(gyro, np.zeros((5, 3)))) == []


def test_errors():
    with pytest.raises(ConfigError, match="one device"):
        NotWornDetector([MYO_ACC, StreamSpec("polar-h10", "acc", ("x", "y", "z"), 200.0, "mG")])
    with pytest.raises(ConfigError, match="units"):
        NotWornDetector([StreamSpec("myo", "acc", ("x", "y", "z"), 50.0, "counts")])
    with pytest.raises(ConfigError, match="hysteresis"):
        NotWornDetector([MYO_ACC], still_std_mg=30.0, move_std_mg=20.0)
    det = NotWornDetector([MYO_ACC])
    with pytest.raises(SignalError, match="not one of"):
        det.update(block(StreamSpec("h10", "acc", ("x", "y", "z"), 50.0, "mG"), np.zeros((3, 3))))
    with pytest.raises(SignalError, match="detected_ns"):
        WearStateChange("myo", "worn", 10, 5, "acc_motion")
