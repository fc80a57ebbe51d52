"""Realism check: simulated EMG and ACC against real recordings.

* EMG: the real Myo armband recordings (``myo-readings/``: ``0.txt`` rest, ``1..7.txt``
  gestures alternating with rest every 5 s, label in column 9) against simulated wearers in
  the same protocol — amplitude distribution (percentiles of ``|x|``, RMS per 1-s window)
  and Welch spectrum up to 100 Hz.
* ACC: real walking from the Daphnet data set (ankle sensor, 64 Hz, mG, annotation 1)
  against simulated walking of a leg-worn sensor at 64 Hz — step frequency, magnitude
  standard deviation and spectrum.

The data folder is always an argument (``--data-dir``); nothing here knows where it lives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import signal as sps

from spasmwatch.errors import ConfigError
from spasmwatch.simulation import _events as ev
from spasmwatch.simulation._devices import DEVICE_PRESETS, SimStream
from spasmwatch.simulation._simulate import Simulator
from spasmwatch.simulation._timeline import incidental_events
from spasmwatch.simulation._wearer import WearerProfile

__all__ = [
    "RealismReport",
    "acc_walking_stats",
    "compare",
    "emg_stats",
    "load_daphnet",
    "load_myo",
    "simulate_gesture_protocol",
    "simulate_walking",
]

MYO_FS = 200.0
DAPHNET_FS = 64.0
_PCTS = (50.0, 90.0, 99.0, 99.9)


# ------------------------------------------------------------------------------- loading


def load_myo(data_dir: str | Path, *, max_participants: int | None = None) -> dict:
    """Read ``<data_dir>/myo-readings``: ``{participant: {label_file: int array (n, 9)}}``.

    Rows without 9 integer fields are skipped and counted in ``result["_skipped"]``.
    """
    root = Path(data_dir) / "myo-readings"
    if not root.is_dir():
        raise ConfigError(f"no myo-readings folder in {data_dir}; pass --data-dir of the data")
    out: dict = {}
    skipped = 0
    folders = sorted(p for p in root.glob("*/*") if p.is_dir())
    if max_participants is not None:
        folders = folders[:max_participants]
    for folder in folders:
        files = {}
        for f in sorted(folder.glob("*.txt")):
            rows = []
            for line in f.read_text().splitlines():
                parts = line.strip().split(",")
                try:
                    if len(parts) != 9:
                        raise ValueError
                    rows.append([int(x) for x in parts])
                except ValueError:
                    skipped += 1
            files[f.stem] = np.asarray(rows, dtype=np.int64).reshape(-1, 9)
        out[f"{folder.parent.name}/{folder.name}"] = files
    out["_skipped"] = skipped
    return out


def load_daphnet(data_dir: str | Path) -> list[np.ndarray]:
    """Ankle ACC (mG, 64 Hz) of every annotation-1 run (walking, turning, daily tasks) of
    ``<data_dir>/daphnet-fog``: a list of ``(n, 3)`` arrays, one per contiguous run."""
    root = Path(data_dir) / "daphnet-fog"
    if not root.is_dir():
        raise ConfigError(f"no daphnet-fog folder in {data_dir}; pass --data-dir of the data")
    out = []
    for f in sorted(root.glob("*.txt")):
        x = np.loadtxt(f)
        lab = x[:, 10]
        m = (lab == 1).astype(np.int8)
        edges = np.diff(np.concatenate([[0], m, [0]]))
        for a, b in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]):
            seg = x[a:b, 1:4]
            if b - a > 10 * DAPHNET_FS and np.abs(seg).sum() > 0:
                out.append(seg)
    return out


# ----------------------------------------------------------------------------- statistics


def emg_stats(segments: list[np.ndarray], fs: float = MYO_FS) -> dict:
    """Amplitude and spectrum of EMG segments (each ``(n, c)``, counts).

    Returns percentiles of ``|x|`` (pooled), 1-s window RMS percentiles (10/50/90, per
    channel and window), and the channel-mean Welch PSD (``nperseg=256``) as
    ``(f, psd)`` (counts²/Hz).
    """
    pooled = np.concatenate([np.abs(s).ravel() for s in segments])
    win = int(fs)
    rms = []
    psds = []
    for s in segments:
        s = s.astype(np.float64)
        k = s.shape[0] // win
        if k:
            w = s[: k * win].reshape(k, win, -1)
            rms.append(np.sqrt(np.mean((w - w.mean(axis=1, keepdims=True)) ** 2, axis=1)).ravel())
        if s.shape[0] >= 256:
            f, p = sps.welch(s, fs=fs, nperseg=256, axis=0)
            psds.append((p.mean(axis=1), s.shape[0]))
    r = np.concatenate(rms)
    tot = sum(n for _, n in psds)
    psd = sum(p * n for p, n in psds) / tot
    return {
        "abs_pct": {str(p): float(np.percentile(pooled, p)) for p in _PCTS},
        "rms_1s_pct": {str(p): float(np.percentile(r, p)) for p in (10.0, 50.0, 90.0)},
        "rms_all": float(
            np.sqrt(np.mean(np.concatenate([s.ravel().astype(float) ** 2 for s in segments])))
        ),
        "clip_frac": float(np.mean(pooled >= 127.5)),
        "f": f.tolist(),
        "psd": psd.tolist(),
    }


def acc_walking_stats(segments: list[np.ndarray], fs: float = DAPHNET_FS) -> dict:
    """Step frequency, magnitude std and spectrum of walking in ACC segments (mG).

    Windows of 8 s (hop 4 s) count as walking when the magnitude's spectral peak in
    0.6–3 Hz holds at least 15 % of the 0.3–20 Hz power and the magnitude std is > 100 mG
    (the Daphnet label 1 also covers standing and daily tasks).
    """
    n = int(8 * fs)
    hop = int(4 * fs)
    steps, stds, psds = [], [], []
    f = None
    for s in segments:
        mag = np.linalg.norm(s.astype(np.float64), axis=1)
        for a in range(0, mag.shape[0] - n + 1, hop):
            m = mag[a : a + n]
            sd = m.std()
            if sd < 100.0:
                continue
            f, p = sps.welch(m - m.mean(), fs=fs, nperseg=n // 2)
            band = (f >= 0.6) & (f <= 3.0)
            tot = p[(f >= 0.3) & (f <= 20.0)].sum()
            k = np.argmax(np.where(band, p, 0.0))
            lo, hi = max(k - 1, 0), min(k + 2, p.shape[0])
            if p[lo:hi].sum() < 0.15 * tot:
                continue
            steps.append(f[k])
            stds.append(sd)
            psds.append(p)
    if not steps:
        return {"n_windows": 0}
    return {
        "n_windows": len(steps),
        "step_hz_pct": {str(q): float(np.percentile(steps, q)) for q in (10.0, 50.0, 90.0)},
        "mag_std_pct": {str(q): float(np.percentile(stds, q)) for q in (10.0, 50.0, 90.0)},
        "frac_3_8_hz": float(
            np.mean([p[(f >= 3) & (f <= 8)].sum() / p[(f >= 0.3) & (f <= 20)].sum() for p in psds])
        ),
        "f": f.tolist(),
        "psd": np.mean(psds, axis=0).tolist(),
    }


# ---------------------------------------------------------------------------- simulation


def _render(sim: Simulator) -> dict[str, np.ndarray]:
    out: dict[str, list[np.ndarray]] = {}
    for key, _i0, data in sim.chunks(600.0):
        out.setdefault(key, []).append(data)
    return {k: np.concatenate(v) for k, v in out.items()}


def simulate_gesture_protocol(
    seed: int, *, duration_s: float = 60.0
) -> tuple[np.ndarray, np.ndarray]:
    """A random wearer doing the Myo data set's protocol: 5 s rest, 5 s contraction, ...

    Returns ``(emg counts (n, 8), label (n,))`` with label 1 during contractions.
    """
    w = WearerProfile.from_seed(np.random.SeedSequence(seed))
    w = WearerProfile(**{**w.to_dict(), "type_mix": w.type_mix, "spasms_per_day": 0.0})
    sim = Simulator(duration_s, seed, [DEVICE_PRESETS["myo"][0]], wearer=w, confounders=False,
                    packet_loss=False)  # fmt: skip
    rng = np.random.Generator(np.random.PCG64(seed))
    starts = np.arange(5.0, duration_s - 4.9, 10.0)
    for s in starts:
        amp = rng.uniform(0.15, 0.9) * ev.MVC_UV
        sim.timeline.events.append(ev.Voluntary(float(s), 5.0, amp, rng))
    x = _render(sim)["myo.emg"]
    t = np.arange(x.shape[0]) / MYO_FS
    lab = np.zeros(x.shape[0], dtype=np.int64)
    for s in starts:
        lab[(t >= s) & (t < s + 5.0)] = 1
    return x, lab


def simulate_rest(seed: int, *, duration_s: float = 60.0) -> np.ndarray:
    """A random wearer sitting awake (no spasms, no activities; incidental movements as in the
    simulator's resting state): Myo EMG counts."""
    w = WearerProfile.from_seed(np.random.SeedSequence(seed))
    w = WearerProfile(**{**w.to_dict(), "type_mix": w.type_mix, "spasms_per_day": 0.0})
    sim = Simulator(duration_s, seed, [DEVICE_PRESETS["myo"][0]], wearer=w, confounders=False,
                    packet_loss=False)  # fmt: skip
    rng = np.random.Generator(np.random.PCG64(seed))
    sim.timeline.events.extend(incidental_events(0.0, duration_s, rng))
    return _render(sim)["myo.emg"]


def simulate_walking(seed: int, *, duration_s: float = 120.0, fs: float = DAPHNET_FS) -> np.ndarray:
    """A random leg-worn wearer walking for ``duration_s``: ACC (mG) at ``fs``."""
    w = WearerProfile.from_seed(np.random.SeedSequence(seed))
    w = WearerProfile(**{**w.to_dict(), "type_mix": w.type_mix, "spasms_per_day": 0.0,
                         "placement": "leg", "wheelchair": False})  # fmt: skip
    stream = SimStream("sim-ankle", "acc", fs, 3, "mG", quantum=1.0, noise=3.0)
    sim = Simulator(duration_s, seed, [stream], wearer=w, confounders=False, packet_loss=False)
    rng = np.random.Generator(np.random.PCG64(seed))
    sim.timeline.events.append(
        ev.Gait("walking", 1.0, duration_s - 3.0, w.step_hz, "leg", rng, emg_amp=0.2 * ev.MVC_UV)
    )
    return _render(sim)["sim-ankle.acc"]


# ------------------------------------------------------------------------------- compare


@dataclass
class RealismReport:
    """Figures of :func:`compare` (JSON-ready via :meth:`to_dict`)."""

    emg: dict = field(default_factory=dict)
    acc: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"emg": self.emg, "acc": self.acc, "notes": self.notes}

    def markdown(self) -> str:
        """The tables for ``docs/simulation.md``."""
        lines = ["| EMG (Myo counts) | " + " | ".join(self.emg) + " |",
                 "|---|" + "---|" * len(self.emg)]  # fmt: skip
        rows = [("abs p50", "abs_pct", "50.0"), ("abs p90", "abs_pct", "90.0"),
                ("abs p99", "abs_pct", "99.0"), ("abs p99.9", "abs_pct", "99.9"),
                ("1-s RMS p10", "rms_1s_pct", "10.0"), ("1-s RMS p50", "rms_1s_pct", "50.0"),
                ("1-s RMS p90", "rms_1s_pct", "90.0")]  # fmt: skip
        for name, a, b in rows:
            lines.append(f"| {name} | " + " | ".join(f"{v[a][b]:.1f}" for v in self.emg.values())
                         + " |")  # fmt: skip
        extra = (
            ("RMS overall", lambda v: f"{v['rms_all']:.1f}"),
            ("clipped fraction", lambda v: f"{v['clip_frac']:.4f}"),
            ("PSD ratio 60–95 Hz / 5–20 Hz", lambda v: f"{_band_ratio(v):.2f}"),
            ("PSD 49–51 Hz / 40–48 Hz (hum line)", lambda v: f"{_line_ratio(v):.2f}"),
        )
        for name, fmt in extra:
            lines.append(f"| {name} | " + " | ".join(fmt(v) for v in self.emg.values()) + " |")
        lines += ["", "| ACC walking (ankle, 64 Hz) | " + " | ".join(self.acc) + " |",
                  "|---|" + "---|" * len(self.acc)]  # fmt: skip
        for name, a, b in (("step Hz p10", "step_hz_pct", "10.0"),
                           ("step Hz p50", "step_hz_pct", "50.0"),
                           ("step Hz p90", "step_hz_pct", "90.0"),
                           ("|a| std p10 (mG)", "mag_std_pct", "10.0"),
                           ("|a| std p50 (mG)", "mag_std_pct", "50.0"),
                           ("|a| std p90 (mG)", "mag_std_pct", "90.0")):  # fmt: skip
            lines.append(f"| {name} | " + " | ".join(f"{v[a][b]:.2f}" for v in self.acc.values())
                         + " |")  # fmt: skip
        lines.append("| power fraction 3–8 Hz | " + " | ".join(
            f"{v['frac_3_8_hz']:.2f}" for v in self.acc.values()) + " |")  # fmt: skip
        lines.append("| walking windows | " + " | ".join(
            str(v["n_windows"]) for v in self.acc.values()) + " |")  # fmt: skip
        return "\n".join(lines)


