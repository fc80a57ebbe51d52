"""Real-time monitoring: BLE wearables -> detection -> store, coach, live bus, recording.

:class:`Monitor` runs in one asyncio event loop::

    BleSession ─► acquisition queue ─► detection task (DetectionPipeline.update)
                                         ├─► store writer (queue; SQLite in a worker thread)
                                         ├─► coach (in the detection task; a state machine)
                                         ├─► delivery (queue; terminal, notify-send in a thread)
                                         ├─► live bus (a bounded queue per subscriber)
                                         └─► recorder (queue; RecordingWriter in a worker thread)

plus a signal-loss watchdog, a housekeeping task (prompt time-outs, follow-ups), a status
publisher, a device-health task (health snapshots on the bus, wear time per day to the
store) and a retention task (raw recordings older than the configured period are pruned at
start and then once a day).

Device health: one :class:`~spasmwatch.health.DeviceHealthTracker` per device is attached to
the :class:`~spasmwatch.acquisition.BleSession` (which feeds it every block and battery /
device-information reading and uses it to state the cause of every loss); the monitor turns
its events (battery low/critical, EMG channel quality, worn / not worn) into terminal lines,
``{"type": "health"}`` bus events, device rows, wear-time rows and recording metadata.

No consumer can stall acquisition: every hand-over is ``put_nowait`` into a bounded queue,
and whatever did not fit is dropped and counted (:class:`MonitorStats`); blocks the recorder
missed become ``"overflow"`` gaps in the recording.

The detection task uses the *same* :class:`~spasmwatch.pipeline.DetectionPipeline` as the
offline ``spasmwatch detect``. Consecutive blocks of one stream that wait together in the
acquisition queue are joined before ``update`` (the pipeline is chunk-invariant, so this
changes nothing but the per-call overhead when the loop falls behind).

All times the monitor stores or shows come from its clock (a
:class:`~spasmwatch.acquisition.SimClock` in simulations, so an accelerated run is
consistent); latencies are measured with ``time.perf_counter_ns``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import datetime as dt
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spasmwatch.acquisition import Backoff, BleSession, DeviceEvent, DeviceTarget
from spasmwatch.coach import (
    Coach,
    Decision,
    Delivery,
    PromptPolicy,
    deliver_all,
    fill_prompt_followups,
    get_exercise,
    prompt_message,
)
from spasmwatch.core import Gap, SampleBlock
from spasmwatch.episodes import DetectorConfig, EpisodeUpdate, new_id
from spasmwatch.errors import ConfigError, NotFoundError, StoreError
from spasmwatch.health import DeviceHealthTracker, EmgQualityMonitor
from spasmwatch.pipeline._detection import DetectionPipeline
from spasmwatch.store import (
    PLACEMENT_SIDES,
    Device,
    EventStore,
    Placement,
    RecordingInfo,
    RecordingWriter,
    SignalLoss,
    WearTime,
)
from spasmwatch.store._db import resolve_tz

__all__ = ["CONSUMERS", "Monitor", "MonitorStats", "cause_text", "local_tz_name", "parse_placement"]

log = logging.getLogger(__name__)

#: Consumers whose bounded queues may drop (and count) what they could not take.
CONSUMERS = ("acquisition", "recorder", "store", "delivery", "bus")
#: Stages whose latency the monitor measures besides the pipeline's own (:data:`STAGES`).
MONITOR_STAGES = ("block", "store", "record")
_NS = 1_000_000_000
#: a channel's same quality problem is said on the terminal at most once in this many s
QUALITY_REPEAT_S = 600.0
_DAY_S = 86_400.0

#: How the terminal and the page word each gap cause (``spasmwatch.core.GAP_CAUSES``).
_CAUSE_TEXT = {
    "disconnect": "the link dropped",
    "out_of_range": "out of range",
    "battery": "battery empty",
    "not_worn": "not worn",
    "bad_contact": "electrode contact lost",
    "host_asleep": "this computer was asleep",
    "packet_loss": "radio packets lost",
    "decode_error": "undecodable data",
    "overflow": "the monitor fell behind",
    "import": "rows skipped by an import",
    "unknown": "cause unknown",
}
#: How the terminal words each EMG quality status.
_QUALITY_TEXT = {
    "good": "signal good",
    "contact_lost": "electrode contact lost",
    "saturation": "signal saturated",
    "powerline": "mains (powerline) interference",
    "motion_artefact": "motion artefact",
}


def cause_text(cause: str) -> str:
    """Plain words for a gap / signal-loss cause (e.g. ``"out_of_range"`` -> "out of range")."""
    return _CAUSE_TEXT.get(cause, cause.replace("_", " "))


def parse_placement(text: str) -> tuple[str | None, str, str | None]:
    """Parse a ``--placement`` value: ``[<device>=]<side>-<muscle>``.

    The side is one of :data:`~spasmwatch.store.PLACEMENT_SIDES` (``left``, ``right``,
    ``midline``); since muscle names never contain ``-``, ``<muscle>-<side>`` (the form
    episodes carry, e.g. ``gastrocnemius-right``) is accepted too, and a bare muscle means
    no side. Muscle names are lower case with ``_`` for spaces (``forearm_flexors``).

    Parameters
    ----------
    text : str
        E.g. ``"myo=right-gastrocnemius"``, ``"myo=gastrocnemius-right"``, ``"chest"``.

    Returns
    -------
    tuple
        ``(device or None, muscle, side or None)``.

    Raises
    ------
    ConfigError
        When the value does not have that form.
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"--placement needs DEVICE=SIDE-MUSCLE, e.g. myo=right-gastrocnemius "
                          f"(got {text!r})")  # fmt: skip
    device: str | None = None
    where = text.strip()
    if "=" in where:
        device, where = (x.strip() for x in where.split("=", 1))
        if not device:
            raise ConfigError(f"--placement {text!r}: the device before '=' is empty")
    parts = [x.strip().lower().replace(" ", "_") for x in where.split("-")]
    hint = "expected SIDE-MUSCLE with SIDE one of " + "/".join(PLACEMENT_SIDES)
    if not all(parts) or len(parts) > 2:
        raise ConfigError(f"--placement {text!r}: {hint}, e.g. myo=right-gastrocnemius")
    if len(parts) == 1:
        if parts[0] in PLACEMENT_SIDES:
            raise ConfigError(f"--placement {text!r}: a side without a muscle; {hint}")
        return device, parts[0], None
    a, b = parts
    if a in PLACEMENT_SIDES and b not in PLACEMENT_SIDES:
        return device, b, a
    if b in PLACEMENT_SIDES and a not in PLACEMENT_SIDES:
        return device, a, b
    raise ConfigError(f"--placement {text!r}: {hint}, e.g. myo=right-gastrocnemius")


def local_tz_name() -> str:
    """IANA name of this machine's time zone (``$TZ``, ``/etc/localtime``, ``/etc/timezone``),
    ``"UTC"`` when none can be found."""
    from zoneinfo import ZoneInfo

    def ok(name: str | None) -> str | None:
        if not name:
            return None
        name = name.strip().lstrip(":")
        try:
            ZoneInfo(name)
        except Exception:
            return None
        return name

    cands: list[str | None] = [os.environ.get("TZ")]
    with contextlib.suppress(OSError):
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            cands.append(target.split("zoneinfo/", 1)[1])
    with contextlib.suppress(OSError):
        cands.append(Path("/etc/timezone").read_text().strip())
    for c in cands:
        name = ok(c)
        if name is not None:
            return name
    return "UTC"


class _Latency:
    """Last ``keep`` durations (ns) of one stage, for percentiles."""

    __slots__ = ("buf", "count", "total")

    def __init__(self, keep: int = 20_000) -> None:
        self.buf: collections.deque[int] = collections.deque(maxlen=keep)
        self.count = 0
        self.total = 0

    def add(self, ns: int) -> None:
        self.buf.append(ns)
        self.count += 1
        self.total += ns

    def summary(self) -> dict[str, float]:
        a = np.fromiter(self.buf, dtype=np.float64, count=len(self.buf)) / 1e6
        nan = float("nan")
        return {
            "count": self.count,
            "p50_ms": float(np.percentile(a, 50)) if a.size else nan,
            "p99_ms": float(np.percentile(a, 99)) if a.size else nan,
            "mean_ms": self.total / self.count / 1e6 if self.count else nan,
        }


