"""Long gaps (disconnects): index jumps larger than the ring buffer, at any point of a stream.

A live disconnect of 10 s, a minute or an hour makes ``first_index`` jump by far more than the
ring buffer holds. The signal stage must keep going: the stream's filters restart, windows
overlapping the gap are flagged (NaN features), grid times inside the gap get no window, the
grid continues after the gap, other streams are not held up, and streaming equals batch.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sigutil import T0, cuts, split

from spasmwatch.core import Gap, SampleBlock, StreamSpec
from spasmwatch.signal import SignalPipeline, WindowBatch, Windower

EMG = StreamSpec("myo", "emg", tuple(f"c{i}" for i in range(8)), 200.0, "counts")
ACC = StreamSpec("polar-h10", "acc", ("x", "y", "z"), 100.0, "mG")
HOP_NS = 250_000_000


def _signal(spec: StreamSpec, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / spec.rate_hz
    if spec.kind == "emg":
        burst = 1.0 + 4.0 * (np.sin(2 * np.pi * 0.3 * t) > 0.6)
        x = rng.normal(size=(n, spec.n_channels)) * (10.0 * burst)[:, None]
        return (x + 3.0 * np.arange(spec.n_channels)).astype(np.float32)
    x = rng.normal(size=(n, 3)) * 0.02
    x[:, 2] += 1.0
    x[:, 0] += 0.2 * np.sin(2 * np.pi * 5.0 * t)
    return (x * 1000.0).astype(np.float32)


class Stream:
    """Samples of one stream with lost stretches; ``index`` counts the lost samples too."""

    def __init__(
        self,
        spec: StreamSpec,
        n: int,
        jumps: dict[int, int],
        *,
        seed: int = 0,
        offset_ns: int = 0,
        start_index: int = 0,
    ) -> None:
        """``jumps[p] = k``: ``k`` samples are lost just before received sample ``p``."""
        self.spec = spec
        lost = np.zeros(n, np.int64)
        for p, k in jumps.items():
            lost[p] += k
        self.index = start_index + np.arange(n) + np.cumsum(lost)
        self.t = T0 + offset_ns + np.round(self.index * 1e9 / spec.rate_hz).astype(np.int64)
        self.x = _signal(spec, n, seed)
        self.breaks = sorted(p for p, k in jumps.items() if k > 0 and 0 < p < n)
        self.lead = start_index + lost[0]  # a gap at the very start

    def blocks(self, boundaries: list[int] = (), *, every: int | None = None) -> list[SampleBlock]:
        """Blocks cut at ``boundaries`` (or every ``every`` samples) and at every gap; the
        first block after a gap carries it, as the acquisition layer delivers it."""
        n = len(self.t)
        cut = set(boundaries) | set(self.breaks)
        if every:
            cut |= set(range(every, n, every))
        out = []
        for s in split(n, sorted(cut)):
            gaps: tuple[Gap, ...] = ()
            a = s.start
            if (a in self.breaks) or (a == 0 and self.lead > 0):
                prev_i = self.index[a - 1] if a else -1
                start = int(self.t[a - 1]) + round(self.spec.period_ns) if a else T0
                k = int(self.index[a] - prev_i - 1)
                gaps = (Gap(min(start, int(self.t[a])), int(self.t[a]), k, "disconnect"),)
            out.append(
                SampleBlock(
                    self.spec, self.t[s], self.x[s], first_index=int(self.index[a]), gaps=gaps
                )
            )
        return out

    def gap_spans(self) -> list[tuple[int, int]]:
        """Host-time intervals ``(t of last sample before, t of first sample after)``."""
        return [(int(self.t[p - 1]), int(self.t[p])) for p in self.breaks]


def _interleave(*lists: list[SampleBlock]) -> list[SampleBlock]:
    return sorted((b for lst in lists for b in lst), key=lambda b: int(b.t_ns[-1]))


def _run(pipe: SignalPipeline, blocks: list[SampleBlock]):
    frames = []
    for b in blocks:
        frames += pipe.update(b)
    frames += pipe.flush()
    return frames


def _run_live(pipe: SignalPipeline, *lists: list[SampleBlock]):
    """Feed interleaved blocks without flushing: (``_arrays`` of the frames, how long after
    its window end each frame was emitted, in ns of data time)."""
    frames, emitted_at = [], []
    for b in _interleave(*lists):
        got = pipe.update(b)
        frames += got
        emitted_at += [int(b.t_ns[-1])] * len(got)
    arrays = _arrays(frames)
    return arrays, np.array(emitted_at) - arrays[0]


def _arrays(frames):
    t = np.array([f.t_end_ns for f in frames], np.int64)
    x = np.array([f.values for f in frames], np.float32).reshape(len(frames), -1)
    gap = np.array([f.has_gap for f in frames], bool)
    miss = ["|".join(f.missing) for f in frames]
    return t, x, gap, miss


def _capacity(pipe: SignalPipeline, kind: str) -> int:
    return next(s for s in pipe._streams if s.spec.kind == kind).win.ring.capacity


def _check_frames_around_gaps(pipe: SignalPipeline, frames, streams: dict[str, Stream]) -> None:
    """Every frame is on the grid; none lies inside a gap of every stream; a stream's window
    that overlaps one of its gaps is flagged with NaN features; clean windows are finite."""
    t, x, gap, miss = _arrays(frames)
    assert len(t) and np.all(t % HOP_NS == 0) and np.all(np.diff(t) > 0)
    fs = pipe.feature_set
    for kind, s in streams.items():
        vals = x[:, fs.slice_of(kind)]
        present = np.array([kind not in m.split("|") for m in miss])
        tol = round(1.5e9 / s.spec.rate_hz)
        n_win = round(pipe.window_s * s.spec.rate_hz)
        for t_last, t_next in s.gap_spans():
            inside = (t > t_last + tol) & (t < t_next)
            assert not present[inside].any(), f"{kind}: a window inside its gap"
            # windows ending after the gap that still reach back into it
            first_after = s.index[np.searchsorted(s.t, t_next)]
            end = s.index[np.maximum(np.searchsorted(s.t, t, side="right") - 1, 0)]
            reach = present & (end >= first_after) & (end - n_win + 1 < first_after)
            assert reach.any() and gap[reach].all() and np.isnan(vals[reach]).all()
        clean = present & ~np.isnan(vals).any(axis=1)
        assert clean.sum() > 0
        # every present window without NaN is a window with no gap under it
        assert np.isfinite(vals[present & ~gap]).all()


# --- the reported bug: long disconnects crash the pipeline -----------------------------------


@pytest.mark.parametrize("gap_s", [10, 60, 3600])
@pytest.mark.parametrize("sizes", [(2, 36), (40, 10), (3000, 1500)], ids=["live", "small", "big"])
def test_long_disconnect_of_both_streams_streams_on(gap_s, sizes):
    emg = Stream(EMG, 200 * 16, {200 * 8: 200 * gap_s}, seed=1, offset_ns=2_000_000)
    acc = Stream(ACC, 100 * 16, {100 * 8: 100 * gap_s}, seed=2, offset_ns=7_000_000)
    # blocks of 15 s would make the other stream stale (and drop its windows): no timeout then
    pipe = SignalPipeline([EMG, ACC], stale_timeout_s=5.0 if sizes[0] < 1000 else None)
    blocks = _interleave(emg.blocks(every=sizes[0]), acc.blocks(every=sizes[1]))
    frames = _run(pipe, blocks)
    _check_frames_around_gaps(pipe, frames, {"emg": emg, "acc": acc})
    t, x, gap, miss = _arrays(frames)
    # the grid continues after the gap, and complete frames come back one window later
    after = t > acc.t[100 * 8] + 2_100_000_000
    assert after.sum() >= 4 * 5 and not gap[after].any() and np.isfinite(x[after]).all()
    assert set(miss) <= {"", "emg", "acc", "emg|acc"}


@pytest.mark.parametrize("gap_s", [10, 60, 3600])
def test_long_disconnect_in_batch_form_equals_streaming(gap_s):
    emg = Stream(EMG, 200 * 16, {200 * 8: 200 * gap_s}, seed=1, offset_ns=2_000_000)
    acc = Stream(ACC, 100 * 16, {100 * 8: 100 * gap_s}, seed=2, offset_ns=7_000_000)
    pipe = SignalPipeline([EMG, ACC], stale_timeout_s=None)
    t_b, x_b, flags = pipe.extract({"emg": emg.blocks(), "acc": acc.blocks()})
    frames = _run(pipe, _interleave(emg.blocks(every=2), acc.blocks(every=36)))
    t_s, x_s, gap_s_, _ = _arrays(frames)
    np.testing.assert_array_equal(t_s, t_b)
    np.testing.assert_allclose(x_s, x_b, rtol=2e-4, atol=1e-5, equal_nan=True)
    np.testing.assert_array_equal(gap_s_, flags["has_gap"])
    assert flags["has_gap"].any()


def test_features_after_a_long_gap_do_not_depend_on_its_length():
    """The ring only keeps what fits: a gap longer than a window is a gap, however long."""
    out = []
    for gap_s in (10, 60, 3600, 86_400):
        emg = Stream(EMG, 200 * 12, {200 * 6: 200 * gap_s}, seed=3)
        acc = Stream(ACC, 100 * 12, {100 * 6: 100 * gap_s}, seed=4)
        pipe = SignalPipeline([EMG, ACC], stale_timeout_s=None)
        t, x, gap, miss = _arrays(_run(pipe, _interleave(emg.blocks(every=50), acc.blocks())))
        after = t > emg.t[200 * 6 - 1] + HOP_NS  # past the last window before the gap
        out.append((t[after] - gap_s * 1_000_000_000, x[after], gap[after], np.array(miss)[after]))
    for t, x, gap, miss in out[1:]:
        np.testing.assert_array_equal(t, out[0][0])
        np.testing.assert_array_equal(gap, out[0][2])
        np.testing.assert_array_equal(miss, out[0][3])
        np.testing.assert_allclose(x, out[0][1], rtol=1e-5, atol=1e-6, equal_nan=True)


def test_a_disconnect_of_one_device_does_not_stall_the_other():
    emg = Stream(EMG, 200 * 80, {200 * 5: 200 * 60}, seed=5)  # EMG lost for a minute
    acc = Stream(ACC, 100 * 80 + 100 * 60, {}, seed=6)  # ACC keeps streaming
    pipe = SignalPipeline([EMG, ACC], stale_timeout_s=3.0)
    (t, x, gap, miss), lag = _run_live(pipe, emg.blocks(every=40), acc.blocks(every=36))
    t_lost, t_back = emg.gap_spans()[0]
    during = (t > t_lost + 3_500_000_000) & (t < t_back)
    assert during.sum() > 4 * 50  # ACC frames kept coming during the EMG outage
    assert all(m == "emg" for m in np.array(miss)[during])
    assert np.isfinite(x[during][:, pipe.feature_set.slice_of("acc")]).all()
    assert lag[during].max() < 3.5e9  # held back at most by the stale timeout
    back = t > t_back + 2_100_000_000
    assert back.sum() > 40 and not gap[back].any() and np.isfinite(x[back]).all()
    assert all(m == "" for m in np.array(miss)[back])


ACC_ON_EMG_DEVICE = StreamSpec("myo", "acc", ("x", "y", "z"), 50.0, "g")


def _late(blocks: list[SampleBlock], start_ns: int, end_ns: int) -> list:
    """(delivery time, block): blocks whose data lies in [start, end) arrive together at
    ``end`` (a backlog handed over at once), the others when their last sample is taken."""
    return [
        (end_ns if start_ns <= int(b.t_ns[-1]) < end_ns else int(b.t_ns[-1]), b) for b in blocks
    ]


@pytest.mark.parametrize("same_device_stale_s, keeps_all", [(30.0, True), (None, False)])
def test_a_backlog_on_one_device_keeps_its_windows(same_device_stale_s, keeps_all):
    """Two streams of one device: the host was busy and one stream's backlog (10 s) arrived
    after the other's. Grouped by device, the pipeline waits for it (frames identical to
    the batch run); treated like another device's stream, it was declared stale after 5 s
    and 10 s of its windows were dropped (the detector then saw a hole the recording
    does not have)."""
    emg = Stream(EMG, 200 * 60, {}, seed=11)
    acc = Stream(ACC_ON_EMG_DEVICE, 50 * 60, {}, seed=12)
    t20, t30 = T0 + 20_000_000_000, T0 + 30_000_000_000
    order = _late(emg.blocks(every=40), 0, 0) + _late(acc.blocks(every=10), t20, t30)
    order.sort(key=lambda p: p[0])  # stable: each stream keeps its own order
    pipe = SignalPipeline(
        [EMG, ACC_ON_EMG_DEVICE], stale_timeout_s=5.0, same_device_stale_s=same_device_stale_s
    )
    t, x, _, miss = _arrays(_run(pipe, [b for _, b in order]))
    ref = SignalPipeline([EMG, ACC_ON_EMG_DEVICE], stale_timeout_s=None)
    rt, rx, _, rmiss = _arrays(_run(ref, _interleave(emg.blocks(every=40), acc.blocks(every=10))))
    if keeps_all:
        assert pipe.dropped_late == {"myo.emg": 0, "myo.acc": 0}
        np.testing.assert_array_equal(t, rt)
        assert miss == rmiss
        np.testing.assert_allclose(x, rx, rtol=1e-6, atol=1e-7, equal_nan=True)
    else:
        assert pipe.dropped_late["myo.acc"] >= 4 * 4  # >= 4 s of 0.25 s windows
        assert sum(m == "acc" for m in miss) >= 16 > sum(m == "acc" for m in rmiss)


def test_a_stuck_stream_of_one_device_stops_holding_after_the_device_bound():
    """One characteristic stops while the other goes on: after ``same_device_stale_s`` the
    living stream's frames come again (with the stuck kind missing)."""
    emg = Stream(EMG, 200 * 90, {}, seed=13)
    acc = Stream(ACC_ON_EMG_DEVICE, 50 * 20, {}, seed=14)  # stops after 20 s
    pipe = SignalPipeline([EMG, ACC_ON_EMG_DEVICE], stale_timeout_s=5.0, same_device_stale_s=12.0)
    (t, _, _, miss), lag = _run_live(pipe, emg.blocks(every=40), acc.blocks(every=10))
    after = t > T0 + 35_000_000_000
    assert after.sum() > 4 * 40 and all(m == "acc" for m in np.array(miss)[after])
    assert lag[after].max() < 12.5e9  # held back at most by the device bound


