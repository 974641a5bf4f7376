"""ONNX → MLPSpec on real exporters' graphs (torch, Keras, sklearn/skl2onnx, SB3), checked against onnxruntime in
float, and the models the converter must refuse (one error line naming the node and op)."""
import math

import convert_models as cm
import numpy as np
import pytest
import torch
from torch import nn

from tinypolicy_host.cli import main
from tinypolicy_host.convert.calib import read_rows
from tinypolicy_host.convert.errors import ConvertError
from tinypolicy_host.convert.pipeline import Options, convert_model, ort_reference

RANGE = "-2:2"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="module")
def sk(folder):
    return cm.sklearn_models(folder)


@pytest.fixture(scope="module")
def sb3(folder):
    return cm.sb3_actors(folder)


def float_error(path, opts):
    """max |spec.forward − onnxruntime| over the calibration + held-out rows inside the declared input ranges
    (outside them the input stage clips, as the blob does; at most 1 % of the rows here), and the conversion."""
    conv, data = convert_model(path, opts)
    x = np.concatenate([data.calib, data.held_out])
    xs = conv.sensor_rows(x)
    inside = np.all([(xs[:, i] >= inp.lo) & (xs[:, i] <= inp.hi) for i, inp in enumerate(conv.spec.inputs)
                     if inp.kind == "affine"] or [np.ones(len(x), bool)], axis=0)
    assert inside.mean() >= 0.99
    got = conv.spec.forward(xs[inside])
    ref = ort_reference(path, conv, x[inside])
    return float(np.max(np.abs(got - ref))), conv


TORCH_CASES = [("relu", 13, False), ("tanh", 15, False), ("sigmoid", 17, False), ("hardtanh", 19, False),
               ("identity", 21, False), ("relu", 18, True), ("tanh", 20, True)]


@pytest.mark.parametrize("activation,opset,dynamo", TORCH_CASES)
@pytest.mark.parametrize("simplify", [True, False])
def test_torch_mlp_per_activation(folder, activation, opset, dynamo, simplify):
    path = cm.torch_mlp(folder, activation, opset, dynamo)
    err, conv = float_error(path, Options(input_range=RANGE, simplify=simplify))
    assert err < 1e-5
    hidden = [d.activation for d in conv.spec.layers]
    # identity hidden layers compose into one affine map: Linear∘Linear∘Linear = one dense layer
    assert hidden == ([activation, activation, "identity"] if activation != "identity" else ["identity"])


def test_torch_final_tanh_and_clip(folder):
    path = cm.torch_mlp(folder, "relu", 14, final=nn.Tanh())
    err, conv = float_error(path, Options(input_range=RANGE))
    assert err < 1e-5 and conv.spec.layers[-1].activation == "tanh"
    assert [(o.lo, o.hi) for o in conv.spec.outputs] == [(-1.0, 1.0)] * 2
    path = cm.torch_mlp(folder, "tanh", 16, final=nn.Hardtanh(-0.5, 0.75))
    err, conv = float_error(path, Options(input_range=RANGE))
    assert err < 1e-5 and conv.spec.layers[-1].activation == "identity"
    assert [(o.lo, o.hi) for o in conv.spec.outputs] == [(-0.5, 0.75)] * 2  # the final Clip: declared range


def test_torch_relu6_and_clip_layers(folder):
    """nn.ReLU6 (Clip(0, 6)) and nn.Hardtanh(−0.5, 2) (Clip(−0.5, 2)) on hidden layers become clip activations."""
    err, conv = float_error(cm.torch_clip_mlp(folder), Options(input_range=RANGE))
    assert err < 1e-5
    assert [(d.activation, d.lo, d.hi) for d in conv.spec.layers] == [("clip", 0.0, 6.0), ("clip", -0.5, 2.0),
                                                                      ("identity", 0.0, 0.0)]


class Rescale(nn.Module):
    """An action-space rescale after the final Tanh (what SB3 users add): becomes the output stage."""

    def forward(self, x):
        return x * torch.tensor([2.0, -0.5]) + torch.tensor([0.5, 1.0])


def test_output_affine_after_activation(folder):
    path = cm.torch_mlp(folder, "relu", 18, final=nn.Sequential(nn.Tanh(), Rescale()))
    err, conv = float_error(path, Options(input_range=RANGE))
    assert err < 1e-5
    assert [(o.scale, o.offset, o.lo, o.hi) for o in conv.spec.outputs] == [(2.0, 0.5, -1.5, 2.5),
                                                                           (-0.5, 1.0, 0.5, 1.5)]


def test_keras_dense(folder):
    err, conv = float_error(cm.keras_dense(folder), Options(input_range=RANGE))
    assert err < 1e-5
    assert [d.activation for d in conv.spec.layers] == ["relu", "tanh", "identity"]


