"""Renderable events on the limb: spasms and confounders, as analytic functions of time.

Every event is a pure function of absolute time (seconds from the recording start) and of
parameters drawn once when the timeline is built. Rendering a sample therefore does not
depend on how the simulation is chunked, which is what makes chunked generation equal
whole generation bit for bit.

Internal units: EMG envelopes in µV RMS (before the wearer's ``emg_gain``), ACC in mG,
orientation deltas in rad ``(pitch, roll)``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MVC_UV",
    "Event",
    "channel_weights",
    "ddgauss_train",
    "gauss_train",
    "minjerk_acc",
]

#: RMS EMG amplitude of a maximal contraction at ``emg_gain == 1`` (µV). With the Myo's
#: 0.1 counts/µV this is 45 counts RMS, calibrated on the real gesture recordings
#: (docs/simulation.md, realism).
MVC_UV = 450.0

_TWO_PI = 2.0 * np.pi


def channel_weights(center: float, spread: float, floor: float, n: int) -> np.ndarray:
    """Activation of ``n`` electrodes around a limb, peaking at angle ``center`` (rad).

    Returns float64 ``(n,)`` with maximum 1 and minimum about ``floor``.
    """
    ang = _TWO_PI * np.arange(n) / max(n, 1)
    d = np.angle(np.exp(1j * (ang - center)))
    w = floor + (1.0 - floor) * np.exp(-0.5 * (d / spread) ** 2)
    return w / w.max()


def gauss_train(t: np.ndarray, c: np.ndarray, sig: np.ndarray, amp: np.ndarray) -> np.ndarray:
    """Sum of Gaussian bumps ``amp_k exp(-(t-c_k)^2 / 2 sig_k^2)`` (nearest 4 bumps per sample).

    ``c`` must be sorted and bumps must be narrower than about 0.4 of their spacing.
    """
    out = np.zeros(t.shape[0])
    k = c.shape[0]
    if k == 0:
        return out
    idx = np.searchsorted(c, t)
    for off in (-2, -1, 0, 1):
        j = idx + off
        ok = (j >= 0) & (j < k)
        jj = np.clip(j, 0, k - 1)
        u = (t - c[jj]) / sig[jj]
        out += np.where(ok, amp[jj] * np.exp(-0.5 * u * u), 0.0)
    return out


def ddgauss_train(t: np.ndarray, c: np.ndarray, sig: np.ndarray, amp: np.ndarray) -> np.ndarray:
    """Acceleration of a train of Gaussian displacement bumps, peak ``amp_k`` at ``c_k``.

    Each term is ``amp_k (u^2 - 1) exp(-u^2/2)`` with ``u = (t - c_k)/sig_k``: the second
    derivative of a bump, so the limb returns to where it was (zero net velocity).
    """
    out = np.zeros(t.shape[0])
    k = c.shape[0]
    if k == 0:
        return out
    idx = np.searchsorted(c, t)
    for off in (-2, -1, 0, 1):
        j = idx + off
        ok = (j >= 0) & (j < k)
        jj = np.clip(j, 0, k - 1)
        u = (t - c[jj]) / sig[jj]
        u2 = u * u
        out += np.where(ok, amp[jj] * (u2 - 1.0) * np.exp(-0.5 * u2), 0.0)
    return out


def minjerk_acc(tau: np.ndarray, dur: float, disp_mm: float) -> np.ndarray:
    """Acceleration (mG) of a minimum-jerk move of ``disp_mm`` mm over ``dur`` s."""
    s = np.clip(tau / dur, 0.0, 1.0)
    inside = (tau >= 0) & (tau <= dur)
    a_mm_s2 = disp_mm / dur**2 * (60.0 * s - 180.0 * s**2 + 120.0 * s**3)
    return np.where(inside, a_mm_s2 / 9806.65 * 1000.0, 0.0)


def _ramp(x: np.ndarray) -> np.ndarray:
    """Raised-cosine step from 0 (x <= 0) to 1 (x >= 1)."""
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(x, 0.0, 1.0))


def _eff_sigma(sig: np.ndarray | float, fs: float) -> np.ndarray:
    """Widen pulse widths so a device at ``fs`` sees them band-limited (its anti-alias filter)."""
    return np.sqrt(np.asarray(sig, dtype=float) ** 2 + (0.35 / fs) ** 2)


class Event:
    """Base of the renderable events. ``t0``/``t1``: absolute render range (s).

    Subclasses override what they produce; the defaults produce nothing.
    """

    name = "event"
    t0: float = 0.0
    t1: float = 0.0

    def emg_env(self, t: np.ndarray) -> np.ndarray | None:
        """Envelope of modulated EMG noise, µV RMS at ``emg_gain == 1``, shape ``(n,)``."""
        return None

    def emg_weights(self, n_channels: int) -> np.ndarray:
        """Electrode weights ``(n_channels,)`` of :meth:`emg_env`."""
        return np.ones(n_channels)

    def emg_add(self, t: np.ndarray, n_channels: int) -> np.ndarray | None:
        """Additive EMG waveform (artefacts), µV, shape ``(n, n_channels)``."""
        return None

    def acc(self, t: np.ndarray, fs: float) -> np.ndarray | None:
        """Limb acceleration (without gravity), mG, shape ``(n, 3)``."""
        return None

    def orient(self, t: np.ndarray) -> np.ndarray | None:
        """Orientation change ``(pitch, roll)`` in rad, shape ``(n, 2)``."""
        return None


# --------------------------------------------------------------------------- spasms


class Tonic(Event):
    """Sustained contraction with a ramping envelope, a slow limb movement and a posture change."""

    name = "tonic"

    def __init__(self, start: float, dur: float, amp: float, rng: np.random.Generator) -> None:
        self.start, self.dur, self.amp = start, dur, amp
        self.rise = min(rng.uniform(0.3, 3.0), 0.4 * dur)
        self.fall = min(rng.uniform(0.5, 3.0), 0.4 * dur)
        self.fm = rng.uniform(0.2, 0.8)
        self.phm = rng.uniform(0, _TWO_PI)
        self.center = rng.uniform(0, _TWO_PI)
        self.spread = rng.uniform(1.0, 2.5)
        self.floor = rng.uniform(0.4, 0.7)
        inten = amp / MVC_UV
        self.dpitch = rng.choice([-1.0, 1.0]) * rng.uniform(0.1, 0.6) * min(1.0, 0.4 + inten)
        self.droll = rng.uniform(-0.2, 0.2)
        self.wob_f = rng.uniform(0.4, 2.0, 3)
        self.wob_ph = rng.uniform(0, _TWO_PI, 3)
        self.wob_a = rng.uniform(20.0, 80.0) * (0.3 + inten)
        self.trem_f = rng.uniform(8.0, 12.0)
        self.trem_a = rng.uniform(5.0, 15.0) * inten
        self.trem_dir = _unit(rng)
        self.t0, self.t1 = start, start + dur

    def _shape(self, t: np.ndarray) -> np.ndarray:
        tau = t - self.start
        up = _ramp(tau / self.rise)
        down = _ramp((self.dur - tau) / self.fall)
        growth = 0.7 + 0.3 * np.clip(tau / (0.7 * self.dur), 0.0, 1.0)
        slow = 1.0 + 0.12 * np.sin(_TWO_PI * self.fm * tau + self.phm)
        inside = (tau >= 0) & (tau <= self.dur)
        return np.where(inside, up * down * growth * slow, 0.0)

    def emg_env(self, t: np.ndarray) -> np.ndarray:
        return self.amp * self._shape(t)

    def emg_weights(self, n_channels: int) -> np.ndarray:
        return channel_weights(self.center, self.spread, self.floor, n_channels)

    def acc(self, t: np.ndarray, fs: float) -> np.ndarray:
        s = self._shape(t)
        tau = t - self.start
        out = np.empty((t.shape[0], 3))
        for ax in range(3):
            out[:, ax] = self.wob_a * s * np.sin(_TWO_PI * self.wob_f[ax] * tau + self.wob_ph[ax])
        out[:, 2] *= 0.5
        if self.trem_f < fs / 2:
            out += (self.trem_a * s * np.sin(_TWO_PI * self.trem_f * tau))[:, None] * self.trem_dir
        return out

    def orient(self, t: np.ndarray) -> np.ndarray:
        s = self._shape(t)
        return np.stack([self.dpitch * s, self.droll * s], axis=1)


class Clonic(Event):
    """Rhythmic bursts at the wearer's clonus frequency, slowing at the start and the end."""

    name = "clonic"

    def __init__(
        self, start: float, dur: float, amp: float, f_hz: float, rng: np.random.Generator
    ) -> None:
        self.amp = amp
        ramp = min(2.5, dur / 3.0)
        ds, de = rng.uniform(0.0, 2.0), rng.uniform(0.0, 2.0)
        times = []
        tau = 0.0
        while tau < dur:
            times.append(tau)
            f = f_hz - ds * max(0.0, 1.0 - tau / ramp) - de * max(0.0, 1.0 - (dur - tau) / ramp)
            f = max(f, 2.5)
            tau += (1.0 / f) * (1.0 + 0.04 * rng.standard_normal())
        c = start + np.asarray(times)
        if c.shape[0] < 2:
            c = np.array([start, start + 1.0 / f_hz])
        period = np.diff(c, append=c[-1] + (c[-1] - c[-2]))
        self.c = c
        self.sig = 0.13 * period
        k = c.shape[0]
        wax = np.minimum(1.0, (np.arange(k) + 1.0) / 3.0) * np.minimum(
            1.0, (k - np.arange(k) + 1.0) / 3.0
        )
        self.a = amp * wax * np.clip(1.0 + 0.15 * rng.standard_normal(k), 0.4, 1.6)
        inten = amp / MVC_UV
        self.acc_c = c + rng.uniform(0.02, 0.05)
        self.acc_sig = 0.2 * period
        self.acc_a = rng.uniform(300.0, 1200.0) * min(1.0, 0.3 + inten) * (self.a / amp)
        self.acc_dir = _unit(rng)
        self.base = rng.uniform(0.05, 0.2) * amp
        self.center = rng.uniform(0, _TWO_PI)
        self.spread = rng.uniform(1.0, 2.5)
        self.floor = rng.uniform(0.4, 0.7)
        self.start = float(c[0] - 2.0 * self.sig[0])
        self.end = float(c[-1] + 2.0 * self.sig[-1])
        self.f_mean = (k - 1) / float(c[-1] - c[0])
        self.t0 = self.start - 0.1
        self.t1 = self.end + 0.5

    def emg_env(self, t: np.ndarray) -> np.ndarray:
        inside = (t >= self.start) & (t <= self.end)
        return gauss_train(t, self.c, self.sig, self.a) + np.where(inside, self.base, 0.0)

    def emg_weights(self, n_channels: int) -> np.ndarray:
        return channel_weights(self.center, self.spread, self.floor, n_channels)

    def acc(self, t: np.ndarray, fs: float) -> np.ndarray:
        sig = _eff_sigma(self.acc_sig, fs)
        a = self.acc_a * (self.acc_sig / sig) ** 2
        return ddgauss_train(t, self.acc_c, sig, a)[:, None] * self.acc_dir


