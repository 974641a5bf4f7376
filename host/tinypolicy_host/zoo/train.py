"""Train one zoo task with Stable-Baselines3 (fixed seeds, one torch thread) into `build/zoo/<task>/`.

Writes `final.zip` (+ `final_vecnormalize.pkl`), `best.zip` (+ `best_vecnormalize.pkl`: the model at the
periodic evaluation with the highest mean return) and `train.json` (steps, wall seconds, best evaluation).
Training stops early once the periodic evaluation reaches the task's `stop_at`.
"""
import json
import time
from pathlib import Path
from typing import Any

from ..convert.sb3_load import algo_class
from .tasks import Task


def _schedules(hyper: dict[str, Any]) -> dict[str, Any]:
    """RL Zoo's "lin_X" strings → SB3 linear schedules from X to 0."""
    from stable_baselines3.common.utils import LinearSchedule

    out = {}
    for k, v in hyper.items():
        out[k] = LinearSchedule(float(v[4:]), 0.0, 1.0) if isinstance(v, str) and v.startswith("lin_") else v
    return out


def model_kwargs(t: Task) -> dict[str, Any]:
    """Constructor keyword arguments for the task's algorithm: its hyperparameters and the compact actor."""
    hyper = _schedules(t.hyper)
    policy_kwargs: dict[str, Any] = {}
    if "log_std_init" in hyper:
        policy_kwargs["log_std_init"] = hyper.pop("log_std_init")
    critic_key = "vf" if t.algo in ("ppo", "a2c") else "qf"
    policy_kwargs["net_arch"] = {"pi": list(t.hidden), critic_key: list(t.critic)}
    return dict(hyper, policy_kwargs=policy_kwargs, seed=t.seed, verbose=0)


def _vec_envs(t: Task) -> tuple[Any, Any]:
    """(training env, evaluation env), VecNormalize-wrapped when the task normalizes observations."""
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    env = make_vec_env(t.env_id, n_envs=t.n_envs, seed=t.seed)
    eval_env = make_vec_env(t.env_id, n_envs=1, seed=t.seed + 1000)
    if t.normalize:
        gamma = float(t.hyper.get("gamma", 0.99))
        env = VecNormalize(env, gamma=gamma)
        eval_env = VecNormalize(eval_env, training=False, norm_reward=False, gamma=gamma)
    return env, eval_env


def train(t: Task, out: Path) -> dict[str, Any]:
    """Train task `t` into folder `out`; returns the summary also written to `out/train.json`."""
    import torch
    from stable_baselines3.common.callbacks import BaseCallback, EvalCallback

    torch.set_num_threads(1)
    out.mkdir(parents=True, exist_ok=True)
    env, eval_env = _vec_envs(t)

    class OnNewBest(BaseCallback):
        """Saves the VecNormalize statistics beside best.zip; stops training at the task's `stop_at`."""

        def _on_step(self) -> bool:
            if t.normalize:
                self.model.get_vec_normalize_env().save(str(out / "best_vecnormalize.pkl"))
            best = self.parent.best_mean_reward
            return t.stop_at is None or best < t.stop_at

    class BestAs(EvalCallback):
        """EvalCallback whose best model is written as best.zip."""

        def _on_step(self) -> bool:
            cont = super()._on_step()
            saved = out / "best_model.zip"
            if saved.exists():
                saved.replace(out / "best.zip")
            return cont

    evaluation = BestAs(eval_env, callback_on_new_best=OnNewBest(), n_eval_episodes=t.eval_episodes,
                        eval_freq=max(t.eval_freq // t.n_envs, 1), best_model_save_path=str(out), verbose=1)
    model = algo_class(t.algo)("MlpPolicy", env, **model_kwargs(t))
    start = time.monotonic()
    model.learn(total_timesteps=t.n_timesteps, callback=evaluation)
    seconds = time.monotonic() - start
    model.save(str(out / "final.zip"))
    if t.normalize:
        env.save(str(out / "final_vecnormalize.pkl"))
    summary = {"task": t.name, "env": t.env_id, "algo": t.algo, "hidden": list(t.hidden),
               "timesteps": int(model.num_timesteps), "budget": t.n_timesteps, "train_seconds": round(seconds, 1),
               "best_eval_mean": float(evaluation.best_mean_reward), "eval_episodes": t.eval_episodes,
               "seed": t.seed, "source": t.source}
    (out / "train.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def record_stopped(t: Task, out: Path, reason: str) -> dict:
    """train.json for a training that was stopped before its budget (e.g. a time limit): the step count and time
    of its best.zip (or final.zip) checkpoint, read from the zip's JSON data, and the reason."""
    from ..convert.sb3_load import read_data

    for stem in ("best", "final"):
        if (out / f"{stem}.zip").is_file():
            data = read_data(out / f"{stem}.zip")
            break
    else:
        raise FileNotFoundError(f"{out}: no checkpoint to record")
    seconds = (out / f"{stem}.zip").stat().st_mtime - data["start_time"] / 1e9
    summary = {"task": t.name, "env": t.env_id, "algo": t.algo, "hidden": list(t.hidden),
               "timesteps": int(data["num_timesteps"]), "budget": t.n_timesteps,
               "train_seconds": round(seconds, 1), "stopped": reason, "checkpoint": f"{stem}.zip",
               "seed": t.seed, "source": t.source}
    (out / "train.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary
