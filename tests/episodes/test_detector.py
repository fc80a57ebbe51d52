"""EpisodeDetector: hand-built sequences with exact expectations, and chunked == batch."""

from __future__ import annotations

import dataclasses
import itertools
from typing import ClassVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spasmwatch.episodes import (
    DetectorConfig,
    EpisodeDetector,
    EpisodeUpdate,
    detect_episodes,
    detect_updates,
)
from spasmwatch.errors import ConfigError, SignalError

S = 1_000_000_000
HOP = 0.25
T0 = 1_700_000_000 * S
CFG = DetectorConfig(
    window_s=2.0,
    hop_s=HOP,
    onset_threshold=0.6,
    offset_threshold=0.4,
    confirm_windows=2,
    min_duration_s=2.5,
    merge_gap_s=1.0,
)


def times(n, start=0):
    return T0 + (np.arange(start, start + n) * HOP * S).astype(np.int64)


def seq(*runs):
    """p sequence from (value, n_windows) runs."""
    return np.concatenate([np.full(n, v, dtype=float) for v, n in runs])


def kinds(ups):
    return [u.kind for u in ups]


def test_one_episode_onset_then_final_with_exact_times():
    p = seq((0.1, 10), (0.9, 20), (0.1, 20))
    ups = detect_updates(times(len(p)), p, config=CFG)
    assert kinds(ups) == ["onset", "final"]
    onset, final = ups
    t = times(len(p))
    # onset at the 2nd window above 0.6 (index 11); alarm = that window's end
    assert onset.t_ns == onset.alarm_ns == t[11]
    # start = start of the first above-onset window (index 10) = its end - window_s
    assert onset.episode.start_ns == t[10] - 2 * S
    assert onset.episode.end_ns == t[11] and onset.episode.final is False
    # end = end of last window >= offset (index 29); closed when > merge_gap later
    e = final.episode
    assert (e.start_ns, e.end_ns) == (t[10] - 2 * S, t[29])
    assert final.t_ns == t[34]  # first window with t - t[29] > 1.0 s
    assert final.alarm_ns == t[11]
    assert e.final is True and e.id == onset.episode.id
    assert e.confidence == pytest.approx(0.9)
    assert e.type == "unknown" and e.severity == "mild" and e.peak_intensity == 0.0
    assert e.source == "auto"


def test_type_confidence_severity_from_windows():
    n = 12
    p = np.r_[np.zeros(2), np.full(n, 0.8), np.zeros(8)]
    pt = np.zeros((len(p), 4))
    pt[:, 0] = 0.3  # tonic
    pt[2:8, 1] = 0.9  # clonic on the first half
    pt[8:14, 1] = 0.1
    inten = np.r_[np.zeros(2), np.linspace(1, 3.5, n), np.zeros(8)]
    (ep,) = detect_episodes(times(len(p)), p, pt, inten, config=CFG, model_id="m1", wearer_id="w1")
    assert ep.type == "clonic"  # mean clonic 0.5 > tonic 0.3
    assert ep.peak_intensity == pytest.approx(3.5)
    assert ep.severity == "moderate"
    assert ep.model_id == "m1" and ep.wearer_id == "w1"
    inten[5] = 4.0
    (ep,) = detect_episodes(times(len(p)), p, pt, inten, config=CFG)
    assert ep.severity == "severe"
    inten[5] = 1.9
    inten[2:14] = 1.0
    inten[5] = 1.99
    (ep,) = detect_episodes(times(len(p)), p, pt, inten, config=CFG)
    assert ep.severity == "mild"


def test_class_names_outside_episode_types_map_to_unknown():
    cfg = DetectorConfig(class_names=("tonic", "weird"), min_duration_s=0)
    p = seq((0.9, 6), (0.0, 10))
    pt = np.tile([0.2, 0.8], (len(p), 1))
    (ep,) = detect_episodes(times(len(p)), p, pt, config=cfg)
    assert ep.type == "unknown"


def test_single_window_above_onset_gives_nothing():
    p = seq((0.0, 5), (0.95, 1), (0.0, 10))
    assert detect_updates(times(len(p)), p, config=CFG) == []


