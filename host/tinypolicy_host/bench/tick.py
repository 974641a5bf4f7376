"""Tick timing for `tinypolicy bench`: the control app (device/main.py) in real-time mode on the unix port at each
period, alone and with a competing CPU-bound process pinned to the same core (`taskset`), and the lateness
statistics of its CSV log.

Lateness is the app's own column (`lateness_us`: how late each tick started against its absolute schedule);
overruns and missed slots come from its `# info: summary` line.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ..board.logformat import read_log, summary
from ..paths import BOARD_HEAPSIZE, DEVICE, micropython_binary

HOG = "while True: pass"


def pick_cpu() -> int:
    """The core both processes are pinned to in the contended case: the last one this process may use."""
    return max(os.sched_getaffinity(0))


def run_tick(period_ms: int, duration_s: float, dtype: str, log_path: Path, contended: bool,
             cpu: int | None = None) -> dict:
    """One real-time run; returns a row of lateness / overrun statistics."""
    cmd = [micropython_binary(), "-X", f"heapsize={BOARD_HEAPSIZE}", "main.py", "--mode", "realtime",
           "--period-ms", str(period_ms), "--duration-s", str(duration_s), "--dtype", dtype,
           "--model", f"models/policy_{dtype}.bin", "--log-level", "info"]
    hog = None
    if contended:
        if shutil.which("taskset") is None:
            raise RuntimeError("taskset not found: cannot pin the competing process")
        cpu = pick_cpu() if cpu is None else cpu
        cmd = ["taskset", "-c", str(cpu), *cmd]
        hog = subprocess.Popen(["taskset", "-c", str(cpu), sys.executable, "-c", HOG])
        time.sleep(0.2)  # let it start spinning
    load1 = os.getloadavg()[0]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        with open(log_path, "w") as fh:
            proc = subprocess.run(cmd, cwd=DEVICE, stdout=fh, stderr=subprocess.PIPE, text=True,
                                  timeout=duration_s * 3 + 60)
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    wall = time.perf_counter() - t0
    text = log_path.read_text(errors="replace")
    if "\ntick," not in "\n" + text:
        tail = (text.strip().splitlines() or [""])[-1] or proc.stderr.strip()[-200:]
        raise RuntimeError(f"the app printed no CSV log (exit {proc.returncode}): {tail[:200]}")
    log = read_log(log_path)
    s = summary(log.messages)
    late = log.data.get("lateness_us", np.zeros(0))
    infer = log.data.get("infer_us", np.zeros(0))

    def pct(a, q):
        return float(np.percentile(a, q)) if len(a) else float("nan")

    errors = [m for m in log.messages if m.startswith("error")]
    return {"period_ms": period_ms, "contended": int(contended), "cpu": cpu if contended else "",
            "dtype": dtype, "duration_s": duration_s, "ticks": len(late),
            "lateness_p50_us": pct(late, 50), "lateness_p99_us": pct(late, 99),
            "lateness_max_us": float(late.max()) if len(late) else float("nan"),
            "overruns": int(s.get("overruns", -1)), "missed": int(s.get("missed", -1)),
            "dropped": int(s.get("dropped", -1)), "infer_p50_us": pct(infer, 50), "infer_p99_us": pct(infer, 99),
            "infer_max_us": float(infer.max()) if len(infer) else float("nan"),
            "exit": proc.returncode, "load1": round(load1, 2), "wall_s": round(wall, 2),
            "errors": " | ".join(errors)[:200], "log": str(log_path)}