# --- edges: gap at the start, two gaps in a window, jumps of exactly capacity -------------------


def test_gap_at_the_very_start_is_a_late_start():
    lead = 200 * 3600
    late = Stream(EMG, 200 * 8, {0: lead}, seed=7)
    plain = Stream(EMG, 200 * 8, {}, seed=7)
    assert late.blocks()[0].first_index == lead and late.blocks()[0].gaps
    a = _arrays(_run(SignalPipeline([EMG]), late.blocks(every=33)))
    b = _arrays(_run(SignalPipeline([EMG]), plain.blocks(every=33)))
    np.testing.assert_array_equal(a[0] - lead * 5_000_000, b[0])
    np.testing.assert_allclose(a[1], b[1], rtol=1e-5, atol=1e-6)
    assert not a[2].any() and len(a[0]) == (8 - 2) * 4 + 1


def test_two_gaps_in_one_window():
    # 20 samples lost, 31 received (the last on a grid time), then an hour lost: one window
    emg = Stream(EMG, 200 * 12, {1000: 20, 1031: 200 * 3600}, seed=8)
    pipe = SignalPipeline([EMG])
    frames = _run(pipe, emg.blocks(every=7))
    _check_frames_around_gaps(pipe, frames, {"emg": emg})
    t, x, gap, _ = _arrays(frames)
    # the frames between the two gaps overlap the first one; none after the second reach back
    between = (t >= emg.t[1000]) & (t <= emg.t[1030])
    assert between.any() and gap[between].all()
    t_b, x_b, flags = pipe.extract({"emg": emg.blocks()})
    np.testing.assert_array_equal(t, t_b)
    np.testing.assert_array_equal(gap, flags["has_gap"])
    np.testing.assert_allclose(x, x_b, rtol=2e-4, atol=1e-5, equal_nan=True)


@pytest.mark.parametrize("delta", [-1, 0, 1])
@pytest.mark.parametrize("where", ["emg", "acc", "both"])
def test_jump_of_capacity_plus_minus_one(delta, where):
    probe = SignalPipeline([EMG, ACC])
    cap_e, cap_a = _capacity(probe, "emg"), _capacity(probe, "acc")
    je = cap_e + delta if where in ("emg", "both") else 0
    ja = cap_a + delta if where in ("acc", "both") else 0
    emg = Stream(EMG, 200 * 14, {1400: je} if je else {}, seed=9, offset_ns=1_000_000)
    acc = Stream(ACC, 100 * 14 + ja, {700: ja} if ja else {}, seed=10, offset_ns=3_000_000)
    streams = {k: s for k, s in (("emg", emg), ("acc", acc)) if s.breaks}
    for sizes in ((2, 36), (977, 300)):
        pipe = SignalPipeline([EMG, ACC], stale_timeout_s=None)
        frames = _run(pipe, _interleave(emg.blocks(every=sizes[0]), acc.blocks(every=sizes[1])))
        _check_frames_around_gaps(pipe, frames, streams)
        t_b, x_b, flags = pipe.extract({"emg": emg.blocks(), "acc": acc.blocks()})
        t, x, gap, _ = _arrays(frames)
        np.testing.assert_array_equal(t, t_b)
        np.testing.assert_array_equal(gap, flags["has_gap"])
        np.testing.assert_allclose(x, x_b, rtol=2e-4, atol=1e-5, equal_nan=True)


