"""Simulated streams: :class:`SimStream` and the device presets.

A :class:`SimStream` says what one simulated stream looks like on the wire side of a
device (rate, channels, units, quantisation, clipping, samples per BLE notification); the
simulator renders the wearer's limb in internal units (EMG in µV, ACC in mG) and
``scale_hint`` converts to the stream's units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from spasmwatch.core import StreamSpec
from spasmwatch.errors import ConfigError

__all__ = ["DEVICE_PRESETS", "SimStream", "presets_for"]

_DEFAULT_CHANNELS = {"acc": ("x", "y", "z")}


@dataclass(frozen=True, slots=True)
class SimStream:
    """One stream the simulator renders.

    Parameters
    ----------
    device : str
        Device name (the profile id, e.g. ``"myo"``).
    kind : str
        ``"emg"`` or ``"acc"``.
    rate_hz : float
        Sample rate (Hz).
    n_channels : int
        Number of channels (EMG: electrodes; ACC: 3).
    units : str
        Units of the output samples (``"counts"``, ``"uV"``, ``"mG"``).
    scale_hint : float
        Output units per internal unit (internal EMG unit: µV; internal ACC unit: mG).
        The Myo's counts have no published µV scale; ``0.1`` counts/µV makes the simulated
        amplitudes match the real Myo recordings (see ``docs/simulation.md``).
    channels : tuple of str, optional
        Channel names; default ``ch0..`` for EMG and ``x, y, z`` for ACC.
    quantum : float or None
        Output resolution in output units (values are floored to multiples of it, like an
        ADC that truncates); ``None`` for no quantisation.
    clip : tuple of float or None
        ``(low, high)`` output range; samples beyond saturate like the real ADC.
    packet_samples : int
        Samples per BLE notification; packet loss removes whole notifications.
    noise : float
        Sensor noise floor, standard deviation in internal units (µV or mG). For EMG the
        wearer's skin/electrode noise is added on top.
    """

    device: str
    kind: str
    rate_hz: float
    n_channels: int
    units: str
    scale_hint: float = 1.0
    channels: tuple[str, ...] | None = None
    quantum: float | None = None
    clip: tuple[float, float] | None = None
    packet_samples: int = 1
    noise: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("emg", "acc"):
            raise ConfigError(
                f"SimStream.kind must be 'emg' or 'acc' (got {self.kind!r}); the simulator "
                "renders EMG and accelerometer streams only"
            )
        if not (isinstance(self.rate_hz, int | float) and math.isfinite(self.rate_hz)):
            raise ConfigError(f"SimStream.rate_hz must be a finite number (got {self.rate_hz!r})")
        if self.rate_hz <= 0 or self.rate_hz > 20000:
            raise ConfigError(f"SimStream.rate_hz must be in (0, 20000] Hz (got {self.rate_hz})")
        if self.kind == "acc" and self.n_channels != 3:
            raise ConfigError(f"SimStream acc needs n_channels == 3 (got {self.n_channels})")
        if not isinstance(self.n_channels, int) or not 1 <= self.n_channels <= 64:
            raise ConfigError(f"SimStream.n_channels must be 1..64 (got {self.n_channels!r})")
        if not (self.scale_hint > 0):
            raise ConfigError(f"SimStream.scale_hint must be > 0 (got {self.scale_hint!r})")
        if self.channels is None:
            names = _DEFAULT_CHANNELS.get(self.kind) or tuple(
                f"ch{i}" for i in range(self.n_channels)
            )
            object.__setattr__(self, "channels", tuple(names))
        elif len(self.channels) != self.n_channels:
            raise ConfigError(
                f"SimStream.channels has {len(self.channels)} names for {self.n_channels} channels"
            )
        if self.clip is not None and not self.clip[0] < self.clip[1]:
            raise ConfigError(f"SimStream.clip must be (low, high) with low < high ({self.clip})")
        if self.quantum is not None and not self.quantum > 0:
            raise ConfigError(f"SimStream.quantum must be > 0 or None (got {self.quantum!r})")
        if not isinstance(self.packet_samples, int) or self.packet_samples < 1:
            raise ConfigError(
                f"SimStream.packet_samples must be an int >= 1 ({self.packet_samples!r})"
            )
        if self.noise < 0:
            raise ConfigError(f"SimStream.noise must be >= 0 (got {self.noise!r})")

    @property
    def key(self) -> str:
        """``"<device>.<kind>"``."""
        return f"{self.device}.{self.kind}"

    @property
    def spec(self) -> StreamSpec:
        """The :class:`~spasmwatch.core.StreamSpec` of this stream."""
        return StreamSpec(
            self.device, self.kind, tuple(self.channels or ()), self.rate_hz, self.units
        )


def _acc(
    device: str, rate: float, packet: int, *, clip: float, noise: float, quantum: float | None
) -> SimStream:
    return SimStream(
        device, "acc", rate, 3, "mG", 1.0, quantum=quantum, clip=(-clip, clip),
        packet_samples=packet, noise=noise,
    )  # fmt: skip


#: Streams of each device, as in ``firmware_configs/<id>.toml`` (EMG and ACC only).
DEVICE_PRESETS: dict[str, tuple[SimStream, ...]] = {
    "myo": (
        SimStream(
            "myo",
            "emg",
            200.0,
            8,
            "counts",
            0.1,
            quantum=1.0,
            clip=(-128.0, 127.0),
            packet_samples=2,
            noise=0.0,
        ),
        _acc("myo", 50.0, 1, clip=16000.0, noise=2.0, quantum=1000 / 2048),
    ),
    "polar-h10": (_acc("polar-h10", 200.0, 36, clip=8000.0, noise=3.0, quantum=1.0),),
    "nus-reference": (
        SimStream(
            "nus-reference",
            "emg",
            1000.0,
            2,
            "uV",
            1.0,
            channels=("emg0", "emg1"),
            quantum=0.5,
            clip=(-16384.0, 16383.5),
            packet_samples=50,
            noise=2.0,
        ),
        _acc("nus-reference", 100.0, 10, clip=8192.0, noise=3.0, quantum=0.25),
    ),
    "polar-verity-sense": (
        _acc("polar-verity-sense", 52.0, 57, clip=8000.0, noise=3.0, quantum=0.244),
    ),
    "movesense": (_acc("movesense", 52.0, 4, clip=16000.0, noise=2.0, quantum=None),),
}


def presets_for(device: str, *, acc_rate_hz: float | None = None) -> tuple[SimStream, ...]:
    """The preset streams of ``device``, optionally with another ACC rate (e.g. H10 25 Hz).

    Raises
    ------
    ConfigError
        If ``device`` has no preset.
    """
    base = device
    if base not in DEVICE_PRESETS:
        raise ConfigError(
            f"no simulator preset for device {device!r}; known: {sorted(DEVICE_PRESETS)}. "
            "Pass SimStream objects for other devices"
        )
    out = DEVICE_PRESETS[base]
    if acc_rate_hz is not None:
        out = tuple(
            SimStream(
                s.device, s.kind, float(acc_rate_hz), s.n_channels, s.units, s.scale_hint,
                s.channels, s.quantum, s.clip,
                max(1, round(s.packet_samples * acc_rate_hz / s.rate_hz)), s.noise,
            )
            if s.kind == "acc"
            else s
            for s in out
        )  # fmt: skip
    return out
