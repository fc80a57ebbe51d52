"""Device profiles: TOML files in ``firmware_configs/`` loaded into frozen, validated values.

A profile says how to find a wearable (advertisement rules), which GATT characteristics it
has, which bytes start, stop and keep it awake, and which streams it sends (kind, channels,
rate, units, scale, decoder). DSP code never reads these files; the acquisition layer does.

File layout (all keys are checked; an unknown key is an error)::

    id = "myo"                       # lower-case, digits, '-' and '_'
    name = "Thalmic Myo armband"
    vendor = "Thalmic Labs"
    battery_characteristic = "battery"   # role or UUID, optional
    keep_awake_interval_s = 60.0     # optional; absent = keep-awake commands are sent once

    [match]                          # advertisement rules (all lists optional)
    name_prefixes = ["Myo"]
    service_uuids = ["d5060001-a904-deb9-4748-2c7f4a124842"]
    manufacturer_ids = []

    [[characteristics]]
    role = "command"                 # unique name used by commands and streams
    uuid = "d5060401-a904-deb9-4748-2c7f4a124842"   # 16-bit forms (0x2A19, 2a19) accepted
    service = "d5060001-a904-deb9-4748-2c7f4a124842"
    properties = ["read", "write"]   # bleak property names

    [[start_commands]]               # also stop_commands, keep_awake_commands
    characteristic = "command"       # role or UUID
    data = "01 03 03 01 00"          # hex, spaces optional
    response = true                  # write with response
    description = "raw EMG + IMU, classifier off"

    [[streams]]
    kind = "emg"
    channels = ["ch0", "ch1"]
    rate_hz = 200
    rates_hz = [200]                 # optional, defaults to [rate_hz]; must contain rate_hz
    units = "counts"
    scale = 1.0                      # physical units per raw count (informational for
                                     # decoders that need a device-given factor)
    decoder = "myo-emg"
    characteristics = ["emg0", "emg1"]
    samples_per_frame = 2
    [streams.params]                 # optional, decoder-specific scalars
    resolution = 16

UUIDs are normalised as bleak does: lower-case 128-bit strings; 16- and 32-bit forms are
expanded on the Bluetooth base UUID ``0000xxxx-0000-1000-8000-00805f9b34fb``.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from spasmwatch.core import STREAM_KINDS, StreamSpec
from spasmwatch.errors import ConfigError, ProfileError

__all__ = [
    "PROFILES_DIR",
    "AdvertisementMatch",
    "Characteristic",
    "Command",
    "DeviceProfile",
    "StreamProfile",
    "get_profile",
    "load_profile",
    "load_profiles",
    "normalize_uuid",
    "profiles_dir",
]

_REPO_PROFILES = Path(__file__).resolve().parents[2] / "firmware_configs"


def profiles_dir() -> Path:
    """Folder holding the bundled profiles: ``$SPASMWATCH_PROFILES_DIR`` or ``firmware_configs/``.

    Read at call time, so tests and users can point it elsewhere after import.
    """
    env = os.environ.get("SPASMWATCH_PROFILES_DIR")
    return Path(env) if env else _REPO_PROFILES


#: Folder of the bundled profiles at import time (see :func:`profiles_dir` for the live value).
PROFILES_DIR: Path = profiles_dir()

_BASE_UUID_TAIL = "-0000-1000-8000-00805f9b34fb"
_UUID128_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_SHORT_RE = re.compile(r"^(?:0x)?([0-9a-f]{4}|[0-9a-f]{8})$")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
_HEX_RE = re.compile(r"^[0-9a-fA-F\s]*$")
_PROPERTIES = frozenset(
    {
        "broadcast",
        "read",
        "write-without-response",
        "write",
        "notify",
        "indicate",
        "authenticated-signed-writes",
        "extended-properties",
        "reliable-write",
        "writable-auxiliaries",
    }
)


def normalize_uuid(value: str) -> str:
    """Return the bleak-normalised form of a UUID: lower-case, 128-bit.

    Parameters
    ----------
    value : str
        ``"2a19"``, ``"0x2A19"``, ``"00002a19"`` or a full 128-bit UUID in any case.

    Raises
    ------
    ValueError
        When ``value`` is none of those forms.
    """
    if not isinstance(value, str):
        raise ValueError(f"expected a UUID string, got {value!r}")
    s = value.strip().lower()
    m = _SHORT_RE.match(s)
    if m:
        short = m.group(1)
        return (short.rjust(8, "0")) + _BASE_UUID_TAIL
    if _UUID128_RE.match(s):
        return s
    raise ValueError(
        "expected a UUID ('2a19', '0x2A19' or 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx'), "
        f"got {value!r}"
    )


# --------------------------------------------------------------------------------------
# values


@dataclass(frozen=True, slots=True)
class Command:
    """Bytes written to a characteristic.

    Parameters
    ----------
    characteristic : str
        Normalised UUID of the characteristic written to.
    data : bytes
        The exact bytes.
    response : bool
        True = write with response (ATT Write Request), False = write without response.
    description : str
        What the command does, for logs and docs.
    """

    characteristic: str
    data: bytes
    response: bool
    description: str = ""


@dataclass(frozen=True, slots=True)
class Characteristic:
    """One GATT characteristic the profile uses.

    Parameters
    ----------
    role : str
        Name unique within the profile (``"pmd_data"``, ``"emg0"``...).
    uuid : str
        Normalised UUID.
    service : str
        Normalised UUID of the service holding it.
    properties : tuple of str
        bleak property names (``"read"``, ``"write"``, ``"write-without-response"``,
        ``"notify"``, ``"indicate"``).
    """

    role: str
    uuid: str
    service: str
    properties: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StreamProfile:
    """One sampled stream a device sends.

    Parameters
    ----------
    kind : str
        Stream kind (``"acc"``, ``"emg"``, ``"ecg"``, ``"gyro"``, ``"quat"``).
    channels : tuple of str
        Channel names in column order.
    rate_hz : float
        Default (nominal) sample rate in Hz.
    rates_hz : tuple of float
        Rates the device supports; contains ``rate_hz``.
    units : str
        Units of decoded samples (``"mG"``, ``"uV"``, ``"counts"``, ``"deg/s"``, ``"1"``).
    scale : float
        Units per raw count as sent on the air (e.g. Myo acc 1000/2048 mG per count).
    decoder : str
        Name of the decoder in :mod:`spasmwatch.acquisition._codecs`.
    characteristics : tuple of str
        Normalised UUIDs of the characteristics carrying this stream.
    samples_per_frame : int
        Samples per notification the simulator sends (real devices vary; see docs/devices.md).
    params : Mapping[str, Any]
        Decoder-specific scalars (read-only), e.g. ``{"pmd_type": 2, "resolution": 16}``.
    """

    kind: str
    channels: tuple[str, ...]
    rate_hz: float
    rates_hz: tuple[float, ...]
    units: str
    scale: float
    decoder: str
    characteristics: tuple[str, ...]
    samples_per_frame: int
    params: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({}), hash=False, compare=False
    )

    @property
    def n_channels(self) -> int:
        """Number of channels."""
        return len(self.channels)

    def param(self, name: str, default: Any = None) -> Any:
        """Return decoder parameter ``name`` or ``default``."""
        return self.params.get(name, default)


@dataclass(frozen=True, slots=True)
class AdvertisementMatch:
    """Rules deciding whether an advertisement comes from this kind of device.

    A device whose advertised name is known is matched by name when ``name_prefixes`` is
    non-empty (name starts with one of the prefixes). Otherwise (no name advertised, or
    no prefixes in the profile) it matches when one advertised service UUID is in
    ``service_uuids`` or one manufacturer id is in ``manufacturer_ids``.
    """

    name_prefixes: tuple[str, ...] = ()
    service_uuids: tuple[str, ...] = ()
    manufacturer_ids: tuple[int, ...] = ()

    def matches(
        self,
        name: str | None,
        service_uuids: Iterable[str] = (),
        manufacturer_ids: Iterable[int] = (),
    ) -> bool:
        """True when the advertisement fits these rules (see class docstring)."""
        if name and self.name_prefixes:
            return any(name.startswith(p) for p in self.name_prefixes)
        ours = set(self.service_uuids)
        for u in service_uuids:
            try:
                if normalize_uuid(str(u)) in ours:
                    return True
            except ValueError:
                continue
        ids = set(self.manufacturer_ids)
        return any(int(m) in ids for m in manufacturer_ids)


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    """Everything spasmwatch knows about one kind of wearable.

    ``start_commands`` are written in order after notifications are enabled;
    ``keep_awake_commands`` are written after them and then every
    ``keep_awake_interval_s`` seconds (once only when that is ``None``);
    ``stop_commands`` are written before disconnecting.
    """

    id: str
    name: str
    vendor: str
    source_path: Path
    match: AdvertisementMatch
    characteristics: tuple[Characteristic, ...]
    start_commands: tuple[Command, ...]
    stop_commands: tuple[Command, ...]
    keep_awake_commands: tuple[Command, ...]
    keep_awake_interval_s: float | None
    streams: tuple[StreamProfile, ...]
    battery_characteristic: str | None

    def stream(self, kind: str) -> StreamProfile:
        """The stream of this kind; :class:`ConfigError` listing the kinds if absent."""
        for s in self.streams:
            if s.kind == kind:
                return s
        raise ConfigError(
            f"device profile {self.id!r} has no {kind!r} stream; it has "
            f"{[s.kind for s in self.streams]} ({self.source_path})",
            reason="unknown_stream",
        )

    def stream_spec(self, kind: str, device: str | None = None) -> StreamSpec:
        """:class:`StreamSpec` of stream ``kind`` for device instance ``device`` (default: id)."""
        s = self.stream(kind)
        return StreamSpec(
            device=device or self.id,
            kind=s.kind,
            channels=s.channels,
            rate_hz=s.rate_hz,
            units=s.units,
        )

    def characteristic(self, role_or_uuid: str) -> Characteristic:
        """Characteristic by role name or UUID; :class:`ConfigError` if absent."""
        for c in self.characteristics:
            if c.role == role_or_uuid:
                return c
        try:
            u = normalize_uuid(role_or_uuid)
        except ValueError:
            u = None
        for c in self.characteristics:
            if c.uuid == u:
                return c
        raise ConfigError(
            f"device profile {self.id!r} has no characteristic {role_or_uuid!r}; roles: "
            f"{[c.role for c in self.characteristics]}",
            reason="unknown_characteristic",
        )

    def notify_characteristics(self) -> tuple[str, ...]:
        """UUIDs to subscribe to: every stream characteristic, plus indicate-only ones
        (command responses such as the Polar PMD control point), in profile order."""
        wanted: set[str] = {u for s in self.streams for u in s.characteristics}
        out: list[str] = []
        for c in self.characteristics:
            is_data = c.uuid in wanted and ("notify" in c.properties or "indicate" in c.properties)
            is_response = "indicate" in c.properties
            if (is_data or is_response) and c.uuid not in out:
                out.append(c.uuid)
        return tuple(out)

    def services(self) -> tuple[str, ...]:
        """Service UUIDs used by this profile, in first-use order."""
        out: list[str] = []
        for c in self.characteristics:
            if c.service not in out:
                out.append(c.service)
        return tuple(out)

    def stream_for_characteristic(self, uuid: str) -> tuple[StreamProfile, ...]:
        """Streams carried by characteristic ``uuid`` (possibly several, e.g. Polar PMD)."""
        u = normalize_uuid(uuid)
        return tuple(s for s in self.streams if u in s.characteristics)


# --------------------------------------------------------------------------------------
# loading


def _display(path: Path) -> Path:
    """Path as shown in messages: relative to the working directory when inside it."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except (ValueError, OSError):
        return path


