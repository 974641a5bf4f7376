"""SB3 import: for every supported algorithm, the MLPSpec's float path, the f32 blob read back and the ONNX
written from the spec act exactly as SB3's `predict(deterministic=True)` (within 1e-5) on rollout observations;
VecNormalize folds into the input stage; bad files give one-line UserErrors."""
import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

from tinypolicy_host.contract.blob import read_blob, write_blob  # noqa: E402
from tinypolicy_host.convert import sb3, sb3_load  # noqa: E402
from tinypolicy_host.errors import UserError  # noqa: E402
from tinypolicy_host.export.onnx_mlp import build_onnx, run_onnx  # noqa: E402

# (algo, env, constructor kwargs, training steps): tiny nets, trained a few hundred steps so the weights have moved
CASES = {
    "ppo-box": ("ppo", "Pendulum-v1", dict(n_steps=64, batch_size=32, n_epochs=2), 128),
    "ppo-discrete": ("ppo", "CartPole-v1", dict(n_steps=64, batch_size=32, n_epochs=2), 128),
    "ppo-squash-sde": ("ppo", "MountainCarContinuous-v0",
                       dict(n_steps=64, batch_size=32, n_epochs=2, use_sde=True,
                            policy_kwargs=dict(squash_output=True)), 128),
    "a2c-box": ("a2c", "Pendulum-v1", dict(n_steps=8), 128),
    "a2c-discrete": ("a2c", "CartPole-v1", dict(n_steps=8), 128),
    "sac": ("sac", "Pendulum-v1", dict(learning_starts=50, batch_size=32), 150),
    "sac-sde": ("sac", "MountainCarContinuous-v0", dict(learning_starts=50, batch_size=32, use_sde=True), 150),
    "td3": ("td3", "Pendulum-v1", dict(learning_starts=50, batch_size=32), 150),
    "ddpg": ("ddpg", "MountainCarContinuous-v0", dict(learning_starts=50, batch_size=32), 150),
    "dqn": ("dqn", "CartPole-v1", dict(learning_starts=10, batch_size=32, train_freq=1, learning_rate=0.01), 300),
    "tqc": ("tqc", "Pendulum-v1", dict(learning_starts=50, batch_size=32), 150),
}


def _train(tmp_path, case, normalize=False):
    import torch
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    algo, env_id, kwargs, steps = CASES[case]
    if algo == "tqc":
        pytest.importorskip("sb3_contrib")
    torch.set_num_threads(1)
    env = make_vec_env(env_id, n_envs=1, seed=0)
    if normalize:
        env = VecNormalize(env)
    kwargs = dict(kwargs)
    kwargs.setdefault("policy_kwargs", {})
    kwargs["policy_kwargs"] = dict(kwargs["policy_kwargs"], net_arch=[8, 8])
    model = sb3_load.algo_class(algo)("MlpPolicy", env, seed=0, device="cpu", **kwargs)
    model.learn(steps)
    model.save(tmp_path / "model.zip")
    if normalize:
        env.save(str(tmp_path / "vecnormalize.pkl"))
        return tmp_path / "model.zip", tmp_path / "vecnormalize.pkl", env_id
    return tmp_path / "model.zip", None, env_id


def _check(zip_path, norm_path, env_id, tmp_path=None):
    sb = sb3_load.load(zip_path, norm_path)
    obs = sb3_load.rollouts(sb, env_id, episodes=2, seed=100)
    spec = sb3.to_spec(sb, obs)
    # plus a cloud around the visited states, within the declared input ranges, so more actions show up
    rng = np.random.default_rng(0)
    cloud = obs[rng.integers(len(obs), size=500)] + rng.normal(size=(500, obs.shape[1])) * 2 * obs.std(axis=0)
    lo, hi = np.array([i.lo for i in spec.inputs]), np.array([i.hi for i in spec.inputs])
    obs = np.concatenate([obs, np.clip(cloud, lo, hi)])
    want = np.asarray(sb.predict(obs.astype(np.float32)), np.float64).reshape(len(obs), -1)
    got = spec.forward(obs)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    if tmp_path is not None:  # the f32 blob (float32 parameters) and the ONNX of the actor act the same
        write_blob(tmp_path / "f32.bin", spec)
        np.testing.assert_allclose(read_blob(tmp_path / "f32.bin").forward(obs), want, rtol=0, atol=1e-5)
        onnx_model = build_onnx(spec).SerializeToString()
        np.testing.assert_allclose(run_onnx(onnx_model, obs), want, rtol=0, atol=1e-5)
    return sb, spec, obs