def test_short_episode_is_retracted():
    # 2 windows -> span 2.25 s < 2.5 s
    p = seq((0.0, 5), (0.9, 2), (0.0, 10))
    ups = detect_updates(times(len(p)), p, config=CFG)
    assert kinds(ups) == ["onset", "retract"]
    assert ups[0].episode.id == ups[1].episode.id
    # 3 windows -> 2.5 s: kept
    p = seq((0.0, 5), (0.9, 3), (0.0, 10))
    assert kinds(detect_updates(times(len(p)), p, config=CFG)) == ["onset", "final"]


def test_hysteresis_keeps_episode_between_thresholds():
    p = seq((0.0, 4), (0.9, 4), (0.5, 20), (0.3, 10))
    (ep,) = detect_episodes(times(len(p)), p, config=CFG)
    t = times(len(p))
    assert ep.end_ns == t[27]
    # 0.5 never starts an episode
    p = seq((0.0, 4), (0.5, 20))
    assert detect_updates(times(len(p)), p, config=CFG) == []


def test_merge_within_merge_gap_and_split_beyond():
    # below offset for 3 windows (0.75 s <= 1.0 s), then a re-onset: one episode
    p = seq((0.0, 4), (0.9, 12), (0.1, 3), (0.9, 12), (0.0, 10))
    ups = detect_updates(times(len(p)), p, config=CFG)
    assert kinds(ups) == ["onset", "final"]
    t = times(len(p))
    assert ups[1].episode.end_ns == t[4 + 12 + 3 + 11]
    # confidence includes the low windows in between: (24*0.9 + 3*0.1) / 27
    assert ups[1].episode.confidence == pytest.approx((24 * 0.9 + 0.3) / 27)
    # below offset for 5 windows (1.25 s > 1.0 s): two episodes
    p = seq((0.0, 4), (0.9, 12), (0.1, 5), (0.9, 12), (0.0, 10))
    assert kinds(detect_updates(times(len(p)), p, config=CFG)) == [
        "onset",
        "final",
        "onset",
        "final",
    ]


def test_gap_closes_episode_and_gap_windows_start_nothing():
    p = seq((0.0, 4), (0.9, 20), (0.0, 6))
    gap = np.zeros(len(p), bool)
    gap[14] = True
    ups = detect_updates(times(len(p)), p, has_gap=gap, config=CFG)
    t = times(len(p))
    assert kinds(ups) == ["onset", "final", "onset", "final"]
    assert ups[1].episode.end_ns == t[13] and ups[1].t_ns == t[14]
    # would start at t[15] - 2 s, but never before the previous episode ended
    assert ups[2].episode.start_ns == t[13]
    # windows flagged as gap never start an episode; NaN p counts as gap
    p = seq((0.9, 10))
    assert detect_updates(times(10), p, has_gap=np.ones(10, bool), config=CFG) == []
    p[::2] = np.nan
    assert detect_updates(times(10), p, config=CFG) == []


def test_time_jump_is_a_gap():
    t = np.r_[times(10), times(10, start=30)]
    p = np.full(20, 0.9)
    ups = detect_updates(t, p, config=CFG)
    assert kinds(ups) == ["onset", "final", "onset", "final"]
    assert ups[1].episode.end_ns == t[9]


def test_refractory_blocks_new_onsets():
    cfg = DetectorConfig(min_duration_s=0, merge_gap_s=0, refractory_s=3.0)
    p = seq((0.9, 4), (0.0, 4), (0.9, 4), (0.0, 10), (0.9, 4), (0.0, 2))
    eps = detect_episodes(times(len(p)), p, config=cfg)
    t = times(len(p))
    # 2nd burst ends within 3 s of the first's end (t[3]) at t[8..11]: blocked
    assert [e.end_ns for e in eps] == [t[3], t[25]]


def test_long_episode_is_split_with_continuation():
    cfg = DetectorConfig(max_episode_s=10.0, min_duration_s=0)
    p = seq((0.9, 100), (0.0, 12))
    ups = detect_updates(times(len(p)), p, config=cfg)
    finals = [u for u in ups if u.kind == "final"]
    onsets = [u for u in ups if u.kind == "onset"]
    assert [u.continuation for u in onsets] == [False, True, True]
    assert len(finals) == 3
    for a, b in itertools.pairwise(finals):
        assert b.episode.start_ns == a.episode.end_ns
        assert a.episode.duration_s <= 10.0
    assert finals[0].episode.start_ns == times(1)[0] - 2 * S
    assert finals[-1].episode.end_ns == times(100)[-1]