class _Ctx:
    """Builds ProfileError messages naming the file and the dotted key."""

    def __init__(self, path: Path) -> None:
        self.path = _display(path)

    def err(self, key: str, expected: str, got: object, reason: str = "bad_value") -> ProfileError:
        shown = f'"{got}"' if isinstance(got, str) else repr(got)
        where = f"{self.path}: {key}: " if key else f"{self.path}: "
        return ProfileError(f"{where}expected {expected}, got {shown}", reason=reason)


def _check_keys(
    ctx: _Ctx, table: Mapping[str, Any], prefix: str, required: set[str], optional: set[str]
) -> None:
    for k in table:
        if k not in required and k not in optional:
            key = f"{prefix}.{k}" if prefix else k
            allowed = sorted(required | optional)
            raise ProfileError(
                f"{ctx.path}: {key}: unknown key (allowed here: {', '.join(allowed)}); "
                "check the spelling",
                reason="unknown_key",
            )
    for k in sorted(required):
        if k not in table:
            key = f"{prefix}.{k}" if prefix else k
            raise ProfileError(f"{ctx.path}: {key}: missing required key", reason="missing_key")


def _key(prefix: str, k: str) -> str:
    return f"{prefix}.{k}" if prefix else k


def _str(ctx: _Ctx, t: Mapping[str, Any], prefix: str, k: str, *, nonempty: bool = True) -> str:
    v = t[k]
    if not isinstance(v, str) or (nonempty and not v.strip()):
        raise ctx.err(_key(prefix, k), "a non-empty string", v, "bad_type")
    return v