def _band_ratio(v: dict) -> float:
    f, p = np.asarray(v["f"]), np.asarray(v["psd"])
    return float(p[(f >= 60) & (f <= 95)].mean() / p[(f >= 5) & (f <= 20)].mean())


def _line_ratio(v: dict) -> float:
    f, p = np.asarray(v["f"]), np.asarray(v["psd"])
    return float(p[(f >= 49) & (f <= 51)].mean() / p[(f >= 40) & (f <= 48)].mean())


def compare(
    data_dir: str | Path,
    *,
    n_sim: int = 29,
    max_participants: int | None = None,
    out_dir: str | Path | None = None,
) -> RealismReport:
    """Compare simulated and real EMG and ACC; optionally write plots and JSON to ``out_dir``.

    Parameters
    ----------
    data_dir : path
        Folder holding ``myo-readings/`` and ``daphnet-fog/``.
    n_sim : int
        Number of simulated wearers (seeds ``0 .. n_sim-1``).
    max_participants : int, optional
        Use only the first participants of the Myo data (faster).
    out_dir : path, optional
        Writes ``img/simulation-emg.png`` and ``img/simulation-walking.png`` there.
    """
    myo = load_myo(data_dir, max_participants=max_participants)
    skipped = myo.pop("_skipped")
    real_rest, real_act, real_gest_rest = [], [], []
    for files in myo.values():
        if "0" in files:
            real_rest.append(files["0"][:, :8])
        for g in "1234567":
            if g in files:
                x = files[g]
                real_act.append(x[x[:, 8] > 0, :8])
                real_gest_rest.append(x[x[:, 8] == 0, :8])
    sim_rest, sim_act = [], []
    for s in range(n_sim):
        sim_rest.append(simulate_rest(1000 + s))
        x, lab = simulate_gesture_protocol(2000 + s)
        sim_act.append(x[lab > 0])
    rep = RealismReport()
    rep.notes.append(f"myo rows skipped (malformed): {skipped}")
    rep.emg["real rest"] = emg_stats(real_rest)
    rep.emg["sim rest"] = emg_stats(sim_rest)
    rep.emg["real contraction"] = emg_stats(real_act)
    rep.emg["sim contraction"] = emg_stats(sim_act)
    real_walk = load_daphnet(data_dir)
    sim_walk = [simulate_walking(3000 + s) for s in range(n_sim)]
    rep.acc["real (Daphnet ankle)"] = acc_walking_stats(real_walk)
    rep.acc["sim (leg, 64 Hz)"] = acc_walking_stats(sim_walk)
    if out_dir is not None:
        _plots(rep, Path(out_dir))
    return rep


