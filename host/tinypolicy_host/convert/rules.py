"""Table of ONNX ops the converter understands: op type → rule(node, args, attrs) → values of the node's outputs.

Each rule works on the symbolic values of `values.py`. Linear pieces (Gemm, MatMul, constant Add/Sub/Mul/Div,
Scaler, Neg) compose into one affine map; an activation op turns the map into a dense layer; no-ops (Identity,
Dropout, Cast to float, Flatten, Reshape/Squeeze/Unsqueeze/Expand that keep the vector) pass values through;
Softmax / LogSoftmax / minus ReduceLogSumExp keep the order for an ArgMax head. Ops not in the table make an
`Other` value that names the node: the walker refuses it if it can reach the output.
"""
from __future__ import annotations

import math

import numpy as np
from onnx import TensorProto

from ..contract.spec import ACTIVATIONS
from .errors import node_error
from .values import Const, Index, Lin, Other, Ranked, RowScalar, ShapeOf, Source, Zero, width

FLOAT_TYPES = (TensorProto.FLOAT, TensorProto.DOUBLE)
#: Clip bounds that are their own activation (name → (lo, hi)); any other scalar Clip(a, b), a < b finite
#: (nn.ReLU6 = Clip(0, 6)), is the activation "clip" with those bounds.
CLIP_ACTIVATIONS = {"relu": (0.0, math.inf), "hardtanh": (-1.0, 1.0)}
#: exp(x) is finite in float32 for x below this.
EXP_FINITE_BELOW = 88.0


# ---- helpers on Lin ----

def affine(lin: Lin, s, t, node) -> Lin:
    """s ⊙ lin + t elementwise (s, t broadcast to lin's width); the clip bounds move with the map."""
    n = lin.n
    s = np.broadcast_to(np.asarray(s, np.float64), (n,))
    t = np.broadcast_to(np.asarray(t, np.float64), (n,))
    clip = None
    if lin.clip is not None:
        with np.errstate(invalid="ignore"):
            a, b = s * lin.clip[0] + t, s * lin.clip[1] + t
        lo, hi = np.where(s >= 0, a, b), np.where(s >= 0, b, a)
        lo, hi = np.where(s == 0, t, lo), np.where(s == 0, t, hi)
        clip = (lo, hi)
    return Lin(lin.src, lin.W * s[:, None], lin.b * s + t, clip, node.name, lin.clip_node)


def layer_input(lin: Lin, node) -> Lin:
    """`lin` as something a dense layer may multiply: the input's elementwise affine (and clip) becomes the input
    stage ('features' source); a clip on a layer's pre-activation becomes that layer's activation."""
    if lin.src.kind == "input":
        if not lin.is_diag():
            raise node_error(node, "mixes input columns before the first dense layer")
        feats = Source("features", lin.n, prev=lin, node=node.name)
        return Lin(feats, np.eye(lin.n), np.zeros(lin.n), node=node.name)
    if lin.clip is None:
        return lin
    lo, hi = lin.clip
    pre = Lin(lin.src, lin.W, lin.b, None, lin.node)
    for act, (alo, ahi) in CLIP_ACTIVATIONS.items():
        if np.all(lo == alo) and np.all(hi == ahi):
            return new_layer(pre, act, lin.clip_node)
    if not (np.all(lo == lo[0]) and np.all(hi == hi[0])):
        raise_clip(lin, "is followed by a layer: a layer's clip needs one (lo, hi) for all its units")
    a, b = float(lo[0]), float(hi[0])
    if not (math.isfinite(a) and math.isfinite(b) and np.float32(a) < np.float32(b)):
        raise_clip(lin, "is followed by a layer: a clip activation needs finite bounds lo < hi (relu: Clip(0, inf))")
    return new_layer(pre, "clip", lin.clip_node, (a, b))


def raise_clip(lin: Lin, why: str):
    from .errors import ConvertError

    lo, hi = lin.clip
    bounds = f"Clip({_fmt(lo)}, {_fmt(hi)})"
    raise ConvertError(f"node '{lin.clip_node}': op Clip {bounds} {why}")


def _fmt(v: np.ndarray) -> str:
    return f"{float(v[0]):g}" if np.all(v == v[0]) else "per-unit bounds"


def new_layer(pre: Lin, activation: str, node_name: str, bounds=(0.0, 0.0)) -> Lin:
    src = Source("layer", pre.n, prev=pre, activation=activation, node=node_name, bounds=bounds)
    return Lin(src, np.eye(pre.n), np.zeros(pre.n), node=node_name)


