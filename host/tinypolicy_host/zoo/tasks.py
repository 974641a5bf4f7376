"""The zoo: one row per Gymnasium task — algorithm, compact actor net, training budget, goal, and where the
hyperparameters come from.

Hyperparameters are RL Baselines3 Zoo's tuned ones (`hyperparams/<algo>.yml` of DLR-RM/rl-baselines3-zoo,
the entry named in `source`) except for the actor net (compact: a microcontroller wants the smallest net that
reaches the score; the critic, which never leaves the host, may stay larger) and, where noted, the time budget.
Schedules are written as RL Zoo writes them: "lin_X" = linear from X to 0 over training.
"""
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Task:
    """One zoo row. `goal` is the mean return the int8 policy must reach on the device (≥ unless it is the
    maximum); `stop_at` ends training early once the periodic evaluation's mean reaches it (saves CPU)."""
    name: str                      # folder name under models/zoo/
    env_id: str
    algo: str                      # "ppo" | "a2c" | "sac" | "td3" | "ddpg" | "tqc"
    hidden: tuple[int, ...]        # actor hidden widths (the net that goes to the device)
    n_timesteps: int
    goal: float
    source: str
    hyper: dict[str, Any] = field(default_factory=dict)
    critic: tuple[int, ...] = (64, 64)
    n_envs: int = 1
    normalize: bool = False        # VecNormalize on observations (reward normalization as RL Zoo does)
    stop_at: float | None = None
    eval_freq: int = 10_000        # env steps (summed over envs) between the periodic evaluations
    eval_episodes: int = 10
    seed: int = 0


TASKS: tuple[Task, ...] = (
    Task(
        name="cartpole", env_id="CartPole-v1", algo="ppo", hidden=(16, 16), critic=(64, 64),
        n_timesteps=100_000, goal=500.0, stop_at=500.0, n_envs=8, eval_freq=8_000,
        source="rl-baselines3-zoo hyperparams/ppo.yml CartPole-v1 (tuned)",
        hyper=dict(n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0,
                   learning_rate="lin_0.001", clip_range="lin_0.2"),
    ),
    Task(
        name="acrobot", env_id="Acrobot-v1", algo="ppo", hidden=(32, 32), critic=(64, 64),
        n_timesteps=400_000, goal=-75.0, stop_at=-68.0, n_envs=16, normalize=True, eval_freq=32_000,
        eval_episodes=20,
        source="rl-baselines3-zoo hyperparams/ppo.yml Acrobot-v1 (1e6 steps there; 4e5 here for time)",
        hyper=dict(n_steps=256, gae_lambda=0.94, gamma=0.99, n_epochs=4, ent_coef=0.0),
    ),
    Task(
        name="mountaincar_continuous", env_id="MountainCarContinuous-v0", algo="sac", hidden=(32, 32),
        critic=(64, 64), n_timesteps=50_000, goal=93.0, stop_at=94.5, eval_freq=5_000,
        source="rl-baselines3-zoo hyperparams/sac.yml MountainCarContinuous-v0 (tuned; net 64x64 there)",
        hyper=dict(learning_rate=3e-4, buffer_size=50_000, batch_size=512, ent_coef=0.1, train_freq=32,
                   gradient_steps=32, gamma=0.9999, tau=0.01, learning_starts=0, use_sde=True,
                   log_std_init=-3.67),
    ),
    Task(
        name="inverted_pendulum", env_id="InvertedPendulum-v5", algo="sac", hidden=(16, 16), critic=(64, 64),
        n_timesteps=40_000, goal=1000.0, stop_at=1000.0, eval_freq=5_000,
        source="rl-baselines3-zoo hyperparams/sac.yml MuJoCo defaults (learning_starts 1e4; 1e6 steps there)",
        hyper=dict(learning_starts=10_000),
    ),
    Task(
        name="lunarlander_continuous", env_id="LunarLanderContinuous-v3", algo="ppo", hidden=(64, 64),
        critic=(64, 64), n_timesteps=1_000_000, goal=250.0, stop_at=275.0, n_envs=16, eval_freq=64_000,
        source="rl-baselines3-zoo hyperparams/ppo.yml LunarLanderContinuous (default 64x64 nets)",
        hyper=dict(n_steps=1024, batch_size=64, gae_lambda=0.98, gamma=0.999, n_epochs=4, ent_coef=0.01),
    ),
    Task(
        name="inverted_double_pendulum", env_id="InvertedDoublePendulum-v5", algo="sac", hidden=(64, 64),
        critic=(128, 128), n_timesteps=200_000, goal=9000.0, stop_at=9340.0, eval_freq=10_000,
        source="rl-baselines3-zoo hyperparams/sac.yml MuJoCo defaults (learning_starts 1e4; 1e6 steps there)",
        hyper=dict(learning_starts=10_000),
    ),
)


def task(name: str) -> Task:
    """The zoo row called `name` (its folder name or its env id)."""
    for t in TASKS:
        if name in (t.name, t.env_id):
            return t
    raise KeyError(f"no zoo task {name!r}; known: {', '.join(t.name for t in TASKS)}")
