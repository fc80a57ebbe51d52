"""BleSession time line under adverse timing, driven deterministically.

The session's notification path (real Polar PMD bytes through the real decoder, clock fit
and gap logic) is fed with crafted arrival times, so what a loaded host does to delivery
(held-back first notifications, a consumer too slow to keep up) is reproduced exactly
instead of hoped for. The stop/disconnect race runs against the simulated device.
"""

from __future__ import annotations

import asyncio
import itertools

import numpy as np
import pytest

from spasmwatch.acquisition._codecs import make_encoder
from spasmwatch.acquisition._profiles import get_profile
from spasmwatch.acquisition._session import BleSession, DeviceEvent, DeviceTarget
from spasmwatch.acquisition._simbackend import SimulatedDevice, SimWorld
from spasmwatch.core import SampleBlock

H10 = get_profile("polar-h10")
RATE = H10.stream("acc").rate_hz  # 200 Hz
PERIOD = round(1e9 / RATE)  # 5 ms, exact
SPF = 36  # samples per frame
HOST0 = 1_790_000_000_000_000_000  # host UTC ns of device sample 0 (true time line)
DEV0 = 800_000_000_000_000_000  # device ns of sample 0 (Polar epoch)
LAT = 2_000_000  # normal delivery latency (ns)


class PolarFeed:
    """One Polar H10 acc stream fed frame by frame at chosen host arrival times."""

    def __init__(self, queue_size: int = 4096) -> None:
        self.now = HOST0
        self.session = BleSession(
            [DeviceTarget(H10)], clock=lambda: self.now, queue_size=queue_size
        )
        self.runner = self.session._runners["polar-h10"]
        self.runner.streaming = True  # as after connect + start commands
        self.enc = make_encoder(H10, "acc", samples_per_frame=SPF)
        self.rng = np.random.default_rng(0)

    def send(self, j: int, latency_ns: int) -> None:
        """Frame ``j`` (samples ``j*SPF ...``) arriving ``latency_ns`` after its last sample."""
        counts = self.rng.integers(-1000, 1000, size=(SPF, 3)).astype(float)
        notes = self.enc.encode(counts, device_time_ns=DEV0 + j * SPF * PERIOD)
        self.now = true_time(j * SPF + SPF - 1) + latency_ns
        for uuid, data in notes:
            self.runner.on_notify(uuid, bytearray(data))

    def take(self) -> list[SampleBlock]:
        out = []
        while not self.session._queue.empty():
            b = self.session._queue.get_nowait()
            assert b is not None
            out.append(b)
        return out


def true_time(index: int | np.ndarray) -> np.ndarray:
    return HOST0 + np.asarray(index, dtype=np.int64) * PERIOD


def check_time_line(blocks: list[SampleBlock]) -> None:
    """The stream invariants: strictly increasing times within and across blocks; gaps in
    order, after the previous block's last sample, tiling up to the block's first sample;
    index jumps equal the gaps' counts."""
    for b in blocks:
        assert np.all(np.diff(b.t_ns) > 0), f"times not strictly increasing in {b.first_index}"
    for prev, b in itertools.pairwise(blocks):
        assert b.t_ns[0] > prev.t_ns[-1]
        assert b.first_index - prev.end_index == sum(g.n_missing for g in b.gaps)
        if b.gaps:
            assert b.gaps[0].start_ns > prev.t_ns[-1], (prev.t_ns[-1], b.gaps)
            for g0, g1 in itertools.pairwise(b.gaps):
                assert g0.end_ns == g1.start_ns, b.gaps
            assert b.gaps[-1].end_ns == b.t_ns[0]


def test_held_back_first_notifications_keep_times_strictly_increasing():
    # The first frames of a connection arrive 150 ms late (held back while the host was
    # busy), then on time: the clock fit (a lower envelope) moves back by ~148 ms. The
    # samples already emitted keep their times; the next ones must not land on or before
    # them (the old clamp gave a run of identical timestamps).
    feed = PolarFeed()
    for j in range(3):
        feed.send(j, 150_000_000)
    for j in range(3, 12):
        feed.send(j, LAT)
    blocks = feed.take()
    assert len(blocks) == 12
    check_time_line(blocks)
    # and the stream is back on the fit (true time + latency) within a frame or two
    last = blocks[-1]
    truth = true_time(last.first_index + np.arange(last.n_samples)) + LAT
    assert np.abs(last.t_ns - truth).max() <= 1


def test_gap_ended_by_the_frame_that_moves_the_fit_spans_its_missing_samples():
    # Frames 0-3 arrive 150 ms late, 4-5 are lost (e.g. a link drop), 6 arrives on time
    # and moves the fit back by ~148 ms. The gap of 72 samples must start after the last
    # delivered sample, end at the first sample of frame 6, and span 72 periods (the old
    # start, mapped through the moved fit and clamped, made it 217 ms long for 360 ms of
    # missing samples).
    feed = PolarFeed()
    for j in range(4):
        feed.send(j, 150_000_000)
    for j in range(6, 20):
        feed.send(j, LAT)
    blocks = feed.take()
    check_time_line(blocks)
    (gap,) = blocks[4].gaps
    assert blocks[4].first_index == 6 * SPF and gap.n_missing == 2 * SPF
    assert gap.cause == "packet_loss"
    assert gap.end_ns - gap.start_ns == 2 * SPF * PERIOD
    assert gap.start_ns > blocks[3].t_ns[-1]
    assert feed.session.stats["polar-h10"].missing["acc"] == 2 * SPF
    last = blocks[-1]
    truth = true_time(last.first_index + np.arange(last.n_samples)) + LAT
    assert np.abs(last.t_ns - truth).max() <= 1


