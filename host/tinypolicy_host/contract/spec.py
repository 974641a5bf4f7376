"""The float hand-off between training / import and quantization / export: a generic MLP (`MLPSpec`).

An MLPSpec is what `tinypolicy train` (the pendulum) and `tinypolicy convert` (ONNX) produce, and what
`quantize`, the blob writer and the exporter take:

    inputs  (n_inputs floats)  ── input stage, per input:  affine  (clip(x, lo, hi) − offset)·scale → 1 feature
                                                           angle   x → cos x, sin x                → 2 features
    features (n_features)      ── dense layers (weight (n_out, n_in), bias, activation)
    last layer's outputs y     ── output stage, per output: clip(y·scale + offset, lo, hi)
                                  or, with `argmax`, the index of the first maximum of y (one output)

Units are the user's (the pendulum: θ rad, θ̇ rad/s → torque N·m). `frac` of an input/output is the Q format of
the integer boundary (`infer_q` on the device: int32 = floor(x·2^frac + 0.5)). The byte layout and integer
arithmetic are in models/README.md.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Activations: hardtanh is clip(x, −1, 1) (torch nn.Hardtanh(), ONNX Clip(−1, 1)); sigmoid is 1 / (1 + e^−x)
#: (the integer path computes it as (1 + tanh(x/2)) / 2 from the tanh table); clip is clip(x, lo, hi) with the
#: layer's own finite bounds lo < hi (torch nn.ReLU6 = clip(x, 0, 6), ONNX Clip(a, b) with scalar bounds).
ACTIVATIONS = ("identity", "relu", "tanh", "hardtanh", "sigmoid", "clip")
INPUT_KINDS = ("affine", "angle")
#: Limits of blob version 2 (models/README.md "Limits").
MAX_LAYERS, MAX_INPUTS, MAX_FEATURES, MAX_HIDDEN, MAX_OUTPUTS, MAX_CLASSES = 8, 64, 128, 256, 16, 256
MAX_FRAC = 24
#: Declared ranges and integer clamps stay below 2^24 in magnitude (exact in single precision).
Q_LIMIT = 1 << 24
SPEC_FORMAT = "tinypolicy-mlpspec/2"


class SpecError(ValueError):
    """An MLPSpec outside what blob version 2 can hold; the message names the field."""


@dataclass
class InputSpec:
    """One input. affine: feature = (clip(x, lo, hi) − offset)·scale (lo < hi finite); angle: features cos x, sin x
    (frac must be 12; offset/scale/lo/hi unused, stored as 0)."""
    kind: str = "affine"
    frac: int = 12
    offset: float = 0.0
    scale: float = 1.0
    lo: float = -math.inf
    hi: float = math.inf
    name: str = ""

    @property
    def n_features(self) -> int:
        return 2 if self.kind == "angle" else 1


@dataclass
class DenseSpec:
    weight: np.ndarray  # (n_out, n_in) float
    bias: np.ndarray  # (n_out,) float
    activation: str  # one of ACTIVATIONS
    lo: float = 0.0  # activation "clip": clip(x, lo, hi), finite lo < hi (stored as float32); else 0 (unused)
    hi: float = 0.0


@dataclass
class OutputSpec:
    """One output: out = clip(y·scale + offset, lo, hi); [lo, hi] is the declared range (finite)."""
    frac: int = 12
    scale: float = 1.0
    offset: float = 0.0
    lo: float = -1.0
    hi: float = 1.0
    name: str = ""


@dataclass
class MLPSpec:
    inputs: list[InputSpec]
    layers: list[DenseSpec]
    outputs: list[OutputSpec]
    argmax: bool = False

    # ---- shape ----
    @property
    def n_inputs(self) -> int:
        return len(self.inputs)

    @property
    def n_features(self) -> int:
        return sum(i.n_features for i in self.inputs)

    @property
    def n_outputs(self) -> int:
        return len(self.outputs)

    @property
    def dims(self) -> list[int]:
        return [int(self.layers[0].weight.shape[1])] + [int(d.weight.shape[0]) for d in self.layers]

    # ---- float forward ----
    def features(self, x) -> np.ndarray:
        """(N, n_inputs) float inputs → (N, n_features) float64 features (input stage)."""
        x = np.asarray(x, np.float64).reshape(-1, self.n_inputs)
        cols = []
        for i, inp in enumerate(self.inputs):
            if inp.kind == "angle":
                cols += [np.cos(x[:, i]), np.sin(x[:, i])]
            else:
                cols.append((np.clip(x[:, i], inp.lo, inp.hi) - inp.offset) * inp.scale)
        return np.stack(cols, axis=1)

    def activations(self, x) -> list[np.ndarray]:
        """Post-activation output of every layer (float64) for (N, n_inputs) inputs."""
        h, outs = self.features(x), []
        for layer in self.layers:
            h = apply_activation(h @ np.asarray(layer.weight, np.float64).T + np.asarray(layer.bias, np.float64),
                                 layer.activation, layer.lo, layer.hi)
            outs.append(h)
        return outs

    def output_stage(self, y) -> np.ndarray:
        """Last layer's outputs (N, n_out) → (N, n_outputs): clip(y·scale + offset, lo, hi) or the argmax index."""
        y = np.asarray(y, np.float64)
        if self.argmax:
            return np.argmax(y, axis=1).astype(np.float64)[:, None]
        cols = [np.clip(y[:, j] * o.scale + o.offset, o.lo, o.hi) for j, o in enumerate(self.outputs)]
        return np.stack(cols, axis=1)

    def forward(self, x) -> np.ndarray:
        """Float64 reference: (N, n_inputs) → (N, n_outputs) (argmax: the class index as a float)."""
        return self.output_stage(self.activations(x)[-1])

    # ---- checks ----
    def validate(self) -> None:
        """Raise SpecError naming the field if the spec is outside blob version 2's limits."""
        def fail(fld, what):
            raise SpecError(f"{fld}: {what}")

        if not 1 <= self.n_inputs <= MAX_INPUTS:
            fail("inputs", f"{self.n_inputs} inputs, must be 1…{MAX_INPUTS}")
        if not 1 <= len(self.layers) <= MAX_LAYERS:
            fail("layers", f"{len(self.layers)} dense layers, must be 1…{MAX_LAYERS}")
        for i, inp in enumerate(self.inputs):
            if inp.kind not in INPUT_KINDS:
                fail(f"input {i} kind", f"{inp.kind!r} (known: {', '.join(INPUT_KINDS)})")
            if inp.kind == "angle" and inp.frac != 12:
                fail(f"input {i} frac", f"{inp.frac}: an angle input is Q12")
            if not 0 <= inp.frac <= MAX_FRAC:
                fail(f"input {i} frac", f"{inp.frac} is outside 0…{MAX_FRAC}")
            if inp.kind == "affine":
                vals = (inp.offset, inp.scale, inp.lo, inp.hi)
                if not all(math.isfinite(v) and abs(float(np.float32(v))) < 3.4e38 for v in vals):
                    fail(f"input {i} offset/scale/lo/hi", f"{vals}: must be finite (give the input a range)")
                if not inp.lo < inp.hi:
                    fail(f"input {i} lo/hi", f"{inp.lo}, {inp.hi}: need lo < hi")
                if max(abs(inp.lo), abs(inp.hi), abs(inp.offset)) * 2.0**inp.frac >= 2**31 - 1:
                    fail(f"input {i} lo/hi", f"Q{inp.frac} of the range [{inp.lo}, {inp.hi}] does not fit int32")
        if not 1 <= self.n_features <= MAX_FEATURES:
            fail("features", f"{self.n_features} features, must be 1…{MAX_FEATURES}")
        prev = self.n_features
        for k, layer in enumerate(self.layers):
            w, b = np.asarray(layer.weight), np.asarray(layer.bias)
            if w.ndim != 2 or b.shape != (w.shape[0],):
                fail(f"layer {k} weight/bias", f"shapes {w.shape}, {b.shape}: want (n_out, n_in), (n_out,)")
            if w.shape[1] != prev:
                fail(f"layer {k} n_in", f"{w.shape[1]} does not match the previous size {prev}")
            last = k == len(self.layers) - 1
            top = (MAX_CLASSES if self.argmax else MAX_OUTPUTS) if last else MAX_HIDDEN
            if not 1 <= w.shape[0] <= top:
                fail(f"layer {k} n_out", f"{w.shape[0]} is outside 1…{top}")
            if layer.activation not in ACTIVATIONS:
                fail(f"layer {k} activation", f"{layer.activation!r} (known: {', '.join(ACTIVATIONS)})")
            if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
                fail(f"layer {k} weight/bias", "non-finite values")
            if layer.activation == "clip" and not (abs(float(np.float32(layer.lo))) < 3.4e38 and
                                                   abs(float(np.float32(layer.hi))) < 3.4e38 and
                                                   np.float32(layer.lo) < np.float32(layer.hi)):
                fail(f"layer {k} lo/hi", f"{layer.lo}, {layer.hi}: a clip layer needs finite float32 lo < hi")
            prev = w.shape[0]
        if self.argmax:
            if prev < 2 or self.n_outputs != 1:
                fail("argmax", f"needs ≥ 2 classes and one output, got {prev} classes, {self.n_outputs} outputs")
        elif self.n_outputs != prev:
            fail("outputs", f"{self.n_outputs} outputs but the last layer has {prev} units")
        for j, o in enumerate(self.outputs):
            if not 0 <= o.frac <= MAX_FRAC:
                fail(f"output {j} frac", f"{o.frac} is outside 0…{MAX_FRAC}")
            if not all(math.isfinite(v) for v in (o.scale, o.offset, o.lo, o.hi)):
                fail(f"output {j} scale/offset/lo/hi", "must be finite (declare the output range)")
            if not o.lo <= o.hi:
                fail(f"output {j} lo/hi", f"{o.lo} > {o.hi}")
            if max(abs(o.lo), abs(o.hi)) * 2.0**o.frac >= Q_LIMIT:
                fail(f"output {j} lo/hi", f"|range|·2^{o.frac} must stay below 2^24")

    def float32(self) -> MLPSpec:
        """The spec as an f32 blob stores it (every parameter rounded to float32)."""
        f = lambda v: float(np.float32(v))  # noqa: E731
        return MLPSpec(
            [InputSpec(i.kind, i.frac, f(i.offset), f(i.scale), f(i.lo), f(i.hi), i.name) for i in self.inputs],
            [DenseSpec(np.asarray(d.weight, np.float32), np.asarray(d.bias, np.float32), d.activation, f(d.lo),
                       f(d.hi)) for d in self.layers],
            [OutputSpec(o.frac, f(o.scale), f(o.offset), f(o.lo), f(o.hi), o.name) for o in self.outputs],
            self.argmax)

    # ---- files ----
    def save(self, path: Path) -> None:
        """npz: `format`, per-input/output float tables, w{k}/b{k}, activations and clip_bounds (see `load`)."""
        arrays = {"format": np.array(SPEC_FORMAT), "argmax": np.array(self.argmax),
                  "input_kind": np.array([i.kind for i in self.inputs]),
                  "input_frac": np.array([i.frac for i in self.inputs]),
                  "input_params": np.array([[i.offset, i.scale, i.lo, i.hi] for i in self.inputs], np.float64),
                  "input_name": np.array([i.name for i in self.inputs]),
                  "output_frac": np.array([o.frac for o in self.outputs]),
                  "output_params": np.array([[o.scale, o.offset, o.lo, o.hi] for o in self.outputs], np.float64),
                  "output_name": np.array([o.name for o in self.outputs]),
                  "activations": np.array([d.activation for d in self.layers])}
        if any(d.activation == "clip" for d in self.layers):  # absent: every layer's bounds are 0
            arrays["clip_bounds"] = np.array([[d.lo, d.hi] for d in self.layers], np.float64)
        for k, d in enumerate(self.layers):
            arrays[f"w{k}"], arrays[f"b{k}"] = np.asarray(d.weight), np.asarray(d.bias)
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path: Path) -> MLPSpec:
        """Read `save`'s npz, or a version-1 pendulum spec (vel_scale, max_torque, w{k}, b{k}, activations)."""
        with np.load(path) as data:
            acts = [str(a) for a in data["activations"]]
            bounds = data["clip_bounds"] if "clip_bounds" in data else np.zeros((len(acts), 2))
            layers = [DenseSpec(data[f"w{k}"].astype(np.float32), data[f"b{k}"].astype(np.float32), a,
                                *map(float, bounds[k])) for k, a in enumerate(acts)]
            if "format" not in data:  # version 1: the pendulum
                return pendulum_spec(float(data["vel_scale"]), float(data["max_torque"]), layers)
            inputs = [InputSpec(str(k), int(f), *map(float, p), name=str(n)) for k, f, p, n in
                      zip(data["input_kind"], data["input_frac"], data["input_params"], data["input_name"],
                          strict=True)]
            outputs = [OutputSpec(int(f), *map(float, p), name=str(n)) for f, p, n in
                       zip(data["output_frac"], data["output_params"], data["output_name"], strict=True)]
            return cls(inputs, layers, outputs, bool(data["argmax"]))


