"""Records of the event store besides episodes and labels.

All frozen and validated at construction (an invalid field raises
:class:`~spasmwatch.errors.StoreError` naming it). Times are int UTC ns since the Unix epoch.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from spasmwatch.core import GAP_CAUSES
from spasmwatch.episodes._types import (
    EPISODE_TYPES,
    SEVERITIES,
    _check_choice,
    _check_float,
    _check_id,
    _check_int,
    _check_interval,
    _check_text,
    _from_dict,
    _invalid,
    _set,
    _to_dict,
    severity_rank,
)

__all__ = [
    "DIARY_KINDS",
    "PLACEMENT_SIDES",
    "PROMPT_OUTCOMES",
    "PROMPT_REASONS",
    "SELF_REPORT_ANSWERS",
    "TRIGGERS",
    "Device",
    "DiaryEntry",
    "Followup",
    "Placement",
    "Prompt",
    "RecordingInfo",
    "SelfReport",
    "SignalLoss",
    "SummaryBucket",
    "WearTime",
    "Wearer",
]

#: Why a prompt was offered.
PROMPT_REASONS = ("episode_onset", "sustained_tone", "on_demand")
#: What became of a prompt. ``pending`` until the wearer answers or it times out.
PROMPT_OUTCOMES = ("pending", "done", "dismissed", "ignored", "snoozed")
#: Diary entry kinds.
DIARY_KINDS = ("medication", "stretching", "exercise", "heat", "cold", "fluids", "note")
#: Body side of a sensor placement.
PLACEMENT_SIDES = ("left", "right", "midline")
#: What the wearer may name as the trigger of a spasm they report (``other``: free text).
TRIGGERS = (
    "stretching",
    "heat",
    "cold",
    "full_bladder",
    "stress",
    "infection",
    "position_change",
    "unknown",
    "other",
)
#: Answers to "was that a spasm?" (a spasm logged by the wearer is always ``yes``).
SELF_REPORT_ANSWERS = ("yes", "no", "not_sure")


class _Dictable:
    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (field name -> value)."""
        return _to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Any:
        """Inverse of :meth:`to_dict`; unknown keys are refused."""
        return _from_dict(cls, d)


@dataclass(frozen=True, slots=True)
class Wearer(_Dictable):
    """A person whose data the store holds.

    Parameters
    ----------
    id : str
        Record id (``"default"`` on a single-user machine).
    pseudonym : str
        What exports and research views show (e.g. ``"P03"``). Defaults to the id.
    display_name : str or None
        A name for local display only; never exported.
    created_ns : int
        When the wearer was added (UTC ns).
    """

    id: str
    pseudonym: str = ""
    display_name: str | None = None
    created_ns: int = 0

    def __post_init__(self) -> None:
        _check_id(self, "id")
        if self.pseudonym == "":
            _set(self, "pseudonym", self.id)
        _check_text(self, "pseudonym", allow_empty=False, max_len=100)
        _check_text(self, "display_name", optional=True, max_len=200)
        _check_int(self, "created_ns", minimum=0)


@dataclass(frozen=True, slots=True)
class Followup(_Dictable):
    """Spasm activity in the window after a prompt vs the same window before it.

    The episode that triggered the prompt is left out of both sides: it is the reason for
    the prompt, not its outcome.

    Parameters
    ----------
    window_s : float
        Window length in s on each side of the prompt time.
    episodes_before, episodes_after : int
        Episodes that started in ``[t - window, t)`` and ``[t, t + window)``.
    active_s_before, active_s_after : float
        Seconds covered by episodes within each window.
    lost_s_before, lost_s_after : float
        Seconds of signal loss (the wearer's devices) within each window; a window mostly
        lost says nothing.
    """

    window_s: float
    episodes_before: int
    episodes_after: int
    active_s_before: float
    active_s_after: float
    lost_s_before: float = 0.0
    lost_s_after: float = 0.0

    def __post_init__(self) -> None:
        _check_float(self, "window_s", lo=1.0)
        _check_int(self, "episodes_before", minimum=0)
        _check_int(self, "episodes_after", minimum=0)
        for name in ("active_s_before", "active_s_after", "lost_s_before", "lost_s_after"):
            _check_float(self, name, lo=0.0)


