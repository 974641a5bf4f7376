"""`tinypolicy train --quick` produces a loadable spec, a log and a learning curve; the model <-> spec round trip."""
import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from tinypolicy_host import cli
from tinypolicy_host.contract.spec import MLPSpec, pendulum_params, pendulum_policy
from tinypolicy_host.training.model import PolicyNet


def test_quick_training_produces_a_loadable_spec(tmp_path):
    assert cli.main(["train", "--quick", "--no-export", "--no-progress", "--out", str(tmp_path), "--seed", "3"]) == 0
    spec = MLPSpec.load(tmp_path / "policy_spec.npz")
    assert spec.dims == [3, 16, 16, 1]
    assert [layer.activation for layer in spec.layers] == ["relu", "relu", "identity"]
    assert pendulum_params(spec) == (1 / 8, 2.0)
    u = pendulum_policy(spec)(np.array([np.pi, 0.1]), np.array([0.0, -1.0]))
    assert u.shape == (2,) and np.all(np.isfinite(u)) and np.all(np.abs(u) <= 2.0)
    rows = list(csv.DictReader(open(tmp_path / "train_log.csv")))
    assert {"bc", "rollout", "es"} <= {r["stage"] for r in rows}
    assert (tmp_path / "learning_curve.png").stat().st_size > 1000


def test_training_is_deterministic(tmp_path):
    args = ["train", "--quick", "--no-export", "--no-progress", "--bc-steps", "50", "--rollout-iters", "2",
            "--es-gens", "3"]
    for name in ("a", "b"):
        assert cli.main([*args, "--out", str(tmp_path / name)]) == 0
    a, b = (MLPSpec.load(tmp_path / n / "policy_spec.npz") for n in ("a", "b"))
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
        np.testing.assert_allclose(pendulum_policy(spec)(th, thd), ref, atol=1e-5)
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
    from tinypolicy_host.contract.blob import read_blob
    from tinypolicy_host.paths import MODELS

    shipped = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in MODELS.glob("*.bin")}
    args = ["train", "--quick", "--no-progress", "--bc-steps", "50", "--rollout-iters", "2", "--es-gens", "3",
            "--out", str(tmp_path)]
    assert cli.main(args) == 0
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in MODELS.glob("*.bin")} == shipped
    out = tmp_path / "models"
    spec = MLPSpec.load(tmp_path / "policy_spec.npz")
    model = onnx.load(str(out / "tiny_policy.onnx"))
    onnx.checker.check_model(model, full_check=True)
    theta = np.linspace(-3, 3, 7).astype(np.float32)
    theta_dot = np.linspace(-6, 6, 7).astype(np.float32)
    sess = ort.InferenceSession(str(out / "tiny_policy.onnx"), providers=["CPUExecutionProvider"])
    (state,) = sess.get_inputs()  # state (N, 2) float32 [theta, theta_dot]
    got = np.asarray(sess.run(None, {state.name: np.stack([theta, theta_dot], axis=1)})[0]).reshape(-1)
    assert np.allclose(got, pendulum_policy(spec)(theta.astype(np.float64), theta_dot.astype(np.float64)), atol=1e-5)
    meta = json.loads((out / "metadata.json").read_text())
    for dtype in ("f32", "int8", "int8_a8", "q15"):
        blob = out / f"policy_{dtype}.bin"
        assert meta["artifacts"][blob.name]["sha256"] == hashlib.sha256(blob.read_bytes()).hexdigest()
        want = pendulum_policy(read_blob(blob))(theta.astype(np.float64), theta_dot.astype(np.float64))
        code = (f"from tinypolicy import Policy\np = Policy.load({str(blob)!r})\n"
                f"for s in {list(zip(theta.tolist(), theta_dot.tolist(), strict=True))!r}:\n"
                "    print(repr(p.infer(list(s))[0]))\n")
        proc = run_micropython(["-c", code])
        assert proc.returncode == 0, proc.stderr
        dev = np.array([float(x) for x in proc.stdout.split()])
        assert np.allclose(dev, want, atol=1e-5 if dtype == "f32" else 0), (dtype, dev, want)


TINY = ["train", "--quick", "--no-progress", "--bc-steps", "1", "--rollout-iters", "0", "--es-gens", "0"]


@pytest.mark.parametrize("bad", [["--es-pairs", "0"], ["--batch", "0"], ["--threads", "0"], ["--es-episodes", "0"],
                                 ["--episodes=-1"], ["--bc-steps=-1"], ["--es-sigma", "0"], ["--lr=-1e-4"],
                                 ["--es-lr", "nan"], ["--width", "0"], ["--out", "FILE"],
                                 ["--models-out", "FILE"]])
