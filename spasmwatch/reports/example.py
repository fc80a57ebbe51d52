"""The example report: a simulated 30-day wearer, reproducible from a seed.

``python -m spasmwatch.reports.example --out docs/example-report.pdf`` builds a throwaway
event store from the simulator's spasm timeline (no raw signal is rendered: the timeline's
ground truth is turned into what the monitor would have logged), then renders the report.

What the fake monitor logs, from the simulator's ground-truth spasms:

* detected episodes: 90 % of the true spasms while the sensors are worn, onset 2 s late,
  peak ×baseline and severity from the simulated intensity; 0.4 false alarms per day, a
  third of which the wearer marks as false alarms;
* self-reports: about 15 % of the daytime spasms (then they overlap a detection) and a few
  spasms while the sensors were off;
* wear time: about 22 h a day on most days, three days with the sensors off from 10:00;
* a diary: medication twice a day as the wearer writes it, stretching, heat, fluids, cold,
  notes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["EXAMPLE_WEARER", "build_example_store", "main"]

EXAMPLE_WEARER = "example"
_TZ = "Europe/Berlin"
_START = dt.date(2025, 2, 3)  # 30 days to 2025-03-04: no DST change inside


def _ns(day: dt.date, hour: float, zone: dt.tzinfo) -> int:
    """UTC ns of ``hour`` (fractional, may exceed 24 or be negative) on local ``day``."""
    minutes = round(hour * 60)
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    local = (midnight + dt.timedelta(minutes=minutes)).replace(tzinfo=zone)
    return int(local.timestamp()) * 10**9


def build_example_store(
    db_path: str | Path, *, seed: int = 7, days: int = 30, start: dt.date = _START
) -> tuple[str, dt.date, dt.date, str]:
    """Fill a new event store at ``db_path`` with a simulated wearer's ``days`` days.

    Returns
    -------
    (wearer_id, first_day, last_day, tz)
    """
    from zoneinfo import ZoneInfo

    from spasmwatch.episodes import Episode, Label
    from spasmwatch.simulation import Simulator, WearerProfile
    from spasmwatch.store import DiaryEntry, EventStore, Wearer

    zone = ZoneInfo(_TZ)
    rng = np.random.default_rng(seed)
    t0 = _ns(start, 0, zone)
    profile = WearerProfile(
        spasms_per_day=22.0,
        type_mix=(0.45, 0.25, 0.15, 0.15),
        spasm_intensity=0.45,
        night_factor=1.8,
        morning_factor=2.2,
        sleep_start_h=23.0,
        sleep_end_h=6.75,
        utc_offset_h=1.0,
    )
    sim = Simulator(
        days * 86400,
        seed,
        ("myo",),
        wearer=profile,
        start_ns=t0,
        confounders=False,
        packet_loss=False,
    )
    truth = sim.timeline.truth
    off_days = set(rng.choice(np.arange(2, days - 1), size=min(3, max(days - 3, 0)), replace=False))
    off = [
        (
            _ns(start + dt.timedelta(days=int(d)), 10, zone),
            _ns(start + dt.timedelta(days=int(d) + 1), 0, zone),
        )
        for d in sorted(off_days)
    ]

    def worn_at(t: int) -> bool:
        return not any(a <= t < b for a, b in off)

    eps: list[Episode] = []
    labels: list[Label] = []
    for i, ev in enumerate(truth):
        s = t0 + int(ev.start_s * 1e9)
        e = t0 + int(ev.end_s * 1e9)
        local_h = dt.datetime.fromtimestamp(s / 1e9, zone).hour
        detected = worn_at(s) and rng.random() < 0.9
        sev = 1 if ev.intensity < 0.4 else (2 if ev.intensity < 0.6 else 3)
        if detected:
            ep = Episode(
                id=f"ex-{i:05d}",
                start_ns=s + 2 * 10**9,
                end_ns=max(e, s + 3 * 10**9),
                type=ev.type,
                peak_intensity=round(2.0 + 16.0 * ev.intensity, 2),
                severity=sev,
                confidence=round(float(rng.uniform(0.6, 0.99)), 2),
                source="auto",
                wearer_id=EXAMPLE_WEARER,
                model_id="emg-acc-example",
                device="myo",
                placement="gastrocnemius-left",
            )
            eps.append(ep)
        daytime = 8 <= local_h < 22
        if daytime and (rng.random() < 0.15 or (not worn_at(s) and rng.random() < 0.5)):
            labels.append(
                Label(
                    id=f"sr-{i:05d}",
                    start_ns=s,
                    end_ns=s + 10 * 10**9,
                    type="unknown",
                    labeler="wearer",
                    origin="self-report",
                    wearer_id=EXAMPLE_WEARER,
                    note="felt a spasm",
                )
            )
    fa_labels: list[Label] = []
    for k in range(int(rng.poisson(0.4 * days))):
        s = t0 + int(rng.uniform(0, days * 86400) * 1e9)
        if not worn_at(s):
            continue
        ep = Episode(
            f"fa-{k:04d}",
            s,
            s + 4 * 10**9,
            "myoclonic",
            2.5,
            1,
            0.55,
            "auto",
            wearer_id=EXAMPLE_WEARER,
            model_id="emg-acc-example",
            device="myo",
        )
        eps.append(ep)
        if k % 3 == 0:
            fa_labels.append(
                Label(
                    f"fal-{k:04d}",
                    s,
                    s + 4 * 10**9,
                    labeler="wearer",
                    origin="self-report",
                    wearer_id=EXAMPLE_WEARER,
                    episode_id=ep.id,
                    is_false_alarm=True,
                    note="stood up",
                )
            )

    diary: list[DiaryEntry] = []
    for d in range(days):
        day = start + dt.timedelta(days=d)

        def add(
            kind: str, hour: float, text: str, dose: str | None = None, _day: dt.date = day
        ) -> None:
            jitter = float(rng.normal(0, 0.2))
            diary.append(
                DiaryEntry(
                    f"dy-{len(diary):05d}",
                    _ns(_day, hour + jitter, zone),
                    kind,
                    text,
                    dose,
                    EXAMPLE_WEARER,
                )
            )

        add("medication", 8.0, "baclofen", "10 mg")
        add("medication", 20.0, "baclofen", "10 mg")
        if rng.random() < 0.7:
            add("stretching", 9.0, "calf and hamstring stretches", "15 min")
        if rng.random() < 0.25:
            add("heat", 19.0, "warm bath", "20 min")
        if rng.random() < 0.5:
            add("fluids", 13.0, "water", "500 ml")
        if rng.random() < 0.1:
            add("cold", 16.0, "cool pack on calf", "10 min")
        if rng.random() < 0.08:
            add("note", 21.0, "long day, legs tight in the evening")
    with EventStore(db_path) as store:
        store.upsert_wearer(Wearer(EXAMPLE_WEARER, "P-EX01", None, t0))
        store.add_episodes(eps)
        for lb in labels + fa_labels:
            store.add_label(lb)
        for entry in diary:
            store.add_diary(entry)
        for d in range(days):
            day = start + dt.timedelta(days=d)
            if d in off_days:
                worn = 10 * 3600.0
            else:
                worn = float(np.clip(rng.normal(22.0, 0.8), 19.0, 23.8)) * 3600
            usable = worn * float(rng.uniform(0.93, 0.99))
            store.add_wear_time(EXAMPLE_WEARER, day, "myo", worn, usable)
    return EXAMPLE_WEARER, start, start + dt.timedelta(days=days - 1), _TZ


def main(argv: Sequence[str] | None = None) -> int:
    """Write the example report. Returns the exit code."""
    ap = argparse.ArgumentParser(
        prog="python -m spasmwatch.reports.example",
        description="the clinical report of a simulated 30-day wearer (reproducible)",
    )
    ap.add_argument("--out", required=True, help="PDF file to write")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--days", type=int, default=30)
    args = ap.parse_args(argv)
    from spasmwatch.reports import clinical_summary, render_pdf
    from spasmwatch.store import EventStore

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "example.db"
        wearer, d0, d1, tz = build_example_store(db, seed=args.seed, days=args.days)
        with EventStore(db) as store:
            end_ns = _ns(d1 + dt.timedelta(days=1), 9, __import__("zoneinfo").ZoneInfo(tz))
            summary = clinical_summary(store, wearer, d0, d1, tz, now_ns=end_ns)
        render_pdf(summary, args.out)
    print(
        f"wrote {args.out}: {summary.n_total} spasms, {summary.per_worn_day:.1f} per worn day, "
        f"PSFS-style frequency grade {summary.psfs.frequency}"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
