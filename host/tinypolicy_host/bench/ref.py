"""Reference points for `tinypolicy bench`: the same policy in onnxruntime and torch (single-sample calls from
CPython) and as a plain C loop compiled with the system gcc -O2 (benchmarks/c_ref/mlp_ref.c).

Every timing here has the same shape as the device script's (device/bench/device_bench.py): the cold first call,
per-call samples timed alone (p50 / p99 / max), and the median and mean over blocks of back-to-back calls, with
the empty timing loop's cost subtracted. All values in ns.
"""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

from ..paths import BUILD, MODELS, REPO

C_SOURCE = REPO / "benchmarks" / "c_ref" / "mlp_ref.c"
C_BINARY = BUILD / "bench" / "mlp_ref"
CFLAGS = ["-O2"]


def states(k: int = 64, seed: int = 12345) -> tuple[np.ndarray, np.ndarray]:
    """k (θ, θ̇) float states: θ over ±3π, θ̇ over ±10 rad/s."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-3 * np.pi, 3 * np.pi, k), rng.uniform(-10, 10, k)


def _block_times(calls: list, nb: int, block: int, clock) -> np.ndarray:
    """Clock ticks of each of `nb` blocks of `block` back-to-back calls (cycling through `calls`)."""
    k = len(calls)
    out = np.empty(nb, np.int64)
    for b in range(nb):
        t0 = clock()
        for i in range(block):
            calls[(b * block + i) % k]()
        out[b] = clock() - t0
    return out


def time_calls(calls: list, n: int, warmup: int, block: int) -> dict:
    """Latency of zero-argument callables (cycled through, so inputs vary). See the module docstring."""
    clock = time.perf_counter_ns
    k = len(calls)
    t0 = clock()
    calls[0]()
    cold = clock() - t0
    for i in range(warmup):
        calls[i % k]()
    empty = np.empty(n, np.int64)
    for i in range(n):
        t0 = clock()
        empty[i] = clock() - t0
    over = int(np.median(empty))
    single = np.empty(n, np.int64)
    for i in range(n):
        f = calls[i % k]
        t0 = clock()
        f()
        single[i] = clock() - t0
    nb = max(1, n // block)
    blocks = _block_times(calls, nb, block, clock)
    # the block loop's own cost (indexing, range) is measured the same way and subtracted
    loop_over = int(np.median(_block_times([(lambda: None)] * k, nb, block, clock)))
    return {"n": n, "warmup": warmup, "block": block, "cold_ns": int(cold),
            "p50_ns": max(0, int(np.percentile(single, 50)) - over),
            "p99_ns": max(0, int(np.percentile(single, 99)) - over), "max_ns": int(single.max()),
            "median_ns": max(0.0, (float(np.median(blocks)) - loop_over) / block),
            "mean_ns": max(0.0, (float(blocks.sum()) - loop_over * nb) / (nb * block)),
            "overhead_ns": loop_over / block}


def onnxruntime_latency(n: int, warmup: int, block: int, model: Path = MODELS / "tiny_policy.onnx") -> dict:
    """onnxruntime InferenceSession.run on one (1, 2) float32 state per call, one thread."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    t0 = time.perf_counter_ns()
    sess = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
    create = time.perf_counter_ns() - t0
    name = sess.get_inputs()[0].name
    th, thd = states()
    feeds = [{name: np.array([[a, b]], np.float32)} for a, b in zip(th, thd, strict=True)]
    run = sess.run
    calls = [(lambda f=f: run(None, f)) for f in feeds]
    r = time_calls(calls, n, warmup, block)
    r.update(engine="onnxruntime", dtype="f32", api="InferenceSession.run", version=ort.__version__,
             setup_ns=create)
    return r


