"""ONNX model → `GraphMLP`: the dense layers and the input/output stages an ONNX graph computes.

Steps: load and check the file; simplify it with onnxsim (constant folding, no-op and dead-node removal; falls back
to onnxoptimizer's passes, then to the graph as written); walk the nodes the chosen output depends on, in order,
with the rule table of `rules.py`; read the final value as input stage → layers → output stage / argmax head.
Every refusal is one `ConvertError` line naming the node and its op.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..contract.spec import DenseSpec
from .errors import ConvertError
from .rules import RULES, layer_input, unknown_op
from .values import Const, Index, Lin, Other, Ranked, RowScalar, ShapeOf, Source, Zero

ONNX_ML = "ai.onnx.ml"


@dataclass
class GraphMLP:
    """What the graph computes for one input row x (n_columns floats):
    features = (clip(x, in_lo, in_hi) − in_offset)·in_scale → layers → out = clip(y·out_scale + out_offset,
    out_lo, out_hi), or the index of the first maximum of y (argmax)."""
    input_name: str
    output_name: str
    in_offset: np.ndarray
    in_scale: np.ndarray
    in_lo: np.ndarray
    in_hi: np.ndarray
    layers: list[DenseSpec]
    layer_nodes: list[str]
    out_scale: np.ndarray
    out_offset: np.ndarray
    out_lo: np.ndarray
    out_hi: np.ndarray
    argmax: bool = False
    labels: list | None = None
    simplifier: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def n_columns(self) -> int:
        return len(self.in_scale)

    @property
    def n_outputs(self) -> int:
        return 1 if self.argmax else len(self.out_scale)

    def pre_output(self, x: np.ndarray) -> np.ndarray:
        from ..contract.spec import apply_activation

        h = (np.clip(np.asarray(x, np.float64), self.in_lo, self.in_hi) - self.in_offset) * self.in_scale
        for layer in self.layers:
            h = apply_activation(h @ layer.weight.T + layer.bias, layer.activation, layer.lo, layer.hi)
        return h

    def forward(self, x: np.ndarray) -> np.ndarray:
        y = self.pre_output(x)
        if self.argmax:
            return np.argmax(y, axis=1).astype(np.float64)[:, None]
        return np.clip(y * self.out_scale + self.out_offset, self.out_lo, self.out_hi)


# ---- loading ----

def load_onnx(path: Path):
    """The parsed, checked model; ConvertError naming the file otherwise."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise ConvertError(f"{path}: no such file")
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as exc:  # DecodeError, ValidationError, OSError…: all mean "not a usable ONNX file"
        raise ConvertError(f"{path}: not a valid ONNX model: {str(exc).splitlines()[0] if str(exc) else exc!r}")\
            from None
    return model


def simplify(model):
    """(model, name of the simplifier that ran). onnxsim first; onnxoptimizer if onnxsim fails; else as is."""
    try:
        import onnxsim

        simplified, ok = onnxsim.simplify(model)
        if ok:
            return simplified, f"onnxsim {onnxsim.__version__}"
    except Exception:  # onnxsim refuses some graphs (custom domains, odd shapes): try the next optimizer
        pass
    try:
        import onnxoptimizer

        passes = ["eliminate_identity", "eliminate_nop_dropout", "eliminate_nop_flatten", "eliminate_nop_reshape",
                  "eliminate_nop_transpose", "eliminate_deadend", "eliminate_unused_initializer",
                  "fuse_matmul_add_bias_into_gemm", "fuse_consecutive_squeezes"]
        return onnxoptimizer.optimize(model, passes), f"onnxoptimizer {onnxoptimizer.__version__}"
    except Exception:  # noqa: BLE001 — the rule table below handles the unsimplified graph too
        return model, "none (both simplifiers failed on this graph)"


# ---- walking ----

