"""The shipped ONNX model passes onnx.checker, and onnxruntime agrees with a torch forward of the same weights
and with the float spec to 1e-5 on 10 000 random states."""
import numpy as np
import onnx
import pytest
import torch

from tinypolicy_host.contract.blob import read_blob
from tinypolicy_host.contract.spec import DenseSpec, MLPSpec, pendulum_params, pendulum_policy, pendulum_spec
from tinypolicy_host.export.artifacts import ONNX_NAME, build_onnx, onnx_forward
from tinypolicy_host.paths import MODELS

N = 10_000


def states(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(-3 * np.pi, 3 * np.pi, N).astype(np.float32),
            rng.uniform(-10, 10, N).astype(np.float32))


def torch_forward(spec: MLPSpec, theta, theta_dot) -> np.ndarray:
    """The colleague's PolicyNet when it can represent the spec, else plain torch.nn.functional ops."""
    th, thd = torch.from_numpy(np.asarray(theta, np.float32)), torch.from_numpy(np.asarray(theta_dot, np.float32))
    try:
        from tinypolicy_host.training.model import PolicyNet

        net = PolicyNet.from_spec(spec)
    except (ImportError, ValueError):
        net = None
    with torch.no_grad():
        if net is not None:
            return net(th, thd).numpy()
        vel_scale, max_torque = pendulum_params(spec)
        lim = spec.inputs[1].hi
        x = torch.stack([torch.cos(th), torch.sin(th), thd.clamp(-lim, lim) * vel_scale], dim=-1)
        for layer in spec.layers:
            x = torch.nn.functional.linear(x, torch.from_numpy(layer.weight), torch.from_numpy(layer.bias))
            x = {"relu": torch.relu, "tanh": torch.tanh, "hardtanh": torch.nn.functional.hardtanh,
                 "sigmoid": torch.sigmoid}.get(layer.activation, lambda v: v)(x)
        return torch.clamp(x[:, 0], -max_torque, max_torque).numpy()


def test_shipped_model_passes_checker():
    model = onnx.load(str(MODELS / ONNX_NAME))
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == ["state"]
    assert [o.name for o in model.graph.output] == ["torque"]


def test_shipped_model_matches_torch_and_spec():
    spec = read_blob(MODELS / "policy_f32.bin")
    theta, theta_dot = states()
    ort = onnx_forward(MODELS / ONNX_NAME, theta, theta_dot)
    np.testing.assert_allclose(ort, torch_forward(spec, theta, theta_dot), atol=1e-5, rtol=0)
    np.testing.assert_allclose(ort, pendulum_policy(spec)(theta, theta_dot), atol=1e-5, rtol=0)
    assert np.abs(ort).max() <= pendulum_params(spec)[1]


@pytest.mark.parametrize("act", ["relu", "tanh", "hardtanh", "sigmoid"])
def test_built_model_matches_torch_plain_ops(tmp_path, act):
    rng = np.random.default_rng(3)
    dims = [3, 12, 8, 1]
    layers = [DenseSpec(rng.normal(size=(dims[k + 1], dims[k])).astype(np.float32),
                        rng.normal(size=dims[k + 1]).astype(np.float32), act if k < 2 else "identity")
              for k in range(3)]
    spec = pendulum_spec(0.125, 2.0, layers)
    path = tmp_path / "m.onnx"
    onnx.save(build_onnx(spec), str(path))
    theta, theta_dot = states(1)
    ort = onnx_forward(path, theta, theta_dot)
    np.testing.assert_allclose(ort, torch_forward(spec, theta, theta_dot), atol=1e-5, rtol=0)
    np.testing.assert_allclose(ort, pendulum_policy(spec)(theta, theta_dot), atol=1e-5, rtol=0)


def test_hardtanh_and_sigmoid_nodes():
    """hardtanh is ONNX Clip(−1, 1), sigmoid is Sigmoid; PolicyNet builds nn.Hardtanh / nn.Sigmoid for them."""
    from onnx import numpy_helper

    from tinypolicy_host.export.testnets import hardtanh_sigmoid_spec
    from tinypolicy_host.training.model import PolicyNet

    model = build_onnx(hardtanh_sigmoid_spec())
    ops = [n.op_type for n in model.graph.node if n.name.startswith(("dense", "hardtanh", "sigmoid"))]
    assert ops == ["Gemm", "Sigmoid", "Gemm", "Clip", "Gemm", "Sigmoid", "Gemm"]
    inits = {i.name: float(numpy_helper.to_array(i)) for i in model.graph.initializer if i.name.startswith("hard")}
    assert inits == {"hardtanh_min": -1.0, "hardtanh_max": 1.0}
    clip = next(n for n in model.graph.node if n.op_type == "Clip" and n.name.startswith("hardtanh"))
    assert list(clip.input[1:]) == ["hardtanh_min", "hardtanh_max"]
    assert isinstance(PolicyNet(4, 2, "hardtanh").act, torch.nn.Hardtanh)
    assert isinstance(PolicyNet(4, 2, "sigmoid").act, torch.nn.Sigmoid)
    with pytest.raises(ValueError, match="activation"):
        PolicyNet(4, 2, "gelu")


def test_mixed_hardtanh_sigmoid_net_matches_torch_and_spec():
    """The synthetic golden net (sigmoid, hardtanh, sigmoid, identity): onnxruntime vs torch functional ops and
    the float64 spec on 10 000 random states, including |x| far beyond the sigmoid's ±8 and hardtanh's ±1."""
    from tinypolicy_host.export.testnets import hardtanh_sigmoid_spec

    spec = hardtanh_sigmoid_spec()
    theta, theta_dot = states(2)
    theta_dot = theta_dot * 4  # ±40 rad/s: drives the first sigmoid layer deep into saturation
    ort = onnx_forward(build_onnx(spec).SerializeToString(), theta, theta_dot)
    np.testing.assert_allclose(ort, torch_forward(spec, theta, theta_dot), atol=1e-5, rtol=0)
    np.testing.assert_allclose(ort, pendulum_policy(spec)(theta, theta_dot), atol=1e-5, rtol=0)
    assert (np.abs(ort) < pendulum_params(spec)[1]).mean() > 0.2


def test_clip_layers_export_as_clip_nodes():
    """export/onnx_mlp writes a clip layer as Clip(lo, hi) with its own bounds; onnxruntime matches the float
    spec (relu6 → clip(−0.5, 2) → clip(−1, 1.5), each reached on these rows)."""
    from onnx import numpy_helper

    from tinypolicy_host.export.onnx_mlp import build_onnx, run_onnx
    from tinypolicy_host.export.testnets import clip_spec, rows_for

    spec = clip_spec()
    model = build_onnx(spec)
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    clips = [[float(inits[n]) for n in node.input[1:]] for node in model.graph.node if node.op_type == "Clip"]
    assert clips == [[0.0, 6.0], [-0.5, 2.0], [-1.0, 1.5]]
    x = rows_for(spec, 2000, 2)
    np.testing.assert_allclose(run_onnx(model.SerializeToString(), x), spec.forward(x), atol=1e-5, rtol=0)
