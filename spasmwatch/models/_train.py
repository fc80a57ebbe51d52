"""Training and export of the bundled spasm classifiers (needs the ``train`` extra).

Recipe (``spasmwatch train``; every choice is fixed here so a seed reproduces the files):

1. **Data.** Simulated wearers (simulator seeds ``seed*1000 + 100 + i`` for training,
   ``seed*1000 + 500 + i`` for validation; the evaluation's test wearers use seeds from
   ``900_000`` up, never seen here) with the spasm rate raised to get enough events, their
   daily-living confounders and BLE losses kept; device sets vary per wearer (Myo EMG 200 Hz
   with Polar H10 or Movesense ACC, or the 1 kHz nus-reference EMG). Real hard negatives:
   Myo rest and gesture files of the training participants, Daphnet walking and freezing
   of gait (ankle and thigh) of the training runs (:mod:`spasmwatch.models._dataset`).
2. **Frames.** The pipeline's own front end (gap bridge, resampling to EMG 200 Hz / ACC
   50 Hz, ``fs-3`` features - ``fs-1`` plus channel spread, recent ACC and the EMG channel
   count - on 2 s windows every 0.25 s), then the run-time rest calibration rule per source
   (:func:`spasmwatch.pipeline.calibrate_rest`). ACC at 50 Hz
   (not 25 Hz) because most wearables send 50-52 Hz or more: the Myo's 50 Hz ACC then needs
   no resampling and no anti-alias delay, others 0.1 s (the delay counts in the latency).
3. **Labels.** ``label_frames``: a frame is of a spasm type when its window overlaps the
   event by >= min(0.2 s, half the event); frames with a smaller overlap are not used.
4. **Classifier.** ``HistGradientBoostingClassifier`` on the normalised features plus the
   same features 0.25 s and 1 s earlier (lags 1 and 4 frames: onset context) and their
   changes over those spans (``@d1``, ``@d4``: how fast each feature rises), 5 classes
   with ``none`` first. Weights: spasm frames x3 (x6 in the first 1.5 s of an event, so
   the model learns onsets), simulated negatives overlapping a daily-living confounder
   (voluntary contraction, walking, stairs, tooth brushing, hair combing, tremor, motion
   artefacts...; the simulator's confounder labels) x3, real negatives x2.
5. **Thresholds** (onset/offset probability, confirm windows, minimum duration) are chosen
   on the *validation* wearers and validation real participants only, over the grid
   :data:`THRESHOLD_GRID` (onset 0.7-0.99, confirm 1-5 windows, minimum duration 2-3 s):
   the setting with the lowest :func:`target_cost` (scaled shortfalls against every
   target: sensitivity, false alarms per 24 h, latency median and p90, real false-alarm
   rates), ties to the higher F1. False alarms include retracted onsets (an onset alarm
   withdrawn because the episode stayed shorter than the minimum duration was still seen
   by the wearer), on simulated and real validation data alike. Validation latencies
   include the resampling delay. **Device operating points:** when the validation wearers
   use more than one EMG channel count (2-electrode nus-reference, 8-electrode Myo), each
   count with enough wearers gets thresholds of its own, chosen the same way on its own
   wearers (:func:`choose_device_thresholds`; metadata keys ``onset@emg2`` ...); the
   plain keys stay the pooled choice, for devices of other channel counts. Each chosen
   setting then gets a second look (:func:`choose_early_confirm`): kept as it is, or with
   type-corroborated onsets (fewer confirming windows when they look clonic), by the same
   cost on the same wearers.
6. **Export.** skl2onnx (float32 input, no ZipMap), with :class:`ModelMetadata` in the
   ONNX ``metadata_props``.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spasmwatch.errors import ConfigError, ModelError
from spasmwatch.models._dataset import (
    DAPHNET_SPLIT,
    TYPE_CLASSES,
    Frames,
    Source,
    daphnet_source,
    frames_of,
    label_frames,
    myo_participants,
    myo_source,
    normalise_frames,
    simulated_source,
    source_confounders,
    source_truth,
)
from spasmwatch.models._metadata import ModelMetadata
from spasmwatch.signal import (
    FEATURE_SET_VERSION,
    MAINS_FREQUENCIES_HZ,
    STATIC_FEATURES,
    FeatureSet,
    mains_frequencies,
)

__all__ = [
    "MODEL_KINDS",
    "REAL_TARGETS",
    "TrainConfig",
    "choose_thresholds",
    "feature_names_for",
    "train_models",
]

#: Bundled model id -> stream kinds.
MODEL_KINDS: dict[str, tuple[str, ...]] = {
    "sw-emg-acc": ("emg", "acc"),
    "sw-emg": ("emg",),
    "sw-acc": ("acc",),
}
MODEL_FILES = {"sw-emg-acc": "emg_acc.onnx", "sw-emg": "emg.onnx", "sw-acc": "acc.onnx"}
#: Targets (false alarms per hour) on real data, from the issue.
REAL_TARGETS = {"myo-gesture": 0.5, "myo-rest": 0.2, "daphnet-walking": 0.5}
SIM_FA_TARGET_PER_24H = 1.0
#: Weight of spasm frames, and of real negative frames (module notes, step 4).
SPASM_WEIGHT = 3.0
REAL_NEGATIVE_WEIGHT = 2.0
#: Long background states, not hard negatives: their frames keep weight 1.
EASY_CONFOUNDERS = frozenset({"sleep", "typing"})
MODEL_VERSION = "2025.1"
#: Device sets of simulated training wearers, with their probabilities.
DEVICE_SETS: tuple[tuple[tuple[str, ...], float], ...] = (
    (("myo", "polar-h10"), 0.5),
    (("myo", "movesense"), 0.2),
    (("nus-reference",), 0.3),
)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines the trained models (the seed reproduces them).

    Parameters
    ----------
    seed : int
    n_train, n_val : int
        Simulated training / validation wearers.
    hours : float
        Hours simulated per wearer.
    spasms_per_day : float
        Spasm rate of the training wearers (raised: enough events per hour).
    val_spasms_per_day : float
        Spasm rate of the validation wearers.
    data_dir : str or None
        Folder of the real data (``myo-readings/``, ``daphnet-fog/``); ``None`` trains on
        simulated data only.
    max_myo, max_daphnet : int or None
        Cap on real training participants / runs (tiny configurations).
    window_s, hop_s : float
    rates_hz : dict
        Rates the features are computed at.
    calibration_s : float
        Automatic rest calibration length.
    lags : tuple of int
        Extra copies of the features this many frames earlier (onset context: 0.25 s and
        1 s earlier by default).
    deltas : tuple of int
        Changes of the features over this many frames (now minus then, on the normalised
        log scale: 0.25 s and 1 s by default). Trees split on one column at a time, so an
        explicit rise is found in far fewer splits than from a feature and its lag; on the
        validation wearers it cut the false alarms and the onset latency (docs/model-card.md).
    max_iter, max_leaf_nodes, learning_rate : classifier settings.
    confounder_weight : float
        Weight of simulated negative frames whose window overlaps a daily-living confounder
        (voluntary contraction, walking, tooth brushing, tremor ...; hard negatives).
    onset_weight, onset_span_s : float
        Extra weight of spasm frames ending within ``onset_span_s`` of the event's onset
        (the model should fire early, not only in the middle of an event).
    hard_negative_p, hard_negative_weight : float
        Hard-negative mining: when ``hard_negative_p`` is set, the fitted classifier scores
        its own training frames, negative frames with ``p_spasm > hard_negative_p`` get
        their weight multiplied by ``hard_negative_weight`` and the classifier is fitted
        again (twice the fitting time). ``None``: one fit.
    mains_hz : tuple of float
        Mains frequencies notched out of the EMG (default both 50 and 60 Hz: simulated
        wearers live on either grid, and a wearer's model cannot know which); recorded in
        the models' ``emg_notch_hz`` so the pipeline notches the same.
    """

    seed: int = 7
    n_train: int = 288
    n_val: int = 96
    hours: float = 1.0
    spasms_per_day: float = 240.0
    val_spasms_per_day: float = 120.0
    data_dir: str | None = None
    max_myo: int | None = None
    max_daphnet: int | None = None
    window_s: float = 2.0
    hop_s: float = 0.25
    rates_hz: dict[str, float] = field(default_factory=lambda: {"emg": 200.0, "acc": 50.0})
    calibration_s: float = 60.0
    lags: tuple[int, ...] = (1, 4)
    deltas: tuple[int, ...] = (1, 4)
    max_iter: int = 120
    max_leaf_nodes: int = 24
    learning_rate: float = 0.1
    confounder_weight: float = 3.0
    onset_weight: float = 2.0
    onset_span_s: float = 1.5
    hard_negative_p: float | None = None
    hard_negative_weight: float = 4.0
    mains_hz: tuple[float, ...] = MAINS_FREQUENCIES_HZ

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "mains_hz", mains_frequencies(self.mains_hz))
        except ConfigError as exc:
            raise ConfigError(f"TrainConfig.{exc}") from None
        # simulator seeds: seed*1000 + 100 + i (training), seed*1000 + 500 + i (validation);
        # larger counts would reuse validation (or the next seed's) wearers
        for k, hi in (("n_train", 400), ("n_val", 500)):
            if not 1 <= getattr(self, k) <= hi:
                raise ConfigError(
                    f"TrainConfig.{k} must be 1-{hi} (got {getattr(self, k)}): wearer seeds "
                    "seed*1000+100+i (training) and seed*1000+500+i (validation) must not "
                    "overlap"
                )
        if not self.hours > 0:
            raise ConfigError(f"TrainConfig.hours must be > 0 (got {self.hours})")


