"""`tinypolicy eval`: command line of `tinypolicy_host.evaluation` (argument parsing, error reporting).

Without --env: the shipped pendulum policy on Pendulum-v1 settings (evaluation.gym). With --env ENV_ID --model
BLOB: any Gymnasium task (evaluation.episodes), the blob's host reference or, with --device, the device."""
import argparse
import sys
from pathlib import Path

from ..errors import UserError
from ..evaluation.gym import SETTINGS, evaluate, format_table, results_table, swing_up
from ..paths import DEFAULT_MODEL, DEFAULT_SPEC
from ..userpaths import writable_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spec", type=Path,
                        help="float spec .npz (MLPSpec; default: models/policy_spec.npz, the shipped policy)")
    parser.add_argument("--env", metavar="ENV_ID",
                        help="any Gymnasium task with a flat Box observation and Box/Discrete actions "
                             "(needs --model; default: the pendulum settings)")
    parser.add_argument("--episodes", type=int,
                        help="episodes (seeds 0..N-1, or S..S+N-1 with --seed); default 500, with --env 100")
    parser.add_argument("--seed", type=int, help="--env only: first episode seed (default 0)")
    parser.add_argument("--dtype", action="append", choices=("float", "int8", "int8_a8", "q15"),
                        help="policy versions to evaluate (repeatable; default all; int8 = w8a16, int8_a8 = w8a8)")
    parser.add_argument("--expert", action="store_true", help="evaluate the expert controller instead")
    parser.add_argument("--json", type=Path, help="also write the table as JSON")
    dev = parser.add_argument_group("policy on the device (gymnasium on the host, torques from `tinypolicy serve`)")
    dev.add_argument("--device", action="store_true",
                     help="run the policy on the device: the unix MicroPython port, or --port for a board")
    dev.add_argument("--model", type=Path,
                     help="blob the device runs and the host checks against (default models/policy_int8.bin); "
                          "with --env the blob to evaluate (on the host unless --device)")
    dev.add_argument("--port", help="serial port of a flashed board, or `vboard` (default: unix port subprocess)")
    dev.add_argument("--variant", choices=("mpy", "src"),
                     help="unix port: the x64 .mpy build (default) or the source package")
    dev.add_argument("--setting", action="append", choices=tuple(SETTINGS),
                     help="control period / noise settings to run (repeatable; default all)")


def run(args) -> int:
    import json

    from ..contract.spec import load_spec_file

    if args.episodes is None:
        args.episodes = 100 if args.env else 500
    if args.episodes < 1:
        raise UserError("--episodes: must be at least 1")
    check_flags(args)
    if args.json:
        writable_file(args.json, "--json")
    if args.env:
        return run_env(args)
    if args.device:
        return run_on_device(args)
    if args.expert:
        from ..training.expert import expert_torque

        table = {"episodes": args.episodes, "seeds": f"0..{args.episodes - 1}", "env": "gymnasium Pendulum-v1",
                 "normalisation": "sum(reward) * dt / 0.05", "returns": {}, "swing_up": {}, "vs_float_percent": {}}
        for name, (dt, noise) in SETTINGS.items():
            def pol(th, thd, dt=dt):
                return expert_torque(th, thd, dt)
            table["returns"].setdefault("expert", {}).update(evaluate(pol, args.episodes, {name: (dt, noise)}))
        table["swing_up"]["expert"] = [swing_up(lambda th, thd, dt=dt: expert_torque(th, thd, dt), dt)
                                       for dt in (0.005, 0.01, 0.02, 0.05)]
    else:
        spec = load_spec_file(args.spec or DEFAULT_SPEC)
        table = results_table(spec, args.episodes, tuple(args.dtype or ("float", "int8", "int8_a8", "q15")),
                              warn=lambda m: print(m, file=sys.stderr))
    print(format_table(table))
    if args.json:
        args.json.write_text(json.dumps(table, indent=2))
    return 0


