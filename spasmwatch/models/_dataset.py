"""Training and evaluation data: simulated wearers and the real hard negatives.

Every source becomes a :class:`Source`: named stream specs plus a factory of
:class:`~spasmwatch.core.SampleBlock` s (in time order per stream), the truth events, and
for real data the annotated intervals. The same sources feed training (through
:func:`frames_of`, which runs the pipeline's own resampling, feature and calibration code)
and the evaluation (through :class:`~spasmwatch.pipeline.DetectionPipeline`).

Real data (``--data-dir``, see ``data/README.md`` of the shared folder):

- Myo armband EMG (MIT licence): a participant's ``0.txt`` (rest) then ``1.txt``..``7.txt``
  (gestures alternating with rest every 5 s) laid end to end with a 10 s gap between files,
  200 Hz, 8 channels, raw counts. Rows without 9 integer fields are skipped and counted.
  For models that need an accelerometer it is paired with a *simulated quiet* 200 Hz
  accelerometer (a wearer with no spasms and no activities): the Myo files carry no usable
  acceleration.
- Daphnet freezing of gait (CC BY 4.0, Bächlin et al. 2010): one 3-axis accelerometer
  (ankle or thigh) of a run, 64 Hz, milli-g; samples annotated 0 (outside the experiment)
  are dropped (a gap). For models that need EMG it is paired with *simulated resting* Myo
  EMG of the same length.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spasmwatch.core import Gap, SampleBlock, StreamSpec
from spasmwatch.errors import ConfigError, ImportFormatError
from spasmwatch.signal import FEATURE_SET_VERSION, FeatureSet

__all__ = [
    "DAPHNET_SPLIT",
    "MYO_SPLIT",
    "TYPE_CLASSES",
    "Frames",
    "Source",
    "daphnet_source",
    "frames_of",
    "label_frames",
    "myo_file_sources",
    "myo_participants",
    "myo_source",
    "simulated_source",
    "source_confounders",
]

#: Model classes in output order ("none" first).
TYPE_CLASSES = ("none", "tonic", "clonic", "mixed", "myoclonic")
REAL_START_NS = 1_704_096_000_000_000_000
_SEG_GAP_S = 10.0

#: Daphnet runs per split (patients S02 and S07 are held out for the evaluation).
DAPHNET_SPLIT = {
    "train": ("S01R02", "S03R02", "S03R03"),
    "val": ("S06R02",),
    "test": ("S02R01", "S02R02", "S07R02"),
}
DAPHNET_SENSORS = {"ankle": (1, 4), "thigh": (4, 7)}
#: Myo participants per split: sorted participant folders, every 3rd to test, the next to
#: validation (see :func:`myo_participants`).
MYO_SPLIT = ("train", "val", "test")


@dataclass
class Source:
    """One recording-like input for training or evaluation.

    Attributes
    ----------
    name : str
        Unique name (``"sim-1007"``, ``"myo-right_hand/10000-1"``, ``"daphnet-S02R01-ankle"``).
    specs : list of StreamSpec
    blocks : callable
        ``blocks() -> iterator of SampleBlock`` of all streams, interleaved in time order.
    start_ns : int
        Time 0 of the truth and interval axes.
    duration_s : float
    truth : list of (start_s, end_s, type)
        Spasm events (empty for real data).
    intervals : list of (start_s, end_s, label)
        Annotated spans of real data (``"myo-rest"``, ``"myo-gesture"``,
        ``"daphnet-walking"``, ``"daphnet-fog"``); gaps lie outside them.
    wearer : str
        Subject id (for per-subject scoring and normalisation).
    info : dict
    """

    name: str
    specs: list[StreamSpec]
    blocks: Callable[[], Iterator[SampleBlock]]
    start_ns: int
    duration_s: float
    truth: list[tuple[float, float, str]] = field(default_factory=list)
    intervals: list[tuple[float, float, str]] = field(default_factory=list)
    wearer: str = "default"
    info: dict = field(default_factory=dict)

    def usable_seconds(self, label: str) -> float:
        """Seconds annotated ``label``."""
        return sum(b - a for a, b, lab in self.intervals if lab == label)


# ----------------------------------------------------------------------------- simulated


def _merge(iters: Sequence[Iterator[SampleBlock]]) -> Iterator[SampleBlock]:
    from spasmwatch.pipeline import merge_blocks

    return merge_blocks(iters)


def simulated_source(
    seed: int,
    duration_s: float,
    *,
    devices: Sequence[str] = ("myo", "polar-h10"),
    spasms_per_day: float | None = None,
    confounders: bool = True,
    emg_scale: float = 1.0,
    acc_rate_hz: float | None = None,
    block_s: float = 30.0,
) -> Source:
    """A simulated wearer as a :class:`Source` (streams rendered on first use).

    Parameters
    ----------
    seed : int
        Simulator seed (wearer and events).
    duration_s : float
    devices : sequence of str
        Simulator device presets.
    spasms_per_day : float, optional
        Override the wearer's spasm rate (training and evaluation raise it to get enough
        events per hour; everything else about the wearer stays as drawn).
    confounders : bool
        Daily-living activities and artefacts.
    emg_scale : float
        Multiply EMG samples by this (robustness: electrode gain, another device's scale).
    acc_rate_hz : float, optional
        Render the accelerometers at this rate instead of the presets' (robustness).
    block_s : float
        Seconds per block.
    """
    from spasmwatch.simulation import WearerProfile, simulate_wearer
    from spasmwatch.simulation._devices import presets_for

    wearer = WearerProfile.from_seed(np.random.SeedSequence(seed, spawn_key=(0,)))
    if spasms_per_day is not None:
        wearer = dataclasses.replace(wearer, spasms_per_day=float(spasms_per_day))
    streams = []
    for d in devices:
        streams.extend(presets_for(d, acc_rate_hz=acc_rate_hz))
    cache: dict[str, object] = {}

    def result():
        if "r" not in cache:
            cache["r"] = simulate_wearer(
                duration_s, seed, streams, wearer=wearer, confounders=confounders
            )
        return cache["r"]

    specs = [s.spec for s in streams]

    def blocks() -> Iterator[SampleBlock]:
        r = result()
        its = []
        for s in specs:
            it = r.to_blocks(s.key, max(1, round(block_s * s.rate_hz)))
            if s.kind == "emg" and emg_scale != 1.0:
                it = _scaled(it, emg_scale)
            its.append(it)
        return _merge(its)

    src = Source(
        name=f"sim-{seed}",
        specs=specs,
        blocks=blocks,
        start_ns=0,
        duration_s=float(duration_s),
        wearer=f"sim-{seed}",
        info={"seed": seed, "placement": wearer.placement, "spasms_per_day": wearer.spasms_per_day},
    )
    from spasmwatch.simulation._simulate import DEFAULT_START_NS

    src.start_ns = DEFAULT_START_NS

    def truth() -> list[tuple[float, float, str]]:
        return [(e.start_s, e.end_s, e.type) for e in result().truth]

    src.info["truth_fn"] = truth
    src.info["result_fn"] = result  # the SimulationResult (confounders, truth intensity)
    return src


def source_confounders(src: Source) -> list[tuple[float, float, str]]:
    """Daily-living confounders of a simulated source as ``(start_s, end_s, name)`` (empty
    for real data)."""
    fn = src.info.get("result_fn")
    if fn is not None and "confounders" not in src.info:
        src.info["confounders"] = list(fn().confounders)
    return list(src.info.get("confounders", []))


def _scaled(it: Iterator[SampleBlock], k: float) -> Iterator[SampleBlock]:
    for b in it:
        yield SampleBlock(b.spec, b.t_ns, b.data * np.float32(k), b.first_index, b.gaps, b.seq)


def source_truth(src: Source) -> list[tuple[float, float, str]]:
    """Truth events of a source (rendering a simulation if needed)."""
    fn = src.info.get("truth_fn")
    if fn is not None and not src.truth:
        src.truth = fn()
    return src.truth


# ----------------------------------------------------------------------------- real data


def _read_int_rows(path: Path, n_fields: int, sep: str | None) -> tuple[np.ndarray, int]:
    rows, bad = [], 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.strip().split(sep)
            if len(parts) != n_fields:
                bad += 1 if line.strip() else 0
                continue
            try:
                rows.append([float(p) for p in parts])
            except ValueError:
                bad += 1
    if not rows:
        raise ImportFormatError(f"{path}: no row with {n_fields} numeric fields")
    return np.asarray(rows, dtype=np.float64), bad


def myo_participants(data_dir: str | Path, split: str | None = None) -> list[str]:
    """Participant folders (``"right_hand/10000-1"``) of the Myo data, optionally of a split.

    Split rule (fixed, documented in the evaluation): sorted folders, index ``i``: test if
    ``i % 3 == 0``, validation if ``i % 6 == 1``, else training.
    """
    root = Path(data_dir) / "myo-readings"
    parts = sorted(
        f"{h.name}/{p.name}"
        for h in sorted(root.glob("*_hand"))
        for p in sorted(h.iterdir())
        if p.is_dir()
    )
    if split is None:
        return parts
    if split not in MYO_SPLIT:
        raise ConfigError(f"split must be one of {MYO_SPLIT} (got {split!r})")

    def which(i: int) -> str:
        if i % 3 == 0:
            return "test"
        if i % 6 == 1:
            return "val"
        return "train"

    return [p for i, p in enumerate(parts) if which(i) == split]


def _quiet_sim(seed: int, duration_s: float, device: str) -> tuple[StreamSpec, np.ndarray]:
    """A resting, spasm-free simulated stream (float32 ``(n, c)``) and its spec."""
    from spasmwatch.simulation import WearerProfile, simulate_wearer

    w = dataclasses.replace(
        WearerProfile.from_seed(np.random.SeedSequence(seed, spawn_key=(0,))),
        spasms_per_day=0.0,
        disconnects_per_day=0.0,
        packet_loss=0.0,
    )
    r = simulate_wearer(duration_s, seed, (device,), wearer=w, confounders=False, packet_loss=False)
    (key,) = [k for k in r.specs if (k.endswith(".acc") if device != "myo" else k.endswith(".emg"))]
    return r.specs[key], r.full_data(key)


def _array_blocks(
    spec: StreamSpec, t: np.ndarray, x: np.ndarray, idx: np.ndarray, block: int
) -> Iterator[SampleBlock]:
    """Blocks of a stream with gaps wherever ``idx`` (sample indices) jumps."""
    if len(t) == 0:
        return
    cuts = np.nonzero(np.diff(idx) != 1)[0] + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [len(t)]])
    period = 1e9 / spec.rate_hz
    for a, b in zip(starts, ends):
        for p in range(int(a), int(b), block):
            q = min(int(b), p + block)
            gaps: tuple[Gap, ...] = ()
            if p == a and a > 0:
                miss = int(idx[a] - idx[a - 1] - 1)
                gaps = (Gap(int(t[a - 1] + round(period)), int(t[a]), max(miss, 0), "import"),)
            yield SampleBlock(spec, t[p:q], x[p:q], int(idx[p]), gaps)


def myo_source(
    data_dir: str | Path, participant: str, *, with_acc: bool = True, seed: int = 0
) -> Source:
    """One Myo participant: rest file then the gesture files, 10 s apart (see module notes)."""
    root = Path(data_dir) / "myo-readings" / participant
    files = [root / f"{i}.txt" for i in range(8) if (root / f"{i}.txt").is_file()]
    if not files:
        raise ImportFormatError(f"{root}: no Myo files 0.txt..7.txt")
    return _myo_files_source(files, f"myo-{participant}", f"myo-{participant}", with_acc, seed)


def _myo_files_source(
    files: list[Path], name: str, wearer: str, with_acc: bool, seed: int
) -> Source:
    rate = 200.0
    datas, idxs, intervals = [], [], []
    pos = 0
    n_bad = 0
    for f in files:
        a, bad = _read_int_rows(f, 9, ",")
        n_bad += bad
        n = a.shape[0]
        datas.append(a[:, :8].astype(np.float32))
        idxs.append(np.arange(pos, pos + n))
        s0 = pos / rate
        if f.name == "0.txt":
            intervals.append((s0, s0 + n / rate, "myo-rest"))
        else:
            intervals.append((s0, s0 + n / rate, "myo-gesture"))
        pos += n + int(_SEG_GAP_S * rate)
    x = np.concatenate(datas)
    idx = np.concatenate(idxs)
    t = REAL_START_NS + np.round(idx * (1e9 / rate)).astype(np.int64)
    spec = StreamSpec("myo", "emg", tuple(f"ch{i}" for i in range(8)), rate, "counts")
    duration = pos / rate
    specs = [spec]
    acc = None
    if with_acc:
        aspec, ax = _quiet_sim(seed, duration, "polar-h10")
        acc = (
            aspec,
            ax,
            REAL_START_NS + np.round(np.arange(len(ax)) * (1e9 / aspec.rate_hz)).astype(np.int64),
        )
        specs.append(aspec)

    def blocks() -> Iterator[SampleBlock]:
        its = [_array_blocks(spec, t, x, idx, 2000)]
        if acc is not None:
            aspec_, ax_, at_ = acc
            its.append(_array_blocks(aspec_, at_, ax_, np.arange(len(at_)), 2000))
        return _merge(its)

    return Source(
        name=name,
        specs=specs,
        blocks=blocks,
        start_ns=REAL_START_NS,
        duration_s=duration,
        intervals=intervals,
        wearer=wearer,
        info={"skipped_rows": n_bad, "files": len(files)},
    )


def myo_file_sources(
    data_dir: str | Path, participant: str, *, with_acc: bool = True, seed: int = 0
) -> list[Source]:
    """One source per Myo file of a participant (each file calibrates itself).

    The evaluation uses this form: every file is a recording of its own, so the run-time
    calibration rule (quieter half of the first minute) is applied to each file.
    """
    root = Path(data_dir) / "myo-readings" / participant
    out = []
    for i in range(8):
        f = root / f"{i}.txt"
        if not f.is_file():
            continue
        out.append(
            _myo_files_source(
                [f], f"myo-{participant}-{i}", f"myo-{participant}", with_acc, seed * 8 + i
            )
        )
    if not out:
        raise ImportFormatError(f"{root}: no Myo files 0.txt..7.txt")
    return out


def daphnet_source(
    data_dir: str | Path, run: str, sensor: str = "ankle", *, with_emg: bool = True, seed: int = 0
) -> Source:
    """One Daphnet run, one sensor (ankle or thigh), annotation-0 samples removed."""
    path = Path(data_dir) / "daphnet-fog" / f"{run}.txt"
    if sensor not in DAPHNET_SENSORS:
        raise ConfigError(f"sensor must be one of {sorted(DAPHNET_SENSORS)} (got {sensor!r})")
    a, _ = _read_int_rows(path, 11, None)
    rate = 64.0
    ann = a[:, 10].astype(int)
    keep = ann != 0
    idx_all = np.arange(a.shape[0])
    idx = idx_all[keep]
    c0, c1 = DAPHNET_SENSORS[sensor]
    x = a[keep, c0:c1].astype(np.float32)
    t = REAL_START_NS + np.round(idx * (1e9 / rate)).astype(np.int64)
    spec = StreamSpec(f"daphnet-{sensor}", "acc", ("x", "y", "z"), rate, "mG")
    intervals = []
    lab = np.where(ann == 2, 2, np.where(ann == 1, 1, 0))
    edges = np.nonzero(np.diff(lab))[0] + 1
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [len(lab)]])
    for s, e in zip(starts, ends):
        if lab[s] == 0:
            continue
        name = "daphnet-fog" if lab[s] == 2 else "daphnet-walking"
        intervals.append((s / rate, e / rate, name))
    duration = a.shape[0] / rate
    specs = [spec]
    emg = None
    if with_emg:
        espec, ex = _quiet_sim(seed, duration, "myo")
        et = REAL_START_NS + np.round(np.arange(len(ex)) * (1e9 / espec.rate_hz)).astype(np.int64)
        # the EMG is dropped where the accelerometer run is outside the experiment
        ekeep = keep[
            np.minimum((np.arange(len(ex)) * rate / espec.rate_hz).astype(int), len(keep) - 1)
        ]
        emg = (espec, et[ekeep], ex[ekeep], np.arange(len(ex))[ekeep])
        specs.insert(0, espec)

    def blocks() -> Iterator[SampleBlock]:
        its = [_array_blocks(spec, t, x, idx, 640)]
        if emg is not None:
            its.append(_array_blocks(emg[0], emg[1], emg[2], emg[3], 2000))
        return _merge(its)

    return Source(
        name=f"daphnet-{run}-{sensor}",
        specs=specs,
        blocks=blocks,
        start_ns=REAL_START_NS,
        duration_s=duration,
        intervals=intervals,
        wearer=f"daphnet-{run[:3]}",
        info={"run": run, "sensor": sensor},
    )


# ----------------------------------------------------------------------------- frames


@dataclass
class Frames:
    """Raw (un-normalised) feature frames of one source, for every model kind set.

    Attributes
    ----------
    t_s : numpy.ndarray
        ``(n,)`` window end, s from the source's start.
    raw : numpy.ndarray
        ``(n, n_features)`` float64 raw features of the ``emg+acc`` (or single-kind) set.
    ok : numpy.ndarray
        bool ``(n,)`` usable (all of the source's streams present, no gap).
    names : tuple of str
    source : Source
    delays_s : dict
        Stream kind -> resampling delay (s) of the stream that feeds it (the pipeline's
        :attr:`~spasmwatch.pipeline.DetectionPipeline.delay_s` for that kind).
    version : str
        Feature-set version of ``raw``.
    """

    t_s: np.ndarray
    raw: np.ndarray
    ok: np.ndarray
    names: tuple[str, ...]
    source: Source
    delays_s: dict[str, float] = field(default_factory=dict)
    version: str = FEATURE_SET_VERSION

    def delay_s(self, kinds: Sequence[str]) -> float:
        """Resampling delay (s) of the slowest of ``kinds``' streams (0 when not resampled)."""
        return max((self.delays_s.get(k, 0.0) for k in kinds), default=0.0)


def frames_of(
    src: Source,
    rates_hz: dict[str, float],
    *,
    window_s: float,
    hop_s: float,
    version: str = FEATURE_SET_VERSION,
    mains_hz: float | Sequence[float] = 50.0,
) -> Frames:
    """Raw features of a source, computed by the pipeline's own front end (bridge, resample,
    EMG notch at ``mains_hz``, features of feature-set ``version``); normalisation is left
    to :func:`normalise_frames`."""
    from spasmwatch.pipeline import FeatureFrontEnd

    kinds = [k for k in ("emg", "acc") if any(s.kind == k for s in src.specs) and k in rates_hz]
    fs = FeatureSet(tuple(kinds), version)
    front = FeatureFrontEnd(
        src.specs,
        {k: rates_hz[k] for k in kinds},
        fs.names,
        window_s=window_s,
        hop_s=hop_s,
        stale_timeout_s=None,
        feature_set_version=version,
        mains_hz=mains_hz,
    )
    parts = [front.raw(front.resample(b)) for b in src.blocks()]
    parts.append(front.raw(None, final=True))
    t = np.concatenate([p[0] for p in parts])
    v = np.concatenate([p[1] for p in parts])
    ok = np.concatenate([p[2] for p in parts])
    delays = {k: front.resamplers[sp.key].delay_s for k, sp in front.inputs.items()}
    return Frames((t - src.start_ns) / 1e9, v, ok, fs.names, src, delays, version)


def normalise_frames(
    frames: Frames,
    feature_names: Sequence[str],
    *,
    calibration_s: float,
    hop_s: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs for a kind subset: calibrate (the run-time rule), normalise, lag.

    Returns
    -------
    X : numpy.ndarray
        float32 ``(n, len(feature_names))`` (NaN where not usable).
    ok : numpy.ndarray
        bool ``(n,)``.
    """
    from spasmwatch.pipeline._detection import calibrate_rest, parse_feature_names

    cols = parse_feature_names(feature_names)
    kinds = tuple(k for k in ("emg", "acc") if any(c.base.startswith(k + ".") for c in cols))
    fs = FeatureSet(kinds, frames.version)
    idx = [frames.names.index(n) for n in fs.names]
    raw = frames.raw[:, idx]
    ok = frames.ok & np.isfinite(raw).all(axis=1)
    n_cal = max(1, math.ceil(calibration_s / hop_s - 1e-9))
    rows = raw[ok][:n_cal]
    if rows.shape[0] == 0:
        return np.full((len(ok), len(cols)), np.nan, np.float32), ok
    norm = calibrate_rest(fs, rows)
    z = norm.transform(np.where(ok[:, None], raw, np.nan))
    X = np.empty((len(ok), len(cols)))
    t = frames.t_s
    for j, col in enumerate(cols):
        ci = fs.names.index(col.base)
        if col.lag == 0:
            X[:, j] = z[:, ci]
            continue
        src = np.arange(len(ok)) - col.lag
        valid = src >= 0
        srcc = np.where(valid, src, 0)
        valid &= np.abs(t[srcc] - (t - col.lag * hop_s)) < hop_s / 4
        earlier = np.where(valid & ok[srcc], z[srcc, ci], z[:, ci])
        X[:, j] = z[:, ci] - earlier if col.delta else earlier
    X[~ok] = np.nan
    return X.astype(np.float32), ok


def label_frames(
    t_s: np.ndarray,
    truth: Sequence[tuple[float, float, str]],
    *,
    window_s: float,
    min_overlap_s: float = 0.2,
) -> np.ndarray:
    """Class index per frame (``TYPE_CLASSES``), or -1 for ambiguous frames.

    A frame (window ``[t - window_s, t]``) is of a spasm type when it overlaps that event by
    at least ``min(min_overlap_s, half the event's duration)``; it is ``none`` (0) when it
    overlaps no event; frames with a smaller overlap are ambiguous (-1) and not trained on.
    """
    lab = np.zeros(len(t_s), dtype=np.int64)
    best = np.zeros(len(t_s))
    for a, b, typ in truth:
        lo = np.searchsorted(t_s, a, side="right")
        hi = np.searchsorted(t_s, b + window_s, side="left")
        if hi <= lo:
            continue
        tt = t_s[lo:hi]
        ov = np.minimum(tt, b) - np.maximum(tt - window_s, a)
        need = min(min_overlap_s, 0.5 * (b - a))
        cls = TYPE_CLASSES.index(typ)
        sl = slice(lo, hi)
        pos = (ov >= need) & (ov > best[sl])
        amb = (ov > 0) & (ov < need) & (lab[sl] == 0)
        lab_sl = lab[sl]
        lab_sl[amb] = -1
        lab_sl[pos] = cls
        best[sl] = np.where(pos, ov, best[sl])
    return lab