def feature_names_for(
    kinds: Sequence[str],
    lags: Sequence[int],
    deltas: Sequence[int] = (),
    version: str = FEATURE_SET_VERSION,
) -> tuple[str, ...]:
    """Model input names: the features (feature set ``version``, default the newest) of
    ``kinds``, their lagged copies (``"emg.RMS@-4"``), then their changes over ``deltas``
    frames (``"emg.RMS@d4"``). Static features (:data:`~spasmwatch.signal.STATIC_FEATURES`,
    constant over a stream) get no lagged or change copies."""
    base = FeatureSet(tuple(kinds), version).names
    moving = tuple(n for n in base if n not in STATIC_FEATURES)
    return (
        base
        + tuple(f"{n}@-{k}" for k in lags for n in moving)
        + tuple(f"{n}@d{k}" for k in deltas for n in moving)
    )


# ----------------------------------------------------------------------------- sources


def _sim_sources(cfg: TrainConfig, split: str) -> list[Source]:
    n = cfg.n_train if split == "train" else cfg.n_val
    off = 100 if split == "train" else 500
    rate = cfg.spasms_per_day if split == "train" else cfg.val_spasms_per_day
    rng = np.random.default_rng([cfg.seed, off])
    probs = np.array([p for _, p in DEVICE_SETS])
    out = []
    for i in range(n):
        devs = DEVICE_SETS[int(rng.choice(len(DEVICE_SETS), p=probs / probs.sum()))][0]
        out.append(
            simulated_source(
                cfg.seed * 1000 + off + i, cfg.hours * 3600.0, devices=devs, spasms_per_day=rate
            )
        )
    return out


