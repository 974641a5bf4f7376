"""`tinypolicy demo` (`make demo`): the shipped policy swings up the simulated pendulum in real time on the unix
MicroPython port (device/main.py, board-sized heap), the CSV log goes to logs/, plots to plots/, and a short
summary is printed: when it got upright, overruns, median inference time."""
import subprocess
import sys
from pathlib import Path

import numpy as np

from .errors import UserError
from .logfile import read_log
from .paths import DEVICE, LOGS, PLOTS, micropython_binary

HEAPSIZE = "128K"  # RP2040-sized heap: what would not fit on the board fails here too
UPRIGHT = 0.1  # rad


def add_arguments(parser):
    parser.add_argument("--log", type=Path, default=LOGS / "demo.csv", help="CSV log file (default logs/demo.csv)")
    parser.add_argument("--plots", type=Path, default=PLOTS, help="folder for the PNGs (default plots/)")
    parser.add_argument("--no-plots", action="store_true", help="skip the plots")
    parser.add_argument("--duration-s", type=float, default=10.0)
    parser.add_argument("--period-ms", type=int, default=10)
    parser.add_argument("--dtype", choices=["int8", "q15", "f32"], default="int8")
    parser.add_argument("--noise", type=float, default=0.0, help="sensor noise sigma (rad, rad/s); default off")
    parser.add_argument("--mode", choices=["realtime", "batch"], default="realtime")
    parser.add_argument("--init-theta", type=float, default=None, help="start angle, rad (default pi: hanging)")
    parser.add_argument("--quiet", action="store_true", help="do not echo the device's messages")


def device_command(args) -> list[str]:
    flags = ["--mode", args.mode, "--period-ms", str(args.period_ms), "--duration-s", str(args.duration_s),
             "--dtype", args.dtype, "--model", f"models/policy_{args.dtype}.bin", "--noise", str(args.noise)]
    if args.init_theta is not None:
        flags += ["--init-theta", str(args.init_theta)]
    return [micropython_binary(), "-X", f"heapsize={HEAPSIZE}", "main.py", *flags]


def run_device(cmd: list[str], log_path: Path, echo: bool) -> int:
    """Run the app from device/ (as `cd device && micropython main.py`), tee stdout into the log file and echo
    the `# level: text` messages live. Returns the exit status."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log, subprocess.Popen(cmd, cwd=DEVICE, stdout=subprocess.PIPE,
                                                      stderr=subprocess.PIPE, text=True, bufsize=1) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        for line in proc.stdout:
            log.write(line)
            if line.startswith("# "):
                if echo and not line.startswith("# debug"):
                    print("device" + line[1:].rstrip())
            elif not (line[:1].isdigit() or line.startswith("tick,")):
                print("device: " + line.rstrip(), file=sys.stderr)  # e.g. a traceback
        err = proc.stderr.read()
        rc = proc.wait()
    if err.strip():
        print(err.rstrip(), file=sys.stderr)
    return rc


def device_summary(log) -> dict[str, str]:
    for m in log.messages:
        if m.startswith("info: summary "):
            return dict(kv.split("=", 1) for kv in m.split()[2:] if "=" in kv)
    return {}


def upright_since(t: np.ndarray, theta: np.ndarray) -> float | None:
    """First time after which |theta| < 0.1 rad for the rest of the run (None if not upright at the end)."""
    bad = np.nonzero(np.abs(theta) >= UPRIGHT)[0]
    if len(bad) == 0:
        return float(t[0]) if len(t) else None
    if bad[-1] == len(theta) - 1:
        return None
    return float(t[bad[-1] + 1])


def run(args) -> int:
    cmd = device_command(args)
    print(f"demo: {args.duration_s:g} s closed loop, {args.period_ms} ms period, {args.dtype}, {args.mode}, "
          f"noise {args.noise:g} on the unix MicroPython port")
    rc = run_device(cmd, args.log, echo=not args.quiet)
    log = read_log(args.log)
    if len(log) == 0:
        raise UserError(f"{args.log}: the device printed no data rows (exit status {rc})")
    s = device_summary(log)
    d = log.data
    t = d["tick"] * args.period_ms / 1000.0
    up = upright_since(t, d["theta"])
    infer = d["infer_us"]
    late = d["lateness_us"]
    up_text = f"upright at t = {up:.2f} s (|θ| < {UPRIGHT} rad from then on)" if up is not None else \
        "NOT upright at the end"
    print(f"demo: {up_text}; final θ = {d['theta'][-1]:+.3f} rad")
    print(f"demo: overruns {s.get('overruns', '?')}, missed ticks {s.get('missed', '?')}, dropped log rows "
          f"{s.get('dropped', '?')}; inference median {np.median(infer):.0f} µs (max {infer.max():.0f}), "
          f"tick lateness median {np.median(late):.0f} µs (p99 {np.percentile(late, 99):.0f}, max {late.max():.0f})")
    print(f"demo: log {args.log} ({len(log)} rows)")
    if not args.no_plots:
        try:
            from .plot import plot_log
        except ImportError as exc:
            print(f"demo: plots skipped: tinypolicy_host.plot unavailable ({exc})")
        else:
            paths = plot_log(args.log, args.plots)
            print("demo: plots " + " ".join(str(p) for p in paths))
    if rc != 0:
        print(f"demo: the device exited with status {rc} (see the '# error:' lines above)", file=sys.stderr)
        return 1
    return 0 if up is not None else 1
