"""spasmwatch.acquisition: device profiles, byte-exact decoders, the bleak session, the
simulated bleak backend, signal sources and file import.

- Profiles (``firmware_configs/*.toml``): :func:`load_profiles`, :func:`get_profile`,
  :class:`DeviceProfile` and its parts.
- Codecs: :func:`make_decoder`, :func:`make_decoders`, :func:`make_encoder`.
- Live: :class:`BleSession` over :class:`DeviceTarget` s, emitting ``SampleBlock`` s with a
  drift-tracking :class:`DeviceClockFit`, explicit gaps and reconnects.
- Simulation: :class:`SimWorld` / :class:`SimulatedDevice` provide bleak backends
  (``BleakClient(..., backend=...)``), fed by a :class:`SignalSource`, with :class:`FaultConfig`.
- Import: :func:`import_csv`, :func:`import_edf`.
"""

from spasmwatch.acquisition._clock import ClockFitState, DeviceClockFit, fit_clock
from spasmwatch.acquisition._codecs import make_decoder, make_decoders, make_encoder
from spasmwatch.acquisition._faults import FaultConfig
from spasmwatch.acquisition._frames import DecodedFrame, FrameDecoder
from spasmwatch.acquisition._import import ImportReport, import_csv, import_edf
from spasmwatch.acquisition._profiles import (
    PROFILES_DIR,
    AdvertisementMatch,
    Characteristic,
    Command,
    DeviceProfile,
    StreamProfile,
    get_profile,
    load_profile,
    load_profiles,
    normalize_uuid,
)
from spasmwatch.acquisition._session import (
    Backoff,
    BleSession,
    DeviceEvent,
    DeviceStats,
    DeviceTarget,
)
from spasmwatch.acquisition._simbackend import SimClock, SimulatedDevice, SimWorld, SystemClock
from spasmwatch.acquisition._sources import ArraySource, GeneratorSource, SignalSource

__all__ = [
    "PROFILES_DIR",
    "AdvertisementMatch",
    "ArraySource",
    "Backoff",
    "BleSession",
    "Characteristic",
    "ClockFitState",
    "Command",
    "DecodedFrame",
    "DeviceClockFit",
    "DeviceEvent",
    "DeviceProfile",
    "DeviceStats",
    "DeviceTarget",
    "FaultConfig",
    "FrameDecoder",
    "GeneratorSource",
    "ImportReport",
    "SignalSource",
    "SimClock",
    "SimWorld",
    "SimulatedDevice",
    "StreamProfile",
    "SystemClock",
    "fit_clock",
    "get_profile",
    "import_csv",
    "import_edf",
    "load_profile",
    "load_profiles",
    "make_decoder",
    "make_decoders",
    "make_encoder",
    "normalize_uuid",
]