def real_sources(
    data_dir: str | Path | None,
    split: str,
    *,
    max_myo: int | None = None,
    max_daphnet: int | None = None,
    seed: int = 0,
) -> list[Source]:
    """Myo participants and Daphnet runs (ankle and thigh) of a split, as sources."""
    if data_dir is None:
        return []
    d = Path(data_dir)
    out: list[Source] = []
    if (d / "myo-readings").is_dir():
        parts = myo_participants(d, split)
        for i, p in enumerate(parts[:max_myo] if max_myo is not None else parts):
            out.append(myo_source(d, p, seed=seed * 7919 + i))
    if (d / "daphnet-fog").is_dir():
        runs = DAPHNET_SPLIT[split]
        runs = runs[:max_daphnet] if max_daphnet is not None else runs
        for j, run in enumerate(runs):
            for k, sensor in enumerate(("ankle", "thigh")):
                if (d / "daphnet-fog" / f"{run}.txt").is_file():
                    out.append(daphnet_source(d, run, sensor, seed=seed * 7919 + 500 + 2 * j + k))
    return out


def _emg_channels(src: Source) -> int | None:
    """Channel count of a source's EMG stream (``None`` without one)."""
    return next((len(s.channels) for s in src.specs if s.kind == "emg"), None)


def _uses(src: Source, kinds: Sequence[str]) -> bool:
    """Real sources enter only the models whose streams they really provide."""
    if src.name.startswith("myo-"):
        return "emg" in kinds
    if src.name.startswith("daphnet-"):
        return "acc" in kinds
    return all(any(s.kind == k for s in src.specs) for k in kinds)


# ----------------------------------------------------------------------------- frames


def _frames_parts(
    src: Source,
    rates: dict[str, float],
    win: float,
    hop: float,
    mains_hz: tuple[float, ...] = (50.0,),
) -> tuple:
    """:func:`frames_of` of ``src`` with its truth and confounders (``None`` for real data),
    as picklable parts: what a worker hands back, so the parent never simulates again."""
    fr = frames_of(src, rates, window_s=win, hop_s=hop, mains_hz=mains_hz)
    conf = source_confounders(src) if "result_fn" in src.info else None
    return fr.t_s, fr.raw, fr.ok, fr.names, fr.delays_s, fr.version, source_truth(src), conf


def frames_for_sources(
    sources: Sequence[Source],
    rates_hz: dict[str, float],
    *,
    window_s: float,
    hop_s: float,
    jobs: int = 1,
    progress: Callable[[int, Source], None] | None = None,
    mains_hz: float | Sequence[float] = 50.0,
) -> list[Frames]:
    """:func:`~spasmwatch.models._dataset.frames_of` of every source, in order.

    ``jobs > 1`` renders and featurises sources in that many forked worker processes
    (:func:`spasmwatch._workers.fork_map`). Each source is computed from its own seed and
    data alone, so the frames, truths and confounders are the same for any ``jobs``.
    ``progress(i, source)`` is called as each source is done. ``mains_hz``: the EMG notch
    (:func:`~spasmwatch.signal.mains_frequencies`).
    """
    from spasmwatch._workers import fork_map

    notch = mains_frequencies(mains_hz)

    def parts(src: Source) -> tuple:
        return _frames_parts(src, dict(rates_hz), window_s, hop_s, notch)

    out: list[Frames] = []
    for i, res in enumerate(fork_map(parts, sources, jobs)):
        t_s, raw, ok, names, delays, version, truth, conf = res
        src = sources[i]
        src.truth = list(truth)  # a worker rendered it: no second simulation here
        if conf is not None:
            src.info["confounders"] = list(conf)
        out.append(Frames(t_s, raw, ok, tuple(names), src, delays, version))
        if progress is not None:
            progress(i, src)
    return out


# ----------------------------------------------------------------------------- fitting


def _sim_weights(
    t_s: np.ndarray, y: np.ndarray, truth: Sequence[tuple], src: Source, cfg: TrainConfig
) -> np.ndarray:
    """Sample weights of a simulated source's frames (see the module notes, step 4)."""
    w = np.where(y > 0, SPASM_WEIGHT, 1.0)
    if cfg.onset_weight != 1.0:
        for a, _b, _t in truth:
            sel = (t_s > a) & (t_s <= a + cfg.onset_span_s) & (y > 0)
            w[sel] *= cfg.onset_weight
    if cfg.confounder_weight != 1.0:
        hard = np.zeros(len(t_s), bool)
        for a, b, name in source_confounders(src):
            if name in EASY_CONFOUNDERS:
                continue
            hard |= (t_s > a) & (t_s - cfg.window_s < b)
        w = np.where((y == 0) & hard, cfg.confounder_weight, w)
    return w


def _fit(X: np.ndarray, y: np.ndarray, w: np.ndarray, cfg: TrainConfig) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    clf = HistGradientBoostingClassifier(
        max_iter=cfg.max_iter,
        max_leaf_nodes=cfg.max_leaf_nodes,
        learning_rate=cfg.learning_rate,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=cfg.seed,
    )
    clf.fit(X, y, sample_weight=w)
    return clf


