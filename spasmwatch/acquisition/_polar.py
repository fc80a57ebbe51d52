"""Polar Measurement Data (PMD): data-frame decoder/encoder and control-point messages.

Byte layouts follow ``ble-protocols.md`` §1 (Polar H10, Verity Sense):

* data frame (PMD data characteristic, notify): ``type(1) ts_ns(8, last sample, Polar epoch
  2000-01-01) frame_type(1) payload``; frame type bit 7 = delta-compressed;
* ACC raw frames ``0x00/0x01/0x02`` = int8/int16/int24 x,y,z in mG; ECG ``0x00`` = int24 uV;
* delta frames ``0x80/0x81``: a reference sample then blocks ``W K`` + ``ceil(W*K*C/8)``
  bytes of LSB-first W-bit two's-complement deltas, sample-major, channel-minor;
  ``0x80`` counts x FACTOR x 1000 -> mG (Verity), ``0x81`` counts x FACTOR (default 1) -> mG;
* control point responses ``F0 op type status more params``, params = setting TLVs.

Decoding is vectorised with numpy (``unpackbits`` for delta blocks); there is no Python
loop per sample.
"""

from __future__ import annotations

import math
import struct
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from spasmwatch.acquisition._codecs import (
    as_bytes,
    check_samples,
    decode_error,
    encoder_stream,
    frame_chunks,
    to_counts,
    to_units,
    where_of,
)
from spasmwatch.acquisition._frames import DecodedFrame
from spasmwatch.errors import ConfigError, DecodeError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from spasmwatch.acquisition._profiles import DeviceProfile, StreamProfile

__all__ = [
    "PMD_DEFAULT_CLOCK_NS",
    "PMD_MEASUREMENT_TYPES",
    "PMD_STATUS",
    "POLAR_EPOCH_UNIX_NS",
    "PmdCpRequest",
    "PmdCpResponse",
    "PolarControlPointDecoder",
    "PolarPmdDecoder",
    "PolarPmdEncoder",
    "build_pmd_cp_response",
    "decode_delta_payload",
    "encode_delta_payload",
    "parse_pmd_cp_request",
    "parse_pmd_cp_response",
    "pmd_settings_bytes",
]

#: Unix ns of the Polar epoch 2000-01-01T00:00:00Z.
POLAR_EPOCH_UNIX_NS = 946_684_800_000_000_000
#: Device clock of an H10 that lost its time: 2019-01-01 in Polar-epoch ns.
PMD_DEFAULT_CLOCK_NS = 599_616_000_000_000_000

#: PMD measurement type byte -> name.
PMD_MEASUREMENT_TYPES = {
    0: "ecg",
    1: "ppg",
    2: "acc",
    3: "ppi",
    5: "gyro",
    6: "mag",
    7: "skin_temp",
    9: "sdk_mode",
    10: "location",
    11: "pressure",
    12: "temperature",
    13: "offline_recording",
    14: "offline_hr",
}

#: Control-point response status codes.
PMD_STATUS = {
    0: "SUCCESS",
    1: "INVALID_OP_CODE",
    2: "INVALID_MEASUREMENT_TYPE",
    3: "NOT_SUPPORTED",
    4: "INVALID_LENGTH",
    5: "INVALID_PARAMETER",
    6: "ALREADY_IN_STATE",
    7: "INVALID_RESOLUTION",
    8: "INVALID_SAMPLE_RATE",
    9: "INVALID_RANGE",
    10: "INVALID_MTU",
    11: "INVALID_NUMBER_OF_CHANNELS",
    12: "INVALID_STATE",
    13: "DEVICE_IN_CHARGER",
    14: "DISK_FULL",
}

# setting type -> (name, value size in bytes, struct code)
_SETTINGS: dict[int, tuple[str, int, str]] = {
    0: ("sample_rate", 2, "<H"),
    1: ("resolution", 2, "<H"),
    2: ("range", 2, "<H"),
    3: ("range_milliunit", 4, "<I"),
    4: ("channels", 1, "<B"),
    5: ("factor", 4, "<f"),
    6: ("security", 16, ""),
}
_SETTING_IDS = {name: (t, size, code) for t, (name, size, code) in _SETTINGS.items()}

