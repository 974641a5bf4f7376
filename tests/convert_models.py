"""Third-party ONNX models built at test time (no downloads) for the `tinypolicy convert` tests.

Each builder writes `<folder>/<name>.onnx` and returns its path. Weights are seeded; training, where there is
any, is a few iterations (conversion does not need a good policy, only a real exporter's graph).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")


def _torch_export(module, n_in: int, path: Path, opset: int, dynamo: bool = False, input_shape=None) -> Path:
    import torch

    module.eval()
    x = torch.zeros(*(input_shape or (1, n_in)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kwargs = {"dynamo": dynamo}
        torch.onnx.export(module, (x,), str(path), opset_version=opset, input_names=["obs"], output_names=["act"],
                          **kwargs)
    return path


def torch_mlp(folder: Path, activation: str, opset: int, dynamo: bool = False, seed: int = 0,
              n_in: int = 5, hidden=(16, 12), n_out: int = 2, final=None) -> Path:
    """nn.Sequential of Linear + activation (relu / tanh / sigmoid / hardtanh / identity), optional final module."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    act = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "hardtanh": nn.Hardtanh,
           "identity": nn.Identity, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU}[activation]
    mods, d = [], n_in
    for h in hidden:
        mods += [nn.Linear(d, h), act()]
        d = h
    mods.append(nn.Linear(d, n_out))
    if final is not None:
        mods.append(final)
    name = f"torch_{activation}_op{opset}{'_dynamo' if dynamo else ''}"
    return _torch_export(nn.Sequential(*mods), n_in, folder / f"{name}.onnx", opset, dynamo)


def torch_clip_mlp(folder: Path, opset: int = 17, per_unit: bool = False) -> Path:
    """5 → 16 nn.ReLU6 (Clip(0, 6)) → 12 nn.Hardtanh(−0.5, 2) (Clip(−0.5, 2)) → 2; first layer's weights ×3 so
    both clips are reached on inputs in ±2. per_unit: a per-unit scale between the Clip and the next layer (its
    bounds become per-unit: refused)."""
    import torch
    from torch import nn

    class Scale(nn.Module):
        def __init__(self, s):
            super().__init__()
            self.register_buffer("s", s)

        def forward(self, x):
            return x * self.s

    torch.manual_seed(3)
    first = nn.Linear(5, 16)
    with torch.no_grad():
        first.weight.mul_(3.0)
    mods = [first, nn.ReLU6(), nn.Linear(16, 12), nn.Hardtanh(-0.5, 2.0)]
    if per_unit:
        mods.append(Scale(torch.linspace(0.5, 2.0, 12)))
    mods.append(nn.Linear(12, 2))
    name = f"torch_clip_op{opset}{'_per_unit' if per_unit else ''}"
    return _torch_export(nn.Sequential(*mods), 5, folder / f"{name}.onnx", opset)


def torch_custom(folder: Path, name: str, module, n_in: int, opset: int = 17, input_shape=None) -> Path:
    import torch

    torch.manual_seed(0)
    return _torch_export(module, n_in, folder / f"{name}.onnx", opset, input_shape=input_shape)


