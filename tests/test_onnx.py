"""The shipped ONNX model passes onnx.checker, and onnxruntime agrees with a torch forward of the same weights
and with the float spec to 1e-5 on 10 000 random states."""
import numpy as np
import onnx
import pytest
import torch

from tinypolicy_host.blob import read_blob
from tinypolicy_host.export import ONNX_NAME, build_onnx, onnx_forward
from tinypolicy_host.paths import MODELS
from tinypolicy_host.spec import DenseSpec, FloatPolicySpec

N = 10_000


def states(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(-3 * np.pi, 3 * np.pi, N).astype(np.float32),
            rng.uniform(-10, 10, N).astype(np.float32))


def torch_forward(spec: FloatPolicySpec, theta, theta_dot) -> np.ndarray:
    """The colleague's PolicyNet when it can represent the spec, else plain torch.nn.functional ops."""
    th, thd = torch.from_numpy(np.asarray(theta, np.float32)), torch.from_numpy(np.asarray(theta_dot, np.float32))
    try:
        from tinypolicy_host.model import PolicyNet

        net = PolicyNet.from_spec(spec)
    except (ImportError, ValueError):
        net = None
    with torch.no_grad():
        if net is not None:
            return net(th, thd).numpy()
        x = torch.stack([torch.cos(th), torch.sin(th), thd * spec.vel_scale], dim=-1)
        for layer in spec.layers:
            x = torch.nn.functional.linear(x, torch.from_numpy(layer.weight), torch.from_numpy(layer.bias))
            x = {"relu": torch.relu, "tanh": torch.tanh}.get(layer.activation, lambda v: v)(x)
        return torch.clamp(x[:, 0], -spec.max_torque, spec.max_torque).numpy()


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
    np.testing.assert_allclose(ort, spec.forward(theta, theta_dot), atol=1e-5, rtol=0)
    assert np.abs(ort).max() <= spec.max_torque


@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_built_model_matches_torch_plain_ops(tmp_path, act):
    rng = np.random.default_rng(3)
    dims = [3, 12, 8, 1]
    layers = [DenseSpec(rng.normal(size=(dims[k + 1], dims[k])).astype(np.float32),
                        rng.normal(size=dims[k + 1]).astype(np.float32), act if k < 2 else "identity")
              for k in range(3)]
    spec = FloatPolicySpec(0.125, 2.0, layers)
    path = tmp_path / "m.onnx"
    onnx.save(build_onnx(spec), str(path))
    theta, theta_dot = states(1)
    ort = onnx_forward(path, theta, theta_dot)
    np.testing.assert_allclose(ort, torch_forward(spec, theta, theta_dot), atol=1e-5, rtol=0)
    np.testing.assert_allclose(ort, spec.forward(theta, theta_dot), atol=1e-5, rtol=0)