def graph_mlp(model, output: str | None = None, simplifier: str = "") -> GraphMLP:
    """Walk `model` (a ModelProto) for the output named `output` (default: the first graph output)."""
    from onnx import TensorProto, numpy_helper

    g = model.graph
    env: dict[str, object] = {i.name: Const(numpy_helper.to_array(i)) for i in g.initializer}
    inputs = [i for i in g.input if i.name not in env]
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs) or "none"
        raise ConvertError(f"the model has {len(inputs)} inputs ({names}): TinyPolicy takes one input vector")
    inp = inputs[0]
    ttype = inp.type.tensor_type
    if ttype.elem_type not in (TensorProto.FLOAT, TensorProto.DOUBLE):
        raise ConvertError(f"input '{inp.name}' is {TensorProto.DataType.Name(ttype.elem_type)}, not float")
    dims = [d.dim_value if d.HasField("dim_value") else None for d in ttype.shape.dim]
    if not dims or dims[-1] is None or dims[-1] < 1 or any(d not in (None, 1) for d in dims[:-1]):
        raise ConvertError(f"input '{inp.name}' has shape {dims}: expected (batch, n) with a fixed n")
    n = dims[-1]
    env[inp.name] = Lin(Source("input", n, node=inp.name), np.eye(n), np.zeros(n), node=inp.name)

    out_names = [o.name for o in g.output]
    output = output or out_names[0]
    if output not in out_names:
        raise ConvertError(f"no graph output named '{output}' (outputs: {', '.join(out_names)})")
    opsets = {o.domain or "": o.version for o in model.opset_import}
    for node in _cone(g, output):
        args = [env.get(x) if x else None for x in node.input]
        for x, a in zip(node.input, args, strict=True):
            if x and a is None:
                raise ConvertError(f"node '{node.name}': input '{x}' is not produced by any node")
        if all(isinstance(a, Const) or a is None for a in args):
            results = _fold(node, args, opsets)
        else:
            rule = RULES.get(node.op_type) if node.domain in ("", "ai.onnx", ONNX_ML) else None
            try:
                results = (rule or unknown_op)(node, args, _attrs(node))
            except (ValueError, IndexError, KeyError, TypeError) as exc:  # a malformed node the checker let through
                raise ConvertError(f"node '{node.name}': op {node.op_type}: cannot be read ({exc})") from None
        env.update(zip(node.output, results, strict=False))  # rules may leave unused outputs out
    return _read_result(env[output], inp.name, output, simplifier)


def _cone(g, output: str) -> list:
    """The nodes `output` depends on, in graph (topological) order."""
    producer = {o: k for k, node in enumerate(g.node) for o in node.output}
    need, stack = set(), [output]
    while stack:
        k = producer.get(stack.pop())
        if k is not None and k not in need:
            need.add(k)
            stack.extend(x for x in g.node[k].input if x)
    return [g.node[k] for k in sorted(need)]


def _attrs(node) -> dict:
    from onnx import helper, numpy_helper

    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = numpy_helper.to_array(v) if hasattr(v, "data_type") else v
    return out


def _fold(node, args, opsets) -> list:
    """Evaluate a node whose inputs are all constants with onnx's reference evaluator."""
    import onnx
    from onnx import helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    inits = [numpy_helper.from_array(np.asarray(a.value), x) for x, a in zip(node.input, args, strict=True) if x]
    graph = helper.make_graph([node], "fold", [], [helper.make_value_info(o, onnx.TypeProto()) for o in node.output],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()])
    try:
        return [Const(np.asarray(v)) for v in ReferenceEvaluator(model).run(None, {})]
    except Exception as exc:  # the op is unknown to the evaluator or its constants are malformed
        raise ConvertError(f"node '{node.name}': op {node.op_type} on constants could not be evaluated: "
                           f"{str(exc).splitlines()[0] if str(exc) else exc!r}") from None


# ---- reading the result ----

def _chain(lin: Lin) -> tuple[Lin | None, list[DenseSpec], list[str]]:
    """(input-stage Lin over the raw input or None, dense layers in order, their node names) under `lin`."""
    layers, nodes, src = [], [], lin.src
    while src.kind == "layer":
        pre = src.prev
        layers.append(DenseSpec(pre.W, pre.b, src.activation, *src.bounds))
        nodes.append(pre.node or src.node)
        src = pre.src
    stage = src.prev if src.kind == "features" else None
    return stage, layers[::-1], nodes[::-1]


