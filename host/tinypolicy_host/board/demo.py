"""`tinypolicy demo` (`make demo`): the shipped policy swings up the simulated pendulum in real time on the unix
MicroPython port (device/main.py, board-sized heap), the CSV log goes to logs/, plots to logs/plots/, and a short
summary is printed: when it got upright, overruns, median inference time."""
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..evaluation.upright import UPRIGHT_RAD, upright_since
from ..paths import BOARD_HEAPSIZE, DEVICE, PLOTS, micropython_binary
from ..userpaths import folder, writable_file
from .logformat import parse_lines, summary


@dataclass
class DeviceRun:
    rc: int  # exit status
    started: bool  # the CSV header came: the app accepted its configuration and started the loop
    errors: list[str] = field(default_factory=list)  # `# error: text` messages, as text


@dataclass
class DemoSettings:
    """One demo run: the log file, the plot folder (None: no plots) and the app's settings (device/main.py)."""
    log: Path
    plots: Path | None = PLOTS
    duration_s: float = 10.0
    period_ms: int = 10
    dtype: str = "int8"  # int8 | q15 | f32
    noise: float = 0.0  # sensor noise sigma, rad and rad/s
    mode: str = "realtime"  # realtime | batch
    init_theta: float | None = None  # start angle, rad (None: the app's default, pi: hanging)
    echo: bool = True  # echo the device's messages


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


def device_command(cfg: DemoSettings) -> list[str]:
    """The unix-port command line that runs the app from device/ with these settings."""
    flags = ["--mode", cfg.mode, "--period-ms", str(cfg.period_ms), "--duration-s", str(cfg.duration_s),
             "--dtype", cfg.dtype, "--model", f"models/policy_{cfg.dtype}.bin", "--noise", str(cfg.noise)]
    if cfg.init_theta is not None:
        flags += ["--init-theta", str(cfg.init_theta)]
    return [micropython_binary(), "-X", f"heapsize={BOARD_HEAPSIZE}", "main.py", *flags]


def run_demo(cfg: DemoSettings) -> int:
    """Run the demo, print its summary, write the log and (unless `cfg.plots` is None) the plots. Exit status:
    0 when the pendulum ended upright and the app exited cleanly, 1 otherwise."""
    cmd = device_command(cfg)
    if cfg.plots is not None:
        folder(cfg.plots, "--plots")  # before the run, not after it
    writable_file(cfg.log, "--log", make_parent=True)
    with open(cfg.log, "w") as log_file:
        print(f"demo: {cfg.duration_s:g} s closed loop, {cfg.period_ms} ms period, {cfg.dtype}, {cfg.mode}, "
              f"noise {cfg.noise:g} on the unix MicroPython port")
        dev = run_device(cmd, log_file, echo=cfg.echo)
    rc = dev.rc
    if not dev.started and dev.errors:
        raise UserError(f"the device app did not start: {'; '.join(dev.errors)}")
    log = parse_lines(cfg.log.read_text(errors="replace").splitlines())
    if len(log) == 0:
        why = "; ".join(dev.errors) if dev.errors else "see the device output above"
        raise UserError(f"{cfg.log}: the device printed no data rows (exit status {rc}: {why})")
    s = summary(log.messages)
    d = log.data
    t = d["tick"] * cfg.period_ms / 1000.0
    up = upright_since(t, d["theta"])
    infer = d["infer_us"]
    late = d["lateness_us"]
    up_text = f"upright at t = {up:.2f} s (|θ| < {UPRIGHT_RAD} rad from then on)" if up is not None else \
        "NOT upright at the end"
    print(f"demo: {up_text}; final θ = {d['theta'][-1]:+.3f} rad")
    print(f"demo: overruns {s.get('overruns', '?')}, missed ticks {s.get('missed', '?')}, dropped log rows "
          f"{s.get('dropped', '?')}; inference median {np.median(infer):.0f} µs (max {infer.max():.0f}), "
          f"tick lateness median {np.median(late):.0f} µs (p99 {np.percentile(late, 99):.0f}, max {late.max():.0f})")
    print(f"demo: log {cfg.log} ({len(log)} rows)")
    if cfg.plots is not None:
        try:
            from .plot import plot_log
        except ImportError as exc:
            print(f"demo: plots skipped: tinypolicy_host.board.plot unavailable ({exc})")
        else:
            try:
                paths = plot_log(cfg.log, cfg.plots)
            except OSError as exc:
                raise UserError(f"{cfg.plots}: cannot write the plots here ({exc.strerror or exc})") from None
            print("demo: plots " + " ".join(str(p) for p in paths))
    if rc != 0:
        why = "; ".join(dev.errors) if dev.errors else "see the device output above"
        print(f"demo: the device exited with status {rc} ({why})", file=sys.stderr)
        return 1
    return 0 if up is not None else 1