def _plots(rep: RealismReport, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    img = out / "img"
    img.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for name, v in rep.emg.items():
        ls = "-" if name.startswith("real") else "--"
        ax[0].semilogy(v["f"], v["psd"], ls, label=name)
        pct = list(v["abs_pct"].values())
        ax[1].plot(range(len(pct)), pct, ls + "o", label=name)
    ax[0].set(xlabel="frequency (Hz)", ylabel="PSD (counts²/Hz)", title="Myo EMG spectrum (Welch)")
    ax[1].set(xticks=range(len(_PCTS)), xticklabels=[f"p{p:g}" for p in _PCTS], yscale="log",
              ylabel="|x| (counts)", title="Myo EMG amplitude percentiles")  # fmt: skip
    for a in ax:
        a.legend(fontsize=8)
        a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(img / "simulation-emg.png", dpi=90)
    plt.close(fig)
    fig, ax = plt.subplots(1, 1, figsize=(6, 4))
    for name, v in rep.acc.items():
        if v.get("n_windows"):
            ax.semilogy(v["f"], v["psd"], "-" if name.startswith("real") else "--", label=name)
    ax.set(xlabel="frequency (Hz)", ylabel="PSD of |a| (mG²/Hz)", xlim=(0, 20),
           title="Walking ACC magnitude spectrum")  # fmt: skip
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(img / "simulation-walking.png", dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """``python -m spasmwatch.simulation.realism --data-dir DIR --out DOCS``."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m spasmwatch.simulation.realism",
                                description=__doc__.splitlines()[0])  # fmt: skip
    p.add_argument("--data-dir", required=True, help="folder with myo-readings/, daphnet-fog/")
    p.add_argument("--out", default=None, help="write img/simulation-*.png here")
    p.add_argument("--n-sim", type=int, default=29, help="simulated wearers (default 29)")
    p.add_argument("--max-participants", type=int, default=None)
    a = p.parse_args(argv)
    rep = compare(a.data_dir, n_sim=a.n_sim, max_participants=a.max_participants, out_dir=a.out)
    print(rep.markdown())
    for n in rep.notes:
        print(n)
    return 0
