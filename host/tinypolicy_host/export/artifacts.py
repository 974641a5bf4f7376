"""`tinypolicy export`: a trained pendulum MLPSpec → everything the rest of the system uses.

models/: tiny_policy.onnx (float, input stage included), metadata.json, policy_f32.bin, policy_int8.bin (the
default int8 scheme, w8a16), policy_int8_a8.bin (w8a8), policy_q15.bin, policy_spec.npz. tests/data/golden/:
golden vectors the device tests replay (export/golden.py; from the host integer reference on the blobs just
written) for the shipped net and the synthetic test nets (export/testnets.py), and their manifest. An export into
another folder OUT puts its golden vectors beside it, in OUT/../golden (`default_golden_dir`).
"""
from __future__ import annotations

import binascii
import datetime
import hashlib
import json
from pathlib import Path

import numpy as np

from ..contract.blob import SCHEME_BLOB_NAMES, blob_size, write_blob
from ..contract.reference import QuantMLP
from ..contract.spec import MLPSpec, pendulum_params
from ..paths import MODELS, REPO, git_commit
from ..quantize.calibration import pendulum_calibration
from ..quantize.quant import quantize
from ..quantize.report import torque_errors
from . import golden as G
from .testnets import TEST_NETS, pendulum_calib, pendulum_rows, rows_for

GOLDEN = REPO / "tests" / "data" / "golden"
ONNX_NAME = "tiny_policy.onnx"
OPSET = 17
INT_SCHEMES = ("w8a16", "w8a8", "q15")
N_PENDULUM_ROWS = 1800


def default_golden_dir(models_out: Path) -> Path:
    """Where the golden vectors of an export into models_out go: tests/data/golden for the repository's models/
    (compared as resolved paths), else `golden` beside models_out (OUT/../golden)."""
    models_out = Path(models_out)
    return GOLDEN if models_out.resolve() == MODELS.resolve() else models_out.parent / "golden"


def spec_digest(spec: MLPSpec) -> str:
    """sha256 over the spec's values (as the blob stores them): identifies the exported policy (for a pendulum
    spec the same digest as version 1's FloatPolicySpec: vel_scale, max_torque, then the layers)."""
    h = hashlib.sha256()
    h.update(np.array(pendulum_params(spec), np.float32).tobytes())
    for layer in spec.layers:
        h.update(layer.activation.encode() + np.asarray(layer.weight, np.float32).tobytes()
                 + np.asarray(layer.bias, np.float32).tobytes())
    return h.hexdigest()


# ---- ONNX ----

