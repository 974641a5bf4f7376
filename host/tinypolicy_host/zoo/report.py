"""The zoo results table (models/zoo/README.md) from the tasks' metadata.json files.

Goal met: the int8 policy's mean return on the device reaches the task's goal (≥, or the maximum). "int8 / Q15 ok":
the device's mean return is within 1 % of the float policy's, or within the float mean's standard error,
whichever is larger (issue 12's rule).
"""
import json
from pathlib import Path

from ..contract.blob import SCHEME_BLOB_NAMES


def within_float(res: dict, column: str) -> bool:
    f, q = res["float"], res[column]
    return abs(q["mean"] - f["mean"]) <= max(0.01 * abs(f["mean"]), f["stderr"])


def row(name: str, meta: dict) -> dict:
    """One table row (plain values) from a task's metadata."""
    res, figs, art = meta["returns"], meta.get("device_figures", {}), meta["artifacts"]
    err = meta["action_error"]["w8a16"]
    training = meta.get("provenance", {}).get("training", {})
    algo = meta["source"]["algo"]
    return {
        "task": name, "env": meta["env"], "algo": algo if " " in algo else algo.upper(),
        "net": "×".join(str(d) for d in meta["model"]["dims"]),
        "goal": meta["goal"],
        "float": res["float"], "int8": res["int8"], "q15": res["q15"],
        "goal_met": res["int8"]["mean"] >= meta["goal"] - 1e-9,
        "int8_ok": within_float(res, "int8"), "q15_ok": within_float(res, "q15"),
        "mismatches": sum(res[c]["device"]["mismatches"] for c in ("int8", "q15")),
        "bytes": {k: art[SCHEME_BLOB_NAMES[k]]["bytes"] for k in ("w8a16", "q15", "f32")},
        "ram": {k: figs.get(SCHEME_BLOB_NAMES[k], {}).get("policy_bytes") for k in ("w8a16", "q15", "f32")},
        "us": {k: figs.get(SCHEME_BLOB_NAMES[k], {}).get("infer_q_ns") for k in ("w8a16", "q15", "f32")},
        "action_error": err,
        "train_steps": training.get("timesteps"), "train_seconds": training.get("train_seconds"),
    }


def _ret(r: dict) -> str:
    return f"{r['mean']:.1f} ± {r['std']:.1f}"


def _us(ns) -> str:
    return "–" if ns is None else f"{ns / 1000:.1f}"


def _err(e: dict) -> str:
    if "class_mismatch" in e:
        return f"{100 * e['class_mismatch']:.2f} % other action"
    return "/".join(f"{v:.4f}" for v in e["mean_abs"]) + " mean |Δ|"


def markdown(rows: list[dict], header: str) -> str:
    lines = [header, "",
             ("| task | algo | net | goal | float | int8 (device) | Q15 (device) | goal met | int8 / Q15 within "
             "1 % or SE | blob bytes int8 / Q15 / f32 | RAM int8 / Q15 / f32 (B) | µs int8 / Q15 / f32 | "
             "float-vs-int8 action error | training |"),
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        b, ram, us = r["bytes"], r["ram"], r["us"]
        train = ("shipped" if r["train_steps"] is None
                 else f"{r['train_steps']:,} steps, {r['train_seconds'] / 60:.1f} min")
        lines.append(
            f"| {r['env']} | {r['algo']} | {r['net']} | {r['goal']:g} | {_ret(r['float'])} | {_ret(r['int8'])} | "
            f"{_ret(r['q15'])} | {'yes' if r['goal_met'] else '**no**'} | "
            f"{'yes' if r['int8_ok'] else 'no'} / {'yes' if r['q15_ok'] else 'no'} | "
            f"{b['w8a16']} / {b['q15']} / {b['f32']} | {ram['w8a16']} / {ram['q15']} / {ram['f32']} | "
            f"{_us(us['w8a16'])} / {_us(us['q15'])} / {_us(us['f32'])} | {_err(r['action_error'])} | {train} |")
    return "\n".join(lines) + "\n"


def load_rows(models_dir: Path, names: list[str]) -> list[dict]:
    return [row(n, json.loads((models_dir / n / "metadata.json").read_text())) for n in names
            if (models_dir / n / "metadata.json").is_file()]