def _read_result(v, input_name: str, output_name: str, simplifier: str) -> GraphMLP:
    labels = None
    if isinstance(v, Index):
        lin, argmax, labels = v.lin, True, v.labels
    elif isinstance(v, Lin):
        lin, argmax = v, False
    elif isinstance(v, Other):
        raise ConvertError(v.origin + " (its result reaches the output)")
    elif isinstance(v, Ranked):
        raise ConvertError(f"output '{output_name}' is Softmax probabilities: add an ArgMax for a discrete head "
                           "(or pass --discrete)")
    elif isinstance(v, (Const, Zero, ShapeOf, RowScalar)):
        raise ConvertError(f"output '{output_name}' does not depend on the input")
    else:
        raise ConvertError(f"output '{output_name}': unsupported value {type(v).__name__}")
    if lin.src.kind == "input":  # no dense layer at all: one identity layer over the scaled input
        lin = layer_input(lin, _Named(output_name))
    n = lin.n
    ident = np.ones(n)
    out_scale, out_offset = ident, np.zeros(n)
    out_lo, out_hi = (lin.clip if lin.clip is not None else (np.full(n, -math.inf), np.full(n, math.inf)))
    if argmax:
        lin = layer_input(lin, _Named(output_name)) if lin.clip is not None else lin
        s = np.diag(lin.W) if lin.is_diag() else None
        if lin.src.kind != "layer" or s is None or not (np.all(s == s[0]) and s[0] > 0 and np.all(lin.b == lin.b[0])):
            lin = _as_identity_layer(lin)
    elif lin.src.kind == "layer" and lin.is_diag():
        out_scale, out_offset = np.diag(lin.W).copy(), lin.b.copy()
    else:
        lin = _as_identity_layer(lin)
    stage, layers, nodes = _chain(lin)
    if stage is None:
        m = layers[0].weight.shape[1]
        in_scale, in_offset = np.ones(m), np.zeros(m)
        in_lo, in_hi = np.full(m, -math.inf), np.full(m, math.inf)
    else:
        in_scale = np.diag(stage.W).copy()
        if np.any(in_scale == 0):
            raise ConvertError(f"node '{stage.node}': multiplies input column {int(np.argmin(np.abs(in_scale)))} "
                               "by 0")
        in_offset = -stage.b / in_scale
        in_lo, in_hi = _input_bounds(stage, in_scale, in_offset)
    return GraphMLP(input_name, output_name, in_offset, in_scale, in_lo, in_hi, layers, nodes,
                    out_scale, out_offset, np.asarray(out_lo, float), np.asarray(out_hi, float), argmax,
                    None if labels is None else labels.tolist(), simplifier)


def _input_bounds(stage: Lin, scale, offset):
    """The graph's own clip on the scaled input, as bounds on the raw input x."""
    n = len(scale)
    if stage.clip is None:
        return np.full(n, -math.inf), np.full(n, math.inf)
    a, b = stage.clip[0] / scale + offset, stage.clip[1] / scale + offset
    return np.where(scale > 0, a, b), np.where(scale > 0, b, a)


def _as_identity_layer(lin: Lin) -> Lin:
    """Materialize `lin` (an affine map not foldable into the output stage) as a dense layer without activation."""
    from .rules import new_layer

    if lin.src.kind != "input":  # an output clip stays the output stage's; an input clip the input stage's
        lin = Lin(lin.src, lin.W, lin.b, None, lin.node)
    pre = layer_input(lin, _Named(lin.node))
    return new_layer(Lin(pre.src, pre.W, pre.b, None, pre.node), "identity", pre.node)


@dataclass
class _Named:
    """Stand-in for a node in error messages about the graph's end."""
    name: str
    op_type: str = "(output)"

    @property
    def output(self):
        return [self.name]
