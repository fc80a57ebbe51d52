"""The evaluation runner: bundled models and baselines on held-out data -> ``docs/evaluation.md``.

Everything is scored event by event (:mod:`spasmwatch.episodes._scoring`): any-overlap
sensitivity, precision, F1, false alarms per 24 h of usable signal, onset latency (alarm
time minus simulated onset, *including* the resampling delay of the pipeline), overall, per
spasm type and per wearer; and false alarms per hour on the held-out real recordings.

Test data never seen in training or threshold choice:

- simulated test wearers: simulator seeds ``TEST_SEED_BASE + i`` (training uses
  ``seed*1000 + 100..``, validation ``seed*1000 + 500..``);
- Myo participants and Daphnet runs of the ``test`` split
  (:func:`spasmwatch.models._dataset.myo_participants`, ``DAPHNET_SPLIT``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spasmwatch.episodes import (
    AccBandRatio,
    Detection,
    EmgDoubleThreshold,
    Evaluation,
    SubjectRecord,
    TruthEvent,
    detections_from_updates,
    evaluate,
)
from spasmwatch.errors import ModelError
from spasmwatch.models import BUNDLED_DIR, SpasmModel
from spasmwatch.models._dataset import (
    Source,
    daphnet_source,
    myo_file_sources,
    simulated_source,
    source_truth,
)
from spasmwatch.pipeline import DetectionPipeline, run_blocks, select_streams

__all__ = [
    "DETECTORS",
    "TARGETS",
    "TEST_SEED_BASE",
    "quick_evaluation",
    "run_detector",
    "score_sources",
    "write_report",
]

TEST_SEED_BASE = 900_000
TEST_SPASMS_PER_DAY = 120.0
#: Detector names: bundled model files and the two baselines.
DETECTORS = {
    "EMG+ACC model": "emg_acc.onnx",
    "EMG model": "emg.onnx",
    "ACC model": "acc.onnx",
    "EMG double threshold (baseline)": "baseline-emg",
    "ACC 3-8 Hz band ratio (baseline)": "baseline-acc",
}
TARGETS = {
    "sensitivity": 0.95,
    "fa_per_24h": 1.0,
    "latency_median_s": 1.0,
    "latency_p90_s": 2.0,
    "fa_per_h.myo-gesture": 0.5,
    "fa_per_h.myo-rest": 0.2,
    "fa_per_h.daphnet-walking": 0.5,
}
REAL_LABELS = ("myo-rest", "myo-gesture", "daphnet-walking", "daphnet-fog")
EXCERPTS_DIR = Path(__file__).resolve().parent.parent / "tests" / "data" / "real-excerpts"


@dataclass
class RunResult:
    """One detector on one source."""

    detections: list[Detection]
    n_retracted: int
    usable_s: float
    wall_s: float
    #: Alarm times (s from the source start, resampling delay included) of the retracted
    #: onsets: alarms the wearer saw although the episode was withdrawn.
    retracted_alarm_s: list[float] = field(default_factory=list)


def _retracted_alarms(updates: Sequence[Any], origin_ns: int, delay_s: float = 0.0) -> list[float]:
    return [(u.alarm_ns - origin_ns) / 1e9 + delay_s for u in updates if u.kind == "retract"]


def _needs(det: str) -> tuple[str, ...]:
    if det.endswith(".onnx"):
        from spasmwatch.models import read_metadata

        return read_metadata(BUNDLED_DIR / det).stream_kinds
    return ("emg",) if det == "baseline-emg" else ("acc",)


def run_detector(
    det: str | SpasmModel, src: Source, *, models_dir: Path = BUNDLED_DIR
) -> RunResult:
    """Run a bundled model (file name or :class:`SpasmModel`) or a baseline over a source.

    Model alarm times include the pipeline's resampling delay (the instant the alarm
    could really be raised), so latencies are not flattered by the time stamps of
    resampled samples.
    """
    t0 = time.perf_counter()
    if isinstance(det, SpasmModel) or str(det).endswith(".onnx"):
        model = det if isinstance(det, SpasmModel) else SpasmModel(models_dir / str(det))
        pipe = DetectionPipeline(src.specs, model, wearer_id="eval", stale_timeout_s=None)
        updates, scores = run_blocks(pipe, src.blocks())
        delay_ns = round(pipe.delay_s * 1e9)
        dets, n_ret = detections_from_updates(updates, origin_ns=src.start_ns)
        dets = [
            Detection(
                d.start_s,
                d.end_s,
                d.type,
                None if d.alarm_s is None else d.alarm_s + delay_ns / 1e9,
            )
            for d in dets
        ]
        usable = float(sum(1 for s in scores if not s.has_gap)) * model.metadata.hop_s
        return RunResult(
            dets,
            n_ret,
            usable,
            time.perf_counter() - t0,
            _retracted_alarms(updates, src.start_ns, delay_ns / 1e9),
        )
    kind = "emg" if det == "baseline-emg" else "acc"
    spec = (
        select_streams(src.specs, (kind,))[kind] if any(s.kind == kind for s in src.specs) else None
    )
    if spec is None:
        raise ValueError(f"{src.name} has no {kind} stream for {det}")
    base = (EmgDoubleThreshold if kind == "emg" else AccBandRatio)(spec.rate_hz, wearer_id="eval")
    ups = []
    last = None
    for b in src.blocks():
        if b.spec.key != spec.key or b.n_samples == 0:
            continue
        t = b.t_ns
        x = b.data
        if last is not None and t[0] <= last:
            keep = t > last
            t, x = t[keep], x[keep]
            if len(t) == 0:
                continue
        ups += base.update(t, x)
        last = int(t[-1])
    ups += base.flush()
    dets, n_ret = detections_from_updates(ups, origin_ns=src.start_ns)
    return RunResult(
        dets, n_ret, float("nan"), time.perf_counter() - t0, _retracted_alarms(ups, src.start_ns)
    )


def _real_fa(
    dets: Sequence[Detection], src: Source, retracted_alarm_s: Sequence[float] = ()
) -> dict[str, tuple[int, float]]:
    """Per label: (false alarms, hours); retracted onsets count as false alarms (seen)."""
    out: dict[str, tuple[int, float]] = {}
    for a, b, lab in src.intervals:
        n, h = out.get(lab, (0, 0.0))
        out[lab] = (n, h + (b - a) / 3600.0)
    times = [d.alarm_s if d.alarm_s is not None else d.start_s for d in dets]
    for t in [*times, *retracted_alarm_s]:
        for a, b, lab in src.intervals:
            if a <= t < b + 2.0:
                n, h = out[lab]
                out[lab] = (n + 1, h)
                break
    return out


def _source_runs(detectors: dict[str, Any], src: Source, simulated: bool) -> dict[str, Any]:
    """Every applicable detector over one source, with what scoring needs of the source
    (truth events, confounders): one unit of work, done in a worker process or here."""
    from spasmwatch.models._dataset import source_confounders

    runs: dict[str, RunResult] = {}
    for name, det in detectors.items():
        kinds = _needs(det)
        if simulated:
            if not all(any(s.kind == k for s in src.specs) for k in kinds):
                continue
        elif ("emg" if src.name.startswith("myo-") else "acc") not in kinds:
            continue
        runs[name] = run_detector(det, src)
    out: dict[str, Any] = {"runs": runs}
    if simulated and runs:
        fn = src.info.get("result_fn")
        out["truth"] = list(source_truth(src))
        out["events"] = list(fn().truth) if fn is not None else []
        out["confounders"] = [c for c in source_confounders(src) if c[2] != "sleep"]
    return out


def _all_source_runs(
    detectors: dict[str, Any],
    sources: list[Source],
    simulated: list[bool],
    jobs: int,
    progress: Callable[[str], None] | None,
) -> list[dict[str, Any]]:
    """:func:`_source_runs` of every source, in order (``jobs`` forked workers)."""
    from spasmwatch._workers import fork_map

    def run(i: int) -> dict[str, Any]:
        return _source_runs(detectors, sources[i], simulated[i])

    out = []
    for i, res in enumerate(fork_map(run, range(len(sources)), jobs)):
        out.append(res)
        if progress:
            progress(f"{sources[i].name} done")
    return out


def score_sources(
    detectors: dict[str, Any],
    sim: Sequence[Source],
    real: Sequence[Source],
    *,
    progress: Callable[[str], None] | None = None,
    jobs: int = 1,
) -> dict[str, Any]:
    """Run every detector over the sources; event scores and real false-alarm rates.

    ``jobs > 1`` runs the sources in that many forked worker processes (where the platform
    can fork): every source is scored on its own, so the figures do not depend on it (the
    per-detector ``wall_s`` is then the sum of the workers' times).

    Returns
    -------
    dict
        ``name -> {"evaluation": Evaluation | None, "real": {label: {n, hours, per_h}},
        "wall_s": float}``.
    """
    sources = [*sim, *real]
    flags = [True] * len(sim) + [False] * len(real)
    per_source = _all_source_runs(detectors, sources, flags, jobs, progress)
    out: dict[str, Any] = {}
    for name in detectors:
        recs = []
        real_acc: dict[str, list[float]] = {}
        fa_causes: dict[str, int] = {}
        missed: list[dict[str, Any]] = []
        wall = 0.0
        for src, simulated, res in zip(sources, flags, per_source):
            r = res["runs"].get(name)
            if r is None:
                continue
            wall += r.wall_s
            if simulated:
                usable = r.usable_s if math.isfinite(r.usable_s) else _usable_guess(src)
                truth = [TruthEvent(a, b, t) for a, b, t in res["truth"]]
                recs.append(
                    SubjectRecord(
                        src.wearer, truth, r.detections, usable, n_retracted=r.n_retracted
                    )
                )
                _attribute(
                    src.wearer, res["events"], res["confounders"], r.detections, fa_causes, missed
                )
            else:
                for lab, (n, h) in _real_fa(r.detections, src, r.retracted_alarm_s).items():
                    acc = real_acc.setdefault(lab, [0, 0.0])
                    acc[0] += n
                    acc[1] += h
        ev = evaluate(recs) if recs else None
        out[name] = {
            "evaluation": ev,
            "real": {
                lab: {"n": int(n), "hours": h, "per_h": (n / h if h > 0 else float("nan"))}
                for lab, (n, h) in sorted(real_acc.items())
            },
            "wall_s": wall,
            "fa_causes": dict(sorted(fa_causes.items(), key=lambda kv: (-kv[1], kv[0]))),
            "missed": missed,
        }
    return out


def _attribute(
    wearer: str,
    truth: Sequence[Any],
    conf: Sequence[tuple[float, float, str]],
    dets: Sequence[Detection],
    fa_causes: dict[str, int],
    missed: list[dict[str, Any]],
    tolerance_s: float = 2.0,
) -> None:
    """Charge each false alarm to the simulator's confounders it overlaps (``conf``,
    ``(start_s, end_s, name)``), and list the missed truth events (the simulator's
    ``truth`` events) with their type, duration and intensity (simulated sources)."""

    def near(d: Detection, a: float, b: float) -> bool:
        return d.start_s <= b + tolerance_s and d.end_s >= a - tolerance_s

    for d in dets:
        if any(near(d, e.start_s, e.end_s) for e in truth):
            continue
        names = sorted({c[2] for c in conf if c[0] <= d.end_s and c[1] >= d.start_s})
        key = " + ".join(names) if names else "(no confounder: rest)"
        fa_causes[key] = fa_causes.get(key, 0) + 1
    for e in truth:
        if not any(near(d, e.start_s, e.end_s) for d in dets):
            missed.append(
                {
                    "wearer": wearer,
                    "type": e.type,
                    "start_s": round(e.start_s, 1),
                    "duration_s": round(e.end_s - e.start_s, 2),
                    "intensity": round(float(e.intensity), 2),
                }
            )


def _usable_guess(src: Source) -> float:
    return src.duration_s


def test_sim_sources(
    n: int,
    hours: float,
    *,
    devices: Sequence[str] = ("myo", "polar-h10"),
    emg_scale: float = 1.0,
    acc_rate_hz: float | None = None,
    seed_base: int = TEST_SEED_BASE,
) -> list[Source]:
    """Held-out simulated test wearers (seeds ``seed_base + i``)."""
    return [
        simulated_source(
            seed_base + i,
            hours * 3600.0,
            devices=devices,
            spasms_per_day=TEST_SPASMS_PER_DAY,
            emg_scale=emg_scale,
            acc_rate_hz=acc_rate_hz,
        )
        for i in range(n)
    ]


def test_real_sources(data_dir: str | Path | None) -> list[Source]:
    """The held-out real sources (test split), or none without a data folder."""
    from spasmwatch.models._dataset import myo_participants
    from spasmwatch.models._train import real_sources

    if data_dir is None:
        return []
    out: list[Source] = []
    if (Path(data_dir) / "myo-readings").is_dir():
        for i, p in enumerate(myo_participants(data_dir, "test")):
            out.extend(myo_file_sources(data_dir, p, seed=424242 + i))
    return out + [
        s for s in real_sources(data_dir, "test", seed=424242) if not s.name.startswith("myo-")
    ]


# ----------------------------------------------------------------------------- report


def _f(v: Any, spec: str = ".2f") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return format(v, spec)


def _met(key: str, v: float | None) -> str:
    if v is None or not math.isfinite(v):
        return "n/a"
    lim = TARGETS[key]
    ok = v >= lim if key == "sensitivity" else v <= lim
    return "met" if ok else "**not met**"


def _row(name: str, res: dict[str, Any]) -> str:
    ev: Evaluation | None = res["evaluation"]
    real = res["real"]
    cells = [name]
    if ev is not None:
        p = ev.pooled
        cells += [
            str(p.n_truth),
            _f(p.sensitivity),
            _f(p.precision),
            _f(p.f1),
            _f(_fa_seen(p)),
            f"{_f(p.false_alarms_per_24h)} + {_f(p.retracted_per_24h)}",
            _f(p.latency.median_s),
            _f(p.latency.p90_s),
        ]
    else:
        cells += ["-"] * 8
    for lab in REAL_LABELS:
        r = real.get(lab)
        cells.append(f"{_f(r['per_h'])} ({r['n']})" if r else "-")
    return "| " + " | ".join(cells) + " |"


_HEADER = (
    "| detector | events | sensitivity | precision | F1 | FA/24 h incl. retracted onsets "
    "| = false episodes + retracted onsets /24 h | latency median (s) "
    "| latency p90 (s) | Myo rest FA/h (n) | Myo gestures FA/h (n) | Daphnet walking FA/h (n) "
    "| Daphnet FoG FA/h (n) |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def _fa_seen(p: Any) -> float:
    """False alarms the wearer sees per 24 h: false (final) episodes plus retracted onsets
    (an onset alarm is shown before the detector knows the episode will be too short)."""
    return p.false_alarms_per_24h + p.retracted_per_24h


def _targets_table(res: dict[str, Any]) -> list[str]:
    ev = res["evaluation"]
    p = ev.pooled if ev is not None else None
    vals = {
        "sensitivity": p.sensitivity if p else None,
        "fa_per_24h": _fa_seen(p) if p else None,
        "latency_median_s": p.latency.median_s if p else None,
        "latency_p90_s": p.latency.p90_s if p else None,
    }
    for lab in ("myo-gesture", "myo-rest", "daphnet-walking"):
        r = res["real"].get(lab)
        vals[f"fa_per_h.{lab}"] = r["per_h"] if r else None
    names = {
        "sensitivity": "sensitivity (held-out simulated wearers)",
        "fa_per_24h": "false alarms incl. retracted onsets per 24 h (simulated daily living)",
        "latency_median_s": "onset latency, median (s)",
        "latency_p90_s": "onset latency, p90 (s)",
        "fa_per_h.myo-gesture": "false alarms per hour, Myo gestures",
        "fa_per_h.myo-rest": "false alarms per hour, Myo rest",
        "fa_per_h.daphnet-walking": "false alarms per hour, Daphnet walking",
    }
    lines = ["| target | required | measured | | split |", "|---|---|---|---|---|"]
    for k, label in names.items():
        req = ("≥ " if k == "sensitivity" else "≤ ") + _f(TARGETS[k])
        split = ""
        if k == "fa_per_24h" and p is not None:
            split = (
                f"{_f(p.false_alarms_per_24h)} false episodes + {_f(p.retracted_per_24h)} "
                "retracted onsets"
            )
        lines.append(f"| {label} | {req} | {_f(vals[k])} | {_met(k, vals[k])} | {split} |")
    return lines


def write_report(
    path: str | Path,
    *,
    data_dir: str | Path | None,
    n_wearers: int = 36,
    hours: float = 2.0,
    robustness_wearers: int = 6,
    robustness_hours: float = 1.0,
    progress: Callable[[str], None] | None = None,
    jobs: int = 1,
) -> dict[str, Any]:
    """Run the whole evaluation and write the Markdown report. Returns the figures.

    ``jobs`` worker processes score the sources (:func:`score_sources`; same figures)."""
    t0 = time.perf_counter()
    sim = test_sim_sources(n_wearers, hours)
    real = test_real_sources(data_dir)
    main = score_sources(DETECTORS, sim, real, progress=progress, jobs=jobs)
    variants = {
        "EMG amplitude x0.3": {"emg_scale": 0.3},
        "EMG amplitude x3": {"emg_scale": 3.0},
        "ACC at 50 Hz": {"acc_rate_hz": 50.0},
        "ACC at 25 Hz": {"acc_rate_hz": 25.0},
        "EMG at 1000 Hz (nus-reference, ACC 100 Hz)": {"devices": ("nus-reference",)},
    }
    robust: dict[str, dict[str, Any]] = {}
    for vname, kw in variants.items():
        srcs = test_sim_sources(robustness_wearers, robustness_hours, **kw)
        robust[vname] = {}
        for k, v in DETECTORS.items():
            if not v.endswith(".onnx"):
                continue
            try:
                robust[vname].update(score_sources({k: v}, srcs, [], jobs=jobs))
            except ModelError as exc:  # the model refuses these streams (e.g. rate too low)
                robust[vname][k] = {"evaluation": None, "refused": str(exc), "real": {}}
        if progress:
            progress(f"robustness {vname} done")
    base_sim = test_sim_sources(robustness_wearers, robustness_hours)
    robust_ref = score_sources(
        {k: v for k, v in DETECTORS.items() if v.endswith(".onnx")}, base_sim, [], jobs=jobs
    )
    speed = _speed()
    elapsed = time.perf_counter() - t0
    md = _render(
        main,
        robust_ref,
        robust,
        n_wearers,
        hours,
        robustness_wearers,
        robustness_hours,
        real,
        data_dir,
        speed,
        elapsed,
    )
    Path(path).write_text(md, encoding="utf-8")
    return {
        "main": _jsonable(main),
        "robustness": {
            k: _jsonable({d: r for d, r in v.items() if not r.get("refused")})
            for k, v in robust.items()
        },
        "speed": speed,
    }


def _jsonable(res: dict[str, Any]) -> dict[str, Any]:
    return {
        k: {
            "evaluation": v["evaluation"].to_dict() if v["evaluation"] is not None else None,
            "real": v["real"],
            "wall_s": v.get("wall_s", 0.0),
            "fa_causes": v.get("fa_causes", {}),
            "missed": v.get("missed", []),
        }
        for k, v in res.items()
    }


def _speed() -> dict[str, float]:
    """Offline detect speed on 10 min of Myo 8 ch 200 Hz + Polar H10 ACC 200 Hz."""
    import tempfile

    from spasmwatch.pipeline import detect_recording
    from spasmwatch.simulation import simulate_wearer
    from spasmwatch.store import write_recording

    r = simulate_wearer(600.0, 4242, ("myo", "polar-h10"))
    with tempfile.TemporaryDirectory() as d:
        from spasmwatch.pipeline import merge_blocks

        keys = [k for k in r.specs if k != "myo.acc"]
        write_recording(Path(d) / "rec", merge_blocks([r.to_blocks(k, 4096) for k in keys]))
        res = detect_recording(Path(d) / "rec", progress=False)
    return {
        "signal_s": res.stats["signal_s"],
        "wall_s": res.stats["wall_s"],
        "x_real_time": res.stats["x_real_time"],
    }


def _diagnosis(res: dict[str, Any]) -> list[str]:
    """What the model missed and what its false alarms overlapped (simulator labels)."""
    L = ["### What the EMG+ACC model misses, and what its false alarms are", ""]
    causes = res.get("fa_causes", {})
    if causes:
        L += ["| false alarms overlapping (simulator confounder labels) | n |", "|---|---|"]
        L += [f"| {k} | {n} |" for k, n in causes.items()]
    else:
        L.append("No false alarm on the simulated test wearers.")
    L.append("")
    miss = res.get("missed", [])
    if miss:
        L += [
            "| missed event: wearer | type | onset (s) | duration (s) | intensity (x MVC) |",
            "|---|---|---|---|---|",
        ]
        L += [
            f"| {m['wearer']} | {m['type']} | {m['start_s']:.1f} | {m['duration_s']:.2f} "
            f"| {m['intensity']:.2f} |"
            for m in miss
        ]
    else:
        L.append("No simulated spasm was missed.")
    L.append("")
    return L


def _render(main, robust_ref, robust, n_w, hours, rn, rh, real, data_dir, speed, elapsed) -> str:  # noqa: ANN001
    L: list[str] = []
    a = L.append
    a("# Evaluation of the spasm detectors")
    a("")
    a(
        "Generated by `spasmwatch evaluate --report docs/evaluation.md` "
        f"(`--test-wearers {n_w} --hours {hours:g}`); every figure below is measured, met or not. "
        f"Run time {elapsed / 60:.1f} min."
    )
    a("")
    a(
        "**Read this first.** No public recording of a real MS or SCI spasm was available. The "
        "sensitivity and latency figures are measured on *simulated* spasms "
        "(`spasmwatch.simulation`) of held-out simulated wearers; the models were trained on "
        "the same simulator, so these figures are optimistic about real spasms. The false-alarm "
        "rates on the real Myo and Daphnet recordings are the figures closest to real life, and "
        "they come from participants and runs never used in training or threshold choice."
    )
    a("")
    a("## Method")
    a("")
    a(
        f"- Simulated test wearers: {n_w} wearers x {hours:g} h (simulator seeds "
        f"{TEST_SEED_BASE}..{TEST_SEED_BASE + n_w - 1}; training and validation seeds are "
        f"disjoint), Myo EMG 8 ch 200 Hz + Myo ACC 50 Hz (the ACC on the EMG's device is "
        f"preferred), daily-living confounders and BLE losses as drawn per wearer, spasm rate "
        f"raised to {TEST_SPASMS_PER_DAY:g}/day so that each hour holds events."
    )
    a(
        "- Scoring (`spasmwatch.episodes.evaluate`): any-overlap with 2 s tolerance before and "
        "after each true event; a detection overlapping no (extended) event is a false alarm; "
        "FA/24 h over usable (non-gap) signal, **counting retracted onsets as false alarms** "
        "(an onset alarm is shown - monitor, coach prompt, live page - before the detector "
        "knows the episode stays shorter than its minimum duration; the split is given); "
        "on the real data every retracted onset counts as a false alarm too; onset "
        "latency = alarm time (the window end that "
        "confirmed the onset, plus the resampling delay of the pipeline) minus simulated onset; "
        "pooled over wearers (per-wearer rows below)."
    )
    a(
        "- Real data (held-out test split): Myo participants every third sorted folder "
        "(rest file then gesture files), Daphnet runs S02R01, S02R02, S07R02 (ankle and thigh "
        "sensors). A detection is charged to the annotated span that holds its alarm. Pairing "
        "for the EMG+ACC model: Myo EMG with a simulated quiet accelerometer, Daphnet ACC with "
        "simulated rest EMG. Daphnet: Bächlin et al., IEEE TITB 14(2):436-446, 2010 (CC BY 4.0); "
        "Myo: aljazfrancic/myo-readings-dataset (MIT)."
    )
    if not real:
        a(
            f"- **No real data was found** (data dir: {data_dir}); real false-alarm rates are "
            "missing from this run."
        )
    a(
        "- Baselines run on the raw stream they need (EMG at its own rate; ACC at its own rate) "
        "with their default settings, calibrated on the first 30 s of each recording."
    )
    a("")
    a("## Targets (EMG+ACC model)")
    a("")
    L.extend(_targets_table(main["EMG+ACC model"]))
    a("")
    e = main["EMG+ACC model"]["evaluation"]
    better = []
    for bname in ("EMG double threshold (baseline)", "ACC 3-8 Hz band ratio (baseline)"):
        be = main[bname]["evaluation"]
        if e is not None and be is not None:
            f1_ok = e.pooled.f1 > be.pooled.f1
            fa_ok = _fa_seen(e.pooled) < _fa_seen(be.pooled)
            better.append(
                f"- vs {bname}: F1 {_f(e.pooled.f1)} vs {_f(be.pooled.f1)} "
                f"({'better' if f1_ok else '**not better**'}); FA/24 h incl. retracted onsets "
                f"{_f(_fa_seen(e.pooled))} vs "
                f"{_f(_fa_seen(be.pooled))} "
                f"({'better' if fa_ok else '**not better**'})"
            )
    L.extend(better)
    a("")
    L.extend(_diagnosis(main["EMG+ACC model"]))
    a("## Overall, all detectors")
    a("")
    a(_HEADER)
    for name, res in main.items():
        a(_row(name, res))
    a("")
    a(
        "FA/h cells give the rate and, in brackets, the count. '-' = the detector cannot run on "
        "that data (missing stream). Daphnet freezing of gait is a real 3-8 Hz confounder, not a "
        "spasm, and has no target; it is reported separately."
    )
    a("")
    for name, res in main.items():
        ev = res["evaluation"]
        if ev is None:
            continue
        a(f"## {name}: per type and per wearer")
        a("")
        a(ev.to_markdown())
    a("## Robustness: the same kind of test wearers with changed scales and rates")
    a("")
    a(
        f"{rn} held-out wearers x {rh:g} h per row (seeds {TEST_SEED_BASE}..), otherwise as "
        "above. The models never saw these transformations as such; per-wearer normalisation "
        "and resampling to the model's rates are what should make them irrelevant."
    )
    a("")
    a(
        "| condition | detector | events | sensitivity | precision "
        "| FA/24 h incl. retracted (false + retracted) | latency median (s) |"
    )
    a("|---|---|---|---|---|---|---|")
    for vname, res in [("reference (as recorded)", robust_ref), *robust.items()]:
        for det, r in res.items():
            ev = r["evaluation"]
            if r.get("refused"):
                a(f"| {vname} | {det} | - | refused: {r['refused']} | | | |")
                continue
            if ev is None:
                continue
            p = ev.pooled
            a(
                f"| {vname} | {det} | {p.n_truth} | {_f(p.sensitivity)} | {_f(p.precision)} "
                f"| {_f(_fa_seen(p))} ({_f(p.false_alarms_per_24h)} + "
                f"{_f(p.retracted_per_24h)}) | {_f(p.latency.median_s)} |"
            )
    a("")
    a("## Speed")
    a("")
    a(
        f"`detect_recording` over {speed['signal_s'] / 60:.0f} min of Myo EMG 8 ch 200 Hz + "
        f"Polar H10 ACC 200 Hz: {speed['wall_s']:.2f} s wall, **{speed['x_real_time']:.0f}x "
        "real time** (one core, shared machine). `benchmarks/bench_detect.py` measures 1 h."
    )
    a("")
    return "\n".join(L) + "\n"


# ----------------------------------------------------------------------------- quick


def quick_evaluation(
    seed: int = 0,
    *,
    n_wearers: int = 2,
    hours: float = 0.2,
    data_dir: str | Path | None = None,
    model: str = "emg_acc.onnx",
) -> dict[str, Any]:
    """A fast (< 60 s) evaluation for the regression gate.

    Scores ``model`` on ``n_wearers`` held-out simulated wearers (seeds
    ``TEST_SEED_BASE + 1000*seed + i``) and counts its false alarms on the committed real
    excerpts (``tests/data/real-excerpts``, or ``data_dir`` laid out the same way).

    Returns
    -------
    dict
        ``sensitivity``, ``precision``, ``f1``, ``fa_per_24h`` (false episodes),
        ``retracted_per_24h``, ``fa_incl_retracted_per_24h`` (alarms seen), ``latency_median_s``,
        ``latency_p90_s``, ``n_truth``, ``real`` (label -> {n, hours, per_h}), ``wall_s``.
    """
    t0 = time.perf_counter()
    d = Path(data_dir) if data_dir is not None else EXCERPTS_DIR
    sim = test_sim_sources(n_wearers, hours, seed_base=TEST_SEED_BASE + 1000 * seed)
    real: list[Source] = []
    if (d / "myo-readings").is_dir():
        for hand in sorted((d / "myo-readings").glob("*_hand")):
            for p in sorted(hand.iterdir()):
                real.extend(myo_file_sources(d, f"{hand.name}/{p.name}", seed=seed))
    if (d / "daphnet-fog").is_dir():
        for f in sorted((d / "daphnet-fog").glob("*.txt")):
            real.append(daphnet_source(d, f.stem, "ankle", seed=seed))
    res = score_sources({"model": model}, sim, real)["model"]
    p = res["evaluation"].pooled
    return {
        "model": model,
        "n_truth": p.n_truth,
        "sensitivity": p.sensitivity,
        "precision": p.precision,
        "f1": p.f1,
        "fa_per_24h": p.false_alarms_per_24h,
        "retracted_per_24h": p.retracted_per_24h,
        "fa_incl_retracted_per_24h": _fa_seen(p),
        "latency_median_s": p.latency.median_s,
        "latency_p90_s": p.latency.p90_s,
        "real": res["real"],
        "wall_s": time.perf_counter() - t0,
    }


def evaluate_recordings(
    recordings: Sequence[str | Path],
    truth_csv: str | Path,
    *,
    model: str | Path | None = None,
) -> dict[str, Any]:
    """``spasmwatch evaluate --truth``: score the detector and both baselines on recordings.

    The truth CSV (``start_s,end_s,type``; seconds from each recording's start) applies to
    every recording given (normally one).
    """
    from spasmwatch.simulation import read_ground_truth_csv
    from spasmwatch.store import open_recording

    truth = [(e.start_s, e.end_s, e.type) for e in read_ground_truth_csv(truth_csv)]
    srcs = []
    for r in recordings:
        rec = open_recording(r)

        def blocks(rec=rec):  # noqa: ANN001
            from spasmwatch.pipeline import merge_blocks

            return merge_blocks([rec.iter_blocks(k, 4096) for k in rec.specs])

        srcs.append(
            Source(
                name=Path(r).name,
                specs=list(rec.specs.values()),
                blocks=blocks,
                start_ns=rec.start_ns,
                duration_s=rec.duration_s(),
                truth=list(truth),
                wearer=Path(r).name,
            )
        )
    kinds = {s.kind for src in srcs for s in src.specs}
    dets: dict[str, str] = {}
    if model is not None:
        dets["model"] = str(Path(model).resolve())
    else:
        from spasmwatch.models import choose_bundled_model

        dets["model"] = choose_bundled_model(kinds).name
    if "emg" in kinds:
        dets["baseline-emg-double-threshold"] = "baseline-emg"
    if "acc" in kinds:
        dets["baseline-acc-band-ratio"] = "baseline-acc"
    out: dict[str, Any] = {}
    for name, det in dets.items():
        recs = []
        for src in srcs:
            r = run_detector(det if not det.startswith("/") else SpasmModel(det), src)
            usable = r.usable_s if math.isfinite(r.usable_s) else src.duration_s
            recs.append(
                SubjectRecord(
                    src.wearer,
                    [TruthEvent(a, b, t) for a, b, t in src.truth],
                    r.detections,
                    usable,
                    n_retracted=r.n_retracted,
                )
            )
        out[name] = evaluate(recs)
    return out


def _np_float(v: Any) -> Any:
    return float(v) if isinstance(v, np.floating) else v
