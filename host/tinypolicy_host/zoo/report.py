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
        "train_budget": training.get("budget"), "stopped": training.get("stopped"),
    }


def _ret(r: dict) -> str:
    return f"{r['mean']:.1f} ± {r['std']:.1f}"


def _us(ns) -> str:
    return "–" if ns is None else f"{ns / 1000:.1f}"


def _err(e: dict) -> str:
    if "class_mismatch" in e:
        return f"{100 * e['class_mismatch']:.2f} % other action"
    return "/".join(f"{v:.4f}" for v in e["mean_abs"]) + " mean |Δ|"


PREAMBLE = """Every policy below takes the task's observation vector exactly as the task returns it and gives the
action exactly as `env.step` takes it (Box: the floats, already rescaled / clipped to the action space; Discrete:
`[index]`); its `metadata.json` names the task under `env`. Returns: mean ± std over the same held-out seeds for
all three versions (100000…; training used 0… and 1000…, calibration 10000… and 20000…). float = the f32 blob on
the host (equal to SB3's `predict(deterministic=True)` within 1e-5); int8 (the w8a16 blob) and Q15 = answered by
the unix MicroPython port (`tinypolicy eval --env … --device`), every answer identical to the host integer
reference. RAM = heap held by the loaded `Policy` (gc.mem_alloc() delta), µs = median `infer_q` time on the unix
port (x64 viper; not a board figure), both from device/bench/device_bench.py. Action error: float vs int8 on
held-out rollout observations (Box: mean |Δ| per action; Discrete: share of other actions). Training times are
wall-clock on a 2-core machine shared with other jobs, niced."""


def notes(rows: list[dict]) -> list[str]:
    """One line per task that missed its goal or its quantization rule, with what the records say."""
    out = []
    for r in rows:
        why = []
        if not r["goal_met"]:
            why.append(f"int8 mean {r['int8']['mean']:.1f} below the goal {r['goal']:g} (float "
                       f"{r['float']['mean']:.1f})")
        for col, ok in (("int8", r["int8_ok"]), ("q15", r["q15_ok"])):
            if not ok:
                why.append(f"{col} differs from float by more than 1 % and the standard error")
        if why and r["stopped"]:
            why.append(f"training stopped at {r['train_steps']:,} of {r['train_budget']:,} steps ({r['stopped']})")
        elif why and r["train_steps"] is not None:
            why.append(f"training ran {r['train_steps']:,} of {r['train_budget']:,} budgeted steps")
        if why:
            out.append(f"- {r['env']}: " + "; ".join(why) + ".")
    return out


def markdown(rows: list[dict], header: str) -> str:
    lines = [header, "", PREAMBLE, "",
             ("| task | algo | net | goal | float | int8 (device) | Q15 (device) | goal met | int8 / Q15 within "
             "1 % or SE | blob bytes int8 / Q15 / f32 | RAM int8 / Q15 / f32 (B) | µs int8 / Q15 / f32 | "
             "float-vs-int8 action error | training |"),
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        b, ram, us = r["bytes"], r["ram"], r["us"]
        train = ("shipped" if r["train_steps"] is None
                 else f"{r['train_steps']:,} steps{' (stopped)' if r['stopped'] else ''}, "
                      f"{r['train_seconds'] / 60:.1f} min")
        lines.append(
            f"| {r['env']} | {r['algo']} | {r['net']} | {r['goal']:g} | {_ret(r['float'])} | {_ret(r['int8'])} | "
            f"{_ret(r['q15'])} | {'yes' if r['goal_met'] else '**no**'} | "
            f"{'yes' if r['int8_ok'] else 'no'} / {'yes' if r['q15_ok'] else 'no'} | "
            f"{b['w8a16']} / {b['q15']} / {b['f32']} | {ram['w8a16']} / {ram['q15']} / {ram['f32']} | "
            f"{_us(us['w8a16'])} / {_us(us['q15'])} / {_us(us['f32'])} | {_err(r['action_error'])} | {train} |")
    missed = notes(rows)
    lines += ["", "Goals missed:" if missed else "Every task met its goal and its quantization rule.", *missed]
    return "\n".join(lines) + "\n"


def load_rows(models_dir: Path, names: list[str]) -> list[dict]:
    return [row(n, json.loads((models_dir / n / "metadata.json").read_text())) for n in names
            if (models_dir / n / "metadata.json").is_file()]