def build_onnx(spec: MLPSpec):
    """ONNX model: input `state` (N, 2) float32 [θ, θ̇] → Cos, Sin, Clip(θ̇, ±32), Mul(vel_scale) → Concat (N, 3) →
    Gemm (+ Relu / Tanh / Clip(−1, 1) for hardtanh / Sigmoid) per layer → Clip ±max_torque → output `torque`
    (N, 1)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    vel_scale, max_torque = pendulum_params(spec)

    inits = [
        numpy_helper.from_array(np.array([0], np.int64), "idx0"),
        numpy_helper.from_array(np.array([1], np.int64), "idx1"),
        numpy_helper.from_array(np.array([2], np.int64), "idx2"),
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
        numpy_helper.from_array(np.array([vel_scale], np.float32), "vel_scale"),
        numpy_helper.from_array(np.array(spec.inputs[1].lo, np.float32), "theta_dot_min"),
        numpy_helper.from_array(np.array(spec.inputs[1].hi, np.float32), "theta_dot_max"),
        numpy_helper.from_array(np.array(-max_torque, np.float32), "torque_min"),
        numpy_helper.from_array(np.array(max_torque, np.float32), "torque_max"),
    ]
    nodes = [
        helper.make_node("Slice", ["state", "idx0", "idx1", "axis1"], ["theta"], name="theta"),
        helper.make_node("Slice", ["state", "idx1", "idx2", "axis1"], ["theta_dot"], name="theta_dot"),
        helper.make_node("Cos", ["theta"], ["cos_theta"], name="cos"),
        helper.make_node("Sin", ["theta"], ["sin_theta"], name="sin"),
        helper.make_node("Clip", ["theta_dot", "theta_dot_min", "theta_dot_max"], ["theta_dot_clipped"],
                         name="theta_dot_clip"),
        helper.make_node("Mul", ["theta_dot_clipped", "vel_scale"], ["theta_dot_scaled"], name="vel_scale_mul"),
        helper.make_node("Concat", ["cos_theta", "sin_theta", "theta_dot_scaled"], ["features"], axis=1,
                         name="features"),
    ]
    if any(layer.activation == "hardtanh" for layer in spec.layers):  # only then: relu nets stay byte-identical
        inits += [numpy_helper.from_array(np.array(-1.0, np.float32), "hardtanh_min"),
                  numpy_helper.from_array(np.array(1.0, np.float32), "hardtanh_max")]
    x = "features"
    for k, layer in enumerate(spec.layers):
        inits += [numpy_helper.from_array(layer.weight.astype(np.float32), f"W{k}"),
                  numpy_helper.from_array(layer.bias.astype(np.float32), f"b{k}")]
        nodes.append(helper.make_node("Gemm", [x, f"W{k}", f"b{k}"], [f"z{k}"], transB=1, name=f"dense{k}"))
        x = f"z{k}"
        if layer.activation == "hardtanh":
            nodes.append(helper.make_node("Clip", [x, "hardtanh_min", "hardtanh_max"], [f"h{k}"],
                                          name=f"hardtanh{k}"))
            x = f"h{k}"
        elif layer.activation in ("relu", "tanh", "sigmoid"):
            op = {"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid"}[layer.activation]
            nodes.append(helper.make_node(op, [x], [f"h{k}"], name=f"{layer.activation}{k}"))
            x = f"h{k}"
    nodes.append(helper.make_node("Clip", [x, "torque_min", "torque_max"], ["torque"], name="torque_clip"))
    graph = helper.make_graph(
        nodes, "tiny_policy",
        [helper.make_tensor_value_info("state", TensorProto.FLOAT, ["N", 2])],
        [helper.make_tensor_value_info("torque", TensorProto.FLOAT, ["N", 1])],
        initializer=inits)
    model = helper.make_model(graph, producer_name="tinypolicy", opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    model.doc_string = ("Pendulum policy: state (N, 2) = [theta rad (any wrap), theta_dot rad/s] -> torque (N, 1) "
                        f"N*m clipped to +-{max_torque}; "
                        f"features [cos theta, sin theta, clip(theta_dot, +-{spec.inputs[1].hi})*{vel_scale}]")
    onnx.checker.check_model(model, full_check=True)
    return model


def onnx_forward(model_path, theta, theta_dot) -> np.ndarray:
    """onnxruntime on (θ, θ̇) arrays → torque (N,) float32. model_path: a file, or the serialized model (bytes)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    src = model_path if isinstance(model_path, bytes) else str(model_path)
    sess = ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])
    state = np.stack([np.asarray(theta, np.float32), np.asarray(theta_dot, np.float32)], axis=1)
    return sess.run(["torque"], {"state": state})[0][:, 0]


# ---- golden vectors ----

