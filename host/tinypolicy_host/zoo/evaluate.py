"""Evaluate one converted zoo policy: returns over held-out seeds (float on the host; int8 and Q15 answered by the
unix MicroPython port and checked against the host integer reference), and device figures (RAM held by the loaded
policy, µs per `infer_q`) from device/bench/device_bench.py."""
import os
import subprocess
from pathlib import Path

from ..bench.device import parse_lines
from ..contract.blob import SCHEME_BLOB_NAMES
from ..evaluation.device import evaluate_env_on_device
from ..evaluation.episodes import evaluate, read_model
from ..paths import REPO, device_path, micropython_binary

HELD_OUT_SEED = 100_000  # episodes HELD_OUT_SEED… : never used in training (seeds 0…, 1000…) or calibration
BENCH_SCRIPT = REPO / "device" / "bench" / "device_bench.py"
#: (table column, blob scheme)
DEVICE_BLOBS = (("int8", "w8a16"), ("q15", "q15"))


def returns(folder: Path, env_id: str, episodes: int, seed: int = HELD_OUT_SEED, device: bool = True) -> dict:
    """{"float": summary, "int8": summary (+ "device"), "q15": …} (evaluation.episodes summaries)."""
    f32 = folder / SCHEME_BLOB_NAMES["f32"]
    reference = read_model(f32)
    out = {"float": evaluate(env_id, reference.forward, reference, episodes, seed, str(f32))}
    for column, scheme in DEVICE_BLOBS:
        blob = folder / SCHEME_BLOB_NAMES[scheme]
        if device:
            out[column] = evaluate_env_on_device(env_id, blob, episodes, seed)
        else:
            ref = read_model(blob)
            out[column] = evaluate(env_id, ref.forward, ref, episodes, seed, str(blob))
    return out


def pendulum_returns(models: Path, episodes: int, seed: int = HELD_OUT_SEED) -> dict:
    """The shipped pendulum policy (models/) on Pendulum-v1 (50 ms, 200 steps) from the start states of seeds
    seed…: the same summaries as `returns` (its blobs take θ, θ̇ rather than the observation cos θ, sin θ, θ̇)."""
    import time

    import gymnasium as gym
    import numpy as np

    from ..contract.spec import pendulum_policy
    from ..evaluation.device import run_on_device
    from ..evaluation.episodes import EpisodeResult
    from ..evaluation.gym import run_episodes

    env = gym.make("Pendulum-v1")
    starts = []
    for k in range(episodes):
        env.reset(seed=seed + k)
        starts.append(np.array(env.unwrapped.state, np.float64))
    env.close()
    starts = np.array(starts).T.copy()

    def run(policy) -> dict:
        t0 = time.perf_counter()
        total, _ = run_episodes(policy, episodes, starts=starts)
        return EpisodeResult("Pendulum-v1", list(range(seed, seed + episodes)), total, 200 * episodes,
                             time.perf_counter() - t0).summary()

    out = {"float": run(pendulum_policy(read_model(models / SCHEME_BLOB_NAMES["f32"])))}
    for column, scheme in DEVICE_BLOBS:
        out[column], dev = run_on_device(models / SCHEME_BLOB_NAMES[scheme], lambda p: run(p.pendulum))
        out[column]["device"] = dev
    return out


def device_figures(blobs: list[Path], n: int = 2000, variant: str = "mpy") -> dict:
    """{blob name: {"policy_bytes": RAM the loaded policy holds, "infer_q_ns": median ns per call}} on the unix
    port (board-sized 256K heap, as `tinypolicy bench`)."""
    env = dict(os.environ, MICROPYPATH=device_path(variant) + ":.frozen")
    rel = [str(Path(b).resolve().relative_to(REPO)) if Path(b).resolve().is_relative_to(REPO) else str(b)
           for b in blobs]
    cmd = [micropython_binary(), "-X", "heapsize=256K", str(BENCH_SCRIPT), "--n", str(n), "--warmup", "200",
           "--sections", "memory,latency", "--blobs", ",".join(rel)]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    records = parse_lines(proc.stdout.splitlines())
    if proc.returncode != 0 and not records:
        raise RuntimeError(f"device_bench.py exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    figures: dict = {}
    for rec in records:
        name = Path(str(rec.get("dtype", ""))).name
        if rec["record"] == "memory":
            figures.setdefault(name, {})["policy_bytes"] = rec.get("policy_bytes")
        elif rec["record"] == "latency" and rec.get("api") == "infer_q":
            figures.setdefault(name, {})["infer_q_ns"] = rec.get("median_ns")
    return figures
