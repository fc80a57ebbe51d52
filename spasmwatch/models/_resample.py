"""Streaming rational-rate resampling of sample blocks (causal polyphase FIR).

A model computes its features at fixed rates (``ModelMetadata.rates_hz``); a recording made
at another rate (a 1 kHz EMG, a 200 Hz or 52 Hz accelerometer) is brought to that rate by
:class:`StreamResampler` before the signal stage. It is the streaming form of
``scipy.signal.resample_poly`` with a Kaiser-windowed low-pass:

- the ratio ``up / down`` is the reduced fraction ``target_rate / source_rate``;
- the anti-alias filter has ``2 * n_zeros * max(up, down) + 1`` taps (cut-off at the lower
  of the two Nyquist frequencies), so its delay is ``n_zeros`` samples of the lower of the
  two rates (0.2 s when a 25 Hz accelerometer is upsampled 2x to 50 Hz);
- output samples are stamped with the time they *represent* (the filter delay is
  subtracted), so resampled streams stay aligned with streams that were not resampled.
  The delay itself is :attr:`StreamResampler.delay_s`: a live output sample is available
  that much after the instant it describes;
- each segment (after a gap) starts in steady state: the history is filled with the first
  sample, so a constant offset (gravity) gives no start-up transient;
- chunking does not change the output (every output is the same fixed-order sum of the
  same input samples), which the tests check against the whole-signal run and against
  ``resample_poly``.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from scipy import signal as sps

from spasmwatch.core import Gap, SampleBlock, StreamSpec
from spasmwatch.errors import ConfigError, SignalError

__all__ = [
    "DEFAULT_MAX_BRIDGE_S",
    "GapBridge",
    "StreamResampler",
    "design_resampler",
    "resample_ratio",
]

#: Zero crossings of the sinc on each side of the filter centre (scipy uses 10; 5 halves
#: the delay and still attenuates aliases by > 40 dB with a Kaiser beta of 5).
DEFAULT_N_ZEROS = 5
KAISER_BETA = 5.0


def resample_ratio(
    source_hz: float, target_hz: float, max_denominator: int = 1000
) -> tuple[int, int]:
    """``(up, down)``: the reduced fraction ``target_hz / source_hz``.

    Raises
    ------
    ConfigError
        Non-positive rates.
    """
    if not (source_hz > 0 and target_hz > 0):
        raise ConfigError(
            f"resampling needs rates > 0 Hz (got source {source_hz!r}, target {target_hz!r})"
        )
    fr = Fraction(float(target_hz) / float(source_hz)).limit_denominator(max_denominator)
    return fr.numerator, fr.denominator


def design_resampler(up: int, down: int, n_zeros: int = DEFAULT_N_ZEROS) -> np.ndarray:
    """Anti-alias/interpolation FIR for ``up / down`` at the upsampled rate, gain ``up``.

    Returns
    -------
    numpy.ndarray
        float64 ``(2 * n_zeros * max(up, down) + 1,)``; usable as the ``window`` argument of
        ``scipy.signal.resample_poly`` (which then computes the same thing, non-causally).
    """
    m = max(up, down)
    half = n_zeros * m
    h = sps.firwin(2 * half + 1, 1.0 / m, window=("kaiser", KAISER_BETA))
    return h * up


class StreamResampler:
    """Resample one stream's blocks to ``target_hz`` (causal, stateful, chunk-invariant).

    Parameters
    ----------
    spec : StreamSpec
        The incoming stream.
    target_hz : float
        Output rate (Hz).
    n_zeros : int
        Zero crossings of the sinc on each side of the filter centre; the delay is
        ``n_zeros`` samples of the lower of the source and target rates (output samples
        when downsampling, input samples when upsampling; see :func:`design_resampler`).

    Notes
    -----
    ``update(block) -> SampleBlock`` returns the output samples now computable (possibly
    none), with ``spec`` = the input spec at ``target_hz``. A gap in the input (``block.gaps``
    or a jump of ``first_index``) ends the segment: the output carries a gap and the filter
    restarts in steady state. Output ``first_index`` is the output-rate index of the instant
    an output sample represents, so index jumps still count missing output samples.
    """

    def __init__(self, spec: StreamSpec, target_hz: float, *, n_zeros: int = DEFAULT_N_ZEROS):
        if isinstance(n_zeros, bool) or not isinstance(n_zeros, int) or n_zeros < 1:
            raise ConfigError(f"n_zeros must be an int >= 1 (got {n_zeros!r})")
        self.spec = spec
        self.up, self.down = resample_ratio(spec.rate_hz, target_hz)
        self.out_spec = StreamSpec(
            spec.device, spec.kind, spec.channels, float(target_hz), spec.units
        )
        h = (
            np.ones(1)
            if self.up == self.down == 1
            else design_resampler(self.up, self.down, n_zeros)
        )
        self.n_taps = h.shape[0]
        self.half = (self.n_taps - 1) // 2
        # polyphase bank: phase p uses taps h[p + i*up], i = 0..K-1 (zero-padded)
        self.k = -(-self.n_taps // self.up)
        bank = np.zeros((self.up, self.k))
        for p in range(self.up):
            taps = h[p :: self.up]
            bank[p, : taps.shape[0]] = taps
        self._bank = bank
        #: Delay between the instant an output sample describes and the last input it needs (s).
        self.delay_s = self.half / (self.up * spec.rate_hz)
        self._in_period_ns = 1e9 / spec.rate_hz
        self.reset()

    @property
    def is_identity(self) -> bool:
        """True when no resampling is needed (``up == down == 1``)."""
        return self.up == 1 and self.down == 1

    def reset(self) -> None:
        """Forget the history; the next block starts a new segment."""
        self._hist: np.ndarray | None = None  # input samples kept, (k-1 .. , c) float64
        self._hist_t: np.ndarray | None = None
        self._n_in = 0  # input samples of this segment seen
        self._m_next = 0  # next output index (segment-relative, upsampled-grid based)
        self._seg_first_index = 0
        self._seg_t0 = 0
        self._next_index: int | None = None
        self._pending_gaps: list[Gap] = []

    def _start_segment(self, block: SampleBlock) -> None:
        c = block.spec.n_channels
        first = np.asarray(block.data[0], dtype=np.float64)
        # steady state: k-1 copies of the first sample before it
        self._hist = np.repeat(first[None, :], self.k - 1, axis=0).reshape(self.k - 1, c)
        t0 = int(block.t_ns[0])
        back = np.arange(self.k - 1, 0, -1, dtype=np.float64) * self._in_period_ns
        self._hist_t = t0 - np.round(back).astype(np.int64)
        self._n_in = 0
        self._seg_first_index = block.first_index
        self._seg_t0 = int(block.t_ns[0])
        # first output whose represented instant is at or after the segment's first sample:
        # represented upsampled position m*down - half >= 0
        self._m_next = -(-self.half // self.down)

    def update(self, block: SampleBlock) -> SampleBlock:
        """Resample the next block of the stream (see class notes)."""
        if block.spec.key != self.spec.key or block.spec.rate_hz != self.spec.rate_hz:
            raise SignalError(
                f"StreamResampler for {self.spec.key} at {self.spec.rate_hz:g} Hz got a block "
                f"of {block.spec.key} at {block.spec.rate_hz:g} Hz; build one resampler per stream"
            )
        broke = self._hist is not None and (
            bool(block.gaps) or block.first_index != self._next_index
        )
        if block.gaps:
            self._pending_gaps.extend(block.gaps)
        if block.n_samples == 0:
            return self._empty()
        if broke or self._hist is None:
            if broke and not block.gaps:
                # index jump without an explicit gap: make one so downstream sees it
                self._pending_gaps.append(
                    Gap(
                        int(block.t_ns[0]) - round(self._in_period_ns),
                        int(block.t_ns[0]),
                        max(0, block.first_index - (self._next_index or 0)),
                        "unknown",
                    )
                )
            self._start_segment(block)
        self._next_index = block.end_index
        if self.is_identity:
            out = SampleBlock(
                self.out_spec, block.t_ns, block.data, block.first_index, tuple(self._pending_gaps)
            )
            self._pending_gaps = []
            return out
        assert self._hist is not None and self._hist_t is not None
        x = np.concatenate([self._hist, np.asarray(block.data, dtype=np.float64)])
        tx = np.concatenate([self._hist_t, block.t_ns])
        # x[j] is segment input index n = self._n_in - (k - 1) + j
        base = self._n_in - (self.k - 1)
        n_total = self._n_in + block.n_samples
        # output m needs input index n0 = (m*down)//up <= n_total - 1
        m_last = (n_total * self.up - 1) // self.down
        ms = np.arange(self._m_next, m_last + 1)
        if ms.size:
            pos = ms * self.down
            n0 = pos // self.up
            ph = pos - n0 * self.up
            j0 = n0 - base  # column of x holding input n0
            acc = np.zeros((ms.size, x.shape[1]))
            for i in range(self.k):
                acc += x[j0 - i] * self._bank[ph, i][:, None]
            # represented instant, in input samples from the segment start, interpolated
            # between the actual input timestamps (keeps device-clock drift)
            rep_num = pos - self.half  # in upsampled samples, >= 0
            r0 = rep_num // self.up
            frac = (rep_num - r0 * self.up) / self.up
            c0 = r0 - base
            t_a = tx[c0]
            step = tx[np.minimum(c0 + 1, tx.shape[0] - 1)] - t_a
            t = t_a + np.round(frac * step).astype(np.int64)
            out_first = self._out_index(int(ms[0]))
            out = SampleBlock(
                self.out_spec,
                t,
                acc.astype(np.float32),
                out_first,
                tuple(self._pending_gaps),
            )
            self._pending_gaps = []
            self._m_next = int(ms[-1]) + 1
        else:
            out = self._empty()
        keep = self.k - 1
        self._hist = x[x.shape[0] - keep :] if keep > 0 else x[:0]
        self._hist_t = tx[tx.shape[0] - keep :] if keep > 0 else tx[:0]
        self._n_in = n_total
        return out

    def _out_index(self, m: int) -> int:
        # output-rate index of the represented instant: segment start index scaled + offset
        seg0 = math.ceil(self._seg_first_index * self.up / self.down)
        return seg0 + m - (-(-self.half // self.down))

    def _empty(self) -> SampleBlock:
        c = self.spec.n_channels
        gaps = tuple(self._pending_gaps) if self._hist is None else ()
        if gaps:
            self._pending_gaps = []
        return SampleBlock(
            self.out_spec,
            np.zeros(0, np.int64),
            np.zeros((0, c), np.float32),
            self._out_index(self._m_next) if self._hist is not None else 0,
            gaps,
        )


#: Longest loss (s) that :class:`GapBridge` conceals by default: a few BLE notifications
#: (a Polar H10 notification holds 0.18 s of 200 Hz ACC).
DEFAULT_MAX_BRIDGE_S = 0.25


class GapBridge:
    """Conceal short sample losses for the detector by linear interpolation.

    BLE wearables lose single notifications often (a Myo sends one every 10 ms); if each
    loss flagged every window that overlaps it, a detector would be blind most of the time.
    A loss of at most ``max_gap_s`` (and at most ``max_gap_s * rate`` samples) is filled
    with samples interpolated linearly between the last sample before and the first after
    it; longer losses pass through as gaps. Only the detector's copy is filled: the
    recording keeps the loss as a gap. :attr:`n_bridged` and :attr:`n_filled` count what
    was concealed.

    Parameters
    ----------
    spec : StreamSpec
    max_gap_s : float
        Longest loss to conceal (s); 0 disables concealment.
    """

    def __init__(self, spec: StreamSpec, max_gap_s: float = DEFAULT_MAX_BRIDGE_S) -> None:
        if not (isinstance(max_gap_s, int | float) and max_gap_s >= 0):
            raise ConfigError(f"max_gap_s must be a number >= 0 s (got {max_gap_s!r})")
        self.spec = spec
        self.max_gap_s = float(max_gap_s)
        self.max_samples = math.floor(max_gap_s * spec.rate_hz)
        self.reset()

    def reset(self) -> None:
        """Forget the last sample and the counters."""
        self._last_x: np.ndarray | None = None
        self._last_t = 0
        self._next = 0
        self.n_bridged = 0
        self.n_filled = 0

    def update(self, block: SampleBlock) -> SampleBlock:
        """The block, with a short loss before it filled in (or unchanged)."""
        if block.n_samples == 0:
            return block
        out = block
        if self._last_x is not None:
            miss = block.first_index - self._next
            dt = int(block.t_ns[0]) - self._last_t
            if 0 < miss <= self.max_samples and 0 < dt <= self.max_gap_s * 1e9 * 1.5:
                frac = np.arange(1, miss + 1, dtype=np.float64) / (miss + 1)
                x0 = self._last_x
                x1 = block.data[0].astype(np.float64)
                fill = (x0[None, :] + frac[:, None] * (x1 - x0)[None, :]).astype(np.float32)
                tf = self._last_t + np.round(frac * dt).astype(np.int64)
                out = SampleBlock(
                    block.spec,
                    np.concatenate([tf, block.t_ns]),
                    np.concatenate([fill, block.data]),
                    self._next,
                    (),
                    block.seq,
                )
                self.n_bridged += 1
                self.n_filled += miss
        self._last_x = block.data[-1].astype(np.float64)
        self._last_t = int(block.t_ns[-1])
        self._next = block.end_index
        return out
