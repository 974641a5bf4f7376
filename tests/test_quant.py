"""Sanity of the numpy integer reference (contract/reference.py) and the quantizer (quantize/quant.py): tables,
input stage, 32-bit bound, quantization accuracy per scheme and determinism. Measured errors (documented in
models/README.md) are asserted here."""
import math

import numpy as np
import pytest

from specs import random_spec
from tinypolicy_host.contract import reference as R
from tinypolicy_host.contract.blob import read_blob
from tinypolicy_host.contract.spec import MLPSpec, pendulum_policy
from tinypolicy_host.contract.tables import device_tables_source
from tinypolicy_host.paths import MODELS
from tinypolicy_host.quantize import quant as Q
from tinypolicy_host.quantize.calibration import pendulum_calibration

CALIB = np.stack([np.random.default_rng(1).uniform(-np.pi, np.pi, 4000),
                  np.random.default_rng(2).uniform(-8, 8, 4000)], axis=1)
SCHEMES = ("w8a8", "w8a16", "q15")


def xq(theta, theta_dot):
    return np.stack([R.to_q12(theta), R.to_q12(theta_dot)], axis=1)


def torque(model, theta, theta_dot):
    return pendulum_policy(model)(theta, theta_dot)

# Stated accuracies (models/README.md): table + interpolation, and the whole θ(Q12) → cos/sin path.
SIN_TABLE_MAX_ERR = 6.1e-5  # measured 6.03e-5 over all 65536 turn units (≈ 1 LSB of Q14)
SIN_THETA_MAX_ERR = 3.3e-4  # measured 3.17e-4 for θ ∈ [−π, π] in Q12 (dominated by the turn-unit step)
TANH_MAX_ERR = 7.5e-5  # measured 7.38e-5 for every Q12 input in [−4, 4]
# sigmoid(x) = (1 + T(x/2)) / 2 against 1 / (1 + e^−x), every Q11 pre-activation in [−8, 8]:
SIGMOID_Q15_MAX_ERR = 3.7e-5  # measured 3.69e-5 (half the tanh table's error; 16384 + T is exact Q15)
SIGMOID_INT8_MAX_ERR = 2.0e-3  # measured 1.98e-3 (+ rounding to 1/256)
SIGMOID_CLAMP_ERR = 3.4e-4  # measured 3.36e-4 = 1 − 32757/32768 for |x| > 8 (the ±8 pre-activation clamp)


def make_spec(act="relu", seed=0, dims=(3, 16, 16, 1)):
    return random_spec(dims, act, seed)


def test_tables():
    assert R.SIN_Q14.shape == R.TANH_Q14.shape == (258,)
    assert R.SIN_Q14[0] == 0 and R.SIN_Q14[256] == 16384 and R.SIN_Q14[257] == 16384
    assert R.TANH_Q14[0] == 0 and R.TANH_Q14[64] == round(16384 * math.tanh(1.0))
    assert np.all(np.diff(R.SIN_Q14[:257]) >= 0) and np.all(np.diff(R.TANH_Q14) >= 0)
    for k in range(258):
        assert R.SIN_Q14[k] == math.floor(16384 * math.sin(k * math.pi / 512) + 0.5)


def test_sin_cos_accuracy():
    a = np.arange(65536)
    ref = a * 2 * np.pi / 65536
    err_s = np.abs(R.sin_q14(a) / 16384 - np.sin(ref)).max()
    err_c = np.abs(R.cos_q14(a) / 16384 - np.cos(ref)).max()
    assert max(err_s, err_c) <= SIN_TABLE_MAX_ERR, (err_s, err_c)
    assert R.sin_q14(a).max() == 16384 and R.sin_q14(a).min() == -16384
    theta = np.linspace(-np.pi, np.pi, 100_001)
    turn = R.turn_units(R.reduce_angle_q12(R.to_q12(theta)))
    err = max(np.abs(R.sin_q14(turn) / 16384 - np.sin(theta)).max(),
              np.abs(R.cos_q14(turn) / 16384 - np.cos(theta)).max())
    assert err <= SIN_THETA_MAX_ERR, err


