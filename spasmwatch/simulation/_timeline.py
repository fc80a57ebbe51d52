"""The wearer's day: when spasms happen, what else the limb does, and the posture track.

Built once per simulation from independent random streams (spasms, activities, artefacts),
so switching confounders off, or adding a device, leaves the spasm timeline unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spasmwatch.simulation import _events as ev
from spasmwatch.simulation._truth import GroundTruthEvent
from spasmwatch.simulation._wearer import SPASM_TYPES, WearerProfile

__all__ = ["StateTrack", "Timeline", "build_timeline"]

_DAY = 86400.0
#: Minimum quiet time between two spasms (s), so ground-truth events never overlap.
MIN_SEPARATION_S = 3.0


def _rng(ss: np.random.SeedSequence) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(ss))


@dataclass
class StateTrack:
    """Piecewise-constant posture/tone/fidget levels with raised-cosine transitions.

    Change ``k`` starts at ``t[k]`` and takes ``dur[k]`` seconds to move from ``v[k-1]`` to
    ``v[k]``; columns of ``v``: pitch (rad), roll (rad), fidget ACC (mG RMS), tone factor.
    """

    t: np.ndarray
    dur: np.ndarray
    v: np.ndarray

    def at(self, t: np.ndarray) -> np.ndarray:
        """Values at times ``t`` (s), shape ``(n, 4)``."""
        k = np.searchsorted(self.t, t, side="right") - 1
        k = np.clip(k, 0, self.t.shape[0] - 1)
        prev = self.v[np.maximum(k - 1, 0)]
        cur = self.v[k]
        x = np.clip((t - self.t[k]) / self.dur[k], 0.0, 1.0)
        w = (0.5 - 0.5 * np.cos(np.pi * x))[:, None]
        return prev + (cur - prev) * w


@dataclass
class Timeline:
    """Everything that happens to the limb during one simulation."""

    duration_s: float
    spasms: list[ev.Event]
    truth: list[GroundTruthEvent]
    events: list[ev.Event]  # confounders and artefacts
    confounders: list[tuple[float, float, str]]
    states: StateTrack
    sleep: list[tuple[float, float]]

    def all_events(self) -> list[ev.Event]:
        """Spasms then confounders, each group in time order: the fixed render order."""
        return list(self.spasms) + list(self.events)


def _sleep_intervals(
    w: WearerProfile, tod0_s: float, duration_s: float
) -> list[tuple[float, float]]:
    """Sleep windows ``(start, end)`` in seconds from the start, clipped to the recording."""
    out = []
    day0 = -tod0_s  # time (s from start) of the local midnight on the first day
    for d in range(-1, int(duration_s // _DAY) + 2):
        base = day0 + d * _DAY
        s = base + w.sleep_start_h * 3600.0
        e = base + w.sleep_end_h * 3600.0
        if e <= s:
            e += _DAY
        a, b = max(s, 0.0), min(e, duration_s)
        if b > a:
            out.append((a, b))
    return out


def _in_any(t: float, iv: list[tuple[float, float]]) -> bool:
    return any(a <= t < b for a, b in iv)


def _rate_factor(
    t: np.ndarray,
    sleep: list[tuple[float, float]],
    sleep_raw: list[tuple[float, float]],
    w: WearerProfile,
) -> np.ndarray:
    f = np.ones_like(t)
    for a, b in sleep:
        f = np.where((t >= a) & (t < b), w.night_factor, f)
    for _, e in sleep_raw:  # mornings: 2 h after every wake-up
        f = np.where((t >= e) & (t < e + 7200.0), np.maximum(f, w.morning_factor), f)
    return f


def _spasms(
    w: WearerProfile, duration_s: float, sleep: list, sleep_raw: list, rng: np.random.Generator
) -> tuple[list[ev.Event], list[GroundTruthEvent]]:
    sleep_h = (w.sleep_end_h - w.sleep_start_h) % 24.0
    day_mean = (sleep_h * w.night_factor + 2.0 * w.morning_factor + (22.0 - sleep_h)) / 24.0
    base = w.spasms_per_day / _DAY / max(day_mean, 1e-9)  # per second at factor 1
    lam_max = base * max(1.0, w.night_factor, w.morning_factor)
    n = int(rng.poisson(lam_max * duration_s)) if lam_max > 0 else 0
    cand = np.sort(rng.uniform(0.0, duration_s, n))
    accept = rng.random(n) * lam_max < base * _rate_factor(cand, sleep, sleep_raw, w)
    onsets = cand[accept]
    spasms: list[ev.Event] = []
    truth: list[GroundTruthEvent] = []
    prev_end = -np.inf
    mix = np.asarray(w.type_mix)
    for t_on in onsets:
        typ = SPASM_TYPES[int(rng.choice(len(SPASM_TYPES), p=mix))]
        inten = float(np.clip(w.spasm_intensity * np.exp(0.35 * rng.standard_normal()), 0.05, 1.0))
        amp = inten * ev.MVC_UV
        start = max(float(t_on), prev_end + MIN_SEPARATION_S)
        f_c = float(np.clip(w.clonus_hz * (1.0 + 0.04 * rng.standard_normal()), 3.0, 8.0))
        parts: list[ev.Event]
        if typ == "tonic":
            dur = float(np.clip(np.exp(np.log(6.0) + 0.8 * rng.standard_normal()), 1.0, 120.0))
            parts = [ev.Tonic(start, dur, amp, rng)]
            s, e, clonus, jerks = start, start + dur, None, None
        elif typ == "clonic":
            dur = _clonus_duration(rng)
            c = ev.Clonic(start, dur, amp, f_c, rng)
            parts = [c]
            s, e, clonus, jerks = c.start, c.end, c.f_mean, None
        elif typ == "mixed":
            d_t = float(rng.uniform(2.0, 15.0))
            d_c = float(rng.uniform(3.0, 30.0))
            if rng.random() < 0.6:  # tonic then clonic
                to = ev.Tonic(start, d_t, amp, rng)
                c = ev.Clonic(start + 0.8 * d_t, d_c, amp * 0.8, f_c, rng)
                s, e = start, max(to.t1, c.end)
            else:
                c = ev.Clonic(start, d_c, amp * 0.8, f_c, rng)
                to = ev.Tonic(c.end - 0.5, d_t, amp, rng)
                s, e = c.start, max(to.t1, c.end)
            parts = [to, c]
            clonus, jerks = c.f_mean, None
        else:
            m = ev.Myoclonic(start, max(amp, 0.4 * ev.MVC_UV), rng)
            parts = [m]
            s, e, clonus, jerks = m.start, m.end, None, m.n
        if e > duration_s or s < 0.0:
            continue
        prev_end = e
        spasms.extend(parts)
        truth.append(GroundTruthEvent(s, e, typ, inten, clonus, jerks))
    return spasms, truth


def _clonus_duration(rng: np.random.Generator) -> float:
    """Bout duration: short (<5 s), intermediate (median 21 s) or prolonged (>40 s)."""
    u = rng.random()
    if u < 0.45:
        return float(rng.uniform(2.0, 5.0))
    if u < 0.87:
        return float(np.clip(np.exp(np.log(21.0) + 0.35 * rng.standard_normal()), 5.0, 40.0))
    return float(rng.uniform(40.0, 90.0))


def _posture(placement: str, state: str, rng: np.random.Generator) -> tuple[float, float]:
    """(pitch, roll) in rad of the sensor limb in a body state."""
    if state == "sleep":
        return float(rng.uniform(1.3, 1.6)), float(rng.uniform(-np.pi, np.pi))
    if state in ("walk", "stand"):
        return float(rng.uniform(-0.15, 0.15)), float(rng.uniform(-0.15, 0.15))
    if placement == "arm":
        return float(rng.uniform(0.8, 1.5)), float(rng.uniform(-0.6, 0.6))
    return float(rng.uniform(0.0, 0.5)), float(rng.uniform(-0.3, 0.3))


def incidental_events(a: float, b: float, rng: np.random.Generator) -> list[ev.Event]:
    """Small incidental movements of a resting, awake limb between ``a`` and ``b`` (s)."""
    n = int(rng.poisson(240.0 / 3600.0 * (b - a)))
    out: list[ev.Event] = []
    for s in np.sort(rng.uniform(a, b, n)):
        d = float(rng.uniform(0.2, 1.5))
        if s + d < b:
            amp = float(np.exp(rng.uniform(np.log(0.02), np.log(0.5)))) * ev.MVC_UV
            out.append(ev.Incidental(float(s), d, amp, rng))
    return out


def _activities(
    w: WearerProfile, duration_s: float, sleep: list[tuple[float, float]],
    rng: np.random.Generator, art_rng: np.random.Generator,
) -> tuple[list[ev.Event], list[tuple[float, float, str]], StateTrack]:  # fmt: skip
    arm = w.placement == "arm"
    events: list[ev.Event] = []
    conf: list[tuple[float, float, str]] = []
    st_t: list[float] = []
    st_d: list[float] = []
    st_v: list[tuple[float, float, float, float]] = []

    def state(t: float, name: str, fidget: float, tone: float, trans: float = 1.5) -> None:
        p, r = _posture(w.placement, name, rng)
        if st_t and t < st_t[-1] + st_d[-1]:
            t = st_t[-1] + st_d[-1]
        st_t.append(t)
        st_d.append(trans)
        st_v.append((p, r, fidget, tone))

    def add(e: ev.Event, s: float, end: float) -> None:
        events.append(e)
        conf.append((float(s), float(end), e.name))

    awake: list[tuple[float, float]] = []
    cursor = 0.0
    for a, b in sleep:
        if a > cursor:
            awake.append((cursor, a))
        cursor = b
    if cursor < duration_s:
        awake.append((cursor, duration_s))
    bounds = sorted([(a, "awake", b) for a, b in awake] + [(a, "sleep", b) for a, b in sleep])
    for a, kind, b in bounds:
        if kind == "sleep":
            state(a, "sleep", 2.0, 0.4, 3.0)
            conf.append((a, b, "sleep"))
            t = a
            while True:
                t += float(rng.exponential(45 * 60.0))
                if t + 10.0 >= b:
                    break
                d = float(rng.uniform(1.0, 3.0))
                add(ev.TurningOver(t, d, rng.uniform(0.1, 0.3) * ev.MVC_UV, rng), t, t + d)
                state(t + 0.2, "sleep", 2.0, 0.4, d)
            continue
        # awake: a sequence of sitting, walking, stairs, typing; routines after waking and
        # before sleeping (tooth brushing, hair combing).
        routines = []
        woke = a > 0.0
        if woke:
            routines += [(a + rng.uniform(300, 1800), "brushing_teeth"),
                         (a + rng.uniform(600, 2400), "combing_hair")]  # fmt: skip
        if b < duration_s:
            routines.append((b - rng.uniform(600, 1800), "brushing_teeth"))
        routines = sorted(r for r in routines if a <= r[0] < b)
        t = a
        state(t, "sit", 15.0, 1.0)
        while t < b:
            if routines and t >= routines[0][0]:
                _, name = routines.pop(0)
                if name == "brushing_teeth":
                    d = float(rng.uniform(60.0, 180.0))
                    e = ev.Rhythmic(name, t, d, rng.uniform(2.5, 5.0),
                                    rng.uniform(200.0, 800.0) * (1 if arm else 0.05),
                                    rng.uniform(0.08, 0.2) * ev.MVC_UV * (1 if arm else 0.05),
                                    rng, dpitch=0.6 if arm else 0.0)  # fmt: skip
                else:
                    d = float(rng.uniform(30.0, 90.0))
                    e = ev.Rhythmic(name, t, d, rng.uniform(2.0, 3.0),
                                    rng.uniform(300.0, 1000.0) * (1 if arm else 0.05),
                                    rng.uniform(0.1, 0.25) * ev.MVC_UV * (1 if arm else 0.05),
                                    rng, dpitch=-0.9 if arm else 0.0)  # fmt: skip
                d = min(d, b - t)
                state(t, "stand", 10.0, 1.0)
                add(e, t, t + d)
                t += d
                state(t, "sit", 15.0, 1.0)
                continue
            hour = ((t + w.utc_offset_h * 3600.0) % _DAY) / 3600.0
            lvl = w.activity_level
            weights = np.array([1.0, 0.6 * lvl, 0.35 if 8.0 <= hour < 19.0 else 0.05])
            choice = int(rng.choice(3, p=weights / weights.sum()))
            if choice == 0:  # sitting / resting
                d = float(np.clip(np.exp(np.log(480.0) + 0.8 * rng.standard_normal()), 60, 3600))
                d = min(d, b - t)
                t += d
                continue
            if choice == 2:  # typing
                d = min(float(rng.uniform(300.0, 2700.0)), b - t)
                add(ev.Typing(t, d, rng.uniform(0.05, 0.12) * ev.MVC_UV, arm, rng), t, t + d)
                if rng.random() < 0.5:
                    hd = d * rng.uniform(0.3, 1.0)
                    add(ev.HumBoost(t, hd, w.hum_uv * rng.uniform(3.0, 10.0), w.mains_hz, rng),
                        t, t + hd)  # fmt: skip
                t += d
                continue
            d = float(np.clip(np.exp(np.log(120.0) + 0.9 * rng.standard_normal()), 15.0, 1200.0))
            d = min(d, b - t)
            if w.wheelchair:
                state(t, "sit", 10.0, 1.0)
                add(ev.Wheelchair(t, d, arm, rng.uniform(0.2, 0.4) * ev.MVC_UV, rng), t, t + d)
                t += d
                continue
            state(t, "walk", 8.0, 1.0)
            add(ev.Gait("walking", t, d, w.step_hz, w.placement, rng,
                        emg_amp=rng.uniform(0.15, 0.35) * ev.MVC_UV), t, t + d)  # fmt: skip
            t += d
            if t < b - 40.0 and rng.random() < 0.15:
                d2 = float(rng.uniform(10.0, 40.0))
                add(ev.Gait("stairs", t, d2, w.step_hz * rng.uniform(0.65, 0.8), w.placement,
                            rng, emg_amp=rng.uniform(0.3, 0.5) * ev.MVC_UV), t, t + d2)  # fmt: skip
                t += d2
            state(t, "sit", 15.0, 1.0)
    # Point events while awake: voluntary contractions, tremor; artefacts any time.
    for a, b in awake:
        span = b - a
        for e in incidental_events(a, b, rng):
            add(e, e.t0, e.t1)
        n = int(rng.poisson(20.0 / 3600.0 * span * max(w.activity_level, 0.05)))
        for s in np.sort(rng.uniform(a, b, n)):
            d = float(rng.uniform(0.8, 6.0))
            if s + d < b:
                amp = rng.uniform(0.15, 0.8) * ev.MVC_UV
                add(ev.Voluntary(float(s), d, amp, rng), s, s + d)
        if w.tremor_mg > 0:
            n = int(rng.poisson(3.0 / 3600.0 * span))
            for s in np.sort(rng.uniform(a, b, n)):
                d = float(rng.uniform(10.0, 180.0))
                if s + d < b:
                    add(ev.Rhythmic("tremor", float(s), d, rng.uniform(4.0, 6.0), w.tremor_mg,
                                    rng.uniform(0.03, 0.08) * ev.MVC_UV, rng, pauses=False),
                        s, s + d)  # fmt: skip
    for name, per_h_awake, per_h_sleep in (
        ("motion_artefact", 3.0, 0.3), ("electrode_pop", 2.0, 0.5),
        ("electrode_liftoff", 0.3, 0.1),
    ):  # fmt: skip
        n = int(art_rng.poisson(per_h_awake / 3600.0 * duration_s))
        for s in np.sort(art_rng.uniform(0.0, duration_s, n)):
            s = float(s)
            if _in_any(s, sleep) and art_rng.random() > per_h_sleep / per_h_awake:
                continue
            if name == "motion_artefact":
                e = ev.MotionArtefact(s, art_rng)
            elif name == "electrode_pop":
                e = ev.ElectrodePop(s, art_rng)
            else:
                e = ev.LiftOff(s, float(art_rng.uniform(1.0, 30.0)), w.mains_hz, art_rng)
            if e.t1 < duration_s:
                add(e, e.t0, e.t1)
    if not st_t:
        state(0.0, "sit", 15.0, 1.0)
    order = np.argsort(np.asarray([e.t0 for e in events]), kind="stable")
    events = [events[i] for i in order]
    conf.sort(key=lambda c: (c[0], c[1], c[2]))
    track = StateTrack(np.asarray(st_t), np.asarray(st_d), np.asarray(st_v, dtype=float))
    return events, conf, track


def build_timeline(
    w: WearerProfile,
    duration_s: float,
    tod0_s: float,
    ss_spasm: np.random.SeedSequence,
    ss_act: np.random.SeedSequence,
    ss_art: np.random.SeedSequence,
    *,
    confounders: bool = True,
) -> Timeline:
    """The timeline of ``duration_s`` seconds starting at local time of day ``tod0_s``."""
    sleep = _sleep_intervals(w, tod0_s, duration_s)
    # unclipped wake-up times for the morning factor
    sleep_raw = []
    for d in range(-1, int(duration_s // _DAY) + 2):
        base = -tod0_s + d * _DAY
        s = base + w.sleep_start_h * 3600.0
        e = base + w.sleep_end_h * 3600.0
        if e <= s:
            e += _DAY
        sleep_raw.append((s, e))
    spasms, truth = _spasms(w, duration_s, sleep, sleep_raw, _rng(ss_spasm))
    if confounders:
        events, conf, track = _activities(w, duration_s, sleep, _rng(ss_act), _rng(ss_art))
    else:
        events, conf = [], []
        track = _quiet_track(w, sleep, _rng(ss_act))
    return Timeline(duration_s, spasms, truth, events, conf, track, sleep)


def _quiet_track(w: WearerProfile, sleep: list, rng: np.random.Generator) -> StateTrack:
    """Posture only (sitting/lying), no activities: for ``confounders=False``."""
    t, d, v = [0.0], [1.0], [(*_posture(w.placement, "sit", rng), 5.0, 1.0)]
    for a, b in sleep:
        t += [max(a, t[-1] + d[-1]), b]
        d += [3.0, 3.0]
        v += [(*_posture(w.placement, "sleep", rng), 1.0, 0.4),
              (*_posture(w.placement, "sit", rng), 5.0, 1.0)]  # fmt: skip
    return StateTrack(np.asarray(t), np.asarray(d), np.asarray(v, dtype=float))
