"""`tinypolicy quant-report`: float vs int8 vs Q15 — torque error on a held-out state set and closed-loop return.

Held-out states (never used for calibration: different seed and generator): 20 000 states uniform in the
operating box θ ∈ [−π, π], θ̇ ∈ [−8, 8]. Errors are |torque_int − torque_float| in N·m, where the float torque is
the float64 spec and the integer torques come from the bit-exact integer reference on the blobs.
Closed-loop returns come from `tinypolicy_host.evaluate` (gymnasium Pendulum-v1, vectorised): mean return over
seeds 0..N−1 at 50 ms, 20 ms, 10 ms and 50 ms with sensor noise σ = 0.01, for the f32 blob
(float64 math on its float32 weights) and the int8 / q15 blobs (bit-exact integer reference).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..contract.blob import BLOB_NAMES, read_blob
from ..contract.spec import FloatPolicySpec
from ..errors import UserError
from ..evaluation import gym as evaluate
from .quant import QuantPolicy

HELD_OUT_SEED = 987654321


def held_out_states(n: int = 20000, seed: int = HELD_OUT_SEED) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(-np.pi, np.pi, n), rng.uniform(-8.0, 8.0, n)


def torque_errors(spec, quantized: dict, n: int = 20000) -> dict:
    """{dtype: {max_abs_error_Nm, mean_abs_error_Nm, n_states}} of each integer policy vs the float spec."""
    theta, theta_dot = held_out_states(n)
    ref = spec.forward(theta, theta_dot)
    out = {}
    for dtype, policy in quantized.items():
        err = np.abs(policy.forward(theta, theta_dot) - ref)
        out[dtype] = {"max_abs_error_Nm": float(err.max()), "mean_abs_error_Nm": float(err.mean()),
                      "n_states": int(n)}
    return out


def closed_loop_returns(policies: dict, episodes: int, settings=None) -> dict:
    """{dtype: {setting: mean return}} on gymnasium Pendulum-v1 (seeds 0..episodes−1; settings default: all of
    evaluate.SETTINGS)."""
    settings = evaluate.SETTINGS if settings is None else settings
    return {dtype: {name: r["mean"] for name, r in evaluate.evaluate(policy.forward, episodes, settings).items()}
            for dtype, policy in policies.items()}


def read_policies(models: Path) -> dict:
    """{dtype: policy} from models/policy_{f32,int8,q15}.bin, each checked to hold its own dtype (a blob copied
    over another name would otherwise compare a policy with itself, or with the wrong kind)."""
    policies = {}
    for dtype, name in BLOB_NAMES.items():
        path = models / name
        if not path.is_file():
            raise UserError(f"{path}: missing (run `tinypolicy export` first)")
        policy = read_blob(path)
        if isinstance(policy, FloatPolicySpec):
            got = "f32"
        else:
            got = policy.dtype if isinstance(policy, QuantPolicy) else type(policy).__name__
        if got != dtype:
            raise UserError(f"{path}: dtype: the blob holds a {got} policy, {name} must hold {dtype}")
        policies[dtype] = policy
    return policies
