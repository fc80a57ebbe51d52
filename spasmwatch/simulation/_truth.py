"""Ground truth of a simulation: :class:`GroundTruthEvent` and its CSV file."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from spasmwatch.errors import ConfigError, ImportFormatError
from spasmwatch.simulation._wearer import SPASM_TYPES

__all__ = ["GroundTruthEvent", "read_ground_truth_csv", "write_ground_truth_csv"]

_COLUMNS = ("start_s", "end_s", "type", "intensity", "clonus_hz", "n_jerks")


@dataclass(frozen=True, slots=True)
class GroundTruthEvent:
    """One simulated spasm.

    Parameters
    ----------
    start_s, end_s : float
        Onset and end, seconds from the recording start (``end_s > start_s``).
    type : str
        One of :data:`SPASM_TYPES`: ``tonic``, ``clonic``, ``mixed``, ``myoclonic``.
    intensity : float
        Peak muscle activation as a fraction of a maximal contraction (0–1).
    clonus_hz : float or None
        Mean burst frequency of the clonic part (Hz); ``None`` without a clonic part.
    n_jerks : int or None
        Number of jerks of a myoclonic event; ``None`` for other types.
    """

    start_s: float
    end_s: float
    type: str
    intensity: float = float("nan")
    clonus_hz: float | None = None
    n_jerks: int | None = None

    def __post_init__(self) -> None:
        for name in ("start_s", "end_s"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ConfigError(f"GroundTruthEvent.{name} must be a finite number ({v!r})")
            object.__setattr__(self, name, float(v))
        if not self.end_s > self.start_s:
            raise ConfigError(
                f"GroundTruthEvent end_s ({self.end_s}) must be after start_s ({self.start_s})"
            )
        if self.type not in SPASM_TYPES:
            raise ConfigError(
                f"GroundTruthEvent.type must be one of {SPASM_TYPES} (got {self.type!r})"
            )

    @property
    def duration_s(self) -> float:
        """``end_s - start_s``."""
        return self.end_s - self.start_s


def _fmt(v: float | int | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, int):
        return str(v)
    return repr(float(v))


def write_ground_truth_csv(path: str | Path, truth: Iterable[GroundTruthEvent]) -> None:
    """Write ``truth`` as CSV: ``start_s,end_s,type`` then ``intensity,clonus_hz,n_jerks``.

    Times are seconds from the recording start, written with full float precision so a
    round trip is exact. Empty cells stand for "not applicable".
    """
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(_COLUMNS)
        for e in truth:
            w.writerow(
                [_fmt(e.start_s), _fmt(e.end_s), e.type, _fmt(e.intensity),
                 _fmt(e.clonus_hz), _fmt(e.n_jerks)]
            )  # fmt: skip


def read_ground_truth_csv(path: str | Path) -> list[GroundTruthEvent]:
    """Read a ground-truth CSV (needs ``start_s,end_s,type``; other columns optional).

    Raises
    ------
    ImportFormatError
        If a column is missing or a row does not parse; the message names the row.
    """
    out: list[GroundTruthEvent] = []
    with open(path, newline="", encoding="utf-8") as f:
        r = csv.DictReader(f)
        missing = {"start_s", "end_s", "type"} - set(r.fieldnames or ())
        if missing:
            raise ImportFormatError(
                f"{path}: ground-truth CSV lacks column(s) {sorted(missing)}; "
                f"expected a header like {','.join(_COLUMNS)}"
            )
        for row_no, row in enumerate(r, start=2):
            try:
                intensity = row.get("intensity") or ""
                clonus = row.get("clonus_hz") or ""
                jerks = row.get("n_jerks") or ""
                out.append(
                    GroundTruthEvent(
                        float(row["start_s"]),
                        float(row["end_s"]),
                        row["type"].strip(),
                        float(intensity) if intensity else float("nan"),
                        float(clonus) if clonus else None,
                        int(jerks) if jerks else None,
                    )
                )
            except (ValueError, TypeError, ConfigError) as exc:
                raise ImportFormatError(f"{path}: row {row_no}: {exc}") from exc
    return out
