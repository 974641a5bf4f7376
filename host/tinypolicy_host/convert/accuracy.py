"""Error of a converted blob against onnxruntime: max / mean / p99 absolute error per output, and the goals.

Goals (issue 14) for a well-conditioned net, relative to each output's calibrated range (max − min of the
onnxruntime outputs on the calibration rows): int8 p99 ≤ 1 %, Q15 p99 ≤ 0.05 %. An argmax head is scored by the
share of rows whose class index differs from onnxruntime's.
"""
from __future__ import annotations

import numpy as np

GOAL = {"int8": 0.01, "w8a8": 0.01, "w8a16": 0.01, "q15": 0.0005}


def error_stats(got: np.ndarray, ref: np.ndarray) -> list[dict]:
    """Per output column: {'max', 'mean', 'p99'} of |got − ref|."""
    err = np.abs(np.asarray(got, np.float64) - np.asarray(ref, np.float64))
    return [{"max": float(e.max()), "mean": float(e.mean()), "p99": float(np.percentile(e, 99))} for e in err.T]


def class_mismatch(got: np.ndarray, ref: np.ndarray) -> dict:
    bad = np.asarray(got).reshape(-1) != np.asarray(ref).reshape(-1)
    return {"rows": int(bad.size), "mismatches": int(bad.sum()), "rate": float(bad.mean())}


def output_ranges(ref_calib: np.ndarray) -> list[float]:
    """Each output's calibrated range (max − min on the calibration rows; 1.0 where it is 0)."""
    span = ref_calib.max(axis=0) - ref_calib.min(axis=0)
    return [float(s) if s > 0 else 1.0 for s in span]


def goal_misses(kind: str, stats: list[dict], ranges: list[float]) -> list[str]:
    """Outputs whose p99 error exceeds the goal of `kind` (none for kinds without a goal)."""
    goal = GOAL.get(kind)
    if goal is None:
        return []
    return [f"output {j}: p99 {s['p99']:.3g} > {goal * 100:g} % of range {r:.3g}"
            for j, (s, r) in enumerate(zip(stats, ranges, strict=True)) if s["p99"] > goal * r]


def format_table(rows: list[dict], names: list[str]) -> str:
    """rows: {'blob', 'split', 'stats' | 'classes'} → aligned text table."""
    lines = [f"{'blob':<8} {'rows':<9} {'output':<16} {'max':>10} {'mean':>10} {'p99':>10}  {'p99 % range':>11}"]
    for r in rows:
        if "classes" in r:
            c = r["classes"]
            lines.append(f"{r['blob']:<8} {r['split']:<9} {'class index':<16} {c['mismatches']:>6} of {c['rows']:<6}"
                         f" rows differ ({c['rate'] * 100:.2f} %)")
            continue
        for j, s in enumerate(r["stats"]):
            pct = 100 * s["p99"] / r["ranges"][j]
            lines.append(f"{r['blob']:<8} {r['split']:<9} {names[j][:16]:<16} {s['max']:>10.3g} {s['mean']:>10.3g} "
                         f"{s['p99']:>10.3g}  {pct:>10.3f}%")
    return "\n".join(lines)