class Myoclonic(Event):
    """One jerk or a short irregular train of brief (50–300 ms) jerks."""

    name = "myoclonic"

    def __init__(self, start: float, amp: float, rng: np.random.Generator) -> None:
        n = 1 if rng.random() < 0.6 else int(rng.integers(2, 6))
        gaps = rng.uniform(0.15, 1.2, n - 1)
        dur = rng.uniform(0.05, 0.3, n)
        self.sig = dur / 4.0
        self.c = start + 2.0 * self.sig[0] + np.concatenate([[0.0], np.cumsum(gaps)])
        self.a = amp * rng.uniform(0.7, 1.0, n)
        inten = amp / MVC_UV
        self.acc_sig = np.maximum(self.sig, 0.02) + 0.01
        self.acc_a = rng.uniform(400.0, 2500.0, n) * min(1.0, 0.3 + inten)
        self.acc_dir = _unit(rng)
        self.center = rng.uniform(0, _TWO_PI)
        self.n = n
        self.start = float(self.c[0] - 2.0 * self.sig[0])
        self.end = float(self.c[-1] + 2.0 * self.sig[-1])
        self.t0, self.t1 = self.start - 0.1, self.end + 0.3

    def emg_env(self, t: np.ndarray) -> np.ndarray:
        return gauss_train(t, self.c, self.sig, self.a)

    def emg_weights(self, n_channels: int) -> np.ndarray:
        return channel_weights(self.center, 2.0, 0.6, n_channels)

    def acc(self, t: np.ndarray, fs: float) -> np.ndarray:
        sig = _eff_sigma(self.acc_sig, fs)
        a = self.acc_a * (self.acc_sig / sig) ** 2
        return ddgauss_train(t, self.c + 0.02, sig, a)[:, None] * self.acc_dir


