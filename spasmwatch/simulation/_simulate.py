"""The simulator's front door: :func:`simulate_wearer`, :class:`Simulator` and the result."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from spasmwatch.core import Gap, SampleBlock, StreamSpec
from spasmwatch.errors import ConfigError
from spasmwatch.simulation._devices import DEVICE_PRESETS, SimStream
from spasmwatch.simulation._render import StreamRenderer, stable_key
from spasmwatch.simulation._timeline import Timeline, build_timeline
from spasmwatch.simulation._truth import GroundTruthEvent
from spasmwatch.simulation._wearer import WearerProfile

__all__ = ["DEFAULT_START_NS", "SimulationResult", "Simulator", "simulate_wearer"]

#: Default recording start: 2024-01-01 08:00:00 UTC (fixed, so results do not depend on
#: the wall clock).
DEFAULT_START_NS = 1_704_096_000_000_000_000

# Independent random streams, by role (a spawn key each): adding a confounder, a device
# or a stream never shifts another role's draws.
_WEARER, _SPASMS, _ACTIVITIES, _ARTEFACTS, _GAPS, _STREAMS = range(6)


def _child(seed: int, *key: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed, spawn_key=key)


def _times(start_ns: int, rate_hz: float, i0: int, n: int) -> np.ndarray:
    """Nominal UTC ns of samples ``i0 .. i0+n-1``."""
    return start_ns + np.round((i0 + np.arange(n, dtype=np.float64)) * (1e9 / rate_hz)).astype(
        np.int64
    )


def _as_streams(devices: Sequence[str | SimStream | StreamSpec]) -> list[SimStream]:
    out: list[SimStream] = []
    for d in devices:
        if isinstance(d, SimStream):
            out.append(d)
        elif isinstance(d, StreamSpec):
            if d.kind not in ("emg", "acc"):
                raise ConfigError(f"the simulator renders emg and acc streams, not {d.kind!r}")
            out.append(SimStream(d.device, d.kind, d.rate_hz, d.n_channels, d.units,
                                 channels=d.channels))  # fmt: skip
        elif isinstance(d, str):
            if d not in DEVICE_PRESETS:
                raise ConfigError(
                    f"unknown simulated device {d!r}; known: {sorted(DEVICE_PRESETS)}. "
                    "Pass SimStream objects for other devices"
                )
            out.extend(DEVICE_PRESETS[d])
        else:
            raise ConfigError(f"devices must be names, SimStream or StreamSpec (got {d!r})")
    keys = [s.key for s in out]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"simulated streams must have distinct keys (got {keys})")
    if not out:
        raise ConfigError("simulate needs at least one device")
    return out


@dataclass(frozen=True)
class _GapPlan:
    """Missing sample ranges ``[starts[i], ends[i])`` of one stream, with causes."""

    starts: np.ndarray
    ends: np.ndarray
    causes: tuple[str, ...]

    def keep_mask(self, i0: int, n: int) -> np.ndarray:
        keep = np.ones(n, dtype=bool)
        lo = np.searchsorted(self.ends, i0, side="right")
        for k in range(lo, self.starts.shape[0]):
            s, e = int(self.starts[k]), int(self.ends[k])
            if s >= i0 + n:
                break
            keep[max(s, i0) - i0 : min(e, i0 + n) - i0] = False
        return keep


def _plan_gaps(
    s: SimStream, n_total: int, w: WearerProfile, seed: int, duration_s: float
) -> _GapPlan:
    dev = _child(seed, _GAPS, stable_key(s.device))
    rng_dev = np.random.Generator(np.random.PCG64(dev))
    n_disc = int(rng_dev.poisson(w.disconnects_per_day * duration_s / 86400.0))
    d_start = rng_dev.uniform(0.0, duration_s, n_disc)
    d_len = np.clip(np.exp(np.log(5.0) + 1.0 * rng_dev.standard_normal(n_disc)), 1.0, 60.0)
    rng = np.random.Generator(np.random.PCG64(_child(seed, _GAPS, stable_key(s.key))))
    ps = s.packet_samples
    n_pk = -(-n_total // ps)
    lost = rng.random(n_pk) < w.packet_loss
    miss = np.repeat(lost, ps)[:n_total]
    cause = np.zeros(n_total, dtype=np.int8)
    cause[miss] = 1
    for a, d in zip(d_start, d_len):
        i0 = int(np.ceil(a * s.rate_hz / ps)) * ps
        i1 = min(n_total, i0 + int(np.ceil(d * s.rate_hz / ps)) * ps)
        miss[i0:i1] = True
        cause[i0:i1] = 2
    edges = np.diff(np.concatenate([[0], miss.view(np.int8), [0]]))
    starts = np.nonzero(edges == 1)[0]
    ends = np.nonzero(edges == -1)[0]
    causes = tuple(
        "disconnect" if np.any(cause[a:b] == 2) else "packet_loss" for a, b in zip(starts, ends)
    )
    return _GapPlan(starts.astype(np.int64), ends.astype(np.int64), causes)


class Simulator:
    """A simulated wearer, rendered chunk by chunk (for long simulations written to disk).

    Parameters are those of :func:`simulate_wearer`. :meth:`chunks` yields the full
    (gap-free) samples; :meth:`blocks` yields :class:`~spasmwatch.core.SampleBlock` objects
    with packet loss applied, ready for a recording writer.
    """

    def __init__(
        self,
        duration_s: float,
        seed: int,
        devices: Sequence[str | SimStream | StreamSpec] = ("myo", "polar-h10"),
        *,
        wearer: WearerProfile | None = None,
        start_ns: int | None = None,
        confounders: bool = True,
        packet_loss: bool = True,
    ) -> None:
        if not (isinstance(duration_s, int | float) and 0 < duration_s <= 30 * 86400):
            raise ConfigError(f"duration_s must be in (0, 30 days] (got {duration_s!r})")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ConfigError(f"seed must be an int >= 0 (got {seed!r})")
        self.seed = int(seed)
        self.duration_s = float(duration_s)
        self.streams = _as_streams(devices)
        self.wearer = wearer if wearer is not None else WearerProfile.from_seed(
            _child(self.seed, _WEARER)
        )  # fmt: skip
        if not isinstance(self.wearer, WearerProfile):
            raise ConfigError(f"wearer must be a WearerProfile (got {type(self.wearer).__name__})")
        self.start_ns = DEFAULT_START_NS if start_ns is None else int(start_ns)
        tod0 = ((self.start_ns / 1e9) + self.wearer.utc_offset_h * 3600.0) % 86400.0
        self.timeline: Timeline = build_timeline(
            self.wearer,
            self.duration_s,
            tod0,
            _child(self.seed, _SPASMS),
            _child(self.seed, _ACTIVITIES),
            _child(self.seed, _ARTEFACTS),
            confounders=confounders,
        )
        self.n_samples = {s.key: int(np.floor(self.duration_s * s.rate_hz)) for s in self.streams}
        self.packet_loss = packet_loss
        self.gap_plans = {
            s.key: _plan_gaps(s, self.n_samples[s.key], self.wearer, self.seed, self.duration_s)
            if packet_loss
            else _GapPlan(np.zeros(0, np.int64), np.zeros(0, np.int64), ())
            for s in self.streams
        }

    @property
    def specs(self) -> dict[str, StreamSpec]:
        """Stream key -> spec."""
        return {s.key: s.spec for s in self.streams}

    def _renderer(self, s: SimStream) -> StreamRenderer:
        return StreamRenderer(s, self.timeline, self.wearer,
                              _child(self.seed, _STREAMS, stable_key(s.key)))  # fmt: skip

    def gaps(self, key: str) -> list[Gap]:
        """The gaps of stream ``key`` (ground truth of the packet loss)."""
        s = next(x for x in self.streams if x.key == key)
        plan = self.gap_plans[key]
        out = []
        for a, b, c in zip(plan.starts, plan.ends, plan.causes):
            t = _times(self.start_ns, s.rate_hz, int(a), 1)[0]
            t_end = _times(self.start_ns, s.rate_hz, int(b), 1)[0]
            out.append(Gap(int(t), int(t_end), int(b - a), c))
        return out

    def chunks(self, chunk_s: float = 600.0) -> Iterator[tuple[str, int, np.ndarray]]:
        """Yield ``(key, i0, samples)`` for every stream, chunk by chunk, gap-free.

        ``samples`` is float32 ``(n, n_channels)``; the streams are interleaved so that
        memory stays bounded by one chunk per stream.
        """
        if not chunk_s > 0:
            raise ConfigError(f"chunk_s must be > 0 s (got {chunk_s!r})")
        renderers = {s.key: self._renderer(s) for s in self.streams}
        pos = dict.fromkeys(renderers, 0)
        t_end = 0.0
        while any(pos[k] < self.n_samples[k] for k in pos):
            t_end += chunk_s
            for s in self.streams:
                k = s.key
                stop = min(self.n_samples[k], int(np.floor(t_end * s.rate_hz)))
                if stop > pos[k]:
                    yield k, pos[k], renderers[k].render(pos[k], stop - pos[k])
                    pos[k] = stop

    def blocks(self, block_samples: int = 1024, chunk_s: float = 600.0) -> Iterator[SampleBlock]:
        """Yield sample blocks of every stream, with packet loss removed and gaps attached."""
        specs = self.specs
        gaps = {k: self.gaps(k) for k in specs}
        plans = self.gap_plans
        for key, i0, data in self.chunks(chunk_s):
            spec = specs[key]
            t = _times(self.start_ns, spec.rate_hz, i0, data.shape[0])
            yield from _split_blocks(spec, t, data, i0, plans[key], gaps[key], block_samples)
        for key, spec in specs.items():  # gaps at the very end: an empty block carries them
            plan = plans[key]
            n = self.n_samples[key]
            tail = [g for g, e in zip(gaps[key], plan.ends) if e >= n]
            if tail:
                yield SampleBlock(spec, np.zeros(0, np.int64), np.zeros((0, spec.n_channels),
                                  np.float32), first_index=n, gaps=tuple(tail))  # fmt: skip


def _split_blocks(
    spec: StreamSpec,
    t: np.ndarray,
    data: np.ndarray,
    i0: int,
    plan: _GapPlan,
    gaps: list[Gap],
    block_samples: int,
) -> Iterator[SampleBlock]:
    """Blocks of at most ``block_samples`` kept samples, split at gaps (chunk ``[i0, i0+n)``)."""
    if block_samples < 1:
        raise ConfigError(f"block_samples must be >= 1 (got {block_samples})")
    n = data.shape[0]
    keep = plan.keep_mask(i0, n)
    edges = np.diff(np.concatenate([[0], keep.view(np.int8), [0]]))
    run_s = np.nonzero(edges == 1)[0]
    run_e = np.nonzero(edges == -1)[0]
    gap_by_end: dict[int, Gap] = {int(e): g for e, g in zip(plan.ends, gaps)}
    for a, b in zip(run_s, run_e):
        for p in range(int(a), int(b), block_samples):
            q = min(int(b), p + block_samples)
            idx = i0 + p
            g = gap_by_end.get(idx) if p == a else None
            yield SampleBlock(spec, t[p:q], data[p:q], first_index=idx,
                              gaps=(g,) if g is not None else ())  # fmt: skip


class _DeviceSource:
    """``SignalSource`` of one device: its simulated samples by kind and sample index."""

    def __init__(self, device: str, arrays: dict[str, tuple[float, np.ndarray]]) -> None:
        from spasmwatch.acquisition._sources import ArraySource

        self.device = device
        self._inner = ArraySource(arrays, loop=True)

    def read(
        self, kind: str, start_index: int, n: int, rate_hz: float, n_channels: int
    ) -> np.ndarray:
        """Samples ``start_index .. start_index + n - 1`` of ``kind`` (float64, physical
        units, looping after the end; linearly interpolated if ``rate_hz`` differs)."""
        return self._inner.read(kind, start_index, n, rate_hz, n_channels)


class SimulationResult:
    """A finished simulation: streams, gaps, ground truth and confounders.

    Attributes
    ----------
    streams : dict
        ``key -> (StreamSpec, t_ns int64 (n,), data float32 (n, c))`` with the lost
        samples removed.
    gaps : dict
        ``key -> list[Gap]``: ground truth of the packet loss.
    truth : list of GroundTruthEvent
        The spasms, in time order, non-overlapping.
    confounders : list of (start_s, end_s, name)
        Everything else the limb did (activities, artefacts, sleep).
    wearer : WearerProfile
    start_ns : int
        UTC ns of sample 0.
    seed : int
    """

    def __init__(
        self,
        sim: Simulator,
        full: dict[str, np.ndarray],
    ) -> None:
        self.seed = sim.seed
        self.wearer = sim.wearer
        self.start_ns = sim.start_ns
        self.duration_s = sim.duration_s
        self.truth: list[GroundTruthEvent] = list(sim.timeline.truth)
        self.confounders: list[tuple[float, float, str]] = list(sim.timeline.confounders)
        self.specs = sim.specs
        self.gaps: dict[str, list[Gap]] = {k: sim.gaps(k) for k in self.specs}
        self._plans = sim.gap_plans
        self._full = full
        self._streams: dict[str, tuple[StreamSpec, np.ndarray, np.ndarray]] | None = None

    @property
    def streams(self) -> dict[str, tuple[StreamSpec, np.ndarray, np.ndarray]]:
        """``key -> (spec, t_ns, data)`` with lost samples removed."""
        if self._streams is None:
            out = {}
            for k, spec in self.specs.items():
                full = self._full[k]
                keep = self._plans[k].keep_mask(0, full.shape[0])
                t = _times(self.start_ns, spec.rate_hz, 0, full.shape[0])[keep]
                out[k] = (spec, t, full[keep])
            self._streams = out
        return self._streams

    def full_data(self, key: str) -> np.ndarray:
        """All samples of ``key`` as rendered, before packet loss, float32 ``(n, c)``."""
        return self._full[key]

    def time_s(self, key: str) -> np.ndarray:
        """Seconds from the start of every sample of :meth:`full_data`."""
        return np.arange(self._full[key].shape[0]) / self.specs[key].rate_hz

    def to_blocks(self, key: str, block_samples: int = 1024) -> Iterator[SampleBlock]:
        """The stream as :class:`~spasmwatch.core.SampleBlock` objects of at most
        ``block_samples`` samples; lost samples are absent, ``first_index`` jumps over them
        and the block after a gap carries it in ``gaps``."""
        if key not in self.specs:
            raise ConfigError(f"no simulated stream {key!r}; streams: {sorted(self.specs)}")
        spec = self.specs[key]
        full = self._full[key]
        t = _times(self.start_ns, spec.rate_hz, 0, full.shape[0])
        plan = self._plans[key]
        yield from _split_blocks(spec, t, full, 0, plan, self.gaps[key], block_samples)
        tail = [g for g, e in zip(self.gaps[key], plan.ends) if e >= full.shape[0]]
        if tail:
            yield SampleBlock(spec, np.zeros(0, np.int64), np.zeros((0, spec.n_channels),
                              np.float32), first_index=full.shape[0], gaps=tuple(tail))  # fmt: skip

    def source_for(self, device: str) -> _DeviceSource:
        """A ``SignalSource`` (``read(kind, start_index, n, rate_hz, n_channels)``) feeding
        the simulated BLE wearable ``device`` with these samples (before packet loss: the
        BLE simulator loses packets itself)."""
        arrays = {
            spec.kind: (spec.rate_hz, self._full[k])
            for k, spec in self.specs.items()
            if spec.device == device
        }
        if not arrays:
            devs = sorted({s.device for s in self.specs.values()})
            raise ConfigError(f"no simulated device {device!r}; devices: {devs}")
        return _DeviceSource(device, arrays)

    def source(self, device: str | None = None) -> _DeviceSource:
        """:meth:`source_for` the given device, or the only one simulated."""
        if device is None:
            devs = sorted({s.device for s in self.specs.values()})
            if len(devs) != 1:
                raise ConfigError(f"several devices simulated ({devs}); name one: source(device)")
            device = devs[0]
        return self.source_for(device)


def simulate_wearer(
    duration_s: float,
    seed: int,
    devices: Sequence[str | SimStream | StreamSpec] = ("myo", "polar-h10"),
    *,
    wearer: WearerProfile | None = None,
    start_ns: int | None = None,
    confounders: bool = True,
    packet_loss: bool = True,
    chunk_s: float = 600.0,
) -> SimulationResult:
    """Simulate a wearer for ``duration_s`` seconds, reproducibly from ``seed``.

    Parameters
    ----------
    duration_s : float
        Length of the simulation (s).
    seed : int
        Seed; the same seed (and arguments) gives the same samples bit for bit.
    devices : sequence of str, SimStream or StreamSpec
        Preset device names (:data:`DEVICE_PRESETS`) and/or explicit streams.
    wearer : WearerProfile, optional
        The person; default a random wearer drawn from ``seed``.
    start_ns : int, optional
        UTC ns of the first sample (sets the time of day); default 2024-01-01 08:00 UTC.
    confounders : bool
        Daily-living activities and artefacts (default) or a quiet limb with spasms only.
    packet_loss : bool
        Remove samples lost over BLE (ground truth in ``result.gaps``).
    chunk_s : float
        Render in chunks of this many seconds (bounds memory; does not change the result).

    Returns
    -------
    SimulationResult
    """
    sim = Simulator(duration_s, seed, devices, wearer=wearer, start_ns=start_ns,
                    confounders=confounders, packet_loss=packet_loss)  # fmt: skip
    full = {s.key: np.empty((sim.n_samples[s.key], s.n_channels), np.float32)
            for s in sim.streams}  # fmt: skip
    for key, i0, data in sim.chunks(chunk_s):
        full[key][i0 : i0 + data.shape[0]] = data
    return SimulationResult(sim, full)
