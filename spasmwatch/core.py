"""Core values that cross stage boundaries: :class:`StreamSpec`, :class:`Gap`, :class:`SampleBlock`.

All are frozen and validated at construction. Times are int64 nanoseconds since the Unix
epoch (UTC) in the host time base; samples are float32 arrays of shape
``(n_samples, n_channels)`` in the units named by the spec.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from spasmwatch.errors import SignalError

__all__ = ["STREAM_KINDS", "Gap", "SampleBlock", "StreamSpec"]

#: Stream kinds spasmwatch knows. ``quat`` is an orientation quaternion (unitless).
STREAM_KINDS = frozenset({"emg", "acc", "gyro", "ecg", "quat", "mag"})

_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


def _fail(what: str, expected: str, got: object) -> SignalError:
    return SignalError(f"{what} must be {expected} (got {got!r} that is a {type(got).__name__})")


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """Description of one sampled stream of one device.

    Parameters
    ----------
    device : str
        Device instance name, unique within a recording (usually the profile id, e.g.
        ``"polar-h10"``; a second device of the same profile gets a suffix such as
        ``"polar-h10-2"``). Lower-case letters, digits, ``-`` and ``_``.
    kind : str
        One of :data:`STREAM_KINDS` (``"emg"``, ``"acc"``, ...).
    channels : tuple of str
        Channel names in column order, e.g. ``("x", "y", "z")``.
    rate_hz : float
        Nominal sample rate in Hz (> 0).
    units : str
        Physical units of the samples after scaling, e.g. ``"mG"``, ``"uV"``, ``"counts"``.
    """

    device: str
    kind: str
    channels: tuple[str, ...]
    rate_hz: float
    units: str

    def __post_init__(self) -> None:
        if not isinstance(self.device, str) or not _KEY_RE.match(self.device):
            raise _fail("StreamSpec.device", "a lower-case name like 'polar-h10'", self.device)
        if self.kind not in STREAM_KINDS:
            raise _fail("StreamSpec.kind", f"one of {sorted(STREAM_KINDS)}", self.kind)
        if isinstance(self.channels, list):
            object.__setattr__(self, "channels", tuple(self.channels))
        if (
            not isinstance(self.channels, tuple)
            or not self.channels
            or not all(isinstance(c, str) and c for c in self.channels)
            or len(set(self.channels)) != len(self.channels)
        ):
            raise _fail("StreamSpec.channels", "a non-empty tuple of distinct names", self.channels)
        rate = self.rate_hz
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate):
            raise _fail("StreamSpec.rate_hz", "a finite number of Hz", rate)
        if rate <= 0:
            raise _fail("StreamSpec.rate_hz", "> 0 Hz", rate)
        object.__setattr__(self, "rate_hz", float(rate))
        if not isinstance(self.units, str) or not self.units:
            raise _fail("StreamSpec.units", "a non-empty string", self.units)

    @property
    def key(self) -> str:
        """Stream key unique within a recording: ``"<device>.<kind>"``, e.g. ``"myo.emg"``."""
        return f"{self.device}.{self.kind}"

    @property
    def n_channels(self) -> int:
        """Number of channels."""
        return len(self.channels)

    @property
    def period_ns(self) -> float:
        """Nominal sample period in ns."""
        return 1e9 / self.rate_hz

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (used by manifests and the live bus)."""
        return {
            "device": self.device,
            "kind": self.kind,
            "channels": list(self.channels),
            "rate_hz": self.rate_hz,
            "units": self.units,
        }

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> StreamSpec:
        """Inverse of :meth:`to_dict`."""
        return cls(
            device=str(d["device"]),
            kind=str(d["kind"]),
            channels=tuple(d["channels"]),  # type: ignore[arg-type]
            rate_hz=float(d["rate_hz"]),  # type: ignore[arg-type]
            units=str(d["units"]),
        )


#: Causes a gap may carry. ``"unknown"`` when nothing more specific is known.
GAP_CAUSES = frozenset(
    {
        "packet_loss",  # sequence/sample counter jumped: notifications lost on the air
        "disconnect",  # link dropped; spans the time until streaming resumed
        "decode_error",  # a frame was received but could not be decoded
        "out_of_range",
        "battery",
        "not_worn",
        "bad_contact",
        "host_asleep",
        "overflow",  # a consumer was too slow and blocks were dropped on purpose (counted)
        "import",  # rows skipped by an import
        "unknown",
    }
)