@dataclass(frozen=True, slots=True)
class Prompt(_Dictable):
    """An exercise offered to the wearer, why, and what became of it.

    Parameters
    ----------
    id : str
        Record id.
    t_ns : int
        When it was offered (UTC ns).
    reason : str
        One of :data:`PROMPT_REASONS`.
    exercise_id : str
        Which exercise was suggested (see :mod:`spasmwatch.coach`).
    wearer_id : str
        To whom.
    episode_id : str or None
        The episode whose onset triggered it.
    outcome : str
        One of :data:`PROMPT_OUTCOMES`.
    outcome_t_ns : int or None
        When the outcome was set (``None`` while pending).
    followup : Followup or None
        Spasm activity after vs before, filled once the window has passed.
    """

    id: str
    t_ns: int
    reason: str
    exercise_id: str
    wearer_id: str = "default"
    episode_id: str | None = None
    outcome: str = "pending"
    outcome_t_ns: int | None = None
    followup: Followup | None = None

    def __post_init__(self) -> None:
        _check_id(self, "id")
        _check_int(self, "t_ns")
        _check_choice(self, "reason", PROMPT_REASONS)
        _check_id(self, "exercise_id")
        _check_id(self, "wearer_id")
        _check_id(self, "episode_id", optional=True)
        _check_choice(self, "outcome", PROMPT_OUTCOMES)
        _check_int(self, "outcome_t_ns", optional=True)
        if isinstance(self.followup, dict):
            _set(self, "followup", Followup.from_dict(self.followup))
        if self.followup is not None and not isinstance(self.followup, Followup):
            raise _invalid("Prompt.followup", "a Followup or None", self.followup)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; ``followup`` is a nested dict or ``None``."""
        d = _to_dict(self)
        d["followup"] = None if self.followup is None else self.followup.to_dict()
        return d


@dataclass(frozen=True, slots=True)
class DiaryEntry(_Dictable):
    """Something the wearer noted: a medication they took, stretching, heat, fluids...

    spasmwatch only records what the wearer says; it never suggests a medication or dose.

    Parameters
    ----------
    id : str
        Record id.
    t_ns : int
        When it happened (UTC ns).
    kind : str
        One of :data:`DIARY_KINDS`.
    text : str
        Free text as written (for ``medication``: the name, e.g. ``"baclofen"``).
    dose : str or None
        Dose or amount as written, e.g. ``"10 mg"``, ``"500 ml"``, ``"20 min"``.
    wearer_id : str
        Whose diary.
    """

    id: str
    t_ns: int
    kind: str
    text: str = ""
    dose: str | None = None
    wearer_id: str = "default"

    def __post_init__(self) -> None:
        _check_id(self, "id")
        _check_int(self, "t_ns")
        _check_choice(self, "kind", DIARY_KINDS)
        _check_text(self, "text")
        _check_text(self, "dose", optional=True, max_len=200)
        _check_id(self, "wearer_id")


@dataclass(frozen=True, slots=True)
class Device(_Dictable):
    """A wearable known to this machine, and where it is worn.

    Parameters
    ----------
    id : str
        Device instance name (as in :attr:`spasmwatch.core.StreamSpec.device`).
    profile : str
        Profile id, e.g. ``"polar-h10"``.
    name : str
        Advertised name.
    address : str or None
        BLE address or platform UUID.
    battery_pct : float or None
        Last battery level, 0-100 %.
    firmware : str or None
        Firmware version string.
    placement_muscle : str or None
        Muscle or body site, e.g. ``"gastrocnemius"``, ``"quadriceps"``, ``"chest"``.
    placement_side : str or None
        One of :data:`PLACEMENT_SIDES`.
    wearer_id : str or None
        Who wears it.
    last_seen_ns : int or None
        Last contact (UTC ns).
    """

    id: str
    profile: str
    name: str = ""
    address: str | None = None
    battery_pct: float | None = None
    firmware: str | None = None
    placement_muscle: str | None = None
    placement_side: str | None = None
    wearer_id: str | None = None
    last_seen_ns: int | None = None

    def __post_init__(self) -> None:
        _check_id(self, "id")
        _check_id(self, "profile")
        _check_text(self, "name", max_len=200)
        _check_text(self, "address", optional=True, max_len=100)
        _check_float(self, "battery_pct", lo=0.0, hi=100.0, optional=True)
        _check_text(self, "firmware", optional=True, max_len=100)
        _check_text(self, "placement_muscle", optional=True, allow_empty=False, max_len=100)
        _check_choice(self, "placement_side", PLACEMENT_SIDES, optional=True)
        _check_id(self, "wearer_id", optional=True)
        _check_int(self, "last_seen_ns", optional=True)

    @property
    def placement(self) -> str | None:
        """``"<muscle>-<side>"`` (or just the muscle), ``None`` if unknown."""
        if self.placement_muscle is None:
            return None
        if self.placement_side is None:
            return self.placement_muscle
        return f"{self.placement_muscle}-{self.placement_side}"


@dataclass(frozen=True, slots=True)
class RecordingInfo(_Dictable):
    """Index entry of a recording folder (the data itself stays in the folder).

    Parameters
    ----------
    id : str
        Recording id.
    path : str
        Folder path.
    start_ns : int
        Start (UTC ns).
    end_ns : int or None
        End (UTC ns); ``None`` while recording.
    wearer_id : str
        Whose recording.
    devices : tuple of str
        Device instance names in it.
    """

    id: str
    path: str
    start_ns: int
    end_ns: int | None = None
    wearer_id: str = "default"
    devices: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        _check_id(self, "id")
        _check_text(self, "path", allow_empty=False)
        _check_int(self, "start_ns")
        _check_int(self, "end_ns", optional=True)
        if self.end_ns is not None and self.end_ns < self.start_ns:
            _check_interval(self)
        _check_id(self, "wearer_id")
        if isinstance(self.devices, list):
            _set(self, "devices", tuple(self.devices))
        if not isinstance(self.devices, tuple) or not all(
            isinstance(d, str) and d for d in self.devices
        ):
            raise _invalid("RecordingInfo.devices", "a tuple of device names", self.devices)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; ``devices`` is a list."""
        d = _to_dict(self)
        d["devices"] = list(self.devices)
        return d