def torch_latency(n: int, warmup: int, block: int, blob: Path = MODELS / "policy_f32.bin") -> dict:
    """torch forward of the same float weights (PolicyNet from the f32 blob), one (1,) state per call, one
    thread, inference_mode."""
    import torch

    from ..contract.blob import read_blob
    from ..contract.spec import pendulum_params

    torch.set_num_threads(1)
    spec = read_blob(blob)
    t0 = time.perf_counter_ns()
    try:
        from ..training.model import PolicyNet

        net = PolicyNet.from_spec(spec).eval()
        fwd = net.forward
        what = "PolicyNet.forward"
    except (ImportError, ValueError):
        weights = [(torch.from_numpy(np.asarray(d.weight, np.float32)),
                    torch.from_numpy(np.asarray(d.bias, np.float32)), d.activation) for d in spec.layers]

        vel_scale, max_torque = pendulum_params(spec)

        def fwd(th, thd):
            x = torch.stack([torch.cos(th), torch.sin(th), thd * vel_scale], dim=-1)
            for w, b, act in weights:
                x = torch.nn.functional.linear(x, w, b)
                x = {"relu": torch.relu, "tanh": torch.tanh}.get(act, lambda v: v)(x)
            return torch.clamp(x[..., 0], -max_torque, max_torque)

        what = "functional ops"
    create = time.perf_counter_ns() - t0
    th, thd = states()
    pairs = [(torch.tensor([a], dtype=torch.float32), torch.tensor([b], dtype=torch.float32))
             for a, b in zip(th, thd, strict=True)]
    with torch.inference_mode():
        calls = [(lambda p=p: fwd(*p)) for p in pairs]
        r = time_calls(calls, n, warmup, block)
    r.update(engine="torch", dtype="f32", api=what, version=torch.__version__, setup_ns=create)
    return r


# ---- the C loop ---------------------------------------------------------------------------------------------

def compiler() -> str | None:
    return shutil.which("gcc") or shutil.which("cc")


def build_c(out: Path = C_BINARY) -> tuple[Path, str]:
    """Compile mlp_ref.c with gcc -O2 (always rebuilt: the compiler version is part of the result)."""
    cc = compiler()
    if cc is None:
        raise RuntimeError("no C compiler (gcc / cc) on PATH")
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [cc, *CFLAGS, "-o", str(out), str(C_SOURCE), "-lm"]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    version = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    return out, version


def check_c(binary: Path, dtype: str, n: int = 2000) -> int:
    """Compare the C loop with the host integer reference on n random + edge states of the shipped
    models/policy_<dtype>.bin; returns mismatches."""
    rng = np.random.default_rng(7)
    th = np.concatenate([rng.integers(-40000, 40000, n), [0, 12868, -12868, 25736, -25736, 2**31 - 30000]])
    thd = np.concatenate([rng.integers(-200000, 200000, n), [0, 131072, -131072, 2**20, -(2**20), 0]])
    return check_c_blob(binary, MODELS / f"policy_{dtype}.bin", np.stack([th, thd], axis=1))[0]


def run_c_rows(binary: Path, blob: Path, rows: np.ndarray) -> np.ndarray:
    """`mlp_ref check BLOB` on rows (N, n_inputs): int32 inputs for int8 / q15 blobs, floats for f32; returns
    the outputs (N, n_outputs) as printed (ints or floats)."""
    fmt = "{:.9g}" if rows.dtype.kind == "f" else "{:d}"
    text = "".join(" ".join(fmt.format(v) for v in row) + "\n" for row in rows.tolist())
    proc = subprocess.run([str(binary), "check", str(blob)], input=text, capture_output=True, text=True, check=True)
    return np.array([[float(v) for v in line.split()] for line in proc.stdout.splitlines()])


def check_c_blob(binary: Path, blob: Path, rows: np.ndarray) -> tuple[int, float]:
    """The C loop against the host reference on `rows`: (mismatches, max abs diff). int8 / q15: rows are int32
    inputs, compared with the bit-exact integer reference (QuantMLP.forward_q); f32: rows are floats, compared
    with the float64 spec (MLPSpec.forward; the C loop is single precision, so mismatches = rows off by more
    than 1e-3 of the output range)."""
    from ..contract.blob import read_blob

    model = read_blob(blob, 1 << 22)
    if hasattr(model, "forward_q"):
        ref = model.forward_q(np.asarray(rows, np.int64))
        got = run_c_rows(binary, blob, np.asarray(rows, np.int64))
        if got.shape != ref.shape:
            return len(ref), float("inf")
        return int((got != ref).any(axis=1).sum()), float(np.abs(got - ref).max())
    ref = model.forward(rows)
    got = run_c_rows(binary, blob, np.asarray(rows, np.float64))
    if got.shape != ref.shape:
        return len(ref), float("inf")
    span = np.array([o.hi - o.lo for o in model.outputs]) if not model.argmax else np.ones(1)
    diff = np.abs(got - ref)
    return int((diff > 1e-3 * span[None, :]).any(axis=1).sum()), float(diff.max())


