"""Run the whole benchmark suite and write a JSON result plus a Markdown summary.

Each ``benchmarks/bench_*.py`` exposes ``run() -> dict`` (nested dicts of numbers and
strings). Results are flattened to dotted keys (``bench_signal.streaming.x_realtime``);
``benchmarks/budgets.toml`` names the budgets as dotted keys with a comparison and a
target. The summary lists every budget with its figure and met / missed, and is copied
into ``docs/performance.md`` between the markers there.

Usage: ``python -m benchmarks.run [--only NAME ...] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import platform
import sys
import time
import tomllib
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BEGIN = "<!-- benchmark-summary:begin -->"
END = "<!-- benchmark-summary:end -->"


def flatten(d: dict, prefix: str = "") -> dict[str, object]:
    """Flatten nested dicts to dotted keys; keep numbers, strings and bools."""
    out: dict[str, object] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            out.update(flatten(v, key))
        elif isinstance(v, bool | int | float | str) or v is None:
            out[key] = v
    return out


def discover(only: list[str] | None) -> list[str]:
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if only:
        names = [n for n in names if any(o in n for o in only)]
    return names


def check_budgets(flat: dict[str, object], budgets: list[dict]) -> list[dict]:
    rows = []
    for b in budgets:
        value = flat.get(b["key"])
        target = float(b["target"])
        if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value):
            status = "not measured"
        elif b["op"] == "<=":
            status = "met" if value <= target else "missed"
        else:
            status = "met" if value >= target else "missed"
        rows.append({**b, "value": value, "status": status})
    return rows


def _fmt(v: object) -> str:
    if isinstance(v, float):
        if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-2):
            return f"{v:.3g}"
        return f"{v:.2f}"
    return str(v)


def render_markdown(results: dict, rows: list[dict], meta: dict) -> str:
    lines = [
        f"Run {meta['when']} on {meta['machine']} (Python {meta['python']}, "
        f"{meta['cpus']} CPUs); {meta['seconds']:.0f} s in all.",
        "",
        "| budget | figure | target | status |",
        "|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {_fmt(r['value'])} {r.get('unit', '')} | {r['op']} "
            f"{_fmt(float(r['target']))} {r.get('unit', '')} | {r['status']} |"
        )
    lines += ["", "<details><summary>All figures</summary>", "", "| key | value |", "|---|---|"]
    for name, res in results.items():
        for k, v in flatten(res).items():
            lines.append(f"| {name}.{k} | {_fmt(v)} |")
    lines += ["", "</details>", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", nargs="*", help="run only benchmarks whose name contains these")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--no-docs", action="store_true", help="do not update docs/performance.md")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO))
    t0 = time.perf_counter()
    results: dict[str, dict] = {}
    failed = []
    for name in discover(args.only):
        print(f"== {name}", flush=True)
        try:
            mod = importlib.import_module(f"benchmarks.{name}")
            results[name] = mod.run()
        except Exception:  # a broken benchmark is reported, the others still run
            traceback.print_exc()
            failed.append(name)
            results[name] = {"error": traceback.format_exc(limit=3)}
    budgets = tomllib.loads((HERE / "budgets.toml").read_text())["budget"]
    flat = {f"{n}.{k}": v for n, r in results.items() for k, v in flatten(r).items()}
    rows = check_budgets(flat, budgets)
    meta = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "seconds": time.perf_counter() - t0,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(
        json.dumps({"meta": meta, "results": results, "budgets": rows}, indent=2, default=str)
    )
    md = render_markdown(results, rows, meta)
    (args.out / "latest.md").write_text(md)
    print(md)
    if not args.no_docs and not args.only:
        perf = REPO / "docs" / "performance.md"
        text = perf.read_text() if perf.exists() else f"# Performance\n\n{BEGIN}\n{END}\n"
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            perf.write_text(f"{head}{BEGIN}\n{md}\n{END}{tail}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
