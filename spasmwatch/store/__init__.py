"""spasmwatch.store: recordings (Arrow IPC segments -> Parquet) and the event store."""

from spasmwatch.store._db import EventStore, resolve_tz
from spasmwatch.store._migrations import LATEST_VERSION, MIGRATIONS, Migration
from spasmwatch.store._recording import (
    Recording,
    RecordingWriter,
    open_recording,
    write_recording,
)
from spasmwatch.store._values import (
    DIARY_KINDS,
    PLACEMENT_SIDES,
    PROMPT_OUTCOMES,
    PROMPT_REASONS,
    SELF_REPORT_ANSWERS,
    TRIGGERS,
    Device,
    DiaryEntry,
    Followup,
    Placement,
    Prompt,
    RecordingInfo,
    SelfReport,
    SignalLoss,
    SummaryBucket,
    Wearer,
    WearTime,
)

__all__ = [
    "DIARY_KINDS",
    "LATEST_VERSION",
    "MIGRATIONS",
    "PLACEMENT_SIDES",
    "PROMPT_OUTCOMES",
    "PROMPT_REASONS",
    "SELF_REPORT_ANSWERS",
    "TRIGGERS",
    "Device",
    "DiaryEntry",
    "EventStore",
    "Followup",
    "Migration",
    "Placement",
    "Prompt",
    "Recording",
    "RecordingInfo",
    "RecordingWriter",
    "SelfReport",
    "SignalLoss",
    "SummaryBucket",
    "WearTime",
    "Wearer",
    "open_recording",
    "resolve_tz",
    "write_recording",
]