def test_sklearn_regressor_pipeline_folds_scaler(folder, sk):
    calib = folder / "sk_calib.npy"
    err, conv = float_error(sk["sk_reg_pipeline"], Options(calib=calib))
    assert err < 1e-4
    x, _ = read_rows(calib, 4)
    # the Scaler op became the input stage: feature = (x − mean) / std
    np.testing.assert_allclose([i.offset for i in conv.spec.inputs], x.mean(axis=0), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose([1 / i.scale for i in conv.spec.inputs], x.std(axis=0), rtol=1e-3)


@pytest.mark.parametrize("name,classes", [("sk_cls2_pipeline", [0, 1]), ("sk_cls3", [3, 13, 23])])
def test_sklearn_classifiers_are_argmax_heads(folder, sk, name, classes):
    err, conv = float_error(sk[name], Options(calib=folder / "sk_calib.npy"))
    assert err == 0.0  # same class index on every row
    assert conv.spec.argmax and conv.graph.labels == classes


@pytest.mark.parametrize("simplify", [True, False])
def test_sb3_actors(sb3, simplify):
    for name, path in sb3.items():
        err, conv = float_error(path, Options(input_range=RANGE, simplify=simplify))
        assert err < 1e-5, name
        acts = [d.activation for d in conv.spec.layers]
        if name == "sb3_ppo_cartpole":  # ReduceLogSumExp, Sub, Softmax, ArgMax, Cast, Reshape: the logits' argmax
            assert conv.spec.argmax and acts == ["tanh", "tanh", "identity"]
        elif name == "sb3_sac_pendulum":  # log-std branch (Gemm, Clip, Exp, ConstantOfShape) pruned, Tanh kept
            assert not conv.spec.argmax and acts == ["relu", "relu", "tanh"]
        else:
            assert acts == ["tanh", "tanh", "identity"]


@pytest.mark.parametrize("simplify", [True, False])
def test_noop_and_scaling_nodes_fold_into_stages(folder, simplify):
    path = cm.handmade_noop_scaling(folder)
    err, conv = float_error(path, Options(input_range="-50:100", simplify=simplify))
    assert err < 1e-5
    spec = conv.spec
    assert len(spec.layers) == 2
    assert [i.offset for i in spec.inputs] == [1.0, -2.0, 50.0]
    np.testing.assert_allclose([i.scale for i in spec.inputs], [0.5, 2.0, 0.04], rtol=1e-6)
    assert [o.scale for o in spec.outputs] == [1.0, 1.0]  # Mul/Add right after MatMul: folded into the layer
    assert [(o.lo, o.hi) for o in spec.outputs] == [(-4.0, 4.0)] * 2


class ArgmaxHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 5), nn.Softmax(dim=-1))

    def forward(self, x):
        return torch.argmax(self.net(x), dim=-1)


def test_discrete_heads(folder):
    err, conv = float_error(cm.torch_custom(folder, "argmax_head", ArgmaxHead(), 4), Options(input_range=RANGE))
    assert err == 0.0 and conv.spec.argmax and conv.spec.outputs[0].hi == 4.0
    logits = cm.torch_mlp(folder, "relu", 17, n_out=4)
    err, conv = float_error(logits, Options(input_range=RANGE, discrete=True))
    assert err == 0.0 and conv.spec.argmax


def test_angle_inputs(folder):
    path = cm.torch_mlp(folder, "tanh", 17, n_in=3, n_out=1)
    err, conv = float_error(path, Options(input_range="-8:8", angle_inputs=(0,)))
    assert err < 1e-5
    assert [i.kind for i in conv.spec.inputs] == ["angle", "affine"]
    assert conv.spec.inputs[0].frac == 12


class Skip(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 2)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)) + x)


class SinNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 3)

    def forward(self, x):
        return torch.sin(self.a(x))


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c, self.f = nn.Conv1d(1, 2, 3), nn.Linear(12, 2)

    def forward(self, x):
        return self.f(torch.relu(self.c(x)).flatten(1))


