"""The simulated wearer: :class:`WearerProfile` and the spasm types.

Every range below is cited in ``docs/simulation.md`` (literature or, where no source was
found, marked as an assumption).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np

from spasmwatch.errors import ConfigError

__all__ = ["SPASM_TYPES", "WearerProfile"]

#: Ground-truth spasm types, in the order of :attr:`WearerProfile.type_mix`.
SPASM_TYPES: tuple[str, ...] = ("tonic", "clonic", "mixed", "myoclonic")


def _check_range(name: str, value: float, lo: float, hi: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"WearerProfile.{name} must be a finite number (got {value!r})")
    if not lo <= value <= hi:
        raise ConfigError(
            f"WearerProfile.{name} must be in [{lo}, {hi}] (got {value}); "
            "see docs/simulation.md for the ranges and their sources"
        )


@dataclass(frozen=True, slots=True)
class WearerProfile:
    """One simulated person wearing the sensors on one limb.

    Parameters
    ----------
    emg_gain : float
        Scales every muscle-activity amplitude (0.3–3): electrode placement, skin, muscle size.
    noise_floor_uv : float
        Electrode/skin noise, standard deviation in µV (1–30).
    rest_tone_uv : float
        Resting muscle tone, RMS µV of activity at rest while awake (0–40).
    spasms_per_day : float
        Mean number of spasms in 24 h (0–200; typical 5–60).
    type_mix : tuple of float
        Probabilities of ``SPASM_TYPES`` (tonic, clonic, mixed, myoclonic); sums to 1.
    clonus_hz : float
        This wearer's clonus frequency (3–8 Hz; 4.7–7.0 Hz in the literature).
    spasm_intensity : float
        Mean spasm intensity, fraction of a maximal contraction (0.1–1).
    night_factor : float
        Spasm rate during sleep relative to daytime (>= 0).
    morning_factor : float
        Spasm rate in the first 2 h after waking relative to daytime (>= 0).
    sleep_start_h, sleep_end_h : float
        Local clock hours of falling asleep and waking (0–24; the window may wrap midnight).
    activity_level : float
        Scales walking, stairs and voluntary contractions (0–2; 1 = typical).
    step_hz : float
        Walking cadence, steps per second (1.2–2.4).
    placement : str
        ``"leg"`` (calf/shank: leg spasms, walking) or ``"arm"`` (forearm: tooth brushing,
        combing, typing show up).
    wheelchair : bool
        Uses a wheelchair instead of walking.
    tremor_mg : float
        Peak ACC of intermittent 4–6 Hz tremor in mG (0 = no tremor).
    mains_hz : float
        Powerline frequency, 50 or 60 Hz.
    hum_uv : float
        Typical powerline pick-up, amplitude in µV.
    packet_loss : float
        Probability that a BLE notification is lost (0–0.2).
    disconnects_per_day : float
        Mean number of link drops per device per 24 h (0–100).
    utc_offset_h : float
        Local time minus UTC in hours: the daily schedule follows local time.
    """

    emg_gain: float = 1.0
    noise_floor_uv: float = 12.0
    rest_tone_uv: float = 10.0
    spasms_per_day: float = 20.0
    type_mix: tuple[float, float, float, float] = (0.4, 0.3, 0.15, 0.15)
    clonus_hz: float = 5.4
    spasm_intensity: float = 0.5
    night_factor: float = 2.0
    morning_factor: float = 2.0
    sleep_start_h: float = 23.0
    sleep_end_h: float = 7.0
    activity_level: float = 1.0
    step_hz: float = 1.9
    placement: str = "leg"
    wheelchair: bool = False
    tremor_mg: float = 0.0
    mains_hz: float = 50.0
    hum_uv: float = 15.0
    packet_loss: float = 0.003
    disconnects_per_day: float = 2.0
    utc_offset_h: float = 0.0

    def __post_init__(self) -> None:
        _check_range("emg_gain", self.emg_gain, 0.05, 10.0)
        _check_range("noise_floor_uv", self.noise_floor_uv, 0.0, 200.0)
        _check_range("rest_tone_uv", self.rest_tone_uv, 0.0, 200.0)
        _check_range("spasms_per_day", self.spasms_per_day, 0.0, 20000.0)
        mix = tuple(float(x) for x in self.type_mix)
        if len(mix) != len(SPASM_TYPES) or any(not (x >= 0) for x in mix) or sum(mix) <= 0:
            raise ConfigError(
                f"WearerProfile.type_mix must be {len(SPASM_TYPES)} non-negative weights for "
                f"{SPASM_TYPES} (got {self.type_mix!r})"
            )
        total = sum(mix)
        if abs(total - 1.0) > 1e-9:  # normalise weights; keep exact probabilities as given
            mix = tuple(x / total for x in mix)
        object.__setattr__(self, "type_mix", mix)
        _check_range("clonus_hz", self.clonus_hz, 3.0, 8.0)
        _check_range("spasm_intensity", self.spasm_intensity, 0.05, 1.0)
        _check_range("night_factor", self.night_factor, 0.0, 20.0)
        _check_range("morning_factor", self.morning_factor, 0.0, 20.0)
        _check_range("sleep_start_h", self.sleep_start_h, 0.0, 24.0)
        _check_range("sleep_end_h", self.sleep_end_h, 0.0, 24.0)
        _check_range("activity_level", self.activity_level, 0.0, 3.0)
        _check_range("step_hz", self.step_hz, 1.0, 2.6)
        if self.placement not in ("leg", "arm"):
            raise ConfigError(
                f"WearerProfile.placement must be 'leg' or 'arm' (got {self.placement!r})"
            )
        if not isinstance(self.wheelchair, bool):
            raise ConfigError(f"WearerProfile.wheelchair must be a bool ({self.wheelchair!r})")
        _check_range("tremor_mg", self.tremor_mg, 0.0, 500.0)
        if self.mains_hz not in (50.0, 60.0):
            raise ConfigError(f"WearerProfile.mains_hz must be 50 or 60 (got {self.mains_hz!r})")
        _check_range("hum_uv", self.hum_uv, 0.0, 2000.0)
        _check_range("packet_loss", self.packet_loss, 0.0, 0.2)
        _check_range("disconnects_per_day", self.disconnects_per_day, 0.0, 100.0)
        _check_range("utc_offset_h", self.utc_offset_h, -14.0, 14.0)
        sleep_len = (self.sleep_end_h - self.sleep_start_h) % 24.0
        if not 3.0 <= sleep_len <= 14.0:
            raise ConfigError(
                f"WearerProfile sleep window {self.sleep_start_h}h -> {self.sleep_end_h}h lasts "
                f"{sleep_len:.1f} h; expected 3-14 h"
            )

    @classmethod
    def from_seed(cls, seed: int | np.random.SeedSequence) -> WearerProfile:
        """A plausible random wearer, reproducible from ``seed``.

        Draws every parameter inside the ranges of ``docs/simulation.md``.
        """
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        rng = np.random.Generator(np.random.PCG64(ss))
        mix = rng.dirichlet([4.0, 3.0, 1.5, 1.5])
        return cls(
            emg_gain=float(np.exp(rng.uniform(np.log(0.3), np.log(3.0)))),
            noise_floor_uv=float(rng.uniform(6.0, 20.0)),
            rest_tone_uv=float(np.exp(rng.uniform(np.log(3.0), np.log(40.0)))),
            spasms_per_day=float(np.exp(rng.uniform(np.log(5.0), np.log(60.0)))),
            type_mix=tuple(float(x) for x in mix),  # type: ignore[arg-type]
            clonus_hz=float(rng.uniform(4.7, 7.0)),
            spasm_intensity=float(rng.uniform(0.3, 0.8)),
            night_factor=float(rng.uniform(1.0, 3.0)),
            morning_factor=float(rng.uniform(1.0, 3.0)),
            sleep_start_h=float(rng.uniform(21.5, 24.0) % 24.0),
            sleep_end_h=float(rng.uniform(6.0, 8.5)),
            activity_level=float(rng.uniform(0.3, 1.5)),
            step_hz=float(rng.uniform(1.7, 2.3)),
            placement="leg" if rng.random() < 0.7 else "arm",
            wheelchair=bool(rng.random() < 0.15),
            tremor_mg=float(rng.uniform(10.0, 60.0)) if rng.random() < 0.3 else 0.0,
            mains_hz=50.0 if rng.random() < 0.7 else 60.0,
            hum_uv=float(rng.uniform(3.0, 20.0)),
            packet_loss=float(rng.uniform(0.0005, 0.01)),
            disconnects_per_day=float(rng.uniform(0.0, 6.0)),
        )

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (stored in the recording's metadata)."""
        d = asdict(self)
        d["type_mix"] = dict(zip(SPASM_TYPES, self.type_mix))
        return d

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> WearerProfile:
        """Inverse of :meth:`to_dict` (unknown keys are refused)."""
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ConfigError(
                f"WearerProfile: unknown keys {sorted(unknown)}; known {sorted(names)}"
            )
        kw = dict(d)
        mix = kw.get("type_mix")
        if isinstance(mix, dict):
            kw["type_mix"] = tuple(float(mix.get(t, 0.0)) for t in SPASM_TYPES)
        elif mix is not None:
            kw["type_mix"] = tuple(mix)  # type: ignore[arg-type]
        return cls(**kw)  # type: ignore[arg-type]
