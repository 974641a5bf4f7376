"""`tinypolicy convert`: command line of `tinypolicy_host.convert` (argument parsing, error reporting)."""
from __future__ import annotations

from pathlib import Path

from ..convert.artifacts import BOX_ROWS
from ..errors import UserError


def add_arguments(parser):
    parser.add_argument("model", type=Path, help="the ONNX model (an MLP: torch, sklearn/skl2onnx, Keras, SB3 actor)")
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
    parser.add_argument("--no-device-check", action="store_true",
                        help="skip replaying the golden vectors on the unix MicroPython port")


def _indices(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise UserError(f"--angle-inputs: {text!r}: expected column indices like 0,3") from None


def run(args) -> int:
    from ..convert.artifacts import format_calibration
    from ..convert.pipeline import Options, parse_dtypes, run_convert
    from ..convert.verify import format_results, verify_unix
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
    if args.no_device_check:
        return 0
    results = verify_unix(args.out)
    print("unix port, golden vectors:\n" + format_results(results))
    return 0 if all(r.ok for r in results) else 1