def _num(ctx: _Ctx, v: object, key: str, *, positive: bool = True) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ctx.err(key, "a number > 0" if positive else "a number", v, "bad_type")
    if positive and v <= 0:
        raise ctx.err(key, "a number > 0", v, "bad_value")
    return float(v)


def _bool(ctx: _Ctx, t: Mapping[str, Any], prefix: str, k: str) -> bool:
    v = t[k]
    if not isinstance(v, bool):
        raise ctx.err(_key(prefix, k), "true or false", v, "bad_type")
    return v


def _list(ctx: _Ctx, t: Mapping[str, Any], prefix: str, k: str) -> list[Any]:
    v = t[k]
    if not isinstance(v, list):
        raise ctx.err(_key(prefix, k), "a list", v, "bad_type")
    return v


def _uuid(ctx: _Ctx, v: object, key: str) -> str:
    try:
        return normalize_uuid(v)  # type: ignore[arg-type]
    except ValueError:
        raise ctx.err(
            key, "a UUID ('2a19', '0x2A19' or a 128-bit 8-4-4-4-12 hex string)", v, "bad_uuid"
        ) from None


def _table(ctx: _Ctx, t: Mapping[str, Any], prefix: str, k: str) -> Mapping[str, Any]:
    v = t[k]
    if not isinstance(v, dict):
        raise ctx.err(_key(prefix, k), "a table", v, "bad_type")
    return v


