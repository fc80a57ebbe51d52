"""spasmwatch NUS reference firmware: frame decoder and encoder.

The contract is ``docs/nus-reference-protocol.md``. Data frames on the NUS TX
characteristic (little-endian)::

    off  size  field
    0    1     0xA1: magic 0xA (high nibble) | protocol version 1 (low nibble)
    1    1     stream type: 0x01 EMG (2 ch), 0x02 ACC (3 ch), 0xF0 command response
    2    2     uint16 seq: per-stream notification counter, +1 per frame, wraps 65535 -> 0
    4    4     uint32 sample counter of the first sample, per stream, wraps 2^32 -> 0
    8    1     uint8 n: samples in this frame (1..255)
    9    2*n*C int16 samples, sample-major, channel-minor (s0c0 s0c1 s1c0 ...)

Command response: ``A1 F0 <op> <status>`` (status 0 = ok). Commands written to NUS RX:
``01 <mask>`` START, ``02 <mask>`` STOP (mask bit 0 EMG, bit 1 ACC).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from spasmwatch.acquisition._codecs import (
    as_bytes,
    check_length,
    check_samples,
    decode_error,
    encoder_stream,
    frame_chunks,
    to_counts,
    to_units,
    where_of,
)
from spasmwatch.acquisition._frames import DecodedFrame
from spasmwatch.errors import ConfigError

if TYPE_CHECKING:
    from spasmwatch.acquisition._profiles import DeviceProfile, StreamProfile

__all__ = [
    "NUS_CMD_START",
    "NUS_CMD_STOP",
    "NUS_HEADER_BYTES",
    "NUS_MAGIC_VERSION",
    "NUS_RESPONSE",
    "NusReferenceDecoder",
    "NusReferenceEncoder",
    "build_nus_response",
    "parse_nus_command",
]

NUS_MAGIC_VERSION = 0xA1
NUS_HEADER_BYTES = 9
NUS_RESPONSE = 0xF0
NUS_CMD_START = 0x01
NUS_CMD_STOP = 0x02
_U32 = 1 << 32


def build_nus_response(op: int, status: int = 0) -> bytes:
    """Command response frame ``A1 F0 op status`` (simulator side)."""
    return bytes([NUS_MAGIC_VERSION, NUS_RESPONSE, op & 0xFF, status & 0xFF])


def parse_nus_command(data: bytes | bytearray | memoryview) -> tuple[int, int]:
    """``(op, mask)`` of a command written to NUS RX (simulator side).

    Raises DecodeError ``truncated`` (not 2 bytes) or ``unknown_type`` (op not 1/2).
    """
    b = as_bytes(data)
    check_length("nus-reference command", b, 2, "2 bytes")
    if b[0] not in (NUS_CMD_START, NUS_CMD_STOP):
        raise decode_error("nus-reference command", "unknown_type", "op 0x01 or 0x02", b)
    return b[0], b[1]


class NusReferenceDecoder:
    """Decoder for the NUS TX characteristic of the reference firmware (EMG and ACC).

    ``seq`` is reported raw (uint16, wraps); ``sample_counter`` is unwrapped across the
    uint32 wrap (per stream, since the last :meth:`reset`); ``device_time_ns`` is
    ``(sample_counter + n - 1) x 1e9 / rate`` (the last sample, counter-derived).
    Command responses are appended to :attr:`responses` and return ``[]``.
    """

    def __init__(self, profile: DeviceProfile, characteristic: str | None = None) -> None:
        self._where = where_of(profile, characteristic)
        self._by_type: dict[int, StreamProfile] = {}
        for s in profile.streams:
            if s.decoder == "nus-reference":
                self._by_type[int(s.param("stream_type"))] = s
        self.responses: list[tuple[int, int]] = []
        self.reset()

    def reset(self) -> None:
        """Forget counter unwrapping state (after a reconnect or a new START)."""
        self._last_raw: dict[int, int] = {}
        self._wraps: dict[int, int] = {}

    def _unwrap(self, st: int, raw: int) -> int:
        last = self._last_raw.get(st)
        wraps = self._wraps.get(st, 0)
        if last is not None and raw < last and last - raw > _U32 // 2:
            wraps += 1
            self._wraps[st] = wraps
        self._last_raw[st] = raw
        return wraps * _U32 + raw

    def decode(self, frame: bytes | bytearray | memoryview) -> list[DecodedFrame]:
        """Decode one notification into one :class:`DecodedFrame` (or ``[]``)."""
        b = as_bytes(frame)
        if len(b) < 2:
            raise decode_error(self._where, "truncated", "at least 2 bytes (magic, type)", b)
        if b[0] >> 4 != 0xA:
            raise decode_error(self._where, "bad_magic", "first byte 0xA1 (magic 0xA)", b)
        if b[0] & 0x0F != 1:
            raise decode_error(self._where, "unsupported_version", "protocol version 1", b)
        st = b[1]
        if st == NUS_RESPONSE:
            check_length(self._where, b, 4, "4 bytes (A1 F0 op status)")
            self.responses.append((b[2], b[3]))
            return []
        s = self._by_type.get(st)
        if s is None:
            known = {t: s.kind for t, s in self._by_type.items()}
            raise decode_error(self._where, "unknown_type", f"a stream type in {known}", b)
        if len(b) < NUS_HEADER_BYTES:
            raise decode_error(self._where, "truncated", "a 9-byte header", b)
        n = b[8]
        c = s.n_channels
        if n == 0:
            raise decode_error(self._where, "bad_length", "n_samples >= 1", b)
        need = NUS_HEADER_BYTES + 2 * n * c
        check_length(self._where, b, need, f"{need} bytes (9 + {n} samples x {c} ch x int16)")
        seq = int.from_bytes(b[2:4], "little")
        counter = self._unwrap(st, int.from_bytes(b[4:8], "little"))
        counts = np.frombuffer(b, "<i2", offset=NUS_HEADER_BYTES).reshape(n, c)
        t_last = round((counter + n - 1) * 1e9 / s.rate_hz)
        return [
            DecodedFrame(
                kind=s.kind,
                samples=to_units(counts, s.scale),
                device_time_ns=int(t_last),
                seq=seq,
                sample_counter=counter,
            )
        ]


class NusReferenceEncoder:
    """Encode one stream as reference-firmware frames (simulated device, tests).

    ``seq`` and ``sample_counter`` given to :meth:`encode` set the counters of the first
    frame (they wrap modulo 2^16 / 2^32); otherwise they continue from the last call.
    Samples saturate at int16.
    """

    def __init__(
        self, profile: DeviceProfile, kind: str, *, samples_per_frame: int | None = None
    ) -> None:
        s = encoder_stream(profile, kind, "nus-reference", "NUS")
        self.profile = profile
        self.stream = s
        self.kind = kind
        self.kinds = (kind,)
        self.stream_type = int(s.param("stream_type"))
        self.samples_per_frame = int(samples_per_frame or s.samples_per_frame)
        if not 1 <= self.samples_per_frame <= 255:
            raise ConfigError("NUS samples_per_frame must be 1..255", reason="bad_value")
        self.characteristics = s.characteristics[:1]
        self.reset()

    def reset(self) -> None:
        """Restart both counters at 0 (what the firmware does on START)."""
        self._seq = 0
        self._counter = 0

    def encode(
        self,
        samples: np.ndarray,
        *,
        device_time_ns: int | None = None,
        seq: int | None = None,
        sample_counter: int | None = None,
    ) -> list[tuple[str, bytes]]:
        """Encode ``(n, C)`` samples in stream units; ``device_time_ns`` is ignored (the
        firmware's time is its sample counter)."""
        a = check_samples(samples, self.stream.n_channels, f"{self.profile.id}.{self.kind}")
        if seq is not None:
            self._seq = int(seq) & 0xFFFF
        if sample_counter is not None:
            self._counter = int(sample_counter) % _U32
        counts = to_counts(a, self.stream.scale, -32768, 32767).astype("<i2")
        uuid = self.characteristics[0]
        out: list[tuple[str, bytes]] = []
        for _, chunk in frame_chunks(counts, self.samples_per_frame):
            n = chunk.shape[0]
            head = bytes([NUS_MAGIC_VERSION, self.stream_type])
            head += self._seq.to_bytes(2, "little") + self._counter.to_bytes(4, "little")
            head += bytes([n])
            out.append((uuid, head + chunk.tobytes()))
            self._seq = (self._seq + 1) & 0xFFFF
            self._counter = (self._counter + n) % _U32
        return out
