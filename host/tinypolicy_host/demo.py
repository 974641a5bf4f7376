"""`tinypolicy demo` (`make demo`): the shipped policy swings up the simulated pendulum in real time on the unix
MicroPython port (device/main.py, board-sized heap), the CSV log goes to logs/, plots to plots/, and a short
summary is printed: when it got upright, overruns, median inference time."""
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import UserError
from .logfile import parse_lines
from .paths import DEVICE, LOGS, PLOTS, micropython_binary
from .userpaths import folder, writable_file

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


@dataclass
class DeviceRun:
    rc: int  # exit status
    started: bool  # the CSV header came: the app accepted its configuration and started the loop
    errors: list[str] = field(default_factory=list)  # `# error: text` messages, as text


def run_device(cmd: list[str], log, echo: bool) -> DeviceRun:
    """Run the app from device/ (as `cd device && micropython main.py`), tee stdout into the open log file and
    echo the `# level: text` messages live. The messages before the CSV header are held back until it comes:
    an app that stops before it (it rejected its configuration) is reported by the caller in one line."""
    run = DeviceRun(rc=0, started=False)
    held: list[str] = []
    try:
        proc = subprocess.Popen(cmd, cwd=DEVICE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                bufsize=1)
    except OSError as exc:
        raise UserError(f"{cmd[0]}: cannot run the MicroPython unix port ({exc.strerror or exc}; "
                        "$MICROPYTHON names it, `make setup` installs it)") from None
    with proc:
        assert proc.stdout is not None and proc.stderr is not None
        for line in proc.stdout:
            log.write(line)
            if line.startswith("# "):
                if line.startswith("# error:"):
                    run.errors.append(line[len("# error:"):].strip())
                if echo and not line.startswith("# debug"):
                    message = "device" + line[1:].rstrip()
                    if run.started:
                        print(message)
                    else:
                        held.append(message)
            elif line.startswith("tick,"):
                run.started = True
                for message in held:
                    print(message)
                held.clear()
            elif not line[:1].isdigit():
                print("device: " + line.rstrip(), file=sys.stderr)  # e.g. a traceback
        err = proc.stderr.read()
        run.rc = proc.wait()
    if not (run.errors and not run.started):
        for message in held:  # e.g. a crash before the header: every clue helps
            print(message)
    if err.strip():
        print(err.rstrip(), file=sys.stderr)
    return run


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
    if not args.no_plots:
        folder(args.plots, "--plots")  # before the run, not after it
    writable_file(args.log, "--log", make_parent=True)
    with open(args.log, "w") as log_file:
        print(f"demo: {args.duration_s:g} s closed loop, {args.period_ms} ms period, {args.dtype}, {args.mode}, "
              f"noise {args.noise:g} on the unix MicroPython port")
        dev = run_device(cmd, log_file, echo=not args.quiet)
    rc = dev.rc
    if not dev.started and dev.errors:
        raise UserError(f"the device app did not start: {'; '.join(dev.errors)}")
    log = parse_lines(args.log.read_text(errors="replace").splitlines())
    if len(log) == 0:
        why = "; ".join(dev.errors) if dev.errors else "see the device output above"
        raise UserError(f"{args.log}: the device printed no data rows (exit status {rc}: {why})")
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
            try:
                paths = plot_log(args.log, args.plots)
            except OSError as exc:
                raise UserError(f"{args.plots}: cannot write the plots here ({exc.strerror or exc})") from None
            print("demo: plots " + " ".join(str(p) for p in paths))
    if rc != 0:
        why = "; ".join(dev.errors) if dev.errors else "see the device output above"
        print(f"demo: the device exited with status {rc} ({why})", file=sys.stderr)
        return 1
    return 0 if up is not None else 1
