"""Results of `tinypolicy bench`: raw CSV tables in OUT/results/ and the readable OUT/RESULTS.md.

Nothing here measures; every number comes from the `Results` of the run that writes them.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

from .markdown import table as _table

SCALING_COLS = ["net", "shape", "macs", "dtype", "engine", "calls", "median_ns", "ns_per_mac", "instructions",
                "instructions_per_mac", "policy_ram_bytes", "blob_bytes", "check"]
LAT_COLS = ["engine", "dtype", "api", "n", "warmup", "block", "blocks", "cold_ns", "p50_ns", "p99_ns", "max_ns",
            "median_ns", "mean_ns", "overhead_ns", "version", "note"]
# (name, slow engine/dtype/api, fast engine/dtype/api, goal text, goal test on the ratio)
RATIOS = [
    ("int8 viper speed-up over the float reference path", ("micropython", "f32", "infer_q"),
     ("micropython", "int8", "infer_q"), "≥ 100×", lambda r: r >= 100),
    ("q15 viper speed-up over the float reference path", ("micropython", "f32", "infer_q"),
     ("micropython", "q15", "infer_q"), "", None),
    ("int8 viper slow-down vs the C loop (int8, gcc -O2)", ("micropython", "int8", "infer_q"),
     ("c", "int8", None), "≤ 10×", lambda r: r <= 10),
    ("q15 viper slow-down vs the C loop (q15, gcc -O2)", ("micropython", "q15", "infer_q"),
     ("c", "q15", None), "", None),
    ("onnxruntime single call vs int8 viper (>1: viper faster)", ("onnxruntime", "f32", None),
     ("micropython", "int8", "infer_q"), "", None),
    ("torch single call vs int8 viper (>1: viper faster)", ("torch", "f32", None),
     ("micropython", "int8", "infer_q"), "", None),
    ("float reference path vs onnxruntime (>1: onnxruntime faster)", ("micropython", "f32", "infer_q"),
     ("onnxruntime", "f32", None), "", None),
    ("int8 whole control tick vs int8 inference alone", ("micropython", "int8", "control step"),
     ("micropython", "int8", "infer_q"), "", None),
]


@dataclass
class Results:
    machine: dict
    settings: dict
    quick: bool = False
    device: list = field(default_factory=list)  # BENCH records of device_bench.py
    device_source: str = ""
    refs: list = field(default_factory=list)  # latency dicts of c / onnxruntime / torch
    code: list = field(default_factory=list)  # {"arch", "file", "bytes"}
    blobs: list = field(default_factory=list)  # {"file", "bytes"}
    ticks: list = field(default_factory=list)  # rows of bench_tick.run_tick
    host: list = field(default_factory=list)  # {"item", "seconds", "source"}
    instr: list = field(default_factory=list)  # {"engine", "dtype", "api", "calls", "instructions_per_call"}
    skipped: dict = field(default_factory=dict)  # section -> reason
    timing: dict = field(default_factory=dict)  # section -> seconds
    cycles: dict = field(default_factory=dict)  # bench.cycles.run(): RP2040 cycle model
    scaling: dict = field(default_factory=dict)  # bench.scaling.measure() (+ "v1": bench.baseline.compare())

    # -- derived tables -------------------------------------------------------------------------------------
    def device_records(self, record: str) -> list[dict]:
        return [r for r in self.device if r.get("record") == record]

    def latency_rows(self) -> list[dict]:
        rows = []
        for r in self.device_records("latency"):
            rows.append({**r, "engine": "micropython"})
        for r in self.device_records("tick"):
            rows.append({**r, "engine": "micropython", "api": "control step",
                         "note": "sensor+noise -> policy -> actuator -> plant -> ring (ControlLoop.batch_step)"})
        for r in self.refs:
            rows.append(dict(r))
        for r in rows:
            if r["engine"] == "c":
                r["note"] = f"bit-exact vs host reference: {r.get('mismatches_vs_host_reference', '?')} mismatches"
        return [{k: r.get(k, "") for k in LAT_COLS} for r in rows]

    def find(self, engine, dtype, api) -> dict | None:
        for r in self.latency_rows():
            if r["engine"] == engine and r["dtype"] == dtype and (api is None or r["api"] == api):
                return r
        return None

    def ratio_rows(self) -> list[dict]:
        rows = []
        for name, slow, fast, goal, test in RATIOS:
            a, b = self.find(*slow), self.find(*fast)
            row = {"ratio": name, "slow": "/".join(x for x in slow if x), "fast": "/".join(x for x in fast if x),
                   "by_median": "", "by_mean": "", "goal": goal, "met": ""}
            if a and b:
                for col, key in (("by_median", "median_ns"), ("by_mean", "mean_ns")):
                    x, y = _num(a[key]), _num(b[key])
                    row[col] = round(x / y, 2) if y > 0 and not math.isnan(x) else ""
                if test is not None and row["by_median"] != "":
                    row["met"] = "yes" if test(row["by_median"]) else "NO"
            rows.append(row)
        return rows

    def instr_ratio_rows(self) -> list[dict]:
        ipc = {(r["engine"], r["dtype"]): r["instructions_per_call"] for r in self.instr}
        rows = []
        for name, slow, fast in (("int8 viper vs float path (instructions)", ("micropython", "f32"),
                                  ("micropython", "int8")),
                                 ("q15 viper vs float path (instructions)", ("micropython", "f32"),
                                  ("micropython", "q15")),
                                 ("int8 viper vs C loop (instructions)", ("micropython", "int8"), ("c", "int8")),
                                 ("q15 viper vs C loop (instructions)", ("micropython", "q15"), ("c", "q15"))):
            if slow in ipc and fast in ipc and ipc[fast] > 0:
                rows.append({"ratio": name, "value": round(ipc[slow] / ipc[fast], 2)})
        return rows

    def memory_rows(self) -> list[dict]:
        rows = []
        allocs = {(r.get("dtype"), r.get("what")): r for r in self.device_records("alloc")}
        for m in self.device_records("memory"):
            d = m["dtype"]
            row = {k: m.get(k, "") for k in ("dtype", "blob_bytes", "load_us", "heap_before", "heap_after",
                                             "policy_bytes", "heap_free")}
            for what in ("infer_q", "tick"):
                a = allocs.get((d, what))
                if a:
                    row[f"{what}_calls"] = a["n"]
                    row[f"{what}_bytes"] = a["bytes"]
                    row[f"{what}_bytes_per_call"] = round(a["bytes"] / a["n"], 2) if a["n"] else ""
                    row[f"{what}_heap_lock_ok"] = a["locked_ok"]
                else:
                    for suffix in ("calls", "bytes", "bytes_per_call", "heap_lock_ok"):
                        row[f"{what}_{suffix}"] = ""
            rows.append(row)
        return rows

    def code_totals(self) -> list[dict]:
        """Per arch: files and bytes of everything, and bytes of each package (first path part of `file`)."""
        totals: dict[str, dict] = {}
        for r in self.code:
            t = totals.setdefault(r["arch"], {"arch": r["arch"], "files": 0, "bytes": 0})
            package = r["file"].split("/")[0]
            t["files"] += 1
            t["bytes"] += r["bytes"]
            t[package] = t.get(package, 0) + r["bytes"]
        return list(totals.values())


def _num(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def us(ns, digits=None) -> str:
    v = _num(ns)
    if math.isnan(v):
        return "–"
    v /= 1000.0
    if digits is None:
        digits = 3 if v < 10 else (1 if v < 1000 else 0)
    return f"{v:.{digits}f}"


def _write_csv(path: Path, rows: list[dict], cols: list[str] | None = None) -> Path:
    cols = cols or (list(rows[0]) if rows else ["empty"])
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()})
    return path


def write(res: Results, out: Path) -> list[Path]:
    """Write OUT/results/*.csv and OUT/RESULTS.md; returns [RESULTS.md, csv...]."""
    rdir = out / "results"
    rdir.mkdir(parents=True, exist_ok=True)
    for old in rdir.glob("*.csv"):
        old.unlink()
    csvs = [
        _write_csv(rdir / "latency.csv", res.latency_rows(), LAT_COLS),
        _write_csv(rdir / "ratios.csv", res.ratio_rows(),
                   ["ratio", "slow", "fast", "by_median", "by_mean", "goal", "met"]),
        _write_csv(rdir / "stages.csv", res.device_records("stage"),
                   ["dtype", "stage", "n", "mean_ns", "cumulative_ns"]),
        _write_csv(rdir / "memory.csv", res.memory_rows()),
        _write_csv(rdir / "heap_imports.csv", res.device_records("heap"), ["stage", "bytes", "total"]),
        _write_csv(rdir / "instructions.csv", res.instr, ["engine", "dtype", "api", "calls", "instructions_per_call"]),
        _write_csv(rdir / "code_size.csv", res.code, ["arch", "file", "bytes"]),
        _write_csv(rdir / "blobs.csv", res.blobs, ["file", "bytes"]),
        _write_csv(rdir / "tick_timing.csv", res.ticks),
        _write_csv(rdir / "host.csv", res.host, ["item", "seconds", "source"]),
        _write_csv(rdir / "cycles_rp2040.csv", res.cycles.get("table", [])),
        _write_csv(rdir / "cycles_golden.csv", res.cycles.get("golden", [])),
        _write_csv(rdir / "scaling.csv", res.scaling.get("rows", []), SCALING_COLS),
        _write_csv(rdir / "tflm.csv", [{"net": t["row"]["net"], **t["agreement"], "tflite": t["tflite"],
                                        "version": t["version"]} for t in res.scaling.get("tflm", []) if t]),
        _write_csv(rdir / "machine.csv", [{"key": k, "value": v} for k, v in
                                          {**res.machine, **{f"setting_{k}": v for k, v in res.settings.items()},
                                           "device_source": res.device_source}.items()], ["key", "value"]),
        _write_csv(rdir / "sections.csv",
                   [{"section": s, "status": "skipped" if s in res.skipped else "ok",
                     "seconds": round(res.timing.get(s, float("nan")), 1), "reason": res.skipped.get(s, "")}
                    for s in res.settings.get("sections", "").split(",") if s],
                   ["section", "status", "seconds", "reason"]),
    ]
    md = out / "RESULTS.md"
    md.write_text(render(res))
    return [md, *csvs]


def headline(res: Results) -> list[str]:
    lines = []
    for r in res.ratio_rows():
        if r["by_median"] != "":
            goal = f" (goal {r['goal']}: {r['met']})" if r["goal"] else ""
            lines.append(f"{r['ratio']}: {r['by_median']}x{goal}")
    for s, why in res.skipped.items():
        lines.append(f"section {s} skipped: {why}")
    return lines


def render(res: Results) -> str:
    m = res.machine
    L = ["# Benchmark results", ""]
    if res.quick:
        L += ["> **Quick smoke run** (`--quick`): few calls, 1 s tick runs. Numbers are not the reference ones.", ""]
    L += [f"Generated by `{m.get('command', '?')}` on {m.get('date_utc', '?')} at commit `{m.get('git_commit', '?')}`",
          "(this file and `results/*.csv` are rewritten by every run; how to reproduce: `benchmarks/README.md`).",
          "Ratios measured in one run are what count: the machine is shared, absolute times are noisy.", ""]
    L += ["## Machine", ""]
    keys = ["cpu", "cpus_usable", "kernel", "micropython", "python", "gcc", "c_flags", "onnxruntime", "torch",
            "numpy", "load_avg_start"]
    L += _table(["item", "value"], [[k, f"`{m[k]}`" if k in ("micropython", "kernel") else m[k]]
                                    for k in keys if k in m])
    s = res.settings
    L += ["", (f"Settings: {s.get('n')} timed calls per measurement after {s.get('warmup')} warm-up calls, blocks of "
          f"{s.get('block')}; device package: {res.device_source or '–'}; tick runs {s.get('tick_seconds')} s "
          f"each at {', '.join(str(p) for p in s.get('periods', []))} ms."), ""]

    info = res.device_records("info")
    if info:
        i = info[0]
        L += [(f"Device script ({res.device_source}): port `{i.get('port')}`, MicroPython {i.get('version')}, clock "
              f"`{i.get('clock')}` ({i.get('clock_ps')} ps per unit), {i.get('n')} calls after {i.get('warmup')} "
              f"warm-up, heap {i.get('heap_total')} B."), ""]

    L += ["## Headline ratios", "",
          "Speed ratios of median times per call (block median; `by mean` uses the mean over all blocks).", ""]
    L += _table(["ratio", "by median", "by mean", "goal", "met"],
                [[r["ratio"], _x(r["by_median"]), _x(r["by_mean"]), r["goal"] or "–", r["met"] or "–"]
                 for r in res.ratio_rows()])

    L += ["", "## Inference latency", "",
          ("µs per call. `cold`: the first call after loading, timed alone. `p50`/`p99`/`max`: every call timed "
          "alone (MicroPython on unix: `time.ticks_us`, so 1 µs resolution, and a call below 1 µs often reads 0). "
          "`median`/`mean`: blocks of back-to-back calls, per call, with the empty timing loop subtracted: the "
          "sub-µs figure the ratios use. MicroPython `infer_q` takes Q12 ints (array('i')); `infer` takes a float "
          "list. onnxruntime / torch: one (1, 2) state per call from CPython, one thread. C: `mlp_ref.c`, gcc -O2."),
          ""]
    rows = []
    for r in res.latency_rows():
        rows.append([r["engine"], r["dtype"], r["api"], r["n"], us(r["cold_ns"]), us(r["p50_ns"]), us(r["p99_ns"]),
                     us(r["max_ns"]), us(r["median_ns"]), us(r["mean_ns"]), r.get("note", "")])
    L += _table(["engine", "dtype", "api", "calls", "cold", "p50", "p99", "max", "median", "mean", "note"], rows)

    if res.instr:
        L += ["", "### Instructions per inference (valgrind callgrind)", "",
              ("Deterministic, so unaffected by the shared machine: the whole process is counted at two call "
               "counts and differenced (start-up and loading cancel; the float path's count includes its share of "
               "garbage collection). Time per instruction is not the same for all code: a wide out-of-order x86 "
               "core runs viper's simple, spill-heavy instruction stream at a much higher rate than the "
               "interpreter's, so on this CPU the timed ratios differ from these. On an in-order microcontroller "
               "core (Cortex-M0+, Xtensa LX6/7, RV32 E/IMC) time follows instruction counts more closely: these "
               "ratios are the better predictor of a board's."),
              ""]
        L += _table(["engine", "dtype", "api", "instructions / call"],
                    [[r["engine"], r["dtype"], r["api"], r["instructions_per_call"]] for r in res.instr])
        L += [""]
        L += _table(["ratio", "by instructions"], [[r["ratio"], _x(r["value"])] for r in res.instr_ratio_rows()])

    stages = res.device_records("stage")
    L += ["", "## Per-stage breakdown (MicroPython)", ""]
    if stages:
        L += [("Differential: the forward pass is run stopped after the features and after each layer (int8 / "
               "Q15: the viper kernel with the descriptor's layer count cut to k; f32: the float layer list cut "
               "to k); a stage costs the difference of consecutive prefixes (median of 5 interleaved rounds). "
               "`features` includes the call itself (through a small Python wrapper, so the cumulative total "
               "can differ a little from the whole-call latency above)."), ""]
        L += _table(["dtype", "stage", "calls", "stage µs", "cumulative µs", "share"],
                    [[r["dtype"], r["stage"].replace("_", " "), r["n"], us(r["mean_ns"]), us(r["cumulative_ns"]),
                      _share(r, stages)] for r in stages])
    else:
        errs = [r for r in res.device_records("error") if r.get("section") == "stage"]
        L += ["Not measured: " + (errs[0]["msg"].replace("_", " ") if errs else "no stage records") + "."]

    L += ["", "## Memory", "",
          ("Heap figures are `gc.mem_alloc()` after `gc.collect()` on the unix port (16-byte blocks; the benchmark "
           "script runs with a 256 KiB heap to have room for its own buffers, so only *used* figures are shown). "
           "`policy RAM` = heap held by the loaded policy (after − before loading; the blob's second load in the "
           "process, so one-time lazy imports are not counted); `heap used after load` "
           "includes the interpreter, the benchmark script and all imported code. Bytes per call: "
          "`gc.mem_alloc()` delta over the calls with automatic gc off; `lock ok` = 100 calls ran under "
          "`micropython.heap_lock()` without MemoryError. `tick` = the app's whole control step."), ""]
    rows = []
    for r in res.memory_rows():
        rows.append([r["dtype"], r["blob_bytes"], r["policy_bytes"], r["heap_after"], r["load_us"],
                     _perc(r, "infer_q"), _lock(r["infer_q_heap_lock_ok"]), _perc(r, "tick"),
                     _lock(r["tick_heap_lock_ok"])])
    L += _table(["dtype", "blob B", "policy RAM B", "heap used after load B", "load µs",
                 "infer_q B/call", "infer_q lock ok", "tick B/tick", "tick lock ok"], rows)

    heap = res.device_records("heap")
    if heap:
        what = {"script": "interpreter + benchmark script (baseline)",
                "tinypolicy": "runtime: `import tinypolicy` (Policy, kernels, tables)"}
        L += ["", ("Heap taken by imported code, in import order (RAM; on a board `.mpy` code also loads into the "
                   "heap unless frozen into the firmware; a module's figure includes dependencies not imported "
                   "before it):"), ""]
        L += _table(["module", "heap bytes", "heap in use after"],
                    [[what.get(h["stage"], f"`{h['stage']}`"), h["bytes"], h.get("total", h["bytes"])]
                     for h in heap])
        app = sum(_num(h["bytes"]) for h in heap if h["stage"] not in ("script", "tinypolicy"))
        if app:
            L += ["", f"Control-app modules together: {app:.0f} B."]

    L += ["", "## Code size", "", ("Total `.mpy` bytes per architecture (`make mpy`): the inference runtime "
          "`device/tinypolicy/` (loader, Policy and the kernels `device/manifest.py` gives the arch: armv6m asm_thumb "
          "and portable, no viper), goal ≤ 16 KB (16384 B) for "
          "armv6m, and the control application `device/tinypolicy_app/` (timer loop, sensors, actuators, log, "
          "config, simulated plant) that `make flash` adds. Per-file sizes: `results/code_size.csv`."), ""]
    L += _table(["arch", "files", "runtime B", "app B", "total B", "runtime goal"],
                [[r["arch"], r["files"], r.get("tinypolicy", 0), r.get("tinypolicy_app", 0), r["bytes"],
                  ("≤ 16384: " + ("yes" if r.get("tinypolicy", 0) <= 16384 else "NO")) if r["arch"] == "armv6m"
                  else "–"]
                 for r in res.code_totals()])
    if res.blobs:
        L += ["", "Model files: " + ", ".join(f"`{b['file']}` {b['bytes']} B" for b in res.blobs) + "."]

    L += ["", "## Tick timing (real-time mode, unix port)", "",
          ("`device/main.py --mode realtime` on the unix software ticker (absolute `ticks_us` schedule), policy "
          f"`{s.get('tick_dtype', 'int8')}`; lateness = how late each tick started against its schedule. "
          "Contended: the app and a `python -c 'while True: pass'` process both pinned to one core with `taskset`."),
          ""]
    L += _table(["period ms", "case", "ticks", "lateness p50 µs", "p99 µs", "max µs", "overruns", "missed",
                 "infer p50 µs", "infer p99 µs", "load avg", "exit"],
                [[t["period_ms"], "contended (cpu {})".format(t["cpu"]) if t["contended"] else "alone", t["ticks"],
                  _f(t["lateness_p50_us"]), _f(t["lateness_p99_us"]), _f(t["lateness_max_us"]), t["overruns"],
                  t["missed"], _f(t["infer_p50_us"]), _f(t["infer_p99_us"]), t["load1"],
                  t["exit"] if not t.get("errors") else f"{t['exit']}: {t['errors'][:80]}"] for t in res.ticks])
    if res.ticks:
        L += ["", ("`infer` here is the app's own per-tick measurement (`ticks_us` around `infer_q` inside the "
                   "tick): after sleeping until the deadline the caches and branch predictors are cold, so it reads "
                   "higher than the hot-loop latency above.")]

    if res.scaling:
        from .scaling_report import render as render_scaling

        L += ["", *render_scaling(res.scaling)]

    if res.cycles:
        from .cycles import render as render_cycles

        L += ["", *render_cycles(res.cycles)]

    L += ["", "## Host", ""]
    L += _table(["item", "seconds", "source"], [[h["item"], _f(h["seconds"], 1), h["source"]] for h in res.host])

    L += ["", "## Sections", ""]
    L += _table(["section", "status", "seconds"],
                [[sec, ("skipped: " + res.skipped[sec]) if sec in res.skipped else "ok",
                  _f(res.timing.get(sec, float("nan")), 1)] for sec in s.get("sections", "").split(",") if sec])
    errs = res.device_records("error")
    if errs:
        L += ["", "Device script errors (the rest of its sections ran):", ""]
        L += [f"- {e.get('section')}{' ' + str(e['dtype']) if 'dtype' in e else ''}: "
              f"{str(e.get('msg', '')).replace('_', ' ')}" for e in errs]
    L += ["", f"Raw tables: `results/*.csv`. Whole run: {res.timing.get('total', 0):.0f} s.", ""]
    return "\n".join(L)


def _share(r, stages) -> str:
    total = max((_num(x["cumulative_ns"]) for x in stages if x["dtype"] == r["dtype"]), default=float("nan"))
    v = _num(r["mean_ns"])
    return "–" if not total or math.isnan(total) or math.isnan(v) else f"{100 * v / total:.0f} %"


def _x(v) -> str:
    return f"{v}×" if v != "" else "–"


def _f(v, digits=0) -> str:
    x = _num(v)
    return "–" if math.isnan(x) else f"{x:.{digits}f}"


def _perc(r, what) -> str:
    v = r.get(f"{what}_bytes_per_call", "")
    return "–" if v == "" else f"{v} ({r[f'{what}_bytes']} B / {r[f'{what}_calls']})"


def _lock(v) -> str:
    return {1: "yes", 0: "NO", -1: "n/a"}.get(v, "–") if v != "" else "–"