def _hard_negatives(clf: Any, X: np.ndarray, y: np.ndarray, p_min: float) -> np.ndarray:
    """Negative training frames the fitted ``clf`` scores ``p_spasm > p_min``: bool ``(n,)``."""
    neg = list(clf.classes_).index(0)
    p = np.empty(len(y))
    for a in range(0, len(y), 200_000):  # bounded memory
        p[a : a + 200_000] = 1.0 - clf.predict_proba(X[a : a + 200_000])[:, neg]
    return (y == 0) & (p > p_min)


def _to_onnx(clf: Any, n_features: int) -> Any:
    from skl2onnx import convert_sklearn
    from skl2onnx.common import tree_ensemble
    from skl2onnx.common.data_types import FloatTensorType

    # skl2onnx 1.20 passes a Python bool for the missing-value flag of leaves, which onnx
    # refuses ("Expected an int, got a boolean"); cast it while converting.
    orig = tree_ensemble.add_node

    def add_node(*args: Any, **kw: Any) -> Any:
        if "nodes_missing_value_tracks_true" in kw:
            kw["nodes_missing_value_tracks_true"] = int(kw["nodes_missing_value_tracks_true"])
        return orig(*args, **kw)

    tree_ensemble.add_node = add_node
    try:
        onx = convert_sklearn(
            clf,
            initial_types=[("features", FloatTensorType([None, n_features]))],
            options={id(clf): {"zipmap": False}},
            target_opset={"": 17, "ai.onnx.ml": 3},
        )
    finally:
        tree_ensemble.add_node = orig
    onx.graph.name = "spasm_classifier"  # skl2onnx names graphs with a random UUID
    return onx


def _predict_p(clf: Any, X: np.ndarray, ok: np.ndarray, classes: Sequence[str]) -> tuple:
    n = len(ok)
    p = np.full(n, np.nan)
    k = len(classes) - 1
    pt = np.zeros((n, k))
    if ok.any():
        pr = clf.predict_proba(X[ok].astype(np.float32))
        neg = classes.index("none")
        p[ok] = np.clip(1 - pr[:, neg], 0, 1)
        t = np.delete(pr, neg, axis=1)
        s = t.sum(axis=1, keepdims=True)
        pt[ok] = np.where(s > 0, t / np.where(s > 0, s, 1), 1.0 / k)
    return p, pt


# ----------------------------------------------------------------------------- thresholds


@dataclass
class _Scored:
    name: str
    t_ns: np.ndarray
    p: np.ndarray
    pt: np.ndarray
    inten: np.ndarray
    src: Source
    truth: list
    delay_s: float = 0.0
    emg_channels: int | None = None


def _score_config(
    items: Sequence[_Scored],
    det_kw: dict,
    hop_s: float,
    window_s: float,
    type_names: Sequence[str],
    *,
    by_channels: dict[int, dict] | None = None,
) -> dict:
    from spasmwatch.episodes import (
        Detection,
        DetectorConfig,
        SubjectRecord,
        TruthEvent,
        detect_updates,
        detections_from_updates,
        evaluate,
    )

    def config(kw: dict) -> DetectorConfig:
        return DetectorConfig(window_s=window_s, hop_s=hop_s, class_names=tuple(type_names), **kw)

    cfg = config(det_kw)
    group_cfg = {n: config(kw) for n, kw in (by_channels or {}).items()}
    recs = []
    real_fa: dict[str, list[float]] = {}
    for it in items:
        c = group_cfg.get(it.emg_channels, cfg)  # no group for None or another count
        ups = detect_updates(it.t_ns, it.p, it.pt, it.inten, ~np.isfinite(it.p), config=c)
        dets, n_ret = detections_from_updates(ups, origin_ns=it.src.start_ns)
        # retracted onsets are alarms the wearer saw: their alarm times (s from the origin)
        retracted_s = [
            (u.alarm_ns - it.src.start_ns) / 1e9 + it.delay_s for u in ups if u.kind == "retract"
        ]
        if it.delay_s:  # the alarm can only be raised once the resampled data is complete
            dets = [
                Detection(d.start_s, d.end_s, d.type, None if d.alarm_s is None else
                          d.alarm_s + it.delay_s)
                for d in dets
            ]  # fmt: skip
        if it.src.intervals:
            for lab, n_fa, hours in _real_fa(dets, it.src.intervals, retracted_s):
                acc = real_fa.setdefault(lab, [0.0, 0.0])
                acc[0] += n_fa
                acc[1] += hours
        else:
            usable = float(np.isfinite(it.p).sum() * hop_s)
            recs.append(
                SubjectRecord(
                    it.name,
                    [TruthEvent(a, b, t) for a, b, t in it.truth],
                    dets,
                    usable,
                    n_retracted=n_ret,
                )
            )
    out: dict[str, Any] = {}
    if recs:
        ev = evaluate(recs)
        out.update(
            sensitivity=ev.pooled.sensitivity,
            fa_per_24h=ev.pooled.false_alarms_per_24h,
            retracted_per_24h=ev.pooled.retracted_per_24h,
            fa_incl_retracted_per_24h=ev.pooled.false_alarms_per_24h + ev.pooled.retracted_per_24h,
            latency_median_s=ev.pooled.latency.median_s,
            latency_p90_s=ev.pooled.latency.p90_s,
            f1=ev.pooled.f1,
        )
    for lab, (n, h) in real_fa.items():
        out[f"fa_per_h.{lab}"] = n / h if h > 0 else float("nan")
    return out


