"""Episodes of any Gymnasium task with a flat Box observation and Box or Discrete actions, for a batched policy.

A policy is a callable `(obs (k, n_obs) float64) -> actions (k, n_act)` (Box: the floats `env.step` takes;
Discrete: `[index]` per row, the zoo contract). Episode i is reset with `env.reset(seed=seed + i)`; up to
`parallel` episodes run side by side (one env each) so a device answers many observations per round trip.
"""
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..contract.blob import read_blob
from ..errors import UserError


@dataclass
class EpisodeResult:
    """Returns per episode (in seed order), steps in total, wall seconds."""
    env_id: str
    seeds: list[int]
    returns: np.ndarray
    steps: int
    seconds: float

    def summary(self) -> dict:
        r = self.returns
        return {"env": self.env_id, "episodes": len(r), "seeds": f"{self.seeds[0]}..{self.seeds[-1]}",
                "mean": float(r.mean()), "std": float(r.std()), "min": float(r.min()), "max": float(r.max()),
                "stderr": float(r.std() / np.sqrt(len(r))), "steps": self.steps,
                "steps_per_s": round(self.steps / self.seconds, 1) if self.seconds > 0 else None,
                "returns": [float(v) for v in r]}


def make(env_id: str):
    """gym.make(env_id), checked for what a TinyPolicy blob can drive; a UserError otherwise."""
    import gymnasium as gym
    from gymnasium import spaces

    try:
        env = gym.make(env_id)
    except Exception as exc:  # gymnasium raises several types (NameNotFound, DependencyNotInstalled, ...)
        raise UserError(f"--env {env_id}: Gymnasium cannot make it: {exc}") from None
    obs, act = env.observation_space, env.action_space
    if not isinstance(obs, spaces.Box) or len(obs.shape) != 1:
        env.close()
        raise UserError(f"--env {env_id}: observation space {obs} is not a flat Box")
    if not (isinstance(act, spaces.Discrete) or (isinstance(act, spaces.Box) and len(act.shape) == 1)):
        env.close()
        raise UserError(f"--env {env_id}: action space {act} is neither a flat Box nor Discrete")
    return env


def check_policy_fits(env, n_inputs: int, n_outputs: int, argmax: bool, what: str) -> None:
    """The blob's inputs/outputs match the task's observation/action shapes (one line naming both)."""
    from gymnasium import spaces

    env_id = env.spec.id if env.spec else "env"
    n_obs = env.observation_space.shape[0]
    discrete = isinstance(env.action_space, spaces.Discrete)
    n_act = 1 if discrete else env.action_space.shape[0]
    if n_inputs != n_obs:
        raise UserError(f"{what}: {n_inputs} inputs, but {env_id} observes {n_obs} values")
    if discrete != argmax or n_outputs != n_act:
        kind = f"Discrete({env.action_space.n})" if discrete else f"Box({n_act})"
        raise UserError(f"{what}: {n_outputs} {'argmax ' if argmax else ''}output(s) do not drive {env_id}'s "
                        f"{kind} actions")


def run(env_id: str, policy, episodes: int, seed: int = 0, parallel: int = 32,
        max_steps: int | None = None) -> EpisodeResult:
    """Run `episodes` episodes (seeds seed … seed+episodes−1) of `env_id` with `policy`."""
    from gymnasium import spaces

    if episodes < 1:
        raise UserError("--episodes: must be at least 1")
    envs = [make(env_id) for _ in range(min(parallel, episodes))]
    discrete = isinstance(envs[0].action_space, spaces.Discrete)
    returns = np.zeros(episodes)
    slot_episode = [-1] * len(envs)
    obs = [None] * len(envs)
    lengths = [0] * len(envs)
    next_episode = 0
    steps = 0

    def start(slot: int) -> None:
        nonlocal next_episode
        if next_episode < episodes:
            obs[slot], _ = envs[slot].reset(seed=seed + next_episode)
            slot_episode[slot], lengths[slot] = next_episode, 0
            next_episode += 1
        else:
            slot_episode[slot] = -1

    t0 = time.perf_counter()
    try:
        for slot in range(len(envs)):
            start(slot)
        while any(e >= 0 for e in slot_episode):
            active = [s for s in range(len(envs)) if slot_episode[s] >= 0]
            batch = np.array([obs[s] for s in active], np.float64)
            actions = np.asarray(policy(batch), np.float64).reshape(len(active), -1)
            for row, slot in enumerate(active):
                env = envs[slot]
                a = int(actions[row, 0]) if discrete else actions[row].astype(env.action_space.dtype)
                obs[slot], reward, terminated, truncated, _ = env.step(a)
                returns[slot_episode[slot]] += float(reward)
                lengths[slot] += 1
                steps += 1
                if terminated or truncated or (max_steps is not None and lengths[slot] >= max_steps):
                    start(slot)
    finally:
        for env in envs:
            env.close()
    return EpisodeResult(env_id, list(range(seed, seed + episodes)), returns, steps, time.perf_counter() - t0)


def read_model(model: Path):
    """The host reference of a blob the user named (f32: MLPSpec, int: QuantMLP); a user error before any run."""
    model = Path(model)
    if not model.is_file():
        raise UserError(f"--model {model}: no such blob "
                        "(the shipped ones are models/policy_{f32,int8,int8_a8,q15}.bin)")
    return read_blob(model)


def evaluate(env_id: str, policy, shape, episodes: int, seed: int = 0, what: str = "--model") -> dict:
    """Check that a policy of `shape` (anything with n_inputs, n_outputs, argmax: a blob's reference) drives
    `env_id`, run it, and return EpisodeResult.summary()."""
    env = make(env_id)
    try:
        check_policy_fits(env, shape.n_inputs, shape.n_outputs, bool(shape.argmax), what)
    finally:
        env.close()
    return run(env_id, policy, episodes, seed).summary()