@dataclass(frozen=True, slots=True)
class Gap:
    """An interval of one stream in which samples are missing.

    Parameters
    ----------
    start_ns : int
        Expected host time (UTC ns) of the first missing sample.
    end_ns : int
        Host time (UTC ns) of the first sample received after the gap (exclusive end).
        For a gap still open (device silent), the time it was last checked.
    n_missing : int
        Number of samples missing (from counters where the device has them, else estimated
        from the nominal rate). ``>= 0``.
    cause : str
        One of :data:`GAP_CAUSES`.
    """

    start_ns: int
    end_ns: int
    n_missing: int
    cause: str = "unknown"

    def __post_init__(self) -> None:
        for name in ("start_ns", "end_ns", "n_missing"):
            v = getattr(self, name)
            if isinstance(v, np.integer):
                object.__setattr__(self, name, int(v))
            elif isinstance(v, bool) or not isinstance(v, int):
                raise _fail(f"Gap.{name}", "an int", v)
        if self.end_ns < self.start_ns:
            raise SignalError(f"Gap.end_ns ({self.end_ns}) must be >= start_ns ({self.start_ns})")
        if self.n_missing < 0:
            raise _fail("Gap.n_missing", ">= 0", self.n_missing)
        if self.cause not in GAP_CAUSES:
            raise _fail("Gap.cause", f"one of {sorted(GAP_CAUSES)}", self.cause)

    @property
    def duration_s(self) -> float:
        """Length of the gap in seconds."""
        return (self.end_ns - self.start_ns) / 1e9

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "n_missing": self.n_missing,
            "cause": self.cause,
        }

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> Gap:
        """Inverse of :meth:`to_dict`."""
        return cls(
            int(d["start_ns"]),  # type: ignore[arg-type]
            int(d["end_ns"]),  # type: ignore[arg-type]
            int(d["n_missing"]),  # type: ignore[arg-type]
            str(d.get("cause", "unknown")),
        )


@dataclass(frozen=True, slots=True, eq=False)
class SampleBlock:
    """A contiguous run of samples of one stream, plus the gaps that came before it.

    Parameters
    ----------
    spec : StreamSpec
        What stream this is.
    t_ns : numpy.ndarray
        Host timestamps, int64 ns since the Unix epoch (UTC), shape ``(n_samples,)``,
        non-decreasing.
    data : numpy.ndarray
        Samples, float32, shape ``(n_samples, spec.n_channels)``, in ``spec.units``.
    first_index : int
        Stream-wide index of the first sample, counting missing samples too: the
        ``k``-th sample the device produced since streaming began has index ``k``. A jump
        between consecutive blocks equals the number of samples lost (see ``gaps``).
    gaps : tuple of Gap
        Gaps that lie between the previous block of this stream and this one's first
        sample. Empty for a block that follows its predecessor without loss.
    seq : tuple of int or None
        Device sequence range ``(first, last)`` of the notifications in this block, where
        the device has a counter; ``None`` otherwise.

    Notes
    -----
    Arrays are made read-only on construction so a block can be shared between consumers.
    """

    spec: StreamSpec
    t_ns: np.ndarray
    data: np.ndarray
    first_index: int = 0
    gaps: tuple[Gap, ...] = field(default=())
    seq: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        t = np.asarray(self.t_ns)
        if t.ndim != 1 or t.dtype != np.int64:
            raise _fail("SampleBlock.t_ns", "a 1-D int64 array of UTC ns", f"{t.dtype}{t.shape}")
        d = np.asarray(self.data)
        if d.ndim == 1 and self.spec.n_channels == 1:
            d = d.reshape(-1, 1)
        if d.ndim != 2 or d.shape[1] != self.spec.n_channels or d.shape[0] != t.shape[0]:
            raise SignalError(
                f"SampleBlock.data must have shape (n_samples={t.shape[0]}, "
                f"n_channels={self.spec.n_channels}) for stream {self.spec.key} "
                f"(got {d.shape})"
            )
        owned = d.dtype != np.float32
        if owned:
            d = d.astype(np.float32)
        if t.shape[0] > 1 and np.any(np.diff(t) < 0):
            raise SignalError(f"SampleBlock.t_ns of stream {self.spec.key} goes backwards")
        if isinstance(self.first_index, np.integer):
            object.__setattr__(self, "first_index", int(self.first_index))
        if not isinstance(self.first_index, int) or self.first_index < 0:
            raise _fail("SampleBlock.first_index", "an int >= 0", self.first_index)
        if isinstance(self.gaps, list):
            object.__setattr__(self, "gaps", tuple(self.gaps))
        if not all(isinstance(g, Gap) for g in self.gaps):
            raise _fail("SampleBlock.gaps", "a tuple of Gap", self.gaps)
        # Copy writeable input so that neither the caller nor a consumer can change a block
        # others share; read-only input (e.g. another block's arrays) is shared as it is.
        if t.flags.writeable:
            t = t.copy()
            t.flags.writeable = False
        if d.flags.writeable:
            if not owned:
                d = d.copy()
            d.flags.writeable = False
        object.__setattr__(self, "t_ns", t)
        object.__setattr__(self, "data", d)

    def __len__(self) -> int:
        return int(self.t_ns.shape[0])

    @property
    def n_samples(self) -> int:
        """Number of samples in the block."""
        return int(self.t_ns.shape[0])

    @property
    def end_index(self) -> int:
        """Stream-wide index one past the last sample."""
        return self.first_index + self.n_samples