def test_periodic_updates():
    cfg = DetectorConfig(update_every_s=1.0, min_duration_s=0)
    p = seq((0.9, 20), (0.0, 12))
    ups = detect_updates(times(len(p)), p, config=cfg)
    assert kinds(ups) == ["onset"] + ["update"] * 4 + ["final"]
    assert len({u.episode.id for u in ups}) == 1
    assert all(not u.episode.final for u in ups[:-1])


def test_flush_closes_open_episode_and_drops_pending():
    det = EpisodeDetector(CFG)
    t = times(30)
    assert kinds(det.update(t[:20], np.full(20, 0.9))) == ["onset"]
    (f,) = det.flush()
    assert f.kind == "final" and f.episode.end_ns == t[19]
    det.reset()
    det.update(t[:1], [0.9])
    assert det.flush() == []


def test_reset_restores_initial_behaviour():
    p = seq((0.0, 3), (0.9, 12), (0.0, 10))
    t = times(len(p))
    det = EpisodeDetector(CFG)
    first = det.update(t, p) + det.flush()
    det.reset()
    det.update(t[:8], p[:8])  # leave it mid-episode
    det.reset()
    assert det.update(t, p) + det.flush() == first


def test_input_validation():
    det = EpisodeDetector(CFG)
    with pytest.raises(SignalError, match="increase strictly"):
        det.update([T0, T0], [0.1, 0.1])
    det.update([T0 + S], [0.1])
    with pytest.raises(SignalError, match="across calls"):
        det.update([T0], [0.1])
    with pytest.raises(SignalError, match=r"p_spasm must lie in \[0, 1\]"):
        det.update([T0 + 5 * S], [1.5])
    with pytest.raises(SignalError, match=r"p_types must have shape \(1, 4\)"):
        det.update([T0 + 6 * S], [0.1], [[0.1, 0.9]])
    with pytest.raises(SignalError, match=r"p_spasm must have shape \(2,\)"):
        det.update([T0 + 7 * S, T0 + 8 * S], [0.1])
    with pytest.raises(SignalError, match="int ns"):
        det.update([1.5], [0.1])


@pytest.mark.parametrize(
    "kw, needle",
    [
        (dict(offset_threshold=0.7), "offset_threshold"),
        (dict(onset_threshold=1.2), "onset_threshold"),
        (dict(hop_s=3.0), "hop_s"),
        (dict(confirm_windows=0), "confirm_windows"),
        (dict(min_duration_s=-1), "min_duration_s"),
        (dict(max_episode_s=1.0), "max_episode_s"),
        (dict(severity_cutoffs=(4.0, 2.0)), "severity_cutoffs"),
        (dict(class_names=()), "class_names"),
        (dict(confirm_windows=2, early_confirm_windows=2), "early_confirm_windows"),
        (dict(confirm_windows=3, early_confirm_windows=0), "early_confirm_windows"),
        (dict(confirm_windows=3, early_confirm_windows=True), "early_confirm_windows"),
        (dict(early_confirm_intensity=-0.5), "early_confirm_intensity"),
        (dict(early_confirm_intensity=float("nan")), "early_confirm_intensity"),
        (dict(early_confirm_type_p={"spastic": 0.5}), "early_confirm_type_p"),
        (dict(early_confirm_type_p={"clonic": 1.5}), "early_confirm_type_p"),
        (dict(early_confirm_type_p=(("clonic",),)), "early_confirm_type_p"),
    ],
)
def test_config_validation(kw, needle):
    with pytest.raises(ConfigError, match=needle):
        DetectorConfig(**kw)


EARLY = dataclasses.replace(
    CFG, confirm_windows=3, early_confirm_windows=2, early_confirm_intensity=1.5
)


