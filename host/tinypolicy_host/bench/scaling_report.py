"""The scaling section of RESULTS.md, from the dict of bench.scaling.measure() (+ "v1" of bench.baseline)."""
from __future__ import annotations

from .markdown import table

#: the v1 goal: "no slower"; a time ratio up to this counts as within the shared machine's noise
NOISE = 1.05


def _num(v) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _fmt(v, digits=3) -> str:
    x = _num(v)
    if x is None:
        return "–"
    return f"{x:.{digits}f}" if abs(x) < 10 else (f"{x:.1f}" if abs(x) < 1000 else f"{x:.0f}")


def _ratio(a, b) -> str:
    x, y = _num(a), _num(b)
    return f"{x / y:.2f}×" if x is not None and y else "–"


def c_row(rows: list[dict], r: dict) -> dict | None:
    """The C loop's row of the same net and dtype (TFLM: the int8 w8a8 C loop)."""
    return next((c for c in rows if c["net"] == r["net"] and c["dtype"] == r["dtype"]
                 and c["engine"].startswith("c ")), None)


def find(rows, net, dtype, engine) -> dict | None:
    return next((r for r in rows if (r["net"], r["dtype"], r["engine"]) == (net, dtype, engine)), None)


def goals(sc: dict) -> list[list[str]]:
    """[goal, measured, met] rows."""
    out = []
    v1 = sc.get("v1")
    if v1:
        t = v1["v2_ns"] / v1["v1_ns"] if v1["v1_ns"] else float("nan")
        ins = (v1["v2_instructions"] / v1["v1_instructions"]) if v1.get("v1_instructions") else None
        met = "by time: " + ("yes" if t <= 1.0 else ("yes, within noise" if t <= NOISE else "NO"))
        if ins is not None:
            met += "; by instructions: " + ("yes" if ins <= 1.0 else f"NO ({ins:.2f}×)")
        text = (f"v2 {v1['v2_ns'] / 1000:.3f} µs vs v1 {v1['v1_ns'] / 1000:.3f} µs per infer_q = {t:.2f}× "
                f"(median of {v1['rounds']} interleaved rounds, both from source)")
        if ins is not None:
            text += (f"; instructions per infer_q {v1['v2_instructions']} vs {v1['v1_instructions']} = {ins:.2f}×"
                     + (f" (v2 w8a8, v1's arithmetic: {v1['v2_a8_instructions']})" if "v2_a8_instructions" in v1
                        else ""))
        goal = f"shipped pendulum int8 no slower than the v1 runtime (`{v1['commit'][:7]}`, same run)"
        out.append([goal, text, met])
    rows = sc.get("rows", [])
    vip, c = find(rows, "256 wide", "int8", "micropython viper"), find(rows, "256 wide", "int8", "c (gcc -O2)")
    if vip and c and _num(vip["ns_per_mac"]) and _num(c["ns_per_mac"]):
        t = vip["ns_per_mac"] / c["ns_per_mac"]
        text = f"viper {vip['ns_per_mac']} ns/MAC vs C {c['ns_per_mac']} ns/MAC = {t:.2f}×"
        if _num(vip.get("instructions")) and _num(c.get("instructions")):
            ratio = vip["instructions"] / c["instructions"]
            text += f"; instructions {vip['instructions']} vs {c['instructions']} = {ratio:.2f}×"
        met = "by time: " + ("yes" if t <= 2 else "NO")
        if _num(vip.get("instructions")) and _num(c.get("instructions")):
            met += "; by instructions: " + ("yes" if vip["instructions"] <= 2 * c["instructions"] else "NO")
        out.append(["256 wide int8 (w8a16) viper within 2× the C loop per MAC (x64)", text, met])
    return out


