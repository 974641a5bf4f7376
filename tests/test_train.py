"""`tinypolicy train --quick` produces a loadable spec, a log and a learning curve; the model <-> spec round trip."""
import csv
import time

import numpy as np
import torch

from tinypolicy_host import cli
from tinypolicy_host.model import PolicyNet
from tinypolicy_host.spec import FloatPolicySpec


def test_quick_training_produces_a_loadable_spec(tmp_path):
    t0 = time.perf_counter()
    assert cli.main(["train", "--quick", "--no-export", "--no-progress", "--out", str(tmp_path), "--seed", "3"]) == 0
    assert time.perf_counter() - t0 < 60
    spec = FloatPolicySpec.load(tmp_path / "policy_spec.npz")
    assert spec.dims == [3, 16, 16, 1]
    assert [layer.activation for layer in spec.layers] == ["relu", "relu", "identity"]
    assert spec.vel_scale == 1 / 8 and spec.max_torque == 2.0
    u = spec.forward(np.array([np.pi, 0.1]), np.array([0.0, -1.0]))
    assert u.shape == (2,) and np.all(np.isfinite(u)) and np.all(np.abs(u) <= 2.0)
    rows = list(csv.DictReader(open(tmp_path / "train_log.csv")))
    assert {"bc", "rollout", "es"} <= {r["stage"] for r in rows}
    assert (tmp_path / "learning_curve.png").stat().st_size > 1000


def test_training_is_deterministic(tmp_path):
    args = ["train", "--quick", "--no-export", "--no-progress", "--bc-steps", "50", "--rollout-iters", "2",
            "--es-gens", "3"]
    for name in ("a", "b"):
        assert cli.main([*args, "--out", str(tmp_path / name)]) == 0
    a, b = (FloatPolicySpec.load(tmp_path / n / "policy_spec.npz") for n in ("a", "b"))
    for la, lb in zip(a.layers, b.layers, strict=True):
        np.testing.assert_array_equal(la.weight, lb.weight)
        np.testing.assert_array_equal(la.bias, lb.bias)


def test_spec_round_trip_matches_torch():
    torch.manual_seed(0)
    for act, width, depth in (("relu", 16, 2), ("tanh", 8, 3)):
        net = PolicyNet(width, depth, act)
        spec = net.to_spec()
        assert spec.dims == [3] + [width] * depth + [1]
        assert spec.layers[-1].activation == "identity"
        th = np.random.default_rng(0).uniform(-10, 10, 1000)
        thd = np.random.default_rng(1).uniform(-12, 12, 1000)
        with torch.no_grad():
            ref = net(torch.as_tensor(th, dtype=torch.float32), torch.as_tensor(thd, dtype=torch.float32)).numpy()
        np.testing.assert_allclose(spec.forward(th, thd), ref, atol=1e-5)
        back = PolicyNet.from_spec(spec)
        for p, q in zip(net.parameters(), back.parameters(), strict=True):
            assert torch.equal(p, q)
        assert back.activation == act


def test_quick_training_exports_loadable_artifacts_beside_it_not_into_models(tmp_path):
    """A --quick run with export: ONNX + blobs + metadata land in OUT/models (never the shipped models/), the ONNX
    model passes the checker and onnxruntime agrees with the spec, and the device runtime loads every blob and
    answers like the host reference."""
    import hashlib
    import json

    import onnx
    import onnxruntime as ort

    from devrun import run_micropython
    from tinypolicy_host.blob import read_blob
    from tinypolicy_host.paths import MODELS

    shipped = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in MODELS.glob("*.bin")}
    args = ["train", "--quick", "--no-progress", "--bc-steps", "50", "--rollout-iters", "2", "--es-gens", "3",
            "--out", str(tmp_path)]
    assert cli.main(args) == 0
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in MODELS.glob("*.bin")} == shipped
    out = tmp_path / "models"
    spec = FloatPolicySpec.load(tmp_path / "policy_spec.npz")
    model = onnx.load(str(out / "tiny_policy.onnx"))
    onnx.checker.check_model(model, full_check=True)
    theta = np.linspace(-3, 3, 7).astype(np.float32)
    theta_dot = np.linspace(-6, 6, 7).astype(np.float32)
    sess = ort.InferenceSession(str(out / "tiny_policy.onnx"), providers=["CPUExecutionProvider"])
    (state,) = sess.get_inputs()  # state (N, 2) float32 [theta, theta_dot]
    got = np.asarray(sess.run(None, {state.name: np.stack([theta, theta_dot], axis=1)})[0]).reshape(-1)
    assert np.allclose(got, spec.forward(theta.astype(np.float64), theta_dot.astype(np.float64)), atol=1e-5)
    meta = json.loads((out / "metadata.json").read_text())
    for dtype in ("f32", "int8", "q15"):
        blob = out / f"policy_{dtype}.bin"
        assert meta["artifacts"][blob.name]["sha256"] == hashlib.sha256(blob.read_bytes()).hexdigest()
        want = read_blob(blob).forward(theta.astype(np.float64), theta_dot.astype(np.float64))
        code = (f"from tinypolicy import Policy\np = Policy.load({str(blob)!r})\n"
                f"for s in {list(zip(theta.tolist(), theta_dot.tolist(), strict=True))!r}:\n"
                "    print(repr(p.infer(list(s))[0]))\n")
        proc = run_micropython(["-c", code])
        assert proc.returncode == 0, proc.stderr
        dev = np.array([float(x) for x in proc.stdout.split()])
        assert np.allclose(dev, want, atol=1e-5 if dtype == "f32" else 0), (dtype, dev, want)