def _real_fa(
    dets: Sequence[Any],
    intervals: Sequence[tuple[float, float, str]],
    retracted_s: Sequence[float] = (),
):
    """Per label: (false alarms, hours). A detection is charged to the label of the
    interval containing its alarm time (its start when no alarm time is known); a retracted
    onset (alarm time in ``retracted_s``, s) is an alarm the wearer saw and is charged the
    same way."""
    hours: dict[str, float] = {}
    for a, b, lab in intervals:
        hours[lab] = hours.get(lab, 0.0) + (b - a) / 3600.0
    counts = dict.fromkeys(hours, 0)
    times = [d.alarm_s if d.alarm_s is not None else d.start_s for d in dets]
    for t in [*times, *retracted_s]:
        for a, b, lab in intervals:
            if a <= t < b + 2.0:
                counts[lab] += 1
                break
    return [(lab, counts[lab], hours[lab]) for lab in hours]


#: Detector settings searched on the validation data (every combination).
THRESHOLD_GRID: dict[str, tuple[float, ...]] = {
    "onset_threshold": (0.7, 0.85, 0.9, 0.93, 0.96, 0.98, 0.99),
    "confirm_windows": (1, 2, 3, 4, 5),
    "min_duration_s": (2.0, 2.5, 3.0),
}
#: Sensitivity, false-alarm and latency targets of the issue (simulated validation wearers).
SIM_TARGETS = {
    "sensitivity": 0.95,
    "fa_per_24h": SIM_FA_TARGET_PER_24H,
    "latency_median_s": 1.0,
    "latency_p90_s": 2.0,
}


def target_cost(m: dict[str, float]) -> float:
    """How far validation metrics ``m`` miss the targets: a sum of scaled shortfalls.

    Each term is 0 when its target is met: sensitivity below 0.95 in steps of 0.05, false
    alarms per 24 h above 1 in steps of 3 (one false alarm in 8 validation hours; the false
    alarms *include retracted onsets* - ``fa_incl_retracted_per_24h`` when present - since
    the wearer sees every onset alarm, withdrawn or not), latency
    median above 1 s in steps of 0.5 s, p90 above 2 s in steps of 1 s, and each real
    false-alarm rate above its limit relative to the limit. Missing figures count as the
    worst case (no detection, no latency).
    """

    def v(k: str, bad: float) -> float:
        x = m.get(k)
        return float(x) if x is not None and math.isfinite(x) else bad

    c = max(0.0, SIM_TARGETS["sensitivity"] - v("sensitivity", 0.0)) / 0.05
    fa = v("fa_incl_retracted_per_24h", v("fa_per_24h", 0.0))
    c += max(0.0, fa - SIM_TARGETS["fa_per_24h"]) / 3.0
    c += max(0.0, v("latency_median_s", 10.0) - SIM_TARGETS["latency_median_s"]) / 0.5
    c += max(0.0, v("latency_p90_s", 10.0) - SIM_TARGETS["latency_p90_s"]) / 1.0
    for lab, lim in REAL_TARGETS.items():
        x = m.get(f"fa_per_h.{lab}")
        if x is not None and math.isfinite(x):
            c += max(0.0, x - lim) / lim
    return c


def choose_thresholds(
    items: Sequence[_Scored],
    *,
    hop_s: float,
    window_s: float,
    type_names: Sequence[str],
    jobs: int = 1,
) -> tuple[dict[str, float], dict[str, Any], list[dict[str, Any]]]:
    """Grid search of the detector settings on validation data.

    Every combination of :data:`THRESHOLD_GRID` (offset threshold 0.3 below the onset
    threshold, at least 0.2; merge gap 1 s) is scored on the validation items; the setting
    with the lowest :func:`target_cost` wins, ties going to the higher F1, then the lower
    median latency. The chosen setting is inside the grid's range unless it sits at an
    edge, which the training summary reports (``at_grid_edge``). ``jobs`` forked worker
    processes score the settings (:func:`spasmwatch._workers.fork_map`; the result does
    not depend on it).
    """
    from spasmwatch._workers import fork_map

    grid = [
        {
            "onset_threshold": onset,
            "offset_threshold": round(max(0.2, onset - 0.3), 3),
            "confirm_windows": confirm,
            "min_duration_s": max(min_dur, window_s),
            "merge_gap_s": 1.0,
        }
        for onset in THRESHOLD_GRID["onset_threshold"]
        for confirm in THRESHOLD_GRID["confirm_windows"]
        for min_dur in THRESHOLD_GRID["min_duration_s"]
    ]
    unique: dict[tuple, dict[str, Any]] = {}
    for kw in grid:
        unique.setdefault(tuple(sorted(kw.items())), kw)
    settings = list(unique.values())

    def score(kw: dict[str, Any]) -> dict[str, Any]:
        return _score_config(items, kw, hop_s, window_s, type_names)

    results = []
    for kw, m in zip(settings, fork_map(score, settings, jobs), strict=True):
        cost = target_cost(m)
        f1 = m.get("f1", float("nan"))
        lat = m.get("latency_median_s", float("nan"))
        order = (
            round(cost, 6),
            -(f1 if math.isfinite(f1) else 0.0),
            lat if math.isfinite(lat) else 99.0,
        )
        results.append({"settings": kw, "metrics": m, "excess": cost, "_key": order})
    best = min(results, key=lambda r: r["_key"])
    th = {
        "onset": best["settings"]["onset_threshold"],
        "offset": best["settings"]["offset_threshold"],
        "confirm_windows": float(best["settings"]["confirm_windows"]),
        "min_duration_s": best["settings"]["min_duration_s"],
        "merge_gap_s": best["settings"]["merge_gap_s"],
    }
    for r in results:
        r.pop("_key")
    return th, best["metrics"], results


