"""Stable-Baselines3 import: a saved SB3 model (.zip, + optional VecNormalize .pkl) → the deterministic actor as an
`MLPSpec`, acting exactly as `model.predict(obs, deterministic=True)`.

Supported: PPO / A2C (Box: the mean clipped to the action bounds, or tanh-squashed and rescaled with
`squash_output`; Discrete: argmax of the logits), SAC / TQC (tanh of the mean, rescaled to low/high; gSDE's
`clip_mean` Hardtanh folds into the declared output range), TD3 / DDPG (the actor's tanh output rescaled), DQN
(argmax of the Q values) — `MlpPolicy` (flat Box observations, Linear layers with ReLU/Tanh/Sigmoid/Identity).
VecNormalize's `(clip((obs − mean)/sqrt(var + eps), ±clip_obs))` becomes the affine input stage: offset = mean,
scale = 1/sqrt(var + eps), [lo, hi] = mean ± clip_obs·sqrt(var + eps) (clip then normalize = normalize then clip).

Loading (and the warning about pickles: convert only trusted files) is in `sb3_load`.
"""
import math
from typing import Any

import numpy as np

from ..contract.spec import DenseSpec, InputSpec, MLPSpec, OutputSpec
from ..errors import UserError
from .sb3_load import SB3Model

_ACTIVATIONS = {"Tanh": "tanh", "ReLU": "relu", "Sigmoid": "sigmoid", "Identity": "identity"}


def _dense(modules: list, where: str) -> list[DenseSpec]:
    """Linear layers, each followed by at most one activation module, → DenseSpecs (float64)."""
    import torch.nn as nn

    layers: list[DenseSpec] = []
    for m in modules:
        if isinstance(m, nn.Linear):
            w = m.weight.detach().double().numpy().copy()
            b = (m.bias.detach().double().numpy().copy() if m.bias is not None else np.zeros(w.shape[0]))
            layers.append(DenseSpec(w, b, "identity"))
        elif isinstance(m, nn.Hardtanh) and m.min_val == -1.0 and m.max_val == 1.0 and layers:
            layers[-1].activation = "hardtanh"
        elif type(m).__name__ in _ACTIVATIONS and layers and layers[-1].activation == "identity":
            layers[-1].activation = _ACTIVATIONS[type(m).__name__]
        elif isinstance(m, nn.Flatten):
            continue
        else:
            raise UserError(f"{where}: layer {type(m).__name__} is not supported (Linear with "
                            f"ReLU/Tanh/Sigmoid/Hardtanh(-1,1) only)")
    return layers


def _modules(seq: Any) -> list:
    import torch.nn as nn

    return list(seq) if isinstance(seq, nn.Sequential) else [seq]


def _actor_layers(sb: SB3Model) -> tuple[list[DenseSpec], str, float]:
    """(layers, head, squash_bound): head "clip" (PPO/A2C Box), "squash" (tanh then rescale), "argmax".
    squash_bound: |tanh output| ≤ this (1 unless gSDE's clip_mean Hardtanh bounds the mean before the tanh)."""
    import torch.nn as nn
    from gymnasium import spaces

    policy = sb.model.policy
    where = f"{sb.path}: policy"
    if sb.algo == "dqn":
        return _dense(_modules(policy.q_net.q_net), where), "argmax", 1.0
    if sb.algo in ("ppo", "a2c"):
        layers = _dense(_modules(policy.mlp_extractor.policy_net) + [policy.action_net], where)
        if isinstance(sb.model.action_space, spaces.Discrete):
            return layers, "argmax", 1.0
        if policy.squash_output:
            layers[-1].activation = "tanh"
            return layers, "squash", 1.0
        return layers, "clip", 1.0
    actor = policy.actor
    if sb.algo in ("td3", "ddpg"):
        layers = _dense(_modules(actor.mu), where)
        if layers[-1].activation != "tanh":
            raise UserError(f"{where}: actor.mu does not end in Tanh")
        return layers, "squash", 1.0
    mu = _modules(actor.mu)  # SAC / TQC
    bound = 1.0
    if len(mu) == 2 and isinstance(mu[1], nn.Hardtanh):
        # gSDE clip_mean: tanh(clip(x, ±c)) = clip(tanh(x), ±tanh(c)) → the declared output range
        if mu[1].min_val != -mu[1].max_val:
            raise UserError(f"{where}: actor.mu Hardtanh is not symmetric")
        bound = math.tanh(mu[1].max_val)
        mu = mu[:1]
    layers = _dense(_modules(actor.latent_pi) + mu, where)
    layers[-1].activation = "tanh"
    return layers, "squash", bound


