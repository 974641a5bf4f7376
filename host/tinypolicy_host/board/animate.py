"""Animate a captured device log (the CSV `make demo` / `make monitor` write) into a GIF: the pendulum drawn at
its logged angle beside the angle and torque plots growing in time. `make gif` renders docs/demo.gif from a real
`make demo` run's log (docs/demo.csv)."""
import math
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..evaluation.upright import UPRIGHT_RAD, wrap_angle
from ..userpaths import writable_file
from .logformat import read_log
from .plot import MAX_TORQUE, _time_s

REQUIRED = ("tick", "theta", "torque")


def frame_rows(t: np.ndarray, fps: float) -> np.ndarray:
    """Index of the last log row at or before each frame time 0, 1/fps, 2/fps, ... up to t[-1]."""
    frames = np.arange(0.0, t[-1] + 1e-9, 1.0 / fps)
    return np.searchsorted(t, frames, side="right") - 1


def animate_log(log_path, out_path, fps: float = 12.0, dpi: int = 80, title: str = "") -> Path:
    """Write the GIF (Pillow writer) for the log; returns its path. Time runs at the log's own pace.
    `title` defaults to the log's file name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation, PillowWriter

    if not 1 <= fps <= 50:
        raise UserError(f"--fps {fps}: want 1..50 frames per second")
    log = read_log(log_path)
    missing = [c for c in REQUIRED if c not in log.data]
    if missing:
        raise UserError(f"{log_path}: header: missing column(s) {', '.join(missing)}")
    if len(log) < 2:
        raise UserError(f"{log_path}: needs at least 2 data rows to animate")
    out_path = writable_file(out_path, make_parent=True)
    t = _time_s(log)
    theta = wrap_angle(log.data["theta"])
    torque = log.data["torque"]
    rows = frame_rows(t, fps)

    fig = plt.figure(figsize=(9.0, 3.6))
    grid = fig.add_gridspec(2, 2, width_ratios=[1, 2.2])
    ax_p = fig.add_subplot(grid[:, 0])
    ax_th = fig.add_subplot(grid[0, 1])
    ax_u = fig.add_subplot(grid[1, 1], sharex=ax_th)
    ax_p.set(xlim=(-1.25, 1.25), ylim=(-1.25, 1.25), aspect="equal", xticks=[], yticks=[])
    ax_p.plot([0, 0], [0, 1.15], ls=":", color="0.7", lw=1)
    (rod,) = ax_p.plot([], [], lw=5, color="#345", solid_capstyle="round")
    (bob,) = ax_p.plot([], [], "o", ms=16, color="#c33")
    ax_p.plot([0], [0], "o", ms=6, color="#345")
    ax_th.axhspan(-UPRIGHT_RAD, UPRIGHT_RAD, color="tab:green", alpha=0.25)
    ax_th.set(xlim=(0, t[-1]), ylim=(-math.pi - 0.2, math.pi + 0.2), ylabel="θ (rad)")
    ax_th.set_yticks([-math.pi, 0, math.pi], ["-π", "0", "π"])
    ax_u.set(ylim=(-MAX_TORQUE * 1.15, MAX_TORQUE * 1.15), ylabel="torque (N·m)", xlabel="time (s)")
    for ax in (ax_th, ax_u):
        ax.grid(alpha=0.3)
    (line_th,) = ax_th.plot([], [], lw=1.4, color="tab:blue")
    (line_u,) = ax_u.plot([], [], lw=1.2, color="tab:orange", drawstyle="steps-post")
    fig.suptitle(title or Path(log_path).name, fontsize=10)
    ax_p.set_xlabel("t = 0.0 s\nu", fontsize=9)  # reserve the readout's two lines
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    theta_line = theta.copy()
    theta_line[1:][np.abs(np.diff(theta)) > math.pi] = np.nan  # no vertical bar where the angle wraps

    def draw(k):
        i = rows[k]
        x, y = -math.sin(theta[i]), math.cos(theta[i])  # theta = 0 upright, counter-clockwise positive
        rod.set_data([0, x], [0, y])
        bob.set_data([x], [y])
        ax_p.set_xlabel(f"t = {t[i]:4.1f} s  θ = {theta[i]:+.2f} rad\nu = {torque[i]:+.2f} N·m", fontsize=9)
        line_th.set_data(t[: i + 1], theta_line[: i + 1])
        line_u.set_data(t[: i + 1], torque[: i + 1])
        return rod, bob, line_th, line_u

    anim = FuncAnimation(fig, draw, frames=len(rows), blit=False)
    anim.save(out_path, writer=PillowWriter(fps=fps), dpi=dpi)
    plt.close(fig)
    return out_path