def c_latency(binary: Path, blob: Path, n: int, warmup: int, block: int) -> dict:
    """`mlp_ref bench BLOB` (any v2 blob): the latency dict of its BENCH line."""
    proc = subprocess.run([str(binary), "bench", str(blob), str(n), str(warmup), str(block)],
                          capture_output=True, text=True, check=True)
    from .device import parse_lines

    recs = [r for r in parse_lines(proc.stdout.splitlines()) if r["record"] == "latency"]
    if not recs:
        raise RuntimeError(f"mlp_ref printed no result: {proc.stdout!r} {proc.stderr!r}")
    r = recs[0]
    r.pop("record")
    return r


# ---- instruction counts (valgrind callgrind): deterministic, unlike times on a shared machine ---------------

def callgrind_total(cmd: list[str], env=None) -> int:
    import re

    proc = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=900)
    found = re.findall(r"Collected\s*:\s*(\d+)", proc.stderr)
    if proc.returncode != 0 or not found:
        raise RuntimeError(f"valgrind {' '.join(cmd[:2])}…: exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
    errors = [line for line in proc.stdout.splitlines() if line.startswith("BENCH error")]
    if errors:
        raise RuntimeError(errors[0][:300])
    return int(found[-1])


def instructions_per_call(command, n1: int, n2: int, env=None) -> int:
    """Instructions per call: callgrind totals of command(n1) and command(n2) (a process making n calls),
    differenced, so start-up, loading and printing cancel out."""
    totals = [callgrind_total(command(n), env=env) for n in (n1, n2)]
    return round((totals[1] - totals[0]) / (n2 - n1))


def device_instructions(n1: int, n2: int, variant: str = "mpy", *, dtype: str | None = None,
                        blob: Path | None = None, kernel: str | None = None, heapsize: str | None = None,
                        max_bytes: int = 0) -> int:
    """Instructions per infer_q call on the unix port: `device_bench.py --sections count` (x64 viper code is
    JIT'd and counted like any other code) at n1 and n2 calls, differenced. One of dtype (a
    models/policy_<dtype>.bin) or blob; heapsize / max_bytes: for nets larger than Policy.load's default limit."""
    import os

    from ..paths import device_path, micropython_binary
    from .device import HEAPSIZE, SCRIPT

    if shutil.which("valgrind") is None:
        raise RuntimeError("valgrind not installed")
    env = dict(os.environ, MICROPYPATH=device_path(variant) + ":.frozen")
    what = ["--blobs", str(blob)] if blob is not None else ["--dtypes", str(dtype)]
    if kernel:
        what += ["--kernel", kernel]
    if max_bytes:
        what += ["--max-bytes", str(max_bytes)]
    return instructions_per_call(lambda n: [micropython_binary(), "-X", f"heapsize={heapsize or HEAPSIZE}",
                                            str(SCRIPT), "--sections", "count", *what, "--n", str(n)], n1, n2, env)


def c_instructions(binary: Path, blob: Path, n1: int, n2: int) -> int:
    """Instructions per call of the C loop (`mlp_ref count BLOB N` at n1 and n2, differenced)."""
    return instructions_per_call(lambda n: [str(binary), "count", str(blob), str(n)], n1, n2)


def instruction_counts(variant: str = "mpy", c_binary: Path | None = None) -> list[dict]:
    """Instructions per inference of the shipped models: the whole process counted by callgrind at two call
    counts, differenced (start-up, loading and printing cancel out). MicroPython: device_bench.py --sections
    count; C: mlp_ref count."""
    rows = []
    for dtype, (n1, n2) in (("f32", (20, 220)), ("int8", (200, 2200)), ("q15", (200, 2200))):
        rows.append({"engine": "micropython", "dtype": dtype, "api": "infer_q", "calls": n2 - n1,
                     "instructions_per_call": device_instructions(n1, n2, variant, dtype=dtype)})
    if c_binary is not None:
        for dtype in ("int8", "q15"):
            n1, n2 = 1000, 11000
            rows.append({"engine": "c", "dtype": dtype, "api": "infer", "calls": n2 - n1,
                         "instructions_per_call": c_instructions(c_binary, MODELS / f"policy_{dtype}.bin", n1, n2)})
    return rows
