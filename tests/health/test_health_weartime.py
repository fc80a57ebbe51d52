"""WearTimeAccumulator (days, DST, gaps, not worn, EMG quality) and count wording."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from healthutil import block

from spasmwatch.core import Gap, StreamSpec
from spasmwatch.errors import ConfigError, SignalError
from spasmwatch.health import (
    ALL_DEVICES,
    VALID_DAY_S,
    VALID_NIGHT_S,
    ChannelQuality,
    CountWithWear,
    QualityReport,
    WearDay,
    WearStateChange,
    WearTimeAccumulator,
    count_with_wear,
    format_count_with_wear,
    is_low_wear,
)

S = 1_000_000_000
H = 3600 * S
EMG1 = StreamSpec("myo", "emg", ("emg0",), 1.0, "counts")
ACC1 = StreamSpec("polar-h10", "acc", ("x", "y", "z"), 1.0, "mG")  # 1 Hz keeps arrays small
BERLIN = ZoneInfo("Europe/Berlin")


def _ns(y, m, d, hh=0, mm=0) -> int:
    return round(dt.datetime(y, m, d, hh, mm, tzinfo=BERLIN).timestamp() * 1e9)


def _acc_blocks(t0: int, seconds: int, i0: int = 0, gaps=()):
    return block(ACC1, np.zeros((seconds, 3)), i0=i0, gaps=gaps, t0=t0)


def _report(start: int, good: bool, stream: str = "myo.emg", dur: int = S) -> QualityReport:
    st = "good" if good else "contact_lost"
    return QualityReport(
        stream, start, start + dur, (ChannelQuality("emg0", st, 1.0, 0.0, 0.0, 0.0),)
    )


def test_acc_only_device_split_at_local_midnight():
    acc = WearTimeAccumulator("Europe/Berlin")
    acc.update(_acc_blocks(_ns(2024, 1, 1, 23), 2 * 3600))
    rows = acc.days()
    assert [(r.date, r.device) for r in rows] == [
        (dt.date(2024, 1, 1), "polar-h10"),
        (dt.date(2024, 1, 2), "polar-h10"),
    ]
    for r in rows:
        assert r.recorded_s == r.worn_s == r.usable_s == 3600.0
        assert r.day_s == 86400.0 and r.gap_s == 0.0


@pytest.mark.parametrize(
    ("day", "length"), [(dt.date(2024, 3, 31), 23), (dt.date(2024, 10, 27), 25)]
)
def test_dst_days_are_23_or_25_hours(day, length):
    acc = WearTimeAccumulator("Europe/Berlin")
    start = _ns(day.year, day.month, day.day)
    acc.update(_acc_blocks(start, length * 3600))
    (row,) = acc.days()
    assert row.date == day
    assert row.day_s == length * 3600.0
    assert row.recorded_s == length * 3600.0


def test_not_worn_gaps_and_usable_emg():
    t0 = _ns(2024, 5, 6, 9)
    acc = WearTimeAccumulator("Europe/Berlin")
    # EMG for 10 h with a 30 min disconnect after 4 h; quality good except 1 h of bad contact
    emg1 = block(EMG1, np.zeros((4 * 3600, 1)), t0=t0)
    gap = Gap(t0 + 4 * H, t0 + 4 * H + 1800 * S, 1800, "out_of_range")
    t1 = t0 + 4 * H + 1800 * S
    emg2 = block(EMG1, np.zeros((int(5.5 * 3600), 1)), i0=0, gaps=(gap,), t0=t1)
    acc.extend([emg1, emg2])
    for k in range(10 * 3600):
        t = t0 + k * S
        if t0 + 4 * H <= t < t1:
            continue
        acc.update(_report(t, good=not (t0 + 6 * H <= t < t0 + 7 * H)))
    # taken off for 2 h (8 h .. 10 h)
    acc.update(WearStateChange("myo", "not_worn", t0 + 8 * H, t0 + 8 * H + 600 * S, "acc_still"))
    (row,) = acc.days()
    assert row.recorded_s == pytest.approx(9.5 * 3600)
    assert row.worn_s == pytest.approx(7.5 * 3600)
    assert row.usable_s == pytest.approx(6.5 * 3600)
    assert dict(row.gap_s_by_cause) == {"out_of_range": 1800.0}
    # worn again later
    acc.update(WearStateChange("myo", "worn", t0 + 9 * H, t0 + 9 * H, "acc_motion"))
    (row,) = acc.days("myo")
    assert row.worn_s == pytest.approx(8.5 * 3600)


def test_union_row_over_devices():
    t0 = _ns(2024, 5, 6, 9)
    acc = WearTimeAccumulator("Europe/Berlin")
    acc.update(_acc_blocks(t0, 3600))
    other = StreamSpec("movesense", "acc", ("x", "y", "z"), 1.0, "mG")
    acc.update(block(other, np.zeros((3600, 3)), t0=t0 + 1800 * S))
    rows = acc.days()
    assert [r.device for r in rows] == ["movesense", "polar-h10", ALL_DEVICES]
    assert rows[-1].worn_s == 5400.0
    assert acc.days("movesense")[0].worn_s == 3600.0


def test_wear_day_validation():
    with pytest.raises(SignalError, match="usable_s <= worn_s"):
        WearDay(
            dt.date(2024, 1, 1), "x", worn_s=10.0, usable_s=20.0, recorded_s=30.0, gap_s_by_cause={}
        )
    with pytest.raises(SignalError, match="gap cause"):
        WearDay(dt.date(2024, 1, 1), "x", 1.0, 1.0, 1.0, {"aliens": 3.0})
    with pytest.raises(ConfigError, match="IANA"):
        WearTimeAccumulator("Mars/Olympus")
    with pytest.raises(SignalError, match="no data for device"):
        WearTimeAccumulator("UTC").days("nope")
    r = WearDay(dt.date(2024, 1, 1), "x", 1.0, 1.0, 2.0, {"battery": 3.0})
    assert r.to_dict()["gap_s_by_cause"] == {"battery": 3.0}
    with pytest.raises(TypeError):
        r.gap_s_by_cause["battery"] = 1.0  # type: ignore[index]


def test_format_count_with_wear_wording():
    assert format_count_with_wear(3, 20 * 3600) == "3 spasms in 20.0 h worn (3.6 per 24 h worn)"
    assert format_count_with_wear(1, 12 * 3600) == "1 spasm in 12.0 h worn (2.0 per 24 h worn)"
    low = format_count_with_wear(3, 2 * 3600)
    assert low == "3 spasms in 2.0 h worn — low wear (under 10 h a day), interpret with care"
    assert "per 24 h" not in low
    assert format_count_with_wear(0, 45 * 60).startswith("0 spasms in 45 min worn — low wear")
    assert "no wear time" in format_count_with_wear(2, 0)
    assert "no wear time" in format_count_with_wear(2, None)
    assert format_count_with_wear(2, 10 * 3600, noun="episode").startswith("2 episodes in 10.0 h")
    week = format_count_with_wear(12, 50 * 3600, days=7)
    assert week == (
        "12 spasms in 50.0 h worn over 7 days — low wear (under 10 h a day on average), "
        "interpret with care"
    )
    assert format_count_with_wear(14, 84 * 3600, days=7).endswith("over 7 days (4.0 per 24 h worn)")
    c = count_with_wear(3, 2 * 3600, worn_s=3 * 3600)
    assert c.low_wear and c.rate_per_24h_worn is None
    assert c.to_dict() == {
        "n": 3,
        "worn_s": 3 * 3600.0,
        "usable_s": 2 * 3600.0,
        "days": 1.0,
        "low_wear": True,
        "rate_per_24h_worn": None,
        "text": low,
    }
    d = count_with_wear(6, 12 * 3600).to_dict()
    assert d["rate_per_24h_worn"] == pytest.approx(12.0) and d["low_wear"] is False
    assert d["worn_s"] == d["usable_s"] == 12 * 3600.0
    with pytest.raises(ConfigError):
        CountWithWear(-1, 10.0)
    with pytest.raises(ConfigError, match="usable_s"):
        count_with_wear(1, float("nan"))
    with pytest.raises(ConfigError, match="days"):
        count_with_wear(1, 10.0, days=0)


def test_one_low_wear_rule():
    assert VALID_DAY_S == 10 * 3600 and VALID_NIGHT_S == 6 * 3600
    assert is_low_wear(2 * 3600) and is_low_wear(None) and is_low_wear(VALID_DAY_S - 1)
    assert not is_low_wear(VALID_DAY_S) and not is_low_wear(20 * 3600)
    # the threshold scales with the period: a week needs 70 h, a 3-hour window 1.25 h
    assert is_low_wear(69 * 3600, days=7) and not is_low_wear(70 * 3600, days=7)
    assert is_low_wear(1.2 * 3600, days=3 / 24) and not is_low_wear(1.3 * 3600, days=3 / 24)
    # the text, the flag and the rate agree at the threshold
    for s in (VALID_DAY_S - 60, VALID_DAY_S, VALID_DAY_S + 60):
        c = count_with_wear(5, s)
        assert c.low_wear == is_low_wear(s) == ("low wear" in c.text)
        assert (c.rate_per_24h_worn is None) == c.low_wear


def test_contiguous_blocks_keep_one_interval_so_memory_stays_bounded():
    """A live Myo sends ~900k blocks an hour; contiguous ones must coalesce, not pile up."""
    import numpy as np

    from spasmwatch.core import SampleBlock, StreamSpec
    from spasmwatch.health import WearTimeAccumulator

    spec = StreamSpec("myo", "acc", ("x", "y", "z"), 50.0, "mG")
    acc = WearTimeAccumulator("UTC")
    t0 = 1_700_000_000_000_000_000
    for k in range(2000):
        t = t0 + (np.arange(2) + 2 * k) * 20_000_000
        acc.update(SampleBlock(spec, t.astype(np.int64), np.zeros((2, 3)), first_index=2 * k))
    dev = acc._dev["myo"]
    assert len(dev.recorded) == 1 and len(dev.acc_recorded) == 1
    (day,) = acc.days("myo")
    assert day.recorded_s == pytest.approx(2000 * 2 * 0.02)