def _tables(ctx: _Ctx, t: Mapping[str, Any], k: str) -> list[Mapping[str, Any]]:
    v = t.get(k, [])
    if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
        raise ctx.err(k, f"an array of tables ([[{k}]])", v, "bad_type")
    return v


def _parse_match(ctx: _Ctx, t: Mapping[str, Any]) -> AdvertisementMatch:
    p = "match"
    _check_keys(ctx, t, p, set(), {"name_prefixes", "service_uuids", "manufacturer_ids"})
    names: list[str] = []
    if "name_prefixes" in t:
        for i, v in enumerate(_list(ctx, t, p, "name_prefixes")):
            if not isinstance(v, str) or not v:
                raise ctx.err(f"{p}.name_prefixes[{i}]", "a non-empty string", v, "bad_type")
            names.append(v)
    uuids: list[str] = []
    if "service_uuids" in t:
        for i, v in enumerate(_list(ctx, t, p, "service_uuids")):
            uuids.append(_uuid(ctx, v, f"{p}.service_uuids[{i}]"))
    ids: list[int] = []
    if "manufacturer_ids" in t:
        for i, v in enumerate(_list(ctx, t, p, "manufacturer_ids")):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 0xFFFF:
                raise ctx.err(f"{p}.manufacturer_ids[{i}]", "an int in 0..65535", v, "bad_type")
            ids.append(v)
    return AdvertisementMatch(tuple(names), tuple(uuids), tuple(ids))