#: Fewest simulated validation wearers an EMG channel count needs for an operating point of
#: its own (fewer: its wearers only enter the pooled choice).
MIN_GROUP_WEARERS = 8


def choose_device_thresholds(
    items: Sequence[_Scored],
    *,
    hop_s: float,
    window_s: float,
    type_names: Sequence[str],
    min_wearers: int = MIN_GROUP_WEARERS,
    jobs: int = 1,
) -> dict[int, tuple[dict[str, float], dict[str, Any]]]:
    """Operating points per EMG channel count (device-specific thresholds).

    A 2-electrode sensor and an 8-electrode armband see the same muscles very differently
    (channel spread and co-activation mean different things), so one set of thresholds
    is a compromise for both. When the validation wearers use more than one EMG channel
    count, each count with at least ``min_wearers`` simulated wearers gets its own
    :func:`choose_thresholds` run on its wearers and on the real sources with that count
    (the Myo and Daphnet-paired sources: 8). Returns ``{n_channels: (thresholds,
    validation metrics)}``; empty when there is one count only (or none).
    """
    counts: dict[int, int] = {}
    for it in items:
        if it.emg_channels is not None and not it.src.intervals:
            counts[it.emg_channels] = counts.get(it.emg_channels, 0) + 1
    groups = sorted(n for n, k in counts.items() if k >= min_wearers)
    if len(counts) < 2 or not groups:
        return {}
    out = {}
    for n in groups:
        sub = [it for it in items if it.emg_channels == n]
        th, metrics, _grid = choose_thresholds(
            sub, hop_s=hop_s, window_s=window_s, type_names=type_names, jobs=jobs
        )
        out[n] = (th, metrics)
    return out


def _detector_kw(th: dict[str, float]) -> dict[str, Any]:
    """:func:`_score_config` settings from a thresholds map."""
    kw = {
        "onset_threshold": th["onset"],
        "offset_threshold": th["offset"],
        "confirm_windows": int(th["confirm_windows"]),
        "min_duration_s": th["min_duration_s"],
        "merge_gap_s": th["merge_gap_s"],
    }
    from spasmwatch.pipeline._detection import early_confirm_kw

    return kw | early_confirm_kw(th)


#: Type-corroborated onsets tried after the grid (:func:`choose_early_confirm`): fewer
#: confirming windows when they look clonic. Clonus (rhythmic 5-8 Hz bursts) is what
#: voluntary contractions and movement do not have: on the validation wearers of the
#: 7 December models, none of the false onsets a 2-window rule added was typed clonic.
EARLY_CONFIRM_GRID: tuple[tuple[int, float], ...] = ((2, 0.5), (2, 0.7), (1, 0.5), (1, 0.7))
EARLY_CONFIRM_TYPE = "clonic"


