"""`tinypolicy bench` (`make bench`): latency, memory, code size and tick timing of the device runtime, float vs
int8 vs Q15, with onnxruntime / torch / plain C reference points measured in the same run.

Sections (each runs on its own; one that cannot run is recorded as skipped with the reason, the others go on):
  device  device/bench/device_bench.py on the unix port: latency (cold, p50/p99, block median), per-stage
          breakdown, heap after load / RAM per policy, heap bytes per inference and per control tick
  c       benchmarks/c_ref/mlp_ref.c built with gcc -O2: bit-exactness check, then latency (int8, q15)
  host    onnxruntime and torch, one single-sample call at a time from CPython
  instr   instructions per inference under valgrind callgrind (MicroPython f32/int8/q15, C): noise-free ratios
  scaling µs and instructions per inference and per MAC at three net sizes (pendulum, 64 wide, 256 wide) for
          int8 / int8 w8a8 / q15 / f32: viper and portable kernels, the C loop, TensorFlow Lite Micro; RAM per
          policy; the v1 runtime as a baseline (quick: two sizes, no callgrind)
  size    .mpy bytes of the device package per architecture; blob sizes
  tick    device/main.py in real-time mode at each period, alone and with a CPU hog pinned to its core
  train   `tinypolicy train --quick` wall time (no export); full training time from the models' provenance
  demo    wall time of `tinypolicy demo` (what `make demo` runs)
  cycles  RP2040 cycle model: the asm_thumb kernel's armv6m code and the C reference (gcc-arm-none-eabi) under
          unicorn, every golden vector checked, cycles at three net sizes (bench/cycles.py; `make cycles`)

Output: OUT/results/*.csv (raw tables) and OUT/RESULTS.md, rewritten by every run. OUT is benchmarks/ for a full
run and build/bench/quick/ for --quick (so a smoke run never overwrites the committed results).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..bench.run import BenchOptions, run_bench
from ..errors import UserError
from ..paths import BUILD, REPO

SECTIONS = ("device", "c", "host", "instr", "scaling", "size", "tick", "train", "demo", "cycles")
FULL = {"n": 10000, "warmup": 1000, "block": 16, "periods": "5,10,20,50", "tick_seconds": 10.0}
QUICK = {"n": 1000, "warmup": 100, "block": 16, "periods": "10,50", "tick_seconds": 1.0}
QUICK_SKIP = {"instr", "train", "demo", "cycles"}  # cycles: `make cycles`


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="smoke run (< 1 min): fewer calls, 1 s tick runs at 10 and 50 ms, no instr/train/demo/"
                             "cycles; "
                             "writes to build/bench/quick/ unless --out is given")
    parser.add_argument("--out", type=Path, help="output folder for RESULTS.md and results/ (default benchmarks/)")
    parser.add_argument("--n", type=int, help=f"timed calls per latency measurement (default {FULL['n']}, "
                                              f"quick {QUICK['n']})")
    parser.add_argument("--warmup", type=int, help=f"untimed calls before timing (default {FULL['warmup']})")
    parser.add_argument("--block", type=int, help="back-to-back calls per block for the block median (default 16)")
    parser.add_argument("--periods", help="tick periods in ms, comma-separated (default 5,10,20,50)")
    parser.add_argument("--tick-seconds", type=float, help="duration of each tick run (default 10)")
    parser.add_argument("--tick-dtype", default="int8", choices=("int8", "q15", "f32"),
                        help="policy of the tick-timing runs (default int8)")
    parser.add_argument("--no-contended", action="store_true", help="skip the runs with a competing process")
    parser.add_argument("--only", help="comma-separated sections to run (" + ",".join(SECTIONS) + ")")
    parser.add_argument("--skip", help="comma-separated sections to skip")
    parser.add_argument("--variant", choices=("mpy", "src"), default="mpy",
                        help="device package as the x64 .mpy build (default: what a board runs) or as source")
    parser.add_argument("--device-output", type=Path,
                        help="use a saved device_bench.py output (e.g. from a board via mpremote run) instead "
                             "of running the unix port")


def _sections(args) -> list[str]:
    def parse(text):
        names = [s.strip() for s in text.split(",") if s.strip()]
        bad = [s for s in names if s not in SECTIONS]
        if bad:
            raise UserError(f"--only/--skip: unknown section {', '.join(bad)} (known: {', '.join(SECTIONS)})")
        return names

    chosen = parse(args.only) if args.only else [s for s in SECTIONS if not (args.quick and s in QUICK_SKIP)]
    skip = set(parse(args.skip)) if args.skip else set()
    return [s for s in chosen if s not in skip]


def _settings(args) -> dict:
    base = QUICK if args.quick else FULL
    cfg = {k: getattr(args, k) if getattr(args, k, None) is not None else v for k, v in base.items()}
    try:
        cfg["periods"] = [int(p) for p in str(cfg["periods"]).split(",") if p.strip()]
    except ValueError:
        raise UserError(f"--periods: {cfg['periods']!r} is not a comma-separated list of ms") from None
    if not cfg["periods"] or any(not 5 <= p <= 50 for p in cfg["periods"]):
        raise UserError("--periods: each period must be 5..50 ms (the app's allowed range)")
    if cfg["n"] < 100 or cfg["warmup"] < 0 or cfg["block"] < 1:
        raise UserError("--n must be >= 100, --warmup >= 0, --block >= 1")
    if cfg["tick_seconds"] <= 0:
        raise UserError("--tick-seconds must be > 0")
    return cfg


def _command(argv) -> str:
    cmd = "tinypolicy bench" + ("" if not argv else " " + " ".join(argv))
    if os.environ.get("MAKELEVEL"):  # started by `make bench` / `make bench-quick`
        cmd = f"make bench{'-quick' if argv == ['--quick'] else ''} ({cmd})"
    return cmd


def run(args) -> int:
    cfg = _settings(args)
    sections = _sections(args)
    out = args.out or (BUILD / "bench" / "quick" if args.quick else REPO / "benchmarks")
    argv = sys.argv[2:] if sys.argv[1:2] == ["bench"] else sys.argv[1:]
    opts = BenchOptions(quick=args.quick, variant=args.variant, device_output=args.device_output,
                        tick_dtype=args.tick_dtype, no_contended=args.no_contended)
    run_bench(cfg, sections, opts, out, _command(argv))
    return 0
