"""EMG quality and device information stored with a recording (journaled, crash-safe)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from spasmwatch.core import SampleBlock, StreamSpec
from spasmwatch.errors import RecordingError
from spasmwatch.health._battery import DeviceInfo
from spasmwatch.health._quality import EmgQualityMonitor
from spasmwatch.health._tracker import DeviceHealthTracker
from spasmwatch.store._recording import RecordingWriter, open_recording

EMG = StreamSpec("myo", "emg", tuple(f"ch{i}" for i in range(8)), 200.0, "counts")
T0 = 1_704_096_000_000_000_000


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> int:
        return self.t


def emg(seconds: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(0.0, 6.0, (200 * seconds, 8)))
    x[200 * 4 : 200 * 7, 2] = 0.0  # electrode 2 off for 3 s
    return x


def blocks(x: np.ndarray, size: int = 200):
    for i in range(0, x.shape[0], size):
        n = min(size, x.shape[0] - i)
        t = T0 + np.round((i + np.arange(n)) * 1e9 / 200).astype(np.int64)
        yield SampleBlock(EMG, t, x[i : i + n], first_index=i)


def test_quality_and_device_info_in_the_manifest(tmp_path):
    x = emg(10)
    clock = Clock()
    w = RecordingWriter(
        tmp_path / "r",
        start_ns=T0,
        devices=[{"id": "myo", "profile": "myo", "name": "arm"}],
        clock=clock,
        fsync=False,
    )
    tr = DeviceHealthTracker([EMG], "UTC", debounce_windows=1)
    mon = EmgQualityMonitor(EMG)
    w.set_device_info("myo", DeviceInfo("Myo", "1.5.1970", "rev D").to_dict())
    w.set_device_info("myo", {"serial": "abc"})  # merged
    w.add_battery("myo", 80, T0)
    n_reports = 0
    for b in blocks(x):
        w.write(b)
        tr.update(b)
        for r in mon.update(b):
            w.add_quality(EMG.key, r.to_dict() if n_reports % 2 else r)  # both forms
            n_reports += 1
        clock.t = int(b.t_ns[-1])
    w.add_battery("myo", 77, clock.t)
    w.set_device_info("polar-h10", {"model": "Polar H10"})  # not declared: added
    rec = w.close()
    assert n_reports == 10
    q = rec.quality(EMG.key)
    assert q == tr.quality_log(EMG.key)  # the same run-length log as the live tracker
    assert q["channels"]["ch2"] == [
        [T0, T0 + 4 * 10**9, "good"],
        [T0 + 4 * 10**9, T0 + 7 * 10**9, "contact_lost"],
        [T0 + 7 * 10**9, T0 + 10 * 10**9, "good"],
    ]
    assert q["channels"]["ch0"] == [[T0, T0 + 10 * 10**9, "good"]]
    assert q["summary"]["ch2"]["good_share"] == pytest.approx(0.7)
    assert q["summary"]["ch2"]["seconds"] == {"good": 7.0, "contact_lost": 3.0}
    manifest = json.loads((rec.path / "manifest.json").read_text())
    assert manifest["streams"][EMG.key]["quality"] == q
    myo, h10 = manifest["devices"]
    assert myo["name"] == "arm" and myo["info"] == {
        "model": "Myo",
        "firmware": "1.5.1970",
        "hardware": "rev D",
        "serial": "abc",
    }
    assert myo["battery"] == {
        "start": {"level": 80, "t_ns": T0},
        "end": {"level": 77, "t_ns": clock.t},
    }
    assert h10 == {"id": "polar-h10", "info": {"model": "Polar H10"}}
    again = open_recording(rec.path)
    assert again.quality(EMG.key) == q
    # journal stays compact: one quality line per flush at most, run-length merged
    lines = [
        json.loads(s) for s in (rec.path / "journal.jsonl").read_text().splitlines() if s.strip()
    ]
    qlines = [e for e in lines if e["type"] == "quality"]
    assert 1 <= len(qlines) <= 11
    assert sum(len(e["runs"]) for e in qlines) <= 13


def test_crash_recovery_keeps_the_quality_journal(tmp_path):
    x = emg(10)
    clock = Clock()
    path = tmp_path / "crashed"
    w = RecordingWriter(path, start_ns=T0, clock=clock, flush_interval_s=1.0, fsync=False)
    mon = EmgQualityMonitor(EMG)
    w.set_device_info("myo", {"firmware": "1.5.1970"})
    for k, b in enumerate(blocks(x)):
        w.write(b)
        for r in mon.update(b):
            w.add_quality(EMG.key, r)
        clock.t = int(b.t_ns[-1]) + 10**9  # a flush is due at every write
        if k == 7:
            break
    w.flush()
    # the process dies here (no close, segments and journal stay as they are)
    w._journal.close()
    for st in w._streams.values():
        w._close_segment(st)
    w._release_lock(remove=False)
    copy = tmp_path / "copy"
    shutil.copytree(path, copy)
    rec = open_recording(copy)
    assert rec.recovered
    q = rec.quality(EMG.key)
    assert q is not None
    assert q["channels"]["ch2"] == [
        [T0, T0 + 4 * 10**9, "good"],
        [T0 + 4 * 10**9, T0 + 7 * 10**9, "contact_lost"],
        [T0 + 7 * 10**9, T0 + 8 * 10**9, "good"],
    ]
    assert rec.manifest["devices"] == [{"id": "myo", "info": {"firmware": "1.5.1970"}}]


def test_add_quality_refuses_wrong_input(tmp_path):
    w = RecordingWriter(tmp_path / "r", start_ns=T0, clock=Clock(), fsync=False)
    mon = EmgQualityMonitor(EMG)
    rep = None
    for b in blocks(emg(1)):
        w.write(b)
        rep = mon.update(b)[0]
    assert rep is not None
    with pytest.raises(RecordingError, match="unknown stream") as e:
        w.add_quality("myo.acc", rep)
    assert e.value.reason == "unknown_stream"
    other = StreamSpec("myo", "acc", ("x", "y", "z"), 50.0, "mG")
    w.add_stream(other)
    with pytest.raises(RecordingError, match=r"expected myo\.acc") as e:
        w.add_quality("myo.acc", rep)
    assert e.value.reason == "bad_quality"
    with pytest.raises(RecordingError, match="not a quality report"):
        w.add_quality(EMG.key, {"stream": EMG.key})
    with pytest.raises(RecordingError, match="JSON-ready"):
        w.set_device_info("myo", {"firmware": object()})
    with pytest.raises(RecordingError, match="0-100"):
        w.add_battery("myo", 101)
    rec = w.close()
    assert rec.quality(EMG.key) is None  # nothing was added
    assert rec.manifest["devices"] == []
    with pytest.raises(RecordingError, match="no stream"):
        rec.quality("nope.emg")