@dataclass(frozen=True, slots=True)
class SignalLoss(_Dictable):
    """An interval in which a device's stream gave no usable signal.

    Parameters
    ----------
    id : str
        Record id.
    device : str
        Device instance name.
    stream : str
        Stream kind (``"emg"``, ``"acc"``...) or ``"*"`` for the whole device.
    start_ns, end_ns : int
        Interval (UTC ns), ``end_ns >= start_ns``.
    cause : str
        One of :data:`spasmwatch.core.GAP_CAUSES`.
    wearer_id : str
        Whose device.
    recording_id : str or None
        The recording it happened in.
    """

    id: str
    device: str
    stream: str
    start_ns: int
    end_ns: int
    cause: str = "unknown"
    wearer_id: str = "default"
    recording_id: str | None = None

    def __post_init__(self) -> None:
        _check_id(self, "id")
        _check_id(self, "device")
        _check_text(self, "stream", allow_empty=False, max_len=50)
        _check_int(self, "start_ns")
        _check_int(self, "end_ns")
        _check_interval(self)
        _check_choice(self, "cause", tuple(sorted(GAP_CAUSES)))
        _check_id(self, "wearer_id")
        _check_id(self, "recording_id", optional=True)

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return (self.end_ns - self.start_ns) / 1e9