def _unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal(3)
    return v / np.linalg.norm(v)


# ---------------------------------------------------------------------- confounders


class Voluntary(Event):
    """A grip or lift: a localised, non-rhythmic contraction with a reaching movement."""

    name = "voluntary"

    def __init__(self, start: float, dur: float, amp: float, rng: np.random.Generator) -> None:
        self.start, self.dur, self.amp = start, dur, amp
        self.rise = rng.uniform(0.08, 0.3)
        self.fall = rng.uniform(0.1, 0.3)
        self.center = rng.uniform(0, _TWO_PI)
        self.spread = rng.uniform(0.5, 1.0)
        self.floor = rng.uniform(0.05, 0.3)
        self.f = rng.uniform(0.3, 1.2, 2)
        self.ph = rng.uniform(0, _TWO_PI, 2)
        self.move = rng.uniform(0.3, 0.9)
        self.disp = rng.uniform(50.0, 300.0)
        self.dir = _unit(rng)
        self.dpitch = rng.uniform(-0.3, 0.3)
        self.t0, self.t1 = start - self.move, start + dur + self.move

    def _shape(self, t: np.ndarray) -> np.ndarray:
        tau = t - self.start
        irregular = (
            1.0
            + 0.1 * np.sin(_TWO_PI * self.f[0] * tau + self.ph[0])
            + 0.08 * np.sin(_TWO_PI * self.f[1] * tau + self.ph[1])
        )
        s = _ramp(tau / self.rise) * _ramp((self.dur - tau) / self.fall) * irregular
        return np.where((tau >= 0) & (tau <= self.dur), s, 0.0)

    def emg_env(self, t: np.ndarray) -> np.ndarray:
        return self.amp * self._shape(t)

    def emg_weights(self, n_channels: int) -> np.ndarray:
        return channel_weights(self.center, self.spread, self.floor, n_channels)

    def acc(self, t: np.ndarray, fs: float) -> np.ndarray:
        a = minjerk_acc(t - (self.start - self.move), self.move, self.disp)
        a = a - minjerk_acc(t - (self.start + self.dur), self.move, self.disp)
        return a[:, None] * self.dir

    def orient(self, t: np.ndarray) -> np.ndarray:
        tau = t - self.start
        s = _ramp((tau + self.move) / self.move) * _ramp((self.dur + self.move - tau) / self.move)
        return np.stack([self.dpitch * s, np.zeros_like(s)], axis=1)


