"""Closed-loop evaluation on the real gymnasium `Pendulum-v1` (`tinypolicy eval`).

A policy is any callable `(theta_array, theta_dot_array) -> torque_array` (sensor values in, N·m out). Episodes
are reset with `env.reset(seed=i)` for i = 0..N−1, so the start states are exactly Pendulum-v1's.

Vectorisation: gymnasium's own `PendulumEnv.step` is elementwise numpy code, so one unwrapped env holding the
states of all N episodes as a (2, N) array (`env.unwrapped.state`) steps them all with gymnasium's code in one
call: the same float64 operations as N separate envs (tests/test_plant.py checks bit-identity against
`gym.make` envs stepped one by one). That keeps 500 episodes × 3 policies × 4 settings to seconds.

Settings: control period 50 ms (Pendulum-v1, 200 steps), 20 ms and 10 ms (`env.unwrapped.dt` set, episode
length scaled to 10 s), and 50 ms with Gaussian sensor noise σ = 0.01 on θ and θ̇. Returns at other periods are
reported normalised to the 50 ms scale, `Σ reward · dt / 0.05`, so all columns compare; raw sums are kept too.
"""
import time

import numpy as np

from ..training.plant import DT, EPISODE_SECONDS
from .upright import UPRIGHT_RAD, upright_since, wrap_angle

NOISE = 0.01
# name -> (control period s, sensor noise σ)
SETTINGS = {
    "50ms": (0.05, 0.0),
    "20ms": (0.02, 0.0),
    "10ms": (0.01, 0.0),
    "50ms_noise": (0.05, NOISE),
}


def make_env(dt: float = DT):
    import gymnasium as gym

    env = gym.make("Pendulum-v1")
    env.unwrapped.dt = dt
    return env


def initial_states(n_episodes: int) -> np.ndarray:
    """(2, N) float64 Pendulum-v1 start states for seeds 0..N−1."""
    env = make_env()
    states = []
    for seed in range(n_episodes):
        env.reset(seed=seed)
        states.append(np.array(env.unwrapped.state, np.float64))
    env.close()
    return np.array(states).T.copy()


def run_episodes(policy, n_episodes: int = 500, dt: float = DT, noise: float = 0.0, noise_seed: int = 1234,
                 starts: np.ndarray | None = None, steps: int | None = None, record: bool = False):
    """Run N episodes at once through gymnasium's PendulumEnv.step. Returns (raw returns (N,), trajectory or None).

    trajectory (if `record`): dict of arrays theta, theta_dot (steps+1, N) and u (steps, N).
    """
    starts = initial_states(n_episodes) if starts is None else np.asarray(starts, np.float64)
    steps = int(round(EPISODE_SECONDS / dt)) if steps is None else steps
    env = make_env(dt)
    env.reset(seed=0)
    pend = env.unwrapped
    pend.state = starts.copy()
    rng = np.random.default_rng(noise_seed)
    total = np.zeros(starts.shape[1])
    traj = {"theta": [starts[0].copy()], "theta_dot": [starts[1].copy()], "u": []} if record else None
    for _ in range(steps):
        theta, theta_dot = pend.state
        if noise:
            theta = theta + rng.normal(0.0, noise, theta.shape)
            theta_dot = theta_dot + rng.normal(0.0, noise, theta_dot.shape)
        u = np.asarray(policy(theta, theta_dot), np.float64).reshape(-1)
        action = u.astype(np.float32)[None, :]  # Pendulum-v1's action space is float32, shape (1,)
        _, reward, _, _, _ = pend.step(action)
        total += reward
        if record:
            traj["theta"].append(pend.state[0].copy())
            traj["theta_dot"].append(pend.state[1].copy())
            traj["u"].append(np.clip(action[0], -2.0, 2.0))
    env.close()
    if record:
        traj = {k: np.array(v) for k, v in traj.items()}
    return total, traj


def evaluate(policy, n_episodes: int = 500, settings=None) -> dict:
    """{setting: {"mean": normalised mean return, "std", "min", "raw_mean", "dt", "noise", "steps"}}."""
    settings = SETTINGS if settings is None else settings
    starts = initial_states(n_episodes)
    out = {}
    for name, (dt, noise) in settings.items():
        raw, _ = run_episodes(policy, n_episodes, dt=dt, noise=noise, starts=starts)
        norm = raw * dt / DT
        out[name] = {"mean": float(norm.mean()), "std": float(norm.std()), "min": float(norm.min()),
                     "raw_mean": float(raw.mean()), "dt": dt, "noise": noise, "steps": int(round(EPISODE_SECONDS / dt))}
    return out


