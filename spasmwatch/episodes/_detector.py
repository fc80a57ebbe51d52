"""Window probabilities -> spasm episodes: a streaming hysteresis state machine.

The detector reads one score per analysis window (the window's end time, the spasm
probability, the type probabilities, the intensity relative to the wearer's baseline and
a gap flag) and emits :class:`EpisodeUpdate` values: an ``onset`` as soon as an episode is
confirmed, optional periodic ``update``\\ s, and a ``final`` when it is over, or a
``retract`` when it turned out shorter than the minimum duration.

Rules (also in ``docs/evaluation-method.md``)
---------------------------------------------
* A window *counts* when it is usable: no gap flag, finite probability, and not more than
  ``gap_factor * hop_s`` after the previous window (a larger step is a gap in the window
  sequence). A gap ends an open episode at its last active window (never merged across).
* **Onset.** ``p >= onset_threshold`` on ``confirm_windows`` consecutive usable windows
  confirms an episode. Its onset update is emitted at the confirming window; that window's
  end time is the *alarm time* (``alarm_ns``, data time, before any processing delay).
* **Corroborated onset** (optional, off by default). With ``early_confirm_windows`` set,
  fewer windows suffice when the muscle activity corroborates them: ``early_confirm_windows``
  consecutive windows with ``p >= onset_threshold`` *and* intensity
  ``>= early_confirm_intensity`` (x the wearer's rest) confirm at once. A movement
  transient that lifts ``p`` while the muscle stays at its rest level still needs the full
  ``confirm_windows``. With ``early_confirm_type_p`` (type -> minimum probability), each
  early-confirming window must also look like one of those types (``p_type >=`` its
  minimum for at least one of them): a clonic onset, say, whose rhythmic bursts voluntary
  contractions do not have.
* **Start and end.** An episode is the union of the spans of the windows it covers: it
  starts at the *start* of its first above-onset window (``t_end - window_s``, but never
  before the end of the previous final episode) and ends at the *end* of its last window
  with ``p >= offset_threshold``. So the start is the
  earliest sample that contributed to the detection: it can lie up to one window length
  before the physiological onset, and durations are overestimated by up to ``window_s``.
* **Hysteresis.** Once on, the episode continues while ``p >= offset_threshold``. When p
  drops below, the episode waits ``merge_gap_s``: a window with ``p >= onset_threshold``
  ending within ``merge_gap_s`` of the last active window resumes the same episode (same
  id, no new onset); otherwise it is closed.
* **Minimum duration.** A closed episode shorter than ``min_duration_s`` is retracted
  (``kind="retract"``, same id as its onset) instead of finalised. Onsets are therefore
  early (``confirm_windows`` windows) and the retraction rate is reported by the
  evaluation.
* **Refractory.** After a final episode ending at ``E``, no new episode can start on a
  window ending before ``E + refractory_s``.
* **Maximum length.** An episode longer than ``max_episode_s`` is finalised and a
  continuation starts at once (its onset carries ``continuation=True``: not a new alarm).
* **Type** = argmax of the mean type probabilities over the episode's windows (classes
  outside :data:`~spasmwatch.episodes.EPISODE_TYPES` map to ``"unknown"``).
  **Confidence** = mean ``p`` over the episode's windows. **Peak intensity** = max
  intensity (x baseline). **Severity** from the peak intensity: ``mild`` below
  ``severity_cutoffs[0]`` (default 2x baseline), ``moderate`` below ``severity_cutoffs[1]``
  (4x), else ``severe`` (a project convention; the literature gives no cut-offs).

The batch form :func:`detect_updates` / :func:`detect_episodes` runs this same machine over
whole arrays, so chunked and whole processing give identical episodes.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from spasmwatch.episodes._types import EPISODE_TYPES, Episode
from spasmwatch.errors import ConfigError, SignalError

__all__ = [
    "UPDATE_KINDS",
    "DetectorConfig",
    "EpisodeDetector",
    "EpisodeUpdate",
    "detect_episodes",
    "detect_updates",
]

UPDATE_KINDS = ("onset", "update", "final", "retract")
_NS = 1_000_000_000
_ID_NAMESPACE = uuid.UUID("5b0c6a2e-58b5-4c5e-9a53-2f1c8d3e7a10")


def _num(name: str, v: object, *, lo: float | None = None, strict: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
        raise ConfigError(f"DetectorConfig.{name} must be a number (got {v!r})")
    f = float(v)
    if not math.isfinite(f):
        raise ConfigError(f"DetectorConfig.{name} must be finite (got {v!r})")
    if lo is not None and (f <= lo if strict else f < lo):
        raise ConfigError(f"DetectorConfig.{name} must be {'>' if strict else '>='} {lo} (got {f})")
    return f


def _prob(name: str, v: object) -> float:
    f = _num(name, v, lo=0)
    if f > 1:
        raise ConfigError(f"DetectorConfig.{name} must be in [0, 1] (got {f})")
    return f


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    """Settings of :class:`EpisodeDetector` (all times in s, probabilities in [0, 1]).

    Parameters
    ----------
    window_s, hop_s : float
        The analysis window length and hop of the scores (from the model metadata).
    onset_threshold, offset_threshold : float
        Hysteresis thresholds on ``p_spasm``; ``offset_threshold <= onset_threshold``.
    confirm_windows : int
        Consecutive windows with ``p >= onset_threshold`` needed to emit an onset (>= 1).
    early_confirm_windows : int or None
        Fewer consecutive windows (>= 1, < ``confirm_windows``) that confirm an onset when
        each of them also has intensity ``>= early_confirm_intensity``; None: off.
    early_confirm_intensity : float
        Intensity (x the wearer's rest, >= 0; 0: no requirement) every early-confirming
        window needs.
    early_confirm_type_p : tuple of (str, float)
        ``(type, minimum probability)`` pairs (a mapping is accepted): an early-confirming
        window also needs ``p_type >= minimum`` for at least one listed type; empty: any
        type. Types must be in ``class_names``.
    min_duration_s : float
        Episodes shorter than this are retracted.
    merge_gap_s : float
        Below-offset stretch (s) after which an episode closes; a re-onset within it
        continues the episode.
    refractory_s : float
        Dead time after a final episode's end before a new one may start.
    max_episode_s : float
        Longer episodes are split.
    update_every_s : float or None
        Emit an ``update`` this often while an episode is on (None: never).
    severity_cutoffs : (float, float)
        Peak intensity (x baseline) from which an episode is moderate / severe.
    class_names : tuple of str
        Column names of the type probabilities.
    gap_factor : float
        A step between consecutive window ends above ``gap_factor * hop_s`` is a gap.
    """

    window_s: float = 2.0
    hop_s: float = 0.25
    onset_threshold: float = 0.6
    offset_threshold: float = 0.4
    confirm_windows: int = 2
    early_confirm_windows: int | None = None
    early_confirm_intensity: float = 2.0
    early_confirm_type_p: tuple[tuple[str, float], ...] = ()
    min_duration_s: float = 2.5
    merge_gap_s: float = 2.0
    refractory_s: float = 0.0
    max_episode_s: float = 300.0
    update_every_s: float | None = None
    severity_cutoffs: tuple[float, float] = (2.0, 4.0)
    class_names: tuple[str, ...] = ("tonic", "clonic", "mixed", "myoclonic")
    gap_factor: float = 1.5

    def __post_init__(self) -> None:
        s = object.__setattr__
        s(self, "window_s", _num("window_s", self.window_s, lo=0, strict=True))
        s(self, "hop_s", _num("hop_s", self.hop_s, lo=0, strict=True))
        if self.hop_s > self.window_s:
            raise ConfigError(
                f"DetectorConfig.hop_s ({self.hop_s}) must be <= window_s ({self.window_s})"
            )
        for name in ("onset_threshold", "offset_threshold"):
            s(self, name, _prob(name, getattr(self, name)))
        if self.offset_threshold > self.onset_threshold:
            raise ConfigError(
                f"DetectorConfig.offset_threshold ({self.offset_threshold}) must be <= "
                f"onset_threshold ({self.onset_threshold})"
            )
        cw = self.confirm_windows
        if isinstance(cw, bool) or not isinstance(cw, int | np.integer) or cw < 1:
            raise ConfigError(f"DetectorConfig.confirm_windows must be an int >= 1 (got {cw!r})")
        s(self, "confirm_windows", int(cw))
        ew = self.early_confirm_windows
        if ew is not None:
            if isinstance(ew, bool) or not isinstance(ew, int | np.integer) or not 1 <= ew < cw:
                raise ConfigError(
                    "DetectorConfig.early_confirm_windows must be None or an int >= 1 and < "
                    f"confirm_windows ({cw}) (got {ew!r})"
                )
            s(self, "early_confirm_windows", int(ew))
        s(
            self,
            "early_confirm_intensity",
            _num("early_confirm_intensity", self.early_confirm_intensity, lo=0),
        )
        for name in ("min_duration_s", "merge_gap_s", "refractory_s"):
            s(self, name, _num(name, getattr(self, name), lo=0))
        s(self, "max_episode_s", _num("max_episode_s", self.max_episode_s, lo=0, strict=True))
        if self.max_episode_s < 2 * self.window_s:
            raise ConfigError(
                f"DetectorConfig.max_episode_s ({self.max_episode_s}) must be >= 2 * window_s"
            )
        if self.update_every_s is not None:
            s(
                self,
                "update_every_s",
                _num("update_every_s", self.update_every_s, lo=0, strict=True),
            )
        cut = tuple(self.severity_cutoffs)
        if len(cut) != 2:
            raise ConfigError(f"DetectorConfig.severity_cutoffs must be 2 numbers (got {cut!r})")
        c0, c1 = (_num("severity_cutoffs", c, lo=0) for c in cut)
        if c1 < c0:
            raise ConfigError(f"DetectorConfig.severity_cutoffs must be ascending (got {cut!r})")
        s(self, "severity_cutoffs", (c0, c1))
        names = tuple(self.class_names)
        if not names or not all(isinstance(n, str) and n for n in names):
            raise ConfigError(f"DetectorConfig.class_names must be non-empty names (got {names})")
        s(self, "class_names", names)
        tp = self.early_confirm_type_p
        pairs = list(tp.items()) if isinstance(tp, Mapping) else list(tp)
        checked = []
        for pair in pairs:
            if not (isinstance(pair, tuple | list) and len(pair) == 2 and pair[0] in names):
                raise ConfigError(
                    "DetectorConfig.early_confirm_type_p must be (type, probability) pairs "
                    f"with types from class_names {names} (got {tp!r})"
                )
            checked.append((str(pair[0]), _prob(f"early_confirm_type_p[{pair[0]}]", pair[1])))
        s(self, "early_confirm_type_p", tuple(sorted(checked)))
        g = _num("gap_factor", self.gap_factor, lo=1)
        s(self, "gap_factor", g)

    @classmethod
    def from_metadata(cls, metadata: Any, **overrides: Any) -> DetectorConfig:
        """Take window, hop, thresholds and type names from a model's ``ModelMetadata``."""
        kw: dict[str, Any] = {
            "window_s": metadata.window_s,
            "hop_s": metadata.hop_s,
            "onset_threshold": metadata.thresholds["onset"],
            "offset_threshold": metadata.thresholds["offset"],
            "class_names": tuple(metadata.type_names),
        }
        kw.update(overrides)
        return cls(**kw)

    def severity(self, peak_intensity: float) -> str:
        """``"mild"``, ``"moderate"`` or ``"severe"`` for a peak intensity (x baseline)."""
        if not peak_intensity >= self.severity_cutoffs[0]:  # NaN -> mild
            return "mild"
        return "moderate" if peak_intensity < self.severity_cutoffs[1] else "severe"


@dataclass(frozen=True, slots=True)
class EpisodeUpdate:
    """Something the detector decided.

    Attributes
    ----------
    kind : str
        ``"onset"`` (new episode confirmed; ``episode.final`` is False), ``"update"``
        (periodic, still on), ``"final"`` (closed; ``episode.final`` is True) or
        ``"retract"`` (the episode with this id ended shorter than the minimum duration:
        withdraw its onset).
    episode : Episode
        The episode as known at ``t_ns``.
    t_ns : int
        Data time of the decision: end time of the window that caused it (or the last
        window seen, for :meth:`EpisodeDetector.flush`).
    alarm_ns : int
        When the episode's onset was emitted (data time); the latency reference.
    continuation : bool
        True for the onset of a continuation after a split at ``max_episode_s``.
    """

    kind: str
    episode: Episode
    t_ns: int
    alarm_ns: int
    continuation: bool = False

    def __post_init__(self) -> None:
        if self.kind not in UPDATE_KINDS:
            raise ConfigError(
                f"EpisodeUpdate.kind must be one of {UPDATE_KINDS} (got {self.kind!r})"
            )


class _Open:
    """Mutable accumulators of the episode being built."""

    __slots__ = (
        "alarm_ns",
        "cont",
        "id",
        "last_emit",
        "last_end",
        "n",
        "peak",
        "start_ns",
        "sum_p",
        "sum_types",
        "tail_n",
        "tail_peak",
        "tail_sum_p",
        "tail_types",
    )

    def __init__(self, start_ns: int, n_types: int) -> None:
        self.start_ns = start_ns
        self.id = ""
        self.alarm_ns = 0
        self.cont = False
        self.last_emit = 0
        self.last_end = 0
        self.n = 0
        self.sum_p = 0.0
        self.sum_types = np.zeros(n_types)
        self.peak = float("nan")
        self.tail_n = 0
        self.tail_sum_p = 0.0
        self.tail_types = np.zeros(n_types)
        self.tail_peak = float("nan")

    def add(self, p: float, types: np.ndarray, inten: float) -> None:
        self.n += 1
        self.sum_p += p
        self.sum_types += types
        if not self.peak >= inten:  # handles NaN on both sides
            self.peak = inten if math.isfinite(inten) else self.peak

    def add_tail(self, p: float, types: np.ndarray, inten: float) -> None:
        self.tail_n += 1
        self.tail_sum_p += p
        self.tail_types += types
        if not self.tail_peak >= inten:
            self.tail_peak = inten if math.isfinite(inten) else self.tail_peak

    def absorb_tail(self) -> None:
        self.n += self.tail_n
        self.sum_p += self.tail_sum_p
        self.sum_types += self.tail_types
        if math.isfinite(self.tail_peak) and not self.peak >= self.tail_peak:
            self.peak = self.tail_peak
        self.drop_tail()

    def drop_tail(self) -> None:
        self.tail_n = 0
        self.tail_sum_p = 0.0
        self.tail_types[:] = 0.0
        self.tail_peak = float("nan")


_IDLE, _PENDING, _ACTIVE, _CLOSING = range(4)


class EpisodeDetector:
    """Streaming episode detector over window scores (see the module notes for the rules).

    Parameters
    ----------
    config : DetectorConfig, optional
        Thresholds and timing; defaults to ``DetectorConfig()``.
    wearer_id : str
        Written into every episode.
    model_id, device, placement, recording_id : str or None
        Written into every episode.
    source : str
        Episode source (``"auto"`` for a model; baselines use ``"auto"`` too and set
        ``model_id`` to the baseline's name).

    Notes
    -----
    Episode ids are deterministic (UUID5 of wearer, model, recording and start time), so the
    streaming and batch forms give equal episodes, and an onset and its final share an id.
    """

    def __init__(
        self,
        config: DetectorConfig | None = None,
        *,
        wearer_id: str = "default",
        model_id: str | None = None,
        device: str | None = None,
        placement: str | None = None,
        recording_id: str | None = None,
        source: str = "auto",
    ) -> None:
        self.config = config or DetectorConfig()
        self._ctx = {
            "wearer_id": wearer_id,
            "model_id": model_id,
            "device": device,
            "placement": placement,
            "recording_id": recording_id,
            "source": source,
        }
        # validate the context once, early, with the Episode's own messages
        Episode(id="x", start_ns=0, end_ns=0, **self._ctx)
        self._type_names = tuple(
            n if n in EPISODE_TYPES else "unknown" for n in self.config.class_names
        )
        tp = self.config.early_confirm_type_p
        self._early_idx = np.array([self.config.class_names.index(n) for n, _ in tp], np.int64)
        self._early_min = np.array([v for _, v in tp], np.float64)
        self.reset()

    def reset(self) -> None:
        """Forget all state: the next window is treated as the first of a stream."""
        self._state = _IDLE
        self._ep: _Open | None = None
        self._streak = 0
        self._corroborated = 0
        self._last_t: int | None = None
        self._refractory_until: int | None = None
        self._prev_end: int | None = None

    # ------------------------------------------------------------------ helpers

    def _to_idle(self) -> None:
        """No episode open or pending: clear it and the onset counters."""
        self._state = _IDLE
        self._ep = None
        self._streak = 0
        self._corroborated = 0

    @property
    def is_active(self) -> bool:
        """True while an episode's onset has been emitted and it is not yet closed."""
        return self._state in (_ACTIVE, _CLOSING)

    def _episode(self, ep: _Open, final: bool) -> Episode:
        c = self.config
        k = len(c.class_names)
        typ = "unknown"
        if ep.n > 0 and k > 0 and np.any(ep.sum_types > 0):
            typ = self._type_names[int(np.argmax(ep.sum_types))]
        peak = ep.peak if math.isfinite(ep.peak) else 0.0
        conf = min(1.0, max(0.0, ep.sum_p / ep.n)) if ep.n else 0.0
        return Episode(
            id=ep.id,
            start_ns=ep.start_ns,
            end_ns=max(ep.last_end, ep.start_ns),
            type=typ,
            peak_intensity=max(0.0, peak),
            severity=c.severity(peak),
            confidence=conf,
            final=final,
            **self._ctx,
        )

    def _new_id(self, start_ns: int) -> str:
        key = (
            "|".join(str(self._ctx[k]) for k in ("wearer_id", "model_id", "recording_id"))
            + f"|{start_ns}"
        )
        return str(uuid.uuid5(_ID_NAMESPACE, key))

    def _close(self, t_ns: int) -> list[EpisodeUpdate]:
        """Close the open (active/closing) episode at its last active window."""
        ep = self._ep
        assert ep is not None
        ep.drop_tail()
        self._to_idle()
        e = self._episode(ep, final=True)
        if (ep.last_end - ep.start_ns) < round(self.config.min_duration_s * _NS):
            return [EpisodeUpdate("retract", e, t_ns, ep.alarm_ns, ep.cont)]
        self._refractory_until = ep.last_end + round(self.config.refractory_s * _NS)
        self._prev_end = ep.last_end
        return [EpisodeUpdate("final", e, t_ns, ep.alarm_ns, ep.cont)]

    # ------------------------------------------------------------------ one window

    def _step(
        self, t: int, p: float, types: np.ndarray, inten: float, gap: bool
    ) -> list[EpisodeUpdate]:
        c = self.config
        out: list[EpisodeUpdate] = []
        hop_ns = c.hop_s * _NS
        win_ns = round(c.window_s * _NS)
        gap_before = self._last_t is not None and t - self._last_t > c.gap_factor * hop_ns
        self._last_t = t
        usable = not gap and math.isfinite(p)

        if gap_before or not usable:
            if self._state in (_ACTIVE, _CLOSING):
                out += self._close(t)
            else:  # a pending (unconfirmed) episode is dropped silently
                self._to_idle()
            if not usable:
                return out

        st = self._state
        if st == _CLOSING:
            ep = self._ep
            assert ep is not None
            if t - ep.last_end > round(c.merge_gap_s * _NS):
                out += self._close(t)
                st = self._state
            elif p >= c.onset_threshold:
                ep.absorb_tail()
                out += self._extend(t, p, types, inten)
                return out
            else:
                ep.add_tail(p, types, inten)
                return out

        if st == _ACTIVE:
            if p >= c.offset_threshold:
                out += self._extend(t, p, types, inten)
            else:
                ep = self._ep
                assert ep is not None
                self._state = _CLOSING
                ep.add_tail(p, types, inten)
                if c.merge_gap_s <= 0:
                    out += self._close(t)
            return out

        # IDLE or PENDING
        if p >= c.onset_threshold and (
            self._refractory_until is None or t >= self._refractory_until
        ):
            if self._state == _IDLE:
                start = t - win_ns
                if self._prev_end is not None:
                    start = max(start, self._prev_end)
                self._ep = _Open(start, len(c.class_names))
                self._state = _PENDING
                self._streak = 0
                self._corroborated = 0
            ep = self._ep
            assert ep is not None
            ep.add(p, types, inten)
            ep.last_end = t
            self._streak += 1
            # consecutive windows (ending here) whose intensity corroborates the onset
            corr = inten >= c.early_confirm_intensity
            if corr and len(self._early_idx):
                corr = bool(np.any(types[self._early_idx] >= self._early_min))
            self._corroborated = self._corroborated + 1 if corr else 0
            early = c.early_confirm_windows is not None and (
                self._corroborated >= c.early_confirm_windows
            )
            if self._streak >= c.confirm_windows or early:
                self._state = _ACTIVE
                ep.id = self._new_id(ep.start_ns)
                ep.alarm_ns = t
                ep.last_emit = t
                out.append(EpisodeUpdate("onset", self._episode(ep, False), t, t))
        else:
            self._to_idle()
        return out

    def _extend(self, t: int, p: float, types: np.ndarray, inten: float) -> list[EpisodeUpdate]:
        """Add an in-episode window to the active episode (splitting it if too long)."""
        c = self.config
        ep = self._ep
        assert ep is not None
        out: list[EpisodeUpdate] = []
        self._state = _ACTIVE
        if t - ep.start_ns > round(c.max_episode_s * _NS):
            old_end = ep.last_end
            self._prev_end = old_end
            e = self._episode(ep, final=True)
            out.append(EpisodeUpdate("final", e, t, ep.alarm_ns, ep.cont))
            nep = _Open(max(old_end, t - round(c.window_s * _NS)), len(c.class_names))
            nep.id = self._new_id(nep.start_ns)
            nep.alarm_ns = t
            nep.cont = True
            nep.last_emit = t
            nep.add(p, types, inten)
            nep.last_end = t
            self._ep = nep
            out.append(EpisodeUpdate("onset", self._episode(nep, False), t, t, True))
            return out
        ep.add(p, types, inten)
        ep.last_end = t
        if c.update_every_s is not None and t - ep.last_emit >= round(c.update_every_s * _NS):
            ep.last_emit = t
            out.append(EpisodeUpdate("update", self._episode(ep, False), t, ep.alarm_ns, ep.cont))
        return out

    # ------------------------------------------------------------------ public

    def update(
        self,
        t_end_ns: Any,
        p_spasm: Any,
        p_types: Any = None,
        intensity: Any = None,
        has_gap: Any = None,
    ) -> list[EpisodeUpdate]:
        """Feed the next window score(s).

        Parameters
        ----------
        t_end_ns : int or array_like of int
            End time of each window, UTC ns, strictly increasing (also across calls);
            shape ``()`` or ``(n,)``.
        p_spasm : float or array_like
            Spasm probability per window, ``(n,)``, in [0, 1]. NaN marks a window without a
            score and counts as a gap.
        p_types : array_like, optional
            Type probabilities ``(n, len(config.class_names))`` (or ``(k,)`` for one
            window). ``None``: episodes get type ``"unknown"``.
        intensity : float or array_like, optional
            Intensity per window as a multiple of the wearer's baseline, ``(n,)``.
            ``None``: peak intensity 0 and severity ``mild``.
        has_gap : bool or array_like of bool, optional
            Window overlaps a gap in the input streams, ``(n,)``.

        Returns
        -------
        list of EpisodeUpdate
            In decision order.

        Raises
        ------
        SignalError
            Shapes disagree, times do not increase, probabilities outside [0, 1].
        """
        t = np.atleast_1d(np.asarray(t_end_ns))
        if t.ndim != 1 or t.dtype.kind not in "iu":
            raise SignalError(f"t_end_ns must be int ns of shape (n,) (got {t.dtype}{t.shape})")
        n = t.shape[0]
        p = np.atleast_1d(np.asarray(p_spasm, dtype=np.float64))
        if p.shape != (n,):
            raise SignalError(f"p_spasm must have shape ({n},) like t_end_ns (got {p.shape})")
        bad = np.isfinite(p) & ((p < 0) | (p > 1))
        if np.any(bad):
            raise SignalError(f"p_spasm must lie in [0, 1] (got {p[bad][0]!r})")
        k = len(self.config.class_names)
        if p_types is None:
            pt = np.zeros((n, k))
        else:
            pt = np.asarray(p_types, dtype=np.float64)
            if pt.ndim == 1 and n == 1:
                pt = pt.reshape(1, -1)
            if pt.shape != (n, k):
                raise SignalError(
                    f"p_types must have shape ({n}, {k}) for classes "
                    f"{list(self.config.class_names)} (got {pt.shape})"
                )
            pt = np.where(np.isfinite(pt), pt, 0.0)
        if intensity is None:
            it = np.full(n, np.nan)
        else:
            it = np.atleast_1d(np.asarray(intensity, dtype=np.float64))
            if it.shape != (n,):
                raise SignalError(f"intensity must have shape ({n},) (got {it.shape})")
        if has_gap is None:
            g = np.zeros(n, dtype=bool)
        else:
            g = np.atleast_1d(np.asarray(has_gap, dtype=bool))
            if g.shape != (n,):
                raise SignalError(f"has_gap must have shape ({n},) (got {g.shape})")
        if n == 0:
            return []
        prev = self._last_t
        if (prev is not None and int(t[0]) <= prev) or (n > 1 and np.any(np.diff(t) <= 0)):
            raise SignalError(
                "t_end_ns must increase strictly from window to window (and across calls); "
                "call reset() before feeding an earlier time"
            )
        out: list[EpisodeUpdate] = []
        for i in range(n):
            out += self._step(int(t[i]), float(p[i]), pt[i], float(it[i]), bool(g[i]))
        return out

    def flush(self, now_ns: int | None = None) -> list[EpisodeUpdate]:
        """End of stream: close an open episode (final or retract); drop a pending one.

        Parameters
        ----------
        now_ns : int, optional
            Time stamped on the emitted updates (default: the last window's end).
        """
        t = now_ns if now_ns is not None else (self._last_t or 0)
        out: list[EpisodeUpdate] = []
        if self._state in (_ACTIVE, _CLOSING):
            out = self._close(int(t))
        self._to_idle()
        return out


def detect_updates(
    t_end_ns: Any,
    p_spasm: Any,
    p_types: Any = None,
    intensity: Any = None,
    has_gap: Any = None,
    *,
    config: DetectorConfig | None = None,
    **context: Any,
) -> list[EpisodeUpdate]:
    """Batch form: every update the streaming detector emits over whole arrays, then flush.

    Arguments as :meth:`EpisodeDetector.update`; ``context`` goes to the constructor
    (``wearer_id``, ``model_id`` ...).
    """
    det = EpisodeDetector(config, **context)
    return det.update(t_end_ns, p_spasm, p_types, intensity, has_gap) + det.flush()


def detect_episodes(
    t_end_ns: Any,
    p_spasm: Any,
    p_types: Any = None,
    intensity: Any = None,
    has_gap: Any = None,
    *,
    config: DetectorConfig | None = None,
    **context: Any,
) -> list[Episode]:
    """Batch form returning only the final episodes (``final=True``), in time order.

    Arguments as :meth:`EpisodeDetector.update`. Use :func:`detect_updates` to get the
    onset alarm times (``alarm_ns``) and retractions as well.
    """
    ups = detect_updates(t_end_ns, p_spasm, p_types, intensity, has_gap, config=config, **context)
    return [u.episode for u in ups if u.kind == "final"]


def finals_with_alarms(updates: Sequence[EpisodeUpdate]) -> list[tuple[Episode, int]]:
    """``(episode, alarm_ns)`` for each final update (helper for scoring)."""
    return [(u.episode, u.alarm_ns) for u in updates if u.kind == "final"]