def _parse_characteristics(ctx: _Ctx, raw: list[Mapping[str, Any]]) -> tuple[Characteristic, ...]:
    out: list[Characteristic] = []
    roles: set[str] = set()
    for i, t in enumerate(raw):
        p = f"characteristics[{i}]"
        _check_keys(ctx, t, p, {"role", "uuid", "service", "properties"}, set())
        role = _str(ctx, t, p, "role")
        if role in roles:
            raise ctx.err(f"{p}.role", "a role name not used before", role, "duplicate")
        roles.add(role)
        uuid = _uuid(ctx, t["uuid"], f"{p}.uuid")
        service = _uuid(ctx, t["service"], f"{p}.service")
        props = _list(ctx, t, p, "properties")
        for j, v in enumerate(props):
            if v not in _PROPERTIES:
                raise ctx.err(
                    f"{p}.properties[{j}]", f"one of {sorted(_PROPERTIES)}", v, "bad_value"
                )
        out.append(Characteristic(role, uuid, service, tuple(props)))
    return tuple(out)


def _resolve_char(
    ctx: _Ctx, chars: tuple[Characteristic, ...], v: object, key: str
) -> Characteristic:
    if isinstance(v, str):
        for c in chars:
            if c.role == v:
                return c
        try:
            u = normalize_uuid(v)
        except ValueError:
            u = None
        for c in chars:
            if c.uuid == u:
                return c
    raise ctx.err(
        key,
        f"a characteristic role or UUID declared in [[characteristics]] "
        f"({', '.join(c.role for c in chars) or 'none declared'})",
        v,
        "unknown_characteristic",
    )


def _parse_commands(
    ctx: _Ctx, raw: list[Mapping[str, Any]], name: str, chars: tuple[Characteristic, ...]
) -> tuple[Command, ...]:
    out: list[Command] = []
    for i, t in enumerate(raw):
        p = f"{name}[{i}]"
        _check_keys(ctx, t, p, {"characteristic", "data"}, {"response", "description"})
        c = _resolve_char(ctx, chars, t["characteristic"], f"{p}.characteristic")
        if not ({"write", "write-without-response"} & set(c.properties)):
            raise ctx.err(
                f"{p}.characteristic",
                "a characteristic with 'write' or 'write-without-response'",
                t["characteristic"],
                "bad_value",
            )
        hx = t["data"]
        if not isinstance(hx, str) or not _HEX_RE.match(hx):
            raise ctx.err(f"{p}.data", "a hex string such as '01 03 03 01 00'", hx, "bad_type")
        compact = "".join(hx.split())
        if not compact or len(compact) % 2:
            raise ctx.err(f"{p}.data", "a non-empty even number of hex digits", hx, "bad_value")
        response = _bool(ctx, t, p, "response") if "response" in t else "write" in c.properties
        desc = _str(ctx, t, p, "description", nonempty=False) if "description" in t else ""
        out.append(Command(c.uuid, bytes.fromhex(compact), response, desc))
    return tuple(out)