def choose_early_confirm(
    items: Sequence[_Scored],
    th: dict[str, float],
    *,
    hop_s: float,
    window_s: float,
    type_names: Sequence[str],
    jobs: int = 1,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Second stage of the threshold choice: the grid's setting ``th`` as it is, or with
    type-corroborated onsets (``early_confirm_windows`` windows that look clonic confirm,
    :data:`EARLY_CONFIRM_GRID`), whichever has the lowest :func:`target_cost` on
    ``items`` (ties: higher F1, then lower median latency; "as it is" wins a full tie).

    Returns the thresholds (with ``early_confirm_windows`` 0 when off, so that a device
    operating point never inherits a pooled choice) and their validation metrics.
    """
    from spasmwatch._workers import fork_map

    base = {k: v for k, v in th.items() if not k.startswith("early_confirm")}
    cands = [dict(base, early_confirm_windows=0.0)]
    if EARLY_CONFIRM_TYPE in type_names:
        for w, p in EARLY_CONFIRM_GRID:
            if w < int(base["confirm_windows"]):
                cands.append(
                    dict(
                        base,
                        early_confirm_windows=float(w),
                        early_confirm_intensity=0.0,
                        **{f"early_confirm_type_p.{EARLY_CONFIRM_TYPE}": p},
                    )
                )

    def score(c: dict[str, float]) -> dict[str, Any]:
        return _score_config(items, _detector_kw(c), hop_s, window_s, type_names)

    best = None
    for i, (c, m) in enumerate(zip(cands, fork_map(score, cands, jobs), strict=True)):
        f1 = m.get("f1", float("nan"))
        lat = m.get("latency_median_s", float("nan"))
        key = (
            round(target_cost(m), 6),
            -(f1 if math.isfinite(f1) else 0.0),
            lat if math.isfinite(lat) else 99.0,
            i,
        )
        if best is None or key < best[0]:
            best = (key, c, m)
    assert best is not None
    return best[1], best[2]


# ----------------------------------------------------------------------------- main


def _log(progress: Callable[[str], None] | None, msg: str) -> None:
    if progress is not None:
        progress(msg)


def train_models(
    cfg: TrainConfig,
    out_dir: str | Path,
    *,
    models: Sequence[str] = tuple(MODEL_KINDS),
    progress: Callable[[str], None] | None = None,
    jobs: int = 1,
) -> dict[str, Any]:
    """Train, choose thresholds, export ``<out_dir>/<file>.onnx`` and ``training.json``.

    ``jobs`` worker processes compute the feature frames and score the threshold grid (the
    same files for any ``jobs``).

    Returns
    -------
    dict
        The training summary written to ``training.json``.

    Raises
    ------
    ModelError
        The ``train`` extra is missing, or a model exceeds 5 MB.
    """
    try:
        import onnx  # noqa: F401
        import skl2onnx  # noqa: F401
        import sklearn  # noqa: F401
    except ImportError as exc:
        raise ModelError(
            f"training needs the 'train' extra ({exc}); install it with pip install -e '.[train]'",
            reason="missing_extra",
        ) from exc
    unknown = set(models) - set(MODEL_KINDS)
    if unknown:
        raise ConfigError(f"unknown models {sorted(unknown)}; known {sorted(MODEL_KINDS)}")
    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    win, hop = cfg.window_s, cfg.hop_s
    all_rates = dict(cfg.rates_hz)

    split_sources = {
        "train": _sim_sources(cfg, "train")
        + real_sources(
            cfg.data_dir, "train", max_myo=cfg.max_myo, max_daphnet=cfg.max_daphnet, seed=cfg.seed
        ),
        "val": _sim_sources(cfg, "val")
        + real_sources(
            cfg.data_dir, "val", max_myo=cfg.max_myo, max_daphnet=cfg.max_daphnet, seed=cfg.seed + 1
        ),
    }
    frames: dict[str, list[Frames]] = {}
    for split, srcs in split_sources.items():

        def done(i: int, s: Source, split: str = split, n: int = len(srcs)) -> None:
            _log(progress, f"{split} features {i + 1}/{n} ({s.name})")

        frames[split] = frames_for_sources(
            srcs,
            all_rates,
            window_s=win,
            hop_s=hop,
            jobs=jobs,
            progress=done,
            mains_hz=cfg.mains_hz,
        )
    truths = {s.name: source_truth(s) for srcs in split_sources.values() for s in srcs}
    summary: dict[str, Any] = {
        "config": {k: v for k, v in asdict(cfg).items() if k != "data_dir"},
        "data_dir_used": cfg.data_dir is not None,
        "sources": {sp: [s.name for s in srcs] for sp, srcs in split_sources.items()},
        "models": {},
    }
    for model_id in models:
        kinds = MODEL_KINDS[model_id]
        names = feature_names_for(kinds, cfg.lags, cfg.deltas)
        Xs, ys, ws = [], [], []
        n_pos = n_neg_sim = n_neg_real = 0
        for fr in frames["train"]:
            if not _uses(fr.source, kinds):
                continue
            X, ok = normalise_frames(fr, names, calibration_s=cfg.calibration_s, hop_s=hop)
            if fr.source.intervals:  # real: negatives only
                y = np.zeros(len(ok), np.int64)
                w = np.full(len(ok), REAL_NEGATIVE_WEIGHT)
                n_neg_real += int(ok.sum())
            else:
                y = label_frames(fr.t_s, truths[fr.source.name], window_s=win)
                w = _sim_weights(fr.t_s, y, truths[fr.source.name], fr.source, cfg)
                n_pos += int((ok & (y > 0)).sum())
                n_neg_sim += int((ok & (y == 0)).sum())
            keep = ok & (y >= 0)
            Xs.append(X[keep])
            ys.append(y[keep])
            ws.append(w[keep])
        X = np.concatenate(Xs)
        y = np.concatenate(ys)
        w = np.concatenate(ws)
        _log(progress, f"{model_id}: fitting on {len(y)} frames ({n_pos} spasm)")
        clf = _fit(X, y, w, cfg)
        classes = [TYPE_CLASSES[int(c)] for c in clf.classes_]
        if "none" not in classes:
            raise ModelError("training data has no negative frames", reason="training")
        n_hard = 0
        if cfg.hard_negative_p is not None:
            hard = _hard_negatives(clf, X, y, cfg.hard_negative_p)
            n_hard = int(hard.sum())
            _log(progress, f"{model_id}: refitting with {n_hard} hard negatives up-weighted")
            clf = _fit(X, y, np.where(hard, w * cfg.hard_negative_weight, w), cfg)
        type_names = [c for c in classes if c != "none"]
        # validation: scores for threshold choice
        items = []
        for fr in frames["val"]:
            if not _uses(fr.source, kinds):
                continue
            Xv, okv = normalise_frames(fr, names, calibration_s=cfg.calibration_s, hop_s=hop)
            p, pt = _predict_p(clf, Xv, okv, classes)
            inten = np.exp(Xv[:, 0].astype(np.float64)) if len(Xv) else np.zeros(0)
            t_ns = fr.source.start_ns + np.round(fr.t_s * 1e9).astype(np.int64)
            items.append(
                _Scored(
                    fr.source.name,
                    t_ns,
                    p,
                    pt,
                    inten,
                    fr.source,
                    truths[fr.source.name],
                    fr.delay_s(kinds),
                    _emg_channels(fr.source) if "emg" in kinds else None,
                )
            )
        th, val_metrics, grid = choose_thresholds(
            items, hop_s=hop, window_s=win, type_names=type_names, jobs=jobs
        )
        th, val_metrics = choose_early_confirm(
            items, th, hop_s=hop, window_s=win, type_names=type_names, jobs=jobs
        )
        by_device = choose_device_thresholds(
            items, hop_s=hop, window_s=win, type_names=type_names, jobs=jobs
        )
        by_device = {
            n: choose_early_confirm(
                [it for it in items if it.emg_channels == n],
                g_th,
                hop_s=hop,
                window_s=win,
                type_names=type_names,
                jobs=jobs,
            )
            for n, (g_th, _m) in by_device.items()
        }
        pooled_metrics = val_metrics
        if by_device:
            for n, (g_th, _m) in by_device.items():
                th.update({f"{k}@emg{n}": v for k, v in g_th.items()})
            val_metrics = _score_config(
                items,
                _detector_kw(th),
                hop,
                win,
                type_names,
                by_channels={n: _detector_kw(g_th) for n, (g_th, _m) in by_device.items()},
            )
        th["calibration_s"] = cfg.calibration_s
        _log(progress, f"{model_id}: thresholds {th} -> validation {val_metrics}")
        onx = _to_onnx(clf, len(names))
        out_name = next(o.name for o in onx.graph.output if o.name != "label")
        md = ModelMetadata(
            model_id=model_id,
            version=MODEL_VERSION,
            input_layout="features",
            stream_kinds=kinds,
            rates_hz={k: cfg.rates_hz[k] for k in kinds},
            window_s=win,
            hop_s=hop,
            class_names=tuple(classes),
            feature_names=names,
            feature_set=FeatureSet(kinds).name,
            min_channels={"acc": 3} if "acc" in kinds else {},
            output_name=out_name,
            thresholds=th,
            emg_notch_hz=cfg.mains_hz,
            training_data=_describe(cfg, split_sources, kinds),
            seed=cfg.seed,
            metrics={
                "validation": {k: _r(v) for k, v in val_metrics.items()},
                "train_frames": len(y),
                "train_spasm_frames": n_pos,
                "train_negative_frames_sim": n_neg_sim,
                "train_negative_frames_real": n_neg_real,
                "normalisation": "log ratio to the median of the quieter half of the first "
                f"{cfg.calibration_s:g} s of usable frames",
                "resample_to_hz": {k: cfg.rates_hz[k] for k in kinds},
            },
        )
        md.attach_to(onx)
        data = onx.SerializeToString()
        if len(data) > 5 * 1024 * 1024:
            raise ModelError(
                f"{model_id} is {len(data) / 1e6:.1f} MB (> 5 MB); lower max_iter or "
                "max_leaf_nodes",
                reason="too_large",
            )
        path = out / MODEL_FILES[model_id]
        path.write_bytes(data)
        summary["models"][model_id] = {
            "file": path.name,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "classes": classes,
            "n_features": len(names),
            "thresholds": th,
            "validation": {k: _r(v) for k, v in val_metrics.items()},
            "train_frames": len(y),
            "train_spasm_frames": n_pos,
            "hard_negative_frames": n_hard,
            "at_grid_edge": _at_edge(th),
            "validation_pooled_thresholds": {k: _r(v) for k, v in pooled_metrics.items()},
            "by_emg_channels": {
                str(n): {
                    "thresholds": g_th,
                    "validation": {k: _r(v) for k, v in g_m.items()},
                    "at_grid_edge": _at_edge(g_th),
                }
                for n, (g_th, g_m) in by_device.items()
            },
            "threshold_grid": [
                {
                    "settings": g["settings"],
                    "excess": _r(g["excess"]),
                    "metrics": {k: _r(v) for k, v in g["metrics"].items()},
                }
                for g in grid
            ],
        }
    summary["train_seconds"] = round(time.perf_counter() - t0, 1)
    (out / "training.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
    return summary


def _at_edge(th: dict[str, float]) -> list[str]:
    """Threshold settings that sit at an edge of :data:`THRESHOLD_GRID` (the grid may be
    too narrow there)."""
    keys = {"onset": "onset_threshold", "confirm_windows": "confirm_windows"}
    out = []
    for k, g in keys.items():
        vals = THRESHOLD_GRID[g]
        if th[k] in (min(vals), max(vals)):
            out.append(k)
    return out


def _r(v: Any) -> Any:
    if isinstance(v, float):
        return None if not math.isfinite(v) else round(v, 4)
    return v


def _describe(
    cfg: TrainConfig, split_sources: dict[str, list[Source]], kinds: Sequence[str]
) -> str:
    n_real = {
        sp: sum(1 for s in srcs if s.intervals and _uses(s, kinds))
        for sp, srcs in split_sources.items()
    }
    return (
        f"{cfg.n_train} simulated training wearers x {cfg.hours:g} h (spasms raised to "
        f"{cfg.spasms_per_day:g}/day, daily-living confounders, BLE losses; Myo+Polar H10, "
        f"Myo+Movesense or nus-reference devices), {cfg.n_val} validation wearers for the "
        f"thresholds; real hard negatives ({n_real['train']} training, {n_real['val']} "
        "validation sources): Myo armband rest and gestures (MIT, aljazfrancic/"
        "myo-readings-dataset) paired with simulated quiet ACC, Daphnet FoG walking and "
        "freezing (CC BY 4.0, Bachlin et al. 2010) paired with simulated rest EMG. Test "
        "wearers and held-out real participants/runs were never used. spasmwatch simulator; "
        "no real spasm recordings."
    )
