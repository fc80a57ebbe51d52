"""Render one stream of one device from a :class:`Timeline`, chunk after chunk.

Randomness is drawn per fixed segment of sample indices (seeded by the segment number), and
the only filters with memory carry their state from chunk to chunk, so any chunking gives
the same samples bit for bit.
"""

from __future__ import annotations

import zlib

import numpy as np
from scipy import signal as sps

from spasmwatch.errors import SignalError
from spasmwatch.simulation._devices import SimStream
from spasmwatch.simulation._events import Event
from spasmwatch.simulation._timeline import Timeline
from spasmwatch.simulation._wearer import WearerProfile

__all__ = ["StreamRenderer", "emg_shaping_filter", "stable_key"]

_SEG = 4096  # samples per noise segment
_TWO_PI = 2.0 * np.pi


def stable_key(text: str) -> int:
    """A stable 32-bit number for a name (seeds must not depend on Python's hash salt)."""
    return zlib.crc32(text.encode("utf-8"))


class _Noise:
    """Standard normal noise ``(n, c)`` addressable by sample index."""

    def __init__(self, ss: np.random.SeedSequence, n_channels: int) -> None:
        self.ss = ss
        self.c = n_channels
        self._cache: tuple[int, np.ndarray] | None = None

    def _segment(self, k: int) -> np.ndarray:
        if self._cache is not None and self._cache[0] == k:
            return self._cache[1]
        child = np.random.SeedSequence(self.ss.entropy, spawn_key=(*self.ss.spawn_key, k))
        seg = np.random.Generator(np.random.PCG64(child)).standard_normal((_SEG, self.c))
        self._cache = (k, seg)
        return seg

    def take(self, i0: int, n: int) -> np.ndarray:
        out = np.empty((n, self.c))
        pos = 0
        while pos < n:
            k, off = divmod(i0 + pos, _SEG)
            m = min(_SEG - off, n - pos)
            out[pos : pos + m] = self._segment(k)[off : off + m]
            pos += m
        return out


def _semg_psd(f: np.ndarray) -> np.ndarray:
    """Surface-EMG power spectrum shape (Shwedyk-type), peak near 80–100 Hz."""
    fl, fh = 55.0, 130.0
    return (fh**4 * f**2) / ((f**2 + fl**2) * (f**2 + fh**2) ** 2)


def emg_shaping_filter(rate_hz: float, numtaps: int = 41) -> np.ndarray:
    """FIR taps shaping white noise into sEMG sampled at ``rate_hz`` (unit output variance).

    The muscle's spectrum is folded into ``[0, rate/2]`` (a low-rate device like the Myo sees
    the aliased spectrum, which rises towards Nyquist, as in the real recordings), then
    high-passed at 5 Hz like the devices do.
    """
    nyq = rate_hz / 2.0
    f = np.linspace(0.0, nyq, 257)
    p = np.zeros_like(f)
    for k in range(0, 8):  # fold the spectrum up to 8 sampling rates
        p += _semg_psd(f + k * rate_hz) + (_semg_psd(k * rate_hz - f) if k else 0.0)
    p[f < 5.0] *= (f[f < 5.0] / 5.0) ** 4
    p[-1] = p[-2]
    mag = np.sqrt(p / p.max())
    taps = sps.firwin2(numtaps, f / nyq, mag)
    return taps / np.sqrt(np.sum(taps**2))


