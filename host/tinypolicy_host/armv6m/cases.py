"""What the armv6m harness runs: the golden nets (every net, dtype and activation of tests/data/golden/, with their
golden rows), the kernel-path variants (int8 with a product shift p > 0, 13 hidden units: n_in not a multiple of
4, in int8 and q15), and the three benchmark sizes.

Benchmark sizes (v1 structure: 3 features -> ... -> 1 output, relu hidden layers, as the blob contract and the C
reference's feature stage have it; the hidden layers hold almost all MACs): the shipped 2x16 pendulum policy, and
random nets 3->64->64->1 and 3->256->256->1 quantized with the project's quantizer on uniform states.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..contract.blob import read_blob
from ..contract.spec import DenseSpec, FloatPolicySpec
from ..paths import MODELS, REPO
from ..quantize.quant import QuantPolicy, quantize

GOLDEN = REPO / "tests" / "data" / "golden"


@dataclass
class Case:
    name: str
    policy: QuantPolicy
    theta: np.ndarray  # Q12 inputs
    theta_dot: np.ndarray
    want: np.ndarray  # torque_q12 of the host reference


def _golden_rows(csv: Path):
    rows = np.loadtxt(csv, delimiter=",", skiprows=1, dtype=np.int64)
    return rows[:, 0], rows[:, 1], rows[:, 2]


def golden_cases() -> list[Case]:
    """Every integer golden net with its golden rows (expected outputs from the golden files)."""
    nets = [(MODELS / f"policy_{d}.bin", GOLDEN / f"golden_{d}.csv", d) for d in ("int8", "q15")]
    for tag, folder in (("tanh", "tanh"), ("hs", "hardtanh_sigmoid")):
        nets += [(GOLDEN / folder / f"policy_{tag}_{d}.bin", GOLDEN / folder / f"golden_{tag}_{d}.csv", f"{tag}_{d}")
                 for d in ("int8", "q15")]
    out = []
    for blob, csv, name in nets:
        th, thd, want = _golden_rows(csv)
        out.append(Case(name, read_blob(blob), th, thd, want))
    return out


def variant_cases() -> list[Case]:
    """Kernel paths the shipped nets do not reach, on the golden rows (expected outputs: host reference)."""
    th, thd, _ = _golden_rows(GOLDEN / "golden_int8.csv")
    out = []
    for dtype in ("int8", "q15"):
        base = read_blob(MODELS / f"policy_{dtype}.bin")
        narrow = copy.deepcopy(base)  # 13 hidden units: odd / non-multiple-of-4 n_in in the next layer
        keep = list(range(13))
        first, second = narrow.layers[0], narrow.layers[1]
        first.weight, first.bias, first.mult, first.shift = (first.weight[keep], first.bias[keep],
                                                             first.mult[keep], first.shift[keep])
        second.weight = second.weight[:, keep]
        out.append(Case(f"13_units_{dtype}", narrow, th, thd, narrow.forward_q(th, thd)))
    shifted = copy.deepcopy(read_blob(MODELS / "policy_int8.bin"))  # int8 with products >> p
    shifted.layers[1].pshift = 2
    out.append(Case("pshift_int8", shifted, th, thd, shifted.forward_q(th, thd)))
    return out


def random_policy(widths: list[int], dtype: str = "int8", seed: int = 0) -> QuantPolicy:
    """3 -> widths... -> 1, relu hidden layers, Xavier-uniform weights, quantized on uniform operating states."""
    rng = np.random.default_rng(seed)
    dims = [3, *widths, 1]
    layers = []
    for k in range(len(dims) - 1):
        lim = np.sqrt(6.0 / (dims[k] + dims[k + 1]))
        w = rng.uniform(-lim, lim, (dims[k + 1], dims[k])).astype(np.float32)
        b = rng.uniform(-0.1, 0.1, dims[k + 1]).astype(np.float32)
        layers.append(DenseSpec(w, b, "relu" if k < len(dims) - 2 else "identity"))
    spec = FloatPolicySpec(0.125, 2.0, layers)
    states = (rng.uniform(-np.pi, np.pi, 2048), rng.uniform(-8.0, 8.0, 2048))
    return quantize(spec, dtype, calib_states=states, bias_correction=False)


BENCH_SIZES = {"2x16 (shipped pendulum)": None, "3-64-64-1": [64, 64], "3-256-256-1": [256, 256]}


def bench_policy(size: str, dtype: str = "int8") -> QuantPolicy:
    widths = BENCH_SIZES[size]
    if widths is None:
        return read_blob(MODELS / f"policy_{dtype}.bin")
    return random_policy(widths, dtype)


def macs(policy: QuantPolicy) -> int:
    return sum(q.n_in * q.n_out for q in policy.layers)
