"""Device side of `tinypolicy bench`: run device/bench/device_bench.py on the unix MicroPython port and parse its
`BENCH <record> key=value ...` lines (the same lines a board prints under `mpremote run`)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ..paths import REPO, device_path, micropython_binary

SCRIPT = REPO / "device" / "bench" / "device_bench.py"
# The app itself runs in a board-sized 128K heap (tests, demo, tick runs). The benchmark script needs room on
# top of it (its own bytecode, histograms, a second ControlLoop, the float path's garbage), so it gets 256K:
# heap *used* figures are unaffected, heap *free* ones are not board figures.
HEAPSIZE = "256K"


def _value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_lines(lines) -> list[dict]:
    """`BENCH rec k=v ...` lines -> [{"record": rec, k: v, ...}]; other lines are ignored."""
    records = []
    for line in lines:
        line = line.strip()
        if not line.startswith("BENCH "):
            continue
        parts = line.split()
        rec = {"record": parts[1]}
        for kv in parts[2:]:
            k, _, v = kv.partition("=")
            rec[k] = _value(v)
        records.append(rec)
    return records


def run_device_bench(n: int, warmup: int, block: int, *, variant: str = "mpy", dtypes=("f32", "int8", "q15"),
                     sections=None, heapsize: str = HEAPSIZE, timeout: float = 900, blobs=None,
                     kernel: str | None = None, budget_ms: int = 0,
                     max_bytes: int = 0) -> tuple[list[dict], str]:
    """Run the device script on the unix port from the repo root; returns (records, raw stdout+stderr).
    blobs: benchmark these files (records then name them by path in `dtype=`) instead of models/policy_<dtype>.bin;
    kernel: force 'viper' or 'portable'; budget_ms > 0: cap each measurement at about that long (slow paths);
    max_bytes > 0: Policy.load's limit (with a heapsize that holds such a net)."""
    env = dict(os.environ, MICROPYPATH=device_path(variant) + ":.frozen")
    cmd = [micropython_binary(), "-X", f"heapsize={heapsize}", str(SCRIPT), "--n", str(n), "--warmup", str(warmup),
           "--block", str(block), "--dtypes", ",".join(dtypes)]
    if sections:
        cmd += ["--sections", ",".join(sections)]
    if blobs:
        cmd += ["--blobs", ",".join(str(b) for b in blobs)]
    if kernel:
        cmd += ["--kernel", kernel]
    if budget_ms:
        cmd += ["--budget-ms", str(budget_ms)]
    if max_bytes:
        cmd += ["--max-bytes", str(max_bytes)]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    raw = proc.stdout + (("\n# stderr:\n" + proc.stderr) if proc.stderr.strip() else "")
    records = parse_lines(proc.stdout.splitlines())
    if proc.returncode != 0 and not records:
        raise RuntimeError(f"device_bench.py exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return records, raw


def read_device_output(path: Path) -> list[dict]:
    """Records from a saved board run (`mpremote run device/bench/device_bench.py > board.txt`)."""
    return parse_lines(Path(path).read_text(errors="replace").splitlines())