#: The pendulum's θ̇ input clip (rad/s): v1's integer clamp ±131072 in Q12.
PENDULUM_THETA_DOT_LIMIT = 32.0


def pendulum_spec(vel_scale: float, max_torque: float, layers: list[DenseSpec]) -> MLPSpec:
    """The pendulum policy as an MLPSpec: θ (rad, angle, Q12), θ̇ (rad/s, affine: clip ±32, scale vel_scale, Q12)
    → features [cos θ, sin θ, θ̇·vel_scale] → layers → torque (N·m, Q12, declared range ±max_torque)."""
    lim = PENDULUM_THETA_DOT_LIMIT
    return MLPSpec([InputSpec("angle", 12, 0.0, 0.0, 0.0, 0.0, "theta"),
                    InputSpec("affine", 12, 0.0, vel_scale, -lim, lim, "theta_dot")],
                   layers, [OutputSpec(12, 1.0, 0.0, -max_torque, max_torque, "torque")])


def pendulum_params(spec: MLPSpec) -> tuple[float, float]:
    """(vel_scale, max_torque) of a pendulum-shaped spec (θ angle, θ̇ affine → 1 output); ValueError otherwise."""
    kinds = [i.kind for i in spec.inputs]
    if kinds != ["angle", "affine"] or spec.n_outputs != 1 or spec.argmax:
        raise ValueError(f"not a pendulum policy: inputs {kinds}, {spec.n_outputs} outputs")
    return spec.inputs[1].scale, spec.outputs[0].hi