def render(sc: dict) -> list[str]:
    rows = sc.get("rows", [])
    L = ["## Scaling: cost per inference and per MAC by net size", "",
         ("Three nets: the shipped pendulum policy (`models/policy_*.bin`) and two random, seeded affine-input relu "
          "MLPs (`export/testnets.affine_relu_spec`, quantized by the project's quantizer into `build/bench/"
          "scaling/`). MACs = Σ n_in·n_out over the dense layers. `int8` = w8a16 (the default scheme), `int8 "
          "w8a8` = 8-bit activations. MicroPython: `device_bench.py` on the unix port (x64 `.mpy`, one process "
          "per blob, `Policy.load(..., kernel=…, max_bytes=1 MiB)` in a 2 MiB heap: the 256-wide q15 and f32 "
          "blobs exceed the default 96 KiB limit and an RP2040's heap); µs = block median of `infer_q`. C: "
          "`mlp_ref` (gcc -O2) on the same blob, checked against the host reference before timing. TFLM: "
          "`tflite-micro`'s interpreter on the same float net quantized TFLite-style (int8 activations with "
          "zero points; its own rounding, so not bit-identical: agreement below), its input the first layer's "
          "features, timed from CPython (`invoke()`, the binding's call included) and counted inside "
          "`MicroInterpreter::Invoke` (callgrind `--toggle-collect`, binding excluded). Instructions: callgrind "
          "at two call counts, differenced (deterministic). `× C`: against the C loop of the same net and "
          "dtype. `policy RAM`: heap the loaded policy holds (`gc.mem_alloc()` after `gc.collect()`, second "
          "load of the blob in the process, so one-time imports are not counted)."), ""]
    body = []
    for r in rows:
        c = c_row(rows, r)
        is_c = r["engine"].startswith("c ")
        body.append([r["net"], r["macs"], r["dtype"], r["engine"], _fmt(_num(r["median_ns"]) / 1000
                                                                         if _num(r["median_ns"]) else None),
                     _fmt(r["ns_per_mac"]), r.get("instructions", "") or "–", _fmt(r.get("instructions_per_mac")),
                     "–" if is_c or not c else _ratio(r["median_ns"], c["median_ns"]),
                     "–" if is_c or not c else _ratio(r.get("instructions"), c.get("instructions")),
                     r.get("policy_ram_bytes") or "–", r.get("check") or ""])
    L += table(["net", "MACs", "dtype", "engine", "µs / inference", "ns / MAC", "instructions / inference",
                "instr / MAC", "× C (time)", "× C (instr)", "policy RAM B", "check"], body)
    g = goals(sc)
    if g:
        L += ["", "Goals:", ""]
        L += table(["goal", "measured", "met"], g)
        L += ["", (f"Each goal is judged by time (block medians; a v1 ratio up to {NOISE}× is reported as within the "
                   "noise of this shared machine) and by instructions (noise-free; on an in-order microcontroller "
                   "core time follows them more closely than on this x86). v1 ran "
                   "its own blob (v1 format, int8 = w8a8), v2 the shipped v2 int8 blob (w8a16); times come from each "
                   "runtime's own benchmark script, instructions from one loop for both (device/bench/infer_q_loop.py"
                   ", the loop's own cost without the call subtracted).")]
    tf = [t for t in sc.get("tflm", []) if t]
    if tf:
        L += ["", ("TFLM output agreement (rows inside the calibrated input domain; LSB = one step of TFLM's int8 "
                   "output; the float reference is the last layer before the output stage; `vs int8 w8a8 blob`: "
                   "where no output clips):"), ""]
        L += table(["net", ".tflite B", "rows", "max abs Δ vs float, LSB", "mean", "p99",
                    "max abs Δ vs int8 w8a8 blob, LSB", "instructions / invoke (inside Invoke)",
                    "per call, whole process", "tflite-micro"],
                   [[t["row"]["net"], t["row"]["blob_bytes"], t["agreement"]["rows"],
                     _fmt(t["agreement"]["max_abs_diff_vs_float_lsb"], 2),
                     _fmt(t["agreement"]["mean_abs_diff_vs_float_lsb"], 2),
                     _fmt(t["agreement"]["p99_abs_diff_vs_float_lsb"], 2),
                     _fmt(t["agreement"].get("max_abs_diff_vs_int8_blob_lsb"), 2),
                     t["row"].get("instructions", "–") or "–", t["agreement"].get("instructions_process", "–"),
                     t["version"]] for t in tf])
    v1 = sc.get("v1")
    if v1:
        L += ["", (f"v1 baseline rounds (block median ns per infer_q): v1 {v1['v1_all_ns']}, v2 {v1['v2_all_ns']}.")]
    for n in sc.get("notes", []):
        L += ["", f"Not measured: {n}"]
    return L
