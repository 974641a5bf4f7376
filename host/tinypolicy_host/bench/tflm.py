"""TensorFlow Lite Micro (PyPI `tflite-micro`) running the same MLP as the int8 blob, for the scaling table.

The `.tflite` is built with the flatbuffer model editor the wheel ships (`tflite_micro...compression.model_editor`,
no TensorFlow) from the float MLPSpec and calibration rows, quantized the way the TFLite converter does for
int8 FULLY_CONNECTED: per-output-channel symmetric int8 weights (scale max|W_j| / 127), int32 bias at scale
s_in·s_w_j, asymmetric int8 activations (scale (max − min) / 255 over the calibration rows, min ≤ 0 ≤ max,
zero point so that min ↦ −128), relu fused. Its input is the MLP's first-layer features (the input stage, e.g.
the pendulum's cos/sin, is not part of the TFLM graph) and its output the last layer's pre-output-stage values.

TFLM's int8 arithmetic (8-bit activations, gemmlowp-style fixed-point multipliers with zero points) is not
TinyPolicy's (symmetric scales, 16-bit activations by default, (mult, shift) requantization), so its outputs
are not bit-identical to the blob's: `agreement` reports how far apart they are. The comparison is about cost.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from ..contract.spec import MLPSpec

ARENA = 64 * 1024  # tensor arena bytes (activations of a 256-wide net need ~1 KB)
INVOKE_SYMBOL = "tflite::micro::MicroInterpreter::Invoke()"


def _qparams(lo: float, hi: float) -> tuple[float, int]:
    """Asymmetric int8 (scale, zero point) of a calibrated range widened to contain 0."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = (hi - lo) / 255.0 if hi > lo else 1.0
    return scale, int(np.clip(round(-128 - lo / scale), -128, 127))


def build_tflite(spec: MLPSpec, calib) -> tuple[bytes, dict]:
    """(.tflite bytes, quantization info {"in": (scale, zp), "out": (scale, zp)}) of the spec's dense layers."""
    from tflite_micro.tensorflow.lite.micro.compression import model_editor as me
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    feats = spec.features(calib)
    acts = spec.activations(calib)
    fused = {"relu": fb.ActivationFunctionType.RELU, "identity": fb.ActivationFunctionType.NONE}
    x_scale, x_zp = _qparams(float(feats.min()), float(feats.max()))
    info = {"in": (x_scale, x_zp)}
    sg = me.Subgraph()
    x = sg.add_tensor(shape=(1, spec.dims[0]), dtype=fb.TensorType.INT8, name="x",
                      quantization=me.Quantization(scales=x_scale, zero_points=x_zp))
    sg.inputs.append(x)
    for k, (layer, a) in enumerate(zip(spec.layers, acts, strict=True)):
        if layer.activation not in fused:
            raise ValueError(f"layer {k}: activation {layer.activation} has no fused TFLM equivalent here")
        W = np.asarray(layer.weight, np.float64)
        s_w = np.maximum(np.abs(W).max(axis=1), 1e-12) / 127.0
        wq = np.clip(np.round(W / s_w[:, None]), -127, 127).astype(np.int8)
        bq = np.round(np.asarray(layer.bias, np.float64) / (x_scale * s_w)).astype(np.int32)
        y_scale, y_zp = _qparams(float(a.min()), float(a.max()))
        w_t = sg.add_tensor(shape=wq.shape, dtype=fb.TensorType.INT8, data=wq, name=f"w{k}",
                            quantization=me.Quantization(scales=s_w.tolist(), zero_points=[0] * len(s_w), axis=0))
        b_t = sg.add_tensor(shape=bq.shape, dtype=fb.TensorType.INT32, data=bq, name=f"b{k}",
                            quantization=me.Quantization(scales=(x_scale * s_w).tolist(),
                                                         zero_points=[0] * len(s_w), axis=0))
        y = sg.add_tensor(shape=(1, W.shape[0]), dtype=fb.TensorType.INT8, name=f"y{k}",
                          quantization=me.Quantization(scales=y_scale, zero_points=y_zp))
        opts = fb.FullyConnectedOptionsT()
        opts.fusedActivationFunction = fused[layer.activation]
        op_fb = fb.OperatorT()
        op_fb.builtinOptionsType = fb.BuiltinOptions.FullyConnectedOptions
        op_fb.builtinOptions = opts
        sg.add_operator(opcode=fb.BuiltinOperator.FULLY_CONNECTED, inputs=[x, w_t, b_t], outputs=[y], _fb=op_fb)
        x, x_scale, x_zp = y, y_scale, y_zp
    sg.outputs.append(x)
    info["out"] = (x_scale, x_zp)
    model = me.Model(subgraphs=[sg], description="tinypolicy bench MLP")
    return bytes(model.build()), info


