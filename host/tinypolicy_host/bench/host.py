"""Host-side items of `tinypolicy bench`: machine description, .mpy code size, training time, demo wall time."""
from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from ..paths import BUILD, MODELS, REPO, git_commit, micropython_binary


def _run(cmd, **kw) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30, **kw).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(command: str) -> dict[str, str]:
    mp = _run([micropython_binary(), "-c", ("import sys; v = sys.implementation.version; "
               "print('v%d.%d.%d%s (%s)' % (v[0], v[1], v[2], ('-' + v[3]) if len(v) > 3 and v[3] else '', "
               "sys.version))")])
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 0
    info = {
        "date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": command,
        "git_commit": git_commit(),
        "cpu": cpu_model(),
        "cpus_usable": str(cpus),
        "kernel": platform.platform(),
        "micropython": mp or "unknown",
        "micropython_binary": micropython_binary(),
        "python": sys.version.split()[0],
        "load_avg_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    gcc = _run(["gcc", "--version"]).splitlines()
    info["gcc"] = gcc[0] if gcc else "not found"
    for mod in ("onnxruntime", "torch", "numpy"):
        try:
            info[mod] = __import__(mod).__version__
        except ImportError:
            info[mod] = "not installed"
    return info


def model_provenance() -> dict:
    try:
        meta = json.loads((MODELS / "metadata.json").read_text())
    except (OSError, ValueError):
        return {}
    return meta.get("provenance", {}) or {}


def code_sizes() -> list[dict]:
    """Per arch and per file .mpy bytes of the device package (build/mpy/<arch>/, made by `make mpy`)."""
    from ..board.mpy import ARCHES, compile_arch

    rows = []
    out_root = BUILD / "mpy"
    for arch in ARCHES:
        files = compile_arch(arch, out_root)  # no-op when up to date
        for f in sorted(files):
            rows.append({"arch": arch, "file": str(f.relative_to(out_root / arch)), "bytes": f.stat().st_size})
    return rows


def training_times(quick_out: Path | None, run_quick: bool) -> list[dict]:
    """Quick training measured now (no export: the shipped models stay untouched); the full training time read
    from the models' provenance (metadata.json) or the training log, never re-run here."""
    rows = []
    if run_quick and quick_out is not None:
        cmd = [sys.executable, "-m", "tinypolicy_host.cli", "train", "--quick", "--no-export", "--no-progress",
               "--out", str(quick_out)]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
        wall = time.perf_counter() - t0
        said = [line.split(";")[0] for line in proc.stdout.splitlines() if line.startswith("trained in")]
        rel = quick_out.relative_to(REPO) if quick_out.is_relative_to(REPO) else quick_out
        rows.append({"item": "train --quick (wall, incl. process start)", "seconds": round(wall, 1),
                     "source": f"measured now: tinypolicy train --quick --no-export --out {rel}; exit "
                               f"{proc.returncode}" + (f"; the trainer says: {said[0][:80]}" if said else "")})
    prov = model_provenance()
    status = str(prov.get("status", ""))
    if "train_seconds" in prov:
        rows.append({"item": "train (full, as shipped)", "seconds": float(prov["train_seconds"]),
                     "source": f"models/metadata.json provenance.train_seconds ({prov.get('command', '?')}, "
                               f"{prov.get('date', '?')}, quick={prov.get('quick', '?')})"})
    else:
        log = BUILD / "train" / "train_log.csv"
        last = None
        if log.exists():
            import csv

            with open(log) as fh:
                for row in csv.DictReader(fh):
                    last = row.get("elapsed_s") or last
        if last is not None:
            rows.append({"item": "train (full)", "seconds": float(last),
                         "source": f"{log.relative_to(REPO)} last elapsed_s (not the shipped models' run)"})
        else:
            rows.append({"item": "train (full)", "seconds": float("nan"),
                         "source": "not available: models/metadata.json has no provenance.train_seconds"
                                   + (f" (models: {status[:100]})" if status else "")})
    return rows


def demo_time(out_dir: Path, duration_s: float = 10.0) -> dict:
    """Wall time of what `make demo` runs (`tinypolicy demo`), with the log and plots redirected to out_dir."""
    cmd = [sys.executable, "-m", "tinypolicy_host.cli", "demo", "--log", str(out_dir / "demo.csv"),
           "--plots", str(out_dir / "plots"), "--quiet", "--duration-s", str(duration_s)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t0
    said = [line[6:] for line in proc.stdout.splitlines() if line.startswith("demo: ") and "upright" in line]
    where = out_dir.relative_to(REPO) if out_dir.is_relative_to(REPO) else out_dir
    return {"item": f"make demo ({duration_s:g} s real-time run + plots)", "seconds": round(wall, 1),
            "source": f"measured now: tinypolicy demo --duration-s {duration_s:g} (log and plots to {where}/); "
                      f"exit {proc.returncode}" + (f"; {said[0][:100]}" if said else "")}
