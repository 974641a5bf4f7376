"""The generic float hand-off type (V2 contract, `MLPSpec`), as the converter uses it.

Transitional: the v2 host helper owns `contract/spec.py`; once it is merged this module only re-exports it.
Fields and semantics follow /work/coord/V2_FORMAT.md ("APIs: Host").
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: Hidden/last-layer activations the runtime implements (V2_FORMAT layer table).
ACTIVATIONS = ("identity", "relu", "tanh", "hardtanh", "sigmoid")


@dataclass
class InputSpec:
    """One sensor input. affine: feature = (clip(x, lo, hi) − offset)·scale; angle: features cos x, sin x.
    `frac`: the int32 input of `infer_q` is round(x·2^frac) (angle inputs: 12)."""
    kind: str = "affine"
    frac: int = 12
    offset: float = 0.0
    scale: float = 1.0
    lo: float = -math.inf
    hi: float = math.inf
    name: str = ""


@dataclass
class DenseSpec:
    weight: np.ndarray  # (n_out, n_in) float64
    bias: np.ndarray  # (n_out,)
    activation: str  # one of ACTIVATIONS


@dataclass
class OutputSpec:
    """out = clip(y·scale + offset, lo, hi); [lo, hi] is the declared range. `frac`: Q format of infer_q's output."""
    frac: int = 12
    scale: float = 1.0
    offset: float = 0.0
    lo: float = -math.inf
    hi: float = math.inf
    name: str = ""


@dataclass
class MLPSpec:
    inputs: list[InputSpec]
    layers: list[DenseSpec]
    outputs: list[OutputSpec]
    argmax: bool = False
    meta: dict = field(default_factory=dict)

    @property
    def n_inputs(self) -> int:
        return len(self.inputs)

    @property
    def n_outputs(self) -> int:
        return len(self.outputs)

    def features(self, x: np.ndarray) -> np.ndarray:
        """(N, n_inputs) float64 sensor values → (N, n_features) float64."""
        x = np.asarray(x, np.float64)
        cols = []
        for j, inp in enumerate(self.inputs):
            if inp.kind == "angle":
                cols += [np.cos(x[:, j]), np.sin(x[:, j])]
            else:
                cols.append((np.clip(x[:, j], inp.lo, inp.hi) - inp.offset) * inp.scale)
        return np.stack(cols, axis=1)

    def pre_output(self, x: np.ndarray) -> np.ndarray:
        """The last dense layer's y (after its activation), (N, n_last)."""
        h = self.features(x)
        for layer in self.layers:
            h = apply_activation(h @ np.asarray(layer.weight, np.float64).T + layer.bias, layer.activation)
        return h

    def forward(self, x: np.ndarray) -> np.ndarray:
        """(N, n_inputs) → (N, n_outputs) float64; argmax head: the class index (first maximum) as a float."""
        y = self.pre_output(x)
        if self.argmax:
            return np.argmax(y, axis=1).astype(np.float64)[:, None]
        scale = np.array([o.scale for o in self.outputs])
        offset = np.array([o.offset for o in self.outputs])
        lo = np.array([o.lo for o in self.outputs])
        hi = np.array([o.hi for o in self.outputs])
        return np.clip(y * scale + offset, lo, hi)


def apply_activation(x: np.ndarray, name: str) -> np.ndarray:
    if name == "identity":
        return x
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "tanh":
        return np.tanh(x)
    if name == "hardtanh":
        return np.clip(x, -1.0, 1.0)
    if name == "sigmoid":
        return 0.5 + 0.5 * np.tanh(0.5 * x)
    if name == "relu6":
        return np.clip(x, 0.0, 6.0)
    raise ValueError(f"unknown activation {name!r}")
