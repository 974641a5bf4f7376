"""One `tinypolicy bench` run: each section measured on its own (one that fails is recorded as skipped with the
reason, the others go on), then OUT/RESULTS.md and OUT/results/*.csv written (bench/report.py). The sections
are listed in the docstring of cli/bench.py."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..board.mpy import compile_arch
from ..paths import BUILD, MODELS, REPO
from . import report as bench_report
from .device import HEAPSIZE, read_device_output, run_device_bench
from .host import code_sizes, demo_time, machine_info, training_times
from .ref import C_BINARY, build_c, c_latency, check_c, instruction_counts, onnxruntime_latency, torch_latency
from .tick import run_tick


@dataclass
class BenchOptions:
    """What a bench run measures besides the numeric settings."""
    quick: bool = False  # smoke run: results go to build/bench/quick/, not benchmarks/
    variant: str = "mpy"  # device package as the x64 .mpy build ("mpy") or as source ("src")
    device_output: Path | None = None  # a saved device_bench.py output instead of running the unix port
    tick_dtype: str = "int8"  # policy of the tick-timing runs
    no_contended: bool = False  # skip the tick runs with a competing process


def run_bench(cfg: dict, sections: list[str], opts: BenchOptions, out: Path, command: str) -> Path:
    """Run `sections` with settings `cfg` (n, warmup, block, periods, tick_seconds), write OUT/RESULTS.md and
    OUT/results/*.csv, print progress and the headline numbers; returns the RESULTS.md path. A section that
    fails is recorded as skipped with its reason and the others still run."""
    work = BUILD / "bench" / ("quick" if opts.quick else "full")
    work.mkdir(parents=True, exist_ok=True)
    res = bench_report.Results(machine=machine_info(command), settings=dict(cfg), quick=opts.quick)
    res.settings["sections"] = ",".join(sections)
    res.settings["variant"] = opts.variant
    t_all = time.perf_counter()

    def section(name, fn):
        if name not in sections:
            return
        t0 = time.perf_counter()
        print(f"bench: {name} ...", flush=True)
        try:
            fn()
            res.timing[name] = time.perf_counter() - t0
            print(f"bench: {name} done in {res.timing[name]:.1f} s", flush=True)
        except Exception as exc:  # noqa: BLE001 - one broken section must not lose the others
            res.skipped[name] = f"{type(exc).__name__}: {exc}".strip()[:300]
            print(f"bench: {name} failed: {res.skipped[name]}", file=sys.stderr, flush=True)

    section("device", lambda: _device(res, cfg, opts, work))
    section("c", lambda: _c(res, cfg))
    section("host", lambda: _host_refs(res, cfg))
    section("instr", lambda: _instr(res, opts))
    section("scaling", lambda: _scaling(res, cfg, opts))
    section("size", lambda: _size(res))
    section("tick", lambda: _tick(res, cfg, opts, work))
    section("train", lambda: _train(res, work))
    section("demo", lambda: _demo(res, work))
    section("cycles", lambda: _cycles(res, opts.quick))
    res.timing["total"] = time.perf_counter() - t_all
    paths = bench_report.write(res, out)
    print(f"bench: wrote {paths[0]} and {len(paths) - 1} CSV files in {paths[0].parent / 'results'} "
          f"({res.timing['total']:.0f} s)")
    for line in bench_report.headline(res):
        print("bench: " + line)
    return paths[0]


def _cycles(res, quick: bool) -> None:
    from . import cycles

    res.cycles = cycles.run(quick)


def _device(res, cfg, opts: BenchOptions, work: Path) -> None:
    if opts.device_output:
        records = read_device_output(opts.device_output)
        res.device_source = f"saved output {opts.device_output}"
    else:
        if opts.variant == "mpy":  # the x64 build must match the sources (no-op when up to date)
            compile_arch("x64", BUILD / "mpy")
        records, raw = run_device_bench(cfg["n"], cfg["warmup"], cfg["block"], variant=opts.variant)
        (work / "device_bench.txt").write_text(raw)
        res.device_source = f"unix port, {opts.variant} variant, benchmark heap {HEAPSIZE}"
    if not records:
        raise RuntimeError("device_bench.py printed no BENCH lines")
    res.device = records


def _c(res, cfg) -> None:
    binary, version = build_c()
    res.machine["c_flags"] = "gcc -O2 (" + version + ")"
    for dtype in ("int8", "q15"):
        bad = check_c(binary, dtype)
        r = c_latency(binary, MODELS / f"policy_{dtype}.bin", max(cfg["n"], 10000), max(cfg["warmup"], 1000),
                      cfg["block"])
        r["mismatches_vs_host_reference"] = bad
        r["api"] = "infer(theta_q12, theta_dot_q12)"
        res.refs.append(r)


def _host_refs(res, cfg) -> None:
    errors = []
    for fn in (onnxruntime_latency, torch_latency):
        try:
            res.refs.append(fn(cfg["n"], cfg["warmup"], cfg["block"]))
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{fn.__name__}: {type(exc).__name__}: {exc}")
    if errors:
        raise RuntimeError("; ".join(errors))


def _instr(res, opts: BenchOptions) -> None:
    if opts.variant == "mpy":
        compile_arch("x64", BUILD / "mpy")
    res.instr = instruction_counts(opts.variant, C_BINARY if C_BINARY.exists() else None)


def _scaling(res, cfg, opts: BenchOptions) -> None:
    """The scaling table (bench/scaling.py) and the v1 baseline (bench/baseline.py). Quick: two sizes, no
    callgrind, one v1 round."""
    from . import baseline, scaling

    if opts.variant == "mpy":
        compile_arch("x64", BUILD / "mpy")
    nets = scaling.build_nets(scaling.QUICK_SIZES if opts.quick else scaling.FULL_SIZES)
    res.scaling = scaling.measure(nets, cfg, opts.variant, budget_ms=300 if opts.quick else 2000,
                                  instr=not opts.quick)
    try:
        res.scaling["v1"] = baseline.compare(cfg, rounds=1 if opts.quick else 5, instr=not opts.quick)
    except Exception as exc:  # noqa: BLE001 - e.g. no git history: the table stands without it
        res.scaling["notes"].append(f"v1 baseline: {type(exc).__name__}: {exc}"[:300])


def _size(res) -> None:
    res.code = code_sizes()
    res.blobs = [{"file": p.name, "bytes": p.stat().st_size} for p in sorted(MODELS.glob("policy_*.bin"))]
    onnx = MODELS / "tiny_policy.onnx"
    if onnx.exists():
        res.blobs.append({"file": onnx.name, "bytes": onnx.stat().st_size})


def _tick(res, cfg, opts: BenchOptions, work: Path) -> None:
    cases = [False] if opts.no_contended else [False, True]
    errors = []
    for contended in cases:
        for p in cfg["periods"]:
            name = f"tick_{p}ms_{'contended' if contended else 'alone'}.csv"
            try:
                row = run_tick(p, cfg["tick_seconds"], opts.tick_dtype, work / name, contended)
                row["log"] = str(Path(row["log"]).relative_to(REPO)) if Path(row["log"]).is_relative_to(REPO) \
                    else row["log"]
                res.ticks.append(row)
                print(f"bench:   {p} ms {'contended' if contended else 'alone'}: lateness p50 "
                      f"{row['lateness_p50_us']:.0f} p99 {row['lateness_p99_us']:.0f} max "
                      f"{row['lateness_max_us']:.0f} us, overruns {row['overruns']}, missed {row['missed']}",
                      flush=True)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"{p} ms contended={contended}: {exc}")
    if errors:
        raise RuntimeError("; ".join(errors))


def _train(res, work: Path) -> None:
    res.host.extend(training_times(work / "train_quick", run_quick=True))


def _demo(res, work: Path) -> None:
    res.host.append(demo_time(work))
