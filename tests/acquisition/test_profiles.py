"""Device profiles: the five bundled TOMLs load; bad files give ProfileError naming file + key."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from spasmwatch.acquisition._profiles import (
    PROFILES_DIR,
    DeviceProfile,
    get_profile,
    load_profile,
    load_profiles,
    normalize_uuid,
)
from spasmwatch.core import StreamSpec
from spasmwatch.errors import ConfigError, ProfileError

IDS = {"polar-h10", "polar-verity-sense", "myo", "movesense", "nus-reference"}
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

MINIMAL = """\
id = "tiny"
name = "Tiny"
vendor = "Nobody"

[match]
name_prefixes = ["Tiny"]

[[characteristics]]
role = "tx"
uuid = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"
service = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
properties = ["notify"]

[[characteristics]]
role = "rx"
uuid = "6E400002-B5A3-F393-E0A9-E50E24DCCA9E"
service = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
properties = ["write"]

[[start_commands]]
characteristic = "rx"
data = "01 03"

[[streams]]
kind = "emg"
channels = ["a", "b"]
rate_hz = 1000
units = "uV"
scale = 0.5
decoder = "nus-reference"
characteristics = ["tx"]
samples_per_frame = 50
[streams.params]
stream_type = 1
"""


def test_bundled_profiles_load():
    profiles = load_profiles()
    assert set(profiles) == IDS
    assert PROFILES_DIR.name == "firmware_configs"
    for pid, p in profiles.items():
        assert p.id == pid and p.source_path.parent == PROFILES_DIR
        for c in p.characteristics:
            assert UUID_RE.match(c.uuid) and UUID_RE.match(c.service)
        for cmd in (*p.start_commands, *p.stop_commands, *p.keep_awake_commands):
            assert UUID_RE.match(cmd.characteristic) and cmd.data
        for s in p.streams:
            assert s.rate_hz in s.rates_hz and s.samples_per_frame > 0
            assert set(s.characteristics) <= {c.uuid for c in p.characteristics}
        assert set(p.notify_characteristics()) >= {u for s in p.streams for u in s.characteristics}
        with pytest.raises(dataclasses.FrozenInstanceError):
            p.id = "x"  # type: ignore[misc]


def test_h10_profile_contents():
    p = get_profile("polar-h10")
    acc = p.stream("acc")
    assert (acc.rate_hz, acc.rates_hz, acc.units) == (200.0, (25.0, 50.0, 100.0, 200.0), "mG")
    assert p.stream("ecg").rate_hz == 130 and p.stream("ecg").units == "uV"
    assert p.start_commands[0].data == bytes.fromhex(
        "0202000 1C8000101100002010800".replace(" ", "")
    )
    assert [c.data.hex() for c in p.stop_commands] == ["0302", "0300"]
    assert p.battery_characteristic == "00002a19-0000-1000-8000-00805f9b34fb"
    # CP (indicate) first, then data
    assert p.notify_characteristics() == (
        "fb005c81-02e7-f387-1cad-8acd2d8df0c8",
        "fb005c82-02e7-f387-1cad-8acd2d8df0c8",
    )
    assert p.services()[0] == "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
    spec = p.stream_spec("acc")
    assert spec == StreamSpec("polar-h10", "acc", ("x", "y", "z"), 200.0, "mG")
    assert p.stream_spec("ecg", device="polar-h10-2").device == "polar-h10-2"


def test_myo_profile_commands_and_streams():
    p = get_profile("myo")
    assert [c.data.hex(" ") for c in p.start_commands] == ["09 01 01", "01 03 03 01 00"]
    assert [c.data.hex(" ") for c in p.stop_commands] == ["01 03 00 00 00"]
    assert [c.data.hex(" ") for c in p.keep_awake_commands] == ["09 01 01"]
    assert p.keep_awake_interval_s == 60.0
    assert len(p.stream("emg").characteristics) == 4 and p.stream("emg").n_channels == 8
    assert {s.kind for s in p.streams} == {"emg", "acc", "gyro", "quat"}
    assert p.characteristic("command").properties == ("write",)


def test_advertisement_matching():
    profiles = load_profiles()
    h10, verity, myo = profiles["polar-h10"], profiles["polar-verity-sense"], profiles["myo"]
    assert h10.match.matches("Polar H10 A1B2C3D4", [], [])
    assert not h10.match.matches("Polar Sense A1B2C3D4", [], [107])  # the name decides
    assert verity.match.matches("Polar Sense A1B2C3D4", [], [])
    assert h10.match.matches(None, [], [107])  # nameless advert: manufacturer id
    assert myo.match.matches("Alice's Myo", ["D5060001-A904-DEB9-4748-2C7F4A124842"], [])
    assert not myo.match.matches("Alice's Myo", ["180d"], [])
    assert profiles["movesense"].match.matches(None, ["0xFDF3"], [])
    assert profiles["nus-reference"].match.matches("SW-NUS-3F2A", [], [])


def test_get_profile_unknown_lists_ids():
    with pytest.raises(ConfigError) as e:
        get_profile("fitbit")
    for pid in IDS:
        assert pid in str(e.value)
    with pytest.raises(ConfigError, match="no 'gyro' stream"):
        get_profile("polar-h10").stream("gyro")


def test_env_override(tmp_path, monkeypatch):
    (tmp_path / "tiny.toml").write_text(MINIMAL)
    monkeypatch.setenv("SPASMWATCH_PROFILES_DIR", str(tmp_path))
    assert set(load_profiles()) == {"tiny"}
    p = get_profile("tiny")
    assert isinstance(p, DeviceProfile)
    assert p.start_commands[0].characteristic == "6e400002-b5a3-f393-e0a9-e50e24dcca9e"
    assert p.start_commands[0].response is True  # default: 'write' property present
    assert p.keep_awake_interval_s is None and p.battery_characteristic is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2a19", "00002a19-0000-1000-8000-00805f9b34fb"),
        ("0x2A19", "00002a19-0000-1000-8000-00805f9b34fb"),
        ("FDF3", "0000fdf3-0000-1000-8000-00805f9b34fb"),
        ("D5060001-A904-DEB9-4748-2C7F4A124842", "d5060001-a904-deb9-4748-2c7f4a124842"),
    ],
)
def test_normalize_uuid(value, expected):
    assert normalize_uuid(value) == expected


def _bad(tmp_path: Path, text: str) -> ProfileError:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ProfileError) as e:
        load_profile(f)
    assert str(f) in str(e.value)
    return e.value


def test_unknown_key(tmp_path):
    e = _bad(tmp_path, MINIMAL.replace('units = "uV"', 'units = "uV"\nunit = "uV"'))
    assert e.reason == "unknown_key"
    assert "streams[0].unit: unknown key" in str(e)
    e = _bad(tmp_path, MINIMAL.replace("[match]", "colour = 3\n[match]"))
    assert "colour: unknown key" in str(e)


def test_missing_field(tmp_path):
    e = _bad(tmp_path, MINIMAL.replace("samples_per_frame = 50\n", ""))
    assert e.reason == "missing_key"
    assert "streams[0].samples_per_frame: missing required key" in str(e)
    e = _bad(tmp_path, MINIMAL.replace('vendor = "Nobody"\n', ""))
    assert ": vendor: missing" in str(e)


def test_malformed_uuid(tmp_path):
    e = _bad(tmp_path, MINIMAL.replace("6e400003-b5a3", "6e40003-b5a3", 1))
    assert e.reason == "bad_uuid"
    assert "characteristics[0].uuid: expected a UUID" in str(e)
    assert '"6e40003-b5a3-f393-e0a9-e50e24dcca9e"' in str(e)


def test_wrong_type(tmp_path):
    e = _bad(tmp_path, MINIMAL.replace("rate_hz = 1000", 'rate_hz = "fast"'))
    assert str(e).endswith('bad.toml: streams[0].rate_hz: expected a number > 0, got "fast"')
    assert e.reason == "bad_type"
    e = _bad(tmp_path, MINIMAL.replace("rate_hz = 1000", "rate_hz = -5"))
    assert "streams[0].rate_hz: expected a number > 0, got -5" in str(e)
    e = _bad(tmp_path, MINIMAL.replace('channels = ["a", "b"]', 'channels = "ab"'))
    assert "streams[0].channels: expected a list" in str(e)
    e = _bad(tmp_path, MINIMAL.replace("samples_per_frame = 50", "samples_per_frame = 2.5"))
    assert "streams[0].samples_per_frame: expected an int > 0" in str(e)


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('decoder = "nus-reference"', 'decoder = "magic"', "streams[0].decoder"),
        ('kind = "emg"', 'kind = "eeg"', "streams[0].kind"),
        ('characteristics = ["tx"]', 'characteristics = ["nope"]', "streams[0].characteristics[0]"),
        ('characteristic = "rx"', 'characteristic = "tx"', "start_commands[0].characteristic"),
        ('data = "01 03"', 'data = "0 1 3"', "start_commands[0].data"),
        ('data = "01 03"', 'data = "zz"', "start_commands[0].data"),
        ('properties = ["notify"]', 'properties = ["shout"]', "characteristics[0].properties[0]"),
        ('id = "tiny"', 'id = "Tiny Device"', "id"),
        ("rate_hz = 1000", "rate_hz = 1000\nrates_hz = [500]", "streams[0].rates_hz"),
    ],
)
def test_invalid_values_name_the_key(tmp_path, old, new, key):
    e = _bad(tmp_path, MINIMAL.replace(old, new))
    assert f"bad.toml: {key}: expected" in str(e)


def test_not_toml_and_missing_file(tmp_path):
    e = _bad(tmp_path, "id = ")
    assert e.reason == "bad_toml"
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(tmp_path / "absent.toml")


def test_duplicate_ids(tmp_path):
    (tmp_path / "a.toml").write_text(MINIMAL)
    (tmp_path / "b.toml").write_text(MINIMAL)
    with pytest.raises(ProfileError, match="already used"):
        load_profiles(tmp_path)