def write_golden(models_dir: Path, golden_dir: Path, spec: MLPSpec) -> list[Path]:
    """Golden files of the shipped net (blobs in models_dir) and of every TEST_NETS net (blobs in its folder),
    and manifest.json."""
    golden_dir.mkdir(parents=True, exist_ok=True)
    blobs = {s: models_dir / SCHEME_BLOB_NAMES[s] for s in ("f32", *INT_SCHEMES)}
    entry, written = G.write_golden_net(golden_dir / "pendulum", "pendulum", spec, dict.fromkeys(INT_SCHEMES),
                                        pendulum_rows(N_PENDULUM_ROWS, G.GOLDEN_SEED), blobs)
    entries = [entry]
    for k, (name, (build, schemes, pendulum_like, n_rows)) in enumerate(TEST_NETS.items()):
        net = build()
        calib = pendulum_calib() if pendulum_like else rows_for(net, 4096, G.GOLDEN_SEED + 100 + k)
        rows = pendulum_rows(n_rows, G.GOLDEN_SEED + k) if pendulum_like else rows_for(net, n_rows, G.GOLDEN_SEED + k)
        folder = golden_dir / name
        quantized, nblobs = G.quantize_and_write(folder, name, net, calib, schemes)
        entry, files = G.write_golden_net(folder, name, net, quantized, rows, nblobs,
                                          n_layer_rows=8 if net.dims[1] > 64 else 100)
        entries.append(entry)
        written += list(nblobs.values()) + files
    written.append(G.write_manifest(golden_dir, entries))
    return written


# ---- metadata ----


def _file_entry(path: Path, dtype: str | None) -> dict:
    data = path.read_bytes()
    entry = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    if dtype:
        entry["dtype"] = dtype
        entry["crc32"] = f"{binascii.crc32(data[:-4]) & 0xFFFFFFFF:#010x}"
    return entry


def quant_metadata(q: QuantMLP) -> dict:
    """JSON-able quantization parameters of one integer model (the blob's values plus the real scales)."""
    amin, amax = q.act_range
    out = {
        "scheme": q.scheme,
        "description": {
            "w8a8": "int8 weights (symmetric per-output-channel scales), 8-bit activations in int16 buffers "
                    "(relu 0..255), per-unit scales from calibration folded into the next layer's weights, int32 "
                    "bias and accumulator, per-channel integer (mult, shift) requantization, bias correction",
            "w8a16": "as w8a8 with 16-bit activations (relu 0..32767, identity/hardtanh +-32767, tanh/sigmoid "
                     "handed on in Q15): same weight bytes and MAC count",
            "q15": "int16 weights and activations in power-of-two Qm.n formats per layer; int32 accumulator; "
                   "product shift p per layer; mult = 1, shift = fw + fa_in - p - fa_out"}[q.scheme],
        "activation_range": [amin, amax],
        "features": [{"fmult": f.fmult, "fshift": f.fshift, "qoff": f.qoff, "qlo": f.qlo, "qhi": f.qhi,
                      "scale": sc} for f, sc in zip(q.features, q.info.get("feature_scales", [None] * len(
                          q.features)), strict=True)],
        "outputs": [{"frac": o.frac, "omult": o.omult, "oshift": o.oshift, "ooff": o.ooff, "qlo": o.qlo,
                     "qhi": o.qhi} for o in q.outputs],
        "layers": [],
    }
    for layer in q.layers:
        entry = {"activation": layer.activation, "n_in": layer.n_in, "n_out": layer.n_out, "pshift": layer.pshift,
                 "lo": layer.lo, "hi": layer.hi, "mult": layer.mult.tolist(), "shift": layer.shift.tolist()}
        for key in ("fw", "fa_in", "fa_out", "weight_scale", "in_scale", "out_scale", "calib_absmax"):
            if key in layer.info:
                entry[key] = layer.info[key]
        out["layers"].append(entry)
    return out