def _parse_params(ctx: _Ctx, t: object, p: str) -> Mapping[str, Any]:
    if not isinstance(t, dict):
        raise ctx.err(p, "a table of scalars", t, "bad_type")
    for k, v in t.items():
        if not isinstance(v, bool | int | float | str):
            raise ctx.err(f"{p}.{k}", "a number, string or boolean", v, "bad_type")
    return MappingProxyType(dict(t))


def _parse_streams(
    ctx: _Ctx, raw: list[Mapping[str, Any]], chars: tuple[Characteristic, ...]
) -> tuple[StreamProfile, ...]:
    from spasmwatch.acquisition._codecs import DECODER_NAMES

    out: list[StreamProfile] = []
    kinds: set[str] = set()
    for i, t in enumerate(raw):
        p = f"streams[{i}]"
        _check_keys(
            ctx,
            t,
            p,
            {
                "kind",
                "channels",
                "rate_hz",
                "units",
                "scale",
                "decoder",
                "characteristics",
                "samples_per_frame",
            },
            {"rates_hz", "params"},
        )
        kind = _str(ctx, t, p, "kind")
        if kind not in STREAM_KINDS:
            raise ctx.err(f"{p}.kind", f"one of {sorted(STREAM_KINDS)}", kind, "bad_value")
        if kind in kinds:
            raise ctx.err(f"{p}.kind", "a stream kind not declared before", kind, "duplicate")
        kinds.add(kind)
        chans = _list(ctx, t, p, "channels")
        if not chans or len(set(map(str, chans))) != len(chans):
            raise ctx.err(f"{p}.channels", "a non-empty list of distinct names", chans)
        for j, c in enumerate(chans):
            if not isinstance(c, str) or not c:
                raise ctx.err(f"{p}.channels[{j}]", "a non-empty string", c, "bad_type")
        rate = _num(ctx, t["rate_hz"], f"{p}.rate_hz")
        if "rates_hz" in t:
            rates = tuple(
                _num(ctx, v, f"{p}.rates_hz[{j}]")
                for j, v in enumerate(_list(ctx, t, p, "rates_hz"))
            )
            if rate not in rates:
                raise ctx.err(f"{p}.rates_hz", f"a list containing rate_hz ({rate:g})", list(rates))
        else:
            rates = (rate,)
        units = _str(ctx, t, p, "units")
        scale = _num(ctx, t["scale"], f"{p}.scale")
        decoder = _str(ctx, t, p, "decoder")
        if decoder not in DECODER_NAMES:
            raise ctx.err(f"{p}.decoder", f"one of {sorted(DECODER_NAMES)}", decoder, "bad_value")
        cl = _list(ctx, t, p, "characteristics")
        if not cl:
            raise ctx.err(f"{p}.characteristics", "a non-empty list", cl)
        cu: list[str] = []
        for j, v in enumerate(cl):
            c = _resolve_char(ctx, chars, v, f"{p}.characteristics[{j}]")
            if not ({"notify", "indicate", "read"} & set(c.properties)):
                raise ctx.err(f"{p}.characteristics[{j}]", "a notify/indicate characteristic", v)
            cu.append(c.uuid)
        spf = t["samples_per_frame"]
        if isinstance(spf, bool) or not isinstance(spf, int) or spf <= 0:
            raise ctx.err(f"{p}.samples_per_frame", "an int > 0", spf, "bad_type")
        params = _parse_params(ctx, t["params"], f"{p}.params") if "params" in t else None
        out.append(
            StreamProfile(
                kind=kind,
                channels=tuple(chans),
                rate_hz=rate,
                rates_hz=rates,
                units=units,
                scale=scale,
                decoder=decoder,
                characteristics=tuple(cu),
                samples_per_frame=spf,
                params=params if params is not None else MappingProxyType({}),
            )
        )
    return tuple(out)


