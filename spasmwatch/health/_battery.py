"""Battery level, low-battery warnings and device information (model, firmware, hardware).

Where the battery level comes from, per bundled profile:

================  =========================================================================
profile           battery level
================  =========================================================================
myo               Battery Level ``0x2A19`` (service ``0x180F``), read and notify
polar-h10         Battery Level ``0x2A19``, read
polar-verity-s.   Battery Level ``0x2A19``, read
nus-reference     Battery Level ``0x2A19``, read
movesense         GSP ``GET /System/Energy/Level`` (vendor way) — **not implemented** in the
                  decoders yet; no battery level is reported for Movesense
================  =========================================================================
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from spasmwatch.errors import ConfigError, DecodeError, SignalError

__all__ = [
    "BATTERY_SOURCES",
    "BatteryMonitor",
    "BatteryReading",
    "BatteryWarning",
    "DeviceInfo",
    "MyoFirmware",
    "parse_battery_level",
    "parse_dis_string",
    "parse_myo_firmware",
]

#: How each bundled profile reports its battery level (``None``: not implemented).
BATTERY_SOURCES: dict[str, str | None] = {
    "myo": "0x2A19",
    "polar-h10": "0x2A19",
    "polar-verity-sense": "0x2A19",
    "nus-reference": "0x2A19",
    "movesense": None,  # GSP /System/Energy/Level: not implemented in the decoders yet
}

#: Device Information Service characteristics (16-bit UUID) -> DeviceInfo field.
DIS_FIELDS = {0x2A24: "model", 0x2A25: "serial", 0x2A26: "firmware", 0x2A27: "hardware"}


def _as_bytes(data: object, what: str) -> bytes:
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    raise DecodeError(f"{what}: expected bytes (got {type(data).__name__})", reason="type")


def parse_battery_level(data: bytes | bytearray | memoryview) -> int:
    """Decode a Battery Level (``0x2A19``) value.

    Parameters
    ----------
    data : bytes
        The characteristic value: one unsigned byte.

    Returns
    -------
    int
        Battery level in percent, 0-100.

    Raises
    ------
    DecodeError
        If the value is not exactly one byte or exceeds 100.
    """
    b = _as_bytes(data, "Battery Level (0x2A19)")
    if len(b) != 1:
        raise DecodeError(
            f"Battery Level (0x2A19) must be 1 byte (uint8 percent); got {len(b)} bytes "
            f"({b.hex()}). Check the characteristic UUID in the device profile",
            reason="length",
        )
    if b[0] > 100:
        raise DecodeError(
            f"Battery Level (0x2A19) must be 0-100 %; got {b[0]}. The device may not follow "
            "the Battery service; the value was ignored",
            reason="range",
        )
    return b[0]


def parse_dis_string(data: bytes | bytearray | memoryview, *, uuid: int | None = None) -> str:
    """Decode a Device Information Service string (model, serial, firmware, hardware).

    Trailing NUL bytes and surrounding white space are removed.

    Raises
    ------
    DecodeError
        If the bytes are not UTF-8.
    """
    name = f"0x{uuid:04X}" if uuid is not None else "Device Information string"
    b = _as_bytes(data, name)
    try:
        return b.rstrip(b"\x00").decode("utf-8").strip()
    except UnicodeDecodeError as e:
        raise DecodeError(
            f"{name} must be a UTF-8 string; got bytes {b.hex()} ({e.reason})", reason="utf8"
        ) from None


#: Myo hardware revisions (``myohw_hardware_rev_t`` in myohw.h).
_MYO_HW = {1: "rev C", 2: "rev D"}


@dataclass(frozen=True, slots=True)
class MyoFirmware:
    """Myo firmware version characteristic (``d5060201-…``): ``<4H``."""

    major: int
    minor: int
    patch: int
    hardware_rev: int

    @property
    def version(self) -> str:
        """``"major.minor.patch"``."""
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def hardware(self) -> str:
        """Hardware revision as text (``"rev C"``, ``"rev D"`` or ``"rev <n>"``)."""
        return _MYO_HW.get(self.hardware_rev, f"rev {self.hardware_rev}")


def parse_myo_firmware(data: bytes | bytearray | memoryview) -> MyoFirmware:
    """Decode the Myo firmware version: 8 bytes, little-endian ``<4H`` (major, minor, patch,
    hardware revision).

    Raises
    ------
    DecodeError
        If the value is not 8 bytes.
    """
    b = _as_bytes(data, "Myo firmware version")
    if len(b) != 8:
        raise DecodeError(
            f"Myo firmware version must be 8 bytes (<4H major, minor, patch, hardware_rev); "
            f"got {len(b)} bytes ({b.hex()})",
            reason="length",
        )
    return MyoFirmware(*struct.unpack("<4H", b))


def _opt_text(obj: object, name: str) -> None:
    v = getattr(obj, name)
    if v is None:
        return
    if not isinstance(v, str) or len(v) > 100:
        raise ConfigError(f"DeviceInfo.{name} must be None or a string of <= 100 chars (got {v!r})")
    object.__setattr__(obj, name, v.strip() or None)


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """Model and version strings of one device; ``None`` where the device did not say.

    Parameters
    ----------
    model, firmware, hardware, serial : str or None
        Device Information Service strings (0x2A24, 0x2A26, 0x2A27, 0x2A25) or the vendor
        equivalent.
    """

    model: str | None = None
    firmware: str | None = None
    hardware: str | None = None
    serial: str | None = None

    def __post_init__(self) -> None:
        for name in ("model", "firmware", "hardware", "serial"):
            _opt_text(self, name)

    @classmethod
    def from_dis(cls, values: dict[int | str, bytes]) -> DeviceInfo:
        """Build from Device Information Service reads: ``{uuid: raw bytes}``.

        ``uuid`` is the 16-bit id as an int (``0x2A24``) or text (``"2a24"``, ``"0x2A24"``, or
        the full 128-bit SIG form). Unknown UUIDs are ignored.

        Raises
        ------
        DecodeError
            If a string is not UTF-8.
        """
        out: dict[str, str] = {}
        for k, raw in values.items():
            u = _uuid16(k)
            if u in DIS_FIELDS:
                out[DIS_FIELDS[u]] = parse_dis_string(raw, uuid=u)
        return cls(**out)

    @classmethod
    def from_myo(cls, firmware: bytes, *, model: str = "Myo") -> DeviceInfo:
        """Build from the Myo firmware version characteristic."""
        fw = parse_myo_firmware(firmware)
        return cls(model=model, firmware=fw.version, hardware=fw.hardware)

    def to_dict(self) -> dict[str, str | None]:
        """JSON-ready form."""
        return {
            "model": self.model,
            "firmware": self.firmware,
            "hardware": self.hardware,
            "serial": self.serial,
        }


def _uuid16(k: int | str) -> int | None:
    if isinstance(k, int):
        return k
    s = str(k).lower().strip()
    if s.startswith("0x"):
        s = s[2:]
    if len(s) == 36 and s.endswith("-0000-1000-8000-00805f9b34fb"):
        s = s[4:8]
    elif len(s) == 8 and s.startswith("0000"):
        s = s[4:]
    try:
        return int(s, 16) if len(s) == 4 else None
    except ValueError:
        return None


def _ns(v: object, name: str) -> int:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, bool) or not isinstance(v, int):
        raise SignalError(f"{name} must be an int of UTC ns (got {v!r})")
    return v


@dataclass(frozen=True, slots=True)
class BatteryReading:
    """One battery level of one device at one time (UTC ns)."""

    device: str
    t_ns: int
    level: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "t_ns", _ns(self.t_ns, "BatteryReading.t_ns"))
        lv = self.level
        if isinstance(lv, np.integer):
            lv = int(lv)
        if isinstance(lv, bool) or not isinstance(lv, int) or not 0 <= lv <= 100:
            raise SignalError(f"BatteryReading.level must be an int 0-100 % (got {lv!r})")
        object.__setattr__(self, "level", lv)


@dataclass(frozen=True, slots=True)
class BatteryWarning:
    """A device's battery fell to or below a threshold.

    Parameters
    ----------
    device : str
    t_ns : int
        UTC ns of the reading that crossed.
    level : int
        Battery level, percent.
    severity : str
        ``"low"`` or ``"critical"``.
    threshold : int
        The threshold crossed, percent.
    """

    device: str
    t_ns: int
    level: int
    severity: str
    threshold: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "t_ns", _ns(self.t_ns, "BatteryWarning.t_ns"))
        if self.severity not in ("low", "critical"):
            raise SignalError(
                f"BatteryWarning.severity must be 'low' or 'critical' (got {self.severity!r})"
            )

    @property
    def message(self) -> str:
        """Short text for the wearer."""
        if self.severity == "critical":
            return f"{self.device}: battery {self.level} % — charge now, recording will stop soon"
        return f"{self.device}: battery low ({self.level} %) — charge it soon"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "device": self.device,
            "t_ns": self.t_ns,
            "level": self.level,
            "severity": self.severity,
            "threshold": self.threshold,
            "message": self.message,
        }


class BatteryMonitor:
    """Tracks battery readings per device and warns once per downward crossing.

    Parameters
    ----------
    low_threshold : int
        Warn ``"low"`` when a reading is at or below this (percent).
    critical : int
        Warn ``"critical"`` when a reading is at or below this (percent, < ``low_threshold``).
    rearm : int
        A warning is armed again only once the level rises ``rearm`` points above its
        threshold (charging); noisy readings around a threshold do not repeat it.
    """

    def __init__(self, low_threshold: int = 20, critical: int = 10, *, rearm: int = 5) -> None:
        for name, v in (("low_threshold", low_threshold), ("critical", critical), ("rearm", rearm)):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 100:
                raise ConfigError(f"BatteryMonitor.{name} must be an int 0-100 (got {v!r})")
        if not critical < low_threshold:
            raise ConfigError(
                f"BatteryMonitor.critical ({critical}) must be below low_threshold "
                f"({low_threshold})"
            )
        self.low_threshold = low_threshold
        self.critical = critical
        self.rearm = rearm
        self.reset()

    def reset(self) -> None:
        """Forget all devices."""
        self._last: dict[str, BatteryReading] = {}
        self._fired: dict[str, set[str]] = {}

    def last(self, device: str) -> BatteryReading | None:
        """Last reading of ``device``, or None."""
        return self._last.get(device)

    @property
    def devices(self) -> tuple[str, ...]:
        """Devices seen, sorted."""
        return tuple(sorted(self._last))

    def update(self, device: str, level: int, t_ns: int) -> list[BatteryWarning]:
        """Record a reading; return the warnings it triggers (at most one per severity)."""
        r = BatteryReading(device, t_ns, level)
        self._last[device] = r
        fired = self._fired.setdefault(device, set())
        out: list[BatteryWarning] = []
        for sev, th in (("low", self.low_threshold), ("critical", self.critical)):
            if r.level <= th and sev not in fired:
                fired.add(sev)
                out.append(BatteryWarning(device, r.t_ns, r.level, sev, th))
            elif r.level > th + self.rearm:
                fired.discard(sev)
        if len(out) == 2:  # one reading below both: say only the worse
            out = out[1:]
        return out

    def is_low(self, device: str) -> bool:
        """True when the last reading of ``device`` is at or below ``low_threshold``."""
        r = self._last.get(device)
        return r is not None and r.level <= self.low_threshold
