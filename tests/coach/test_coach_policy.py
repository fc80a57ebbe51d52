"""The coach's prompt policy: when it offers an exercise, and why it does not."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spasmwatch.coach import REFUSALS, Coach, PromptPolicy
from spasmwatch.episodes import Episode
from spasmwatch.errors import ConfigError, NotFoundError

S = 1_000_000_000
MIN = 60 * S
# 2024-06-03 12:00 UTC (a Monday), policy tz UTC
NOON = int(dt.datetime(2024, 6, 3, 12, tzinfo=dt.UTC).timestamp()) * S


def policy(**kw) -> PromptPolicy:
    base = dict(tz="UTC", cooldown_s=1200, daily_cap=3, quiet_start="22:00", quiet_end="07:00")
    base.update(kw)
    return PromptPolicy(**base)


def coach(**kw) -> Coach:
    counter = itertools.count()
    return Coach(policy(**kw), id_factory=lambda: f"p{next(counter)}")


_ids = itertools.count()


def onset(t: int, **kw) -> Episode:
    base = dict(
        id=f"e{next(_ids)}",
        start_ns=t,
        end_ns=t,
        type="tonic",
        severity="moderate",
        confidence=0.9,
        final=False,
    )
    base.update(kw)
    return Episode(**base)


def test_onset_prompts_with_default_exercise():
    c = coach()
    e = onset(NOON)
    d = c.on_episode_onset(e, NOON)
    assert d.prompted and d.reason == "prompted"
    p = d.prompt
    assert (p.reason, p.episode_id, p.exercise_id, p.outcome) == (
        "episode_onset",
        e.id,
        "paced-6",
        "pending",
    )
    assert p.t_ns == NOON and c.pending == (p,)
    # the final update of the same episode does not prompt again
    assert c.on_episode_onset(e, NOON + 30 * S).reason == "duplicate"


def test_cooldown_then_prompt_again():
    c = coach()
    p = c.on_episode_onset(onset(NOON), NOON).prompt
    c.respond(p.id, "dismissed", NOON + 10 * S)
    d = c.on_episode_onset(onset(NOON + 19 * MIN), NOON + 19 * MIN)
    assert d.reason == "cooldown" and not d.prompted and "60 s left" in d.detail
    assert c.on_episode_onset(onset(NOON + 20 * MIN), NOON + 20 * MIN).prompted


def test_pending_prompt_blocks_until_answered_or_ignored():
    c = coach(cooldown_s=0)
    p = c.on_episode_onset(onset(NOON), NOON).prompt
    assert c.on_episode_onset(onset(NOON + S), NOON + S).reason == "pending"
    assert c.tick(NOON + 299 * S) == []
    ignored = c.tick(NOON + 300 * S)
    assert [(q.id, q.outcome, q.outcome_t_ns) for q in ignored] == [
        (p.id, "ignored", NOON + 300 * S)
    ]
    assert c.pending == ()
    assert c.on_episode_onset(onset(NOON + 301 * S), NOON + 301 * S).prompted


def test_quiet_hours_wrap_midnight():
    c = coach()
    for hh, mm, quiet in [
        (21, 59, False),
        (22, 0, True),
        (3, 0, True),
        (6, 59, True),
        (7, 0, False),
    ]:
        t = int(dt.datetime(2024, 6, 4, hh, mm, tzinfo=dt.UTC).timestamp()) * S
        c.reset()
        d = c.on_episode_onset(onset(t), t)
        assert (d.reason == "quiet_hours") is quiet, (hh, mm, d)
    assert policy(quiet_start=None, quiet_end=None).in_quiet_hours(dt.time(3)) is False
    assert policy(quiet_start="13:00", quiet_end="14:00").in_quiet_hours(dt.time(13, 30))


def test_quiet_hours_follow_the_policy_time_zone():
    # 12:00 UTC is 22:00 in Vladivostok (UTC+10): quiet there
    d = Coach(policy(tz="Asia/Vladivostok")).on_episode_onset(onset(NOON), NOON)
    assert d.reason == "quiet_hours"


def test_daily_cap_resets_at_local_midnight():
    c = coach(cooldown_s=0, daily_cap=2, quiet_start=None, quiet_end=None)
    t = NOON
    for _ in range(2):
        p = c.on_episode_onset(onset(t), t).prompt
        c.respond(p.id, "done", t + S)
        t += MIN
    assert c.on_episode_onset(onset(t), t).reason == "daily_cap"
    assert c.status(t)["prompts_today"] == 2
    tomorrow = NOON + 13 * 3600 * S  # 01:00 next day
    assert c.on_episode_onset(onset(tomorrow), tomorrow).prompted


def test_asleep_in_exercise_snoozed_disabled():
    c = coach(cooldown_s=0)
    c.on_sleep(True)
    assert c.on_episode_onset(onset(NOON), NOON).reason == "asleep"
    c.on_sleep(False)
    c.exercise_started(NOON)
    assert c.on_episode_onset(onset(NOON), NOON).reason == "in_exercise"
    assert c.on_demand(NOON).reason == "in_exercise"
    assert c.exercise_finished(NOON + MIN) is None
    c.snooze(NOON + MIN, 600)
    assert c.on_episode_onset(onset(NOON), NOON + 2 * MIN).reason == "snoozed"
    assert c.on_episode_onset(onset(NOON), NOON + 11 * MIN).prompted
    off = coach(enabled=False)
    assert off.on_episode_onset(onset(NOON), NOON).reason == "disabled"
    assert off.on_demand(NOON).prompted  # the wearer's own request is always honoured


def test_on_demand_ignores_policy_and_does_not_count():
    c = coach(daily_cap=0)
    t = int(dt.datetime(2024, 6, 4, 23, tzinfo=dt.UTC).timestamp()) * S  # quiet hours
    d = c.on_demand(t, "box-4")
    assert d.prompted and d.prompt.exercise_id == "box-4" and d.prompt.reason == "on_demand"
    assert c.pending == ()  # nothing to wait for: the exercise starts right away
    assert c.status(t)["prompts_today"] == 0
    with pytest.raises(ConfigError, match="unknown exercise"):
        c.on_demand(t, "yoga")


def test_low_confidence_and_mild_episodes():
    c = coach(min_confidence=0.7, min_severity="moderate")
    assert c.on_episode_onset(onset(NOON, confidence=0.5), NOON).reason == "low_confidence"
    assert c.on_episode_onset(onset(NOON, severity="mild"), NOON).reason == "below_severity"
    assert coach(prompt_on_onset=False).on_episode_onset(onset(NOON), NOON).reason == "onset_off"


def test_sustained_tone_prompts_once_per_run():
    c = coach(min_sustained_tone_s=120, tone_threshold=2.0, cooldown_s=0)
    decisions = [c.on_tone(2.5, NOON + i * S) for i in range(0, 200)]
    fired = [(i, d) for i, d in enumerate(decisions) if d is not None]
    assert [i for i, _ in fired] == [120]
    assert fired[0][1].prompt.reason == "sustained_tone"
    c.respond(fired[0][1].prompt.id, "dismissed", NOON + 200 * S)
    # dipping to 1.7 (> 0.8 * 2.0) does not end the run; no second prompt
    assert c.on_tone(1.7, NOON + 201 * S) is None
    assert all(c.on_tone(2.5, NOON + i * S) is None for i in range(202, 400))
    # falling below the release level ends it; a new run needs the full 120 s again
    assert c.on_tone(1.0, NOON + 400 * S) is None
    later = [c.on_tone(3.0, NOON + i * S) for i in range(401, 600)]
    assert [i for i, d in zip(range(401, 600), later) if d is not None] == [521]


def test_tone_gap_restarts_the_run():
    c = coach(min_sustained_tone_s=60, tone_max_gap_s=10)
    assert c.on_tone(3.0, NOON) is None
    # 50 s without samples (signal lost): the run restarts at 50 s
    assert all(c.on_tone(3.0, NOON + i * S) is None for i in range(50, 110, 5))
    assert c.on_tone(3.0, NOON + 110 * S).prompted


def test_respond_snooze_and_exercise_outcomes():
    c = coach(cooldown_s=0, snooze_s=900)
    p = c.on_episode_onset(onset(NOON), NOON).prompt
    snoozed = c.respond(p.id, "snoozed", NOON + 5 * S)
    assert (snoozed.outcome, snoozed.outcome_t_ns) == ("snoozed", NOON + 5 * S)
    assert c.on_episode_onset(onset(NOON + MIN), NOON + MIN).reason == "snoozed"
    t = NOON + 16 * MIN
    p2 = c.on_episode_onset(onset(t), t).prompt
    c.exercise_started(t + 3 * S, prompt_id=p2.id)
    assert c.pending == () and c.in_exercise
    assert c.tick(t + 10 * MIN) == []  # exercising: not ignored
    done = c.exercise_finished(t + 63 * S, completed=True)
    assert (done.id, done.outcome, done.outcome_t_ns) == (p2.id, "done", t + 63 * S)
    p3 = c.on_episode_onset(onset(t + 20 * MIN), t + 20 * MIN).prompt
    c.exercise_started(t + 20 * MIN, prompt_id=p3.id)
    assert c.exercise_finished(t + 21 * MIN, completed=False).outcome == "dismissed"
    with pytest.raises(NotFoundError):
        c.respond("nope", "done", t)
    with pytest.raises(ConfigError):
        c.respond(p3.id, "ignored", t)


def test_policy_validation_messages():
    with pytest.raises(ConfigError, match="cooldown_s"):
        PromptPolicy(cooldown_s=-1)
    with pytest.raises(ConfigError, match="quiet_start"):
        PromptPolicy(quiet_start="25:00")
    with pytest.raises(ConfigError, match="both"):
        PromptPolicy(quiet_start="22:00", quiet_end=None)
    with pytest.raises(ConfigError, match="daily_cap"):
        PromptPolicy(daily_cap=1.5)
    with pytest.raises(ConfigError, match="unknown exercise"):
        PromptPolicy(exercise_id="yoga")
    with pytest.raises(ConfigError, match="tz"):
        PromptPolicy(tz="Mars/Olympus")


# ------------------------------------------------------------------ property-based policy

_ANSWERS = ["done", "dismissed", "snoozed"]
_event = st.one_of(
    st.tuples(st.just("onset"), st.integers(1, 3600)),
    st.tuples(st.just("tone"), st.integers(1, 120), st.floats(0.0, 5.0)),
    st.tuples(st.just("respond"), st.integers(1, 600), st.sampled_from(_ANSWERS)),
    st.tuples(st.just("tick"), st.integers(1, 3600)),
    st.tuples(st.just("sleep"), st.integers(1, 3600), st.booleans()),
    st.tuples(st.just("demand"), st.integers(1, 3600)),
)


def _run(c: Coach, events) -> list:
    t = NOON
    out = []
    for ev in events:
        t += ev[1] * S
        if ev[0] == "onset":
            out.append(c.on_episode_onset(onset(t), t))
        elif ev[0] == "tone":
            out.append(c.on_tone(ev[2], t))
        elif ev[0] == "respond" and c.pending:
            out.append(c.respond(c.pending[0].id, ev[2], t))
        elif ev[0] == "tick":
            out.append(c.tick(t))
        elif ev[0] == "sleep":
            c.on_sleep(ev[2])
        elif ev[0] == "demand":
            out.append(c.on_demand(t))
    return out


@given(st.lists(_event, max_size=80))
def test_policy_invariants_hold_for_any_event_sequence(events):
    pol = policy(cooldown_s=900, daily_cap=4, min_sustained_tone_s=60)
    counter = itertools.count()
    c = Coach(pol, id_factory=lambda: f"p{next(counter)}")
    out = _run(c, events)
    decisions = [d for d in out if hasattr(d, "trigger")]
    prompted = [d for d in decisions if d.prompted and d.trigger != "on_demand"]
    for a, b in itertools.pairwise(prompted):
        assert (b.t_ns - a.t_ns) >= 900 * S  # cooldown
    per_day: dict = {}
    for d in prompted:
        local = dt.datetime.fromtimestamp(d.t_ns / S, dt.UTC)
        assert not pol.in_quiet_hours(local.time())
        per_day[local.date()] = per_day.get(local.date(), 0) + 1
    assert all(n <= 4 for n in per_day.values())
    assert all(d.reason in ("prompted", *REFUSALS) for d in decisions)
    assert all((d.reason == "prompted") == d.prompted for d in decisions)
    # deterministic: reset and replay give the same decisions
    counter2 = itertools.count()
    c2 = Coach(pol, id_factory=lambda: f"p{next(counter2)}")
    replay = _run(c2, events)
    assert [getattr(d, "reason", None) for d in replay] == [getattr(d, "reason", None) for d in out]
