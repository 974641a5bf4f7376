"""The version-1 runtime as a baseline in the same run: the shipped pendulum int8 policy before and after the
generic (blob version 2) runtime.

`git archive V1_COMMIT` extracts the v1 runtime (device/tinypolicy/), its benchmark script and its shipped int8
blob into build/bench/v1/ (the commit whose benchmarks/RESULTS.md is the last v1 run). Both runtimes run from
source on the unix port with their own device_bench.py (`--dtypes int8 --sections latency`), interleaved
v1, v2, v1, v2, … so load drift on the shared machine hits both alike; the median of the rounds' block medians
is kept. Instructions per infer_q (callgrind, two call counts differenced) are deterministic; they come from one
loop for both runtimes (device/bench/infer_q_loop.py) with the loop's own cost (the same loop without the call)
subtracted, so the two benchmark scripts' harness costs do not enter.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import tarfile
from io import BytesIO
from pathlib import Path

from ..paths import BUILD, MODELS, REPO, micropython_binary
from .device import HEAPSIZE, parse_lines, run_device_bench
from .ref import instructions_per_call

V1_COMMIT = "a2d272c648a2813e606d0b9c64ca20f71299353f"
V1_DIR = BUILD / "bench" / "v1"
LOOP_SCRIPT = REPO / "device" / "bench" / "infer_q_loop.py"
V1_FILES = ("device/tinypolicy", "benchmarks/device_bench.py", "models/policy_int8.bin")


def v1_tree(out: Path = V1_DIR) -> Path:
    """Extract the v1 runtime, bench script and int8 blob from git into `out` (re-extracted every run)."""
    proc = subprocess.run(["git", "archive", V1_COMMIT, *V1_FILES], cwd=REPO, capture_output=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"git archive {V1_COMMIT[:7]}: {proc.stderr.decode(errors='replace').strip()[:200]}")
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=BytesIO(proc.stdout)) as tar:
        tar.extractall(out, filter="data")
    return out


def _v1_latency(tree: Path, n: int, warmup: int, block: int) -> dict:
    env = dict(os.environ, MICROPYPATH=str(tree / "device") + ":.frozen")
    proc = subprocess.run([micropython_binary(), "-X", f"heapsize={HEAPSIZE}", "benchmarks/device_bench.py", "--n",
                           str(n), "--warmup", str(warmup), "--block", str(block), "--dtypes", "int8", "--sections",
                           "latency"], cwd=tree, env=env, capture_output=True, text=True, timeout=300)
    return _infer_q(parse_lines(proc.stdout.splitlines()), f"v1 device_bench.py exit {proc.returncode}")


def _infer_q(records: list[dict], what: str) -> dict:
    for r in records:
        if r["record"] == "latency" and r.get("api") == "infer_q":
            return r
    raise RuntimeError(f"{what}: no infer_q latency record")


def compare(cfg: dict, rounds: int = 3, instr: bool = True) -> dict:
    """v1 vs v2 on the shipped pendulum int8 policy: block-median ns per infer_q (median over interleaved
    rounds) and instructions per call."""
    tree = v1_tree()
    times: dict[str, list] = {"v1": [], "v2": []}
    for _ in range(rounds):
        times["v1"].append(_v1_latency(tree, cfg["n"], cfg["warmup"], cfg["block"])["median_ns"])
        recs, _ = run_device_bench(cfg["n"], cfg["warmup"], cfg["block"], variant="src", dtypes=("int8",),
                                   sections=("latency",))
        times["v2"].append(_infer_q(recs, "device_bench.py")["median_ns"])
    res = {"commit": V1_COMMIT, "rounds": rounds, "v1_ns": statistics.median(times["v1"]),
           "v2_ns": statistics.median(times["v2"]), "v1_all_ns": times["v1"], "v2_all_ns": times["v2"]}
    if instr:
        harness = loop_instructions(REPO / "device", MODELS / "policy_int8.bin", call=False)
        res["harness_instructions"] = harness
        res["v1_instructions"] = loop_instructions(tree / "device", tree / "models" / "policy_int8.bin") - harness
        res["v2_instructions"] = loop_instructions(REPO / "device", MODELS / "policy_int8.bin") - harness
        res["v2_a8_instructions"] = loop_instructions(REPO / "device", MODELS / "policy_int8_a8.bin") - harness
    return res


def loop_instructions(runtime: Path, blob: Path, call: bool = True, n1: int = 200, n2: int = 2200) -> int:
    """Instructions per iteration of device/bench/infer_q_loop.py (one loop for both runtimes, so only the runtime
    differs): callgrind at n1 and n2 iterations, differenced; call=False: the same loop without infer_q."""
    env = dict(os.environ, MICROPYPATH=str(runtime) + ":.frozen")
    return instructions_per_call(lambda n: [micropython_binary(), "-X", f"heapsize={HEAPSIZE}", str(LOOP_SCRIPT),
                                            str(blob), str(n), *([] if call else ["nocall"])], n1, n2, env)
