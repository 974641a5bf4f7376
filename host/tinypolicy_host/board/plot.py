"""Plot a captured device log (the CSV `make monitor` / `make demo` write) into PNGs.

    angle_vs_time.png   θ wrapped to [-π, π] vs time, with the upright band |θ| ≤ 0.1 rad
    torque_output.png   commanded torque vs time, with the ±2 N·m actuator limits
    infer_hist.png      histogram of the policy inference time per tick (µs)
    lateness_hist.png   histogram of how late each tick started (µs), overrun count
"""
import math
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..evaluation.upright import UPRIGHT_RAD, wrap_angle
from ..paths import PLOTS
from ..userpaths import folder
from .logformat import read_log

MAX_TORQUE = 2.0  # N·m (Pendulum-v1)
NAMES = ("angle_vs_time.png", "torque_output.png", "infer_hist.png", "lateness_hist.png")


T_WRAP = 1 << 30  # the device's t_us wraps here (time.ticks_us period on every port: small ints)


def _time_s(log) -> np.ndarray:
    """Seconds since the first row; t_us is unwrapped (a log longer than ~17.9 min crosses the 2^30 µs wrap)."""
    if "t_us" in log.data and len(log):
        steps = np.diff(log.data["t_us"].astype(np.int64)) % T_WRAP
        return np.concatenate([[0], np.cumsum(steps)]) / 1e6
    return log.data["tick"] * 0.05


def plot_log(log_path, out_dir=PLOTS) -> list[Path]:
    """Write the four PNGs for the log into out_dir; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    log = read_log(log_path)
    missing = [c for c in ("tick", "theta", "torque", "infer_us", "lateness_us") if c not in log.data]
    if missing:
        raise UserError(f"{log_path}: header: missing column(s) {', '.join(missing)}")
    if len(log) == 0:
        raise UserError(f"{log_path}: no data rows")
    out_dir = folder(out_dir)
    d, t = log.data, _time_s(log)
    name = Path(log_path).name
    paths = []

    def save(fig, filename):
        fig.tight_layout()
        path = out_dir / filename
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)

    theta = wrap_angle(d["theta"])
    t_plot, theta_plot = t, theta
    jumps = np.flatnonzero(np.abs(np.diff(theta)) > math.pi)  # wrap-arounds: break the line, no vertical bar
    if len(jumps):
        t_plot = np.insert(t, jumps + 1, np.nan)
        theta_plot = np.insert(theta, jumps + 1, np.nan)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    ax.axhspan(-UPRIGHT_RAD, UPRIGHT_RAD, color="tab:green", alpha=0.25, label=f"upright ±{UPRIGHT_RAD} rad")
    ax.plot(t_plot, theta_plot, lw=1.2, color="tab:blue", label="θ (wrapped to ±π)")
    ax.set_ylim(-math.pi - 0.2, math.pi + 0.2)
    ax.set_yticks([-math.pi, -math.pi / 2, 0, math.pi / 2, math.pi], ["-π", "-π/2", "0", "π/2", "π"])
    ax.set(xlabel="time (s)", ylabel="angle θ (rad, 0 = upright)", title=f"Pendulum angle — {name}")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")
    save(fig, NAMES[0])

    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.step(t, d["torque"], where="post", lw=1.0, color="tab:orange", label="torque")
    for y in (-MAX_TORQUE, MAX_TORQUE):
        ax.axhline(y, color="grey", ls="--", lw=0.8)
    ax.set_ylim(-MAX_TORQUE * 1.15, MAX_TORQUE * 1.15)
    ax.set(xlabel="time (s)", ylabel="torque (N·m)", title=f"Policy output — {name}")
    ax.grid(alpha=0.3)
    save(fig, NAMES[1])

    for filename, col, what in ((NAMES[2], "infer_us", "inference time"), (NAMES[3], "lateness_us", "tick lateness")):
        values = d[col][np.isfinite(d[col])]
        if not len(values):
            raise UserError(f"{log_path}: column {col}: no finite values to plot")
        fig, ax = plt.subplots(figsize=(6, 3.6))
        lo, hi = float(values.min()), float(values.max())
        step = max(1.0, math.ceil((hi - lo + 1) / 60))  # integer µs: bins on whole numbers
        color = "tab:purple" if col == "infer_us" else "tab:red"
        ax.hist(values, bins=np.arange(lo - 0.5, hi + step + 0.5, step), color=color)
        p50, p99, vmax = np.percentile(values, 50), np.percentile(values, 99), values.max()
        note = f"median {p50:.0f} µs, p99 {p99:.0f} µs, max {vmax:.0f} µs, n={len(values)}"
        if col == "lateness_us" and "overruns" in d:
            note += f", overruns {int(d['overruns'].max())}"
        ax.set_yscale("log")  # the rare slow ticks are the interesting ones
        ax.set(xlabel=f"{what} (µs)", ylabel="ticks (log scale)", title=f"{what.capitalize()} — {name}\n{note}")
        ax.title.set_fontsize(10)
        ax.grid(alpha=0.3)
        save(fig, filename)
    return paths
