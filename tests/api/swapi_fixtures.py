"""Test data shared by the API and browser tests: recording folders and seeded store rows
of two wearers, and the tokens of the authorisation matrix.

Wearer A (``alice``) has the main recording, three episodes, a prompt, a diary entry, a
label, wear time and a placement; wearer B (``bob``) has one of each. The principals:

=================  ==========================================================
``wearer``         wearer token of A
``wearer_b``       wearer token of B
``clinician``      clinician assigned to A only
``clinician_none`` clinician with no wearer assigned
``researcher``     researcher in study ``S-A`` (A enrolled)
``researcher_b``   researcher in study ``S-B`` (B enrolled)
=================  ==========================================================
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spasmwatch.core import Gap, SampleBlock, StreamSpec
from spasmwatch.episodes._types import Episode, Label, new_id
from spasmwatch.store import (
    DiaryEntry,
    EventStore,
    Prompt,
    RecordingInfo,
    SignalLoss,
    Wearer,
    write_recording,
)

ROLES = ("wearer", "clinician", "researcher")
PRINCIPALS = ("wearer", "wearer_b", "clinician", "clinician_none", "researcher", "researcher_b")
#: who sees A, who sees B
SEES = {"A": {"wearer", "clinician", "researcher"}, "B": {"wearer_b", "researcher_b"}}
ROLE_OF = {p: p.split("_")[0] for p in PRINCIPALS}
A, B = "alice", "bob"
NAMES = {A: "Alice Adams", B: "Bob Brown"}
#: 2026-03-02 08:00:00 UTC, a Monday
T0 = 1_772_438_400 * 10**9
S = 10**9

EMG = StreamSpec("myo", "emg", ("c1", "c2"), 200.0, "uV")
ACC = StreamSpec("myo", "acc", ("x", "y", "z"), 50.0, "mG")


def make_recording(folder: Path, t0: int = T0, seconds: int = 120, wearer_id: str = A) -> str:
    """A two-stream recording with a burst at 30-40 s and a 2 s gap at 60 s; returns its id."""
    rng = np.random.default_rng(7)
    blocks = []
    for spec in (EMG, ACC):
        n = int(seconds * spec.rate_hz)
        t = t0 + (np.arange(n) * spec.period_ns).astype(np.int64)
        x = rng.normal(0, 5, (n, spec.n_channels)).astype(np.float32)
        burst = (t >= t0 + 30 * S) & (t < t0 + 40 * S)
        x[burst] *= 20
        cut = min(int(60 * spec.rate_hz), n - int(3 * spec.rate_hz))
        skip = int(2 * spec.rate_hz)
        blocks.append(SampleBlock(spec, t[:cut], x[:cut]))
        gap = Gap(int(t[cut]), int(t[cut + skip]), skip, "packet_loss")
        blocks.append(
            SampleBlock(spec, t[cut + skip :], x[cut + skip :], first_index=cut + skip, gaps=(gap,))
        )
    rec = write_recording(folder, blocks, devices=[{"id": "myo"}], meta={"wearer_id": wearer_id})
    return rec.id


@dataclass
class Seeded:
    recording_id: str
    episode_ids: list[str]
    prompt_id: str
    diary_id: str
    label_id: str
    b_recording_id: str
    b_episode_id: str
    b_prompt_id: str
    b_diary_id: str
    b_label_id: str


def seed(store: EventStore, data_dir: Path) -> Seeded:
    """Rows of wearers A and B (recordings written under ``data_dir``)."""
    for w, name in NAMES.items():
        store.upsert_wearer(Wearer(w, w, name))
    rec_id = make_recording(data_dir / "rec1")
    store.upsert_recording(
        RecordingInfo(rec_id, str(data_dir / "rec1"), T0, T0 + 120 * S, A, ("myo",))
    )
    store.set_placement("myo", "gastrocnemius", "left", T0 - 3600 * S, wearer_id=A)
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
            wearer_id=A,
            model_id="emg-acc-1",
            device="myo",
            placement="gastrocnemius-left",
            recording_id=rec_id,
        ),
        Episode(
            new_id(),
            T0 + 3600 * S,
            T0 + 3605 * S,
            "clonic",
            3.0,
            "mild",
            0.7,
            "auto",
            wearer_id=A,
            device="wrist",
            placement="forearm_flexors-right",
        ),
        Episode(
            new_id(),
            T0 + 86_400 * S,
            T0 + 86_420 * S,
            "mixed",
            4.0,
            "moderate",
            1.0,
            "self-report",
            wearer_id=A,
        ),
    ]
    for e in eps:
        store.add_episode(e)
    p = Prompt(
        new_id(), T0 + 31 * S, "episode_onset", "paced-breathing", wearer_id=A, episode_id=eps[0].id
    )
    store.add_prompt(p)
    d = DiaryEntry(new_id(), T0 + 7200 * S, "medication", "baclofen", "10 mg", wearer_id=A)
    store.add_diary(d)
    lab = Label(
        new_id(),
        T0 + 3600 * S,
        T0 + 3605 * S,
        "clonic",
        "researcher-0",
        wearer_id=A,
        episode_id=eps[1].id,
        note="confirmed on video",
    )
    store.add_label(lab)
    day = dt.date(2026, 3, 2)
    store.add_wear_time(A, day, "myo", 14 * 3600.0, 12 * 3600.0)
    store.add_wear_time(A, day + dt.timedelta(days=1), "myo", 3 * 3600.0, 2 * 3600.0)

    b_rec = make_recording(data_dir / "rec-b", T0 + 600 * S, seconds=20, wearer_id=B)
    store.upsert_recording(
        RecordingInfo(b_rec, str(data_dir / "rec-b"), T0 + 600 * S, T0 + 620 * S, B, ("myo-b",))
    )
    b_ep = Episode(
        new_id(),
        T0 + 605 * S,
        T0 + 615 * S,
        "tonic",
        5.0,
        "moderate",
        0.8,
        "auto",
        wearer_id=B,
        placement="quadriceps-right",
        recording_id=b_rec,
    )
    store.add_episode(b_ep)
    b_p = Prompt(new_id(), T0 + 606 * S, "episode_onset", "paced-breathing", wearer_id=B)
    store.add_prompt(b_p)
    b_d = DiaryEntry(new_id(), T0 + 700 * S, "heat", "bob's hot bath", wearer_id=B)
    store.add_diary(b_d)
    b_l = Label(
        new_id(),
        T0 + 605 * S,
        T0 + 615 * S,
        "tonic",
        "researcher-0",
        wearer_id=B,
        episode_id=b_ep.id,
    )
    store.add_label(b_l)
    store.add_signal_loss(
        SignalLoss(new_id(), "myo-b", "emg", T0 + 610 * S, T0 + 612 * S, wearer_id=B)
    )
    store.add_wear_time(B, day, "myo-b", 20 * 3600.0, 19 * 3600.0)
    return Seeded(
        rec_id, [e.id for e in eps], p.id, d.id, lab.id, b_rec, b_ep.id, b_p.id, b_d.id, b_l.id
    )


def make_tokens(tokens, suffix: str = "1") -> dict[str, str]:
    """The matrix's principals as tokens (see the module docstring)."""
    tokens.enrol("S-A", A)
    tokens.enrol("S-B", B)
    return {
        "wearer": tokens.create("wearer", f"wearer-{suffix}", wearer_id=A)[0],
        "wearer_b": tokens.create("wearer", f"wearer-b{suffix}", wearer_id=B)[0],
        "clinician": tokens.create("clinician", f"clinician-{suffix}", wearers=[A])[0],
        "clinician_none": tokens.create("clinician", f"clinician-none{suffix}")[0],
        "researcher": tokens.create("researcher", f"researcher-{suffix}", studies=["S-A"])[0],
        "researcher_b": tokens.create("researcher", f"researcher-b{suffix}", studies=["S-B"])[0],
    }