def test_out_of_range_options_are_one_line_errors(tmp_path, capsys, bad):
    """Checked before any training: --es-pairs 0 / --batch 0 used to train on NaN losses and exit 0, --threads 0
    and --out <a file> used to end in tracebacks."""
    (tmp_path / "file").write_text("x")
    bad = [str(tmp_path / "file") if a == "FILE" else a for a in bad]
    out = tmp_path / "out"
    assert cli.main([*TINY, "--out", str(out), *bad]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad[0].split('=')[0]}") and err.count("\n") == 1, err
    assert not out.exists()


def test_quick_honours_es_episodes(tmp_path, monkeypatch):
    """--quick used to run ES on 64 episodes whatever --es-episodes said (and record 256 in the provenance)."""
    import json

    from tinypolicy_host.training import train as train_lib

    seen = []
    real = train_lib.train_es

    def spy(net, gens, pairs, episodes, *a, **kw):
        seen.append((pairs, episodes))
        return real(net, gens, pairs, episodes, *a, **kw)

    monkeypatch.setattr(train_lib, "train_es", spy)
    args = [*TINY[:-1], "1", "--es-pairs", "2", "--es-episodes", "5", "--no-export", "--out", str(tmp_path)]
    assert cli.main(args) == 0
    assert seen == [(2, 5)]
    assert json.loads((tmp_path / "provenance.json").read_text())["es_episodes"] == 5
    seen.clear()
    assert cli.main([*TINY[:-1], "1", "--no-export", "--out", str(tmp_path)]) == 0
    assert seen == [(16, 64)]  # the --quick default


@pytest.mark.parametrize("models_out", ["models", "elsewhere/models"])
def test_golden_goes_with_the_models_it_describes(tmp_path, monkeypatch, models_out):
    """`--models-out models` (relative, from the repository root) is the shipped models/: its golden vectors are
    tests/data/golden (it used to write ./golden); any other folder gets MODELS_OUT/../golden. The export itself is
    replaced by a recorder, so nothing is written."""
    from tinypolicy_host.evaluation import gym as evaluate
    from tinypolicy_host.export import artifacts as export
    from tinypolicy_host.paths import MODELS, REPO

    calls = []
    monkeypatch.setattr(export, "export_all", lambda spec, **kw: calls.append(kw) or [])
    monkeypatch.setattr(evaluate, "results_table", lambda spec, n, warn=None: {"episodes": n})
    monkeypatch.setattr(evaluate, "format_table", lambda table: "returns table")
    base = REPO if models_out == "models" else tmp_path
    monkeypatch.chdir(base)
    assert cli.main([*TINY, "--episodes", "1", "--models-out", models_out, "--out", str(tmp_path / "out")]) == 0
    (kw,) = calls
    assert Path(kw["out_dir"]).resolve() == (base / models_out).resolve()
    if models_out == "models":
        assert Path(kw["out_dir"]).resolve() == MODELS.resolve() and kw["golden_dir"] == export.GOLDEN
    else:
        assert Path(kw["golden_dir"]).resolve() == (tmp_path / "elsewhere" / "golden").resolve()


def test_population_rollout_reads_parameters_to_vector_layout():
    """ES perturbs `parameters_to_vector(net.parameters())` and writes the best back with `vector_to_parameters`:
    the batched population rollout must read that layout, i.e. give the net's own closed-loop return."""
    from torch.nn.utils import parameters_to_vector, vector_to_parameters

    from tinypolicy_host.training.plant import DT, step
    from tinypolicy_host.training.train import FlatParams

    torch.manual_seed(0)
    net = PolicyNet(8, 2, "tanh")
    vec = parameters_to_vector(net.parameters()).detach().double()
    th0, thd0 = torch.tensor([[3.0, 0.5, -1.0]]), torch.tensor([[0.0, 1.0, -2.0]])
    other = vec + 0.1 * torch.randn(vec.shape, dtype=torch.float64)
    got = FlatParams(net).returns(torch.stack([vec, other]), th0, thd0, DT, 0.0, 20, torch.Generator())
    th, thd, total = th0[0].clone(), thd0[0].clone(), torch.zeros(3)
    with torch.no_grad():
        for _ in range(20):
            th, thd, cost = step(th, thd, net(th, thd), DT)
            total -= cost
    assert torch.allclose(got[0], total.mean(), rtol=1e-5)
    assert not torch.allclose(got[1], got[0])
    vector_to_parameters(other.float(), net.parameters())
    assert torch.equal(parameters_to_vector(net.parameters()).double(), other.float().double())
    assert all(p.dtype == torch.float32 for p in net.parameters())
