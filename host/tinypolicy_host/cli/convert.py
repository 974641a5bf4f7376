"""`tinypolicy convert`: command line of `tinypolicy_host.convert` (argument parsing, error reporting)."""
from __future__ import annotations

from pathlib import Path

from ..convert.artifacts import BOX_ROWS
from ..errors import UserError


def add_arguments(parser):
    parser.add_argument("model", type=Path,
                        help="the ONNX model (an MLP: torch, sklearn/skl2onnx, Keras, SB3 actor), or a "
                             "Stable-Baselines3 .zip (PPO/A2C/SAC/TD3/DDPG/DQN/TQC MlpPolicy; it holds pickles: "
                             "convert only files you trust)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (blobs, metadata.json, golden/)")
    parser.add_argument("--calib", type=Path, default=None,
                        help="calibration rows: CSV with a header of input names, or .npy (rows, n); 20 %% are "
                             "held out for the accuracy report")
    parser.add_argument("--input-range", default=None, metavar="LO:HI[,LO:HI...]",
                        help="without --calib: per-column input ranges (one for all, or one per column)")
    parser.add_argument("--dtype", default="int8,q15,f32", help="blobs to write (default: int8,q15,f32)")
    parser.add_argument("--angle-inputs", default="", metavar="I,...",
                        help="columns I and I+1 are cos θ, sin θ of one angle: the blob takes θ (rad) instead")
    parser.add_argument("--discrete", action="store_true", help="argmax head over the outputs (class index)")
    parser.add_argument("--box-rows", type=int, default=BOX_ROWS, metavar="N",
                        help="also calibrate the integer scales on N rows uniform in the declared input ranges "
                             "(0: calibration rows only)")
    parser.add_argument("--output", default=None, help="graph output to convert (default: the first)")
    parser.add_argument("--no-simplify", action="store_true", help="skip onnxsim / onnxoptimizer")
    sb3 = parser.add_argument_group("Stable-Baselines3 .zip")
    sb3.add_argument("--vecnormalize", type=Path, help="the VecNormalize .pkl saved with the model (trusted file)")
    sb3.add_argument("--env", metavar="ENV_ID",
                     help="Gymnasium task: calibrate on rollouts of the deterministic policy (else: uniform rows in "
                          "the input ranges)")
    sb3.add_argument("--episodes", type=int, default=20, help="calibration rollouts with --env (default 20)")
    parser.add_argument("--no-device-check", action="store_true",
                        help="skip replaying the golden vectors on the unix MicroPython port")


def _indices(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise UserError(f"--angle-inputs: {text!r}: expected column indices like 0,3") from None


def run(args) -> int:
    if args.model.suffix.lower() == ".zip":
        return run_sb3(args)
    given = [f"--{n}" for n in ("vecnormalize", "env") if getattr(args, n)]
    if given:
        raise UserError(f"{', '.join(given)}: only for a Stable-Baselines3 .zip")
    from ..convert.artifacts import format_calibration
    from ..convert.pipeline import Options, parse_dtypes, run_convert
    from ..userpaths import folder

    folder(args.out, "--out")
    opts = Options(calib=args.calib, input_range=args.input_range, dtypes=parse_dtypes(args.dtype),
                   angle_inputs=_indices(args.angle_inputs), discrete=args.discrete, output=args.output,
                   simplify=not args.no_simplify, box_rows=args.box_rows)
    if args.box_rows < 0:
        raise UserError(f"--box-rows: {args.box_rows}: must be >= 0")
    result = run_convert(args.model, args.out, opts)
    spec = result.converted.spec
    print(f"{args.model}: {spec.n_inputs} inputs → {' → '.join(str(d) for d in spec.dims[1:])}"
          f" ({', '.join(d.activation for d in spec.layers)})" + (", argmax head" if spec.argmax else ""))
    print(format_calibration(result.metadata["calibration"]))
    print(result.report())
    print(f"wrote {len(result.written)} files to {args.out}")
    return _device_check(args)


def run_sb3(args) -> int:
    from ..convert.pipeline import parse_dtypes
    from ..convert.sb3_convert import INT_SCHEMES, convert_sb3
    from ..userpaths import folder

    onnx_only = [f for f, given in (("--calib", args.calib), ("--input-range", args.input_range),
                                    ("--angle-inputs", args.angle_inputs), ("--discrete", args.discrete),
                                    ("--output", args.output), ("--no-simplify", args.no_simplify)) if given]
    if onnx_only:
        raise UserError(f"{', '.join(onnx_only)}: only for an ONNX model (an SB3 zip brings its own)")
    if args.episodes < 1:
        raise UserError("--episodes: must be at least 1")
    dtypes = parse_dtypes(args.dtype)
    schemes = tuple(s for s in INT_SCHEMES if ("int8" if s.startswith("w8") else s) in dtypes)
    folder(args.out, "--out")
    meta = convert_sb3(args.model, args.out, args.vecnormalize, args.env, args.episodes, schemes)
    m, src = meta["model"], meta["source"]
    print(f"{args.model}: {src['algo'].upper()} actor, {len(m['inputs'])} inputs → "
          f"{' → '.join(str(d) for d in m['dims'][1:])} ({', '.join(d['activation'] for d in m['layers'])})"
          + (", argmax head" if m["argmax"] else ""))
    chk = meta["checks"]
    print(f"  f32 vs SB3 predict(deterministic=True): max |diff| {chk['f32_vs_predict_max_abs']:.3g}, ONNX "
          f"{chk['onnx_vs_predict_max_abs']:.3g} on {chk['held_out_rows']} held-out observations "
          f"(calibration: {meta['calibration']['rows']} rows, {meta['calibration']['from']})")
    for scheme, err in meta["action_error"].items():
        what = (f"{100 * err['class_mismatch']:.2f} % other actions" if "class_mismatch" in err else
                "mean |Δ| " + ", ".join(f"{v:.4g}" for v in err["mean_abs"]) + "; max |Δ| "
                + ", ".join(f"{v:.4g}" for v in err["max_abs"]))
        print(f"  {scheme:<6} vs float: {what}")
    print(f"wrote {len(meta['artifacts'])} files + golden/ and metadata.json to {args.out}")
    return _device_check(args)


def _device_check(args) -> int:
    """Replay DIR's golden vectors on the unix port (unless --no-device-check); exit status."""
    from ..convert.verify import format_results, verify_unix

    if args.no_device_check:
        return 0
    results = verify_unix(args.out)
    print("unix port, golden vectors:\n" + format_results(results))
    return 0 if all(r.ok for r in results) else 1