def check_flags(args) -> None:
    """Flags of the other mode are a mistake, not something to ignore silently (a host run takes minutes)."""
    if args.env:
        pendulum_only = [f for f, given in (("--spec", args.spec), ("--dtype", args.dtype), ("--expert", args.expert),
                                            ("--setting", args.setting)) if given]
        if pendulum_only:
            raise UserError(f"{', '.join(pendulum_only)}: not with --env (the pendulum settings only)")
        if not args.model:
            raise UserError("--env: needs --model BLOB (the policy to run on the task)")
        if not args.device and (args.port or args.variant):
            raise UserError(f"{'--port' if args.port else '--variant'}: only with --device (the policy on the device)")
        return
    if args.seed is not None:
        raise UserError("--seed: only with --env (the pendulum settings use seeds 0..N-1)")
    device_only = [f"--{name}" for name in ("model", "port", "variant", "setting") if getattr(args, name)]
    host_only = [f for f, given in (("--spec", args.spec), ("--dtype", args.dtype), ("--expert", args.expert)) if given]
    if not args.device and device_only:
        raise UserError(f"{', '.join(device_only)}: only with --device (the policy on the device)")
    if args.device and host_only:
        raise UserError(f"{', '.join(host_only)}: not with --device (the device runs the blob given by --model)")


def run_on_device(args) -> int:
    import json

    from ..evaluation.device import evaluate_on_device

    settings = {name: SETTINGS[name] for name in (args.setting or SETTINGS)}
    model = args.model or DEFAULT_MODEL
    result = evaluate_on_device(model, args.episodes, settings, port=args.port, variant=args.variant or "mpy")
    dev = result.pop("device")
    print(f"policy on the device: {dev['link']}, {dev['model']} ({dev['dtype']}); gymnasium Pendulum-v1 on the host, "
          f"seeds 0..{args.episodes - 1}")
    for name, res in result.items():
        print(f"  {name:<11} mean return {res['mean']:9.2f}  (std {res['std']:.2f}, min {res['min']:.2f})")
    exact = "identical in Q12" if dev["dtype"] != "f32" else f"within {1e-5:g} N·m"
    print(f"  {dev['states']} torques from the device in {dev['round_trips']} round trips ({dev['device_seconds']} s); "
          f"{dev['mismatches']} differ from the host reference ({exact} expected; max |diff| "
          f"{dev['max_abs_diff_vs_host']:.3g} N·m)")
    if args.json:
        args.json.write_text(json.dumps({"returns": result, "device": dev}, indent=2))
    return 1 if dev["mismatches"] else 0


def run_env(args) -> int:
    import json

    seed = args.seed or 0
    if args.device:
        from ..evaluation.device import evaluate_env_on_device

        res = evaluate_env_on_device(args.env, args.model, args.episodes, seed, port=args.port,
                                     variant=args.variant or "mpy")
        dev = res["device"]
        where = f"on the device: {dev['link']}"
    else:
        from ..evaluation.episodes import evaluate, read_model

        reference = read_model(args.model)
        res = evaluate(args.env, reference.forward, reference, args.episodes, seed, f"--model {args.model}")
        dev = None
        where = "on the host (the blob's reference arithmetic)"
    print(f"{args.env}: {args.model} {where}; seeds {res['seeds']}")
    print(f"  mean return {res['mean']:.2f} ± {res['std']:.2f} (std; stderr {res['stderr']:.2f}, min {res['min']:.2f},"
          f" max {res['max']:.2f}); {res['steps']} steps, {res['steps_per_s']} steps/s")
    if dev:
        exact = "identical" if dev["dtype"] != "f32" else f"within {1e-5:g}"
        print(f"  {dev['states']} answers from the device ({dev['dtype']}) in {dev['round_trips']} round trips "
              f"({dev['device_seconds']} s); {dev['mismatches']} differ from the host reference ({exact} expected;"
              f" max |diff| {dev['max_abs_diff_vs_host']:.3g})")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    return 1 if dev and dev["mismatches"] else 0
