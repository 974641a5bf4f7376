"""The committed golden vectors are exactly what the host integer reference computes from the committed blobs
(and, for f32, what onnxruntime computes from the committed ONNX model), so they cannot go stale."""
import numpy as np
import pytest

from tinypolicy_host.contract.blob import read_blob
from tinypolicy_host.export.artifacts import (
    BLOB_NAMES,
    GOLDEN,
    ONNX_NAME,
    golden_f32_table,
    golden_float_inputs,
    golden_inputs,
    golden_layers_table,
    golden_table,
    layer_rows,
)
from tinypolicy_host.paths import MODELS


@pytest.mark.parametrize("dtype", ["int8", "q15"])
def test_integer_golden_matches_reference(dtype):
    policy = read_blob(MODELS / BLOB_NAMES[dtype])
    theta_q, theta_dot_q = golden_inputs()
    assert (GOLDEN / f"golden_{dtype}.csv").read_text() == golden_table(policy, theta_q, theta_dot_q)
    layers = golden_layers_table(policy, theta_q[layer_rows()], theta_dot_q[layer_rows()])
    assert (GOLDEN / f"golden_{dtype}_layers.csv").read_text() == layers


@pytest.mark.parametrize("dtype", ["int8", "q15"])
def test_integer_golden_is_rich(dtype):
    rows = np.loadtxt(GOLDEN / f"golden_{dtype}.csv", delimiter=",", skiprows=1, dtype=np.int64)
    assert len(rows) >= 1000
    torque = rows[:, 2]
    lim = int(np.abs(torque).max())
    assert (torque == lim).any() and (torque == -lim).any(), "both saturation limits are exercised"
    assert (np.abs(torque) < lim).sum() >= 250, "plenty of unsaturated outputs"
    assert rows[:, 0].min() == -(2**31) and rows[:, 0].max() == 2**31 - 1
    assert np.abs(rows[:, 1]).max() > 131072, "theta_dot beyond its clamp"


@pytest.mark.parametrize("dtype", ["int8", "q15"])
def test_tanh_test_model_golden_matches_reference(dtype):
    from tinypolicy_host.export.artifacts import tanh_test_spec
    from tinypolicy_host.quantize.quant import quantize

    folder = GOLDEN / "tanh"
    policy = read_blob(folder / f"policy_tanh_{dtype}.bin")
    assert policy.same_as(quantize(tanh_test_spec(), dtype))  # the committed test blob is reproducible
    theta_q, theta_dot_q = golden_inputs()
    assert (folder / f"golden_tanh_{dtype}.csv").read_text() == golden_table(policy, theta_q, theta_dot_q)
    layers = golden_layers_table(policy, theta_q[layer_rows()], theta_dot_q[layer_rows()])
    assert (folder / f"golden_tanh_{dtype}_layers.csv").read_text() == layers
    ft, traces = policy.trace(theta_q, theta_dot_q)
    assert any((np.abs(t.y) == 16384).any() for t in traces[:-1]), "the ±4 tanh clamp is exercised"


@pytest.mark.parametrize("dtype", ["int8", "q15"])
def test_hardtanh_sigmoid_test_model_golden_matches_reference(dtype):
    from tinypolicy_host.export.artifacts import HS_FOLDER, hardtanh_sigmoid_test_spec
    from tinypolicy_host.quantize.quant import quantize

    folder = GOLDEN / HS_FOLDER
    policy = read_blob(folder / f"policy_hs_{dtype}.bin")
    assert policy.same_as(quantize(hardtanh_sigmoid_test_spec(), dtype))  # the committed test blob is reproducible
    assert [q.activation for q in policy.layers] == ["sigmoid", "hardtanh", "sigmoid", "identity"]
    theta_q, theta_dot_q = golden_inputs()
    assert (folder / f"golden_hs_{dtype}.csv").read_text() == golden_table(policy, theta_q, theta_dot_q)
    layers = golden_layers_table(policy, theta_q[layer_rows()], theta_dot_q[layer_rows()])
    assert (folder / f"golden_hs_{dtype}_layers.csv").read_text() == layers
    ft, traces = policy.trace(theta_q, theta_dot_q)
    for k in (0, 2):  # both sigmoid layers reach their ±8 pre-activation clamp (on both sides for layer 2)
        assert (np.abs(traces[k].y) == 16384).any()
    assert (traces[2].y == -16384).any() and (traces[2].y == 16384).any()
    top = 127 if dtype == "int8" else 32767  # hardtanh: ±1.0 = the clamp bounds, both hit often
    assert (traces[1].out == top).mean() > 0.1 and (traces[1].out == -top).mean() > 0.1
    assert (np.abs(traces[1].out) < top).mean() > 0.05
    torque = traces[-1].out[:, 0]
    assert (np.abs(torque) < 8192).sum() >= 250 and (torque == 8192).any() and (torque == -8192).any()