def _parse(ctx: _Ctx, doc: Mapping[str, Any], source: Path) -> DeviceProfile:
    _check_keys(
        ctx,
        doc,
        "",
        {"id", "name", "vendor", "match", "characteristics", "streams"},
        {
            "start_commands",
            "stop_commands",
            "keep_awake_commands",
            "keep_awake_interval_s",
            "battery_characteristic",
        },
    )
    pid = _str(ctx, doc, "", "id")
    if not _ID_RE.match(pid):
        raise ctx.err("id", "a lower-case id of letters, digits, '-' and '_'", pid)
    name = _str(ctx, doc, "", "name")
    vendor = _str(ctx, doc, "", "vendor")
    match = _parse_match(ctx, _table(ctx, doc, "", "match"))
    if "characteristics" in doc:
        _list(ctx, doc, "", "characteristics")
    chars = _parse_characteristics(ctx, _tables(ctx, doc, "characteristics"))
    if not chars:
        raise ctx.err("characteristics", "at least one [[characteristics]] table", [])
    cmds = {
        k: _parse_commands(ctx, _tables(ctx, doc, k), k, chars)
        for k in ("start_commands", "stop_commands", "keep_awake_commands")
    }
    interval = None
    if "keep_awake_interval_s" in doc:
        interval = _num(ctx, doc["keep_awake_interval_s"], "keep_awake_interval_s")
    streams = _parse_streams(ctx, _tables(ctx, doc, "streams"), chars)
    if not streams:
        raise ctx.err("streams", "at least one [[streams]] table", [])
    battery = None
    if "battery_characteristic" in doc:
        battery = _resolve_char(
            ctx, chars, doc["battery_characteristic"], "battery_characteristic"
        ).uuid
    return DeviceProfile(
        id=pid,
        name=name,
        vendor=vendor,
        source_path=source.resolve(),
        match=match,
        characteristics=chars,
        start_commands=cmds["start_commands"],
        stop_commands=cmds["stop_commands"],
        keep_awake_commands=cmds["keep_awake_commands"],
        keep_awake_interval_s=interval,
        streams=streams,
        battery_characteristic=battery,
    )


def load_profile(path: str | Path) -> DeviceProfile:
    """Load and validate one profile file.

    Raises
    ------
    ProfileError
        The file is missing, is not valid TOML, or a key is unknown, missing or wrong; the
        message names the file and the dotted key (``streams[0].rate_hz``).
    """
    p = Path(path)
    ctx = _Ctx(p)
    try:
        text = p.read_bytes()
    except OSError as e:
        raise ProfileError(
            f"{ctx.path}: cannot read profile ({e.strerror})", reason="unreadable"
        ) from e
    try:
        doc = tomllib.loads(text.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ProfileError(f"{ctx.path}: not valid TOML: {e}", reason="bad_toml") from e
    return _parse(ctx, doc, p)


def load_profiles(directory: str | Path | None = None) -> dict[str, DeviceProfile]:
    """Load every ``*.toml`` in ``directory`` (default :func:`profiles_dir`), keyed by id.

    Raises
    ------
    ProfileError
        A file is invalid, or two files declare the same id.
    """
    d = Path(directory) if directory is not None else profiles_dir()
    if not d.is_dir():
        raise ConfigError(
            f"profile folder {d} does not exist; set SPASMWATCH_PROFILES_DIR or pass a folder",
            reason="no_profiles_dir",
        )
    out: dict[str, DeviceProfile] = {}
    for f in sorted(d.glob("*.toml")):
        prof = load_profile(f)
        if prof.id in out:
            raise ProfileError(
                f"{f}: id: profile id {prof.id!r} is already used by {out[prof.id].source_path}",
                reason="duplicate",
            )
        out[prof.id] = prof
    return out


def get_profile(profile_id: str, directory: str | Path | None = None) -> DeviceProfile:
    """The profile with this id; :class:`ConfigError` listing the known ids if unknown."""
    profiles = load_profiles(directory)
    try:
        return profiles[profile_id]
    except KeyError:
        raise ConfigError(
            f"unknown device profile {profile_id!r}; known: {', '.join(sorted(profiles))}",
            reason="unknown_profile",
        ) from None