def build_metadata(spec: MLPSpec, quantized: dict, out_dir: Path, provenance: dict,
                   returns: dict | None, torque_errors: dict) -> dict:
    vel_scale, max_torque = pendulum_params(spec)
    n_params = sum(layer.weight.size + layer.bias.size for layer in spec.layers)
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    prov = {"date": now, "git_commit": git_commit()}
    prov.update(provenance or {})
    prov.update({"spec_sha256": spec_digest(spec), "export_date": now, "export_git_commit": git_commit(),
                 "exporter": "tinypolicy_host.export.artifacts.export_all"})
    schemes = {"f32": "f32", **{s: s for s in quantized}}
    return {
        "format": "tinypolicy-metadata/2",
        "blob_version": 2,
        "model": {
            "inputs": [{"name": "theta", "kind": "angle", "unit": "rad",
                        "range": "any (wrapped to [-pi, pi] by the input stage)", "frac": 12},
                       {"name": "theta_dot", "kind": "affine", "unit": "rad/s", "clip": [-32.0, 32.0],
                        "offset": 0.0, "scale": vel_scale, "frac": 12, "trained_range": [-8.0, 8.0]}],
            "features": [{"name": "cos_theta", "range": [-1.0, 1.0]}, {"name": "sin_theta", "range": [-1.0, 1.0]},
                         {"name": "theta_dot_scaled", "expr": f"theta_dot * {vel_scale}",
                          "range": [-8.0 * vel_scale, 8.0 * vel_scale]}],
            "outputs": [{"name": "torque", "unit": "N*m", "range": [-max_torque, max_torque], "frac": 12,
                         "scale": 1.0, "offset": 0.0}],
            "argmax": False,
            "vel_scale": vel_scale,
            "max_torque": max_torque,
            "dims": spec.dims,
            "layers": [{"n_in": int(layer.weight.shape[1]), "n_out": int(layer.weight.shape[0]),
                        "activation": layer.activation} for layer in spec.layers],
            "n_params": int(n_params),
        },
        "artifacts": {
            ONNX_NAME: {**_file_entry(out_dir / ONNX_NAME, None), "opset": OPSET,
                        "io": "state (N, 2) float32 [theta, theta_dot] -> torque (N, 1) float32"},
            **{SCHEME_BLOB_NAMES[s]: {**_file_entry(out_dir / SCHEME_BLOB_NAMES[s], "int8" if s[:2] == "w8" else s),
                                      "scheme": s} for s in schemes},
        },
        "default_int8_scheme": "w8a16",
        "quantization": {s: quant_metadata(q) for s, q in quantized.items()},
        "calibration": quantized["w8a16"].info.get("calibration"),
        "quantization_error": torque_errors,
        "returns": returns,
        "provenance": prov,
    }


def export_all(spec: MLPSpec, out_dir: Path = MODELS, provenance: dict | None = None,
               returns: dict | None = None, golden_dir: Path | str | None = "auto") -> list[Path]:
    """Write the ONNX model, the four blobs, metadata.json, policy_spec.npz (and golden vectors unless golden_dir
    is None; "auto": default_golden_dir(out_dir))."""
    out_dir = Path(out_dir)
    if golden_dir == "auto":
        golden_dir = default_golden_dir(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = spec.float32()  # the values the blobs hold, so every artifact agrees
    onnx_path = out_dir / ONNX_NAME
    import onnx

    onnx.save(build_onnx(spec), str(onnx_path))
    written = [onnx_path]
    calib = pendulum_calibration(spec)
    quantized = {s: quantize(spec, s, calib) for s in INT_SCHEMES}
    for scheme, model in (("f32", spec), *quantized.items()):
        path = out_dir / SCHEME_BLOB_NAMES[scheme]
        write_blob(path, model)
        dtype = "f32" if scheme == "f32" else model.dtype
        assert path.stat().st_size == blob_size(dtype, spec.dims, spec.n_inputs, spec.n_outputs)
        written.append(path)
    errors = torque_errors(spec, quantized)
    meta = build_metadata(spec, quantized, out_dir, provenance or {}, returns, errors)
    meta_path = out_dir / "metadata.json"
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    written.append(meta_path)
    spec_path = out_dir / "policy_spec.npz"  # the float spec itself: `tinypolicy eval` / `quant-report` default
    spec.save(spec_path)
    written.append(spec_path)
    if golden_dir is not None:
        written += write_golden(out_dir, Path(golden_dir), spec)
    return written