def pendulum_policy(model):
    """A (θ, θ̇) → torque callable from any pendulum-shaped model with `forward((N, 2)) -> (N, 1)` (an MLPSpec, or
    a QuantMLP: the bit-exact integer reference)."""
    def policy(theta, theta_dot):
        x = np.stack([np.ravel(np.asarray(theta, np.float64)), np.ravel(np.asarray(theta_dot, np.float64))], 1)
        return model.forward(x)[:, 0]
    return policy


def load_spec_file(path: Path) -> MLPSpec:
    """MLPSpec.load for a path the user gave: a UserError naming the file instead of numpy's exceptions."""
    from ..errors import UserError

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such spec file (train first: `tinypolicy train`)")
    try:
        spec = MLPSpec.load(path)
        spec.validate()
    except Exception as exc:  # np.load raises many types (BadZipFile, UnpicklingError, KeyError, ValueError…)
        raise UserError(f"{path}: not a policy spec: {exc}") from None
    return spec


def apply_activation(x: np.ndarray, name: str, lo: float = 0.0, hi: float = 0.0) -> np.ndarray:
    """The float activation; lo, hi: the bounds of a "clip" layer."""
    if name == "clip":
        return np.clip(x, lo, hi)
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "tanh":
        return np.tanh(x)
    if name == "identity":
        return x
    if name == "hardtanh":
        return np.clip(x, -1.0, 1.0)
    if name == "sigmoid":
        return 0.5 + 0.5 * np.tanh(0.5 * x)  # = 1 / (1 + e^-x), without overflow warnings for large |x|
    raise ValueError(f"unknown activation {name!r} (known: {', '.join(ACTIVATIONS)})")
