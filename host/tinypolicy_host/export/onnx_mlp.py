"""ONNX of any MLPSpec: the float policy exactly as the spec (and an f32 blob) computes it.

Input `obs` (N, n_inputs) float32 → input stage (affine: Max/Min to [lo, hi], Sub offset, Mul scale; angle: Cos,
Sin) → Gemm + activation per layer (hardtanh: Clip(−1, 1); clip: Clip(lo, hi)) → output stage: Mul scale, Add
offset, Max/Min to the declared [lo, hi] → `action` (N, n_outputs) float32; argmax head: ArgMax → `action` (N, 1)
int64.
"""
import numpy as np

OPSET = 17


def build_onnx(spec, doc: str = ""):
    """onnx.ModelProto of `spec` (checked with onnx.checker)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits, nodes = [], []

    def const(name: str, value) -> str:
        if name not in {i.name for i in inits}:
            inits.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name

    def node(op: str, ins: list[str], out: str, **attrs) -> str:
        nodes.append(helper.make_node(op, ins, [out], name=out, **attrs))
        return out

    pieces = []
    for j, inp in enumerate(spec.inputs):
        inits.append(numpy_helper.from_array(np.array([j], np.int64), f"col{j}"))
        x = node("Gather", ["obs", f"col{j}"], f"in{j}", axis=1)
        if inp.kind == "angle":
            pieces += [node("Cos", [x], f"cos{j}"), node("Sin", [x], f"sin{j}")]
        else:
            x = node("Max", [x, const(f"lo{j}", [inp.lo])], f"in{j}_lo")
            x = node("Min", [x, const(f"hi{j}", [inp.hi])], f"in{j}_hi")
            x = node("Sub", [x, const(f"offset{j}", [inp.offset])], f"in{j}_off")
            pieces.append(node("Mul", [x, const(f"scale{j}", [inp.scale])], f"feature{j}"))
    x = node("Concat", pieces, "features", axis=1)
    for k, layer in enumerate(spec.layers):
        w, b = const(f"W{k}", layer.weight), const(f"b{k}", layer.bias)
        x = node("Gemm", [x, w, b], f"z{k}", transB=1)
        act = layer.activation
        if act == "hardtanh":
            x = node("Clip", [x, const("minus_one", -1.0), const("one", 1.0)], f"h{k}")
        elif act == "clip":
            x = node("Clip", [x, const(f"clip_lo{k}", layer.lo), const(f"clip_hi{k}", layer.hi)], f"h{k}")
        elif act in ("relu", "tanh", "sigmoid"):
            x = node({"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid"}[act], [x], f"h{k}")
    if spec.argmax:
        node("ArgMax", [x], "action", axis=1, keepdims=1)
        out_type, n_out = TensorProto.INT64, 1
    else:
        outs = spec.outputs
        x = node("Mul", [x, const("out_scale", [o.scale for o in outs])], "out_scaled")
        x = node("Add", [x, const("out_offset", [o.offset for o in outs])], "out_shifted")
        x = node("Max", [x, const("out_lo", [o.lo for o in outs])], "out_lo_clip")
        node("Min", [x, const("out_hi", [o.hi for o in outs])], "action")
        out_type, n_out = TensorProto.FLOAT, len(outs)
    graph = helper.make_graph(nodes, "tinypolicy_mlp",
                              [helper.make_tensor_value_info("obs", TensorProto.FLOAT, ["N", spec.n_inputs])],
                              [helper.make_tensor_value_info("action", out_type, ["N", n_out])],
                              initializer=inits)
    model = helper.make_model(graph, producer_name="tinypolicy", opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    model.doc_string = doc
    onnx.checker.check_model(model, full_check=True)
    return model


def run_onnx(model, obs: np.ndarray) -> np.ndarray:
    """onnxruntime on (N, n_inputs) observations → (N, n_outputs) float64. model: a path or serialized bytes."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    src = model if isinstance(model, bytes) else str(model)
    sess = ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])
    return np.asarray(sess.run(["action"], {"obs": np.asarray(obs, np.float32)})[0], np.float64)