@pytest.mark.parametrize(
    "inten, onset_at",
    [
        # muscle at 3x rest on every window: corroborated, confirmed on the 2nd window
        (seq((1.0, 10), (3.0, 30)), 11),
        # muscle at its rest level (a movement transient): the full 3 windows
        (seq((1.0, 40)), 12),
        # corroboration must be on consecutive windows: 3x, 1x, 3x -> the plain rule
        (seq((1.0, 10), (3.0, 1), (1.0, 1), (3.0, 28)), 12),
        # ... and is counted from where it starts: 1x, 3x, 3x -> the 3rd window either way
        (seq((1.0, 11), (3.0, 29)), 12),
        # unknown intensity never corroborates
        (seq((1.0, 10), (np.nan, 30)), 12),
        # exactly the required intensity counts
        (seq((1.0, 10), (1.5, 30)), 11),
    ],
)
def test_corroborated_onset_needs_fewer_windows(inten, onset_at):
    p = seq((0.1, 10), (0.9, 20), (0.1, 10))
    t = times(len(p))
    ups = detect_updates(t, p, None, inten, config=EARLY)
    assert kinds(ups) == ["onset", "final"]
    assert ups[0].alarm_ns == t[onset_at]
    # the episode itself does not depend on how its onset was confirmed
    assert ups[0].episode.start_ns == t[10] - 2 * S and ups[1].episode.end_ns == t[29]
    assert detect_updates(t, p, None, inten, config=CFG)[0].alarm_ns == t[11]


def test_corroborated_onset_off_by_default_and_below_onset_p_never_counts():
    p = seq((0.1, 10), (0.9, 1), (0.5, 1), (0.9, 2), (0.1, 10))
    inten = np.full(len(p), 5.0)
    t = times(len(p))
    cfg3 = DetectorConfig(window_s=2.0, hop_s=HOP, confirm_windows=3, min_duration_s=0.0)
    assert DetectorConfig().early_confirm_windows is None
    assert detect_updates(t, p, None, inten, config=cfg3) == []
    # the corroborated 2-window rule fires on the last two windows >= onset, not across
    # the 0.5 window (below onset_threshold, so not counted whatever its intensity)
    early = DetectorConfig(
        window_s=2.0, hop_s=HOP, confirm_windows=3, min_duration_s=0.0,
        early_confirm_windows=2, early_confirm_intensity=1.5,
    )  # fmt: skip
    ups = detect_updates(t, p, None, inten, config=early)
    assert ups[0].kind == "onset" and ups[0].alarm_ns == t[13]


TYPED = dataclasses.replace(
    CFG,
    confirm_windows=3,
    early_confirm_windows=2,
    early_confirm_intensity=0.0,
    early_confirm_type_p={"clonic": 0.5},
)


def _types(*runs):
    """(n, 4) type probabilities (tonic, clonic, mixed, myoclonic) from (row, count) runs."""
    return np.concatenate([np.tile(np.asarray(row, float), (k, 1)) for row, k in runs])


TONIC, CLONIC, HALF = (0.7, 0.1, 0.1, 0.1), (0.1, 0.7, 0.1, 0.1), (0.45, 0.5, 0.05, 0.0)


@pytest.mark.parametrize(
    "pt, onset_at",
    [
        # an onset that looks clonic from its first window: confirmed on the 2nd
        (_types((TONIC, 10), (CLONIC, 30)), 11),
        # one that looks tonic (a voluntary contraction often does): the full 3 windows
        (_types((TONIC, 40)), 12),
        # clonic-looking on one window only, then tonic: not two in a row -> 3 windows
        (_types((TONIC, 10), (CLONIC, 1), (TONIC, 29)), 12),
        # exactly the minimum probability counts
        (_types((TONIC, 10), (HALF, 30)), 11),
        # unknown type probabilities never corroborate
        (_types((TONIC, 10), ((np.nan,) * 4, 30)), 12),
    ],
)
def test_type_corroborated_onset_needs_fewer_windows_only_for_the_listed_types(pt, onset_at):
    p = seq((0.1, 10), (0.9, 20), (0.1, 10))
    t = times(len(p))
    inten = np.full(len(p), 0.2)  # below rest: with intensity 0 required, types decide alone
    ups = detect_updates(t, p, pt, inten, config=TYPED)
    assert kinds(ups) == ["onset", "final"]
    assert ups[0].alarm_ns == t[onset_at]
    assert ups[0].episode.start_ns == t[10] - 2 * S and ups[1].episode.end_ns == t[29]
    # both conditions when both are set: a clonic look at rest level does not corroborate
    both = dataclasses.replace(TYPED, early_confirm_intensity=1.5)
    assert detect_updates(t, p, pt, inten, config=both)[0].alarm_ns == t[12]