def need_lin(node, x, what="its input") -> Lin:
    from .errors import ConvertError

    if isinstance(x, Lin):
        return x
    if isinstance(x, Other):
        raise ConvertError(x.origin)
    if isinstance(x, Index):
        raise node_error(node, "after ArgMax: only Cast/Reshape/ArrayFeatureExtractor may follow the class index")
    if isinstance(x, Ranked):
        raise node_error(node, "after Softmax: only ArgMax may follow (probabilities are not an MLP output)")
    raise node_error(node, f"{what} is not the model's vector (got {type(x).__name__})")


def const_vec(node, c: Const, n: int) -> np.ndarray:
    """A constant that broadcasts along an n-vector: shape () / (1,) / (…1, n)."""
    v = np.asarray(c.value, np.float64)
    if v.size == 1:
        return np.full(n, float(v.reshape(-1)[0]))
    if v.shape[-1] == n and v.size == n:
        return v.reshape(n)
    raise node_error(node, f"constant of shape {list(v.shape)} does not broadcast along the {n}-vector")


def const_arg(node, args, i, default=None):
    if i >= len(args) or args[i] is None:
        return default
    if not isinstance(args[i], Const):
        raise node_error(node, f"input {i} must be a constant")
    return np.asarray(args[i].value)


# ---- rules ----

def r_passthrough(node, args, attrs):
    return [args[0]] + [Other(None, f"node '{node.name}': op {node.op_type} output {k} is not an MLP value")
                        for k in range(1, len(node.output))]


def r_cast(node, args, attrs):
    x = args[0]
    if isinstance(x, Lin) and attrs.get("to") not in FLOAT_TYPES:
        raise node_error(node, f"casts the vector to {TensorProto.DataType.Name(attrs.get('to'))}")
    return [x]


def r_flatten(node, args, attrs):
    if attrs.get("axis", 1) not in (1, -1) and isinstance(args[0], Lin):
        raise node_error(node, f"Flatten(axis={attrs.get('axis')}) mixes the batch and the vector")
    return [args[0]]


def r_reshape(node, args, attrs):
    x, shape = args[0], const_arg(node, args, 1)
    n = width(x)
    if n is not None and shape is not None:
        big = [int(d) for d in shape.reshape(-1) if d > 1]
        if any(d != n for d in big) or len(big) > 1:
            raise node_error(node, f"reshapes the {n}-vector to {shape.tolist()}")
    return [x]


def r_expand(node, args, attrs):
    x, shp = args
    n = width(x)
    if isinstance(shp, ShapeOf):
        m = shp.n
    elif isinstance(shp, Const):
        dims = np.asarray(shp.value).reshape(-1)
        m = int(dims[-1]) if dims.size else 1
        m = n if m == 1 else m
    else:
        m = None
    if n is None or m != n:
        raise node_error(node, f"expands a {n}-vector to width {m}")
    return [x]


def r_gemm(node, args, attrs):
    a, b = args[0], args[1]
    lin = need_lin(node, a, "input A")
    if attrs.get("transA", 0):
        raise node_error(node, "with transA=1 transposes the batch")
    B = np.asarray(need_const(node, b, "B"), np.float64)
    if attrs.get("transB", 0):
        B = B.T
    C = const_arg(node, args, 2, 0.0)
    alpha, beta = attrs.get("alpha", 1.0), attrs.get("beta", 1.0)
    return [matmul(node, lin, alpha * B, beta * np.asarray(C, np.float64))]


def need_const(node, v, name):
    if not isinstance(v, Const):
        raise node_error(node, f"input {name} must be a constant weight (a product of two model values is not "
                               "an MLP layer)")
    return v.value


def matmul(node, lin: Lin, B: np.ndarray, C) -> Lin:
    if B.ndim == 1:
        B = B[:, None]
    if B.ndim != 2 or B.shape[0] != lin.n:
        raise node_error(node, f"weight of shape {list(B.shape)} does not take a {lin.n}-vector")
    lin = layer_input(lin, node)
    C = const_vec(node, Const(np.asarray(C)), B.shape[1])
    return Lin(lin.src, B.T @ lin.W, B.T @ lin.b + C, node=node.name)


def r_matmul(node, args, attrs):
    a, b = args
    if isinstance(a, Const) and not isinstance(b, Const):
        raise node_error(node, "multiplies a constant by the vector from the left (x must come first)")
    return [matmul(node, need_lin(node, a, "input A"), np.asarray(need_const(node, b, "B"), np.float64), 0.0)]


def _binary_zero(node, op, a, b):
    """Rules for Add/Sub/Mul with an all-zero operand; None when neither is Zero."""
    if isinstance(b, Zero) and op in ("Add", "Sub"):
        return a
    if isinstance(a, Zero) and op == "Add":
        return b
    if isinstance(a, Zero) and op == "Sub" and isinstance(b, Lin):
        return affine(b, -1.0, 0.0, node)
    if op == "Mul" and (isinstance(a, Zero) or isinstance(b, Zero)):
        z, other = (a, b) if isinstance(a, Zero) else (b, a)
        finite = isinstance(other, (Lin, Zero)) or (isinstance(other, Other) and other.finite) or (
            isinstance(other, Const) and np.all(np.isfinite(other.value)))
        if finite:
            return Zero(z.n if z.n is not None else width(other))
        return Other(z.n, f"node '{node.name}': op Mul: zero times a value not provably finite")
    return None