def sklearn_models(folder: Path, seed: int = 0) -> dict[str, Path]:
    """MLPRegressor in a StandardScaler Pipeline, a 2-class and a 3-class MLPClassifier (skl2onnx, zipmap off)."""
    import onnx
    from skl2onnx import to_onnx
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(400, 4)) * [1.0, 5.0, 0.2, 30.0] + [0.0, 10.0, -1.0, 100.0]).astype(np.float32)
    z = np.tanh(X[:, 0] + 0.2 * (X[:, 1] - 10) - 3 * (X[:, 2] + 1)) + 0.01 * (X[:, 3] - 100)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = Pipeline([("scale", StandardScaler()),
                        ("mlp", MLPRegressor(hidden_layer_sizes=(16, 8), max_iter=300, random_state=seed))])
        reg.fit(X, np.stack([z, 2 * z + 1], axis=1))
        cls2 = Pipeline([("scale", StandardScaler()),
                         ("mlp", MLPClassifier(hidden_layer_sizes=(12,), max_iter=300, random_state=seed))])
        cls2.fit(X, (z > 0).astype(int))
        cls3 = MLPClassifier(hidden_layer_sizes=(12,), activation="tanh", max_iter=300, random_state=seed)
        cls3.fit(X, np.digitize(z, [-0.5, 0.5]) * 10 + 3)  # labels 3, 13, 23
    for name, model in (("sk_reg_pipeline", reg), ("sk_cls2_pipeline", cls2), ("sk_cls3", cls3)):
        opts = {id(model): {"zipmap": False}} if name != "sk_reg_pipeline" else None
        onx = to_onnx(model, X[:1], options=opts, target_opset={"": 17, "ai.onnx.ml": 3})
        out[name] = folder / f"{name}.onnx"
        onnx.save(onx, str(out[name]))
    np.save(folder / "sk_calib.npy", X)
    return out