def test_type_gate_accepts_a_mapping_and_orders_it():
    c = dataclasses.replace(TYPED, early_confirm_type_p={"mixed": 0.6, "clonic": 0.5})
    assert c.early_confirm_type_p == (("clonic", 0.5), ("mixed", 0.6))
    assert DetectorConfig().early_confirm_type_p == ()


def test_from_metadata():
    class Md:
        window_s = 1.0
        hop_s = 0.5
        thresholds: ClassVar = {"onset": 0.7, "offset": 0.3}
        type_names = ("tonic", "clonic")

    c = DetectorConfig.from_metadata(Md(), merge_gap_s=0.0)
    assert (c.window_s, c.hop_s, c.onset_threshold, c.offset_threshold) == (1.0, 0.5, 0.7, 0.3)
    assert c.class_names == ("tonic", "clonic") and c.merge_gap_s == 0.0


# ----------------------------------------------------------------------------- properties


@st.composite
def scored_stream(draw):
    n = draw(st.integers(1, 160))
    runs = draw(
        st.lists(
            st.tuples(st.sampled_from([0.05, 0.35, 0.5, 0.65, 0.95]), st.integers(1, 15)),
            min_size=1,
            max_size=20,
        )
    )
    p = np.concatenate([np.full(k, v) for v, k in runs])[:n]
    n = len(p)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    p = np.clip(p + rng.normal(0, 0.05, n), 0, 1)
    gap = rng.random(n) < draw(st.sampled_from([0.0, 0.02, 0.1]))
    steps = np.where(rng.random(n) < 0.03, 7, 1)  # occasional jumps in the window sequence
    t = T0 + np.cumsum(steps) * int(HOP * S)
    pt = rng.dirichlet(np.ones(4), n)
    inten = rng.uniform(0, 6, n)
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=8)))
    cfg = DetectorConfig(
        confirm_windows=draw(st.integers(1, 3)),
        min_duration_s=draw(st.sampled_from([0.0, 2.5, 4.0])),
        merge_gap_s=draw(st.sampled_from([0.0, 0.5, 1.0, 3.0])),
        refractory_s=draw(st.sampled_from([0.0, 2.0])),
        max_episode_s=draw(st.sampled_from([6.0, 300.0])),
        update_every_s=draw(st.sampled_from([None, 1.0])),
    )
    if cfg.confirm_windows > 1 and draw(st.booleans()):
        cfg = dataclasses.replace(
            cfg,
            early_confirm_windows=draw(st.integers(1, cfg.confirm_windows - 1)),
            early_confirm_intensity=draw(st.sampled_from([0.0, 1.0, 3.0])),
            early_confirm_type_p=draw(
                st.sampled_from([(), (("clonic", 0.3),), (("clonic", 0.3), ("tonic", 0.4))])
            ),
        )
    return t, p, pt, inten, gap, cuts, cfg


@settings(max_examples=150)
@given(scored_stream())
def test_chunked_streaming_equals_batch(data):
    t, p, pt, inten, gap, cuts, cfg = data
    batch = detect_updates(t, p, pt, inten, gap, config=cfg, wearer_id="w")
    det = EpisodeDetector(cfg, wearer_id="w")
    got: list[EpisodeUpdate] = []
    bounds = [0, *cuts, len(t)]
    for a, b in itertools.pairwise(bounds):
        got += det.update(t[a:b], p[a:b], pt[a:b], inten[a:b], gap[a:b])
    got += det.flush()
    assert got == batch
    finals = [u.episode for u in batch if u.kind == "final"]
    assert finals == detect_episodes(t, p, pt, inten, gap, config=cfg, wearer_id="w")
    # invariants: every final/retract follows an onset with the same id; finals are
    # ordered, disjoint, long enough, and never start on a gap window
    open_ids = set()
    for u in batch:
        if u.kind == "onset":
            open_ids.add(u.episode.id)
        else:
            assert u.episode.id in open_ids
            if u.kind in ("final", "retract"):
                open_ids.discard(u.episode.id)
        if u.kind == "final":
            assert u.episode.final
            if not u.continuation:
                assert u.episode.duration_s >= cfg.min_duration_s - 1e-9
        assert u.alarm_ns <= u.t_ns
    for a, b in itertools.pairwise(finals):
        assert a.end_ns <= b.start_ns
    assert not open_ids
