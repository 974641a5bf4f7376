"""The host plant reproduces gymnasium Pendulum-v1 exactly; the vectorised evaluation steps gymnasium's own code."""
import gymnasium as gym
import numpy as np
import pytest
import torch

from tinypolicy_host.evaluation.gym import initial_states, run_episodes
from tinypolicy_host.training import plant


def _gym_env(dt=0.05):
    env = gym.make("Pendulum-v1")
    env.reset(seed=0)
    env.unwrapped.dt = dt
    return env


@pytest.mark.parametrize("dt", [0.05, 0.02, 0.005])
def test_single_steps_match_gymnasium(dt):
    rng = np.random.default_rng(1)
    env = _gym_env(dt)
    n = 300
    # wrapped angles, speeds up to and past the clip, torques past ±2
    th = rng.uniform(-10, 10, n)
    thd = rng.uniform(-9, 9, n)
    u = rng.uniform(-3, 3, n).astype(np.float32)
    ref = []
    for i in range(n):
        env.unwrapped.state = np.array([th[i], thd[i]])
        _, reward, *_ = env.unwrapped.step(u[i:i + 1])
        ref.append((*env.unwrapped.state, reward))
    ref = np.array(ref)
    # gymnasium computes the torque terms in float32 (the action dtype): float32-level agreement for torch
    for dtype, tol in ((torch.float64, 1e-7), (torch.float32, 2e-6)):
        t = [torch.as_tensor(a, dtype=dtype) for a in (th, thd, u.astype(np.float64))]
        nth, nthd, cost = plant.step(*t, dt)
        got = np.stack([nth.numpy(), nthd.numpy(), -cost.numpy()], 1)
        np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * 10)
    # numpy with float32 torques follows gymnasium's dtype promotion: bit-identical
    nth, nthd, cost = plant.step_np(th, thd, u, dt)
    np.testing.assert_array_equal(np.stack([nth, nthd, -cost], 1), ref)


def test_trajectory_matches_gymnasium():
    """200 steps side by side from a reset state, same actions: float32 torch stays within float32 precision."""
    env = gym.make("Pendulum-v1")
    env.reset(seed=3)
    th0, thd0 = env.unwrapped.state
    actions = np.random.default_rng(2).uniform(-2.5, 2.5, 200).astype(np.float32)
    th32, thd32 = torch.tensor(th0, dtype=torch.float32), torch.tensor(thd0, dtype=torch.float32)
    th64, thd64 = torch.tensor(th0, dtype=torch.float64), torch.tensor(thd0, dtype=torch.float64)
    err32 = err64 = 0.0
    for a in actions:
        _, reward, _, _, _ = env.step(np.array([a], np.float32))
        gth, gthd = env.unwrapped.state
        th32, thd32, c32 = plant.step(th32, thd32, torch.tensor(float(a), dtype=torch.float32))
        th64, thd64, c64 = plant.step(th64, thd64, torch.tensor(float(a), dtype=torch.float64))
        err64 = max(err64, abs(float(th64) - gth), abs(float(thd64) - gthd), abs(-float(c64) - reward))
        err32 = max(err32, abs(float(th32) - gth) / max(1.0, abs(gth)), abs(float(thd32) - gthd) / 8,
                    abs(-float(c32) - reward) / max(1.0, abs(reward)))
    assert err64 < 1e-6, err64
    assert err32 < 1e-5, err32


def test_torch_plant_is_differentiable():
    th = torch.tensor([0.3, 2.0], requires_grad=True)
    thd = torch.tensor([0.1, -1.0], requires_grad=True)
    u = torch.tensor([0.5, -0.2], requires_grad=True)
    nth, nthd, cost = plant.step(th, thd, u, 0.02)
    (nth.sum() + cost.sum()).backward()
    assert torch.all(torch.isfinite(u.grad)) and torch.all(u.grad != 0)


def test_vectorised_evaluation_equals_separate_envs():
    """evaluate.run_episodes (gymnasium's step on a (2, N) state) == N gym.make envs stepped one by one."""
    def policy(th, thd):
        return 1.7 * np.sin(th) - 0.8 * thd

    n, steps = 4, 60
    starts = initial_states(n)
    batched, _ = run_episodes(policy, n, steps=steps, starts=starts)
    for seed in range(n):
        env = gym.make("Pendulum-v1")
        env.reset(seed=seed)
        np.testing.assert_array_equal(env.unwrapped.state, starts[:, seed])
        total = 0.0
        for _ in range(steps):
            th, thd = env.unwrapped.state
            u = np.asarray(policy(np.array([th]), np.array([thd])), np.float64).astype(np.float32)
            _, reward, *_ = env.step(u)
            total += reward
        assert total == batched[seed]