@pytest.mark.parametrize("case", sorted(CASES))
def test_float_path_equals_predict(tmp_path, case):
    sb, spec, obs = _check(*_train(tmp_path, case), tmp_path)
    assert sb.algo == CASES[case][0]
    assert spec.argmax == (case.endswith("discrete") or case == "dqn")
    # the deterministic actions do vary over the rollout (the check compares more than one constant)
    assert len(np.unique(spec.forward(obs), axis=0)) > 1


@pytest.mark.parametrize("case", ["ppo-box", "ppo-discrete", "sac"])
def test_vecnormalize_folds_into_inputs(tmp_path, case):
    zip_path, norm_path, env_id = _train(tmp_path, case, normalize=True)
    sb, spec, obs = _check(zip_path, norm_path, env_id)
    rms = sb.vecnormalize.obs_rms
    np.testing.assert_allclose([i.offset for i in spec.inputs], rms.mean)
    np.testing.assert_allclose([i.scale for i in spec.inputs], 1 / np.sqrt(rms.var + sb.vecnormalize.epsilon))
    # without the statistics the same zip acts differently: the fold is doing something
    raw = sb3_load.load(zip_path)
    assert not np.allclose(sb3.to_spec(raw, obs).forward(obs), spec.forward(obs), atol=1e-5)


def test_observation_clip_from_vecnormalize(tmp_path):
    """An observation beyond VecNormalize's clip_obs·std acts as SB3 does (clipped), not extrapolated."""
    zip_path, norm_path, env_id = _train(tmp_path, "ppo-box", normalize=True)
    sb = sb3_load.load(zip_path, norm_path)
    sb.vecnormalize.clip_obs = 0.5
    spec = sb3.to_spec(sb)
    obs = np.array([[1.0, 0.0, 8.0], [-1.0, 0.0, -8.0], [0.0, 1.0, 0.0]])
    np.testing.assert_allclose(spec.forward(obs), sb.predict(obs.astype(np.float32)), atol=1e-5)


def test_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(UserError, match="bad.zip: not a Stable-Baselines3 model zip"):
        sb3_load.load(bad)
    with pytest.raises(UserError, match="no such file"):
        sb3_load.load(tmp_path / "missing.zip")
    zip_path, _, _ = _train(tmp_path, "td3")
    with pytest.raises(UserError, match="x.pkl: no such file"):
        sb3_load.load(zip_path, tmp_path / "x.pkl")
    with pytest.raises(UserError, match="Gymnasium cannot make it"):
        sb3_load.rollouts(sb3_load.load(zip_path), "NoSuchEnv-v0", 1, 0)
    with pytest.raises(UserError, match="observation shape"):
        sb3_load.rollouts(sb3_load.load(zip_path), "CartPole-v1", 1, 0)


def test_convert_cli_sb3_zip(tmp_path):
    """`tinypolicy convert MODEL.zip --vecnormalize … --env …`: blobs, ONNX, metadata, golden replayed on the
    unix port; without --env a bounded task calibrates on uniform rows, an unbounded one is a one-line error."""
    import json
    import subprocess
    import sys

    zip_path, norm_path, env_id = _train(tmp_path, "sac", normalize=True)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "tinypolicy_host.cli", "convert", str(zip_path), "--out", str(out)]
    proc = subprocess.run(cmd + ["--vecnormalize", str(norm_path), "--env", env_id, "--episodes", "2"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "SAC actor" in proc.stdout and "0 mismatches" in proc.stdout, proc.stdout
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["env"] == env_id and meta["source"]["algo"] == "sac"
    assert meta["checks"]["f32_vs_predict_max_abs"] <= 1e-5 and meta["checks"]["onnx_vs_predict_max_abs"] <= 1e-5
    assert {"policy.onnx", "policy_f32.bin", "policy_int8.bin", "policy_q15.bin"} <= set(meta["artifacts"])
    proc = subprocess.run(cmd + ["--no-device-check"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "uniform in the input ranges" in proc.stdout, proc.stderr
    (tmp_path / "u").mkdir()
    unbounded, _, _ = _train(tmp_path / "u", "dqn")  # CartPole: two velocities have no bounds
    proc = subprocess.run([sys.executable, "-m", "tinypolicy_host.cli", "convert", str(unbounded), "--out",
                           str(tmp_path / "o2")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "observation 1 is unbounded: give --env" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