def test_tanh_accuracy():
    z = np.arange(-16384, 16385)
    t = R.tanh_q14(z)
    assert np.abs(t / 16384 - np.tanh(z / 4096)).max() <= TANH_MAX_ERR
    np.testing.assert_array_equal(t, -R.tanh_q14(-z))
    with pytest.raises(ValueError):
        R.tanh_q14(np.array([16385]))
    np.testing.assert_array_equal(R.activation_output(z, "tanh", "w8a8"), np.clip(t >> 7, -127, 127))
    for scheme in ("w8a16", "q15"):
        np.testing.assert_array_equal(R.activation_output(z, "tanh", scheme), np.clip(t << 1, -32767, 32767))
    assert R.activation_output(np.array([16384]), "tanh", "w8a8")[0] == 127


def test_sigmoid_accuracy():
    """Every input of the sigmoid path: Q11 pre-activations y (x = y/2048) in [−8, 8], then beyond the clamp."""
    y = np.arange(-16384, 16385)
    ref = 1.0 / (1.0 + np.exp(-y / 2048))
    q15, i8 = R.activation_output(y, "sigmoid", "q15"), R.activation_output(y, "sigmoid", "w8a8")
    np.testing.assert_array_equal(R.activation_output(y, "sigmoid", "w8a16"), q15)
    np.testing.assert_array_equal(q15, R.Q14_ONE + R.tanh_q14(y))
    assert np.abs(q15 / 32768 - ref).max() <= SIGMOID_Q15_MAX_ERR
    assert np.abs(i8 / 256 - ref).max() <= SIGMOID_INT8_MAX_ERR
    assert (q15.min(), q15.max(), i8.min(), i8.max()) == (11, 32757, 0, 256)  # no clamp needed after 16384 + T
    np.testing.assert_array_equal(q15 + q15[::-1], 32768)  # sigmoid(−x) = 1 − sigmoid(x), exactly
    big = np.array([-1e9, -100.0, -8.0, 8.0, 100.0, 1e9])  # beyond ±8 the output stays at the clamp's value
    far = np.array([11, 11, 11, 32757, 32757, 32757]) / 32768
    assert np.abs(far - 1.0 / (1.0 + np.exp(-np.clip(big, -700, 700)))).max() <= SIGMOID_CLAMP_ERR


@pytest.mark.parametrize("dtype", SCHEMES)
def test_hardtanh_layer_is_the_clamp(dtype):
    """hardtanh layers need no activation code: one fixed format per layer (int8 1/127, Q15 2^−15) whose ±1.0 is
    the clamp bound lo/hi = ∓127 / ∓32767. Where the float unit clips, the integer one sits exactly on the bound;
    elsewhere it follows the float value to the quantization error."""
    spec = make_spec("hardtanh", seed=2)
    for layer in spec.layers[:-1]:
        layer.weight *= 3  # so that plenty of units clip
    policy = Q.quantize(spec, dtype, CALIB)
    top = {"w8a8": 127, "w8a16": 32767, "q15": 32767}[dtype]
    scale = {"w8a8": 127.0, "w8a16": 32767.0, "q15": 32768.0}[dtype]
    rng = np.random.default_rng(8)
    theta, theta_dot = rng.uniform(-np.pi, np.pi, 20000), rng.uniform(-8, 8, 20000)
    _, traces, _ = policy.trace(xq(theta, theta_dot))
    z = spec.layers[0].weight.astype(np.float64) @ spec.features(np.stack([theta, theta_dot], 1)).T
    z = z.T + spec.layers[0].bias
    layer, out = policy.layers[0], traces[0].out
    assert (layer.activation, layer.lo, layer.hi) == ("hardtanh", -top, top)
    assert out.min() == -top and out.max() == top
    clipped = np.abs(z) > 1.05
    assert clipped.mean() > 0.2
    np.testing.assert_array_equal(out[clipped], np.sign(z[clipped]) * top)
    err = np.abs(out / scale - np.clip(z, -1, 1))
    # input-side error × |W| ≈ 5: int8 features at 1/127, q15 the Q12 angle and the sin table (3.2e-4)
    assert err.max() < {"w8a8": 0.08, "w8a16": 0.02, "q15": 3e-3}[dtype], err.max()


def _loop_reduce(t):
    while t > 12868:
        t -= 25736
    while t < -12868:
        t += 25736
    return t