class ClampMin(nn.Module):
    """A hidden Clip(−0.5, inf) (torch.clamp(min=−0.5)): no finite upper bound."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(4, 6), nn.Linear(6, 2)

    def forward(self, x):
        return self.b(torch.clamp(self.a(x), min=-0.5))


def refusal(folder, name):
    """(path, options, expected message part) of each model the converter must refuse."""
    cases = {
        "conv": (lambda: cm.torch_custom(folder, "conv", ConvNet(), 8, input_shape=(1, 1, 8)), "op Conv is not an MLP"),
        "wide": (lambda: cm.torch_mlp(folder, "relu", 17, hidden=(300,)), "300 units, at most 256"),
        "deep": (lambda: cm.torch_mlp(folder, "relu", 17, hidden=(4,) * 8), "at most 8 dense layers"),
        "sin": (lambda: cm.torch_custom(folder, "sin", SinNet(), 4), "op Sin is not an MLP layer"),
        "leaky": (lambda: cm.torch_mlp(folder, "leaky_relu", 17), "op LeakyRelu (alpha=0.01): leaky_relu"),
        "elu": (lambda: cm.torch_mlp(folder, "elu", 17), "op Elu is not an MLP layer"),
        "clip_per_unit": (lambda: cm.torch_clip_mlp(folder, per_unit=True),
                          "Clip(per-unit bounds, per-unit bounds) is followed by a layer: a layer's clip needs one"),
        "clip_open": (lambda: cm.torch_custom(folder, "clip_open", ClampMin(), 4),
                      "Clip(-0.5, inf) is followed by a layer: a clip activation needs finite bounds"),
        "skip": (lambda: cm.torch_custom(folder, "skip", Skip(), 4), "skip connection"),
        "two_inputs": (lambda: cm.two_input_model(folder), "TinyPolicy takes one input vector"),
        "many_outputs": (lambda: cm.torch_mlp(folder, "relu", 17, n_out=17), "17 outputs, at most 16"),
    }
    build, msg = cases[name]
    return build(), msg


@pytest.mark.parametrize("name", ["conv", "wide", "deep", "sin", "leaky", "elu", "clip_per_unit", "clip_open",
                                  "skip", "two_inputs", "many_outputs"])
def test_refused_with_one_line_naming_node(folder, name, capsys, tmp_path):
    path, msg = refusal(folder, name)
    with pytest.raises(ConvertError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        convert_model(path, Options(input_range=RANGE))
    rc = main(["convert", str(path), f"--input-range={RANGE}", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and err.count("\n") == 1 and msg in err
    assert "Traceback" not in err


def test_softmax_output_and_bad_files(folder, sk, tmp_path):
    with pytest.raises(ConvertError, match="Softmax probabilities"):
        convert_model(sk["sk_cls3"], Options(input_range=RANGE, output="probabilities"))
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a protobuf at all \x00\xff")
    with pytest.raises(ConvertError, match="not a valid ONNX model"):
        convert_model(junk, Options(input_range=RANGE))
    with pytest.raises(ConvertError, match="no such file"):
        convert_model(tmp_path / "missing.onnx", Options(input_range=RANGE))


@pytest.mark.parametrize("text,msg", [("a,b\n1,2\n", "header has 2 columns, the model takes 4"),
                                      ("a,b,c,d\n1,2,3,x\n", "line 2: not a number"),
                                      ("a,b,c,d\n1,2,3\n", "line 2: 3 columns, expected 4"),
                                      ("a,b,c,d\n", "no data rows"),
                                      ("1,2,3,4\n5,6,7,8\n", "expected a header of input names"),
                                      ("a,b,c,d\n1,2,3,nan\n", "line 2: not finite")])
def test_calibration_csv_errors(tmp_path, text, msg):
    p = tmp_path / "calib.csv"
    p.write_text(text)
    with pytest.raises(ConvertError, match=msg):
        read_rows(p, 4)


def test_calibration_csv_names_become_input_names(folder, tmp_path):
    path = cm.torch_mlp(folder, "relu", 17, n_in=3, n_out=1)
    rows = np.random.default_rng(1).uniform(-1, 1, (50, 3))
    p = tmp_path / "calib.csv"
    p.write_text("pos,vel,angle\n" + "\n".join(",".join(f"{v:.6f}" for v in r) for r in rows) + "\n")
    conv, data = convert_model(path, Options(calib=p))
    assert [i.name for i in conv.spec.inputs] == ["pos", "vel", "angle"]
    assert len(data.held_out) == 10 and len(data.calib) == 40
    for i, inp in enumerate(conv.spec.inputs):  # declared range: calibrated min/max widened by 25 % of the span
        lo, hi = data.calib[:, i].min(), data.calib[:, i].max()
        assert math.isclose(inp.lo, lo - 0.25 * (hi - lo)) and math.isclose(inp.hi, hi + 0.25 * (hi - lo))


def test_log_std_branch_pruned_only_when_provably_dead(folder):
    """Without simplification (dynamic batch: onnxsim cannot fold Shape), zero · Exp(Clip(...)) is dead; zero ·
    Exp(unclipped) is refused (inf · 0 = NaN), naming the Mul."""
    err, conv = float_error(cm.log_std_branch(folder, True), Options(input_range=RANGE, simplify=False))
    assert err < 1e-5 and [d.activation for d in conv.spec.layers] == ["relu", "tanh"]
    with pytest.raises(ConvertError, match="node 'noise': op Mul: zero times a value not provably finite"):
        convert_model(cm.log_std_branch(folder, False), Options(input_range=RANGE, simplify=False))