def interpreter(tflite: bytes):
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(tflite, arena_size=ARENA)


def quantize_features(spec: MLPSpec, rows, info) -> np.ndarray:
    s, zp = info["in"]
    return np.clip(np.round(spec.features(rows) / s) + zp, -128, 127).astype(np.int8)


def run_rows(interp, xq: np.ndarray) -> np.ndarray:
    """int8 outputs (N, n_out) of one invoke per row of int8 features xq (N, n_in)."""
    outs = []
    for row in xq:
        interp.set_input(row[None, :], 0)
        interp.invoke()
        outs.append(np.array(interp.get_output(0)).reshape(-1))
    return np.stack(outs).astype(np.int64)


def agreement(spec: MLPSpec, tflite: bytes, info, rows, int8_model=None) -> dict:
    """How close TFLM's outputs are to the float model (and to the int8 blob's, if given) on `rows`, in units
    of TFLM's output step (max abs diff; the float reference is the last layer before the output stage)."""
    interp = interpreter(tflite)
    got = run_rows(interp, quantize_features(spec, rows, info))
    s, zp = info["out"]
    ref = spec.activations(rows)[-1]
    d = np.abs((got - zp) * s - ref) / s
    res = {"rows": len(rows), "out_step": s, "max_abs_diff_vs_float_lsb": float(d.max()),
           "mean_abs_diff_vs_float_lsb": float(d.mean()), "p99_abs_diff_vs_float_lsb": float(np.percentile(d, 99))}
    if int8_model is not None:  # its outputs in Q`frac` after the output stage: compare where that is identity
        ours = int8_model.forward(rows)
        plain = all(o.scale == 1.0 and o.offset == 0.0 for o in spec.outputs) and not spec.argmax
        if plain:
            lo = np.array([o.lo for o in spec.outputs])
            hi = np.array([o.hi for o in spec.outputs])
            inside = np.all(((got - zp) * s > lo) & ((got - zp) * s < hi), axis=1)
            res["max_abs_diff_vs_int8_blob_lsb"] = float(np.abs((got - zp) * s - ours)[inside].max() / s) \
                if inside.any() else float("nan")
    return res


def invoke_latency(tflite: bytes, xq: np.ndarray, n: int, warmup: int, block: int) -> dict:
    """Latency of interpreter.invoke() from CPython (input set once per row, cycled; the Python call into the
    binding is part of it)."""
    from .ref import time_calls

    interp = interpreter(tflite)
    rows = [r[None, :] for r in xq]
    interp.set_input(rows[0], 0)
    invoke = interp.invoke
    t0 = time.perf_counter_ns()
    invoke()
    first = time.perf_counter_ns() - t0
    r = time_calls([invoke], n, warmup, block)
    r.update(engine="tflm", api="MicroInterpreter.Invoke", cold_ns=first)
    return r


def count_script(tflite_path: Path, n: int) -> list[str]:
    """argv of a CPython process that loads the model and invokes it n times (for callgrind)."""
    code = ("import sys, numpy as np\n"
            "from tflite_micro.python.tflite_micro import runtime\n"
            f"it = runtime.Interpreter.from_bytes(open(sys.argv[1], 'rb').read(), arena_size={ARENA})\n"
            "d = it.get_input_details(0)\n"
            "x = np.zeros(d['shape'], np.int8)\n"
            "for i in range(int(sys.argv[2])):\n"
            "    x.flat[i % x.size] = (i * 37) % 255 - 128\n"
            "    it.set_input(x, 0)\n"
            "    it.invoke()\n")
    return [sys.executable, "-c", code, str(tflite_path), str(n)]


def instructions_per_invoke(tflite_path: Path, n1: int, n2: int, whole: bool = True) -> dict:
    """Instructions per Invoke by callgrind at n1 and n2 invokes, differenced: `invoke` counts only inside
    MicroInterpreter::Invoke (--toggle-collect; the Python binding excluded), `process` the whole process (so it
    includes the per-call cost of the CPython loop and binding; only when `whole`)."""
    from .ref import instructions_per_call

    res = {"invoke": instructions_per_call(
        lambda n: ["--toggle-collect=" + INVOKE_SYMBOL, *count_script(tflite_path, n)], n1, n2)}
    if whole:
        res["process"] = instructions_per_call(lambda n: count_script(tflite_path, n), n1, n2)
    return res


def version() -> str:
    try:
        from importlib.metadata import version as v

        return v("tflite-micro")
    except Exception:  # noqa: BLE001
        return "?"

