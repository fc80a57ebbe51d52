"""Thalmic Myo armband: EMG and IMU notification decoders and encoders.

Layouts (``ble-protocols.md`` §2, little-endian despite ``myohw.h``):

* EMG, each of the four EMG characteristics: 16 bytes = ``int8 sample1[8]`` then
  ``int8 sample2[8]``; unitless ADC counts; no counter or timestamp.
* IMU (``d5060402``): 20 bytes ``<10h`` = quaternion w,x,y,z / 16384, accelerometer
  x,y,z / 2048 g (spasmwatch reports mG: x 1000/2048), gyroscope x,y,z / 16 deg/s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from spasmwatch.acquisition._codecs import (
    as_bytes,
    check_length,
    check_samples,
    encoder_stream,
    to_counts,
    to_units,
    where_of,
)
from spasmwatch.acquisition._frames import DecodedFrame

if TYPE_CHECKING:
    from spasmwatch.acquisition._profiles import DeviceProfile

__all__ = ["MyoEmgDecoder", "MyoEmgEncoder", "MyoImuDecoder", "MyoImuEncoder"]

_IMU_KINDS = ("quat", "acc", "gyro")
_IMU_SLICES = {"quat": slice(0, 4), "acc": slice(4, 7), "gyro": slice(7, 10)}
_I16 = (-32768, 32767)


class MyoEmgDecoder:
    """Decoder for one Myo EMG characteristic: 16 bytes -> 2 samples x 8 channels.

    Samples are ``counts x scale`` (scale 1.0: raw int8 counts). ``device_time_ns`` is None.
    """

    def __init__(self, profile: DeviceProfile, characteristic: str | None = None) -> None:
        self.stream = profile.stream("emg")
        self._where = where_of(profile, characteristic)
        self._scale = self.stream.scale
        self._c = self.stream.n_channels

    def reset(self) -> None:
        """Stateless."""

    def decode(self, frame: bytes | bytearray | memoryview) -> list[DecodedFrame]:
        """Decode one 16-byte EMG notification."""
        b = as_bytes(frame)
        need = 2 * self._c
        check_length(self._where, b, need, f"{need} bytes (2 samples x 8 int8)")
        counts = np.frombuffer(b, np.int8).reshape(2, self._c)
        return [DecodedFrame(kind="emg", samples=to_units(counts, self._scale))]


class MyoImuDecoder:
    """Decoder for the Myo IMU characteristic: 20 bytes -> one quat, acc and gyro sample.

    Returns one :class:`DecodedFrame` per IMU kind the profile declares (``quat``, ``acc``,
    ``gyro``, in that order), each scaled by its stream's ``scale``.
    """

    def __init__(self, profile: DeviceProfile, characteristic: str | None = None) -> None:
        self._where = where_of(profile, characteristic)
        kinds = {s.kind for s in profile.streams if s.decoder == "myo-imu"}
        self._parts = [
            (k, _IMU_SLICES[k], profile.stream(k).scale) for k in _IMU_KINDS if k in kinds
        ]

    def reset(self) -> None:
        """Stateless."""

    def decode(self, frame: bytes | bytearray | memoryview) -> list[DecodedFrame]:
        """Decode one 20-byte IMU notification."""
        b = as_bytes(frame)
        check_length(self._where, b, 20, "20 bytes (<10h quat, acc, gyro)")
        raw = np.frombuffer(b, "<i2").astype(np.float64)
        return [
            DecodedFrame(kind=k, samples=(raw[sl] * scale).reshape(1, -1))
            for k, sl, scale in self._parts
        ]


class MyoEmgEncoder:
    """Encode EMG counts as Myo EMG notifications, rotating over the four characteristics.

    ``encode`` takes ``(n, 8)`` samples; pairs of samples become one 16-byte notification.
    An odd last sample is held until the next call (``pending``). Values saturate at int8.
    """

    kinds = ("emg",)

    def __init__(self, profile: DeviceProfile, kind: str = "emg") -> None:
        s = encoder_stream(profile, kind, "myo-emg", "Myo EMG")
        self.profile = profile
        self.stream = s
        self.kind = kind
        self.samples_per_frame = 2
        self.characteristics = s.characteristics
        self.reset()

    def reset(self) -> None:
        """Restart the rotation at EMG characteristic 0 and drop a held sample."""
        self._next_char = 0
        self._pending = np.zeros((0, self.stream.n_channels), np.int64)

    @property
    def pending(self) -> int:
        """Samples held back waiting for a partner (0 or 1)."""
        return int(self._pending.shape[0])

    def encode(
        self,
        samples: np.ndarray,
        *,
        device_time_ns: int | None = None,
        seq: int | None = None,
        sample_counter: int | None = None,
    ) -> list[tuple[str, bytes]]:
        """Encode ``(n, 8)`` counts; time and counters are ignored (Myo sends none)."""
        a = check_samples(samples, self.stream.n_channels, f"{self.profile.id}.emg")
        counts = np.concatenate([self._pending, to_counts(a, self.stream.scale, -128, 127)])
        n_pairs = counts.shape[0] // 2
        self._pending = counts[2 * n_pairs :]
        body = counts[: 2 * n_pairs].astype(np.int8).reshape(n_pairs, 2 * counts.shape[1])
        out = []
        chars = self.characteristics
        for i in range(n_pairs):
            out.append((chars[self._next_char], body[i].tobytes()))
            self._next_char = (self._next_char + 1) % len(chars)
        return out


class MyoImuEncoder:
    """Encode IMU samples as 20-byte Myo IMU notifications.

    One notification carries quaternion, accelerometer and gyroscope together. Use
    :meth:`encode_imu` to send all three; :meth:`encode` sends only this encoder's
    ``kind`` and fills the others with an identity quaternion / zeros.
    """

    kinds = _IMU_KINDS

    def __init__(self, profile: DeviceProfile, kind: str = "acc") -> None:
        s = encoder_stream(profile, kind, "myo-imu", "Myo IMU")
        self.profile = profile
        self.kind = kind
        self.stream = s
        self.samples_per_frame = 1
        self.characteristics = s.characteristics[:1]
        self._scales = {k: profile.stream(k).scale for k in _IMU_KINDS}

    def reset(self) -> None:
        """Stateless."""

    def encode_imu(
        self, quat: np.ndarray, acc: np.ndarray, gyro: np.ndarray
    ) -> list[tuple[str, bytes]]:
        """Encode ``n`` IMU samples: quat ``(n, 4)`` unitless, acc ``(n, 3)`` mG,
        gyro ``(n, 3)`` deg/s. Values saturate at int16."""
        parts = []
        n = None
        for k, x, c in (("quat", quat, 4), ("acc", acc, 3), ("gyro", gyro, 3)):
            a = check_samples(x, c, f"{self.profile.id}.{k}")
            if n is not None and a.shape[0] != n:
                raise ValueError("encode_imu: quat, acc and gyro must have the same n_samples")
            n = a.shape[0]
            parts.append(to_counts(a, self._scales[k], *_I16).astype("<i2"))
        raw = np.concatenate(parts, axis=1)
        uuid = self.characteristics[0]
        return [(uuid, row.tobytes()) for row in raw]

    def encode(
        self,
        samples: np.ndarray,
        *,
        device_time_ns: int | None = None,
        seq: int | None = None,
        sample_counter: int | None = None,
    ) -> list[tuple[str, bytes]]:
        """Encode ``samples`` of this encoder's kind; time and counters are ignored."""
        c = _IMU_SLICES[self.kind].stop - _IMU_SLICES[self.kind].start
        a = check_samples(samples, c, f"{self.profile.id}.{self.kind}")
        n = a.shape[0]
        vals = {
            "quat": np.tile([1.0, 0.0, 0.0, 0.0], (n, 1)),
            "acc": np.zeros((n, 3)),
            "gyro": np.zeros((n, 3)),
        }
        vals[self.kind] = a
        return self.encode_imu(vals["quat"], vals["acc"], vals["gyro"])
