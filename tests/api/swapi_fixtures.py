"""Test data shared by the API and browser tests: a recording folder and seeded store rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spasmwatch.core import Gap, SampleBlock, StreamSpec
from spasmwatch.episodes._types import Episode, new_id
from spasmwatch.store import DiaryEntry, EventStore, Prompt, RecordingInfo, write_recording

ROLES = ("wearer", "clinician", "researcher")
#: 2026-03-02 08:00:00 UTC, a Monday
T0 = 1_772_438_400 * 10**9
S = 10**9

EMG = StreamSpec("myo", "emg", ("c1", "c2"), 200.0, "uV")
ACC = StreamSpec("myo", "acc", ("x", "y", "z"), 50.0, "mG")


def make_recording(folder: Path, t0: int = T0, seconds: int = 120) -> str:
    """A two-stream recording with a burst at 30-40 s and a 2 s gap at 60 s; returns its id."""
    rng = np.random.default_rng(7)
    blocks = []
    for spec in (EMG, ACC):
        n = int(seconds * spec.rate_hz)
        t = t0 + (np.arange(n) * spec.period_ns).astype(np.int64)
        x = rng.normal(0, 5, (n, spec.n_channels)).astype(np.float32)
        burst = (t >= t0 + 30 * S) & (t < t0 + 40 * S)
        x[burst] *= 20
        cut = int(60 * spec.rate_hz)
        skip = int(2 * spec.rate_hz)
        blocks.append(SampleBlock(spec, t[:cut], x[:cut]))
        gap = Gap(int(t[cut]), int(t[cut + skip]), skip, "packet_loss")
        blocks.append(
            SampleBlock(spec, t[cut + skip :], x[cut + skip :], first_index=cut + skip, gaps=(gap,))
        )
    rec = write_recording(folder, blocks, devices=[{"id": "myo"}], meta={"wearer_id": "default"})
    return rec.id


def seed(store: EventStore, recording_id: str, rec_path: Path) -> tuple[list[str], str, str]:
    store.upsert_recording(
        RecordingInfo(recording_id, str(rec_path), T0, T0 + 120 * S, "default", ("myo",))
    )
    eps = [
        Episode(
            new_id(),
            T0 + 30 * S,
            T0 + 40 * S,
            "tonic",
            6.0,
            "severe",
            0.9,
            "auto",
            model_id="emg-acc-1",
            device="myo",
            recording_id=recording_id,
        ),
        Episode(new_id(), T0 + 3600 * S, T0 + 3605 * S, "clonic", 3.0, "mild", 0.7, "auto"),
        Episode(
            new_id(), T0 + 86_400 * S, T0 + 86_420 * S, "mixed", 4.0, "moderate", 1.0, "self-report"
        ),
    ]
    for e in eps:
        store.add_episode(e)
    p = Prompt(new_id(), T0 + 31 * S, "episode_onset", "paced-breathing", episode_id=eps[0].id)
    store.add_prompt(p)
    d = DiaryEntry(new_id(), T0 + 7200 * S, "medication", "baclofen", "10 mg")
    store.add_diary(d)
    return [e.id for e in eps], p.id, d.id