def test_reduce_angle_equals_the_contract_loops():
    rng = np.random.default_rng(0)
    t = np.concatenate([np.arange(-60000, 60000, 7), rng.integers(-10**7, 10**7, 3000),
                        [12868, 12869, -12868, -12869, 25736, -25736, 38604, -38604]])
    got = R.reduce_angle_q12(t)
    assert [_loop_reduce(int(v)) for v in t] == got.tolist()
    big = np.array([2**31 - 1, -(2**31)])
    assert R.reduce_angle_q12(big).tolist() == [_loop_reduce(2**31 - 1), _loop_reduce(-(2**31))]
    assert R.turn_units(np.array([12868, -12868])).tolist() == [32767, 32769]


def test_to_q12_and_rounding_term():
    assert R.to_q12([0.5 / 4096, -0.5 / 4096, -1.5 / 4096, 1.0, -np.pi]).tolist() == [1, 0, -1, 4096, -12868]
    assert R.R(np.arange(4)).tolist() == [0, 1, 2, 4]
    with pytest.raises(R.Int32Overflow):
        R.to_q12(1e6)


def test_choose_mult_shift():
    m, s = Q.choose_mult_shift(127 / 16384, 16384)
    assert (m, s) == (127, 14)
    m, s = Q.choose_mult_shift(0.001234, 50_000)
    assert 50_000 * m + ((1 << s) >> 1) < 2**31
    assert m / 2**s == round(0.001234 * 2**25) / 2**25  # shift 25 is the largest that fits (stored normalised)
    assert abs(m / 2**s - 0.001234) / 0.001234 < 1e-4
    with pytest.raises(ValueError):
        Q.choose_mult_shift(1e6, 2**30)


@pytest.mark.parametrize("act", ["relu", "tanh", "hardtanh", "sigmoid"])
@pytest.mark.parametrize("dtype", SCHEMES)
def test_quantized_close_to_float(act, dtype):
    spec = make_spec(act)
    policy = Q.quantize(spec, dtype, CALIB)
    rng = np.random.default_rng(5)
    theta, theta_dot = rng.uniform(-np.pi, np.pi, 20000), rng.uniform(-8, 8, 20000)
    err = np.abs(torque(policy, theta, theta_dot) - torque(spec, theta, theta_dot))
    max_err, mean_err = {"w8a8": (0.06, 0.008), "w8a16": (0.03, 0.004), "q15": (1e-3, 2e-4)}[dtype]
    assert err.max() < max_err and err.mean() < mean_err, (err.max(), err.mean())
    assert not R.int32_bound_violations(policy)


@pytest.mark.parametrize("dtype", SCHEMES)
def test_quantize_is_deterministic(dtype):
    spec = make_spec("relu", seed=3)
    assert Q.quantize(spec, dtype, CALIB).same_as(Q.quantize(spec, dtype, CALIB))


@pytest.mark.parametrize("dtype", SCHEMES)
def test_tanh_output_layer_goes_through_the_output_stage(dtype):
    """A tanh last layer (e.g. a SAC actor): the output stage rescales its fixed-format output (omult, oshift)."""
    spec = make_spec("relu")
    spec.layers[-1].activation = "tanh"
    spec.outputs[0].scale = 2.0  # torque = 2·tanh(z), within ±2
    policy = Q.quantize(spec, dtype, CALIB)
    assert (policy.outputs[0].omult, policy.outputs[0].oshift) != (1, 0)
    rng = np.random.default_rng(6)
    theta, theta_dot = rng.uniform(-np.pi, np.pi, 5000), rng.uniform(-8, 8, 5000)
    err = np.abs(torque(policy, theta, theta_dot) - torque(spec, theta, theta_dot))
    assert err.max() < {"w8a8": 0.1, "w8a16": 0.05, "q15": 2e-3}[dtype], err.max()


def test_quantize_rejects_bad_input():
    spec = make_spec("relu")
    with pytest.raises(ValueError, match="scheme"):
        Q.quantize(spec, "int4", CALIB)
    with pytest.raises(ValueError, match="finite"):
        Q.quantize(spec, "w8a8", CALIB * np.nan)


EXTREMES = np.array([0, 1, -1, 12868, -12868, 12869, 2**31 - 1, -(2**31), 2**30, -(2**30)])


