"""DeviceHealthTracker: quality, wear, battery and device info of one device, streaming."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field

import numpy as np
import pytest
from healthutil import MYO_ACC, MYO_EMG, T0, block, cuts, emg_counts, times
from hypothesis import given, settings

from spasmwatch.core import SampleBlock, StreamSpec
from spasmwatch.errors import ConfigError, SignalError
from spasmwatch.health._battery import DeviceInfo
from spasmwatch.health._quality import QualityReport
from spasmwatch.health._tracker import DeviceHealthTracker, QualityLog

DUR = 60


@dataclass
class Ev:  # the shape of acquisition.DeviceEvent (health does not import acquisition)
    device: str
    kind: str
    t_ns: int
    detail: dict = field(default_factory=dict)


def scenario():
    """60 s of Myo EMG (good 20 s, then every electrode off; emg3 saturated 5-10 s) and ACC
    (moving 22 s, then lying still with white sensor noise)."""
    emg = emg_counts(200 * DUR, seed=1)
    emg[200 * 5 : 200 * 10, 3] = 127.0
    emg[200 * 20 :] = 0.0
    rng = np.random.default_rng(2)
    n = 50 * DUR
    t = np.arange(n) / 50.0
    acc = np.zeros((n, 3))
    acc[:, 2] = 1000.0
    acc[: 50 * 22, 0] = 150.0 * np.sin(2 * np.pi * 1.0 * t[: 50 * 22])
    acc += rng.normal(0.0, 3.0, acc.shape)
    return emg, acc


def tracker(**kw):
    return DeviceHealthTracker(
        [MYO_EMG, MYO_ACC],
        "Europe/Berlin",
        wear={"still_s": 30.0, "emg_off_s": 10.0},
        **kw,
    )


def norm(events):
    return sorted(
        json.dumps(e.to_dict(), sort_keys=True) for e in events
    )  # order between streams may differ; content may not


def outputs(tr, events):
    return norm(events), tr.quality_log(), tr.snapshot(), [d.to_dict() for d in tr.wear_days()]


def whole():
    emg, acc = scenario()
    tr = tracker()
    ev = tr.update(block(MYO_EMG, emg)) + tr.update(block(MYO_ACC, acc))
    return tr, ev


def test_whole_signal_events_log_and_snapshot():
    tr, ev = whole()
    q = [e for e in ev if e.kind == "quality"]
    ch3 = [(e.detail["status"], e.t_ns) for e in q if e.detail["channel"] == "emg3"]
    # debounced changes, each dated from the first window of the new status
    assert ch3 == [
        ("good", T0),
        ("saturation", T0 + 5 * 10**9),
        ("good", T0 + 10 * 10**9),
        ("contact_lost", T0 + 20 * 10**9),
    ]
    assert {e.detail["status"] for e in q if e.detail["channel"] == "emg0"} == {
        "good",
        "contact_lost",
    }
    wear = [e for e in ev if e.kind == "wear"]
    assert len(wear) == 1 and wear[0].detail["state"] == "not_worn"
    assert wear[0].detail["reason"] == "emg_off"
    assert 20 * 10**9 <= wear[0].t_ns - T0 <= 23 * 10**9
    assert tr.worn is False and tr.contact_lost is True
    log = tr.quality_log("myo.emg")
    assert log["channels"]["emg3"] == [
        [T0, T0 + 5 * 10**9, "good"],
        [T0 + 5 * 10**9, T0 + 10 * 10**9, "saturation"],
        [T0 + 10 * 10**9, T0 + 20 * 10**9, "good"],
        [T0 + 20 * 10**9, T0 + 60 * 10**9, "contact_lost"],
    ]
    assert log["summary"]["emg3"]["good_share"] == pytest.approx(15 / 60)
    assert log["summary"]["emg0"]["good_share"] == pytest.approx(20 / 60)
    snap = tr.snapshot()
    json.dumps(snap)  # JSON-ready
    assert (
        snap["worn"] is False and snap["quality"]["myo.emg"]["channels"]["emg0"] == "contact_lost"
    )
    assert snap["wear_today"]["date"] == "2024-01-01"
    days = tr.wear_days()
    assert len(days) == 1 and days[0].recorded_s == pytest.approx(DUR, abs=0.1)
    assert days[0].usable_s == pytest.approx(20.0, abs=0.1)
    assert days[0].worn_s < DUR - 30


@settings(max_examples=20, deadline=None)
@given(cuts(DUR * 10, max_cuts=10))
def test_chunked_equals_whole(bounds):
    ref_tr, ref_ev = whole()
    emg, acc = scenario()
    tr = tracker()
    ev = []
    edges = [0, *[b / 10 for b in bounds], DUR]  # seconds, same cut times for both streams
    for a, b in itertools.pairwise(edges):
        for spec, x in ((MYO_EMG, emg), (MYO_ACC, acc)):
            i, j = round(a * spec.rate_hz), round(b * spec.rate_hz)
            if j > i:
                ev += tr.update(
                    SampleBlock(spec, times(j - i, spec.rate_hz, T0, i), x[i:j], first_index=i)
                )
    assert outputs(tr, ev) == outputs(ref_tr, ref_ev)
    tr.reset()
    assert tr.snapshot()["quality"]["myo.emg"]["t_ns"] is None and tr.wear_days() == []


def test_debounce_ignores_single_window_flicker():
    emg = emg_counts(200 * 12, seed=3)
    emg[200 * 4 : 200 * 5, 1] = 0.0  # one window off: flicker
    emg[200 * 8 :, 1] = 0.0  # four windows off: a change
    tr = DeviceHealthTracker([MYO_EMG], "UTC", debounce_windows=3)
    ev = [e for e in tr.update(block(MYO_EMG, emg)) if e.detail["channel"] == "emg1"]
    assert [(e.detail["status"], e.detail["previous"]) for e in ev] == [
        ("good", None),
        ("contact_lost", "good"),
    ]
    assert ev[1].t_ns == T0 + 8 * 10**9 and ev[1].detail["detected_ns"] == T0 + 11 * 10**9
    raw = tr.quality_log("myo.emg")["channels"]["emg1"]
    assert [r[2] for r in raw] == ["good", "contact_lost", "good", "contact_lost"]  # raw kept


def test_battery_and_device_info_from_device_events():
    tr = DeviceHealthTracker([MYO_EMG], "UTC")
    assert tr.update(Ev("myo", "battery", T0, {"level": 50})) == []
    ev = tr.update(Ev("myo", "battery", T0 + 1, {"level": 19}))
    assert [e.kind for e in ev] == ["battery_low"] and ev[0].detail["level"] == 19
    assert tr.update(Ev("myo", "battery", T0 + 2, {"level": 18})) == []  # once per crossing
    assert [e.kind for e in tr.update(Ev("myo", "battery", T0 + 3, {"level": 9}))] == [
        "battery_critical"
    ]
    tr.update(Ev("myo", "device_info", T0, DeviceInfo("Myo", "1.5.1970", "rev D").to_dict()))
    tr.update(Ev("myo", "connected", T0, {}))  # other kinds are ignored
    snap = tr.snapshot()
    assert snap["battery"] == {"level": 9, "t_ns": T0 + 3, "low": True}
    assert snap["device_info"]["firmware"] == "1.5.1970"
    assert snap["worn"] is True and snap["wear_today"] is None


def test_quality_log_round_trip_and_merging():
    spec = StreamSpec("nus", "emg", ("a", "b"), 1000.0, "uV")
    log = QualityLog(spec.key, spec.channels)
    assert log.empty and log.summary()["a"]["good_share"] is None
    log.add_run("a", 0, 1000, "good")
    log.add_run("a", 1000 + 200, 2000, "good")  # jitter under half a window: merged
    log.add_run("a", 5000, 6000, "good")  # a gap: a new interval
    log.add_run("b", 0, 6000, "powerline")
    assert log.runs("a") == [(0, 2000, "good"), (5000, 6000, "good")]
    back = QualityLog.from_dict(spec.key, json.loads(json.dumps(log.to_dict())))
    assert back.to_dict() == log.to_dict()
    with pytest.raises(SignalError, match="unknown channel"):
        log.add_run("c", 0, 1, "good")
    with pytest.raises(SignalError, match="status"):
        log.add_run("a", 0, 1, "fine")
    r = QualityReport.from_dict(
        {"stream": "other.emg", "start_ns": 0, "end_ns": 1, "channels": [
            {"channel": "a", "status": "good", "rms": 1.0, "rail_fraction": None,
             "powerline_ratio": 0.0, "lowfreq_ratio": 0.0}]}
    )  # fmt: skip
    with pytest.raises(SignalError, match="one log per stream"):
        log.add(r)


def test_tracker_validates():
    other = StreamSpec("polar-h10", "acc", ("x", "y", "z"), 200.0, "mG")
    with pytest.raises(ConfigError, match="one device"):
        DeviceHealthTracker([MYO_EMG, other], "UTC")
    with pytest.raises(ConfigError, match="debounce_windows"):
        DeviceHealthTracker([MYO_EMG], "UTC", debounce_windows=0)
    with pytest.raises(ConfigError, match="time zone"):
        DeviceHealthTracker([MYO_EMG], "Mars/Olympus")
    tr = DeviceHealthTracker([MYO_EMG], "UTC")
    with pytest.raises(SignalError, match="not one of"):
        tr.update(block(other, np.zeros((10, 3))))
    with pytest.raises(SignalError, match="SampleBlock or a DeviceEvent"):
        tr.update(42)
    assert tr.worn is True and tr.contact_lost is None and tr.battery is None
    acc_only = DeviceHealthTracker([other], "UTC")
    assert acc_only.quality_log() == {} and acc_only.snapshot()["quality"] == {}
