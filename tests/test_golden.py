"""The committed golden vectors are exactly what the host integer reference computes from the committed blobs
(and, for f32, what onnxruntime computes from the committed ONNX model), so they cannot go stale."""
import numpy as np
import pytest

from tinypolicy_host.blob import read_blob
from tinypolicy_host.export import (
    BLOB_NAMES,
    GOLDEN,
    N_LAYER_ROWS,
    ONNX_NAME,
    golden_f32_table,
    golden_float_inputs,
    golden_inputs,
    golden_layers_table,
    golden_table,
)
from tinypolicy_host.paths import MODELS


@pytest.mark.parametrize("dtype", ["int8", "q15"])
def test_integer_golden_matches_reference(dtype):
    policy = read_blob(MODELS / BLOB_NAMES[dtype])
    theta_q, theta_dot_q = golden_inputs()
    assert (GOLDEN / f"golden_{dtype}.csv").read_text() == golden_table(policy, theta_q, theta_dot_q)
    layers = golden_layers_table(policy, theta_q[:N_LAYER_ROWS], theta_dot_q[:N_LAYER_ROWS])
    assert (GOLDEN / f"golden_{dtype}_layers.csv").read_text() == layers


@pytest.mark.parametrize("dtype", ["int8", "q15"])
def test_integer_golden_is_rich(dtype):
    rows = np.loadtxt(GOLDEN / f"golden_{dtype}.csv", delimiter=",", skiprows=1, dtype=np.int64)
    assert len(rows) >= 1000
    torque = rows[:, 2]
    lim = int(np.abs(torque).max())
    assert (torque == lim).any() and (torque == -lim).any(), "both saturation limits are exercised"
    assert (np.abs(torque) < lim).sum() >= 500, "plenty of unsaturated outputs"
    assert rows[:, 0].min() == -(2**31) and rows[:, 0].max() == 2**31 - 1
    assert np.abs(rows[:, 1]).max() > 131072, "theta_dot beyond its clamp"


def test_f32_golden_matches_onnxruntime():
    theta, theta_dot = golden_float_inputs()
    assert (GOLDEN / "golden_f32.csv").read_text() == golden_f32_table(MODELS / ONNX_NAME, theta, theta_dot)


def test_f32_golden_close_to_float_blob():
    spec = read_blob(MODELS / BLOB_NAMES["f32"])
    rows = np.loadtxt(GOLDEN / "golden_f32.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(spec.forward(rows[:, 0], rows[:, 1]), rows[:, 2], atol=2e-5)