@pytest.mark.parametrize("dtype", SCHEMES)
@pytest.mark.parametrize("act", ["relu", "tanh", "hardtanh", "sigmoid"])
def test_32_bit_bound_on_extreme_inputs(dtype, act):
    """Every intermediate of the reference is checked inside forward_q (Int32Overflow otherwise); the static
    bound proves it for all inputs, also for a net with large weights and 64-unit layers."""
    for spec in (make_spec(act), make_spec(act, seed=9, dims=(3, 256, 256, 64, 1))):
        for layer in spec.layers:
            layer.weight *= 8
            layer.bias *= 8
        calib = np.stack([np.random.default_rng(0).uniform(-4, 4, 3000),
                          np.random.default_rng(1).uniform(-9, 9, 3000)], axis=1)
        policy = Q.quantize(spec, dtype, calib)
        assert not R.int32_bound_violations(policy)
        th, thd = np.meshgrid(EXTREMES, EXTREMES)
        out = policy.forward_q(np.stack([th.ravel(), thd.ravel()], axis=1))
        assert out.shape == (th.size, 1) and np.abs(out).max() <= 8192


@pytest.mark.parametrize("name", ["int8", "int8_a8", "q15"])
def test_shipped_blobs_are_safe_and_accurate(name):
    policy = read_blob(MODELS / f"policy_{name}.bin")
    spec = read_blob(MODELS / "policy_f32.bin")
    assert policy.scheme == {"int8": "w8a16", "int8_a8": "w8a8", "q15": "q15"}[name]
    assert not R.int32_bound_violations(policy)
    rng = np.random.default_rng(11)
    theta, theta_dot = rng.uniform(-np.pi, np.pi, 5000), rng.uniform(-8, 8, 5000)
    err = np.abs(torque(policy, theta, theta_dot) - torque(spec, theta, theta_dot))
    assert err.mean() < {"int8": 0.01, "int8_a8": 0.1, "q15": 0.005}[name], err.mean()


def test_w8a16_removes_most_of_the_unsaturated_error():
    """The measurement behind the default int8 scheme (models/README.md): on the shipped spec, 20 000 held-out
    states, |u_float| < 1.9 N·m: w8a8 median 0.076 / p99 0.359 N·m, w8a16 0.021 / 0.152."""
    from tinypolicy_host.quantize.report import torque_errors

    spec = MLPSpec.load(MODELS / "policy_spec.npz")
    calib = pendulum_calibration(spec)
    errs = torque_errors(spec, {s: Q.quantize(spec, s, calib) for s in ("w8a8", "w8a16")})
    a8, a16 = errs["w8a8"]["unsaturated"], errs["w8a16"]["unsaturated"]
    assert a16["median_Nm"] < 0.35 * a8["median_Nm"] and a16["p99_Nm"] < 0.5 * a8["p99_Nm"], (a8, a16)


def test_dense_overflow_is_detected():
    w = np.array([[32767] * 4], np.int64)
    with pytest.raises(R.Int32Overflow):
        R.dense_q(np.array([[32767] * 4]), w, np.zeros(1, np.int64), np.ones(1, np.int64), np.zeros(1, np.int64),
                  0, -(2**31), 2**31 - 1)