def _inputs(sb: SB3Model, calibration: np.ndarray | None) -> list[InputSpec]:
    """Affine input stage: VecNormalize folded in; [lo, hi] from VecNormalize's clip, the observation space's
    finite bounds, or (unbounded inputs without VecNormalize) the calibration range widened by 25 % of its span."""
    space = sb.model.observation_space
    if len(space.shape) != 1:
        raise UserError(f"{sb.path}: observation_space: shape {space.shape} is not a flat vector")
    n = space.shape[0]
    lo, hi = space.low.astype(np.float64), space.high.astype(np.float64)
    offset, scale = np.zeros(n), np.ones(n)
    norm = sb.vecnormalize
    if norm is not None and norm.norm_obs:
        std = np.sqrt(norm.obs_rms.var.astype(np.float64) + norm.epsilon)
        offset, scale = norm.obs_rms.mean.astype(np.float64), 1.0 / std
        lo, hi = np.maximum(lo, offset - norm.clip_obs * std), np.minimum(hi, offset + norm.clip_obs * std)
    inputs = []
    for j in range(n):
        a, b = lo[j], hi[j]
        if not (math.isfinite(a) and math.isfinite(b)):
            if calibration is None:
                raise UserError(f"{sb.path}: observation {j} is unbounded: give --env ENV_ID so its range "
                                f"comes from rollouts")
            c_lo, c_hi = float(calibration[:, j].min()), float(calibration[:, j].max())
            pad = 0.25 * max(c_hi - c_lo, 1e-3)
            a = max(a, c_lo - pad) if math.isfinite(a) else c_lo - pad
            b = min(b, c_hi + pad) if math.isfinite(b) else c_hi + pad
        inputs.append(InputSpec(kind="affine", frac=input_frac(a, b), offset=float(offset[j]),
                                scale=float(scale[j]), lo=float(a), hi=float(b), name=f"obs{j}"))
    return inputs


def input_frac(lo: float, hi: float) -> int:
    """Q format for an input in [lo, hi]: the largest magnitude maps near 2^16 (fine against int8/Q15
    activations, and leaves the feature multiplier 15 bits), within the contract's 0…24."""
    m = max(abs(lo), abs(hi), 2.0 ** -8)
    return int(min(24, max(0, 16 - math.ceil(math.log2(m)))))


def to_spec(sb: SB3Model, calibration: np.ndarray | None = None) -> MLPSpec:
    """The deterministic actor of `sb` as an MLPSpec (inputs = raw observations, outputs = env actions)."""
    from gymnasium import spaces

    layers, head, bound = _actor_layers(sb)
    inputs = _inputs(sb, calibration)
    act = sb.model.action_space
    if head == "argmax":
        n = int(act.n)
        outputs = [OutputSpec(frac=0, lo=0.0, hi=float(n - 1), name="action")]
        return MLPSpec(inputs, layers, outputs, argmax=True)
    if not isinstance(act, spaces.Box) or len(act.shape) != 1:
        raise UserError(f"{sb.path}: action_space: {act} is not a flat Box or Discrete")
    low, high = act.low.astype(np.float64), act.high.astype(np.float64)
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        raise UserError(f"{sb.path}: action_space: bounds must be finite (low {low}, high {high})")
    outputs = []
    for j in range(act.shape[0]):
        if head == "clip":
            outputs.append(OutputSpec(lo=float(low[j]), hi=float(high[j]), name=f"action{j}"))
        else:  # SB3 unscale_action: low + (0.5·(a + 1))·(high − low)
            half, mid = 0.5 * (high[j] - low[j]), 0.5 * (high[j] + low[j])
            outputs.append(OutputSpec(scale=float(half), offset=float(mid), lo=float(mid - half * bound),
                                      hi=float(mid + half * bound), name=f"action{j}"))
    return MLPSpec(inputs, layers, outputs)
