"""The version-1 runtime as a baseline in the same run: the shipped pendulum int8 policy before and after the
generic (blob version 2) runtime.

`git archive V1_COMMIT` extracts the v1 runtime (device/tinypolicy/), its benchmark script and its shipped int8
blob into build/bench/v1/ (the commit whose benchmarks/RESULTS.md is the last v1 run). Both runtimes run from
source on the unix port with their own device_bench.py (`--dtypes int8 --sections latency`), interleaved
v1, v2, v1, v2, … so load drift on the shared machine hits both alike; the median of the rounds' block medians
is kept. Instructions per call (callgrind, two call counts differenced) are deterministic.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import tarfile
from io import BytesIO
from pathlib import Path

from ..paths import BUILD, REPO, micropython_binary
from .device import HEAPSIZE, parse_lines, run_device_bench
from .ref import device_instructions

V1_COMMIT = "a2d272c648a2813e606d0b9c64ca20f71299353f"
V1_DIR = BUILD / "bench" / "v1"
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
        n1, n2 = 200, 2200
        res["v1_instructions"] = device_instructions(n1, n2, dtype="int8", env_path=str(tree / "device"),
                                                     script=Path("benchmarks/device_bench.py"), cwd=tree)
        res["v2_instructions"] = device_instructions(n1, n2, "src", dtype="int8")
    return res
