"""`tinypolicy quant-report`: float vs the integer schemes — torque error on held-out states and closed-loop return.

Held-out states (never used for calibration: different seed and generator): 20 000 states uniform in the
operating box θ ∈ [−π, π], θ̇ ∈ [−8, 8]. Errors are |torque_int − torque_float| in N·m, where the float torque is
the float64 spec and the integer torques come from the bit-exact integer reference on the blobs: max and mean
over all states, and median / p99 / max over the **unsaturated** states (|u_float| < 0.95·max_torque = 1.9 N·m:
the balancing region, where the error matters; elsewhere every scheme saturates alike).
Closed-loop returns come from `evaluation.gym` (gymnasium Pendulum-v1, vectorised): mean return over
seeds 0..N−1 at 50 ms, 20 ms, 10 ms and 50 ms with sensor noise σ = 0.01, for the f32 blob
(float64 math on its float32 weights) and each integer blob (bit-exact integer reference).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..contract.blob import SCHEME_BLOB_NAMES, blob_scheme, read_blob
from ..contract.spec import pendulum_params, pendulum_policy
from ..errors import UserError
from ..evaluation import gym as evaluate

HELD_OUT_SEED = 987654321
UNSATURATED = 0.95  # |u_float| < 0.95·max_torque


def held_out_states(n: int = 20000, seed: int = HELD_OUT_SEED) -> np.ndarray:
    """(n, 2) [θ, θ̇] rows uniform in the operating box."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(-np.pi, np.pi, n), rng.uniform(-8.0, 8.0, n)], axis=1)


def torque_errors(spec, quantized: dict, n: int = 20000) -> dict:
    """{scheme: {max_abs_error_Nm, mean_abs_error_Nm, unsaturated: {median, p99, max, n_states}, n_states}} of
    each integer model vs the float spec."""
    x = held_out_states(n)
    ref = spec.forward(x)[:, 0]
    uns = np.abs(ref) < UNSATURATED * pendulum_params(spec)[1]
    out = {}
    for scheme, model in quantized.items():
        err = np.abs(model.forward(x)[:, 0] - ref)
        e = err[uns]
        out[scheme] = {"max_abs_error_Nm": float(err.max()), "mean_abs_error_Nm": float(err.mean()),
                       "n_states": int(n),
                       "unsaturated": {"median_Nm": float(np.median(e)), "p99_Nm": float(np.percentile(e, 99)),
                                       "max_Nm": float(e.max()), "n_states": int(uns.sum()),
                                       "threshold_Nm": UNSATURATED * pendulum_params(spec)[1]}}
    return out


def closed_loop_returns(policies: dict, episodes: int, settings=None) -> dict:
    """{scheme: {setting: mean return}} on gymnasium Pendulum-v1 (seeds 0..episodes−1; settings default: all of
    evaluate.SETTINGS)."""
    settings = evaluate.SETTINGS if settings is None else settings
    return {name: {k: r["mean"] for k, r in evaluate.evaluate(pendulum_policy(m), episodes, settings).items()}
            for name, m in policies.items()}


def read_policies(models: Path) -> dict:
    """{scheme: model} from models/policy_{f32,int8,int8_a8,q15}.bin (SCHEME_BLOB_NAMES), each checked to hold its
    own scheme (a blob copied over another name would otherwise compare a policy with itself)."""
    policies = {}
    for scheme, name in SCHEME_BLOB_NAMES.items():
        path = models / name
        if not path.is_file():
            raise UserError(f"{path}: missing (run `tinypolicy export` first)")
        model = read_blob(path)
        if blob_scheme(model) != scheme:
            raise UserError(f"{path}: dtype: the blob holds a {blob_scheme(model)} policy, {name} must hold {scheme}")
        policies[scheme] = model
    return policies