def test_hardtanh_sigmoid_f32_golden_matches_onnxruntime():
    from tinypolicy_host.contract.blob import encode_blob
    from tinypolicy_host.export.artifacts import HS_FOLDER, build_onnx, hardtanh_sigmoid_test_spec

    spec = hardtanh_sigmoid_test_spec()
    folder = GOLDEN / HS_FOLDER
    assert (folder / "policy_hs_f32.bin").read_bytes() == encode_blob(spec)
    theta, theta_dot = golden_float_inputs()
    onnx_bytes = build_onnx(spec).SerializeToString()
    assert (folder / "golden_hs_f32.csv").read_text() == golden_f32_table(onnx_bytes, theta, theta_dot)
    rows = np.loadtxt(folder / "golden_hs_f32.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(spec.forward(rows[:, 0], rows[:, 1]), rows[:, 2], atol=2e-5)
    assert (np.abs(rows[:, 2]) < spec.max_torque).sum() >= 250


def test_f32_golden_matches_onnxruntime():
    theta, theta_dot = golden_float_inputs()
    assert (GOLDEN / "golden_f32.csv").read_text() == golden_f32_table(MODELS / ONNX_NAME, theta, theta_dot)


def test_f32_golden_close_to_float_blob():
    spec = read_blob(MODELS / BLOB_NAMES["f32"])
    rows = np.loadtxt(GOLDEN / "golden_f32.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(spec.forward(rows[:, 0], rows[:, 1]), rows[:, 2], atol=2e-5)


def test_export_all_writes_consistent_artifacts(tmp_path):
    import json
    import subprocess
    import sys

    from tinypolicy_host.contract.spec import DenseSpec, FloatPolicySpec
    from tinypolicy_host.export.artifacts import export_all
    from tinypolicy_host.quantize.quant import QuantPolicy

    rng = np.random.default_rng(4)
    dims = [3, 8, 8, 1]
    spec = FloatPolicySpec(0.125, 2.0, [
        DenseSpec((rng.normal(size=(dims[k + 1], dims[k])) / 2).astype(np.float32),
                  (0.1 * rng.normal(size=dims[k + 1])).astype(np.float32), "tanh" if k < 2 else "identity")
        for k in range(3)])
    spec_path = tmp_path / "spec.npz"
    spec.save(spec_path)
    out, golden = tmp_path / "models", tmp_path / "golden"
    export_all(spec, out, {"seed": 7}, {"note": "r"}, golden_dir=golden)
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["model"]["dims"] == dims and meta["provenance"]["seed"] == 7 and meta["returns"] == {"note": "r"}
    assert set(meta["quantization"]) == {"int8", "q15"} and meta["quantization_error"]["q15"]["max_abs_error_Nm"] < 0.01
    for dtype in ("int8", "q15"):
        policy = read_blob(out / BLOB_NAMES[dtype])
        assert isinstance(policy, QuantPolicy)
        assert meta["artifacts"][BLOB_NAMES[dtype]]["bytes"] == (out / BLOB_NAMES[dtype]).stat().st_size
        theta_q, theta_dot_q = golden_inputs()
        assert (golden / f"golden_{dtype}.csv").read_text() == golden_table(policy, theta_q, theta_dot_q)
    assert (golden / "hardtanh_sigmoid" / "golden_hs_f32.csv").is_file()
    # CLI: re-export keeps the provenance of the same spec; a missing spec is one `error:` line.
    cli = [sys.executable, "-m", "tinypolicy_host.cli", "export"]
    proc = subprocess.run([*cli, "--spec", str(spec_path), "--out", str(out), "--golden", str(golden)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "metadata.json").read_text())["provenance"]["seed"] == 7
    proc = subprocess.run([*cli, "--spec", str(tmp_path / "nope.npz")], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
