"""`tinypolicy quant-report`: command line of `tinypolicy_host.quantize.report` (argument parsing, error reporting)."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import UserError
from ..paths import MODELS
from ..quantize.report import closed_loop_returns, read_policies, torque_errors
from ..userpaths import writable_file


def add_arguments(parser):
    parser.add_argument("--models", type=Path, default=MODELS, help="folder with policy_{f32,int8,q15}.bin")
    parser.add_argument("--states", type=int, default=20000, help="held-out states for the torque error")
    parser.add_argument("--episodes", type=int, default=500, help="closed-loop episodes per policy (seeds 0..N-1)")
    parser.add_argument("--no-returns", action="store_true", help="torque errors only")
    parser.add_argument("--json", type=Path, default=None, help="also write the report as JSON")


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
