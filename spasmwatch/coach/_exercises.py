"""Breathing and relaxation exercises as frozen data: a phase timeline and its wording.

The wording is a suggestion the wearer may ignore. It makes no medical claim and says
nothing about medication. Slow breathing at about six breaths a minute with a longer
exhale is the default (``paced-6``); box breathing, 4-7-8 and a short, gentle progressive
muscle relaxation are alternatives. See ``docs/coach.md`` for the sources of the numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from spasmwatch.errors import ConfigError

__all__ = ["DEFAULT_EXERCISE_ID", "EXERCISES", "Exercise", "Phase", "get_exercise"]


@dataclass(frozen=True, slots=True)
class Phase:
    """One step of an exercise.

    Parameters
    ----------
    name : str
        Machine name the live page animates: ``"inhale"``, ``"hold"``, ``"exhale"``,
        ``"settle"``, ``"tense"``, ``"release"``.
    duration_s : float
        Length in seconds (> 0).
    instruction : str
        Short text shown or spoken during the step.
    """

    name: str
    duration_s: float
    instruction: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"Phase.name must be a non-empty string (got {self.name!r})")
        d = self.duration_s
        if isinstance(d, bool) or not isinstance(d, int | float) or not math.isfinite(d) or d <= 0:
            raise ConfigError(f"Phase.duration_s must be a number of seconds > 0 (got {d!r})")
        object.__setattr__(self, "duration_s", float(d))
        if not isinstance(self.instruction, str):
            raise ConfigError(f"Phase.instruction must be a string (got {self.instruction!r})")


@dataclass(frozen=True, slots=True)
class Exercise:
    """A guided exercise: ``cycle`` repeated ``cycles`` times.

    Parameters
    ----------
    id : str
        Stable id stored on prompts, e.g. ``"paced-6"``.
    title : str
        Plain name, e.g. ``"slow breathing"``.
    summary : str
        The rhythm in a few words, e.g. ``"4 s in, 6 s out"``.
    cycle : tuple of Phase
        One cycle (one breath, or the whole script for a relaxation).
    cycles : int
        Number of repetitions (>= 1).
    intro : str
        One or two sentences shown before starting.
    """

    id: str
    title: str
    summary: str
    cycle: tuple[Phase, ...]
    cycles: int = 1
    intro: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.cycle, list):
            object.__setattr__(self, "cycle", tuple(self.cycle))
        if not self.cycle or not all(isinstance(p, Phase) for p in self.cycle):
            raise ConfigError(f"Exercise {self.id!r}: cycle must be a non-empty tuple of Phase")
        if isinstance(self.cycles, bool) or not isinstance(self.cycles, int) or self.cycles < 1:
            raise ConfigError(f"Exercise {self.id!r}: cycles must be an int >= 1")

    def phases(self) -> list[tuple[str, float, str]]:
        """The full timeline: ``(name, duration_s, instruction)`` for every step, in order."""
        return [(p.name, p.duration_s, p.instruction) for p in self.cycle] * self.cycles

    @property
    def cycle_s(self) -> float:
        """Length of one cycle in s (10 s for ``paced-6``)."""
        return sum(p.duration_s for p in self.cycle)

    @property
    def duration_s(self) -> float:
        """Total length in s."""
        return self.cycle_s * self.cycles

    @property
    def offer_text(self) -> str:
        """E.g. ``"1 minute of slow breathing (4 s in, 6 s out)"``."""
        minutes = max(1, math.floor(self.duration_s / 60 + 0.5))
        unit = "minute" if minutes == 1 else "minutes"
        return f"{minutes} {unit} of {self.title} ({self.summary})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form with the expanded timeline (for the live page)."""
        return {
            "id": self.id,
            "title": self.title,
            "summary": self.summary,
            "intro": self.intro,
            "cycles": self.cycles,
            "duration_s": self.duration_s,
            "phases": [{"name": n, "duration_s": d, "instruction": i} for n, d, i in self.phases()],
        }


_IN = "Breathe in gently through your nose"
_OUT = "Breathe out slowly, a little longer than the in-breath"
_STOP = "Stop whenever you like; breathe normally if this feels uncomfortable."

_PACED = Exercise(
    id="paced-6",
    title="slow breathing",
    summary="4 s in, 6 s out",
    cycle=(Phase("inhale", 4, _IN), Phase("exhale", 6, _OUT)),
    cycles=6,
    intro="About six slow breaths a minute, with a longer out-breath. " + _STOP,
)

_BOX = Exercise(
    id="box-4",
    title="box breathing",
    summary="4 s in, hold 4, 4 s out, hold 4",
    cycle=(
        Phase("inhale", 4, "Breathe in"),
        Phase("hold", 4, "Hold gently"),
        Phase("exhale", 4, "Breathe out"),
        Phase("hold", 4, "Rest before the next breath"),
    ),
    cycles=4,
    intro="Four equal sides: in, hold, out, hold. Shorten the holds if they feel tight. " + _STOP,
)

_478 = Exercise(
    id="breath-4-7-8",
    title="4-7-8 breathing",
    summary="4 s in, hold 7, 8 s out",
    cycle=(
        Phase("inhale", 4, "Breathe in quietly through your nose"),
        Phase("hold", 7, "Hold, or breathe out sooner if holding is uncomfortable"),
        Phase("exhale", 8, "Breathe out slowly through your mouth"),
    ),
    cycles=4,
    intro="A long hold and a long out-breath, four times. " + _STOP,
)

_PMR = Exercise(
    id="pmr-short",
    title="gentle muscle relaxation",
    summary="tense lightly, then let go",
    cycle=(
        Phase("settle", 10, "Get comfortable and breathe slowly"),
        Phase("tense", 5, "Make loose fists, at about half strength"),
        Phase("release", 15, "Let your hands go soft and notice the difference"),
        Phase("tense", 5, "Lift your shoulders a little towards your ears"),
        Phase("release", 15, "Let your shoulders drop"),
        Phase("tense", 5, "Scrunch your face lightly"),
        Phase("release", 15, "Let your forehead and jaw soften"),
        Phase("settle", 20, "Breathe slowly and let your whole body feel heavy"),
    ),
    cycles=1,
    intro=(
        "Tense a few muscle groups lightly, then let them go. Use only light effort, and "
        "skip any muscle that hurts or tends to spasm. " + _STOP
    ),
)

#: Every exercise by id.
EXERCISES: dict[str, Exercise] = {e.id: e for e in (_PACED, _BOX, _478, _PMR)}
#: The default: slow breathing at 6 breaths/min with a longer out-breath.
DEFAULT_EXERCISE_ID = "paced-6"


def get_exercise(exercise_id: str) -> Exercise:
    """The exercise with this id (ConfigError listing the known ids otherwise)."""
    try:
        return EXERCISES[exercise_id]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown exercise {exercise_id!r}; known: {sorted(EXERCISES)}",
            reason="unknown_exercise",
        ) from None
