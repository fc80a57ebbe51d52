"""Registry of frame decoders and encoders, by the names device profiles use.

=================  ===============================  ===============================
decoder name       decoder class                    encoder class
=================  ===============================  ===============================
``polar-pmd``      ``_polar.PolarPmdDecoder``       ``_polar.PolarPmdEncoder``
``myo-emg``        ``_myo.MyoEmgDecoder``           ``_myo.MyoEmgEncoder``
``myo-imu``        ``_myo.MyoImuDecoder``           ``_myo.MyoImuEncoder``
``movesense-gsp``  ``_movesense.MovesenseGspDecoder``  ``_movesense.MovesenseGspEncoder``
``nus-reference``  ``_nus.NusReferenceDecoder``     ``_nus.NusReferenceEncoder``
=================  ===============================  ===============================

Decoders turn one notification into :class:`~._frames.DecodedFrame` values with samples
already scaled to the profile's units; encoders do the inverse for the simulated wearable
and for round-trip tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from spasmwatch.errors import ConfigError, DecodeError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from spasmwatch.acquisition._frames import FrameDecoder
    from spasmwatch.acquisition._profiles import DeviceProfile, StreamProfile

__all__ = [
    "DECODER_NAMES",
    "FrameEncoder",
    "make_decoder",
    "make_decoders",
    "make_encoder",
]

#: Decoder names a profile's ``streams[].decoder`` may use.
DECODER_NAMES = frozenset({"polar-pmd", "myo-emg", "myo-imu", "movesense-gsp", "nus-reference"})


class FrameEncoder(Protocol):
    """Turns samples in physical units into the notifications a device would send.

    Attributes
    ----------
    kind : str
        Stream kind encoded.
    samples_per_frame : int
        Samples put in one notification (the last one of a call may hold fewer, except for
        fixed-size frames where ``encode`` requires a multiple).
    characteristics : tuple of str
        UUIDs the notifications go out on.
    """

    kind: str
    samples_per_frame: int
    characteristics: tuple[str, ...]

    def encode(
        self,
        samples: np.ndarray,
        *,
        device_time_ns: int | None = None,
        seq: int | None = None,
        sample_counter: int | None = None,
    ) -> list[tuple[str, bytes]]:
        """Encode ``samples`` (shape ``(n_samples, n_channels)``, profile units).

        ``device_time_ns`` is the device time of the **first** sample of ``samples``;
        ``seq`` the sequence number of the first notification; ``sample_counter`` the
        device counter of the first sample. ``None`` continues the encoder's own clock and
        counters from the previous call. Devices without time or counters ignore them.
        Returns ``[(characteristic_uuid, notification_bytes), ...]`` in sending order.
        """
        ...

    def reset(self) -> None:
        """Restart clocks and counters."""
        ...


# --------------------------------------------------------------------------------------
# helpers shared by the device modules


def as_bytes(frame: bytes | bytearray | memoryview) -> bytes:
    """``bytes`` view of a notification (bleak hands out ``bytearray``)."""
    return frame if isinstance(frame, bytes) else bytes(frame)


def hexdump(data: bytes, limit: int = 24) -> str:
    """Hex of the first ``limit`` bytes, for error messages."""
    s = data[:limit].hex(" ")
    return s + (" ..." if len(data) > limit else "")


def decode_error(where: str, reason: str, expected: str, data: bytes) -> DecodeError:
    """A :class:`DecodeError` naming device/characteristic, expectation and the bytes seen."""
    return DecodeError(
        f"{where}: {reason}: expected {expected}, got {len(data)} bytes [{hexdump(data)}]; "
        "the frame was dropped (a gap is recorded); if this repeats, check the firmware "
        "version against docs/devices.md",
        reason=reason,
    )


def where_of(profile: DeviceProfile, characteristic: str | None) -> str:
    """``"<profile id> <role> (<uuid>)"`` for messages."""
    if characteristic is None:
        return profile.id
    for c in profile.characteristics:
        if c.uuid == characteristic:
            return f"{profile.id} {c.role} ({c.uuid})"
    return f"{profile.id} ({characteristic})"


def check_samples(samples: np.ndarray, n_channels: int, what: str) -> np.ndarray:
    """Validate an encoder input: 2-D float array ``(n_samples, n_channels)``."""
    a = np.asarray(samples, dtype=np.float64)
    if a.ndim == 1 and n_channels == 1:
        a = a.reshape(-1, 1)
    if a.ndim != 2 or a.shape[1] != n_channels:
        raise ValueError(
            f"{what}: samples must have shape (n_samples, {n_channels}), got {np.shape(samples)}"
        )
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{what}: samples must be finite (NaN/inf cannot be sent)")
    return a


def to_counts(physical: np.ndarray, scale: float, lo: int, hi: int) -> np.ndarray:
    """Physical units -> integer counts (round half to even, saturating like an ADC)."""
    return np.clip(np.rint(physical / scale), lo, hi).astype(np.int64)


def to_units(counts: np.ndarray, scale: float) -> np.ndarray:
    """Integer counts -> float64 samples in stream units (``counts x scale``; no multiply at 1)."""
    samples = counts.astype(np.float64)
    if scale != 1.0:
        samples *= scale
    return samples


def check_length(where: str, data: bytes, need: int, expected: str) -> None:
    """Raise DecodeError ``truncated`` (shorter) or ``bad_length`` (longer) unless
    ``len(data) == need``; ``expected`` describes the layout for the message."""
    if len(data) != need:
        reason = "truncated" if len(data) < need else "bad_length"
        raise decode_error(where, reason, expected, data)


def encoder_stream(profile: DeviceProfile, kind: str, decoder: str, what: str) -> StreamProfile:
    """Stream ``kind`` of ``profile`` for an encoder of ``decoder`` frames.

    Raises ConfigError ``bad_kind`` ("stream <id>.<kind> is not <what>") when the stream
    uses another decoder (and ConfigError from :meth:`DeviceProfile.stream` when absent).
    """
    s = profile.stream(kind)
    if s.decoder != decoder:
        raise ConfigError(f"stream {profile.id}.{kind} is not {what}", reason="bad_kind")
    return s


def frame_chunks(a: np.ndarray, samples_per_frame: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, a[start:start + samples_per_frame])`` for each notification, in order."""
    for start in range(0, a.shape[0], samples_per_frame):
        yield start, a[start : start + samples_per_frame]


