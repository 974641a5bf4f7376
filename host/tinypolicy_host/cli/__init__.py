"""`tinypolicy` console script: one subcommand per host tool.

Each subcommand lives in its own module of this package, exposing `add_arguments(parser)` and `run(args) -> int`:
argument parsing and error reporting only. The work is done by the library subpackages, which never import `cli`.
Only the module of the subcommand being run is imported, so `tinypolicy --help` stays fast.
"""
import argparse
import importlib
import sys

from ..errors import UserError

# name -> (module, one-line help)
COMMANDS = {
    "train": ("train", "train the pendulum policy (behaviour cloning, rollout fine-tuning, evolution strategies)"),
    "export": ("export", "export a trained checkpoint: ONNX, metadata.json, f32/int8/q15 blobs, golden vectors"),
    "convert": ("convert", "ONNX MLP (torch, sklearn, Keras, SB3 actor) → blobs, metadata, golden vectors, accuracy"),
    "verify": ("verify", "replay a converted model's golden vectors on the unix port or a flashed board"),
    "quant-report": ("quant_report", "float vs int8 vs Q15: torque error and closed-loop return"),
    "eval": ("eval", "evaluate a policy on gymnasium Pendulum-v1 or any task (--env; host reference or device)"),
    "zoo": ("zoo", "train, convert and evaluate the policy zoo (SB3 on Gymnasium tasks) into models/zoo"),
    "mpy": ("mpy", "compile the device packages with mpy-cross for every target architecture"),
    "demo": ("demo", "closed-loop pendulum on the unix MicroPython port, log + plots + summary"),
    "vboard": ("vboard", "virtual board: unix MicroPython behind a pseudo-terminal"),
    "flash": ("flash", "deploy device packages, blobs, config and board module with mpremote"),
    "devtest": ("devtest", "run the device test suite (tests/device) on a flashed board or the virtual board"),
    "monitor": ("monitor", "start the app on a board and capture its CSV log"),
    "plot": ("plot", "plot a captured CSV log"),
    "animate": ("animate", "animate a captured CSV log into a GIF (pendulum + live angle/torque plots)"),
    "bench": ("bench", "benchmarks: latency, memory, code size, tick timing"),
    "cycles": ("cycles", "RP2040 cycle model: the asm_thumb kernel and the C reference on an emulated Cortex-M0+"),
    "dist": ("dist", "release artifacts: per-arch .mpy zips, mip package.json, host wheel + sdist, SHA256SUMS"),
    "lint": ("lint", "ruff on host and device code, type check of the device code against each board's stubs"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tinypolicy", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module, help_text) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        sp.set_defaults(_module=module)
        if name == only:
            _load(module).add_arguments(sp)
    return parser


def _load(module: str):
    return importlib.import_module(f"tinypolicy_host.cli.{module}")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    only = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(only if only in COMMANDS else None).parse_args(argv)
    try:
        return int(_load(args._module).run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

