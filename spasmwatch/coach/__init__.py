"""spasmwatch.coach: offer a breathing or relaxation exercise at the right moment.

- :class:`Exercise` / :class:`Phase` and :data:`EXERCISES`: slow breathing at 6/min
  (4 s in, 6 s out; the default), box breathing, 4-7-8, gentle muscle relaxation.
- :class:`PromptPolicy` and the :class:`Coach` state machine: when to offer one and,
  as a :class:`Decision`, why not (cooldown, quiet hours, daily cap, asleep...).
- Delivery channels: :class:`TerminalDelivery`, :class:`DesktopDelivery`, :class:`BusDelivery`.
- :func:`fill_prompt_followups`: spasm activity after each prompt vs before, stored on it.

Prompts are suggestions the wearer can ignore; nothing here is medical advice and nothing
here mentions medication.
"""

from spasmwatch.coach._delivery import (
    BusDelivery,
    Delivery,
    DesktopDelivery,
    TerminalDelivery,
    deliver_all,
    prompt_message,
)
from spasmwatch.coach._exercises import (
    DEFAULT_EXERCISE_ID,
    EXERCISES,
    Exercise,
    Phase,
    get_exercise,
)
from spasmwatch.coach._followup import compute_followup, fill_prompt_followups
from spasmwatch.coach._policy import REFUSALS, Coach, Decision, PromptPolicy
from spasmwatch.store._values import Followup, Prompt

__all__ = [
    "DEFAULT_EXERCISE_ID",
    "EXERCISES",
    "REFUSALS",
    "BusDelivery",
    "Coach",
    "Decision",
    "Delivery",
    "DesktopDelivery",
    "Exercise",
    "Followup",
    "Phase",
    "Prompt",
    "PromptPolicy",
    "TerminalDelivery",
    "compute_followup",
    "deliver_all",
    "fill_prompt_followups",
    "get_exercise",
    "prompt_message",
]