# --------------------------------------------------------------------------------------
# factories


def make_decoder(profile: DeviceProfile, characteristic_uuid: str) -> FrameDecoder:
    """Decoder for the notifications of one characteristic of ``profile``.

    Parameters
    ----------
    profile : DeviceProfile
        The device profile.
    characteristic_uuid : str
        UUID (any form) of a characteristic carrying a stream, or the Polar PMD control
        point (its decoder parses control-point responses and returns no samples).

    Raises
    ------
    ConfigError
        The characteristic carries no stream of this profile.
    """
    from spasmwatch.acquisition import _movesense, _myo, _nus, _polar
    from spasmwatch.acquisition._profiles import normalize_uuid

    u = normalize_uuid(characteristic_uuid)
    streams = profile.stream_for_characteristic(u)
    if not streams:
        for c in profile.characteristics:
            if c.uuid == u and c.role == "pmd_control":
                return _polar.PolarControlPointDecoder(profile, u)
        raise ConfigError(
            f"device profile {profile.id!r}: characteristic {u} carries no stream; streams use "
            f"{sorted({x for s in profile.streams for x in s.characteristics})}",
            reason="unknown_characteristic",
        )
    names = {s.decoder for s in streams}
    if len(names) != 1:
        raise ConfigError(
            f"device profile {profile.id!r}: characteristic {u} has streams with different "
            f"decoders {sorted(names)}; one characteristic needs one decoder",
            reason="ambiguous_decoder",
        )
    name = names.pop()
    cls: Any = {
        "polar-pmd": _polar.PolarPmdDecoder,
        "myo-emg": _myo.MyoEmgDecoder,
        "myo-imu": _myo.MyoImuDecoder,
        "movesense-gsp": _movesense.MovesenseGspDecoder,
        "nus-reference": _nus.NusReferenceDecoder,
    }[name]
    return cls(profile, u)


def make_decoders(profile: DeviceProfile) -> dict[str, FrameDecoder]:
    """One decoder per characteristic in :meth:`DeviceProfile.notify_characteristics`.

    The Polar control-point decoder is wired to the PMD data decoder, so a start response
    carrying FACTOR sets the data decoder's scale without any further call.
    """
    from spasmwatch.acquisition import _polar

    out: dict[str, FrameDecoder] = {}
    for u in profile.notify_characteristics():
        try:
            out[u] = make_decoder(profile, u)
        except ConfigError:
            continue
    data = [d for d in out.values() if isinstance(d, _polar.PolarPmdDecoder)]
    for d in out.values():
        if isinstance(d, _polar.PolarControlPointDecoder) and data:
            d.data_decoder = data[0]
    return out


def make_encoder(profile: DeviceProfile, kind: str, **options: Any) -> FrameEncoder:
    """Encoder producing stream ``kind`` of ``profile`` as that device's notifications.

    ``options`` go to the encoder class (e.g. Polar ``frame_type=0x81``, ``bit_width=12``;
    Movesense ``max_notification_bytes=100``).
    """
    from spasmwatch.acquisition import _movesense, _myo, _nus, _polar

    s = profile.stream(kind)
    cls: Any = {
        "polar-pmd": _polar.PolarPmdEncoder,
        "myo-emg": _myo.MyoEmgEncoder,
        "myo-imu": _myo.MyoImuEncoder,
        "movesense-gsp": _movesense.MovesenseGspEncoder,
        "nus-reference": _nus.NusReferenceEncoder,
    }[s.decoder]
    return cls(profile, kind, **options)
