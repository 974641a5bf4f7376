"""The committed policy zoo (models/zoo, written by `make zoo`): files match their recorded hashes, the table in
README.md is the one the metadata gives, the SB3 model still acts as its f32 blob, and a few held-out episodes per
task on the unix port reproduce the recorded returns exactly with every answer equal to the host reference."""
import json
import subprocess
import sys

import numpy as np
import pytest

from tinypolicy_host.contract.blob import SCHEME_BLOB_NAMES, read_blob
from tinypolicy_host.convert.sb3_convert import sha256_file
from tinypolicy_host.paths import MODELS
from tinypolicy_host.zoo import report
from tinypolicy_host.zoo.evaluate import HELD_OUT_SEED
from tinypolicy_host.zoo.tasks import TASKS

ZOO = MODELS / "zoo"
TASK_NAMES = [t.name for t in TASKS if (ZOO / t.name / "metadata.json").is_file()]
EPISODES = 2


def meta(name):
    return json.loads((ZOO / name / "metadata.json").read_text())


def test_zoo_is_there():
    """Every zoo task of the table has its folder (a missing one would silently shrink the checks below)."""
    assert TASK_NAMES == [t.name for t in TASKS]
    assert (ZOO / "pendulum" / "metadata.json").is_file()


@pytest.mark.parametrize("name", TASK_NAMES)
def test_artifacts_match_metadata(name):
    m = meta(name)
    assert m["env"] == next(t.env_id for t in TASKS if t.name == name)
    for file, entry in m["artifacts"].items():
        path = ZOO / name / file
        assert path.stat().st_size == entry["bytes"], file
        assert sha256_file(path) == entry["sha256"], file
    for column in ("float", "int8", "q15"):
        assert len(m["returns"][column]["returns"]) >= 100, column  # ≥ 100 held-out seeds
    assert m["returns"]["int8"]["device"]["mismatches"] == 0 and m["returns"]["q15"]["device"]["mismatches"] == 0


def test_pendulum_row_is_the_shipped_policy():
    m = meta("pendulum")
    for file, entry in m["artifacts"].items():
        assert sha256_file(MODELS / file) == entry["sha256"], file


def test_readme_table_is_the_metadata():
    text = (ZOO / "README.md").read_text()
    rows = report.load_rows(ZOO, ["pendulum", *TASK_NAMES])
    table = report.markdown(rows, "")
    for line in table.splitlines()[2:]:
        assert line in text, line


@pytest.mark.parametrize("name", TASK_NAMES)
def test_sb3_model_acts_as_its_f32_blob(name):
    from tinypolicy_host.convert import sb3_load

    m = meta(name)
    folder = ZOO / name
    vec = folder / "vecnormalize.pkl"
    sb = sb3_load.load(folder / "model.zip", vec if vec.is_file() else None)
    obs = sb3_load.rollouts(sb, m["env"], 1, HELD_OUT_SEED)
    want = np.asarray(sb.predict(obs.astype(np.float32)), np.float64).reshape(len(obs), -1)
    got = read_blob(folder / SCHEME_BLOB_NAMES["f32"]).forward(obs)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


@pytest.mark.parametrize("scheme", ["w8a16", "q15"])
@pytest.mark.parametrize("name", TASK_NAMES)
def test_device_reproduces_recorded_returns(name, scheme):
    from tinypolicy_host.evaluation.device import evaluate_env_on_device

    m = meta(name)
    column = "int8" if scheme == "w8a16" else "q15"
    got = evaluate_env_on_device(m["env"], ZOO / name / SCHEME_BLOB_NAMES[scheme], EPISODES, HELD_OUT_SEED)
    assert got["device"]["mismatches"] == 0 and got["device"]["states"] == got["steps"]
    assert got["returns"] == m["returns"][column]["returns"][:EPISODES]


def test_eval_cli_any_env_on_device(tmp_path):
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-m", "tinypolicy_host.cli", "eval", "--env", "CartPole-v1", "--model",
                           str(ZOO / "cartpole" / "policy_int8.bin"), "--device", "--episodes", "2", "--seed", "5",
                           "--json", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "unix port (mpy)" in proc.stdout and "0 differ from the host reference" in proc.stdout, proc.stdout
    data = json.loads(out.read_text())
    assert data["seeds"] == "5..6" and data["device"]["mismatches"] == 0 and data["mean"] > 0


@pytest.mark.parametrize("flags, message", [
    (["--env", "Acrobot-v1", "--model", "models/zoo/cartpole/policy_int8.bin"],
     "--model models/zoo/cartpole/policy_int8.bin: 4 inputs, but Acrobot-v1 observes 6 values"),
    (["--env", "CartPole-v1"], "--env: needs --model BLOB"),
    (["--seed", "3"], "--seed: only with --env"),
    (["--env", "CartPole-v1", "--model", "m.bin", "--setting", "50ms"], "--setting: not with --env"),
    (["--env", "NoSuchEnv-v9", "--model", "models/zoo/cartpole/policy_int8.bin"],
     "--env NoSuchEnv-v9: Gymnasium cannot make it"),
])
def test_env_flag_mistakes_are_one_error_line(flags, message):
    proc = subprocess.run([sys.executable, "-m", "tinypolicy_host.cli", "eval", *flags], capture_output=True,
                          text=True, timeout=60, cwd=MODELS.parent)
    assert proc.returncode == 2 and proc.stderr.startswith(f"error: {message}"), proc.stderr
    assert "Traceback" not in proc.stderr