# --- the tiny-block queue -----------------------------------------------------------------------


def test_held_blocks_are_never_merged_across_a_gap():
    emg = Stream(EMG, 200 * 10, {1001: 200 * 60}, seed=11)
    pipe = SignalPipeline([EMG], stale_timeout_s=None)
    st_ = pipe._streams[0]
    blocks = emg.blocks(every=2)  # 2-sample notifications, the gap inside one of them: 1000|1
    seen_pre_gap = []
    for b in blocks:
        frames = pipe.update(b)
        if b.first_index >= emg.index[1001]:
            # nothing held may be from before the gap once a sample after it has arrived
            assert all(h.first_index >= emg.index[1001] for h in st_._pending)
            # and every grid time up to the last sample before the gap is resolved
            seen_pre_gap += [f.t_end_ns for f in frames if f.t_end_ns <= emg.t[1000]]
            if b.first_index == emg.index[1001]:
                assert st_.win.next_grid_ns > emg.t[1000]
        else:
            seen_pre_gap += [f.t_end_ns for f in frames]
    last_pre = max(g for g in seen_pre_gap)
    assert emg.t[1000] - last_pre < HOP_NS
    assert len(seen_pre_gap) == len(set(seen_pre_gap))


# --- streaming == batch with large gaps (Hypothesis) ------------------------------------------

