"""GraphMLP + calibration rows → MLPSpec: declared input/output ranges, Q formats, angle inputs, limits.

Declared ranges: an input's [lo, hi] is its calibrated min/max widened by MARGIN of the span on each side (and
inside the graph's own Clip, if it has one); an output's is the graph's final Clip, else the exact range of a
bounded last activation (tanh, sigmoid, hardtanh, clip) through the output affine, else the calibrated range widened
by OUTPUT_MARGIN (wider: an output clipped on held-out rows is an error the user sees, an input clipped is the
input stage doing its job). Q formats: the largest frac ≤ MAX_FRAC_CHOICE with max(|lo|, |hi|)·2^frac ≤ 2^Q_BITS
(angles: 12).
`--angle-inputs I`: ONNX columns I and I+1 are cos θ and sin θ of one sensor angle θ (the blob's input);
any scaling the graph applies to them is folded into the first layer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..contract.spec import DenseSpec, InputSpec, MLPSpec, OutputSpec
from .errors import ConvertError
from .onnx_graph import GraphMLP

MARGIN = 0.25
OUTPUT_MARGIN = 0.5
Q_BITS = 20
MAX_FRAC_CHOICE = 24
ANGLE_FRAC = 12
LIMITS = {"layers": 8, "inputs": 64, "features": 128, "hidden": 256, "outputs": 16, "classes": 256}
BOUNDED = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0), "hardtanh": (-1.0, 1.0)}


@dataclass
class Converted:
    spec: MLPSpec
    graph: GraphMLP
    angle_cols: list[int]
    column_names: list[str]

    def sensor_rows(self, x: np.ndarray) -> np.ndarray:
        """ONNX input rows (N, n_columns) → the blob's input rows (N, n_inputs): angle pairs become atan2(sin, cos)."""
        return onnx_to_sensor(x, self.angle_cols)


def onnx_to_sensor(x: np.ndarray, angle_cols: list[int]) -> np.ndarray:
    x = np.asarray(x, np.float64)
    cols, j = [], 0
    while j < x.shape[1]:
        if j in angle_cols:
            cols.append(np.arctan2(x[:, j + 1], x[:, j]))
            j += 2
        else:
            cols.append(x[:, j])
            j += 1
    return np.stack(cols, axis=1)


def q_frac(bound: float) -> int:
    """Q format for values up to |bound|: |bound|·2^frac ≤ 2^Q_BITS, 0 ≤ frac ≤ MAX_FRAC_CHOICE."""
    if bound <= 0 or not math.isfinite(bound):
        return MAX_FRAC_CHOICE
    return int(max(0, min(MAX_FRAC_CHOICE, math.floor(Q_BITS - math.log2(bound)))))


def widen(lo: float, hi: float, margin: float = MARGIN) -> tuple[float, float]:
    span = hi - lo
    pad = margin * span if span > 0 else max(abs(lo), 1.0) * margin
    return lo - pad, hi + pad


def check_angle_cols(cols: list[int], n: int) -> list[int]:
    cols = sorted(set(cols))
    for i in cols:
        if not 0 <= i < n - 1:
            raise ConvertError(f"--angle-inputs: column {i}: needs columns {i} and {i + 1} (cos, sin) of the "
                               f"{n} the model takes")
    for a, b in zip(cols, cols[1:], strict=False):
        if b == a + 1:
            raise ConvertError(f"--angle-inputs: columns {a} and {b} overlap (each angle takes two columns)")
    return cols


def build_spec(g: GraphMLP, calib: np.ndarray, names: list[str], angle_cols: list[int],
               discrete: bool = False) -> Converted:
    """The MLPSpec for graph `g`, with ranges from the calibration rows (ONNX input space)."""
    angle_cols = check_angle_cols(angle_cols, g.n_columns)
    layers = [DenseSpec(np.array(d.weight, np.float64), np.array(d.bias, np.float64), d.activation, d.lo, d.hi)
              for d in g.layers]
    argmax = g.argmax or discrete
    if discrete and not g.argmax and len(g.layers[-1].bias) < 2:
        raise ConvertError("--discrete: the model has 1 output; an argmax head needs at least 2")
    inputs = _inputs(g, calib, names, angle_cols, layers[0])
    outputs = _argmax_output(layers) if argmax else _outputs(g, calib, layers)
    spec = MLPSpec(inputs, layers, outputs, argmax)
    _check_limits(spec, g)
    return Converted(spec, g, angle_cols, names)


