"""Calibration inputs: the rows activation ranges are measured on ((N, n_inputs) float arrays)."""
from __future__ import annotations

import numpy as np

from ..contract.spec import MLPSpec
from ..training.plant import MAX_SPEED, step_np


def pendulum_calibration(spec: MLPSpec, seed: int = 0, n_uniform: int = 4096, n_episodes: int = 48) -> np.ndarray:
    """(N, 2) [θ, θ̇] rows for a pendulum policy:

    - n_uniform states uniform in the operating box θ ∈ [−π, π], θ̇ ∈ [−8, 8] (Pendulum-v1 clips θ̇ to ±8);
    - closed-loop rollouts of the float policy on the Pendulum-v1 plant (`training.plant.step_np`) from its reset
      distribution (θ ~ U[−π, π], θ̇ ~ U[−1, 1]), 10 s each, half at the 50 ms and half at the 10 ms period,
      with sensor noise σ = 0.01 on what the policy sees (the rows are what it sees).
    """
    rng = np.random.default_rng(seed)
    thetas = [rng.uniform(-np.pi, np.pi, n_uniform)]
    theta_dots = [rng.uniform(-MAX_SPEED, MAX_SPEED, n_uniform)]
    for dt, n in ((0.05, n_episodes - n_episodes // 2), (0.01, n_episodes // 2)):
        th, thd = rng.uniform(-np.pi, np.pi, n), rng.uniform(-1.0, 1.0, n)
        for _ in range(int(round(10.0 / dt))):
            obs_th = th + rng.normal(0.0, 0.01, n)
            obs_thd = thd + rng.normal(0.0, 0.01, n)
            thetas.append(obs_th)
            theta_dots.append(obs_thd)
            u = spec.forward(np.stack([obs_th, obs_thd], axis=1))[:, 0]
            th, thd, _ = step_np(th, thd, u, dt)
    return np.stack([np.concatenate(thetas), np.concatenate(theta_dots)], axis=1)
