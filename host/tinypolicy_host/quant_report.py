"""`tinypolicy quant-report`: float vs int8 vs Q15 — torque error on a held-out state set and closed-loop return.

Held-out states (never used for calibration: different seed and generator): 20 000 states uniform in the
operating box θ ∈ [−π, π], θ̇ ∈ [−8, 8]. Errors are |torque_int − torque_float| in N·m, where the float torque is
the float64 spec and the integer torques come from the bit-exact integer reference on the blobs.
Closed-loop returns come from `tinypolicy_host.evaluate` (gymnasium Pendulum-v1, vectorised): mean return over
seeds 0..N−1 at 50 ms, 20 ms, 10 ms and 50 ms with sensor noise σ = 0.01, for the f32 blob
(float64 math on its float32 weights) and the int8 / q15 blobs (bit-exact integer reference).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import UserError
from .paths import MODELS
from .userpaths import writable_file

HELD_OUT_SEED = 987654321


def add_arguments(parser):
    parser.add_argument("--models", type=Path, default=MODELS, help="folder with policy_{f32,int8,q15}.bin")
    parser.add_argument("--states", type=int, default=20000, help="held-out states for the torque error")
    parser.add_argument("--episodes", type=int, default=500, help="closed-loop episodes per policy (seeds 0..N-1)")
    parser.add_argument("--no-returns", action="store_true", help="torque errors only")
    parser.add_argument("--json", type=Path, default=None, help="also write the report as JSON")


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
    from . import evaluate

    settings = evaluate.SETTINGS if settings is None else settings
    return {dtype: {name: r["mean"] for name, r in evaluate.evaluate(policy.forward, episodes, settings).items()}
            for dtype, policy in policies.items()}


def read_policies(models: Path) -> dict:
    """{dtype: policy} from models/policy_{f32,int8,q15}.bin, each checked to hold its own dtype (a blob copied
    over another name would otherwise compare a policy with itself, or with the wrong kind)."""
    from .blob import read_blob
    from .export import BLOB_NAMES
    from .quant import QuantPolicy
    from .spec import FloatPolicySpec

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


def run(args) -> int:
    for option, value in (("--states", args.states), ("--episodes", args.episodes)):
        if value < 1:
            raise UserError(f"{option}: {value}: must be >= 1")
    if args.json is not None:  # checked before the (long) measurement
        writable_file(args.json, "--json")
    policies = read_policies(args.models)
    errors = torque_errors(policies["f32"], {d: policies[d] for d in ("int8", "q15")}, args.states)
    print(f"torque error vs float on {args.states} held-out states (theta in [-pi, pi], theta_dot in [-8, 8]):")
    print(f"  {'dtype':6s} {'max |err| N*m':>14s} {'mean |err| N*m':>15s}")
    for dtype, e in errors.items():
        print(f"  {dtype:6s} {e['max_abs_error_Nm']:14.6f} {e['mean_abs_error_Nm']:15.6f}")
    returns = None if args.no_returns else closed_loop_returns(policies, args.episodes)
    if returns:
        print(f"closed-loop mean return, gymnasium Pendulum-v1, {args.episodes} episodes (seeds 0.."
              f"{args.episodes - 1}; other periods normalised to the 50 ms scale):")
        names = list(returns["f32"])
        print(f"  {'dtype':6s}" + "".join(f"{n:>14s}" for n in names))
        for dtype, row in returns.items():
            print(f"  {dtype:6s}" + "".join(f"{row[n]:14.2f}" for n in names))
        for dtype in ("int8", "q15"):
            rel = [100 * (returns[dtype][n] - returns["f32"][n]) / abs(returns["f32"][n]) for n in names]
            print(f"  {dtype + ' Δ%':6s}" + "".join(f"{r:+13.2f}%" for r in rel))
    if args.json:
        try:
            args.json.write_text(json.dumps({"torque_error": errors, "returns": returns}, indent=1) + "\n")
        except OSError as exc:
            raise UserError(f"--json {args.json}: cannot write: {exc.strerror or exc}") from None
    return 0