def _inputs(g: GraphMLP, calib, names, angle_cols, first: DenseSpec) -> list[InputSpec]:
    out, j = [], 0
    while j < g.n_columns:
        if j in angle_cols:
            for c in (j, j + 1):
                if math.isfinite(g.in_lo[c]) or math.isfinite(g.in_hi[c]):
                    raise ConvertError(f"--angle-inputs {j}: the graph clips column {c}; an angle pair cannot be "
                                       "clipped")
                s, off = g.in_scale[c], g.in_offset[c]  # fold (x − off)·s into the first layer's column
                first.bias = first.bias - first.weight[:, c] * s * off
                first.weight[:, c] = first.weight[:, c] * s
            name = f"atan2({names[j + 1]}, {names[j]})"
            out.append(InputSpec("angle", ANGLE_FRAC, 0.0, 0.0, 0.0, 0.0, name))
            j += 2
            continue
        lo, hi = widen(float(calib[:, j].min()), float(calib[:, j].max()))
        lo, hi = max(lo, float(g.in_lo[j])), min(hi, float(g.in_hi[j]))
        if not lo < hi:
            raise ConvertError(f"input column {j} ({names[j]}): calibrated range [{lo:g}, {hi:g}] is empty inside "
                               "the graph's clip")
        out.append(InputSpec("affine", q_frac(max(abs(lo), abs(hi))), float(g.in_offset[j]),
                             float(g.in_scale[j]), lo, hi, names[j]))
        j += 1
    return out


def _outputs(g: GraphMLP, calib, layers) -> list[OutputSpec]:
    y = g.pre_output(calib)
    act = layers[-1].activation
    bounded = (layers[-1].lo, layers[-1].hi) if act == "clip" else BOUNDED.get(act)
    outs = []
    for j in range(y.shape[1]):
        s, off = float(g.out_scale[j]), float(g.out_offset[j])
        lo, hi = float(g.out_lo[j]), float(g.out_hi[j])
        if bounded:
            a, b = (v * s + off for v in bounded)
            blo, bhi = min(a, b), max(a, b)
        else:
            v = y[:, j] * s + off
            blo, bhi = widen(float(v.min()), float(v.max()), OUTPUT_MARGIN)
        lo, hi = (lo if math.isfinite(lo) else blo), (hi if math.isfinite(hi) else bhi)
        if not lo < hi:
            lo, hi = widen(lo, hi)
        outs.append(OutputSpec(q_frac(max(abs(lo), abs(hi))), s, off, lo, hi, f"{g.output_name}[{j}]"))
    return outs


def _argmax_output(layers) -> list[OutputSpec]:
    k = len(layers[-1].bias)
    return [OutputSpec(0, 1.0, 0.0, 0.0, float(k - 1), "class")]


def _check_limits(spec: MLPSpec, g: GraphMLP) -> None:
    def fail(k, what):
        node = g.layer_nodes[k] if 0 <= k < len(g.layer_nodes) else g.output_name
        raise ConvertError(f"node '{node}': {what}")

    lim = LIMITS
    if len(spec.layers) > lim["layers"]:
        fail(lim["layers"], f"layer {lim['layers'] + 1} of {len(spec.layers)}: at most {lim['layers']} dense layers")
    if len(spec.inputs) > lim["inputs"]:
        raise ConvertError(f"input '{g.input_name}': {len(spec.inputs)} inputs, at most {lim['inputs']}")
    n_feat = spec.layers[0].weight.shape[1]
    if n_feat > lim["features"]:
        fail(0, f"{n_feat} input features, at most {lim['features']}")
    for k, layer in enumerate(spec.layers[:-1]):
        if layer.weight.shape[0] > lim["hidden"]:
            fail(k, f"layer {k} has {layer.weight.shape[0]} units, at most {lim['hidden']} in a hidden layer")
    n_last = spec.layers[-1].weight.shape[0]
    if spec.argmax and not 2 <= n_last <= lim["classes"]:
        fail(len(spec.layers) - 1, f"{n_last} classes, the argmax head takes 2…{lim['classes']}")
    if not spec.argmax and n_last > lim["outputs"]:
        fail(len(spec.layers) - 1, f"{n_last} outputs, at most {lim['outputs']}")
