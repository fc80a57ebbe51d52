"""What a decoder returns for one notification: :class:`DecodedFrame`, and the decoder contract."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = ["DecodedFrame", "FrameDecoder"]


@dataclass(frozen=True, slots=True, eq=False)
class DecodedFrame:
    """Samples decoded from one BLE notification.

    Parameters
    ----------
    kind : str
        Stream kind the samples belong to (``"acc"``, ``"emg"``, ``"ecg"``, ``"gyro"``,
        ``"quat"``). One characteristic may carry several kinds (Polar PMD, NUS reference).
    samples : numpy.ndarray
        float64 or float32, shape ``(n_samples, n_channels)``, already scaled to the stream's
        physical units (the profile's ``units``).
    device_time_ns : int or None
        Device clock time of the **last** sample of the frame in ns on the device's own
        epoch (Polar: ns since 2000-01-01; Movesense: ms clock converted to ns; NUS: sample
        counter × period), or ``None`` where the device sends no time (Myo).
    first_sample_time : bool
        True when ``device_time_ns`` refers to the first sample instead (Movesense).
    seq : int or None
        Notification sequence counter where the frame has one (NUS reference: uint16).
    sample_counter : int or None
        Device sample index of the first sample of the frame where the frame has one
        (NUS reference: uint32), for exact gap accounting.
    """

    kind: str
    samples: np.ndarray
    device_time_ns: int | None = None
    first_sample_time: bool = False
    seq: int | None = None
    sample_counter: int | None = None

    @property
    def n_samples(self) -> int:
        return int(self.samples.shape[0])


class FrameDecoder(Protocol):
    """Decodes the notifications of one characteristic.

    A decoder is built from a device profile (so it knows scales, channel counts and
    any negotiated settings such as the Polar FACTOR) and may keep small state (Polar
    delta frames need none; Movesense DATA_PART2 needs the first part).
    """

    def decode(self, frame: bytes | bytearray | memoryview) -> list[DecodedFrame]:
        """Decode one notification.

        Returns an empty list for notifications that carry no samples (e.g. a command
        result). Raises :class:`spasmwatch.errors.DecodeError` for malformed bytes.
        """
        ...

    def reset(self) -> None:
        """Forget any state (e.g. after a reconnect)."""
        ...