class StreamRenderer:
    """Renders samples ``[i0, i0 + n)`` of one stream, in order, in the stream's units.

    Parameters
    ----------
    stream : SimStream
        What to render.
    timeline : Timeline
        The wearer's events and postures.
    wearer : WearerProfile
        Amplitudes, noise and mains frequency.
    ss : numpy.random.SeedSequence
        The stream's own seed (noise, sensor mounting, drift).
    """

    def __init__(
        self,
        stream: SimStream,
        timeline: Timeline,
        wearer: WearerProfile,
        ss: np.random.SeedSequence,
    ) -> None:
        self.s = stream
        self.tl = timeline
        self.w = wearer
        kids = ss.spawn(4)
        self._noise_a = _Noise(kids[0], stream.n_channels)
        self._noise_b = _Noise(kids[1], stream.n_channels)
        prm = np.random.Generator(np.random.PCG64(kids[2]))
        self._events = timeline.all_events()
        self._ev_t0 = np.asarray([e.t0 for e in self._events])
        self._ev_t1 = np.asarray([e.t1 for e in self._events])
        self._w_cache: dict[int, np.ndarray] = {}
        c = stream.n_channels
        if stream.kind == "emg":
            self._taps = emg_shaping_filter(stream.rate_hz)
            self._zi = np.zeros((self._taps.shape[0] - 1, c))
            self._zi_floor = np.zeros((self._taps.shape[0] - 1, c))
            self._noise_c = _Noise(kids[3], c)
            self._ch_gain = prm.uniform(0.7, 1.3, c)
            self._hum_ph = prm.uniform(0, _TWO_PI, c)
            self._hum_gain = prm.uniform(0.5, 1.5, c)
            self._hum_mod = (prm.uniform(600.0, 3600.0), prm.uniform(0, _TWO_PI))
            self._wander = (prm.uniform(0.1, 1.0, (3, c)), prm.uniform(0, _TWO_PI, (3, c)))
        else:
            # Mounting: each device sits on the same limb but with its own axes.
            rot = _rotation(prm.uniform(-0.35, 0.35, 3))
            self._rot = rot
            self._bias = prm.uniform(-15.0, 15.0, 3)
            self._drift = (
                prm.uniform(2.0, 10.0, 3),
                1.0 / prm.uniform(1200.0, 7200.0, 3),
                prm.uniform(0, _TWO_PI, 3),
            )
            self._sos = sps.butter(2, min(3.0, 0.4 * stream.rate_hz), fs=stream.rate_hz,
                                   output="sos")  # fmt: skip
            self._zi = np.zeros((self._sos.shape[0], 2, 3))
            # scale the low-passed noise to unit variance
            _, h = sps.sosfreqz(self._sos, worN=4096)
            self._fid_norm = 1.0 / np.sqrt(np.mean(np.abs(h) ** 2))
        self._next = 0

    def reset(self) -> None:
        """Back to sample 0."""
        self._zi = np.zeros_like(self._zi)
        if self.s.kind == "emg":
            self._zi_floor = np.zeros_like(self._zi_floor)
        self._next = 0

    def _active(self, t_first: float, t_last: float) -> np.ndarray:
        return np.nonzero((self._ev_t0 <= t_last) & (self._ev_t1 >= t_first))[0]

    def _range(self, e: Event, i0: int, n: int) -> tuple[int, int]:
        """Samples (relative to ``i0``) inside the event's absolute render range."""
        fs = self.s.rate_hz
        a = max(i0, int(np.ceil(e.t0 * fs)))
        b = min(i0 + n, int(np.floor(e.t1 * fs)) + 1)
        return a - i0, b - i0

    def render(self, i0: int, n: int) -> np.ndarray:
        """Samples ``[i0, i0 + n)``, float32 ``(n, n_channels)`` in the stream's units.

        Chunks must come in order (``i0`` = end of the previous chunk), as filters carry state.
        """
        if i0 != self._next:
            raise SignalError(
                f"StreamRenderer({self.s.key}).render: chunks must follow each other "
                f"(expected i0={self._next}, got {i0}); call reset() to start again"
            )
        self._next = i0 + n
        t = (i0 + np.arange(n, dtype=np.float64)) / self.s.rate_hz
        x = self._emg(t, i0, n) if self.s.kind == "emg" else self._acc(t, i0, n)
        x = x * self.s.scale_hint
        if self.s.quantum is not None:
            x = np.floor(x / self.s.quantum) * self.s.quantum
        if self.s.clip is not None:
            x = np.clip(x, self.s.clip[0], self.s.clip[1])
        return x.astype(np.float32)

    def _emg(self, t: np.ndarray, i0: int, n: int) -> np.ndarray:
        c = self.s.n_channels
        w = self.w
        states = self.tl.states.at(t)
        env = (w.rest_tone_uv * states[:, 3])[:, None] * self._ch_gain  # (n, c) µV RMS
        add = np.zeros((n, c))
        if n:
            for k in self._active(t[0], t[-1]):
                e = self._events[k]
                a, b = self._range(e, i0, n)
                if b <= a:
                    continue
                tt = t[a:b]
                en = e.emg_env(tt)
                if en is not None:
                    wk = self._w_cache.get(k)
                    if wk is None:
                        wk = e.emg_weights(c) * self._ch_gain
                        self._w_cache[k] = wk
                    env[a:b] += (w.emg_gain * en)[:, None] * wk
                ad = e.emg_add(tt, c)
                if ad is not None:
                    add[a:b] += ad
        shaped, self._zi = sps.lfilter(self._taps, [1.0], self._noise_a.take(i0, n), axis=0,
                                       zi=self._zi)  # fmt: skip
        # electrode/skin noise has the same band-limited shape; the device adds white noise
        floor, self._zi_floor = sps.lfilter(self._taps, [1.0], self._noise_b.take(i0, n),
                                            axis=0, zi=self._zi_floor)  # fmt: skip
        x = shaped * env + w.noise_floor_uv * floor + self.s.noise * self._noise_c.take(i0, n)
        # powerline hum: slowly varying pick-up on every channel (below Nyquist only)
        if w.mains_hz < self.s.rate_hz / 2:
            period, ph = self._hum_mod
            level = w.hum_uv * (0.6 + 0.4 * np.sin(_TWO_PI * t / period + ph))
            x += (
                level[:, None]
                * self._hum_gain
                * np.sin(_TWO_PI * w.mains_hz * t[:, None] + self._hum_ph)
            )
        fw, pw = self._wander
        for j in range(3):
            x += 3.0 * np.sin(_TWO_PI * fw[j] * t[:, None] + pw[j])
        return x + add

    def _acc(self, t: np.ndarray, i0: int, n: int) -> np.ndarray:
        fs = self.s.rate_hz
        states = self.tl.states.at(t)
        pitch, roll = states[:, 0].copy(), states[:, 1].copy()
        lin = np.zeros((n, 3))
        if n:
            for k in self._active(t[0], t[-1]):
                e = self._events[k]
                a, b = self._range(e, i0, n)
                if b <= a:
                    continue
                tt = t[a:b]
                o = e.orient(tt)
                if o is not None:
                    pitch[a:b] += o[:, 0]
                    roll[a:b] += o[:, 1]
                ac = e.acc(tt, fs)
                if ac is not None:
                    lin[a:b] += ac
        g = 1000.0 * np.stack(
            [-np.sin(pitch), np.cos(pitch) * np.sin(roll), np.cos(pitch) * np.cos(roll)], axis=1
        )
        fid, self._zi = sps.sosfilt(self._sos, self._noise_a.take(i0, n), axis=0, zi=self._zi)
        lin += fid * (self._fid_norm * states[:, 2])[:, None]
        v = g + lin
        r = self._rot  # elementwise, not BLAS: the result must not depend on the chunk length
        x = np.stack(
            [v[:, 0] * r[i, 0] + v[:, 1] * r[i, 1] + v[:, 2] * r[i, 2] for i in range(3)], axis=1
        )
        amp, fr, ph = self._drift
        x += self._bias + amp * np.sin(_TWO_PI * fr * t[:, None] + ph)
        x += self.s.noise * self._noise_b.take(i0, n)
        return x


def _rotation(angles: np.ndarray) -> np.ndarray:
    a, b, c = angles
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx
