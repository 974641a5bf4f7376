"""Loading Stable-Baselines3 files: the algorithm of a saved zip, the model and its VecNormalize statistics
through SB3's own loaders, and rollouts of SB3's deterministic policy.

Security: SB3 zips and VecNormalize files contain Python pickles, which can run arbitrary code when loaded.
Convert only files you trust. They are opened only through SB3's own loaders (`<Algo>.load`,
`VecNormalize.load`); the one thing read directly is the zip's JSON `data` entry, to pick the algorithm class.
"""
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError

#: policy-class module (from the zip's JSON) → algorithm; "common.policies" is PPO or A2C (told apart below).
_POLICY_MODULES = {
    "stable_baselines3.common.policies": "ppo",
    "stable_baselines3.sac.policies": "sac",
    "stable_baselines3.td3.policies": "td3",
    "stable_baselines3.dqn.policies": "dqn",
    "sb3_contrib.tqc.policies": "tqc",
}


@dataclass
class SB3Model:
    """A loaded SB3 model and the observation normalization that goes with it (None: raw observations)."""
    algo: str
    model: Any
    vecnormalize: Any = None
    path: str = ""

    def predict(self, obs: np.ndarray) -> np.ndarray:
        """SB3's deterministic action for raw observations (N, n_obs): (N, n_act) floats, or (N,) indices."""
        if self.vecnormalize is not None:
            obs = self.vecnormalize.normalize_obs(obs)
        action, _ = self.model.predict(obs, deterministic=True)
        return action


def read_data(path: Path) -> dict:
    """The JSON `data` entry of an SB3 zip (no pickle involved)."""
    try:
        with zipfile.ZipFile(path) as z:
            return json.loads(z.read("data"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a Stable-Baselines3 model zip ({exc})") from None


def algo_of(path: Path) -> str:
    """"ppo" | "a2c" | "sac" | "td3" | "ddpg" | "dqn" | "tqc", from the zip's JSON data."""
    data = read_data(path)
    module = data.get("policy_class", {}).get("__module__", "")
    algo = _POLICY_MODULES.get(module)
    if algo is None:
        raise UserError(f"{path}: policy_class: {module or '?'} is not a supported SB3 policy "
                        f"(PPO, A2C, SAC, TD3, DDPG, DQN, TQC with MlpPolicy)")
    if algo == "ppo" and "clip_range" not in data:
        algo = "a2c"
    if algo == "td3" and data.get("policy_delay") == 1 and data.get("target_noise_clip") == 0.0:
        algo = "ddpg"
    return algo


def algo_class(algo: str) -> Any:
    """The SB3 (sb3-contrib for "tqc") algorithm class."""
    import stable_baselines3 as sb3

    if algo == "tqc":
        try:
            from sb3_contrib import TQC
        except ImportError:
            raise UserError("a TQC model needs sb3-contrib: pip install sb3-contrib") from None
        return TQC
    return {"ppo": sb3.PPO, "a2c": sb3.A2C, "sac": sb3.SAC, "td3": sb3.TD3, "ddpg": sb3.DDPG,
            "dqn": sb3.DQN}[algo]


class _SpacesEnv:
    """Placeholder env with the model's spaces, so VecNormalize.load can attach without a real task."""

    def __new__(cls, observation_space: Any, action_space: Any) -> Any:
        import gymnasium as gym

        class Env(gym.Env):
            def __init__(self) -> None:
                self.observation_space, self.action_space = observation_space, action_space

        return Env()


def load(path: Path, vecnormalize: Path | None = None) -> SB3Model:
    """Load a trusted SB3 zip (and VecNormalize pickle) through SB3's own loaders."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    algo = algo_of(path)
    try:
        model = algo_class(algo).load(str(path), device="cpu")
    except Exception as exc:  # SB3 raises many types for a damaged or mismatched zip
        raise UserError(f"{path}: SB3 could not load it as {algo.upper()}: {exc}") from None
    norm = None
    if vecnormalize is not None:
        from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

        vecnormalize = Path(vecnormalize)
        if not vecnormalize.is_file():
            raise UserError(f"{vecnormalize}: no such file")
        venv = DummyVecEnv([lambda: _SpacesEnv(model.observation_space, model.action_space)])
        try:
            norm = VecNormalize.load(str(vecnormalize), venv)
        except Exception as exc:
            raise UserError(f"{vecnormalize}: not a VecNormalize file for this model: {exc}") from None
        norm.training = False
    return SB3Model(algo, model, norm, str(path))


def rollouts(sb: SB3Model, env_id: str, episodes: int, seed: int) -> np.ndarray:
    """Raw observations (N, n_obs) float64 visited by SB3's deterministic policy on `env_id`, one episode per
    seed seed, seed+1, …"""
    import gymnasium as gym

    try:
        env = gym.make(env_id)
    except Exception as exc:
        raise UserError(f"--env {env_id}: Gymnasium cannot make it: {exc}") from None
    if env.observation_space.shape != sb.model.observation_space.shape:
        raise UserError(f"--env {env_id}: observation shape {env.observation_space.shape} does not match the "
                        f"model's {sb.model.observation_space.shape}")
    seen = []
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        done = False
        while not done:
            seen.append(np.asarray(obs, np.float64))
            action = sb.predict(np.asarray(obs)[None])[0]
            obs, _, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
    env.close()
    return np.array(seen)
