"""`tinypolicy convert` as a library call: ONNX file → blobs, metadata.json, golden vectors, accuracy report.

DIR/policy_{int8,q15,f32}.bin (int8 = the default int8 scheme, w8a16), DIR/metadata.json, DIR/golden/ (golden
vectors from the host integer reference, replayed by `tinypolicy verify`). Accuracy: every blob (and the w8a8
int8 scheme, for comparison) against onnxruntime on the calibration rows and the held-out rows.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .accuracy import class_mismatch, error_stats, format_table, goal_misses, output_ranges
from .artifacts import BOX_ROWS, blob_models, write_artifacts
from .build import Converted, build_spec
from .calib import CalibData, load_calibration
from .errors import ConvertError
from .onnx_graph import graph_mlp, load_onnx, simplify
from .reference import ort_forward

DTYPES = ("int8", "q15", "f32")
@dataclass
class Options:
    calib: Path | None = None
    input_range: str | None = None
    dtypes: tuple[str, ...] = DTYPES
    angle_inputs: tuple[int, ...] = ()
    discrete: bool = False
    output: str | None = None
    simplify: bool = True
    seed: int = 0
    box_rows: int = BOX_ROWS  # uniform rows in the declared input ranges added to the quantizer's calibration


@dataclass
class Result:
    out_dir: Path
    converted: Converted
    data: CalibData
    models: dict = field(default_factory=dict)  # kind ('int8' = w8a16, 'w8a8', 'q15', 'f32') → model with .forward
    rows: list[dict] = field(default_factory=list)  # accuracy rows (format_table)
    misses: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)

    def report(self) -> str:
        names = [o.name for o in self.converted.spec.outputs]
        lines = [format_table(self.rows, names)]
        met = "goals met (int8 p99 <= 1 %, q15 p99 <= 0.05 % of each output's calibrated range)"
        lines += [f"goal missed: {m}" for m in self.misses] or [met]
        return "\n".join(lines)


def parse_dtypes(text: str) -> tuple[str, ...]:
    out = tuple(d.strip() for d in text.split(",") if d.strip())
    bad = [d for d in out if d not in DTYPES]
    if bad or not out:
        raise ConvertError(f"--dtype: {text!r}: choose from {','.join(DTYPES)}")
    return out


def convert_model(model_path: Path, opts: Options) -> tuple[Converted, CalibData]:
    """ONNX → MLPSpec with ranges from the calibration data (no files written)."""
    model = load_onnx(model_path)
    model, simplifier = simplify(model) if opts.simplify else (model, "none")
    try:
        g = graph_mlp(model, opts.output, simplifier)
    except ConvertError as exc:
        raise ConvertError(f"{model_path}: {exc}") from None
    data = load_calibration(g.n_columns, opts.calib, opts.input_range, list(opts.angle_inputs), opts.seed)
    conv = build_spec(g, data.calib, data.names, list(opts.angle_inputs), opts.discrete)
    return conv, data


def ort_reference(model_path: Path, conv: Converted, x: np.ndarray) -> np.ndarray:
    """onnxruntime outputs for ONNX-space rows x; an argmax head's class labels mapped back to indices."""
    g = conv.graph
    y = ort_forward(model_path, g.input_name, g.output_name, x)
    if conv.spec.argmax and g.labels is not None:
        lookup = {float(v): k for k, v in enumerate(g.labels)}
        y = np.array([[lookup[float(v)]] for v in y[:, 0]], np.float64)
    elif conv.spec.argmax and not g.argmax:  # --discrete on logits: onnxruntime's argmax of them
        y = np.argmax(y, axis=1).astype(np.float64)[:, None]
    return y


def accuracy_row(kind: str, split: str, got, ref, ranges, argmax: bool) -> dict:
    if argmax:
        return {"blob": kind, "split": split, "classes": class_mismatch(got, ref)}
    return {"blob": kind, "split": split, "stats": error_stats(got, ref), "ranges": ranges}


def run_convert(model_path: Path, out_dir: Path, opts: Options) -> Result:
    """Convert, write every artifact into out_dir, and measure accuracy. ConvertError for a user's mistake."""
    model_path, out_dir = Path(model_path), Path(out_dir).resolve()
    conv, data = convert_model(model_path, opts)
    spec = conv.spec
    x_cal, x_held = conv.sensor_rows(data.calib), conv.sensor_rows(data.held_out)
    ref_cal, ref_held = ort_reference(model_path, conv, data.calib), ort_reference(model_path, conv, data.held_out)
    ranges = output_ranges(ref_cal)
    result = Result(out_dir, conv, data, models=blob_models(spec, x_cal, opts.dtypes, opts.box_rows))
    for kind, model in [("float64", spec), *result.models.items()]:
        for split, x, ref in (("calib", x_cal, ref_cal), ("held-out", x_held, ref_held)):
            row = accuracy_row(kind, split, model.forward(x), ref, ranges, spec.argmax)
            result.rows.append(row)
            if "stats" in row:
                result.misses += [f"{kind} {split} {m}" for m in goal_misses(kind, row["stats"], ranges)]
    result.written, result.metadata = write_artifacts(model_path, out_dir, result, opts)
    return result