class Incidental(Voluntary):
    """A small incidental movement at rest (shifting the hand or foot): brief and weak."""

    name = "incidental_movement"

    def __init__(self, start: float, dur: float, amp: float, rng: np.random.Generator) -> None:
        super().__init__(start, dur, amp, rng)
        self.disp = rng.uniform(5.0, 40.0)
        self.move = min(self.move, 0.4)
        self.dpitch *= 0.1
        self.t0, self.t1 = start - self.move, start + dur + self.move


class Gait(Event):
    """Walking or stairs: steps at a cadence with impacts, leg/arm swing and muscle bursts."""

    def __init__(
        self,
        name: str,
        start: float,
        dur: float,
        step_hz: float,
        placement: str,
        rng: np.random.Generator,
        *,
        emg_amp: float,
    ) -> None:
        self.name = name
        steps = []
        tau = 0.0
        f = step_hz * (1.0 + 0.03 * rng.standard_normal())
        while tau < dur:
            steps.append(tau)
            tau += (1.0 / f) * (1.0 + 0.025 * rng.standard_normal())
        c = start + np.asarray(steps)
        self.c, self.f, self.start, self.dur = c, f, start, dur
        ipsi = (np.arange(c.shape[0]) % 2) == 0
        leg = placement == "leg"
        self.leg = leg
        # Heel strike at the shank: sharp, large; contralateral strike and push-off smaller.
        big = rng.uniform(2000.0, 4000.0) if leg else rng.uniform(150.0, 350.0)
        self.imp_a = np.where(ipsi, big, big * rng.uniform(0.6, 0.9)) * rng.uniform(
            0.8, 1.2, c.shape[0]
        )
        self.imp_sig = np.full(c.shape[0], rng.uniform(0.045, 0.075))
        self.imp_dir = np.array([0.35, 0.9, 0.25])
        self.imp_dir /= np.linalg.norm(self.imp_dir)
        self.swing_pitch = rng.uniform(0.25, 0.5) if leg else rng.uniform(0.15, 0.35)
        self.swing_a = rng.uniform(50.0, 150.0)
        self.ph = rng.uniform(0, _TWO_PI)
        # Muscle bursts once per stride (push-off), arm: weak.
        self.emg_c = c[ipsi] + 0.3 / f
        self.emg_sig = np.full(self.emg_c.shape[0], 0.12 / (f / 2.0))
        self.emg_a = emg_amp * (1.0 if leg else 0.25) * rng.uniform(0.8, 1.2, self.emg_c.shape[0])
        self.center = rng.uniform(0, _TWO_PI)
        self.t0, self.t1 = start - 0.5, start + dur + 1.0

    def _window(self, t: np.ndarray) -> np.ndarray:
        tau = t - self.start
        return _ramp(tau / 1.0) * _ramp((self.dur - tau) / 1.0)

    def emg_env(self, t: np.ndarray) -> np.ndarray:
        return gauss_train(t, self.emg_c, self.emg_sig, self.emg_a)

    def emg_weights(self, n_channels: int) -> np.ndarray:
        return channel_weights(self.center, 1.2, 0.3, n_channels)

    def acc(self, t: np.ndarray, fs: float) -> np.ndarray:
        sig = _eff_sigma(self.imp_sig, fs)
        a = self.imp_a * (self.imp_sig / sig) ** 2
        imp = -ddgauss_train(t, self.c, sig, a)
        stride = self.f / 2.0
        tau = t - self.start
        w = self._window(t)
        ph = _TWO_PI * stride * tau + self.ph
        fwd = self.swing_a * w * (np.sin(ph) + 0.5 * np.sin(2.0 * ph + 0.7))
        out = imp[:, None] * self.imp_dir
        out[:, 0] += fwd
        out[:, 2] += 0.3 * fwd
        return out

    def orient(self, t: np.ndarray) -> np.ndarray:
        tau = t - self.start
        ph = _TWO_PI * (self.f / 2.0) * tau + self.ph
        p = self.swing_pitch * self._window(t) * np.sin(ph)
        return np.stack([p, np.zeros_like(p)], axis=1)