@dataclass(frozen=True, slots=True)
class WearTime(_Dictable):
    """Seconds one device was worn on one local day.

    Parameters
    ----------
    wearer_id : str
        Whose.
    day : datetime.date
        Local calendar day.
    device : str
        Device instance name.
    worn_s : float
        Seconds on the body (0-86,400 plus a DST hour).
    usable_s : float
        Of those, seconds with usable signal (``<= worn_s``).
    """

    wearer_id: str
    day: dt.date
    device: str
    worn_s: float
    usable_s: float

    def __post_init__(self) -> None:
        _check_id(self, "wearer_id")
        if isinstance(self.day, str):
            try:
                _set(self, "day", dt.date.fromisoformat(self.day))
            except ValueError:
                raise _invalid("WearTime.day", "an ISO date YYYY-MM-DD", self.day) from None
        if not isinstance(self.day, dt.date) or isinstance(self.day, dt.datetime):
            raise _invalid("WearTime.day", "a datetime.date", self.day)
        _check_id(self, "device")
        _check_float(self, "worn_s", lo=0.0, hi=90_000.0)
        _check_float(self, "usable_s", lo=0.0, hi=90_000.0)
        if self.usable_s > self.worn_s:
            raise _invalid("WearTime.usable_s", f"<= worn_s ({self.worn_s})", self.usable_s)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; ``day`` is an ISO date string."""
        d = _to_dict(self)
        d["day"] = self.day.isoformat()
        return d


@dataclass(frozen=True, slots=True)
class SummaryBucket(_Dictable):
    """Episodes of one wearer in one local day or hour (see ``EventStore.daily_summary``).

    Parameters
    ----------
    start_ns, end_ns : int
        The bucket (UTC ns, ``[start, end)``); a local day is 23 or 25 h on DST days.
    label : str
        Local ISO date (daily) or local ISO date-time of the hour (hourly).
    n : int
        Episodes that started in the bucket.
    by_type : dict
        Type -> count (every type in :data:`EPISODE_TYPES`, zeros included).
    by_severity : dict
        Severity -> count.
    duration_s : float
        Summed durations (s) of those episodes.
    max_peak : float
        Highest peak intensity (× baseline), 0 when none.
    """

    start_ns: int
    end_ns: int
    label: str
    n: int
    by_type: dict[str, int]
    by_severity: dict[str, int]
    duration_s: float
    max_peak: float

    def __post_init__(self) -> None:
        if set(self.by_type) != set(EPISODE_TYPES):
            raise _invalid("SummaryBucket.by_type", f"keys {list(EPISODE_TYPES)}", self.by_type)


def placement_name(muscle: str | None, side: str | None) -> str | None:
    """``"<muscle>-<side>"`` (or just the muscle) as episodes carry it; ``None`` if unknown."""
    if muscle is None:
        return None
    return muscle if side is None else f"{muscle}-{side}"


@dataclass(frozen=True, slots=True)
class Placement(_Dictable):
    """Where one device sat on the body from ``since_ns`` until ``until_ns``.

    Parameters
    ----------
    device : str
        Device instance name (as in :attr:`spasmwatch.core.StreamSpec.device`).
    muscle : str
        Muscle or body site, lower case, e.g. ``"gastrocnemius"``, ``"quadriceps"``,
        ``"forearm_flexors"``.
    side : str or None
        One of :data:`PLACEMENT_SIDES`.
    since_ns : int
        From when (UTC ns).
    until_ns : int or None
        Until when (UTC ns, exclusive); ``None`` while it is still the current placement.
    wearer_id : str or None
        Who wore it.
    """

    device: str
    muscle: str
    side: str | None = None
    since_ns: int = 0
    until_ns: int | None = None
    wearer_id: str | None = None

    def __post_init__(self) -> None:
        _check_id(self, "device")
        _check_text(self, "muscle", allow_empty=False, max_len=100)
        if self.muscle.strip() != self.muscle or "-" in self.muscle:
            raise _invalid(
                "Placement.muscle", "a name without '-' or surrounding spaces", self.muscle
            )
        _check_choice(self, "side", PLACEMENT_SIDES, optional=True)
        _check_int(self, "since_ns")
        _check_int(self, "until_ns", optional=True)
        if self.until_ns is not None and self.until_ns < self.since_ns:
            raise _invalid("Placement.until_ns", f">= since_ns ({self.since_ns})", self.until_ns)
        _check_id(self, "wearer_id", optional=True)

    @property
    def name(self) -> str:
        """``"<muscle>-<side>"`` or the muscle: the value of ``Episode.placement``."""
        out = placement_name(self.muscle, self.side)
        assert out is not None
        return out


@dataclass(frozen=True, slots=True)
class SelfReport(_Dictable):
    """What the wearer said: a spasm they logged, or an answer to "was that a spasm?".

    Parameters
    ----------
    id : str
        Record id.
    t_ns : int
        When the spasm happened (``logged``) or when the wearer answered (``answer``), UTC ns.
    kind : str
        ``"logged"`` ("log one now") or ``"answer"`` (to an automatic detection).
    answer : str
        One of :data:`SELF_REPORT_ANSWERS`; ``"yes"`` for a logged spasm.
    wearer_id : str
        Who reported.
    episode_id : str or None
        The episode logged (source ``self-report``) or asked about.
    label_id : str or None
        The ``self-report`` label made from it (``None`` for ``not_sure``: not usable as
        ground truth).
    severity : str or None
        One of ``mild``, ``moderate``, ``severe`` if the wearer said.
    body_site : str or None
        Where, in the wearer's words or a placement name (``"calf-left"``).
    trigger : str or None
        One of :data:`TRIGGERS`.
    trigger_text : str or None
        Free text for ``trigger="other"`` (or a detail); never shown to researchers.
    """

    id: str
    t_ns: int
    kind: str
    answer: str
    wearer_id: str = "default"
    episode_id: str | None = None
    label_id: str | None = None
    severity: str | None = None
    body_site: str | None = None
    trigger: str | None = None
    trigger_text: str | None = None

    def __post_init__(self) -> None:
        _check_id(self, "id")
        _check_int(self, "t_ns")
        _check_choice(self, "kind", ("logged", "answer"))
        _check_choice(self, "answer", SELF_REPORT_ANSWERS)
        if self.kind == "logged" and self.answer != "yes":
            raise _invalid("SelfReport.answer", "'yes' for a logged spasm", self.answer)
        _check_id(self, "wearer_id")
        _check_id(self, "episode_id", optional=True)
        _check_id(self, "label_id", optional=True)
        if self.severity is not None and not isinstance(self.severity, str):
            _set(self, "severity", SEVERITIES[severity_rank(self.severity) - 1])
        _check_choice(self, "severity", SEVERITIES, optional=True)
        _check_text(self, "body_site", optional=True, allow_empty=False, max_len=100)
        _check_choice(self, "trigger", TRIGGERS, optional=True)
        _check_text(self, "trigger_text", optional=True, max_len=500)
