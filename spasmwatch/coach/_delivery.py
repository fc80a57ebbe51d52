"""Delivery channels for prompts: the terminal, a desktop notification, the live bus.

A channel's ``deliver(prompt, exercise) -> bool`` never raises: a failed notification is
logged (without health details) and reported as ``False``, so delivery trouble can never
stop the monitor.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TextIO

from spasmwatch.coach._exercises import Exercise
from spasmwatch.store._db import resolve_tz
from spasmwatch.store._values import Prompt

__all__ = [
    "BusDelivery",
    "Delivery",
    "DesktopDelivery",
    "TerminalDelivery",
    "deliver_all",
    "prompt_message",
]

log = logging.getLogger(__name__)


def prompt_message(prompt: Prompt, exercise: Exercise, tz: str | dt.tzinfo | None = None) -> str:
    """The one-line text of a prompt, in local time of ``tz`` (``None``: this machine's).

    E.g. ``"Spasm detected 14:02 — try 1 minute of slow breathing (4 s in, 6 s out)?
    [you can ignore this]"``.
    """
    hhmm = dt.datetime.fromtimestamp(prompt.t_ns / 1e9, resolve_tz(tz)).strftime("%H:%M")
    if prompt.reason == "on_demand":
        return f"{hhmm} — starting {exercise.offer_text}. Stop whenever you like."
    what = "Spasm detected" if prompt.reason == "episode_onset" else "Muscles tense for a while"
    return f"{what} {hhmm} — try {exercise.offer_text}? [you can ignore this]"


class Delivery(Protocol):
    """A way to show a prompt to the wearer."""

    name: str

    def deliver(self, prompt: Prompt, exercise: Exercise) -> bool:
        """Show it; ``True`` if it (probably) reached the wearer."""
        ...


class TerminalDelivery:
    """Prints one line per prompt to a text stream (default ``sys.stdout``)."""

    name = "terminal"

    def __init__(self, stream: TextIO | None = None, tz: str | dt.tzinfo | None = None) -> None:
        self._stream = stream
        self._tz = tz

    def deliver(self, prompt: Prompt, exercise: Exercise) -> bool:
        """Print the prompt's line."""
        stream = self._stream if self._stream is not None else sys.stdout
        try:
            print(prompt_message(prompt, exercise, self._tz), file=stream, flush=True)
        except (OSError, ValueError) as exc:
            log.warning("terminal delivery failed: %s", exc)
            return False
        return True


class DesktopDelivery:
    """A desktop notification through ``notify-send`` (libnotify), if it is installed.

    Without ``notify-send`` on ``PATH`` the channel is disabled: :attr:`available` is
    ``False``, :attr:`unavailable_reason` says why (logged once at INFO), and ``deliver``
    returns ``False`` without doing anything.

    Parameters
    ----------
    command : str
        Program to look up on ``PATH``.
    timeout_s : float
        How long to wait for it (s).
    tz : str or tzinfo or None
        Zone for the time in the text.
    """

    name = "desktop"

    def __init__(
        self,
        command: str = "notify-send",
        *,
        timeout_s: float = 5.0,
        tz: str | dt.tzinfo | None = None,
    ) -> None:
        self._exe = shutil.which(command)
        self._timeout = timeout_s
        self._tz = tz
        self.unavailable_reason: str | None = None
        if self._exe is None:
            self.unavailable_reason = f"{command} not found on PATH; desktop notifications off"
            log.info("desktop delivery disabled: %s", self.unavailable_reason)

    @property
    def available(self) -> bool:
        """Whether notifications can be sent."""
        return self._exe is not None

    def deliver(self, prompt: Prompt, exercise: Exercise) -> bool:
        """Run ``notify-send`` with a title and the prompt line."""
        if self._exe is None:
            return False
        argv = [
            self._exe,
            "--app-name=spasmwatch",
            "--urgency=low",
            "spasmwatch",
            prompt_message(prompt, exercise, self._tz),
        ]
        try:
            res = subprocess.run(
                argv, timeout=self._timeout, check=False, capture_output=True, text=True
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("desktop notification failed: %s", type(exc).__name__)
            return False
        if res.returncode != 0:
            log.warning("desktop notification failed: exit code %d", res.returncode)
            return False
        return True


class BusDelivery:
    """Publishes each prompt as a dict to a callback (the live bus feeding the web pages).

    The message is ``{"type": "coach.prompt", "prompt": {...}, "exercise": {...},
    "message": "..."}`` with the exercise's full phase timeline, so a page can animate it.
    """

    name = "bus"

    def __init__(
        self, callback: Callable[[dict[str, Any]], object], tz: str | dt.tzinfo | None = None
    ) -> None:
        self._callback = callback
        self._tz = tz

    def deliver(self, prompt: Prompt, exercise: Exercise) -> bool:
        """Call the callback with the message."""
        msg = {
            "type": "coach.prompt",
            "prompt": prompt.to_dict(),
            "exercise": exercise.to_dict(),
            "message": prompt_message(prompt, exercise, self._tz),
        }
        try:
            self._callback(msg)
        except Exception:
            log.warning("bus delivery failed", exc_info=True)
            return False
        return True


def deliver_all(channels: Iterable[Delivery], prompt: Prompt, exercise: Exercise) -> list[str]:
    """Deliver through every channel; returns the names of those that succeeded."""
    return [c.name for c in channels if c.deliver(prompt, exercise)]