def test_overflow_gap_then_loss_gap_tile_the_interval():
    # A consumer too slow: frames 2-3 are dropped (queue full) and counted as an overflow
    # gap; then frames 4-5 are lost on the air. The next block carries both gaps, in
    # order, the overflow one ending (exclusive) where the loss begins.
    feed = PolarFeed(queue_size=2)
    feed.send(0, LAT)
    feed.send(1, LAT)
    feed.send(2, LAT)  # queue full: dropped
    feed.send(3, LAT)  # dropped
    first = feed.take()  # the consumer catches up
    feed.send(6, LAT)
    feed.send(7, LAT)
    blocks = first + feed.take()
    assert [b.first_index for b in blocks] == [0, SPF, 6 * SPF, 7 * SPF]
    check_time_line(blocks)
    ovf, loss = blocks[2].gaps
    assert (ovf.cause, ovf.n_missing) == ("overflow", 2 * SPF)
    assert (loss.cause, loss.n_missing) == ("packet_loss", 2 * SPF)
    assert ovf.start_ns == true_time(2 * SPF) + LAT
    assert loss.start_ns == true_time(4 * SPF) + LAT
    assert feed.session.stats["polar-h10"].dropped_blocks == 2


class DropsLinkOnStop(SimulatedDevice):
    """A device whose link drops right after it receives the stop command, before its
    control point can answer (out of range at that very moment)."""

    def write(self, uuid: str, data: bytes, response: bool) -> None:
        super().write(uuid, data, response)
        if any(c.characteristic == uuid and c.data == data for c in self.profile.stop_commands):
            self._lose_link()


def test_stop_while_the_link_drops_waiting_for_the_stop_answer_ends_cleanly():
    # Old behaviour: the device task, woken by the loss, cancelled the future stop() was
    # awaiting; the CancelledError escaped stop() before the end marker was queued, so
    # `async for block in session` never ended. A command timeout of 100 s (5 s wall)
    # shows that the loss ends the wait at once, not the timeout.
    w = SimWorld(speed=20)
    w.add(DropsLinkOnStop(H10, seed=1))
    client_cls, scanner_cls = w.backends()
    events: list[DeviceEvent] = []
    session = BleSession(
        [DeviceTarget("polar-h10")],
        client_backend=client_cls,
        scanner_backend=scanner_cls,
        clock=w.clock,
        on_event=events.append,
        command_timeout_s=100.0,
        rssi_interval_s=None,
    )
    n_blocks = 0

    async def consume() -> None:
        nonlocal n_blocks
        async for _ in session:
            n_blocks += 1

    async def main() -> tuple[bool, bool, BaseException | None, float]:
        await session.start()
        consumer = asyncio.create_task(consume())
        try:
            for _ in range(500):  # at most 5 s wall to start streaming
                if n_blocks >= 5:
                    break
                await asyncio.sleep(0.01)
            assert n_blocks >= 5
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            stopper = asyncio.create_task(session.stop())
            done, _ = await asyncio.wait({stopper, consumer}, timeout=4.0)
            took = loop.time() - t0
            err = None
            if stopper in done:
                err = asyncio.CancelledError() if stopper.cancelled() else stopper.exception()
            return stopper in done, consumer in done, err, took
        finally:
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)
            await w.aclose()

    stop_done, consumer_done, err, took = asyncio.run(asyncio.wait_for(main(), 30))
    assert stop_done and err is None, err
    assert consumer_done  # blocks() ended
    assert took < 3.0  # not the 5 s command timeout
    kinds = [e.kind for e in events]
    assert kinds[-1] == "stopped"
    assert not [e for e in events if e.kind == "error" and e.detail.get("during") == "stop"]


@pytest.mark.parametrize("missing", [0, 1, 72])
def test_gap_start_and_continuation_helpers(missing):
    from spasmwatch.acquisition._session import _continue_after, _gap_start

    last_t = 10_000_000_000
    # a fit that moved back by 100 ms: raw times fall before last_t
    raw = last_t - 100_000_000 + (missing + 1 + np.arange(SPF, dtype=np.int64)) * PERIOD
    t = _continue_after(raw, last_t, missing, float(PERIOD))
    assert t[0] > last_t and np.all(np.diff(t) > 0)
    assert t[0] - last_t >= missing * PERIOD + PERIOD // 2
    if missing:
        s = _gap_start(int(t[0]), last_t, missing, float(PERIOD))
        assert last_t < s and int(t[0]) - s == missing * PERIOD
    # on the fit already: unchanged
    on_fit = last_t + (missing + 1 + np.arange(SPF, dtype=np.int64)) * PERIOD
    np.testing.assert_array_equal(_continue_after(on_fit, last_t, missing, float(PERIOD)), on_fit)
