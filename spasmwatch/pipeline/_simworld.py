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

__all__ = ["FallbackSource", "demo_wearer", "simulated_world", "stream_epochs"]


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
        f = faults.get(dev) if isinstance(faults, dict) else faults
        world.add(SimulatedDevice(profile, source=source, faults=f, seed=seed * 100 + i))
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