JUMPS = st.sampled_from([1, 17, 399, 400, 401, 1799, 1800, 1801, 3599, 3600, 3601, 12_000, 720_000])


@settings(max_examples=15, deadline=None)
# gaps right after a grid time (a window must be read before the jump is written)
@example(je={1600: 3601}, ja={800: 1801}, be=[], ba=[], tiny=False)
@example(je={1600: 3600, 1650: 1}, ja={800: 720_000}, be=[1599, 1601], ba=[799], tiny=True)
@given(
    je=st.dictionaries(st.integers(0, 200 * 10 - 1), JUMPS, max_size=3),
    ja=st.dictionaries(st.integers(0, 100 * 10 - 1), JUMPS, max_size=2),
    be=cuts(200 * 10, 10),
    ba=cuts(100 * 10, 6),
    tiny=st.booleans(),
)
def test_streaming_with_random_chunks_and_large_gaps_equals_batch(je, ja, be, ba, tiny):
    emg = Stream(EMG, 200 * 10, je, seed=12, offset_ns=2_000_000)
    acc = Stream(ACC, 100 * 10, ja, seed=13, offset_ns=9_000_000)
    pipe = SignalPipeline([EMG, ACC], stale_timeout_s=None)
    t_b, x_b, flags = pipe.extract({"emg": emg.blocks(), "acc": acc.blocks()})
    eb = emg.blocks(be, every=2 if tiny else None)
    frames = _run(pipe, _interleave(eb, acc.blocks(ba)))
    t, x, gap, miss = _arrays(frames)
    np.testing.assert_array_equal(t, t_b)
    np.testing.assert_allclose(x, x_b, rtol=2e-4, atol=1e-5, equal_nan=True)
    np.testing.assert_array_equal(gap, flags["has_gap"])
    np.testing.assert_array_equal([("acc" in m) for m in miss], flags["missing.acc"])
    np.testing.assert_array_equal([("emg" in m) for m in miss], flags["missing.emg"])


# --- the Windower on its own, against a plain reference ---------------------------------------