class Rhythmic(Event):
    """A rhythmic arm task: tooth brushing, hair combing, or tremor (2–6 Hz)."""

    def __init__(
        self,
        name: str,
        start: float,
        dur: float,
        f_hz: float,
        acc_mg: float,
        emg_amp: float,
        rng: np.random.Generator,
        *,
        dpitch: float = 0.0,
        pauses: bool = True,
    ) -> None:
        self.name, self.start, self.dur, self.f = name, start, dur, f_hz
        self.acc_mg, self.emg_amp = acc_mg, emg_amp
        self.dir = _unit(rng)
        self.wander = rng.uniform(0.03, 0.1)
        self.fw = rng.uniform(0.05, 0.2)
        self.ph = rng.uniform(0, _TWO_PI, 2)
        self.dpitch = dpitch
        self.center = rng.uniform(0, _TWO_PI)
        # on/off modulation: short pauses every few seconds (rinse, re-position)
        self.fp = rng.uniform(0.05, 0.15) if pauses else 0.0
        self.t0, self.t1 = start, start + dur

    def _phase(self, tau: np.ndarray) -> np.ndarray:
        return _TWO_PI * self.f * tau + (self.wander * self.f / self.fw) * np.sin(
            _TWO_PI * self.fw * tau + self.ph[0]
        )

    def _window(self, tau: np.ndarray) -> np.ndarray:
        w = _ramp(tau / 0.7) * _ramp((self.dur - tau) / 0.7)
        if self.fp:
            w = w * np.clip(1.5 * np.sin(_TWO_PI * self.fp * tau + self.ph[1]) + 1.2, 0.0, 1.0)
        return w

    def emg_env(self, t: np.ndarray) -> np.ndarray:
        tau = t - self.start
        mod = 0.55 + 0.45 * np.abs(np.sin(0.5 * self._phase(tau)))
        return self.emg_amp * self._window(tau) * mod

    def emg_weights(self, n_channels: int) -> np.ndarray:
        return channel_weights(self.center, 1.0, 0.2, n_channels)

    def acc(self, t: np.ndarray, fs: float) -> np.ndarray:
        tau = t - self.start
        a = self.acc_mg * self._window(tau) * np.sin(self._phase(tau))
        if self.f >= fs / 2:
            a = np.zeros_like(a)
        return a[:, None] * self.dir

    def orient(self, t: np.ndarray) -> np.ndarray | None:
        if not self.dpitch:
            return None
        tau = t - self.start
        s = _ramp(tau / 1.0) * _ramp((self.dur - tau) / 1.0)
        return np.stack([self.dpitch * s, np.zeros_like(s)], axis=1)