def keras_dense(folder: Path) -> Path:
    """Keras 3 Sequential of Dense layers (torch backend), exported with keras' own ONNX export."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(3)])
    model(np.zeros((1, 6), np.float32))
    path = folder / "keras_dense.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.export(str(path), format="onnx", verbose=False)
    return path


def sb3_actors(folder: Path) -> dict[str, Path]:
    """SB3 2.9 PPO (CartPole-v1, Categorical), PPO (Pendulum-v1, Gaussian) and SAC (Pendulum-v1) actors exported
    as the SB3 docs describe ("Exporting models" → ONNX), untrained (seeded) small nets."""
    import torch
    from stable_baselines3 import PPO, SAC

    class OnnxableSB3Policy(torch.nn.Module):  # the docs' wrapper for PPO / A2C
        def __init__(self, policy):
            super().__init__()
            self.policy = policy

        def forward(self, observation):
            return self.policy(observation, deterministic=True)

    class OnnxablePolicy(torch.nn.Module):  # the docs' wrapper for SAC / TD3 actors
        def __init__(self, actor):
            super().__init__()
            self.actor = actor

        def forward(self, observation):
            return self.actor(observation, deterministic=True)

    out = {}
    kw = {"policy_kwargs": {"net_arch": [32, 32]}, "seed": 0, "device": "cpu"}
    specs = (("sb3_ppo_cartpole", PPO("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=32, **kw), 4),
             ("sb3_ppo_pendulum", PPO("MlpPolicy", "Pendulum-v1", n_steps=64, batch_size=32, **kw), 3),
             ("sb3_sac_pendulum", SAC("MlpPolicy", "Pendulum-v1", **kw), 3))
    for name, model, n_obs in specs:
        wrapper = OnnxablePolicy(model.policy.actor) if name.startswith("sb3_sac") else OnnxableSB3Policy(model.policy)
        out[name] = folder / f"{name}.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(wrapper, torch.randn(1, n_obs), str(out[name]), opset_version=17, input_names=["input"],
                              dynamo=False)
    return out


def handmade_noop_scaling(folder: Path) -> Path:
    """A hand-built graph with the machinery exporters leave around an MLP: Identity, Cast, Flatten, input
    Sub/Div, Gemm (transB, alpha, beta), Relu, Dropout, MatMul + Add, Reshape, output Mul/Add, final Clip."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    W0, b0 = rng.normal(size=(10, 3)), rng.normal(size=10)
    W1, b1 = rng.normal(size=(10, 2)), rng.normal(size=2)
    c = lambda name, v, dt=np.float32: numpy_helper.from_array(np.asarray(v, dt), name)  # noqa: E731
    inits = [c("off", [1.0, -2.0, 50.0]), c("div", [2.0, 0.5, 25.0]), c("W0", W0), c("b0", b0), c("W1", W1),
             c("b1", b1), c("shape", [-1, 2], np.int64), c("oscale", [3.0, -0.5]), c("ooff", [0.25, 1.0]),
             c("lo", -4.0), c("hi", 4.0)]
    N = helper.make_node
    nodes = [N("Identity", ["x"], ["a"], name="id"), N("Cast", ["a"], ["b"], to=TensorProto.FLOAT, name="cast"),
             N("Flatten", ["b"], ["c"], axis=1, name="flat"), N("Sub", ["c", "off"], ["d"], name="sub_in"),
             N("Div", ["d", "div"], ["e"], name="div_in"),
             N("Gemm", ["e", "W0", "b0"], ["f"], transB=1, alpha=0.5, beta=2.0, name="gemm0"),
             N("Relu", ["f"], ["g"], name="relu0"), N("Dropout", ["g"], ["h"], name="drop"),
             N("MatMul", ["h", "W1"], ["i"], name="mm1"), N("Add", ["i", "b1"], ["j"], name="add1"),
             N("Reshape", ["j", "shape"], ["k"], name="reshape"), N("Mul", ["k", "oscale"], ["l"], name="mul_out"),
             N("Add", ["l", "ooff"], ["m"], name="add_out"), N("Clip", ["m", "lo", "hi"], ["y"], name="clip_out")]
    graph = helper.make_graph(nodes, "noop_scaling", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    path = folder / "handmade_noop_scaling.onnx"
    onnx.save(model, str(path))
    return path


def two_input_model(folder: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Add", ["x", "y"], ["z"], name="add")], "two",
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", 2]) for n in ("x", "y")],
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 2])])
    path = folder / "two_inputs.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def log_std_branch(folder: Path, clip_log_std: bool) -> Path:
    """SB3 SAC's deterministic tail written out by hand: mean + ConstantOfShape(Shape(mean), 0) · Exp(log_std),
    with log_std = Clip(Gemm(h), −20, 2) (provably finite: the branch is dead) or an unclipped Gemm (Exp may be
    inf and inf·0 is NaN: not provably dead)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(5)
    c = lambda name, v: numpy_helper.from_array(np.asarray(v, np.float32), name)  # noqa: E731
    inits = [c("W0", rng.normal(size=(8, 3))), c("b0", rng.normal(size=8)), c("Wm", rng.normal(size=(2, 8))),
             c("bm", rng.normal(size=2)), c("Ws", rng.normal(size=(2, 8))), c("bs", rng.normal(size=2)),
             c("lo", -20.0), c("hi", 2.0)]
    N = helper.make_node
    nodes = [N("Gemm", ["x", "W0", "b0"], ["z0"], transB=1, name="latent"), N("Relu", ["z0"], ["h"], name="relu"),
             N("Gemm", ["h", "Wm", "bm"], ["mean"], transB=1, name="mu"),
             N("Gemm", ["h", "Ws", "bs"], ["ls0"], transB=1, name="log_std")]
    if clip_log_std:
        nodes.append(N("Clip", ["ls0", "lo", "hi"], ["ls"], name="log_std_clip"))
    else:
        nodes.append(N("Identity", ["ls0"], ["ls"], name="log_std_id"))
    nodes += [N("Exp", ["ls"], ["std"], name="std"), N("Shape", ["mean"], ["shp"], name="shape"),
              N("ConstantOfShape", ["shp"], ["zeros"], name="zeros",
                value=numpy_helper.from_array(np.zeros(1, np.float32))),
              N("Mul", ["zeros", "std"], ["noise"], name="noise"), N("Add", ["mean", "noise"], ["a"], name="add"),
              N("Tanh", ["a"], ["y"], name="squash")]
    graph = helper.make_graph(nodes, "log_std", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = folder / f"log_std_{'clipped' if clip_log_std else 'unclipped'}.onnx"
    onnx.save(model, str(path))
    return path