@dataclass(frozen=True)
class MonitorStats:
    """A snapshot of what a :class:`Monitor` did so far.

    Attributes
    ----------
    t_ns : int
        Monitor clock (UTC ns) when taken.
    uptime_s, wall_s : float
        Monitor-clock and wall seconds since :meth:`Monitor.run` started.
    blocks : int
        Sample blocks received from acquisition.
    samples : dict
        Stream key -> samples received.
    gaps, missing : dict
        Stream key -> gaps announced by acquisition / samples they miss.
    dropped : dict
        Consumer (:data:`CONSUMERS`) -> items it dropped because its queue was full, and
        ``detector_late``: analysis windows dropped because they arrived after their frame
        had been scored without them (their stream had been declared stale).
    latency : dict
        Stage -> ``{count, p50_ms, p99_ms, mean_ms}``: the pipeline's stages
        (:data:`~spasmwatch.pipeline.STAGES`) per ``update`` call, ``block`` (a whole block
        through detection, coach and hand-overs), ``store`` (one store write) and
        ``record`` (one recorder batch).
    episodes : dict
        Update kind (``onset``, ``update``, ``final``, ``retract``) -> count.
    episodes_stored : int
        Episode writes committed to the store.
    prompts : int
        Prompts offered.
    decisions : dict
        Coach decision reason (``prompted`` or a refusal) -> count.
    devices : dict
        Device -> ``{state, connects, reconnects, decode_errors, notifications, battery}``.
    signal_losses : int
        Signal-loss alerts raised.
    recording : str or None
        Folder of the recording being written.
    """

    t_ns: int
    uptime_s: float
    wall_s: float
    blocks: int
    samples: dict[str, int]
    gaps: dict[str, int]
    missing: dict[str, int]
    dropped: dict[str, int]
    latency: dict[str, dict[str, float]]
    episodes: dict[str, int]
    episodes_stored: int
    prompts: int
    decisions: dict[str, int]
    devices: dict[str, dict[str, Any]]
    signal_losses: int
    recording: str | None = None
    model_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def reconnects(self) -> int:
        """Reconnections of all devices."""
        return sum(int(d.get("reconnects", 0)) for d in self.devices.values())

    @property
    def decode_errors(self) -> int:
        """Undecodable notifications of all devices."""
        return sum(int(d.get("decode_errors", 0)) for d in self.devices.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (NaN latencies become ``None``)."""

        def clean(o: Any) -> Any:
            if isinstance(o, float):
                return o if math.isfinite(o) else None
            if isinstance(o, dict):
                return {k: clean(v) for k, v in o.items()}
            return o

        d = {
            "t_ns": self.t_ns,
            "uptime_s": self.uptime_s,
            "wall_s": self.wall_s,
            "blocks": self.blocks,
            "samples": dict(self.samples),
            "gaps": dict(self.gaps),
            "missing": dict(self.missing),
            "dropped": dict(self.dropped),
            "latency": {k: dict(v) for k, v in self.latency.items()},
            "episodes": dict(self.episodes),
            "episodes_stored": self.episodes_stored,
            "prompts": self.prompts,
            "decisions": dict(self.decisions),
            "devices": {k: dict(v) for k, v in self.devices.items()},
            "reconnects": self.reconnects,
            "decode_errors": self.decode_errors,
            "signal_losses": self.signal_losses,
            "recording": self.recording,
            "model_id": self.model_id,
            **self.extra,
        }
        return clean(d)

    def format(self) -> str:
        """A short human-readable summary (printed when the monitor stops)."""
        lines = [
            f"monitored {self.uptime_s:.0f} s ({self.wall_s:.0f} s wall), "
            f"{self.blocks} blocks, model {self.model_id or '?'}",
        ]
        for key, n in sorted(self.samples.items()):
            lines.append(
                f"  {key}: {n} samples, {self.gaps.get(key, 0)} gaps "
                f"({self.missing.get(key, 0)} samples missing)"
            )
        for dev, d in sorted(self.devices.items()):
            health = ""
            if d.get("battery") is not None:
                health += f", battery {d['battery']} %"
            if d.get("worn") is False:
                health += ", not worn"
            bad = [f"{c} {st.replace('_', ' ')}" for q in (d.get("quality") or {}).values()
                   for c, st in q.items() if st not in (None, "good")]  # fmt: skip
            if bad:
                health += f", EMG {', '.join(bad)}"
            lines.append(
                f"  {dev}: {d.get('state', '?')}, {d.get('reconnects', 0)} reconnects, "
                f"{d.get('decode_errors', 0)} decode errors{health}"
            )
        ep = self.episodes
        lines.append(
            f"  episodes: {ep.get('onset', 0)} onsets, {ep.get('final', 0)} final, "
            f"{ep.get('retract', 0)} retracted; {self.episodes_stored} store writes"
        )
        refused = {k: v for k, v in self.decisions.items() if k != "prompted"}
        lines.append(f"  prompts: {self.prompts} offered; not offered: {refused or 'none'}")
        lines.append(f"  signal-loss alerts: {self.signal_losses}")
        lines.append(f"  dropped: {self.dropped}")
        tot = self.latency.get("total", {})
        blk = self.latency.get("block", {})
        if tot.get("count"):
            lines.append(
                f"  detection latency per update: p50 {tot['p50_ms']:.3f} ms, "
                f"p99 {tot['p99_ms']:.3f} ms; per block incl. hand-overs: "
                f"p50 {blk.get('p50_ms', float('nan')):.3f} ms, "
                f"p99 {blk.get('p99_ms', float('nan')):.3f} ms"
            )
        if self.recording:
            lines.append(f"  recording: {self.recording}")
        return "\n".join(lines)


def _join(blocks: list[SampleBlock]) -> list[SampleBlock]:
    """Join consecutive blocks of one stream that follow each other without loss.

    Order within each stream is kept; streams are emitted in order of their first block.
    """
    if len(blocks) < 2:
        return blocks
    runs: dict[str, list[list[SampleBlock]]] = {}
    order: list[str] = []
    for b in blocks:
        key = b.spec.key
        rs = runs.get(key)
        if rs is None:
            runs[key] = [[b]]
            order.append(key)
            continue
        last = rs[-1][-1]
        if not b.gaps and b.n_samples and last.n_samples and b.first_index == last.end_index:
            rs[-1].append(b)
        else:
            rs.append([b])
    out: list[SampleBlock] = []
    for key in order:
        for run in runs[key]:
            if len(run) == 1:
                out.append(run[0])
                continue
            first = run[0]
            seq = None
            if first.seq is not None and run[-1].seq is not None:
                seq = (first.seq[0], run[-1].seq[1])
            out.append(
                SampleBlock(
                    first.spec,
                    np.concatenate([b.t_ns for b in run]),
                    np.concatenate([b.data for b in run]),
                    first_index=first.first_index,
                    gaps=first.gaps,
                    seq=seq,
                )
            )
    return out


class Monitor:
    """Monitor one or several BLE wearables in real time.

    Parameters
    ----------
    targets : sequence of DeviceTarget or str
        Devices to stream from (profile ids are accepted).
    store : EventStore or path
        Where episodes, prompts, devices, signal losses and the recording index go.
    model : SpasmModel, path or None
        The classifier; ``None`` picks the bundled model for the devices' streams.
    policy : PromptPolicy, optional
        When to offer exercises (default ``PromptPolicy()``).
    deliveries : sequence of Delivery
        Channels for prompts (terminal, desktop...). The live bus, if given, always
        receives them too.
    live_bus : LiveBus, optional
        Receives device status, detections (decimated), episodes, prompts, signal previews,
        signal losses and ``{"type": "status"}`` snapshots; outcomes the web page posts
        (``prompt_outcome``) are passed to the coach.
    record_dir : str or Path, optional
        Write the raw streams to a new recording folder ``<record_dir>/monitor-<time>``.
    clock : Clock, optional
        Time source (``SimClock`` for simulations; default the system clock).
    client_backend, scanner_backend : type, optional
        bleak backends (``SimWorld.backends()`` for simulated devices).
    wearer_id : str
        Whose data.
    signal_loss_after_s : float
        Raise a signal-loss alert after this long without data from a device (clock s).
    detector_config : DetectorConfig, optional
        Overrides the model's detector settings.
    calibration_s : float, optional
        Rest calibration length (default from the model).
    reconnect : Backoff, optional
        Reconnection backoff.
    queue_size : int
        Capacity (blocks) of the acquisition queues.
    consumer_queue_size : int
        Capacity of the recorder and delivery queues (the store's is 100x larger: episodes
        must not be dropped).
    housekeeping_every_s : float
        Clock seconds between prompt time-out checks; follow-ups are filled every 5 of these.
    status_every_s : float
        Wall seconds between status snapshots on the bus.
    preview_every_s : float
        Wall seconds between detection / signal-preview events on the bus.
    on_line : callable, optional
        Receives each human-readable log line (default: print to stdout).
    detection_lines : bool
        Also log windows whose spasm probability crosses the onset threshold.
    record_flush_s : float
        Recorder flush interval (wall s).
    session_options : mapping, optional
        Extra :class:`~spasmwatch.acquisition.BleSession` keyword arguments (e.g.
        ``battery_interval_s``, ``rssi_interval_s``); they override the monitor's
        ``report_open_gaps=True``.
    tz : str, optional
        IANA time zone of the wearer: local days of the wear time, clock times in lines (and
        the prompt policy's quiet hours when the policy names none). Default: the policy's
        zone, else this machine's (:func:`local_tz_name`).
    placements : mapping, optional
        Where each device sits: ``{device: "right-gastrocnemius"}`` (any form
        :func:`parse_placement` reads) or ``{device: (muscle, side)}``. Stored with
        ``EventStore.set_placement`` when :meth:`run` starts; without one, a device keeps
        the placement the store already has for it. Episodes carry the placement of their
        device (else of the first placed device the pipeline reads), and so does the
        recording manifest (``devices[i]["placement"]``).
    health : bool
        Attach a :class:`~spasmwatch.health.DeviceHealthTracker` per device (battery, EMG
        quality, wear state, wear time, stated loss causes). Default True.
    health_options : mapping, optional
        Keyword arguments of every tracker (``quality``, ``wear``, ``debounce_windows``...).
    health_every_s : float
        Wall seconds between periodic ``{"type": "health"}`` snapshots per device on the bus
        (they are also published at once when something changes).
    wear_every_s : float
        Clock seconds between wear-time writes to the store (and at the end of the run).
    data_dir : str or Path, optional
        Folder whose raw recordings the retention setting applies to (default: the store's
        folder, as for ``spasmwatch prune``).
    retention_every_s : float or None
        Clock seconds between retention runs (default one day; the first runs at start).
        ``None``: never. Nothing happens unless a retention period is configured
        (:func:`~spasmwatch.store.retention_days`).
    """

    def __init__(
        self,
        targets: Sequence[DeviceTarget | str],
        *,
        store: EventStore | str | Path,
        model: Any = None,
        policy: PromptPolicy | None = None,
        deliveries: Sequence[Delivery] = (),
        live_bus: Any = None,
        record_dir: str | Path | None = None,
        clock: Any = None,
        client_backend: Any = None,
        scanner_backend: Any = None,
        wearer_id: str = "default",
        signal_loss_after_s: float = 30.0,
        detector_config: DetectorConfig | None = None,
        calibration_s: float | None = None,
        reconnect: Backoff | None = None,
        queue_size: int = 16384,
        consumer_queue_size: int = 2048,
        housekeeping_every_s: float = 30.0,
        status_every_s: float = 2.0,
        preview_every_s: float = 0.25,
        on_line: Callable[[str], None] | None = None,
        detection_lines: bool = True,
        record_flush_s: float = 1.0,
        session_options: Mapping[str, Any] | None = None,
        tz: str | None = None,
        placements: Mapping[str, str | tuple[str, str | None]] | None = None,
        health: bool = True,
        health_options: Mapping[str, Any] | None = None,
        health_every_s: float = 5.0,
        wear_every_s: float = 300.0,
        data_dir: str | Path | None = None,
        retention_every_s: float | None = _DAY_S,
    ) -> None:
        from spasmwatch.acquisition._simbackend import SystemClock
        from spasmwatch.models import SpasmModel, choose_bundled_model

        if not (math.isfinite(signal_loss_after_s) and signal_loss_after_s > 0):
            raise ConfigError(
                f"signal_loss_after_s must be a number of seconds > 0 (got {signal_loss_after_s!r})"
            )
        if consumer_queue_size < 1 or queue_size < 1:
            raise ConfigError("Monitor queue sizes must be >= 1")
        self.clock = clock if clock is not None else SystemClock()
        self.targets = [t if isinstance(t, DeviceTarget) else DeviceTarget(t) for t in targets]
        if not self.targets:
            raise ConfigError("Monitor needs at least one device (e.g. --device polar-h10)")
        for name, v in (("health_every_s", health_every_s), ("wear_every_s", wear_every_s),
                        ("retention_every_s", retention_every_s)):  # fmt: skip
            if v is None and name == "retention_every_s":
                continue
            if isinstance(v, bool) or not isinstance(v, int | float) or not (v > 0):
                raise ConfigError(f"Monitor {name} must be a number of seconds > 0 (got {v!r})")
        policy = policy or PromptPolicy()
        if tz is None:
            tz = policy.tz or local_tz_name()
        elif policy.tz is None:
            policy = dataclasses.replace(policy, tz=tz)  # one zone for days and quiet hours
        self.tz_name = str(tz)
        names = [str(t.instance) for t in self.targets]
        # trackers need the specs before the session exists: the profiles give them
        dev_specs = {
            str(t.instance): [
                t.profile.stream_spec(sp.kind, device=t.instance)  # type: ignore[union-attr]
                for sp in t.profile.streams  # type: ignore[union-attr]
            ]
            for t in self.targets
        }
        self.health_options = dict(health_options or {})
        self.trackers: dict[str, DeviceHealthTracker] = {}
        if health:
            for dev, sp in dev_specs.items():
                self.trackers[dev] = DeviceHealthTracker(sp, self.tz_name, **self.health_options)
        sess_kw: dict[str, Any] = {"report_open_gaps": True}
        sess_kw.update(session_options or {})
        if self.trackers and "health" not in sess_kw:
            sess_kw["health"] = self.trackers
        self.session = BleSession(
            self.targets,
            client_backend=client_backend,
            scanner_backend=scanner_backend,
            clock=self.clock,
            reconnect=reconnect,
            on_event=self._on_device_event,
            queue_size=queue_size,
            **sess_kw,
        )
        # placements asked for (stored at run start)
        self._placement_req: dict[str, tuple[str, str | None]] = {}
        for dev, where in dict(placements or {}).items():
            if dev not in names:
                raise ConfigError(
                    f"--placement for {dev!r}, which is not monitored; devices: {names}"
                )
            if isinstance(where, str):
                d, muscle, side = parse_placement(where)
                if d is not None and d != dev:
                    raise ConfigError(f"placement {where!r} names device {d!r}, given for {dev!r}")
            else:
                muscle, side = where
            Placement(dev, muscle, side)  # validates muscle and side now, not at run()
            self._placement_req[dev] = (muscle, side)
        specs = self.session.specs()
        if model is None:
            model = SpasmModel(choose_bundled_model({s.kind for s in specs}))
        elif not isinstance(model, SpasmModel):
            model = SpasmModel(model)
        self.model = model
        self._own_store = not isinstance(store, EventStore)
        self.store: EventStore = EventStore(store) if self._own_store else store  # type: ignore[arg-type]
        self.wearer_id = wearer_id
        self.policy = policy
        self.coach = Coach(self.policy, wearer_id)
        self._tz = resolve_tz(self.tz_name)
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.health_every_s = float(health_every_s)
        self.wear_every_s = float(wear_every_s)
        self.retention_every_s = None if retention_every_s is None else float(retention_every_s)
        # current placements: the requested ones, else what the store knows
        now0 = self.clock.now_ns()
        self.placements: dict[str, Placement] = {}
        for dev in names:
            if dev in self._placement_req:
                m, sd = self._placement_req[dev]
                self.placements[dev] = Placement(dev, m, sd, now0, None, wearer_id)
            else:
                with contextlib.suppress(StoreError):
                    pl = self.store.placement_at(dev, now0)
                    if pl is not None:
                        self.placements[dev] = pl
        self.deliveries = list(deliveries)
        self.bus = live_bus
        self.signal_loss_after_s = float(signal_loss_after_s)
        self.housekeeping_every_s = float(housekeeping_every_s)
        self.status_every_s = float(status_every_s)
        self.preview_every_s = float(preview_every_s)
        self.detection_lines = detection_lines
        self._on_line = on_line
        self._queue_size = int(queue_size)
        self._cq = int(consumer_queue_size)
        # recording
        self.writer: RecordingWriter | None = None
        self.recording_path: Path | None = None
        rec_id: str | None = None
        if record_dir is not None:
            stamp = dt.datetime.fromtimestamp(self.clock.now_ns() / _NS, self._tz)
            path = Path(record_dir) / f"monitor-{stamp:%Y%m%dT%H%M%S}"
            k = 2
            while path.exists():
                path = Path(record_dir) / f"monitor-{stamp:%Y%m%dT%H%M%S}-{k}"
                k += 1
            self.writer = RecordingWriter(
                path,
                start_ns=self.clock.now_ns(),
                devices=[self._manifest_device(t) for t in self.targets],
                meta={"wearer_id": wearer_id, "source": "spasmwatch monitor"},
                models={model.metadata.model_id: model.metadata.version},
                clock=time.time_ns,  # flush interval in wall time: what a crash can lose
                flush_interval_s=record_flush_s,
            )
            self.recording_path = path
            rec_id = self.writer.recording_id
        self.recording_id = rec_id
        self.pipeline = DetectionPipeline(
            specs,
            model,
            detector_config=detector_config,
            calibration_s=calibration_s,
            wearer_id=wearer_id,
            recording_id=rec_id,
        )
        self._onset_thr = self.pipeline.detector_config.onset_threshold
        self._type_names = tuple(model.metadata.type_names)
        self._input_devices = [s.device for s in self.pipeline.streams.values()]
        self._reset_state()

    def _manifest_device(self, t: DeviceTarget) -> dict[str, Any]:
        d: dict[str, Any] = {"id": t.instance, "profile": t.profile.id, "name": t.name}  # type: ignore[union-attr]
        pl = self.placements.get(str(t.instance))
        if pl is not None:
            d.update(placement=pl.name, placement_muscle=pl.muscle, placement_side=pl.side)
        return d

    def placement_for(self, device: str | None) -> str | None:
        """The placement name an episode of ``device`` carries (see ``placements``)."""
        pl = self.placements.get(device) if device is not None else None
        if pl is None:
            pl = next((self.placements[d] for d in self._input_devices if d in self.placements),
                      None)  # fmt: skip
        return pl.name if pl is not None else None

    # ------------------------------------------------------------------ state

    def _reset_state(self) -> None:
        self._acq: collections.deque[SampleBlock] = collections.deque()
        self._acq_event: asyncio.Event | None = None
        self._acq_done = False
        self._pending_overflow: dict[str, Gap] = {}
        self._rec_overflow: dict[str, Gap] = {}
        self._stop_event: asyncio.Event | None = None
        self._running = False
        self._t0_ns = 0
        self._wall0 = time.monotonic()
        self._blocks = 0
        self._samples: collections.Counter[str] = collections.Counter()
        self._gaps: collections.Counter[str] = collections.Counter()
        self._missing: collections.Counter[str] = collections.Counter()
        self._dropped: collections.Counter[str] = collections.Counter({c: 0 for c in CONSUMERS})
        self._episodes: collections.Counter[str] = collections.Counter()
        self._decisions: collections.Counter[str] = collections.Counter()
        self._prompts = 0
        self._episodes_stored = 0
        self._signal_losses = 0
        self._lat = {s: _Latency() for s in MONITOR_STAGES}
        self._dev: dict[str, dict[str, Any]] = {
            t.instance: {"state": "starting", "profile": t.profile.id}  # type: ignore[union-attr,misc]
            for t in self.targets
        }
        self._last_data: dict[str, int] = {}  # device -> monitor clock at last block
        self._last_t: dict[str, int] = {}  # device -> data time of its last sample
        self._open_loss: dict[str, SignalLoss] = {}
        self._notif_seen: dict[str, int] = {}
        self._loss_updated: dict[str, int] = {}
        self._above = False
        self._last_det_line = 0
        self._last_pub = 0.0
        self._last_preview: dict[str, float] = {}
        self.committed_episode_ids: set[str] = set()
        # health
        self._disc_cause: dict[str, str] = {}  # device -> cause of its last disconnect
        self._last_loss: dict[str, dict[str, Any]] = {}  # device -> last signal loss (bus)
        self._health_changes: collections.Counter[str] = collections.Counter()
        self._health_pub: dict[str, float] = {}  # device -> wall time of last snapshot
        self._dev_info: dict[str, dict[str, Any]] = {}
        self._worn_since: dict[str, int] = {}  # device -> t_ns of its last wear change
        # (device, stream, channel) -> ((status, t_ns) of the last problem line said, whether
        # a "good again" is still owed)
        self._quality_said: dict[tuple[str, str, str], tuple[tuple[str, int] | None, bool]] = {}
        self._wear_today: dict[str, dict[str, Any]] = {}  # device -> last wear row (bus)
        self._wear_base: dict[tuple[str, dt.date], tuple[float, float]] = {}
        self._wear_sent: dict[tuple[str, dt.date], tuple[float, float]] = {}
        self._wear_rows = 0
        self._retention_runs = 0
        self._pruned = 0
        self._rec_quality: dict[str, EmgQualityMonitor] = {}
        self._store_q: asyncio.Queue[Any] | None = None
        self._rec_q: asyncio.Queue[Any] | None = None
        self._del_q: asyncio.Queue[Any] | None = None

    # ------------------------------------------------------------------ public

    @property
    def started_ns(self) -> int:
        """Monitor clock (UTC ns) when :meth:`run` started (0 before)."""
        return self._t0_ns

    @property
    def stats(self) -> MonitorStats:
        """A snapshot of the counters and latencies (:class:`MonitorStats`)."""
        now = self.clock.now_ns()
        lat: dict[str, dict[str, float]] = {}
        for name, s in self.pipeline.stats.summary().items():
            lat[name] = {k: s[k] for k in ("count", "p50_ms", "p99_ms", "mean_ms")}
        for name, s in self._lat.items():
            lat[name] = s.summary()
        dropped = dict(self._dropped)
        dropped["detector_late"] = sum(self.pipeline.front.signal.dropped_late.values())
        devices: dict[str, dict[str, Any]] = {}
        for name, ds in self.session.stats.items():
            dropped["acquisition"] += ds.dropped_blocks
            d = dict(self._dev.get(name, {}))
            d.update(
                connects=ds.connects,
                reconnects=ds.reconnects,
                decode_errors=ds.decode_errors,
                notifications=ds.notifications,
            )
            tr = self.trackers.get(name)
            if tr is not None:
                d["worn"] = tr.worn
                d["quality"] = {k: tr.quality_status(k) for k, sp in tr.specs.items()
                                if sp.kind == "emg"}  # fmt: skip
            if name in self.placements:
                d["placement"] = self.placements[name].name
            devices[name] = d
        if self.bus is not None:
            dropped["bus"] = int(self.bus.dropped)
        return MonitorStats(
            t_ns=now,
            uptime_s=(now - self._t0_ns) / _NS if self._t0_ns else 0.0,
            wall_s=time.monotonic() - self._wall0,
            blocks=self._blocks,
            samples=dict(self._samples),
            gaps=dict(self._gaps),
            missing=dict(self._missing),
            dropped=dropped,
            latency=lat,
            episodes=dict(self._episodes),
            episodes_stored=self._episodes_stored,
            prompts=self._prompts,
            decisions=dict(self._decisions),
            devices=devices,
            signal_losses=self._signal_losses,
            recording=str(self.recording_path) if self.recording_path else None,
            model_id=self.model.metadata.model_id,
            extra={
                "health_changes": dict(self._health_changes),
                "wear_rows_written": self._wear_rows,
                "retention_runs": self._retention_runs,
                "recordings_pruned": self._pruned,
            },
        )

    async def run(self, duration_s: float | None = None) -> MonitorStats:
        """Monitor until :meth:`stop` (or for ``duration_s`` seconds of the monitor's
        clock), then shut down cleanly: acquisition stopped, the pipeline flushed (an open
        episode is closed), every queued store write committed, the recording compacted.

        Returns the final :class:`MonitorStats`.
        """
        if self._running:
            raise ConfigError("Monitor.run is already running")
        self._running = True
        loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        self._acq_event = asyncio.Event()
        self._store_q = asyncio.Queue(self._cq * 100)
        self._rec_q = asyncio.Queue(self._cq)
        self._del_q = asyncio.Queue(max(8, self._cq // 16))
        self._store_exec = ThreadPoolExecutor(1, thread_name_prefix="spasmwatch-store")
        self._rec_exec = ThreadPoolExecutor(1, thread_name_prefix="spasmwatch-rec")
        self._t0_ns = self.clock.now_ns()
        self._wall0 = time.monotonic()
        if self.writer is not None:
            info = RecordingInfo(
                id=self.writer.recording_id,
                path=str(self.recording_path),
                start_ns=self.writer.start_ns,
                wearer_id=self.wearer_id,
                devices=tuple(t.instance for t in self.targets),  # type: ignore[misc]
            )
            self._store_put("recording", lambda s: s.upsert_recording(info))
        self._line(
            f"monitoring {', '.join(self._dev)} with model {self.model.metadata.model_id}; "
            f"signal-loss alert after {self.signal_loss_after_s:g} s"
            + (f"; recording to {self.recording_path}" if self.recording_path else "")
        )
        for text in await loop.run_in_executor(self._store_exec, self._init_placements):
            self._line(text)
        workers = [
            loop.create_task(self._store_loop(), name="spasmwatch-store"),
            loop.create_task(self._delivery_loop(), name="spasmwatch-delivery"),
        ]
        if self.writer is not None:
            workers.append(loop.create_task(self._record_loop(), name="spasmwatch-recorder"))
        detect = loop.create_task(self._detect_loop(), name="spasmwatch-detect")
        pump = loop.create_task(self._pump(), name="spasmwatch-acquisition")
        side = [
            loop.create_task(self._watchdog(), name="spasmwatch-watchdog"),
            loop.create_task(self._housekeeping(), name="spasmwatch-housekeeping"),
            loop.create_task(self._status_loop(), name="spasmwatch-status"),
            loop.create_task(self._health_loop(), name="spasmwatch-health"),
            loop.create_task(self._wear_loop(), name="spasmwatch-wear"),
        ]
        if self.retention_every_s is not None:
            side.append(loop.create_task(self._retention_loop(), name="spasmwatch-retention"))
        if self.bus is not None:
            side.append(loop.create_task(self._bus_listener(), name="spasmwatch-bus-listener"))
        try:
            await self.session.start()
            waiters = [loop.create_task(self._stop_event.wait())]
            if duration_s is not None:
                waiters.append(loop.create_task(self._sleep_until(duration_s)))
            waiters.append(detect)  # a crash of the detection task ends the run
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for w in waiters[:-1]:
                w.cancel()
        finally:
            await self._shutdown(pump, detect, side, workers)
        return self.stats

    async def stop(self) -> None:
        """Ask :meth:`run` to shut down (safe to call from a signal handler's callback)."""
        if self._stop_event is not None:
            self._stop_event.set()

    def request_stop(self) -> None:
        """Synchronous form of :meth:`stop` for ``loop.add_signal_handler``."""
        if self._stop_event is not None:
            self._stop_event.set()

    # ------------------------------------------------------------------ lifecycle

    async def _sleep_until(self, duration_s: float) -> None:
        end = self._t0_ns + round(duration_s * _NS)
        while True:
            left = (end - self.clock.now_ns()) / _NS
            if left <= 0:
                return
            await self.clock.sleep(min(left, 1.0))

    async def _shutdown(
        self,
        pump: asyncio.Task[None],
        detect: asyncio.Task[None],
        side: list[asyncio.Task[None]],
        workers: list[asyncio.Task[None]],
    ) -> None:
        try:
            await asyncio.shield(self.session.stop())
        except Exception:
            log.exception("spasmwatch: stopping the BLE session failed")
        for t in (pump, detect):
            with contextlib.suppress(asyncio.CancelledError):
                await t
        exc = None if detect.cancelled() else detect.exception()
        for t in side:
            t.cancel()
        for t in side:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        now = self.clock.now_ns()
        for dev in list(self._open_loss):
            self._close_loss(dev, now, still_open=True)
        try:
            self._write_wear()
            for dev in self.trackers:
                self._publish_health(dev)
        except Exception:
            log.exception("spasmwatch: final wear time / health snapshot failed")
        for q in (self._store_q, self._rec_q, self._del_q):
            if q is not None:
                await q.put(None)  # end marker: everything before it is handled first
        for t in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        loop = asyncio.get_running_loop()
        if self.writer is not None:
            try:
                w = self.writer
                for key, g in self._rec_overflow.items():  # drops after the last block
                    if key in w.keys:
                        await loop.run_in_executor(self._rec_exec, w.add_gap, key, g)
                rec = await loop.run_in_executor(self._rec_exec, w.close)
                info = RecordingInfo(
                    id=rec.id,
                    path=str(self.recording_path),
                    start_ns=min(rec.start_ns, rec.end_ns),
                    end_ns=rec.end_ns,
                    wearer_id=self.wearer_id,
                    devices=tuple(t.instance for t in self.targets),  # type: ignore[misc]
                )
                await loop.run_in_executor(
                    self._store_exec, lambda: self.store.upsert_recording(info)
                )
            except Exception:
                log.exception("spasmwatch: closing the recording failed")
        self._publish({"type": "status", **self.stats.to_dict(), "final": True})
        self._store_exec.shutdown(wait=True)
        self._rec_exec.shutdown(wait=True)
        if self._own_store:
            self.store.close()
        self._running = False
        if exc is not None:
            raise exc

    # ------------------------------------------------------------------ lines & bus

    def _hhmmss(self, t_ns: int | None = None) -> str:
        t = self.clock.now_ns() if t_ns is None else t_ns
        return dt.datetime.fromtimestamp(t / _NS, self._tz).strftime("%H:%M:%S")

    def _line(self, text: str, t_ns: int | None = None) -> None:
        line = f"{self._hhmmss(t_ns)}  {text}"
        log.info("%s", text)
        if self._on_line is not None:
            try:
                self._on_line(line)
            except Exception:
                log.exception("spasmwatch: on_line callback failed")
        else:
            with contextlib.suppress(OSError, ValueError):
                print(line, file=sys.stdout, flush=True)

    def _publish(self, event: dict[str, Any]) -> None:
        if self.bus is None:
            return
        event.setdefault("wearer_id", self.wearer_id)  # the socket shows it to its wearer only
        try:
            self.bus.publish(event)
        except Exception:
            log.exception("spasmwatch: live bus publish failed")

    # ------------------------------------------------------------------ acquisition

    def _device_row(self, dev: str, t_ns: int | None = None) -> Device:
        """The device's store row from what is known now (placement included: an upsert
        replaces the whole row)."""
        target = next(t for t in self.targets if t.instance == dev)
        d = self._dev.get(dev, {})
        info = self._dev_info.get(dev, {})
        pl = self.placements.get(dev)
        fw = info.get("firmware")
        if fw is not None and info.get("model"):
            fw = f"{fw} ({info['model']})"
        level = d.get("battery")
        return Device(
            id=dev,
            profile=target.profile.id,  # type: ignore[union-attr]
            name=str(target.name or info.get("model") or ""),
            address=d.get("address"),
            battery_pct=float(level) if level is not None else None,
            firmware=str(fw)[:100] if fw is not None else None,
            placement_muscle=pl.muscle if pl is not None else None,
            placement_side=pl.side if pl is not None else None,
            wearer_id=self.wearer_id,
            last_seen_ns=t_ns if t_ns is not None else d.get("last_seen_ns"),
        )

    def _put_device(self, dev: str, t_ns: int | None = None) -> None:
        if t_ns is not None:
            self._dev.setdefault(dev, {})["last_seen_ns"] = t_ns
        row = self._device_row(dev, t_ns)
        self._store_put("device", lambda s: s.upsert_device(row))

    def _record_meta(self, fn: Callable[[RecordingWriter], Any]) -> None:
        """Run ``fn(writer)`` in the recorder's thread (the writer is not thread-safe)."""
        if self.writer is None:
            return
        q = self._rec_q
        if q is None:
            fn(self.writer)
            return
        try:
            q.put_nowait(("meta", fn))
        except asyncio.QueueFull:
            self._dropped["recorder"] += 1

    def _on_device_event(self, ev: DeviceEvent) -> None:
        d = self._dev.setdefault(ev.device, {})
        kind = ev.kind
        dev = ev.device
        det = dict(ev.detail)
        if kind in ("scanning", "connected", "disconnected", "reconnecting", "stopped"):
            d["state"] = kind
        if kind == "connected":
            addr = det.get("address")
            if addr:
                d["address"] = str(addr)
            self._put_device(dev, ev.t_ns)
            self._line(f"{dev} connected")
        elif kind == "disconnected":
            cause = str(det.get("cause") or "disconnect")
            self._disc_cause[dev] = cause
            self._line(f"{dev} disconnected ({cause_text(cause)}); will reconnect")
        elif kind == "reconnecting":
            self._line(
                f"{dev}: reconnecting in {det.get('in_s', 0):.1f} s "
                f"(attempt {det.get('attempt', '?')})"
            )
        elif kind == "error":
            self._line(f"{dev}: {det.get('message', 'error')}")
        elif kind == "battery":
            level = det.get("level")
            if isinstance(level, int) and 0 <= level <= 100:
                changed = d.get("battery") != level
                d["battery"] = level
                if changed:
                    self._put_device(dev, ev.t_ns)
                    self._record_meta(lambda w, lv=level, t=ev.t_ns: w.add_battery(dev, lv, t))
                    self._publish_health(dev)
        elif kind in ("battery_low", "battery_critical"):
            self._health_changes[kind] += 1
            msg = det.get("message") or f"{dev}: battery {det.get('level')} %"
            self._line(("WARNING: " if kind == "battery_critical" else "") + str(msg))
            self._publish_health(dev, change={"kind": kind, **det})
        elif kind == "device_info":
            info = {k: v for k, v in det.items() if v is not None}
            self._dev_info.setdefault(dev, {}).update(info)
            self._put_device(dev)
            self._record_meta(lambda w, i=dict(info): w.set_device_info(dev, i))
            what = ", ".join(f"{k} {v}" for k, v in info.items() if k in ("model", "firmware"))
            if what:
                self._line(f"{dev}: {what}")
        elif kind == "quality":
            self._on_quality(dev, det)
        elif kind == "wear":
            self._on_wear(dev, det)
        if kind not in ("decode_error", "quality", "wear", "battery_low", "battery_critical"):
            self._publish(
                {
                    "type": "device_status",
                    "device": dev,
                    "state": d.get("state"),
                    "battery": d.get("battery"),
                    "battery_pct": d.get("battery"),
                    "profile": d.get("profile"),
                    "placement": self.placements[dev].name if dev in self.placements else None,
                    "event": kind,
                    "t_ns": ev.t_ns,
                }
            )

    def _on_quality(self, dev: str, det: dict[str, Any]) -> None:
        status, prev = det.get("status"), det.get("previous")
        chan, stream = str(det.get("channel")), str(det.get("stream"))
        self._health_changes["quality:" + str(status)] += 1
        if prev is None and status == "good":
            self._publish_health(dev)  # the first assessment: nothing to tell
            return
        kind = stream.rsplit(".", 1)[-1].upper()
        t = int(det.get("t_ns") or self.clock.now_ns())
        self._publish_health(dev, change={"kind": "quality", **det})
        # Terminal lines: a channel that flaps (mains hum coming and going) would print a
        # line every few seconds. A problem is said once per QUALITY_REPEAT_S per channel and
        # status, and "good again" only after a problem line; the bus, the store and the
        # recording still get every change.
        key = (dev, stream, chan)
        last_bad, open_ = self._quality_said.get(key, (None, False))
        if status == "good":
            if not open_:
                return
            self._quality_said[key] = (last_bad, False)
        else:
            if (
                last_bad is not None
                and last_bad[0] == status
                and t - last_bad[1] < QUALITY_REPEAT_S * _NS
            ):
                return
            self._quality_said[key] = ((str(status), t), True)
        if status == "good":
            was = _QUALITY_TEXT.get(str(prev), str(prev))
            text = f"{dev}: {kind} channel {chan} signal good again (was: {was})"
        elif status == "contact_lost":
            text = f"{dev}: electrode contact lost on {kind} channel {chan}; check the electrode"
        else:
            text = f"{dev}: {_QUALITY_TEXT.get(str(status), status)} on {kind} channel {chan}"
        self._line(text, t)

    def _on_wear(self, dev: str, det: dict[str, Any]) -> None:
        state = det.get("state")
        self._health_changes["wear:" + str(state)] += 1
        t = int(det.get("t_ns") or self.clock.now_ns())
        self._worn_since[dev] = t
        if state == "not_worn":
            why = {"acc_still": "no movement at all", "emg_off": "electrodes off the skin"}.get(
                str(det.get("reason")), str(det.get("reason"))
            )
            self._line(f"{dev}: not worn since {self._hhmmss(t)} ({why})", t)
        else:
            self._line(f"{dev}: worn again", t)
        self._publish_health(dev, change={"kind": "wear", **det})

    def _publish_health(self, dev: str, change: Mapping[str, Any] | None = None) -> None:
        """A ``{"type": "health"}`` snapshot of ``dev`` on the bus.

        The fields of :meth:`DeviceHealthTracker.snapshot` (``battery``, ``device_info``,
        ``quality``, ``worn``, ``worn_since_ns``, ``wear_today``), built from the tracker's
        cheap accessors: ``snapshot()`` itself recomputes the wear time from every block
        seen, which grows with the run; ``wear_today`` comes from the last wear-time write
        (every ``wear_every_s``) instead. ``quality[stream]["last"]`` is not included.
        """
        if self.bus is None:
            return
        tr = self.trackers.get(dev)
        d = self._dev.get(dev, {})
        snap: dict[str, Any] = {"device": dev, "battery": None, "device_info": None,
                                "quality": {}, "worn": None, "worn_since_ns": None,
                                "wear_today": self._wear_today.get(dev)}  # fmt: skip
        channels: dict[str, list[str]] = {}
        if tr is not None:
            b = tr.battery
            if b is not None:
                snap["battery"] = {"level": b.level, "t_ns": b.t_ns, "low": b.level <= 20}
            info = tr.device_info
            snap["device_info"] = info.to_dict() if info is not None else None
            for k, sp in tr.specs.items():
                if sp.kind == "emg":
                    channels[k] = list(sp.channels)
                    snap["quality"][k] = {"channels": tr.quality_status(k)}
            snap["worn"] = tr.worn
            snap["worn_since_ns"] = self._worn_since.get(dev)
        if snap["battery"] is None and d.get("battery") is not None:
            snap["battery"] = {"level": d["battery"], "t_ns": None, "low": d["battery"] <= 20}
        ev = {
            "type": "health",
            **snap,
            "state": d.get("state"),
            "profile": d.get("profile"),
            "placement": self.placements[dev].name if dev in self.placements else None,
            "channels": channels,
            "last_loss": self._last_loss.get(dev),
            "t_ns": self.clock.now_ns(),
        }
        if change is not None:
            ev["change"] = dict(change)
        self._health_pub[dev] = time.monotonic()
        self._publish(ev)

    async def _pump(self) -> None:
        """Move blocks from the BLE session into the detection queue (never blocks)."""
        assert self._acq_event is not None
        try:
            async for block in self.session:
                key = block.spec.key
                if len(self._acq) >= self._queue_size:
                    self._dropped["acquisition"] += 1
                    self._overflow(self._pending_overflow, block)
                    continue
                g = self._pending_overflow.pop(key, None)
                if g is not None:
                    block = SampleBlock(
                        block.spec,
                        block.t_ns,
                        block.data,
                        first_index=block.first_index,
                        gaps=(g, *block.gaps),
                        seq=block.seq,
                    )
                self._acq.append(block)
                self._acq_event.set()
        finally:
            self._acq_done = True
            self._acq_event.set()

    @staticmethod
    def _overflow(pending: dict[str, Gap], block: SampleBlock) -> None:
        if not block.n_samples:
            return
        key = block.spec.key
        end = int(block.t_ns[-1]) + round(block.spec.period_ns)
        prev = pending.get(key)
        if prev is None:
            pending[key] = Gap(int(block.t_ns[0]), end, block.n_samples, "overflow")
        else:
            pending[key] = Gap(prev.start_ns, end, prev.n_missing + block.n_samples, "overflow")

    # ------------------------------------------------------------------ detection

    async def _detect_loop(self) -> None:
        assert self._acq_event is not None
        while True:
            if not self._acq:
                if self._acq_done:
                    break
                self._acq_event.clear()
                await self._acq_event.wait()
                continue
            batch = list(self._acq)
            self._acq.clear()
            for block in _join(batch):
                self._process(block)
            await asyncio.sleep(0)
        out = self.pipeline.flush()
        self._handle(out.window_scores, out.updates)

    def _process(self, block: SampleBlock) -> None:
        t_start = time.perf_counter_ns()
        now = self.clock.now_ns()
        key = block.spec.key
        dev = block.spec.device
        self._blocks += 1
        self._samples[key] += block.n_samples
        for g in block.gaps:
            self._gaps[key] += 1
            self._missing[key] += g.n_missing
            if dev in self._open_loss:
                # the session states the cause of the gap that spans the loss: keep it
                if g.cause not in ("overflow", "import") and g.duration_s >= 1.0:
                    self._set_loss_cause(dev, g.cause)
            elif g.duration_s >= self.signal_loss_after_s and not self._known_loss(dev, g):
                self._retro_loss(dev, block.spec.kind, g)
        if block.n_samples:
            self._last_data[dev] = now
            self._last_t[dev] = int(block.t_ns[-1])
            if dev in self._open_loss:
                self._close_loss(dev, int(block.t_ns[0]))
            self._preview(block)
        if self._rec_q is not None and self.writer is not None:
            g = self._rec_overflow.pop(key, None)
            try:
                self._rec_q.put_nowait((block, g))
            except asyncio.QueueFull:
                if g is not None:
                    self._rec_overflow[key] = g
                self._dropped["recorder"] += 1
                self._overflow(self._rec_overflow, block)
        out = self.pipeline.update(block)
        if out.window_scores or out.updates:
            self._handle(out.window_scores, out.updates)
        self._lat["block"].add(time.perf_counter_ns() - t_start)

    def _handle(self, scores: list[Any], updates: list[EpisodeUpdate]) -> None:
        now = self.clock.now_ns()
        last_ok = None
        for ws in scores:
            if ws.has_gap or not math.isfinite(ws.p_spasm):
                continue
            last_ok = ws
            if math.isfinite(ws.intensity):
                d = self.coach.on_tone(float(ws.intensity), now)
                if d is not None:
                    self._on_decision(d)
            above = ws.p_spasm >= self._onset_thr
            if (
                self.detection_lines
                and above
                and (not self._above or ws.t_end_ns - self._last_det_line >= 10 * _NS)
            ):
                self._last_det_line = ws.t_end_ns
                typ = ""
                if len(ws.p_types) and self._type_names:
                    typ = f", looks {self._type_names[int(np.argmax(ws.p_types))]}"
                self._line(
                    f"detection: spasm probability {ws.p_spasm:.2f}{typ}, "
                    f"activity {ws.intensity:.1f}x rest",
                    ws.t_end_ns,
                )
            self._above = above
        if last_ok is not None:
            wall = time.monotonic()
            if wall - self._last_pub >= self.preview_every_s:
                self._last_pub = wall
                inten = float(last_ok.intensity) if math.isfinite(last_ok.intensity) else 1.0
                self._publish(
                    {
                        "type": "detection",
                        "t_ns": int(last_ok.t_end_ns),
                        "p_spasm": float(last_ok.p_spasm),
                        "scores": {n: float(p) for n, p in zip(self._type_names, last_ok.p_types)},
                        "intensity": inten,
                        "activity": float(min(1.0, max(0.0, math.log(max(inten, 1.0)) / 2.5))),
                    }
                )
        for u in updates:
            self._on_update(u, now)

    def _preview(self, block: SampleBlock) -> None:
        if self.bus is None:
            return
        wall = time.monotonic()
        key = block.spec.key
        if wall - self._last_preview.get(key, 0.0) < self.preview_every_s:
            return
        self._last_preview[key] = wall
        d = block.data.astype(np.float64)
        rms = float(np.sqrt(np.mean((d - d.mean(axis=0)) ** 2)))
        self._publish(
            {
                "type": "signal_preview",
                "stream": key,
                "t_ns": int(block.t_ns[-1]),
                "rms": rms,
                "units": block.spec.units,
            }
        )

    def _on_update(self, u: EpisodeUpdate, now: int) -> None:
        ep = u.episode
        if ep.placement is None:
            where = self.placement_for(ep.device)
            if where is not None:
                ep = dataclasses.replace(ep, placement=where)
        self._episodes[u.kind] += 1
        if u.kind == "retract":
            eid = ep.id

            def retract(s: EventStore) -> None:
                with contextlib.suppress(NotFoundError):
                    s.delete_episode(eid)
                self.committed_episode_ids.discard(eid)

            self._store_put("retract", retract)
            self._line(f"episode withdrawn (shorter than the minimum), id {eid[:8]}", u.t_ns)
        else:

            def upsert(s: EventStore) -> None:
                s.upsert_episode(ep)
                self._episodes_stored += 1
                self.committed_episode_ids.add(ep.id)
                log.info("stored episode %s (%s)", ep.id, u.kind)

            self._store_put("episode", upsert)
            dur = (ep.end_ns - ep.start_ns) / _NS
            if u.kind == "onset":
                self._line(
                    f"EPISODE started at {self._hhmmss(ep.start_ns)}: {ep.type}, "
                    f"{ep.severity} (confidence {ep.confidence:.2f}), id {ep.id[:8]}",
                    u.t_ns,
                )
            elif u.kind == "final":
                self._line(
                    f"episode ended: {ep.type}, {ep.severity}, {dur:.1f} s, peak "
                    f"{ep.peak_intensity:.1f}x rest, id {ep.id[:8]}",
                    u.t_ns,
                )
        self._publish(
            {
                "type": "episode",
                "kind": u.kind,
                "episode": ep.to_dict(),
                "alarm_ns": u.alarm_ns,
            }
        )
        if u.kind == "onset" and not u.continuation:
            self._on_decision(self.coach.on_episode_onset(ep, now))

    def _on_decision(self, d: Decision) -> None:
        self._decisions[d.reason] += 1
        if d.prompt is None:
            if d.reason not in ("duplicate",):
                log.info("coach: no prompt (%s) %s", d.reason, d.detail)
            return
        p = d.prompt
        self._prompts += 1
        ex = get_exercise(p.exercise_id)
        self._store_put("prompt", lambda s: s.upsert_prompt(p))
        inhale = next((ph.duration_s for ph in ex.cycle if ph.name == "inhale"), None)
        exhale = next((ph.duration_s for ph in ex.cycle if ph.name == "exhale"), None)
        self._publish(
            {
                "type": "prompt",
                "prompt_id": p.id,
                "exercise": ex.id,
                "inhale_s": inhale,
                "exhale_s": exhale,
                "reason": p.reason,
                "episode_id": p.episode_id,
                "message": prompt_message(p, ex, self._tz),
            }
        )
        if self.deliveries and self._del_q is not None:
            try:
                self._del_q.put_nowait((p, ex))
            except asyncio.QueueFull:
                self._dropped["delivery"] += 1

    # ------------------------------------------------------------------ signal loss

    def _retro_loss(self, dev: str, kind: str, g: Gap) -> None:
        """A gap longer than the alert time that the watchdog did not see (the loop was
        busy or the data arrived late): store it as a signal loss after the fact."""
        loss = SignalLoss(
            id=new_id(),
            device=dev,
            stream=kind,
            start_ns=g.start_ns,
            end_ns=g.end_ns,
            cause=g.cause,
            wearer_id=self.wearer_id,
            recording_id=self.recording_id,
        )
        self._store_put("signal_loss", lambda s: s.upsert_signal_loss(loss))
        self._signal_losses += 1
        self._note_loss(loss, open_=False)
        self._line(
            f"{dev}: {g.duration_s:.0f} s of {kind} data missing from {self._hhmmss(g.start_ns)} "
            f"({cause_text(g.cause)})",
            g.end_ns,
        )

    def _known_loss(self, dev: str, g: Gap) -> bool:
        """Whether ``g`` is the loss already reported for ``dev`` (the other streams of a
        device that came back carry the same gap after its first stream closed the loss)."""
        last = self._last_loss.get(dev)
        if last is None:
            return False
        tol = 2 * _NS
        return g.start_ns < last["end_ns"] + tol and g.end_ns > last["start_ns"] - tol

    def _note_loss(self, loss: SignalLoss, *, open_: bool) -> None:
        self._last_loss[loss.device] = {
            "start_ns": loss.start_ns,
            "end_ns": loss.end_ns,
            "cause": loss.cause,
            "cause_text": cause_text(loss.cause),
            "stream": loss.stream,
            "open": open_,
        }
        self._publish_health(loss.device)

    def _set_loss_cause(self, dev: str, cause: str) -> None:
        old = self._open_loss[dev]
        if old.cause == cause:
            return
        self._open_loss[dev] = dataclasses.replace(old, cause=cause)

    def _check_losses(self, now: int) -> None:
        after = round(self.signal_loss_after_s * _NS)
        stats = self.session.stats
        for dev, info in self._dev.items():
            # Notifications counted by the session (synchronously, on arrival) also prove
            # the device alive: blocks may still wait in a queue when the loop was busy.
            n = stats[dev].notifications if dev in stats else 0
            if n != self._notif_seen.get(dev, 0):
                self._notif_seen[dev] = n
                if dev not in self._open_loss:
                    self._last_data[dev] = max(self._last_data.get(dev, 0), now)
            last = self._last_data.get(dev, self._t0_ns)
            if dev in self._open_loss:
                if now - self._loss_updated.get(dev, 0) >= 10 * _NS:
                    self._extend_loss(dev, now)
                continue
            if now - last < after:
                continue
            state = info.get("state")
            if state in ("disconnected", "reconnecting", "scanning"):
                cause = self._disc_cause.get(dev, "disconnect")
            else:  # connected but silent: what the health tracker knows, else unknown
                tr = self.trackers.get(dev)
                cause = "unknown"
                if tr is not None and tr.worn is False:
                    cause = "not_worn"
                elif tr is not None and tr.contact_lost:
                    cause = "bad_contact"
            start = self._last_t.get(dev, last)
            loss = SignalLoss(
                id=new_id(),
                device=dev,
                stream="*",
                start_ns=min(start, now),
                end_ns=now,
                cause=cause,
                wearer_id=self.wearer_id,
                recording_id=self.recording_id,
            )
            self._open_loss[dev] = loss
            self._loss_updated[dev] = now
            self._signal_losses += 1
            self._store_put("signal_loss", lambda s, x=loss: s.upsert_signal_loss(x))
            self._publish({"type": "signal_loss", "open": True, **loss.to_dict(),
                           "cause_text": cause_text(cause)})  # fmt: skip
            self._note_loss(loss, open_=True)
            how = (
                "disconnected"
                if state in ("disconnected", "reconnecting", "scanning")
                else ("connected but silent")
            )
            self._line(
                f"ALERT: no signal from {dev} for {(now - loss.start_ns) / _NS:.0f} s "
                f"({how}; cause: {cause_text(cause)}); "
                "check that it is worn, switched on and in range"
            )

    def _extend_loss(self, dev: str, now: int) -> None:
        old = self._open_loss[dev]
        new = SignalLoss(
            old.id, old.device, old.stream, old.start_ns, max(now, old.start_ns),
            old.cause, old.wearer_id, old.recording_id,
        )  # fmt: skip
        self._open_loss[dev] = new
        self._loss_updated[dev] = now
        self._store_put("signal_loss", lambda s: s.upsert_signal_loss(new))

    def _close_loss(self, dev: str, end_ns: int, *, still_open: bool = False) -> None:
        old = self._open_loss.pop(dev)
        new = SignalLoss(
            old.id, old.device, old.stream, old.start_ns, max(end_ns, old.start_ns),
            old.cause, old.wearer_id, old.recording_id,
        )  # fmt: skip
        self._store_put("signal_loss", lambda s: s.upsert_signal_loss(new))
        self._publish({"type": "signal_loss", "open": False, **new.to_dict(),
                       "cause_text": cause_text(new.cause)})  # fmt: skip
        self._note_loss(new, open_=still_open)
        if not still_open:
            self._line(
                f"{dev}: signal back after {new.duration_s:.0f} s (cause: {cause_text(new.cause)})"
            )

    async def _watchdog(self) -> None:
        step = min(1.0, self.signal_loss_after_s / 4)
        while True:
            await self.clock.sleep(step)
            self._check_losses(self.clock.now_ns())

    # ------------------------------------------------------------------ health, wear, retention

    def _init_placements(self) -> list[str]:
        """Store thread, at run start: record the requested placements (from the start of
        the run); load every device's current placement. Returns lines to show."""
        lines = []
        t0 = self._t0_ns
        for dev, (muscle, side) in self._placement_req.items():
            cur = self.store.placement_at(dev, t0)
            if cur is not None and (cur.muscle, cur.side) == (muscle, side):
                continue  # already there: no new interval
            try:
                self.store.set_placement(dev, muscle, side, t0, wearer_id=self.wearer_id)
            except StoreError as exc:
                lines.append(f"{dev}: placement not stored: {exc}")
        for dev in self._dev:
            pl = self.store.placement_at(dev, t0)
            if pl is not None:
                self.placements[dev] = pl
                lines.append(f"{dev} placed on {pl.name}")
            else:
                self.placements.pop(dev, None)
        return lines

    async def _health_loop(self) -> None:
        """Periodic health snapshots on the bus (wall clock, like the status)."""
        if self.bus is None or not self.trackers:
            return
        while True:
            await asyncio.sleep(min(1.0, self.health_every_s))
            now = time.monotonic()
            for dev in self.trackers:
                if now - self._health_pub.get(dev, 0.0) >= self.health_every_s:
                    self._publish_health(dev)

    async def _wear_loop(self) -> None:
        if not self.trackers:
            return
        while True:
            await self.clock.sleep(self.wear_every_s)
            self._write_wear()

    def _write_wear(self) -> None:
        """Wear time of this run per device and local day -> the store.

        The store's row for a day is set to what it held when this run first wrote that day
        plus this run's total, so a later correction of the tracker (a not-worn decision
        dates back to the start of the stillness) lowers it again and a second run on the
        same day adds to the first one."""
        for dev, tr in self.trackers.items():
            if (
                dev in self._last_t
                and self._dev.get(dev, {}).get("last_seen_ns") != self._last_t[dev]
            ):
                self._put_device(dev, self._last_t[dev])  # last seen, battery, firmware
            days = tr.wear_days()
            if days:
                last = days[-1]
                self._wear_today[dev] = {
                    "date": last.date.isoformat(),
                    "worn_s": round(last.worn_s, 3),
                    "usable_s": round(last.usable_s, 3),
                    "recorded_s": round(last.recorded_s, 3),
                }
            for day in days:
                key = (dev, day.date)
                worn = min(day.worn_s, 90_000.0)
                usable = min(day.usable_s, worn)
                if self._wear_sent.get(key) == (worn, usable):
                    continue
                self._wear_sent[key] = (worn, usable)

                def put(
                    s: EventStore,
                    key: tuple[str, dt.date] = key,
                    worn: float = worn,
                    usable: float = usable,
                ) -> None:
                    dev_, date = key
                    if key not in self._wear_base:
                        rows = s.wear_time(self.wearer_id, date, date, device=dev_)
                        base = (rows[0].worn_s, rows[0].usable_s) if rows else (0.0, 0.0)
                        self._wear_base[key] = base
                    bw, bu = self._wear_base[key]
                    w_ = min(bw + worn, 90_000.0)
                    s.set_wear_time(WearTime(self.wearer_id, date, dev_, w_, min(bu + usable, w_)))
                    self._wear_rows += 1

                self._store_put("wear_time", put)

    async def _retention_loop(self) -> None:
        """Prune raw recordings past the retention period: at start, then every
        ``retention_every_s`` (a day) of the monitor's clock."""
        from spasmwatch.store._ownership import apply_retention

        assert self.retention_every_s is not None
        loop = asyncio.get_running_loop()
        while True:
            now = self.clock.now_ns()
            try:
                rep = await loop.run_in_executor(
                    self._store_exec,
                    lambda now=now: apply_retention(self.store, self.data_dir, now_ns=now),
                )
            except Exception as exc:  # a bad setting must not stop monitoring
                self._line(f"retention not applied: {exc}")
                rep = None
            self._retention_runs += 1
            if rep is not None:
                self._pruned += len(rep.pruned)
                if rep.pruned:
                    self._line(
                        f"retention: removed {len(rep.pruned)} raw recording(s) older than "
                        f"{rep.older_than_days:g} days ({rep.bytes / 1e6:.1f} MB); episodes, "
                        "labels and wear time are kept"
                    )
            await self.clock.sleep(self.retention_every_s)

    # ------------------------------------------------------------------ housekeeping

    async def _housekeeping(self) -> None:
        n = 0
        while True:
            await self.clock.sleep(self.housekeeping_every_s)
            now = self.clock.now_ns()
            for p in self.coach.tick(now):
                pid, t = p.id, int(p.outcome_t_ns or now)

                def ignore(s: EventStore, pid: str = pid, t: int = t) -> None:
                    if s.get_prompt(pid).outcome == "pending":  # the page may have answered
                        s.set_prompt_outcome(pid, "ignored", t)

                self._store_put("prompt_outcome", ignore)
                self._publish(
                    {"type": "prompt_outcome", "prompt_id": pid, "outcome": "ignored",
                     "source": "monitor"}
                )  # fmt: skip
            n += 1
            if n % 5 == 0:
                self._store_put(
                    "followups",
                    lambda s, now=now: fill_prompt_followups(s, now, wearer_id=self.wearer_id),
                )

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(self.status_every_s)
            self._publish({"type": "status", **self.stats.to_dict()})

    async def _bus_listener(self) -> None:
        sub = self.bus.subscribe()
        try:
            async for ev in sub:
                if ev.get("type") != "prompt_outcome" or ev.get("source") == "monitor":
                    continue
                outcome, pid = ev.get("outcome"), ev.get("prompt_id")
                if outcome in ("done", "dismissed", "snoozed") and isinstance(pid, str):
                    with contextlib.suppress(NotFoundError, ConfigError):
                        self.coach.respond(pid, outcome, self.clock.now_ns())
        finally:
            sub.close()

    # ------------------------------------------------------------------ consumers

    def _store_put(self, what: str, fn: Callable[[EventStore], Any]) -> None:
        q = self._store_q
        if q is None:  # not running: write now (construction-time index entries)
            fn(self.store)
            return
        try:
            q.put_nowait((what, fn))
        except asyncio.QueueFull:
            self._dropped["store"] += 1
            log.error("spasmwatch: store queue full, dropped a %s write", what)

    def _apply_store(self, items: list[tuple[str, Callable[[EventStore], Any]]]) -> None:
        for what, fn in items:
            t0 = time.perf_counter_ns()
            try:
                fn(self.store)
            except StoreError as exc:
                log.error("spasmwatch: store write (%s) refused: %s", what, exc)
            except Exception:
                log.exception("spasmwatch: store write (%s) failed", what)
            self._lat["store"].add(time.perf_counter_ns() - t0)

    async def _store_loop(self) -> None:
        q = self._store_q
        assert q is not None
        loop = asyncio.get_running_loop()
        done = False
        while not done:
            items = [await q.get()]
            while not q.empty() and len(items) < 256:
                items.append(q.get_nowait())
            if items[-1] is None or None in items:
                done = True
                items = [i for i in items if i is not None]
            if items:
                await loop.run_in_executor(self._store_exec, self._apply_store, items)

    def _write_blocks(self, items: list[tuple[Any, Any]]) -> None:
        """Recorder thread: write blocks (and their EMG quality), or run metadata calls."""
        w = self.writer
        assert w is not None
        t0 = time.perf_counter_ns()
        for block, gap in items:
            if isinstance(block, str):  # ("meta", fn): battery, device info
                try:
                    gap(w)
                except Exception:
                    log.exception("spasmwatch: recording metadata failed")
                continue
            try:
                if gap is not None and block.spec.key in w.keys:
                    w.add_gap(block.spec.key, gap)
                w.write(block)
                if block.spec.kind == "emg" and self.trackers:
                    self._record_quality(w, block)
            except Exception:
                log.exception("spasmwatch: recording a %s block failed", block.spec.key)
        self._lat["record"].add(time.perf_counter_ns() - t0)

    def _record_quality(self, w: RecordingWriter, block: SampleBlock) -> None:
        """Per-window EMG quality of the recorded samples -> ``writer.add_quality``.

        The same assessment (same settings) as the device's health tracker, run on the
        blocks the recorder wrote, in the recorder's thread: the manifest's quality then
        describes exactly the stored samples (windows restart after every gap)."""
        key = block.spec.key
        mon = self._rec_quality.get(key)
        if mon is None:
            qkw = dict(self.health_options.get("quality") or {})
            mon = self._rec_quality[key] = EmgQualityMonitor(block.spec, **qkw)
        for r in mon.update(block):
            w.add_quality(key, r)

    async def _record_loop(self) -> None:
        q = self._rec_q
        w = self.writer
        assert q is not None and w is not None
        loop = asyncio.get_running_loop()
        done = False
        while not done:
            try:
                first = await asyncio.wait_for(q.get(), timeout=1.0)
            except TimeoutError:  # nothing came: still flush what is buffered
                await loop.run_in_executor(self._rec_exec, w.flush)
                continue
            items = [first]
            while not q.empty() and len(items) < 512:
                items.append(q.get_nowait())
            if None in items:
                done = True
                items = [i for i in items if i is not None]
            if items:
                await loop.run_in_executor(self._rec_exec, self._write_blocks, items)

    async def _delivery_loop(self) -> None:
        q = self._del_q
        assert q is not None
        while True:
            item = await q.get()
            if item is None:
                return
            prompt, ex = item
            try:
                await asyncio.to_thread(deliver_all, self.deliveries, prompt, ex)
            except Exception:
                log.exception("spasmwatch: prompt delivery failed")
