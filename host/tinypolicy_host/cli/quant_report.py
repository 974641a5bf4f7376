"""`tinypolicy quant-report`: command line of `tinypolicy_host.quantize.report` (argument parsing, error reporting)."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import UserError
from ..paths import MODELS
from ..quantize.report import closed_loop_returns, read_policies, torque_errors
from ..userpaths import writable_file


def add_arguments(parser):
    parser.add_argument("--models", type=Path, default=MODELS, help="folder with policy_{f32,int8,int8_a8,q15}.bin")
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
    ints = [s for s in policies if s != "f32"]
    errors = torque_errors(policies["f32"], {s: policies[s] for s in ints}, args.states)
    print(f"torque error vs float on {args.states} held-out states (theta in [-pi, pi], theta_dot in [-8, 8]); "
          f"unsaturated: |u_float| < {errors[ints[0]]['unsaturated']['threshold_Nm']:g} N*m:")
    print(f"  {'scheme':6s} {'max |err|':>10s} {'mean |err|':>11s} {'unsat median':>13s} {'unsat p99':>10s} "
          f"{'unsat max':>10s}  (N*m)")
    for scheme, e in errors.items():
        u = e["unsaturated"]
        print(f"  {scheme:6s} {e['max_abs_error_Nm']:10.5f} {e['mean_abs_error_Nm']:11.5f} {u['median_Nm']:13.5f} "
              f"{u['p99_Nm']:10.5f} {u['max_Nm']:10.5f}")
    returns = None if args.no_returns else closed_loop_returns(policies, args.episodes)
    if returns:
        print(f"closed-loop mean return, gymnasium Pendulum-v1, {args.episodes} episodes (seeds 0.."
              f"{args.episodes - 1}; other periods normalised to the 50 ms scale):")
        names = list(returns["f32"])
        print(f"  {'scheme':9s}" + "".join(f"{n:>14s}" for n in names))
        for scheme, row in returns.items():
            print(f"  {scheme:9s}" + "".join(f"{row[n]:14.2f}" for n in names))
        for scheme in ints:
            rel = [100 * (returns[scheme][n] - returns["f32"][n]) / abs(returns["f32"][n]) for n in names]
            print(f"  {scheme + ' Δ%':9s}" + "".join(f"{r:+13.2f}%" for r in rel))
    if args.json:
        try:
            args.json.write_text(json.dumps({"torque_error": errors, "returns": returns}, indent=1) + "\n")
        except OSError as exc:
            raise UserError(f"--json {args.json}: cannot write: {exc.strerror or exc}") from None
    return 0
