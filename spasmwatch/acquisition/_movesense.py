"""Movesense GATT SensorData Protocol (GSP): ``/Meas/Acc`` decoder and encoder.

Notifications on the GSP data characteristic are ``[type, ref, payload]``
(``ble-protocols.md`` §3.3):

* type 1 COMMAND_RESULT: payload = 2-byte status (no samples);
* type 2 DATA: for ``/Meas/Acc/{rate}``: ``uint32`` ms timestamp of the **first** sample,
  then N x ``float32`` x, y, z in m/s^2 (spasmwatch reports mG: x 1000 / 9.80665);
* type 3 DATA_PART2: continuation of a DATA message that did not fit one notification;
  the message is ``part1 + part2[2:]``.

A DATA notification whose payload does not hold whole samples is kept as part 1 only
when it is exactly ``max_notification_bytes`` long (a split message fills the first
notification); a shorter one is truncated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from spasmwatch.acquisition._codecs import (
    as_bytes,
    check_samples,
    decode_error,
    encoder_stream,
    frame_chunks,
    where_of,
)
from spasmwatch.acquisition._frames import DecodedFrame
from spasmwatch.errors import ConfigError

if TYPE_CHECKING:
    from spasmwatch.acquisition._profiles import DeviceProfile

__all__ = [
    "GSP_COMMAND_RESULT",
    "GSP_DATA",
    "GSP_DATA_PART2",
    "MovesenseGspDecoder",
    "MovesenseGspEncoder",
    "gsp_subscribe",
    "gsp_unsubscribe",
]

GSP_COMMAND_RESULT = 1
GSP_DATA = 2
GSP_DATA_PART2 = 3
_DEFAULT_MAX = 244  # ATT MTU 247 - 3


def gsp_subscribe(reference: int, path: str) -> bytes:
    """SUBSCRIBE command ``01 ref <ASCII path>``, e.g. ``gsp_subscribe(99, "/Meas/Acc/104")``."""
    if not 1 <= reference <= 255:
        raise ValueError(f"GSP reference must be 1..255, got {reference}")
    return bytes([0x01, reference]) + path.encode("ascii")


def gsp_unsubscribe(reference: int) -> bytes:
    """UNSUBSCRIBE command bytes ``02 ref``."""
    if not 1 <= reference <= 255:
        raise ValueError(f"GSP reference must be 1..255, got {reference}")
    return bytes([0x02, reference])


class MovesenseGspDecoder:
    """Decoder for the GSP data characteristic (``/Meas/Acc`` subscriptions).

    Parameters
    ----------
    profile : DeviceProfile
        Movesense profile; the acc stream's ``params.reference`` is the subscription ref.
    characteristic : str, optional
        UUID decoded (for messages).
    max_notification_bytes : int, optional
        Size of a full notification (ATT MTU - 3); default the stream's
        ``params.max_notification_bytes`` or 244.

    Attributes
    ----------
    command_results : list of tuple
        ``(ref, status)`` of COMMAND_RESULT notifications (status read little-endian;
        the firmware may write it big-endian, see docs/devices.md).
    dropped_parts : int
        Part-1 messages discarded because no DATA_PART2 followed.
    """

    def __init__(
        self,
        profile: DeviceProfile,
        characteristic: str | None = None,
        *,
        max_notification_bytes: int | None = None,
    ) -> None:
        self._where = where_of(profile, characteristic)
        self._streams = {}
        for s in profile.streams:
            if s.decoder == "movesense-gsp":
                self._streams[int(s.param("reference", 99))] = s
        first = next(iter(self._streams.values()))
        self.max_notification_bytes = int(
            max_notification_bytes or first.param("max_notification_bytes", _DEFAULT_MAX)
        )
        self.command_results: list[tuple[int, int]] = []
        self.reset()

    def reset(self) -> None:
        """Forget a held part-1 message."""
        self._pending: dict[int, bytes] = {}
        self.dropped_parts = 0

    def decode(self, frame: bytes | bytearray | memoryview) -> list[DecodedFrame]:
        """Decode one GSP notification (``[]`` for command results and held part 1)."""
        b = as_bytes(frame)
        if len(b) < 2:
            raise decode_error(self._where, "truncated", "at least 2 bytes (type, ref)", b)
        typ, ref = b[0], b[1]
        if typ == GSP_COMMAND_RESULT:
            if len(b) < 4:
                raise decode_error(self._where, "truncated", "4 bytes (1, ref, status16)", b)
            self.command_results.append((ref, int.from_bytes(b[2:4], "little")))
            return []
        if typ not in (GSP_DATA, GSP_DATA_PART2):
            raise decode_error(self._where, "unknown_type", "type 1, 2 or 3", b)
        s = self._streams.get(ref)
        if s is None:
            raise decode_error(
                self._where, "unknown_reference", f"a reference in {sorted(self._streams)}", b
            )
        c = s.n_channels
        if typ == GSP_DATA_PART2:
            part1 = self._pending.pop(ref, None)
            if part1 is None:
                raise decode_error(self._where, "orphan_part", "a DATA (type 2) part 1 first", b)
            b = part1 + b[2:]
        elif ref in self._pending:
            del self._pending[ref]
            self.dropped_parts += 1
        body = len(b) - 6
        if body < 4 * c or body % (4 * c):
            if typ == GSP_DATA and len(b) == self.max_notification_bytes and body > 0:
                self._pending[ref] = b
                return []
            raise decode_error(
                self._where,
                "truncated",
                f"2 + 4 + N x {4 * c} bytes (type, ref, uint32 ms, float32 x,y,z), N >= 1",
                b,
            )
        ts_ms = int.from_bytes(b[2:6], "little")
        vals = np.frombuffer(b, "<f4", offset=6).astype(np.float64).reshape(-1, c) * s.scale
        return [
            DecodedFrame(
                kind=s.kind,
                samples=vals,
                device_time_ns=ts_ms * 1_000_000,
                first_sample_time=True,
            )
        ]


class MovesenseGspEncoder:
    """Encode acc samples (mG) as GSP DATA notifications (simulated Movesense, tests).

    Parameters
    ----------
    profile : DeviceProfile
        Movesense profile.
    kind : str
        ``"acc"``.
    max_notification_bytes : int
        A message longer than this is split into DATA + DATA_PART2 (at most two parts).
    samples_per_frame : int, optional
        Overrides the profile's value.
    """

    kinds = ("acc",)

    def __init__(
        self,
        profile: DeviceProfile,
        kind: str = "acc",
        *,
        max_notification_bytes: int | None = None,
        samples_per_frame: int | None = None,
    ) -> None:
        s = encoder_stream(profile, kind, "movesense-gsp", "GSP")
        self.profile = profile
        self.stream = s
        self.kind = kind
        self.reference = int(s.param("reference", 99))
        self.samples_per_frame = int(samples_per_frame or s.samples_per_frame)
        self.characteristics = s.characteristics[:1]
        self.max_notification_bytes = int(
            max_notification_bytes or s.param("max_notification_bytes", _DEFAULT_MAX)
        )
        if 6 + 12 * self.samples_per_frame > 2 * self.max_notification_bytes - 2:
            raise ConfigError(
                f"{self.samples_per_frame} samples do not fit in two notifications of "
                f"{self.max_notification_bytes} bytes",
                reason="too_large",
            )
        self._period_ns = 1e9 / s.rate_hz
        self.reset()

    def reset(self) -> None:
        """Restart the sensor clock at 0 ms."""
        self._t0 = 0
        self._idx = 0

    def encode(
        self,
        samples: np.ndarray,
        *,
        device_time_ns: int | None = None,
        seq: int | None = None,
        sample_counter: int | None = None,
    ) -> list[tuple[str, bytes]]:
        """Encode ``(n, 3)`` mG samples; each message stamps its first sample in ms."""
        a = check_samples(samples, self.stream.n_channels, f"{self.profile.id}.{self.kind}")
        if device_time_ns is not None:
            self._t0, self._idx = int(device_time_ns), 0
        vals = (a / self.stream.scale).astype("<f4")
        uuid = self.characteristics[0]
        out: list[tuple[str, bytes]] = []
        m = self.max_notification_bytes
        for start, chunk in frame_chunks(vals, self.samples_per_frame):
            t_ns = self._t0 + round((self._idx + start) * self._period_ns)
            ts_ms = (t_ns // 1_000_000) & 0xFFFFFFFF
            msg = bytes([GSP_DATA, self.reference]) + int(ts_ms).to_bytes(4, "little")
            msg += chunk.tobytes()
            if len(msg) <= m:
                out.append((uuid, msg))
            else:
                out.append((uuid, msg[:m]))
                out.append((uuid, bytes([GSP_DATA_PART2, self.reference]) + msg[m:]))
        self._idx += a.shape[0]
        return out