class Typing(Event):
    """Typing: low sustained forearm activity with irregular keystroke twitches."""

    name = "typing"

    def __init__(
        self, start: float, dur: float, amp: float, arm: bool, rng: np.random.Generator
    ) -> None:
        rate = rng.uniform(2.0, 5.0)
        n = int(rng.poisson(rate * dur))
        c = np.sort(start + rng.uniform(0.0, dur, n))
        keep = np.concatenate([[True], np.diff(c) > 0.06]) if n else np.zeros(0, bool)
        self.c = c[keep]
        k = self.c.shape[0]
        self.sig = np.full(k, 0.02)
        scale = 1.0 if arm else 0.1
        self.a = amp * scale * rng.uniform(0.3, 0.8, k)
        self.base = amp * scale * 0.4
        self.acc_a = rng.uniform(20.0, 60.0, k) * scale
        self.acc_sig = np.full(k, 0.015)
        self.dir = _unit(rng)
        self.center = rng.uniform(0, _TWO_PI)
        self.start, self.dur = start, dur
        self.t0, self.t1 = start - 0.2, start + dur + 0.2

    def emg_env(self, t: np.ndarray) -> np.ndarray:
        tau = t - self.start
        base = self.base * _ramp(tau / 2.0) * _ramp((self.dur - tau) / 2.0)
        return base + gauss_train(t, self.c, self.sig, self.a)

    def emg_weights(self, n_channels: int) -> np.ndarray:
        return channel_weights(self.center, 1.0, 0.3, n_channels)

    def acc(self, t: np.ndarray, fs: float) -> np.ndarray:
        sig = _eff_sigma(self.acc_sig, fs)
        a = self.acc_a * (self.acc_sig / sig) ** 2
        return ddgauss_train(t, self.c, sig, a)[:, None] * self.dir


