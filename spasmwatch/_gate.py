"""The detection regression gate: CI fails when detection gets worse than committed limits.

The limits live in one file, ``detection-gate.toml`` at the repository root. Every commit
that changes that file must say why, in a line of its message that starts with
``Gate-Reason:``; :func:`check_history` enforces this over the whole history, so a limit
cannot be loosened quietly.

Run it as ``python -m spasmwatch._gate [detection-gate.toml]`` (``.ci/run`` does). It runs
:func:`spasmwatch._evaluation.quick_evaluation` (a short simulated set of held-out wearers
plus the real-data excerpts under ``tests/data/real-excerpts``) for each model named in
the file, compares every figure with its limit, prints a table and exits non-zero on any
breach.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spasmwatch.errors import ConfigError

__all__ = ["GATE_FILE", "Check", "check_history", "compare", "load_gate", "main", "run_gate"]

REPO = Path(__file__).resolve().parents[1]
GATE_FILE = REPO / "detection-gate.toml"
REASON_TAG = "Gate-Reason:"

#: limit key -> (figure key in the quick-evaluation result, "min" or "max")
LIMITS: dict[str, tuple[str, str]] = {
    "min_sensitivity": ("sensitivity", "min"),
    "min_precision": ("precision", "min"),
    # a retracted onset reached the wearer, so it counts as a false alarm here too
    "max_fa_per_24h": ("fa_incl_retracted_per_24h", "max"),
    "max_latency_median_s": ("latency_median_s", "max"),
    "max_latency_p90_s": ("latency_p90_s", "max"),
    "max_real_fa_per_h": ("real_fa_per_h_max", "max"),
}


@dataclass(frozen=True, slots=True)
class Check:
    """One figure of one model against its limit."""

    model: str
    figure: str
    value: float
    bound: str  # "min" or "max"
    limit: float

    @property
    def passed(self) -> bool:
        """NaN (figure not measurable, e.g. no truth events) never passes."""
        if math.isnan(self.value):
            return False
        return self.value >= self.limit if self.bound == "min" else self.value <= self.limit


def load_gate(path: str | Path = GATE_FILE) -> dict[str, Any]:
    """Read and validate the gate file.

    Raises
    ------
    ConfigError
        Unknown keys, a missing ``[run]`` table or a model without limits, naming the file
        and the key.
    """
    p = Path(path)
    try:
        cfg = tomllib.loads(p.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read the gate file: {exc}") from exc
    run = cfg.get("run")
    if not isinstance(run, dict):
        raise ConfigError(f"{p}: missing [run] table (seed, n_wearers, hours)")
    for key in run:
        if key not in {"seed", "n_wearers", "hours"}:
            raise ConfigError(f"{p}: run.{key}: unknown key (expected seed, n_wearers, hours)")
    models = cfg.get("model")
    if not isinstance(models, list) or not models:
        raise ConfigError(f"{p}: no [[model]] tables: name at least one model and its limits")
    for i, m in enumerate(models):
        if "name" not in m:
            raise ConfigError(f"{p}: model[{i}].name: missing")
        limits = [k for k in m if k != "name"]
        if not limits:
            raise ConfigError(f"{p}: model[{i}] ({m['name']}): no limits given")
        for k in limits:
            if k not in LIMITS:
                raise ConfigError(
                    f"{p}: model[{i}].{k}: unknown limit (expected one of {sorted(LIMITS)})"
                )
            if not isinstance(m[k], int | float) or isinstance(m[k], bool):
                raise ConfigError(f"{p}: model[{i}].{k}: expected a number, got {m[k]!r}")
    return cfg


def _figures(result: Mapping[str, Any]) -> dict[str, float]:
    out = {k: float("nan") if v is None else float(v) for k, v in result.items()
           if isinstance(v, int | float | type(None)) and not isinstance(v, bool)}  # fmt: skip
    real = result.get("real") or {}
    rates = [float(r["per_h"]) for r in real.values() if r.get("per_h") is not None]
    out["real_fa_per_h_max"] = max(rates) if rates else float("nan")
    return out


def compare(model: Mapping[str, Any], result: Mapping[str, Any]) -> list[Check]:
    """Compare one model's quick-evaluation ``result`` with its limits in ``model``."""
    figures = _figures(result)
    checks = []
    for key, limit in model.items():
        if key == "name":
            continue
        figure, bound = LIMITS[key]
        checks.append(
            Check(str(model["name"]), figure, figures.get(figure, float("nan")), bound, limit)
        )
    return checks


def run_gate(
    path: str | Path = GATE_FILE,
    *,
    evaluate: Callable[..., Mapping[str, Any]] | None = None,
) -> list[Check]:
    """Run the quick evaluation for every model in the gate file and compare."""
    cfg = load_gate(path)
    if evaluate is None:
        from spasmwatch._evaluation import quick_evaluation as evaluate
    run = cfg["run"]
    checks: list[Check] = []
    for m in cfg["model"]:
        result = evaluate(
            int(run.get("seed", 0)),
            n_wearers=int(run.get("n_wearers", 2)),
            hours=float(run.get("hours", 0.2)),
            model=str(m["name"]),
        )
        checks.extend(compare(m, result))
    return checks


def check_history(path: str | Path = GATE_FILE, repo: str | Path = REPO) -> list[str]:
    """Commits that changed the gate file without a ``Gate-Reason:`` line.

    Returns an empty list outside a git checkout (nothing to check).
    """
    rel = Path(path).resolve().relative_to(Path(repo).resolve())
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "log", "--format=%H%x00%B%x01", "--", str(rel)],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    bad = []
    for entry in out.split("\x01"):
        if not entry.strip():
            continue
        sha, _, body = entry.strip().partition("\x00")
        if not any(line.strip().startswith(REASON_TAG) for line in body.splitlines()):
            bad.append(sha[:12])
    return bad


def _render(checks: Sequence[Check]) -> str:
    lines = ["model | figure | value | limit | result", "---|---|---|---|---"]
    for c in checks:
        op = ">=" if c.bound == "min" else "<="
        lines.append(
            f"{c.model} | {c.figure} | {c.value:.3f} | {op} {c.limit:g} | "
            f"{'ok' if c.passed else 'FAILED'}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: exit 0 when every figure is within its limit."""
    ap = argparse.ArgumentParser(prog="python -m spasmwatch._gate", description=__doc__)
    ap.add_argument("gate", nargs="?", default=str(GATE_FILE), help="the gate file")
    args = ap.parse_args(argv)
    unexplained = check_history(args.gate)
    checks = run_gate(args.gate)
    print(_render(checks))
    failed = [c for c in checks if not c.passed]
    if unexplained:
        print(
            f"detection gate: commits {', '.join(unexplained)} changed {Path(args.gate).name} "
            f"without a '{REASON_TAG} …' line in their message; amend them with the reason."
        )
    if failed:
        print(
            f"detection gate: {len(failed)} figure(s) past their limit; detection got worse. "
            "Fix the change, or, if the new figures are right, change the limits with a "
            f"'{REASON_TAG} …' line in the commit message."
        )
    if not failed and not unexplained:
        print(f"detection gate: all {len(checks)} figures within their limits")
    return 1 if failed or unexplained else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