# raw frame type -> bytes per value, per stream kind
_RAW_WIDTHS: dict[str, dict[int, int]] = {
    "acc": {0: 1, 1: 2, 2: 3},
    "gyro": {0: 2, 1: 3},
    "mag": {0: 2, 1: 3},
    "ecg": {0: 3},
}


class _Bad(Exception):
    """Internal: a frame is malformed (reason, expectation); wrapped into DecodeError."""

    def __init__(self, reason: str, expected: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.expected = expected


# --------------------------------------------------------------------------------------
# control point


@dataclass(frozen=True, slots=True)
class PmdCpResponse:
    """A PMD control-point response ``F0 op type status more params``.

    Parameters
    ----------
    op : int
        Op code answered (1 get settings, 2 start, 3 stop, ...).
    type : int
        Measurement type byte (``& 0x3F`` = type, bit 7 = offline recording).
    status : int
        0 = success; see :data:`PMD_STATUS`.
    more : bool
        Further indications follow for this op (their bytes from index 5 are appended).
    params : bytes
        Bytes after ``more``.
    settings : dict
        Parsed setting TLVs (only on success and when ``params`` is longer than 1 byte):
        name -> tuple of values, e.g. ``{"sample_rate": (25, 50, 100, 200)}``,
        ``{"factor": (2.44e-4,)}``.
    """

    op: int
    type: int
    status: int
    more: bool
    params: bytes = b""
    settings: dict[str, tuple[Any, ...]] = field(default_factory=dict, hash=False)

    @property
    def ok(self) -> bool:
        """True on SUCCESS."""
        return self.status == 0

    @property
    def status_name(self) -> str:
        """Name of the status code (``"SUCCESS"``, ``"INVALID_MTU"``...)."""
        return PMD_STATUS.get(self.status, f"UNKNOWN_{self.status}")

    @property
    def measurement(self) -> str:
        """Measurement name (``"acc"``, ``"ecg"``...)."""
        return PMD_MEASUREMENT_TYPES.get(self.type & 0x3F, f"type{self.type & 0x3F}")

    @property
    def factor(self) -> float | None:
        """FACTOR setting (units per count) when the response carries one."""
        f = self.settings.get("factor")
        return float(f[0]) if f else None


@dataclass(frozen=True, slots=True)
class PmdCpRequest:
    """A control-point request ``op type [settings TLVs]`` as written by a client."""

    op: int
    type: int
    settings: dict[str, tuple[Any, ...]] = field(default_factory=dict, hash=False)


def _parse_settings(p: bytes, *, request: bool) -> dict[str, tuple[Any, ...]]:
    out: dict[str, tuple[Any, ...]] = {}
    pos = 0
    n = len(p)
    while pos < n:
        if n - pos < 2:
            raise _Bad("truncated", "a setting TLV header (type, count)")
        t, count = p[pos], p[pos + 1]
        pos += 2
        if t not in _SETTINGS:
            raise _Bad("bad_setting", f"a setting type in {sorted(_SETTINGS)} (got {t})")
        name, size, code = _SETTINGS[t]
        if request:
            count = 1 if count == 0 else count
        need = size * count
        if pos + need > n:
            raise _Bad("truncated", f"{count} x {size}-byte values for setting {name}")
        raw = p[pos : pos + need]
        pos += need
        if code:
            vals = tuple(struct.unpack_from(code, raw, i * size)[0] for i in range(count))
        else:
            vals = (raw,)
        out[name] = vals
    return out


def parse_pmd_cp_response(data: bytes | bytearray | memoryview) -> PmdCpResponse:
    """Parse one control-point indication ``F0 op type status more params``.

    Raises
    ------
    DecodeError
        ``reason="truncated"`` (shorter than 5 bytes or a TLV cut short),
        ``"unknown_type"`` (first byte is not 0xF0, e.g. an unsolicited ``01``
        ONLINE_MEASUREMENT_STOPPED), ``"bad_setting"`` (unknown setting type).
    """
    b = as_bytes(data)
    where = "PMD control point"
    if b[:1] != b"\xf0" and b:
        raise decode_error(where, "unknown_type", "a response starting with F0", b)
    if len(b) < 5:
        raise decode_error(where, "truncated", "at least 5 bytes (F0 op type status more)", b)
    op, typ, status, more = b[1], b[2], b[3], b[4]
    params = b[5:]
    settings: dict[str, tuple[Any, ...]] = {}
    if status == 0 and len(params) > 1:
        try:
            settings = _parse_settings(params, request=False)
        except _Bad as e:
            raise decode_error(where, e.reason, e.expected, b) from None
    return PmdCpResponse(op, typ, status, bool(more), params, settings)


def parse_pmd_cp_request(data: bytes | bytearray | memoryview) -> PmdCpRequest:
    """Parse a control-point write (used by the simulated device): ``op [type [TLVs]]``."""
    b = as_bytes(data)
    if len(b) < 1:
        raise decode_error("PMD control point request", "truncated", "an op code", b)
    op = b[0]
    typ = b[1] if len(b) > 1 else 0
    settings: dict[str, tuple[Any, ...]] = {}
    if op == 0x02 and len(b) > 2:
        try:
            settings = _parse_settings(b[2:], request=True)
        except _Bad as e:
            raise decode_error("PMD control point request", e.reason, e.expected, b) from None
    return PmdCpRequest(op, typ, settings)


def pmd_settings_bytes(settings: Mapping[str, Any]) -> bytes:
    """Setting TLVs for a request or response, e.g. ``{"sample_rate": 200, "factor": 2.44e-4}``.

    A value may be a scalar (count 1) or a sequence (count = length, e.g. available rates).
    """
    out = bytearray()
    for name, value in settings.items():
        if name not in _SETTING_IDS:
            raise ValueError(f"unknown PMD setting {name!r}; known: {sorted(_SETTING_IDS)}")
        t, size, code = _SETTING_IDS[name]
        vals = list(value) if isinstance(value, list | tuple) else [value]
        out += bytes([t, len(vals)])
        for v in vals:
            out += struct.pack(code, v) if code else bytes(v).ljust(size, b"\0")[:size]
    return bytes(out)


def build_pmd_cp_response(
    op: int, type: int, status: int = 0, params: bytes = b"", *, more: bool = False
) -> bytes:
    """Bytes of a control-point response ``F0 op type status more params`` (simulator side).

    Example: ``build_pmd_cp_response(2, 2, params=pmd_settings_bytes({"factor": 2.44e-4}))``
    -> ``F0 02 02 00 00 05 01 40 DA 7F 39``.
    """
    for name, v in (("op", op), ("type", type), ("status", status)):
        if not 0 <= int(v) <= 255:
            raise ValueError(f"build_pmd_cp_response: {name} must be 0..255, got {v}")
    return bytes([0xF0, op, type, status, 1 if more else 0]) + bytes(params)


# --------------------------------------------------------------------------------------
# delta compression


def decode_delta_payload(payload: bytes, channels: int, resolution: int) -> np.ndarray:
    """Decode a PMD delta-compressed payload into integer counts.

    Parameters
    ----------
    payload : bytes
        Frame bytes after the 10-byte header.
    channels : int
        Channels per sample (ACC: 3).
    resolution : int
        Bits of the reference sample (ACC: 16).

    Returns
    -------
    numpy.ndarray
        int64, shape ``(1 + sum(K), channels)``.

    Raises
    ------
    DecodeError
        ``truncated`` (reference or block running past the end), ``bad_bit_width``
        (W = 0 or W > 32), ``bad_block`` (K = 0).
    """
    try:
        return _delta_decode(payload, channels, resolution)
    except _Bad as e:
        raise decode_error("PMD delta payload", e.reason, e.expected, payload) from None


def _delta_decode(p: bytes, c: int, r: int) -> np.ndarray:
    nb = (r + 7) // 8
    n = len(p)
    if n < c * nb:
        raise _Bad("truncated", f"a {c * nb}-byte reference sample ({c} x {r} bit)")
    ref = np.frombuffer(p, np.uint8, c * nb).reshape(c, nb).astype(np.int64)
    ref = (ref << (8 * np.arange(nb, dtype=np.int64))).sum(axis=1) & ((1 << r) - 1)
    sign = 1 << (r - 1)
    ref = (ref ^ sign) - sign
    parts = [ref.reshape(1, c)]
    pos = c * nb
    while pos < n:
        if n - pos < 2:
            raise _Bad("truncated", f"a 2-byte delta block header at offset {10 + pos}")
        w, k = p[pos], p[pos + 1]
        pos += 2
        if w == 0 or w > 32:
            raise _Bad("bad_bit_width", f"a delta bit width 1..32 at offset {8 + pos} (got {w})")
        if k == 0:
            raise _Bad("bad_block", f"a delta sample count >= 1 at offset {9 + pos}")
        nbits = w * k * c
        nbytes = (nbits + 7) // 8
        if pos + nbytes > n:
            raise _Bad(
                "truncated",
                f"{nbytes} delta bytes (W={w}, K={k}) at offset {10 + pos}, only {n - pos} left",
            )
        bits = np.unpackbits(np.frombuffer(p, np.uint8, nbytes, pos), bitorder="little")
        fields = bits[:nbits].reshape(k * c, w).astype(np.int64)
        vals = fields @ (np.int64(1) << np.arange(w, dtype=np.int64))
        sb = np.int64(1) << np.int64(w - 1)
        vals = (vals ^ sb) - sb
        parts.append(vals.reshape(k, c))
        pos += nbytes
    return np.cumsum(np.concatenate(parts, axis=0), axis=0)


def _bits_needed(v: np.ndarray) -> int:
    """Smallest two's-complement width holding every value of ``v`` (at least 1)."""
    if v.size == 0:
        return 1
    x = np.where(v < 0, ~v, v)
    return int(int(x.max()).bit_length() + 1)


def encode_delta_payload(
    counts: np.ndarray, resolution: int, *, bit_width: int | None = None, block_size: int = 255
) -> bytes:
    """Encode integer counts ``(n_samples, channels)`` as a PMD delta payload.

    The first sample is the reference; the remaining ones are split into blocks of at most
    ``block_size`` samples, each with the smallest bit width holding its deltas (like a
    device), or exactly ``bit_width`` when given (ValueError if too small).
    """
    a = np.asarray(counts, dtype=np.int64)
    if a.ndim != 2 or a.shape[0] < 1:
        raise ValueError(f"encode_delta_payload: counts must be (n>=1, channels), got {a.shape}")
    if not 1 <= block_size <= 255:
        raise ValueError(f"encode_delta_payload: block_size must be 1..255, got {block_size}")
    nb = (resolution + 7) // 8
    ref = a[0] & ((1 << (8 * nb)) - 1)
    out = bytearray(
        (ref[:, None] >> (8 * np.arange(nb, dtype=np.int64))).astype(np.uint8).tobytes()
    )
    deltas = np.diff(a, axis=0)
    for start in range(0, deltas.shape[0], block_size):
        blk = deltas[start : start + block_size]
        need = _bits_needed(blk)
        w = need if bit_width is None else int(bit_width)
        if w < need or w > 32:
            raise ValueError(
                f"encode_delta_payload: bit width {w} cannot hold deltas needing {need} bits "
                "(allowed up to 32)"
            )
        k = blk.shape[0]
        vals = blk.reshape(-1) & ((1 << w) - 1)
        bits = ((vals[:, None] >> np.arange(w, dtype=np.int64)) & 1).astype(np.uint8)
        out += bytes([w, k])
        out += np.packbits(bits.reshape(-1), bitorder="little").tobytes()
    return bytes(out)


# --------------------------------------------------------------------------------------
# decoders


def _raw_ints(p: bytes, width: int) -> np.ndarray:
    if width == 1:
        return np.frombuffer(p, np.int8).astype(np.int64)
    if width == 2:
        return np.frombuffer(p, "<i2").astype(np.int64)
    if width == 3:
        b = np.frombuffer(p, np.uint8).reshape(-1, 3).astype(np.int64)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        return (v ^ 0x800000) - 0x800000
    if width == 4:
        return np.frombuffer(p, "<i4").astype(np.int64)
    raise ValueError(width)


def _raw_bytes(counts: np.ndarray, width: int) -> bytes:
    v = counts.reshape(-1)
    if width == 1:
        return v.astype(np.int8).tobytes()
    if width == 2:
        return v.astype("<i2").tobytes()
    if width == 3:
        u = (v & 0xFFFFFF).astype("<u4").view(np.uint8).reshape(-1, 4)[:, :3]
        return u.tobytes()
    return v.astype("<i4").tobytes()


class PolarPmdDecoder:
    """Decoder for the PMD data characteristic (ACC raw and delta frames, ECG).

    Parameters
    ----------
    profile : DeviceProfile
        Polar profile; its ``polar-pmd`` streams give the measurement types (``pmd_type``),
        ``resolution`` and, for Verity ``0x80`` frames, ``default_factor``.
    characteristic : str, optional
        UUID decoded (for messages).
    factors : mapping of str to float, optional
        FACTOR per stream kind, as learned from start responses.

    Notes
    -----
    Scaling: raw frames are already in the stream units (mG, uV); ``0x81`` deltas are
    multiplied by FACTOR (default 1.0); ``0x80`` deltas by FACTOR x 1000 (FACTOR in G per
    count, default the profile's ``default_factor``). ``reset()`` keeps learned factors
    (they are negotiated settings, not stream state).
    """

    def __init__(
        self,
        profile: DeviceProfile,
        characteristic: str | None = None,
        *,
        factors: Mapping[str, float] | None = None,
    ) -> None:
        self.profile = profile
        self._where = where_of(profile, characteristic)
        self._by_type: dict[int, StreamProfile] = {}
        for s in profile.streams:
            if s.decoder == "polar-pmd":
                t = s.param("pmd_type")
                if not isinstance(t, int):
                    raise ConfigError(
                        f"{profile.source_path}: stream {s.kind!r}: params.pmd_type must be an "
                        f"int measurement type, got {t!r}",
                        reason="bad_value",
                    )
                self._by_type[t] = s
        self._factors: dict[str, float] = {}
        for k, f in (factors or {}).items():
            self.set_factor(k, f)

    def set_factor(self, kind: str, factor: float) -> None:
        """Use ``factor`` (from a start response) for delta frames of stream ``kind``."""
        if isinstance(factor, bool) or not math.isfinite(factor) or factor <= 0:
            raise ValueError(f"PMD FACTOR for {kind!r} must be a finite number > 0, got {factor}")
        self._factors[kind] = float(factor)

    def set_factor_for_type(self, pmd_type: int, factor: float) -> None:
        """Same as :meth:`set_factor`, by PMD measurement type byte."""
        s = self._by_type.get(pmd_type & 0x3F)
        if s is not None:
            self.set_factor(s.kind, factor)

    def factor(self, kind: str) -> float | None:
        """Learned FACTOR of ``kind`` or None."""
        return self._factors.get(kind)

    def reset(self) -> None:
        """Nothing to forget: PMD frames are self-contained (factors are kept)."""

    def _scale(self, s: StreamProfile, frame_type: int) -> float:
        if not frame_type & 0x80:
            return 1.0
        learned = self._factors.get(s.kind)
        if frame_type & 0x7F == 0:
            f = learned if learned is not None else float(s.param("default_factor", 1e-3))
            return f * 1000.0
        return learned if learned is not None else 1.0

    def decode(self, frame: bytes | bytearray | memoryview) -> list[DecodedFrame]:
        """Decode one PMD data notification into one :class:`DecodedFrame`.

        ``device_time_ns`` is the frame timestamp (Polar-epoch ns of the last sample).
        """
        b = as_bytes(frame)
        if len(b) < 10:
            raise decode_error(
                self._where, "truncated", "a 10-byte header (type, timestamp, frame type)", b
            )
        mt = b[0] & 0x3F
        s = self._by_type.get(mt)
        if s is None:
            known = {t: s.kind for t, s in self._by_type.items()}
            raise decode_error(self._where, "unknown_type", f"a measurement type in {known}", b)
        ts = int.from_bytes(b[1:9], "little")
        ft = b[9]
        payload = b[10:]
        c = s.n_channels
        try:
            if ft & 0x80:
                if s.kind == "ecg":
                    raise _Bad("unknown_type", "ECG frame type 0x00 (no delta ECG on H10)")
                counts = _delta_decode(payload, c, int(s.param("resolution", 16)))
            else:
                widths = _RAW_WIDTHS.get(s.kind, {})
                if ft not in widths:
                    raise _Bad(
                        "unknown_type",
                        f"a {s.kind} frame type in {[hex(x) for x in widths] + ['0x80', '0x81']}",
                    )
                step = widths[ft] * c
                if len(payload) == 0 or len(payload) % step:
                    raise _Bad(
                        "truncated",
                        f"a payload of whole samples ({step} bytes each) after the header",
                    )
                counts = _raw_ints(payload, widths[ft]).reshape(-1, c)
        except _Bad as e:
            raise decode_error(self._where, e.reason, e.expected, b) from None
        samples = to_units(counts, self._scale(s, ft))
        return [DecodedFrame(kind=s.kind, samples=samples, device_time_ns=ts)]


class PolarControlPointDecoder:
    """Decoder for PMD control-point indications: returns no samples, records responses.

    Responses are kept in :attr:`responses` (last 64); a successful start response carrying
    FACTOR sets it on :attr:`data_decoder` (wired by ``make_decoders``). ``more`` flags are
    honoured (continuation bytes from index 5 appended). An unsolicited
    ONLINE_MEASUREMENT_STOPPED (``01 type...``) is recorded in :attr:`stopped_types`.
    """

    def __init__(
        self,
        profile: DeviceProfile,
        characteristic: str | None = None,
        data_decoder: PolarPmdDecoder | None = None,
    ) -> None:
        self.profile = profile
        self._where = where_of(profile, characteristic)
        self.data_decoder = data_decoder
        self.responses: deque[PmdCpResponse] = deque(maxlen=64)
        self.stopped_types: deque[int] = deque(maxlen=64)
        self._pending: bytes | None = None

    def reset(self) -> None:
        """Forget a half-received multi-part response."""
        self._pending = None

    def decode(self, frame: bytes | bytearray | memoryview) -> list[DecodedFrame]:
        """Parse one indication; always returns ``[]``."""
        raw = as_bytes(frame)
        if self._pending is not None:
            if len(raw) < 5:
                raise decode_error(self._where, "truncated", "a 5-byte continuation header", raw)
            combined = self._pending + raw[5:]
            if raw[4]:
                self._pending = combined
                return []
            self._pending = None
            b = combined[:4] + b"\x00" + combined[5:]
        elif raw[:1] == b"\x01":
            self.stopped_types.extend(raw[1:])
            return []
        elif len(raw) >= 5 and raw[0] == 0xF0 and raw[4]:
            self._pending = raw
            return []
        else:
            b = raw
        try:
            resp = parse_pmd_cp_response(b)
        except DecodeError as e:
            raise decode_error(self._where, e.reason or "bad_frame", "a PMD CP response", b) from e
        self.responses.append(resp)
        f = resp.factor
        if resp.ok and resp.op == 0x02 and f is not None and self.data_decoder is not None:
            self.data_decoder.set_factor_for_type(resp.type, f)
        return []


# --------------------------------------------------------------------------------------
# encoder


class PolarPmdEncoder:
    """Encode a stream as PMD data notifications (simulated Polar device, tests).

    Parameters
    ----------
    profile : DeviceProfile
        Polar profile.
    kind : str
        ``"acc"`` or ``"ecg"``.
    frame_type : int, optional
        ``0x00/0x01/0x02`` raw, ``0x80/0x81`` delta. Default: the stream's
        ``sim_frame_type`` (H10 ACC ``0x01``, Verity ``0x80``, ECG ``0x00``).
    factor : float, optional
        FACTOR for delta frames (``0x80``: G per count, default the profile's
        ``default_factor``; ``0x81``: default 1.0). Tell the decoder the same one (the
        simulated start response carries it).
    bit_width : int, optional
        Force this delta bit width for every block (must hold the deltas).
    block_size : int
        Max samples per delta block (1..255).
    samples_per_frame : int, optional
        Overrides the profile's value.
    """

    def __init__(
        self,
        profile: DeviceProfile,
        kind: str,
        *,
        frame_type: int | None = None,
        factor: float | None = None,
        bit_width: int | None = None,
        block_size: int = 255,
        samples_per_frame: int | None = None,
    ) -> None:
        s = encoder_stream(profile, kind, "polar-pmd", "a PMD stream")
        self.profile = profile
        self.stream = s
        self.kind = kind
        self.samples_per_frame = int(samples_per_frame or s.samples_per_frame)
        self.characteristics = s.characteristics[:1]
        self.pmd_type = int(s.param("pmd_type"))
        self.resolution = int(s.param("resolution", 16))
        ft = frame_type if frame_type is not None else s.param("sim_frame_type")
        if ft is None:
            ft = s.param("raw_frame_type", 1)
        self.frame_type = int(ft)
        widths = _RAW_WIDTHS.get(kind, {})
        if self.frame_type & 0x80:
            if kind == "ecg":
                raise ConfigError("ECG has no delta frame type", reason="bad_frame_type")
            if factor is None:
                factor = float(s.param("default_factor", 1e-3)) if self.frame_type == 0x80 else 1.0
            self.factor = float(np.float32(factor))
            self._scale = self.factor * 1000.0 if self.frame_type == 0x80 else self.factor
            self._lo, self._hi = -(1 << (self.resolution - 1)), (1 << (self.resolution - 1)) - 1
        elif self.frame_type in widths:
            self.factor = 1.0
            self._scale = 1.0
            w = widths[self.frame_type]
            self._lo, self._hi = -(1 << (8 * w - 1)), (1 << (8 * w - 1)) - 1
        else:
            raise ConfigError(
                f"PMD {kind} frame type {self.frame_type:#04x} not supported", reason="bad_type"
            )
        self.bit_width = bit_width
        self.block_size = block_size
        self._period_ns = 1e9 / s.rate_hz
        self.reset()

    def reset(self) -> None:
        """Restart the device clock at the H10's default (2019-01-01, Polar epoch)."""
        self._t0 = PMD_DEFAULT_CLOCK_NS
        self._idx = 0

    @property
    def scale(self) -> float:
        """Stream units per transmitted count for the chosen frame type."""
        return self._scale

    def encode(
        self,
        samples: np.ndarray,
        *,
        device_time_ns: int | None = None,
        seq: int | None = None,
        sample_counter: int | None = None,
    ) -> list[tuple[str, bytes]]:
        """Encode ``samples`` ``(n, channels)`` in stream units; see :class:`FrameEncoder`.

        Values beyond the frame type's range saturate. ``seq``/``sample_counter`` are
        ignored (PMD frames carry neither).
        """
        a = check_samples(samples, self.stream.n_channels, f"{self.profile.id}.{self.kind}")
        if device_time_ns is not None:
            self._t0, self._idx = int(device_time_ns), 0
        counts = to_counts(a, self._scale, self._lo, self._hi)
        uuid = self.characteristics[0]
        out: list[tuple[str, bytes]] = []
        for start, chunk in frame_chunks(counts, self.samples_per_frame):
            last = self._idx + start + chunk.shape[0] - 1
            ts = self._t0 + round(last * self._period_ns)
            header = bytes([self.pmd_type]) + int(ts).to_bytes(8, "little")
            header += bytes([self.frame_type])
            if self.frame_type & 0x80:
                body = encode_delta_payload(
                    chunk, self.resolution, bit_width=self.bit_width, block_size=self.block_size
                )
            else:
                body = _raw_bytes(chunk, _RAW_WIDTHS[self.kind][self.frame_type])
            out.append((uuid, header + body))
        self._idx += counts.shape[0]
        return out
