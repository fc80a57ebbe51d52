"""Follow-up: spasm activity after a prompt vs before, computed from a real store."""

from __future__ import annotations

import pytest

from spasmwatch.coach import compute_followup, fill_prompt_followups
from spasmwatch.episodes import Episode, Label
from spasmwatch.store import EventStore, Prompt, SignalLoss

S = 1_000_000_000
T = 1_717_200_000 * S


def _ep(i, start_s, dur_s, wearer="default"):
    return Episode(
        id=f"e{i}",
        start_ns=T + start_s * S,
        end_ns=T + (start_s + dur_s) * S,
        type="tonic",
        severity=2,
        confidence=0.9,
        wearer_id=wearer,
    )


@pytest.fixture
def store(tmp_path):
    with EventStore(tmp_path / "e.db") as s:
        yield s


def test_counts_before_and_after(store):
    # window 600 s around the prompt at T
    store.add_episodes(
        [
            _ep(0, -700, 20),  # outside
            _ep(1, -610, 30),  # starts before the window, 20 s inside it
            _ep(2, -300, 10),  # before
            _ep(3, -5, 5),  # the trigger
            _ep(4, 100, 40),  # after
            _ep(5, 590, 30),  # after, 10 s inside
            _ep(6, 650, 10),  # outside
            _ep(7, 200, 10, wearer="other"),
            _ep(8, 300, 10),  # a false alarm: ignored
        ]
    )
    store.add_label(Label("fa", T + 300 * S, T + 310 * S, episode_id="e8", is_false_alarm=True))
    store.upsert_signal_loss(SignalLoss("l1", "myo", "emg", T + 400 * S, T + 460 * S))
    store.upsert_signal_loss(SignalLoss("l2", "h10", "acc", T + 430 * S, T + 490 * S))
    p = Prompt("p", T, "episode_onset", "paced-6", episode_id="e3")
    store.add_prompt(p)
    fu = compute_followup(store, p, 600)
    assert (fu.episodes_before, fu.episodes_after) == (1, 2)
    assert fu.active_s_before == pytest.approx(20 + 10)
    assert fu.active_s_after == pytest.approx(40 + 10)
    assert fu.lost_s_before == 0 and fu.lost_s_after == pytest.approx(90)  # union 400-490


def test_fill_only_prompts_whose_window_has_passed(store):
    store.add_prompt(Prompt("old", T, "episode_onset", "paced-6", outcome="done"))
    store.add_prompt(Prompt("new", T + 1000 * S, "episode_onset", "paced-6"))
    store.add_episode(_ep(1, 100, 10))
    filled = fill_prompt_followups(store, now_ns=T + 1200 * S, window_s=600)
    assert [p.id for p in filled] == ["old"]
    assert store.get_prompt("old").followup.episodes_after == 1
    assert store.get_prompt("new").followup is None
    assert fill_prompt_followups(store, now_ns=T + 1200 * S, window_s=600) == []
    filled = fill_prompt_followups(store, now_ns=T + 1600 * S, window_s=600)
    assert [p.id for p in filled] == ["new"]