def r_arith(node, args, attrs):
    op = node.op_type
    a, b = args
    z = _binary_zero(node, op, a, b)
    if z is not None:
        return [z]
    if isinstance(a, Other) or isinstance(b, Other):
        o = a if isinstance(a, Other) else b
        fin = all(isinstance(v, (Lin, Const)) or (isinstance(v, Other) and v.finite) for v in (a, b))
        return [Other(o.n, o.origin, finite=fin and op != "Div")]
    if isinstance(a, (Lin, Ranked)) and isinstance(b, RowScalar) and op == "Sub":
        return [Ranked(a.lin if isinstance(a, Ranked) else a)]
    if isinstance(a, Ranked) and isinstance(b, Const):
        c = np.asarray(b.value, np.float64)
        if c.size == 1 and (op in ("Add", "Sub") or (op in ("Mul", "Div") and float(c.reshape(-1)[0]) > 0)):
            return [a]
        raise node_error(node, "changes the order of the scores before ArgMax")
    if isinstance(a, Lin) and isinstance(b, Lin):
        return [_lin_plus_lin(node, op, a, b)]
    if isinstance(a, Lin) and isinstance(b, Const):
        c = const_vec(node, b, a.n)
        if op == "Div":
            if np.any(c == 0):
                raise node_error(node, "divides by zero")
            return [affine(a, 1.0 / c, 0.0, node)]
        s, t = {"Add": (1.0, c), "Sub": (1.0, -c), "Mul": (c, 0.0)}[op]
        return [affine(a, s, t, node)]
    if isinstance(a, Const) and isinstance(b, Lin):
        c = const_vec(node, a, b.n)
        if op == "Div":
            raise node_error(node, "divides by the vector (a reciprocal is not an MLP layer)")
        s, t = {"Add": (1.0, c), "Sub": (-1.0, c), "Mul": (c, 0.0)}[op]
        return [affine(b, s, t, node)]
    need_lin(node, a if not isinstance(a, (Lin, Const)) else b)
    raise node_error(node, "has no rule for these operands")


def _lin_plus_lin(node, op, a: Lin, b: Lin) -> Lin:
    if op not in ("Add", "Sub"):
        raise node_error(node, f"{op} of two model values (not an MLP layer)")
    if a.src is not b.src or a.clip is not None or b.clip is not None:
        raise node_error(node, "adds two branches of the network (a skip connection is not an MLP layer)")
    sign = 1.0 if op == "Add" else -1.0
    return Lin(a.src, a.W + sign * b.W, a.b + sign * b.b, node=node.name)


def r_neg(node, args, attrs):
    return [affine(need_lin(node, args[0]), -1.0, 0.0, node)]


def r_scaler(node, args, attrs):
    lin = need_lin(node, args[0])
    s = const_vec(node, Const(np.asarray(attrs.get("scale", [1.0]))), lin.n)
    off = const_vec(node, Const(np.asarray(attrs.get("offset", [0.0]))), lin.n)
    return [affine(lin, s, -off * s, node)]


def activation_rule(name: str):
    def rule(node, args, attrs):
        x = args[0]
        if isinstance(x, Other):
            return [Other(x.n, x.origin, finite=name in ("tanh", "sigmoid"))]
        lin = layer_input(need_lin(node, x), node)
        if name not in ACTIVATIONS:
            raise node_error(node, f"= {name}, which the runtime does not implement")
        return [new_layer(lin, name, node.name)]
    return rule


def r_leaky_relu(node, args, attrs):
    raise node_error(node, f"(alpha={attrs.get('alpha', 0.01):g}): leaky_relu is not implemented by the runtime (it "
                           "needs a multiply per negative activation in every integer kernel)")


def r_clip(node, args, attrs):
    x = args[0]
    lo = const_arg(node, args, 1, attrs.get("min", -math.inf))
    hi = const_arg(node, args, 2, attrs.get("max", math.inf))
    if isinstance(x, Other):
        return [Other(x.n, x.origin, finite=bool(np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))))]
    lin = need_lin(node, x)
    lo, hi = const_vec(node, Const(np.asarray(lo)), lin.n), const_vec(node, Const(np.asarray(hi)), lin.n)
    if lin.clip is not None:
        lo, hi = np.maximum(lo, lin.clip[0]), np.minimum(hi, lin.clip[1])
    return [Lin(lin.src, lin.W, lin.b, (lo, hi), lin.node, node.name)]