def swing_up(policy, dt: float, noise: float = NOISE, seconds: float = EPISODE_SECONDS, hold: float = UPRIGHT_RAD,
             noise_seed: int = 0) -> dict:
    """From hanging at rest (θ = π, θ̇ = 0): time at which |θ| (wrapped) stays below `hold` until the end."""
    steps = int(round(seconds / dt))
    _, traj = run_episodes(policy, 1, dt=dt, noise=noise, noise_seed=noise_seed,
                           starts=np.array([[np.pi], [0.0]]), steps=steps, record=True)
    err = np.abs(wrap_angle(traj["theta"][:, 0]))
    up = upright_since(np.arange(steps + 1) * dt, err, hold)
    return {"dt": dt, "upright_at_s": up, "final_abs_theta": float(err[-1]),
            "max_abs_theta_last_2s": float(err[-int(round(2.0 / dt)):].max()),
            "ok": bool(up is not None and up <= seconds - 2.0)}


#: Returns-table names of the integer policies → quantization scheme ("int8" is the default int8 scheme).
POLICY_SCHEMES = {"int8": "w8a16", "int8_a8": "w8a8", "q15": "q15"}


def policies_for(spec, dtypes=("float", "int8", "int8_a8", "q15"), warn=print) -> dict:
    """name -> callable for the float spec and its integer versions (bit-exact integer reference), quantized on
    `quantize.calibration.pendulum_calibration` rows (names: POLICY_SCHEMES)."""
    from ..contract.spec import pendulum_policy
    from ..quantize.calibration import pendulum_calibration
    from ..quantize.quant import quantize

    calib = pendulum_calibration(spec) if any(d != "float" for d in dtypes) else None
    return {d: pendulum_policy(spec if d == "float" else quantize(spec, POLICY_SCHEMES[d], calib)) for d in dtypes}


def results_table(spec, n_episodes: int = 500, dtypes=("float", "int8", "int8_a8", "q15"), settings=None,
                  swing_periods=(0.005, 0.01, 0.02, 0.05), warn=print) -> dict:
    """The returns table used by the CLI and by export metadata.

    {"episodes": N, "seeds": "0..N-1", "normalisation": ..., "returns": {dtype: {setting: {...}}},
     "swing_up": {dtype: [per period dicts]}, "vs_float_percent": {dtype: {setting: %}}, "seconds": runtime}
    """
    t0 = time.perf_counter()
    table = {"episodes": n_episodes, "seeds": f"0..{n_episodes - 1}", "env": "gymnasium Pendulum-v1",
             "normalisation": "sum(reward) * dt / 0.05 over 10 s episodes (equals the raw return at 50 ms)",
             "sensor_noise_sigma": NOISE, "returns": {}, "swing_up": {}, "vs_float_percent": {}}
    for name, policy in policies_for(spec, dtypes, warn).items():
        table["returns"][name] = evaluate(policy, n_episodes, settings)
        table["swing_up"][name] = [swing_up(policy, dt) for dt in swing_periods]
    if "float" in table["returns"]:
        ref = table["returns"]["float"]
        for name, res in table["returns"].items():
            if name != "float":
                table["vs_float_percent"][name] = {
                    k: 100.0 * (res[k]["mean"] - ref[k]["mean"]) / abs(ref[k]["mean"]) for k in res}
    table["seconds"] = time.perf_counter() - t0
    return table


def format_table(table: dict) -> str:
    lines = [f"mean return over seeds {table['seeds']} ({table['env']}; {table['normalisation']})"]
    names = list(table["returns"])
    if not names:
        return lines[0] + "\n(no policies)"
    settings = list(next(iter(table["returns"].values())))
    lines.append(f"{'policy':<8}" + "".join(f"{s:>14}" for s in settings))
    for name in names:
        row = table["returns"][name]
        lines.append(f"{name:<8}" + "".join(f"{row[s]['mean']:>14.2f}" for s in settings))
    for name, rel in table["vs_float_percent"].items():
        lines.append(f"{name + ' Δ%':<8}" + "".join(f"{rel[s]:>+13.2f}%" for s in settings))
    lines.append("swing-up from θ=π, θ̇=0 with noise σ=0.01, 10 s (time until |θ|<0.1 for good):")
    for name, runs in table["swing_up"].items():
        cells = []
        for r in runs:
            t = "never" if r["upright_at_s"] is None else f"{r['upright_at_s']:.2f}s"
            cells.append(f"{r['dt'] * 1000:g}ms:{t}{'' if r['ok'] else ' FAIL'}")
        lines.append(f"  {name:<6} " + "  ".join(cells))
    return "\n".join(lines)
