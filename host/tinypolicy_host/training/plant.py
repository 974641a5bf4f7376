"""Gymnasium `Pendulum-v1` dynamics, reproduced exactly, in torch (batched, differentiable) and numpy.

θ = 0 is upright, θ̇ in rad/s, torque u in N·m. One step with control period dt (Pendulum-v1: 0.05 s):

    u     = clip(u, −max_torque, max_torque)
    cost  = angle_normalize(θ)² + 0.1·θ̇² + 0.001·u²            (on the state before the update)
    θ̇'    = clip(θ̇ + (3g/(2l)·sin θ + 3/(m·l²)·u)·dt, −max_speed, max_speed)
    θ'    = θ + θ̇'·dt                                           (semi-implicit Euler)

reward = −cost. Same operation order as gymnasium, so float64 results agree to rounding and float32 results to
float32 precision. Gradients flow through everything except the clips where they saturate.
"""
import math

import numpy as np
import torch

G = 10.0
M = 1.0
L = 1.0
MAX_TORQUE = 2.0
MAX_SPEED = 8.0
DT = 0.05
EPISODE_STEPS = 200  # Pendulum-v1 TimeLimit
EPISODE_SECONDS = EPISODE_STEPS * DT  # 10 s


def angle_normalize_np(x):
    return ((x + np.pi) % (2 * np.pi)) - np.pi


def angle_normalize(x: torch.Tensor) -> torch.Tensor:
    return torch.remainder(x + math.pi, 2 * math.pi) - math.pi


def step(theta: torch.Tensor, theta_dot: torch.Tensor, u: torch.Tensor, dt=DT):
    """One batched plant step in torch. `dt` may be a float or a tensor broadcastable to θ.

    Returns (θ', θ̇', cost) with cost computed on the pre-update state (reward = −cost).
    """
    u = torch.clamp(u, -MAX_TORQUE, MAX_TORQUE)
    cost = angle_normalize(theta) ** 2 + 0.1 * theta_dot**2 + 0.001 * (u**2)
    new_theta_dot = theta_dot + (3 * G / (2 * L) * torch.sin(theta) + 3.0 / (M * L**2) * u) * dt
    new_theta_dot = torch.clamp(new_theta_dot, -MAX_SPEED, MAX_SPEED)
    new_theta = theta + new_theta_dot * dt
    return new_theta, new_theta_dot, cost


def step_np(theta, theta_dot, u, dt=DT):
    """Numpy twin of `step` (float64 unless given float32 arrays)."""
    u = np.clip(u, -MAX_TORQUE, MAX_TORQUE)
    cost = angle_normalize_np(theta) ** 2 + 0.1 * theta_dot**2 + 0.001 * (u**2)
    new_theta_dot = theta_dot + (3 * G / (2 * L) * np.sin(theta) + 3.0 / (M * L**2) * u) * dt
    new_theta_dot = np.clip(new_theta_dot, -MAX_SPEED, MAX_SPEED)
    new_theta = theta + new_theta_dot * dt
    return new_theta, new_theta_dot, cost


def rollout_np(policy, theta0, theta_dot0, dt=DT, steps=None, noise=0.0, rng=None):
    """Closed-loop rollout of `policy(θ, θ̇) -> u` on the numpy plant (not the official gymnasium numbers).

    Returns (returns (N,), θ trajectory (steps+1, N), θ̇ trajectory, u trajectory (steps, N)).
    """
    theta = np.array(theta0, np.float64, ndmin=1)
    theta_dot = np.array(theta_dot0, np.float64, ndmin=1)
    steps = int(round(EPISODE_SECONDS / dt)) if steps is None else steps
    rng = np.random.default_rng(0) if rng is None else rng
    ths, thds, us = [theta], [theta_dot], []
    total = np.zeros_like(theta)
    for _ in range(steps):
        if noise:
            u = policy(theta + rng.normal(0, noise, theta.shape), theta_dot + rng.normal(0, noise, theta.shape))
        else:
            u = policy(theta, theta_dot)
        u = np.asarray(u, np.float64)
        theta, theta_dot, cost = step_np(theta, theta_dot, u, dt)
        total -= cost
        ths.append(theta), thds.append(theta_dot), us.append(np.clip(u, -MAX_TORQUE, MAX_TORQUE))
    return total, np.array(ths), np.array(thds), np.array(us)