class Wheelchair(Event):
    """Wheelchair propulsion: broadband frame vibration plus ~1 Hz push strokes."""

    name = "wheelchair"

    def __init__(
        self, start: float, dur: float, arm: bool, emg_amp: float, rng: np.random.Generator
    ) -> None:
        self.start, self.dur = start, dur
        self.vf = rng.uniform(6.0, 30.0, 12)
        self.vph = rng.uniform(0, _TWO_PI, (12, 3))
        self.va = rng.uniform(30.0, 120.0) / np.sqrt(12 / 2)
        self.push_f = rng.uniform(0.8, 1.2)
        n = int(dur * self.push_f) + 1
        self.c = start + 0.5 + np.arange(n) / self.push_f
        self.c = self.c[self.c < start + dur]
        self.sig = np.full(self.c.shape[0], 0.12)
        scale = 1.0 if arm else 0.1
        self.a = np.full(self.c.shape[0], emg_amp * scale)
        self.push_acc = rng.uniform(150.0, 400.0) * scale
        self.dir = _unit(rng)
        self.center = rng.uniform(0, _TWO_PI)
        self.t0, self.t1 = start, start + dur + 0.5

    def emg_env(self, t: np.ndarray) -> np.ndarray:
        return gauss_train(t, self.c, self.sig, self.a)

    def emg_weights(self, n_channels: int) -> np.ndarray:
        return channel_weights(self.center, 1.2, 0.3, n_channels)

    def acc(self, t: np.ndarray, fs: float) -> np.ndarray:
        tau = t - self.start
        w = _ramp(tau / 1.0) * _ramp((self.dur - tau) / 1.0)
        out = np.zeros((t.shape[0], 3))
        for i in range(self.vf.shape[0]):
            if self.vf[i] >= fs / 2:
                continue
            for ax in range(3):
                out[:, ax] += self.va * np.sin(_TWO_PI * self.vf[i] * tau + self.vph[i, ax])
        out *= w[:, None]
        sig = _eff_sigma(self.sig, fs)
        out += (
            ddgauss_train(t, self.c, sig, self.push_acc * (self.sig / sig) ** 2)[:, None] * self.dir
        )
        return out


class TurningOver(Event):
    """Turning over in sleep: a short muscle burst and a whole-limb move (posture change is
    in the state track)."""

    name = "turning_over"

    def __init__(self, start: float, dur: float, amp: float, rng: np.random.Generator) -> None:
        self.v = Voluntary(start, dur, amp, rng)
        self.v.disp = rng.uniform(200.0, 500.0)
        self.v.move = min(dur, rng.uniform(0.6, 1.5))
        self.v.dpitch = 0.0
        self.t0, self.t1 = self.v.t0, self.v.t1

    def emg_env(self, t: np.ndarray) -> np.ndarray:
        return self.v.emg_env(t)

    def emg_weights(self, n_channels: int) -> np.ndarray:
        return channel_weights(self.v.center, 2.0, 0.5, n_channels)

    def acc(self, t: np.ndarray, fs: float) -> np.ndarray:
        return self.v.acc(t, fs)


# ------------------------------------------------------------------------ artefacts


