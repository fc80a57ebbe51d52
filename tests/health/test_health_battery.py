"""Battery level, warnings with hysteresis, Device Information and Myo firmware parsing."""

from __future__ import annotations

import struct

import pytest

from spasmwatch.errors import ConfigError, DecodeError
from spasmwatch.health import (
    BATTERY_SOURCES,
    BatteryMonitor,
    DeviceInfo,
    parse_battery_level,
    parse_dis_string,
    parse_myo_firmware,
)


@pytest.mark.parametrize(("raw", "level"), [(b"\x00", 0), (b"\x57", 87), (bytearray(b"\x64"), 100)])
def test_battery_level(raw, level):
    assert parse_battery_level(raw) == level


@pytest.mark.parametrize(
    ("raw", "reason"),
    [(b"", "length"), (b"\x10\x00", "length"), (b"\x65", "range"), (b"\xff", "range")],
)
def test_battery_level_rejects(raw, reason):
    with pytest.raises(DecodeError) as e:
        parse_battery_level(raw)
    assert e.value.reason == reason
    assert "0x2A19" in str(e.value)


def test_battery_level_from_simulated_device_read():
    # the simulated BLE backend answers battery reads with bytes([level])
    assert parse_battery_level(bytes([max(0, min(100, 87))])) == 87


def test_monitor_warns_once_per_crossing_with_rearm():
    m = BatteryMonitor(low_threshold=20, critical=10, rearm=5)
    seq = [50, 30, 20, 21, 19, 20, 18, 11, 10, 9, 10, 12, 30, 19]
    fired = []
    for k, lv in enumerate(seq):
        fired += [(k, w.severity, w.level) for w in m.update("polar-h10", lv, k)]
    # 20 -> low; jitter around 20 silent; 10 -> critical; charge to 30 re-arms; 19 -> low again
    assert fired == [(2, "low", 20), (8, "critical", 10), (13, "low", 19)]
    assert m.last("polar-h10").level == 19 and m.is_low("polar-h10")
    assert m.devices == ("polar-h10",)


def test_monitor_straight_to_critical_says_only_critical_and_devices_are_separate():
    m = BatteryMonitor()
    (w,) = m.update("myo", 5, 0)
    assert w.severity == "critical" and "charge now" in w.message
    assert m.update("myo", 15, 1) == []  # already warned low too
    (w2,) = m.update("polar-h10", 15, 2)
    assert w2.severity == "low" and w2.to_dict()["threshold"] == 20
    m.reset()
    assert m.last("myo") is None


def test_monitor_config_errors():
    with pytest.raises(ConfigError, match="critical"):
        BatteryMonitor(low_threshold=10, critical=20)
    with pytest.raises(ConfigError, match="low_threshold"):
        BatteryMonitor(low_threshold=120)
    with pytest.raises(Exception, match="0-100"):
        BatteryMonitor().update("myo", 101, 0)


def test_device_information_service():
    info = DeviceInfo.from_dis({
        0x2A24: b"H10\x00",
        "2a26": b"5.0.0",
        "0x2A27": b"00760690.03 ",
        "00002a25-0000-1000-8000-00805f9b34fb": b"C1234567",
        "2a29": b"Polar Electro Oy",  # manufacturer: not kept
    })  # fmt: skip
    assert info == DeviceInfo(
        model="H10", firmware="5.0.0", hardware="00760690.03", serial="C1234567"
    )
    with pytest.raises(DecodeError, match="UTF-8"):
        parse_dis_string(b"\xff\xfe", uuid=0x2A24)
    assert DeviceInfo(model="  ").model is None


def test_myo_firmware():
    raw = struct.pack("<4H", 1, 5, 1970, 2)
    fw = parse_myo_firmware(raw)
    assert (fw.version, fw.hardware) == ("1.5.1970", "rev D")
    info = DeviceInfo.from_myo(raw)
    assert info.to_dict() == {
        "model": "Myo",
        "firmware": "1.5.1970",
        "hardware": "rev D",
        "serial": None,
    }
    with pytest.raises(DecodeError, match="8 bytes"):
        parse_myo_firmware(raw[:6])


def test_battery_sources_cover_bundled_profiles():
    from spasmwatch.acquisition._profiles import load_profiles

    profiles = load_profiles()
    assert set(profiles) <= set(BATTERY_SOURCES)
    for pid, p in profiles.items():
        # a 0x2A19 source exactly where the profile declares the Battery characteristic
        assert (BATTERY_SOURCES[pid] is not None) == (p.battery_characteristic is not None), pid
