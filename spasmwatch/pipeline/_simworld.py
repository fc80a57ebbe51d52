"""A simulated wearer behind the simulated BLE backend: what ``--simulate`` and the demo run.

:func:`simulated_world` puts one :class:`~spasmwatch.acquisition.SimulatedDevice` per device
into a :class:`~spasmwatch.acquisition.SimWorld`; devices the physiological simulator
rendered (:func:`~spasmwatch.simulation.simulate_wearer`) send the wearer's EMG and ACC,
every other stream of their profile (Polar ECG, Myo gyroscope and quaternion) comes from
the plain :class:`~spasmwatch.acquisition.GeneratorSource`. The samples then travel in
each device's own bytes through the real ``BleakClient`` API.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from spasmwatch.acquisition import (
    FaultConfig,
    GeneratorSource,
    SignalSource,
    SimClock,
    SimulatedDevice,
    SimWorld,
    get_profile,
)
from spasmwatch.simulation import SimulationResult, WearerProfile

__all__ = ["FallbackSource", "FlatChannels", "demo_wearer", "simulated_world", "stream_epochs"]


class FallbackSource:
    """A :class:`~spasmwatch.acquisition.SignalSource` that reads the stream kinds
    ``primary_kinds`` from ``primary`` and every other kind from ``fallback``."""

    def __init__(
        self, primary: SignalSource, primary_kinds: Sequence[str], fallback: SignalSource
    ) -> None:
        self.primary = primary
        self.primary_kinds = frozenset(primary_kinds)
        self.fallback = fallback

    def read(
        self, kind: str, start_index: int, n: int, rate_hz: float, n_channels: int
    ) -> np.ndarray:
        """See :meth:`spasmwatch.acquisition.SignalSource.read`."""
        src = self.primary if kind in self.primary_kinds else self.fallback
        return src.read(kind, start_index, n, rate_hz, n_channels)


class FlatChannels:
    """A :class:`~spasmwatch.acquisition.SignalSource` whose channels ``channels`` of stream
    kind ``kind`` go flat (a constant ``value``) from sample ``from_index`` until
    ``to_index``: an electrode that lost contact, a broken lead, a device lying still (flat
    horizontal ACC axes leave only the sensor noise on the vertical one). Everything else
    comes from ``source`` unchanged.

    Parameters
    ----------
    source : SignalSource
        The signals otherwise.
    kind : str
        Stream kind, e.g. ``"emg"``.
    channels : sequence of int
        Column indices (0-based, in the stream's channel order) that go flat.
    from_index : int
        First flat sample (the stream's sample index; ``rate * seconds``).
    to_index : int, optional
        First sample after the flat stretch (default: flat for good).
    value : float
        The constant, in the stream's units.
    """

    def __init__(
        self,
        source: SignalSource,
        kind: str,
        channels: Sequence[int],
        from_index: int = 0,
        value: float = 0.0,
        to_index: int | None = None,
    ) -> None:
        self.source = source
        self.kind = kind
        self.channels = tuple(int(c) for c in channels)
        self.from_index = int(from_index)
        self.value = float(value)
        self.to_index = None if to_index is None else int(to_index)

    def read(
        self, kind: str, start_index: int, n: int, rate_hz: float, n_channels: int
    ) -> np.ndarray:
        """See :meth:`spasmwatch.acquisition.SignalSource.read`."""
        x = self.source.read(kind, start_index, n, rate_hz, n_channels)
        end = self.to_index
        if (
            kind != self.kind
            or start_index + n <= self.from_index
            or (end is not None and start_index >= end)
        ):
            return x
        x = np.array(x, dtype=np.float64, copy=True)
        first = max(0, self.from_index - start_index)
        last = n if end is None else min(n, end - start_index)
        cols = [c for c in self.channels if 0 <= c < n_channels]
        x[first:last, cols] = self.value
        return x


def demo_wearer(**overrides: object) -> WearerProfile:
    """A wearer with frequent, clear spasms (about one every 2-3 min while awake) and a
    quiet limb, so that a few episodes appear within minutes of a demo."""
    kw: dict[str, object] = {
        "spasms_per_day": 1500.0,
        "type_mix": (0.45, 0.35, 0.2, 0.0),
        "spasm_intensity": 0.6,
        "night_factor": 1.0,
        "morning_factor": 1.0,
        "activity_level": 0.5,
        "packet_loss": 0.0,
        "disconnects_per_day": 0.0,
    }
    kw.update(overrides)
    return WearerProfile(**kw)  # type: ignore[arg-type]


def simulated_world(
    devices: Sequence[str],
    *,
    result: SimulationResult | None = None,
    speed: float = 1.0,
    clock: SimClock | None = None,
    faults: FaultConfig | dict[str, FaultConfig] | None = None,
    seed: int = 0,
    battery_level: int | dict[str, int] = 87,
    flat: dict[str, tuple[Any, ...]] | None = None,
) -> SimWorld:
    """A :class:`SimWorld` with one simulated device per profile id in ``devices``.

    Parameters
    ----------
    devices : sequence of str
        Profile ids (``"polar-h10"``, ``"myo"``...), one device each.
    result : SimulationResult, optional
        A simulated wearer; devices it rendered send its samples (from sample 0 when their
        stream starts), looping after its end. Without it every device sends
        :class:`GeneratorSource` signals.
    speed : float
        Simulated seconds per wall second (ignored when ``clock`` is given).
    clock : SimClock, optional
        The shared clock (default: a new one at ``speed``, starting at ``result.start_ns``
        when a result is given, else now).
    faults : FaultConfig or dict, optional
        Faults of every device, or per profile id.
    seed : int
        Seed of the devices' fault draws and generator signals.
    battery_level : int or dict
        Battery level (%) of every device when it is added, or per profile id (it drains
        with ``FaultConfig.battery_drain_per_h``).
    flat : dict, optional
        ``{profile id: (kind, channels, after_s[, until_s])}``: these channels of that
        stream are flat from ``after_s`` (until ``until_s``) seconds after the stream's
        sample 0 (:class:`FlatChannels`).
    """
    if clock is None:
        clock = SimClock(speed, start_ns=result.start_ns if result is not None else None)
    world = SimWorld(clock=clock)
    rendered = set() if result is None else {s.device for s in result.specs.values()}
    for i, dev in enumerate(devices):
        profile = get_profile(dev)
        gen = GeneratorSource(seed + i)
        source: SignalSource = gen
        if result is not None and dev in rendered:
            kinds = [s.kind for s in result.specs.values() if s.device == dev]
            source = FallbackSource(result.source_for(dev), kinds, gen)
        if flat and dev in flat:
            kind, chans, after_s, *until = flat[dev]
            rate = next(sp.rate_hz for sp in profile.streams if sp.kind == kind)
            to = round(until[0] * rate) if until and until[0] is not None else None
            source = FlatChannels(source, kind, chans, round(after_s * rate), to_index=to)
        f = faults.get(dev) if isinstance(faults, dict) else faults
        level = battery_level.get(dev, 87) if isinstance(battery_level, dict) else battery_level
        world.add(
            SimulatedDevice(
                profile, source=source, faults=f, seed=seed * 100 + i, battery_level=int(level)
            )
        )
    return world


def stream_epochs(world: SimWorld) -> dict[str, dict[str, int]]:
    """``device profile id -> stream kind -> simulated UTC ns of its sample 0``.

    A simulated wearer's event at ``t`` s from its start is at ``epoch + t`` on the host
    clock (to within the device's clock drift). Streams not started yet are left out.
    """
    out: dict[str, dict[str, int]] = {}
    for dev in world.devices.values():
        kinds = {}
        for sp in dev.profile.streams:
            try:
                kinds[sp.kind] = dev.truth(sp.kind).epoch_ns
            except Exception:  # not started
                continue
        out[dev.profile.id] = kinds
    return out