class MotionArtefact(Event):
    """A knock or cable/armband shift: a low-frequency EMG transient with an ACC jolt."""

    name = "motion_artefact"

    def __init__(self, start: float, rng: np.random.Generator) -> None:
        self.c = start + 0.2
        self.f = rng.uniform(2.0, 8.0)
        self.tau = rng.uniform(0.08, 0.4)
        self.a_uv = rng.uniform(50.0, 600.0)
        self.w = rng.uniform(-1.0, 1.0, 64)
        self.acc_sig = rng.uniform(0.01, 0.03)
        self.acc_a = rng.uniform(300.0, 2000.0)
        self.dir = _unit(rng)
        self.t0, self.t1 = start, start + 0.2 + 6.0 * self.tau

    def emg_add(self, t: np.ndarray, n_channels: int) -> np.ndarray:
        u = t - self.c
        wave = (
            np.where(u >= 0, np.exp(-u / self.tau) * np.sin(_TWO_PI * self.f * u + 0.5), 0.0)
            * self.a_uv
        )
        return wave[:, None] * self.w[:n_channels]

    def acc(self, t: np.ndarray, fs: float) -> np.ndarray:
        sig = float(_eff_sigma(self.acc_sig, fs))
        a = self.acc_a * (self.acc_sig / sig) ** 2
        u = (t - self.c) / sig
        return (a * (u * u - 1.0) * np.exp(-0.5 * u * u))[:, None] * self.dir


class ElectrodePop(Event):
    """An electrode pop: a step on one channel decaying exponentially."""

    name = "electrode_pop"

    def __init__(self, start: float, rng: np.random.Generator) -> None:
        self.c = start
        self.ch = int(rng.integers(0, 64))
        self.a = rng.choice([-1.0, 1.0]) * rng.uniform(300.0, 1500.0)
        self.tau = rng.uniform(0.02, 0.15)
        self.t0, self.t1 = start, start + 8.0 * self.tau

    def emg_add(self, t: np.ndarray, n_channels: int) -> np.ndarray:
        out = np.zeros((t.shape[0], n_channels))
        u = t - self.c
        out[:, self.ch % n_channels] = np.where(u >= 0, self.a * np.exp(-u / self.tau), 0.0)
        return out


class LiftOff(Event):
    """Electrode lift-off: one or two channels wander widely and pick up strong hum."""

    name = "electrode_liftoff"

    def __init__(self, start: float, dur: float, mains_hz: float, rng: np.random.Generator):
        self.start, self.dur = start, dur
        self.ch = int(rng.integers(0, 64))
        self.two = bool(rng.random() < 0.4)
        self.f = rng.uniform(0.5, 6.0, 4)
        self.ph = rng.uniform(0, _TWO_PI, 5)
        self.a = rng.uniform(300.0, 2000.0)
        self.hum = rng.uniform(100.0, 600.0)
        self.mains = mains_hz
        self.t0, self.t1 = start, start + dur

    def emg_add(self, t: np.ndarray, n_channels: int) -> np.ndarray:
        tau = t - self.start
        w = _ramp(tau / 0.2) * _ramp((self.dur - tau) / 0.2)
        x = np.zeros(t.shape[0])
        for i in range(4):
            x += np.sin(_TWO_PI * self.f[i] * tau + self.ph[i])
        x = self.a / 2.0 * x + self.hum * np.sin(_TWO_PI * self.mains * t + self.ph[4])
        out = np.zeros((t.shape[0], n_channels))
        ch = self.ch % n_channels
        out[:, ch] = w * x
        if self.two and n_channels > 2:
            out[:, (ch + 1) % n_channels] = 0.5 * w * x
        return out


class HumBoost(Event):
    """A period near mains equipment (laptop on charge...): powerline hum several times up."""

    name = "powerline_hum"

    def __init__(
        self, start: float, dur: float, uv: float, mains_hz: float, rng: np.random.Generator
    ) -> None:
        self.start, self.dur, self.uv, self.mains = start, dur, uv, mains_hz
        self.ph = rng.uniform(0, _TWO_PI, 64)
        self.t0, self.t1 = start, start + dur

    def emg_add(self, t: np.ndarray, n_channels: int) -> np.ndarray:
        tau = t - self.start
        w = _ramp(tau / 5.0) * _ramp((self.dur - tau) / 5.0) * self.uv
        return w[:, None] * np.sin(_TWO_PI * self.mains * t[:, None] + self.ph[:n_channels])
