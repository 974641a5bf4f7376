"""What `tinypolicy convert` writes: blobs (through the v2 quantizer and blob writer), golden vectors, metadata.json.

Blob kinds: 'int8' = the default int8 scheme (w8a16: int8 weights, 16-bit activations), 'q15', 'f32'; 'w8a8'
(8-bit activations) is quantized for the accuracy table only. The quantizer sees the calibration rows plus
`box_rows` rows drawn uniformly inside the declared input ranges (angles over ±π), so activation scales cover the
inputs the blob accepts, not only the calibration sample. Measured with tools/convert_accuracy.py (held-out p99
of the worst output, w8a16, without → with 2048 box rows): sklearn MLPRegressor pipeline (normal data, tails
past the calibration maxima) 0.167 → 0.0099; SB3 SAC actor 0.0044 → 0.0066; hand-made graph 0.070 → 0.088.
Golden vectors (DIR/golden/) come from the host integer reference via export.golden; `tinypolicy verify DIR`
replays them on the unix port or a board.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import ConvertError
from .files import METADATA_FORMAT, sha256, write_json

BLOB_SCHEME = {"int8": "w8a16", "q15": "q15", "f32": "f32"}
GOLDEN_DIR = "golden"
BOX_ROWS = 2048
BLOB_NAME = "policy_{}.bin"


def blob_models(spec, x_cal: np.ndarray, dtypes, n_box: int = BOX_ROWS) -> dict:
    """kind → QuantMLP (int8 / w8a8 / q15) or the float32 MLPSpec (f32), each with .forward(x) → floats."""
    from ..contract.reference import Int32Overflow
    from ..quantize.quant import quantize

    x_q = np.concatenate([x_cal, box_rows(spec, n_box)]) if n_box else x_cal
    out = {}
    for d in dtypes:
        kinds = [("int8", "w8a16"), ("w8a8", "w8a8")] if d == "int8" else [(d, BLOB_SCHEME[d])]
        for kind, scheme in kinds:
            try:
                out[kind] = spec.float32() if scheme == "f32" else quantize(spec, scheme, x_q)
            except (Int32Overflow, ValueError) as exc:
                raise ConvertError(f"{kind}: cannot quantize this model: {exc}") from None
    return out


def box_rows(spec, n: int, seed: int = 0) -> np.ndarray:
    """n rows uniform inside the declared input ranges (angle inputs: uniform in [−π, π])."""
    rng = np.random.default_rng(seed)
    lo = np.array([-np.pi if i.kind == "angle" else i.lo for i in spec.inputs])
    hi = np.array([np.pi if i.kind == "angle" else i.hi for i in spec.inputs])
    return rng.uniform(lo, hi, (n, len(lo)))


def write_artifacts(model_path: Path, out_dir: Path, result, opts) -> tuple[list[Path], dict]:
    """Blobs, golden vectors and metadata.json into out_dir; returns (written files, metadata)."""
    from ..contract.blob import write_blob
    from ..export.golden import write_golden_net

    out_dir.mkdir(parents=True, exist_ok=True)
    spec = result.converted.spec
    blobs, quantized, written, files = {}, {}, [], {}
    for kind, model in result.models.items():
        if kind not in BLOB_SCHEME:
            continue
        path = out_dir / BLOB_NAME.format(kind)
        write_blob(path, model)
        written.append(path)
        files[kind] = path
        scheme = BLOB_SCHEME[kind]
        blobs[scheme] = path
        if scheme != "f32":
            quantized[scheme] = model
    golden_rows = np.concatenate([result.converted.sensor_rows(result.data.calib),
                                  result.converted.sensor_rows(result.data.held_out)])
    entry, gfiles = write_golden_net(out_dir / GOLDEN_DIR, "model", spec, quantized, golden_rows, blobs)
    written += gfiles
    meta = {
        "format": METADATA_FORMAT,
        "source": {"file": Path(model_path).name, "sha256": sha256(model_path),
                   "input": result.converted.graph.input_name, "output": result.converted.graph.output_name,
                   "simplifier": result.converted.graph.simplifier},
        "inputs": inputs_table(result.converted),
        "outputs": [{"name": o.name, "frac": o.frac, "scale": o.scale, "offset": o.offset, "lo": o.lo, "hi": o.hi}
                    for o in spec.outputs],
        "argmax": spec.argmax,
        "class_labels": result.converted.graph.labels,
        "layers": layers_table(result.converted),
        "blobs": {kind: {"file": p.name, "scheme": BLOB_SCHEME[kind], "bytes": p.stat().st_size,
                         "sha256": sha256(p)} for kind, p in files.items()},
        "calibration": calibration_report(result),
        "accuracy": {"rows": result.rows, "goal_misses": result.misses},
        "golden": relative_entry(entry, out_dir),
        "options": {"dtypes": list(opts.dtypes), "angle_inputs": list(opts.angle_inputs),
                    "discrete": opts.discrete, "seed": opts.seed, "box_rows": opts.box_rows},
    }
    path = out_dir / "metadata.json"
    write_json(path, meta)
    written.append(path)
    return written, meta


def inputs_table(conv) -> list[dict]:
    rows, col = [], 0
    for inp in conv.spec.inputs:
        cols = [col, col + 1] if inp.kind == "angle" else [col]
        col += len(cols)
        rows.append({"name": inp.name, "kind": inp.kind, "frac": inp.frac, "offset": inp.offset, "scale": inp.scale,
                     "lo": inp.lo, "hi": inp.hi, "onnx_columns": cols})
    return rows


def layers_table(conv) -> list[dict]:
    return [{"n_in": int(d.weight.shape[1]), "n_out": int(d.weight.shape[0]), "activation": d.activation,
             **({"lo": d.lo, "hi": d.hi} if d.activation == "clip" else {}), "onnx_node": node}
            for d, node in zip(conv.spec.layers, conv.graph.layer_nodes, strict=False)]


def calibration_report(result) -> dict:
    """Rows used, input ranges, float activation ranges per layer, and how many rows saturate where."""
    conv, data = result.converted, result.data
    spec = conv.spec
    x_cal, x_held = conv.sensor_rows(data.calib), conv.sensor_rows(data.held_out)
    acts = spec.activations(x_cal)
    report = {"source": data.source, "rows": len(data.calib), "held_out_rows": len(data.held_out),
              "activation_ranges": [{"layer": k, "min": float(a.min()), "max": float(a.max())}
                                    for k, a in enumerate(acts)],
              "inputs_clipped": {}, "integer_clamps": {}}
    for i, inp in enumerate(spec.inputs):
        if inp.kind == "affine":
            report["inputs_clipped"][inp.name] = {
                split: int(np.sum((x[:, i] < inp.lo) | (x[:, i] > inp.hi)))
                for split, x in (("calib", x_cal), ("held_out", x_held))}
    for kind, model in result.models.items():
        if hasattr(model, "trace"):
            _, traces, _ = model.trace(model.quantize_inputs(x_cal))
            report["integer_clamps"][kind] = [int(np.sum(np.any(_at_clamp(t.y, layer), axis=1)))
                                              for t, layer in zip(traces, model.layers, strict=True)]
    return report


def _at_clamp(y: np.ndarray, layer) -> np.ndarray:
    """Units saturated at their integer clamp (relu: only at hi; 0 is relu's own floor, not a saturation)."""
    top = y >= layer.hi
    return top if layer.activation == "relu" else top | (y <= layer.lo)


def format_calibration(report: dict) -> str:
    lines = [f"calibration: {report['source']}: {report['rows']} rows, {report['held_out_rows']} held out"]
    for r in report["activation_ranges"]:
        lines.append(f"  layer {r['layer']} activations in [{r['min']:.4g}, {r['max']:.4g}]")
    for name, c in report["inputs_clipped"].items():
        if c["calib"] or c["held_out"]:
            lines.append(f"  input {name}: clipped to its declared range in {c['calib']} calibration / "
                         f"{c['held_out']} held-out rows")
    for kind, counts in report["integer_clamps"].items():
        if any(counts):
            lines.append(f"  {kind}: calibration rows with a unit at its integer clamp (tanh/sigmoid: table range), "
                         f"per layer: {counts}")
    return "\n".join(lines)


def relative_entry(entry: dict, out_dir: Path) -> dict:
    """The golden manifest entry with paths relative to out_dir (the folder can be moved)."""
    def rel(p):
        p = Path(p)
        if not p.is_absolute():
            from ..paths import REPO

            p = REPO / p
        try:
            return str(p.resolve().relative_to(out_dir.resolve()))
        except ValueError:
            return str(p)

    out = dict(entry)
    out["dir"] = rel(entry["dir"])
    out["blobs"] = [{k: (rel(v) if k in ("blob", "golden", "layers") else v) for k, v in b.items()}
                    for b in entry["blobs"]]
    return out