def _axis_ok(axis) -> bool:
    return axis in (-1, 1)


def r_softmax(node, args, attrs):
    x = args[0]
    if not _axis_ok(attrs.get("axis", -1)):
        raise node_error(node, f"axis={attrs.get('axis')} is not the vector's axis")
    return [x if isinstance(x, Ranked) else Ranked(need_lin(node, x))]


def r_reduce_row(node, args, attrs):
    x = args[0]
    axes = attrs.get("axes")
    if axes is None:
        axes = const_arg(node, args, 1)
    if axes is None or [int(a) for a in np.asarray(axes).reshape(-1)] not in ([-1], [1]) or \
            not attrs.get("keepdims", 1):
        raise node_error(node, "is only understood over the vector's axis with keepdims=1")
    if isinstance(x, Other):
        return [Other(1, x.origin)]
    return [RowScalar(x if isinstance(x, Ranked) else need_lin(node, x))]


def r_exp(node, args, attrs):
    x = args[0]
    finite = isinstance(x, Lin) and x.clip is not None and bool(np.all(x.clip[1] < EXP_FINITE_BELOW))
    origin = x.origin if isinstance(x, Other) else f"node '{node.name}': op Exp is not an MLP layer"
    return [Other(width(x), origin, finite=finite)]


def r_argmax(node, args, attrs):
    x = args[0]
    if not _axis_ok(attrs.get("axis", 0)):
        raise node_error(node, f"axis={attrs.get('axis', 0)} is not the vector's axis")
    if attrs.get("select_last_index", 0):
        raise node_error(node, "select_last_index=1: the runtime returns the first maximum")
    return [Index(x.lin if isinstance(x, Ranked) else need_lin(node, x))]


def r_array_feature_extractor(node, args, attrs):
    classes, idx = args
    if not isinstance(idx, Index) or not isinstance(classes, Const):
        raise node_error(node, "is only understood as the class label lookup after ArgMax")
    return [Index(idx.lin, np.asarray(classes.value).reshape(-1))]


def r_shape(node, args, attrs):
    return [ShapeOf(width(args[0]))]


def r_constant_of_shape(node, args, attrs):
    shp = args[0]
    value = attrs.get("value")
    v = 0.0 if value is None else float(np.asarray(value).reshape(-1)[0])
    if isinstance(shp, ShapeOf):
        return [Zero(shp.n)] if v == 0.0 else [Const(np.full((1, shp.n), v))]
    raise node_error(node, "of a shape that is neither constant nor a vector's")


def r_concat(node, args, attrs):
    if not _axis_ok(attrs.get("axis")):
        raise node_error(node, f"axis={attrs.get('axis')} is not the vector's axis")
    lins = [need_lin(node, a) for a in args]
    src = lins[0].src
    if any(lin.src is not src or lin.clip is not None for lin in lins) or src.kind == "input":
        raise node_error(node, "joins values from different branches (not an MLP layer)")
    return [Lin(src, np.vstack([lin.W for lin in lins]), np.concatenate([lin.b for lin in lins]), node=node.name)]


RULES = {
    "Identity": r_passthrough,
    "Dropout": r_passthrough,
    "Cast": r_cast,
    "Flatten": r_flatten,
    "Reshape": r_reshape,
    "Squeeze": r_passthrough,
    "Unsqueeze": r_passthrough,
    "Expand": r_expand,
    "Gemm": r_gemm,
    "MatMul": r_matmul,
    "Add": r_arith,
    "Sub": r_arith,
    "Mul": r_arith,
    "Div": r_arith,
    "Neg": r_neg,
    "Scaler": r_scaler,
    "Relu": activation_rule("relu"),
    "Tanh": activation_rule("tanh"),
    "Sigmoid": activation_rule("sigmoid"),
    "LeakyRelu": r_leaky_relu,
    "Clip": r_clip,
    "Softmax": r_softmax,
    "LogSoftmax": r_softmax,
    "ReduceLogSumExp": r_reduce_row,
    "ReduceMax": r_reduce_row,
    "Exp": r_exp,
    "ArgMax": r_argmax,
    "ArrayFeatureExtractor": r_array_feature_extractor,
    "Shape": r_shape,
    "ConstantOfShape": r_constant_of_shape,
    "Concat": r_concat,
}


def unknown_op(node, args, attrs):
    """Any op without a rule: its outputs are `Other` values naming it (refused if they reach the output)."""
    n = next((width(a) for a in args if width(a) is not None), None)
    first = next((a for a in args if isinstance(a, Other)), None)  # name the first node that left the MLP
    origin = first.origin if first else f"node '{node.name or node.output[0]}': op {node.op_type} is not an MLP layer"
    return [Other(n, origin) for _ in node.output]
