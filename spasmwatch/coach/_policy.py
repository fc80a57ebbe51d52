"""When to offer an exercise, and when not: :class:`PromptPolicy` and the :class:`Coach`.

The coach is a small state machine driven by events the caller timestamps (``now_ns``, UTC
ns). It never reads a clock, so a test (or a replay at 100x) drives it exactly. Every call
that could prompt returns a :class:`Decision` that says whether it prompted and, if not,
why not; the monitor logs them and tests assert them.

Refusal reasons, checked in this order::

    disabled      the policy is switched off
    asleep        the wearer is asleep (``on_sleep(True)``)
    in_exercise   an exercise is running
    pending       an earlier prompt is still waiting for an answer
    snoozed       the wearer snoozed prompts
    quiet_hours   local time is within the quiet hours
    daily_cap     this local day already had ``daily_cap`` prompts
    cooldown      the last prompt was less than ``cooldown_s`` ago
    low_confidence / below_severity   the episode is too uncertain or too mild to prompt
    duplicate     this episode was already considered (a live onset, then its final update)
    onset_off     prompting at episode onset is switched off in the policy

A request by the wearer (:meth:`Coach.on_demand`) skips every check but ``in_exercise``.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from spasmwatch.coach._exercises import DEFAULT_EXERCISE_ID, get_exercise
from spasmwatch.episodes._types import Episode, new_id, severity_rank
from spasmwatch.errors import ConfigError, NotFoundError
from spasmwatch.store._db import resolve_tz
from spasmwatch.store._values import Prompt

__all__ = ["REFUSALS", "Coach", "Decision", "PromptPolicy"]

log = logging.getLogger(__name__)

#: Every reason a trigger may not lead to a prompt.
REFUSALS = (
    "disabled",
    "asleep",
    "in_exercise",
    "pending",
    "snoozed",
    "quiet_hours",
    "daily_cap",
    "cooldown",
    "low_confidence",
    "below_severity",
    "duplicate",
    "onset_off",
)

_NS = 1_000_000_000


def _time(v: object, name: str) -> dt.time | None:
    if v is None or isinstance(v, dt.time):
        return v
    if isinstance(v, str):
        try:
            return dt.time.fromisoformat(v)
        except ValueError:
            pass
    raise ConfigError(f"PromptPolicy.{name} must be a local time 'HH:MM' or None (got {v!r})")


@dataclass(frozen=True, slots=True)
class PromptPolicy:
    """When the coach may offer an exercise.

    Parameters
    ----------
    enabled : bool
        Master switch.
    cooldown_s : float
        Minimum time between two offered prompts (s). Default 20 min.
    quiet_start, quiet_end : datetime.time or str or None
        Local quiet hours ``[start, end)``; may wrap midnight (22:00-07:00). ``None`` for none.
    daily_cap : int
        At most this many prompts per local day (the wearer's own requests do not count).
    min_sustained_tone_s : float
        Muscle tone must stay at or above ``tone_threshold`` this long (s) to prompt.
    tone_threshold : float
        Tone level (envelope as a multiple of the resting baseline) that counts as high.
    tone_release : float
        Fraction of ``tone_threshold`` below which a high-tone run ends (hysteresis).
    tone_max_gap_s : float
        A gap longer than this (s) between tone samples restarts the run (signal lost).
    snooze_s : float
        Default snooze length (s).
    response_timeout_s : float
        A prompt not answered within this time (s) becomes ``ignored`` at the next tick.
    exercise_id : str
        Exercise offered (default slow breathing, ``"paced-6"``).
    prompt_on_onset : bool
        Offer at episode onset (else only on sustained tone and on demand).
    min_confidence : float
        Episodes below this detector confidence do not prompt.
    min_severity : str
        Episodes milder than this do not prompt.
    tz : str or None
        IANA zone for quiet hours and the daily cap; ``None`` = this machine's zone.
    """

    enabled: bool = True
    cooldown_s: float = 1200.0
    quiet_start: dt.time | None = dt.time(22, 0)
    quiet_end: dt.time | None = dt.time(7, 0)
    daily_cap: int = 8
    min_sustained_tone_s: float = 120.0
    tone_threshold: float = 2.0
    tone_release: float = 0.8
    tone_max_gap_s: float = 30.0
    snooze_s: float = 3600.0
    response_timeout_s: float = 300.0
    exercise_id: str = DEFAULT_EXERCISE_ID
    prompt_on_onset: bool = True
    min_confidence: float = 0.5
    min_severity: str = "mild"
    tz: str | None = None

    def __post_init__(self) -> None:
        for name in ("enabled", "prompt_on_onset"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"PromptPolicy.{name} must be True or False")
        for name, lo in (
            ("cooldown_s", 0.0),
            ("min_sustained_tone_s", 0.0),
            ("tone_threshold", 0.0),
            ("tone_max_gap_s", 0.0),
            ("snooze_s", 0.0),
            ("response_timeout_s", 1.0),
            ("min_confidence", 0.0),
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ConfigError(f"PromptPolicy.{name} must be a finite number (got {v!r})")
            if v < lo:
                raise ConfigError(f"PromptPolicy.{name} must be >= {lo} (got {v!r})")
            object.__setattr__(self, name, float(v))
        if not 0.0 < self.tone_release <= 1.0:
            raise ConfigError(
                f"PromptPolicy.tone_release must be in (0, 1] (got {self.tone_release!r})"
            )
        if self.min_confidence > 1.0:
            raise ConfigError(f"PromptPolicy.min_confidence must be <= 1 ({self.min_confidence})")
        if isinstance(self.daily_cap, bool) or not isinstance(self.daily_cap, int):
            raise ConfigError(f"PromptPolicy.daily_cap must be an int (got {self.daily_cap!r})")
        if self.daily_cap < 0:
            raise ConfigError(f"PromptPolicy.daily_cap must be >= 0 (got {self.daily_cap})")
        object.__setattr__(self, "quiet_start", _time(self.quiet_start, "quiet_start"))
        object.__setattr__(self, "quiet_end", _time(self.quiet_end, "quiet_end"))
        if (self.quiet_start is None) != (self.quiet_end is None):
            raise ConfigError("PromptPolicy.quiet_start and quiet_end must both be set or None")
        get_exercise(self.exercise_id)
        try:
            severity_rank(self.min_severity)
        except Exception:
            raise ConfigError(
                f"PromptPolicy.min_severity must be mild, moderate or severe "
                f"(got {self.min_severity!r})"
            ) from None
        try:
            resolve_tz(self.tz)
        except Exception:
            raise ConfigError(f"PromptPolicy.tz: unknown time zone {self.tz!r}") from None

    def in_quiet_hours(self, local: dt.time) -> bool:
        """Whether a local wall-clock time falls in ``[quiet_start, quiet_end)``."""
        s, e = self.quiet_start, self.quiet_end
        if s is None or e is None or s == e:
            return False
        if s < e:
            return s <= local < e
        return local >= s or local < e  # wraps midnight


@dataclass(frozen=True, slots=True)
class Decision:
    """What the coach did with one trigger.

    Parameters
    ----------
    t_ns : int
        When (UTC ns).
    trigger : str
        ``"episode_onset"``, ``"sustained_tone"`` or ``"on_demand"``.
    reason : str
        ``"prompted"`` or one of :data:`REFUSALS`.
    prompt : Prompt or None
        The new prompt to deliver (only when prompted).
    episode_id : str or None
        The episode behind an onset trigger.
    detail : str
        Human-readable context, e.g. ``"cooldown: 412 s left"``.
    """

    t_ns: int
    trigger: str
    reason: str
    prompt: Prompt | None = None
    episode_id: str | None = None
    detail: str = ""

    @property
    def prompted(self) -> bool:
        """True when a prompt was created."""
        return self.prompt is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for logs and the live bus."""
        return {
            "t_ns": self.t_ns,
            "trigger": self.trigger,
            "reason": self.reason,
            "prompt": None if self.prompt is None else self.prompt.to_dict(),
            "episode_id": self.episode_id,
            "detail": self.detail,
        }


class Coach:
    """Streaming prompt policy for one wearer.

    Parameters
    ----------
    policy : PromptPolicy, optional
        Defaults to ``PromptPolicy()``.
    wearer_id : str
        Stored on every prompt.
    id_factory : callable, optional
        Makes prompt ids (default UUID4); tests pass a counter.

    Notes
    -----
    Methods return new or updated :class:`~spasmwatch.store.Prompt` values; persisting and
    delivering them is the caller's job (``spasmwatch monitor`` stores them with
    ``EventStore.upsert_prompt`` and hands new ones to the delivery channels).
    """

    def __init__(
        self,
        policy: PromptPolicy | None = None,
        wearer_id: str = "default",
        *,
        id_factory: Callable[[], str] = new_id,
    ) -> None:
        self.policy = policy or PromptPolicy()
        self.wearer_id = wearer_id
        self._id_factory = id_factory
        self._tz = resolve_tz(self.policy.tz)
        self.reset()

    def reset(self) -> None:
        """Forget all state (as if just started)."""
        self._asleep = False
        self._exercise: tuple[int, str | None] | None = None  # (start_ns, prompt_id)
        self._snooze_until: int | None = None
        self._last_prompt_ns: int | None = None
        self._day: dt.date | None = None
        self._day_count = 0
        self._pending: dict[str, Prompt] = {}
        self._recent: OrderedDict[str, Prompt] = OrderedDict()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._tone_since: int | None = None
        self._tone_last: int | None = None
        self._tone_fired = False

    # ------------------------------------------------------------------ state views

    @property
    def asleep(self) -> bool:
        """Whether the wearer is marked asleep."""
        return self._asleep

    @property
    def in_exercise(self) -> bool:
        """Whether an exercise is running."""
        return self._exercise is not None

    @property
    def pending(self) -> tuple[Prompt, ...]:
        """Prompts waiting for an answer, oldest first."""
        return tuple(self._pending.values())

    def status(self, now_ns: int) -> dict[str, Any]:
        """Snapshot for the live page: what would block a prompt right now, and why."""
        last = self._last_prompt_ns
        cooldown_left = (
            0.0 if last is None else max(0.0, self.policy.cooldown_s - (now_ns - last) / _NS)
        )
        return {
            "enabled": self.policy.enabled,
            "asleep": self._asleep,
            "in_exercise": self.in_exercise,
            "pending": [p.id for p in self._pending.values()],
            "snoozed_until_ns": self._snooze_until
            if self._snooze_until and self._snooze_until > now_ns
            else None,
            "prompts_today": self._count_today(now_ns),
            "cooldown_left_s": cooldown_left,
            "quiet_hours": self._quiet(now_ns),
        }

    # ------------------------------------------------------------------ policy

    def _local(self, now_ns: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(now_ns / _NS, self._tz)

    def _quiet(self, now_ns: int) -> bool:
        return self.policy.in_quiet_hours(self._local(now_ns).time())

    def _count_today(self, now_ns: int) -> int:
        return self._day_count if self._day == self._local(now_ns).date() else 0

    def _refusal(self, now_ns: int, trigger: str) -> tuple[str, str] | None:
        p = self.policy
        running = ("in_exercise", "an exercise is running")
        if trigger == "on_demand":
            return running if self._exercise is not None else None
        if not p.enabled:
            return ("disabled", "prompts are switched off")
        if self._asleep:
            return ("asleep", "the wearer is asleep")
        if self._exercise is not None:
            return running
        if self._pending:
            return ("pending", f"{len(self._pending)} prompt(s) still waiting for an answer")
        if self._snooze_until is not None and now_ns < self._snooze_until:
            left = (self._snooze_until - now_ns) / _NS
            return ("snoozed", f"snoozed: {left:.0f} s left")
        if self._quiet(now_ns):
            return ("quiet_hours", f"quiet hours {p.quiet_start}-{p.quiet_end}")
        if self._count_today(now_ns) >= p.daily_cap:
            return ("daily_cap", f"{p.daily_cap} prompts already today")
        if self._last_prompt_ns is not None:
            since = (now_ns - self._last_prompt_ns) / _NS
            if since < p.cooldown_s:
                return ("cooldown", f"cooldown: {p.cooldown_s - since:.0f} s left")
        return None

    def _attempt(
        self,
        trigger: str,
        now_ns: int,
        episode_id: str | None = None,
        exercise_id: str | None = None,
    ) -> Decision:
        refusal = self._refusal(now_ns, trigger)
        if refusal is not None:
            d = Decision(now_ns, trigger, refusal[0], None, episode_id, refusal[1])
            log.debug("coach: no prompt (%s): %s", d.reason, d.detail)
            return d
        prompt = Prompt(
            id=self._id_factory(),
            t_ns=now_ns,
            reason=trigger,
            exercise_id=exercise_id or self.policy.exercise_id,
            wearer_id=self.wearer_id,
            episode_id=episode_id,
        )
        if trigger != "on_demand":
            today = self._local(now_ns).date()
            if self._day != today:
                self._day, self._day_count = today, 0
            self._day_count += 1
            self._last_prompt_ns = now_ns
            self._pending[prompt.id] = prompt
        self._remember(prompt)
        log.info("coach: prompt %s (%s)", prompt.id, trigger)
        return Decision(now_ns, trigger, "prompted", prompt, episode_id)

    def _remember(self, prompt: Prompt) -> None:
        self._recent[prompt.id] = prompt
        self._recent.move_to_end(prompt.id)
        while len(self._recent) > 256:
            self._recent.popitem(last=False)

    # ------------------------------------------------------------------ triggers

    def on_episode_onset(self, episode: Episode, now_ns: int) -> Decision:
        """Consider a prompt for an episode that just started (or was updated).

        Only the first call per episode id can prompt; later updates of the same episode
        return ``reason="duplicate"``.
        """
        if not isinstance(episode, Episode):
            raise ConfigError(f"on_episode_onset needs an Episode (got {type(episode).__name__})")
        p = self.policy
        eid = episode.id
        if eid in self._seen:
            return Decision(now_ns, "episode_onset", "duplicate", None, eid, "already considered")
        self._seen[eid] = None
        while len(self._seen) > 1024:
            self._seen.popitem(last=False)
        if not p.prompt_on_onset:
            return Decision(now_ns, "episode_onset", "onset_off", None, eid, "")
        if episode.confidence < p.min_confidence:
            return Decision(
                now_ns,
                "episode_onset",
                "low_confidence",
                None,
                eid,
                f"confidence {episode.confidence:.2f} < {p.min_confidence:.2f}",
            )
        if episode.severity_rank < severity_rank(p.min_severity):
            return Decision(now_ns, "episode_onset", "below_severity", None, eid, episode.severity)
        return self._attempt("episode_onset", now_ns, episode_id=eid)

    def on_tone(self, level: float, now_ns: int) -> Decision | None:
        """Feed one muscle-tone sample (×baseline). Returns a Decision when a high-tone run
        reaches ``min_sustained_tone_s`` (once per run), else ``None``.

        A run starts when ``level >= tone_threshold`` and ends when the level falls below
        ``tone_release * tone_threshold`` or no sample came for ``tone_max_gap_s``.
        """
        p = self.policy
        if isinstance(level, bool) or not isinstance(level, int | float) or math.isnan(level):
            raise ConfigError(f"on_tone: level must be a number (got {level!r})")
        if self._tone_last is not None and (now_ns - self._tone_last) > p.tone_max_gap_s * _NS:
            self._tone_since, self._tone_fired = None, False
        self._tone_last = now_ns
        if level < p.tone_threshold * p.tone_release:
            self._tone_since, self._tone_fired = None, False
            return None
        if self._tone_since is None:
            if level < p.tone_threshold:
                return None
            self._tone_since = now_ns
        if self._tone_fired or (now_ns - self._tone_since) < p.min_sustained_tone_s * _NS:
            return None
        self._tone_fired = True
        return self._attempt("sustained_tone", now_ns)

    def on_demand(self, now_ns: int, exercise_id: str | None = None) -> Decision:
        """The wearer asks for an exercise: always offered unless one is running."""
        if exercise_id is not None:
            get_exercise(exercise_id)
        return self._attempt("on_demand", now_ns, exercise_id=exercise_id)

    def on_sleep(self, is_asleep: bool) -> None:
        """Mark the wearer asleep (no prompts) or awake."""
        self._asleep = bool(is_asleep)

    # ------------------------------------------------------------------ wearer actions

    def _find(self, prompt_id: str) -> Prompt:
        p = self._pending.get(prompt_id) or self._recent.get(prompt_id)
        if p is None:
            raise NotFoundError(f"the coach knows no prompt {prompt_id!r}", reason="prompt")
        return p

    def _set(self, prompt: Prompt, outcome: str, now_ns: int) -> Prompt:
        new = replace(prompt, outcome=outcome, outcome_t_ns=now_ns)
        self._pending.pop(prompt.id, None)
        self._remember(new)
        return new

    def respond(self, prompt_id: str, outcome: str, now_ns: int) -> Prompt:
        """The wearer answered a prompt: ``"done"``, ``"dismissed"`` or ``"snoozed"``.

        ``"snoozed"`` also snoozes the coach for ``policy.snooze_s``. Returns the updated
        prompt (NotFoundError for an unknown id).
        """
        if outcome not in ("done", "dismissed", "snoozed"):
            raise ConfigError(
                f"respond: outcome must be done, dismissed or snoozed (got {outcome!r})"
            )
        new = self._set(self._find(prompt_id), outcome, now_ns)
        if outcome == "snoozed":
            self.snooze(now_ns)
        return new

    def snooze(self, now_ns: int, duration_s: float | None = None) -> None:
        """No prompts until ``now + duration_s`` (default ``policy.snooze_s``)."""
        d = self.policy.snooze_s if duration_s is None else float(duration_s)
        if not math.isfinite(d) or d < 0:
            raise ConfigError(f"snooze: duration_s must be >= 0 s (got {duration_s!r})")
        self._snooze_until = now_ns + round(d * _NS)

    def exercise_started(self, now_ns: int, prompt_id: str | None = None) -> None:
        """An exercise began (answering ``prompt_id``, or on the wearer's own initiative).

        A pending prompt it answers stops counting as pending (no timeout while exercising).
        """
        if prompt_id is not None:
            prompt = self._find(prompt_id)
            self._pending.pop(prompt.id, None)
        self._exercise = (now_ns, prompt_id)

    def exercise_finished(self, now_ns: int, completed: bool = True) -> Prompt | None:
        """The exercise ended. Returns the prompt it answered, now ``"done"`` (completed)
        or ``"dismissed"`` (stopped early), or ``None`` if it answered none."""
        if self._exercise is None:
            return None
        _, prompt_id = self._exercise
        self._exercise = None
        if prompt_id is None:
            return None
        return self._set(self._find(prompt_id), "done" if completed else "dismissed", now_ns)

    def tick(self, now_ns: int) -> list[Prompt]:
        """Housekeeping: pending prompts older than ``response_timeout_s`` become
        ``"ignored"``. Returns those updated prompts."""
        limit = round(self.policy.response_timeout_s * _NS)
        expired = [p for p in self._pending.values() if now_ns - p.t_ns >= limit]
        return [self._set(p, "ignored", now_ns) for p in expired]
