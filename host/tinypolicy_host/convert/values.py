"""Symbolic values the ONNX walker assigns to tensors (one row of the batch; feature axis last).

- `Const`: a constant array (initializer, Constant node, or folded).
- `Lin`: an affine map `clip(W·h + b)` of a `Source` vector h (the model input, or a layer's activation output);
  `clip` is an optional elementwise (lo, hi) applied after the map.
- `Ranked`: a value whose argmax equals the argmax of `lin` (Softmax, logits minus a per-row scalar).
- `RowScalar`: a per-row scalar of a vector (ReduceLogSumExp, ReduceMax): only subtracting it is understood.
- `Index`: the argmax of `lin` (optionally mapped to class labels).
- `Zero`: an all-zero tensor the width of a vector (ConstantOfShape of a Shape, value 0).
- `ShapeOf`: the shape of a (batch, n) vector.
- `Other`: anything else computed from the input; it may only reach the output through operations that provably
  discard it (its shape, a multiplication by zero). `origin` names the node that made it and why it is not an MLP
  layer; `finite` says whether its values are provably finite (e.g. Exp of a value clipped above).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(eq=False)
class Source:
    """The vector a Lin is affine in. kind 'input' (the model input, n columns) or 'layer' (activation of `prev`)."""
    kind: str
    n: int
    prev: Lin | None = None
    activation: str = "identity"
    node: str = ""
    bounds: tuple[float, float] = (0.0, 0.0)  # activation "clip": its (lo, hi)


@dataclass(eq=False)
class Lin:
    src: Source
    W: np.ndarray  # (n, src.n) float64
    b: np.ndarray  # (n,)
    clip: tuple[np.ndarray, np.ndarray] | None = None
    node: str = ""  # last node that changed the map (for error messages)
    clip_node: str = ""

    @property
    def n(self) -> int:
        return self.W.shape[0]

    def is_diag(self) -> bool:
        W = self.W
        return W.shape[0] == W.shape[1] and not np.any(W - np.diag(np.diag(W)))

    def is_identity(self) -> bool:
        return self.is_diag() and np.all(np.diag(self.W) == 1.0) and not np.any(self.b) and self.clip is None


@dataclass(eq=False)
class Ranked:
    lin: Lin


@dataclass(eq=False)
class RowScalar:
    of: object


@dataclass(eq=False)
class Index:
    lin: Lin
    labels: np.ndarray | None = None


@dataclass(eq=False)
class Zero:
    n: int | None


@dataclass(eq=False)
class ShapeOf:
    n: int | None


@dataclass(eq=False)
class Other:
    n: int | None
    origin: str  # "node 'X': op Y is not an MLP layer"
    finite: bool = False


@dataclass(eq=False)
class Const:
    value: np.ndarray


def width(v) -> int | None:
    """Feature width of a vector-like value (None when unknown)."""
    if isinstance(v, Lin):
        return v.n
    if isinstance(v, Ranked):
        return v.lin.n
    if isinstance(v, (Zero, ShapeOf, Other)):
        return v.n
    return None