def _reference_windows(s: Stream, n_win: int, hop_ns: int, tol_ns: int):
    """For each grid time, the n_win stream indices ending at the last sample with t <= G,
    NaN where lost; flagged when a sample is lost or a break lies inside."""
    full = np.full((int(s.index[-1] - s.index[0]) + 1, s.x.shape[1]), np.nan)
    full[s.index - s.index[0]] = s.x
    brk = np.zeros(len(full), bool)
    brk[s.index[s.breaks] - s.index[0]] = True
    rows = []
    g = -(-int(s.t[0]) // hop_ns) * hop_ns
    while g <= s.t[-1] + tol_ns:
        p = np.searchsorted(s.t, g, side="right") - 1
        if g - s.t[p] > tol_ns:
            g += hop_ns
            continue
        e = int(s.index[p] - s.index[0])
        if e - n_win + 1 >= 0:
            w = full[e - n_win + 1 : e + 1]
            flagged = bool(np.isnan(w).any() or brk[e - n_win + 2 : e + 1].any())
            rows.append((g, int(s.index[p]), w, flagged))
        g += hop_ns
    return rows


@settings(max_examples=30, deadline=None)
@example(jumps={50: 141}, boundaries=[])  # sample 49 at 0.983 s, grid 1.0 s, then a jump
@example(jumps={50: 140, 113: 139, 120: 10_000}, boundaries=[49, 50, 51, 200])
@given(
    jumps=st.dictionaries(
        st.integers(1, 399), st.sampled_from([1, 5, 49, 50, 51, 139, 140, 141, 10_000]), max_size=3
    ),
    boundaries=cuts(400, 10),
)
def test_windower_with_large_gaps_matches_reference(jumps, boundaries):
    s = Stream(StreamSpec("d", "acc", ("x", "y", "z"), 50.0, "g"), 400, jumps, offset_ns=3_000_000)
    w = Windower(50.0, 3, 1.0, 0.25, dtype=np.float64, max_chunk=90)  # capacity 140
    assert w.ring.capacity == 140
    out = [w.update_block(b) for b in s.blocks(boundaries)]
    b = WindowBatch.concat([o for o in [*out, w.flush()] if len(o)] or [out[0]])
    ref = _reference_windows(s, w.n_window, w.hop_ns, w.tolerance_ns)
    assert [r[0] for r in ref] == b.grid_ns.tolist()
    assert [r[1] for r in ref] == b.end_index.tolist()
    assert [r[3] for r in ref] == b.has_gap.tolist()
    for (_, _, data, _), got in zip(ref, b.data):
        np.testing.assert_array_equal(got, data.astype(np.float64))


def test_gap_announced_by_an_empty_block_is_not_lost():
    """An open gap comes as an empty block; the next block may not repeat it, and a source
    without a sample counter cannot make ``first_index`` jump: it is still a gap."""
    n = 200 * 12
    t = T0 + np.round(np.arange(n) * 5e6).astype(np.int64)
    t[1200:] += 30_000_000_000  # 30 s silent, but the index runs on (no counter)
    x = _signal(EMG, n, seed=14)
    empty = SampleBlock(
        EMG,
        np.empty(0, np.int64),
        np.empty((0, 8), np.float32),
        first_index=1200,
        gaps=(Gap(int(t[1199]) + 5_000_000, int(t[1200]), 0, "disconnect"),),
    )
    pipe = SignalPipeline([EMG])
    frames = pipe.update(SampleBlock(EMG, t[:1200], x[:1200]))
    assert pipe.update(empty) == []
    frames += pipe.update(SampleBlock(EMG, t[1200:], x[1200:], first_index=1200))
    frames += pipe.flush()
    tt, xx, gap, _ = _arrays(frames)
    after = tt > t[1200]
    reach = after & (tt < t[1200] + 2_000_000_000)  # windows still holding pre-gap samples
    assert reach.any() and gap[reach].all() and np.isnan(xx[reach]).all()
    assert not gap[after & ~reach].any() and np.isfinite(xx[after & ~reach]).all()
    # the same as if the block itself carried the gap, in streaming and batch form
    ref = SignalPipeline([EMG])
    with_gap = [
        SampleBlock(EMG, t[:1200], x[:1200]),
        SampleBlock(EMG, t[1200:], x[1200:], first_index=1200, gaps=empty.gaps),
    ]
    t_r, x_r, flags = ref.extract({"emg": with_gap})
    np.testing.assert_array_equal(tt, t_r)
    np.testing.assert_array_equal(gap, flags["has_gap"])
    np.testing.assert_allclose(xx, x_r, rtol=2e-4, atol=1e-5, equal_nan=True)
    t_e, _, flags_e = ref.extract({"emg": [with_gap[0], empty, with_gap[1]]})
    np.testing.assert_array_equal(t_e, t_r)
    np.testing.assert_array_equal(flags_e["has_gap"], flags["has_gap"])
