"""`tinypolicy eval --device`: gymnasium Pendulum-v1 on the host, the policy answered by the device (unix port as a
subprocess, and a virtual board over a real pty through mpremote's transport), checked against the host reference."""

import json
import shutil
import subprocess
import sys

import pytest

from tinypolicy_host.contract.blob import read_blob
from tinypolicy_host.contract.spec import pendulum_policy
from tinypolicy_host.devtools.vboard import VBoardProcess
from tinypolicy_host.errors import UserError
from tinypolicy_host.evaluation.device import evaluate_on_device
from tinypolicy_host.evaluation.gym import SETTINGS, evaluate
from tinypolicy_host.paths import BUILD, MODELS

EPISODES = 8
SHORT = {"20ms": SETTINGS["20ms"], "50ms_noise": SETTINGS["50ms_noise"]}


@pytest.mark.parametrize("dtype", ["int8", "q15", "f32"])
def test_unix_port_returns_match_host_reference(dtype):
    blob = MODELS / f"policy_{dtype}.bin"
    got = evaluate_on_device(blob, EPISODES, SHORT)
    dev = got.pop("device")
    assert dev["states"] == EPISODES * (500 + 200) and dev["mismatches"] == 0, dev
    want = evaluate(pendulum_policy(read_blob(blob)), EPISODES, SHORT)
    for name in SHORT:
        if dtype == "f32":  # float32 on the device vs float64 on the host: torques within 1e-5 N·m
            assert got[name]["mean"] == pytest.approx(want[name]["mean"], abs=1e-3), name
        else:  # identical Q12 torques every step: identical episodes
            assert got[name]["mean"] == want[name]["mean"], name
    assert got["20ms"]["mean"] > -300  # swings up and holds (a failed policy is below -1000)


def test_cli_reports_and_writes_json(tmp_path):
    out = tmp_path / "dev.json"
    proc = subprocess.run([sys.executable, "-m", "tinypolicy_host.cli", "eval", "--device", "--episodes", "3",
                           "--setting", "50ms", "--variant", "src", "--json", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "unix port (src)" in proc.stdout and "0 differ from the host reference" in proc.stdout, proc.stdout
    data = json.loads(out.read_text())
    assert data["device"]["states"] == 600 and list(data["returns"]) == ["50ms"]


def test_bad_blob_is_one_line_error(tmp_path):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"TPOL" + bytes(10))
    for model in (bad, tmp_path / "missing.bin"):
        proc = subprocess.run([sys.executable, "-m", "tinypolicy_host.cli", "eval", "--device", "--episodes", "1",
                               "--model", str(model)], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("error: ") and str(model.name) in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_virtual_board_over_serial(tmp_path):
    fs = tmp_path / "fs"
    for package in ("tinypolicy", "tinypolicy_app"):  # what `make flash` puts there
        shutil.copytree(BUILD / "mpy" / "x64" / package, fs / package)
    (fs / "models").mkdir()
    shutil.copy(MODELS / "policy_int8.bin", fs / "models")
    settings = {"50ms": SETTINGS["50ms"]}
    with VBoardProcess(fs, tmp_path / "port", run_main=False) as vb:
        got = evaluate_on_device(MODELS / "policy_int8.bin", 40, settings, port=vb.port)
        assert got["device"]["mismatches"] == 0 and got["device"]["states"] == 40 * 200
        assert got["device"]["link"] == f"--port {vb.port}"
        # a blob the board does not have: the device's own error, as a one-line user error
        (tmp_path / "other.bin").write_bytes((MODELS / "policy_q15.bin").read_bytes())
        with pytest.raises(UserError, match=r"device stopped after 0 of 1 answers: ModelError: models/other\.bin"):
            evaluate_on_device(tmp_path / "other.bin", 1, settings, port=vb.port)
    unix = evaluate_on_device(MODELS / "policy_int8.bin", 40, settings)
    assert got["50ms"]["mean"] == unix["50ms"]["mean"]


def test_large_batch_does_not_deadlock_and_grid_inputs_match_the_reference():
    """20 000 states in one query (far beyond the pipe buffers): chunked, answered in order, exact on the Q12 grid."""
    import numpy as np

    from tinypolicy_host.evaluation.device import DevicePolicy, UnixPortLink

    blob = MODELS / "policy_int8.bin"
    link = UnixPortLink(blob)
    try:
        policy = DevicePolicy(link, read_blob(blob))
        rng = np.random.default_rng(3)
        theta, theta_dot = rng.uniform(-20, 20, 20000), rng.uniform(-9, 9, 20000)
        torque = policy.pendulum(theta, theta_dot)
    finally:
        link.close()
    assert policy.mismatches == 0 and policy.states == 20000
    assert np.array_equal(torque, pendulum_policy(read_blob(blob))(theta, theta_dot))
    assert link.proc.returncode is not None  # closed: no process left behind


def test_relative_model_path_from_another_folder(tmp_path):
    shutil.copy(MODELS / "policy_q15.bin", tmp_path / "mine.bin")
    proc = subprocess.run([sys.executable, "-m", "tinypolicy_host.cli", "eval", "--device", "--episodes", "2",
                           "--setting", "50ms", "--model", "mine.bin"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "(q15)" in proc.stdout and "0 differ" in proc.stdout


@pytest.mark.parametrize("flags, message", [
    (["--port", "vboard"], "--port: only with --device"),
    (["--device", "--expert"], "--expert: not with --device"),
    (["--device", "--json", "."], "--json .: is a folder"),
])
def test_flag_mistakes_are_one_error_line_before_any_run(flags, message):
    proc = subprocess.run([sys.executable, "-m", "tinypolicy_host.cli", "eval", *flags], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.startswith(f"error: {message}"), proc.stderr