@pytest.mark.parametrize("as_bytes", [False, True])
def test_device_tables_source(as_bytes):
    src = device_tables_source(as_bytes)
    assert src.startswith("# device:")
    ns: dict = {}
    exec(compile(src, "tables.py", "exec"), ns)
    for name, ref in (("SIN_Q14", R.SIN_Q14), ("TANH_Q14", R.TANH_Q14)):
        got = np.frombuffer(ns[name], "<u2") if as_bytes else np.array(ns[name])
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("as_bytes", [False, True])
def test_device_tables_source_runs_on_micropython(tmp_path, as_bytes):
    import subprocess

    from tinypolicy_host.paths import micropython_binary

    src = tmp_path / "tables.py"
    src.write_text(device_tables_source(as_bytes) + "\nimport struct\n"
                   "def get(t, k):\n"
                   "    return struct.unpack_from('<H', t, 2 * k)[0] if isinstance(t, bytes) else t[k]\n"
                   "print(sum(get(SIN_Q14, k) for k in range(258)), sum(get(TANH_Q14, k) for k in range(258)))\n")
    proc = subprocess.run([micropython_binary(), str(src)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(int(R.SIN_Q14.sum())), str(int(R.TANH_Q14.sum()))]


def test_quant_report_cli(tmp_path, capsys):
    import json

    from tinypolicy_host import cli

    out = tmp_path / "report.json"
    assert cli.main(["quant-report", "--states", "2000", "--episodes", "4", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    te = report["torque_error"]
    assert te["q15"]["max_abs_error_Nm"] < te["w8a16"]["max_abs_error_Nm"] < te["w8a8"]["max_abs_error_Nm"]
    text = capsys.readouterr().out
    assert "max |err|" in text and "closed-loop mean return" in text
    # without --no-returns the closed-loop table is always measured (tinypolicy_host.evaluation.gym is part of the host)
    assert set(report["returns"]) == {"f32", "w8a8", "w8a16", "q15"} and "50ms" in report["returns"]["f32"]
    assert all(-1000 < r < 0 for row in report["returns"].values() for r in row.values()), report["returns"]


def test_bias_correction_reduces_the_torque_error_of_the_shipped_spec():
    """`_correct_biases` (int8 default): on models/policy_spec.npz it lowers the mean |torque error| against the
    float spec on the held-out states (never used for calibration) — measured 0.0142 -> 0.0122 N·m; asserted with
    a margin. bias_correction=False leaves the integer biases as rounded; q15 ignores the flag."""
    from tinypolicy_host.quantize.report import held_out_states

    spec = MLPSpec.load(MODELS / "policy_spec.npz")
    calib = pendulum_calibration(spec)
    on, off = (Q.quantize(spec, "w8a8", calib, bias_correction=bc) for bc in (True, False))
    x = held_out_states(20000)
    ref = spec.forward(x)
    err_on, err_off = (float(np.abs(p.forward(x) - ref).mean()) for p in (on, off))
    assert err_on < 0.93 * err_off, (err_on, err_off)
    assert all("bias_correction" in q.info for q in on.layers)
    assert not any("bias_correction" in q.info for q in off.layers)
    assert any(not np.array_equal(a.bias, b.bias) for a, b in zip(on.layers, off.layers, strict=True))
    for a, b in zip(on.layers, off.layers, strict=True):  # the correction is the recorded mean shift, rounded
        np.testing.assert_array_equal(b.bias - a.bias,
                                      R.round_half_away(np.asarray(a.info["bias_correction"])).astype(np.int64))
    assert not R.int32_bound_violations(on)
    assert Q.quantize(spec, "q15", calib, bias_correction=False).same_as(Q.quantize(spec, "q15", calib))


@pytest.mark.parametrize("dtype", SCHEMES)
def test_clip_layers_clamp_at_their_bounds(dtype):
    """A clip(a, b) layer (relu6 = clip(0, 6), clip(−0.5, 2)) has one step for the layer and the integer clamp
    lo = round(a / step), hi = round(b / step) (inside the format's range): where the float unit clips, the integer
    one sits exactly on the bound; elsewhere it follows the float value."""
    from tinypolicy_host.export.testnets import clip_spec, rows_for

    spec = clip_spec()
    rows = rows_for(spec, 6000, 5)
    policy = Q.quantize(spec, dtype, rows[:3000])
    _, traces, _ = policy.trace(policy.quantize_inputs(rows))
    acts = spec.activations(rows)
    for k in (0, 1):
        layer, fl, step = policy.layers[k], spec.layers[k], policy.layers[k].info["step"]
        assert layer.activation == "clip"
        assert abs(layer.lo * step - fl.lo) <= step / 2 and abs(layer.hi * step - fl.hi) <= step / 2, (k, layer.lo)
        out, want = traces[k].out, acts[k]
        z = (acts[k - 1] if k else spec.features(rows)) @ fl.weight.T.astype(np.float64) + fl.bias
        low, high = z < fl.lo - 0.1, z > fl.hi + 0.1
        assert low.mean() > 0.05 and high.mean() > 0.001, (k, low.mean(), high.mean())
        np.testing.assert_array_equal(out[low], layer.lo)
        np.testing.assert_array_equal(out[high], layer.hi)
        err = np.abs(out * step - want).max()
        assert err < {"w8a8": 0.1, "w8a16": 0.05, "q15": 0.01}[dtype] * (fl.hi - fl.lo), (k, err)
