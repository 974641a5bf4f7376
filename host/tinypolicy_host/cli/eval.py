"""`tinypolicy eval`: command line of `tinypolicy_host.evaluation.gym` (argument parsing, error reporting)."""
import argparse
import sys
from pathlib import Path

from ..errors import UserError
from ..evaluation.gym import DEFAULT_SPEC, SETTINGS, evaluate, format_table, results_table, swing_up
from ..paths import MODELS
from ..userpaths import writable_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spec", type=Path,
                        help="float spec .npz (MLPSpec; default: models/policy_spec.npz, the shipped policy)")
    parser.add_argument("--episodes", type=int, default=500, help="episodes (seeds 0..N-1), default 500")
    parser.add_argument("--dtype", action="append", choices=("float", "int8", "int8_a8", "q15"),
                        help="policy versions to evaluate (repeatable; default all; int8 = w8a16, int8_a8 = w8a8)")
    parser.add_argument("--expert", action="store_true", help="evaluate the expert controller instead")
    parser.add_argument("--json", type=Path, help="also write the table as JSON")
    dev = parser.add_argument_group("policy on the device (gymnasium on the host, torques from `tinypolicy serve`)")
    dev.add_argument("--device", action="store_true",
                     help="run the policy on the device: the unix MicroPython port, or --port for a board")
    dev.add_argument("--model", type=Path,
                     help="blob the device runs and the host checks against (default models/policy_int8.bin)")
    dev.add_argument("--port", help="serial port of a flashed board, or `vboard` (default: unix port subprocess)")
    dev.add_argument("--variant", choices=("mpy", "src"),
                     help="unix port: the x64 .mpy build (default) or the source package")
    dev.add_argument("--setting", action="append", choices=tuple(SETTINGS),
                     help="control period / noise settings to run (repeatable; default all)")


def run(args) -> int:
    import json

    from ..contract.spec import load_spec_file

    if args.episodes < 1:
        raise UserError("--episodes: must be at least 1")
    check_flags(args)
    if args.json:
        writable_file(args.json, "--json")
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
    model = args.model or MODELS / "policy_int8.bin"
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
