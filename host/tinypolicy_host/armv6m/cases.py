"""What the armv6m harness runs: the golden nets (every net and integer scheme of tests/data/golden/manifest.json,
with their golden rows), the kernel-path variants (int8 with a product shift p > 0, 13 hidden units: n_in not a
multiple of 4, in w8a8 and q15), and the three benchmark sizes.

Benchmark sizes (the pendulum structure: θ angle + θ̇ affine inputs -> 3 features -> ... -> 1 output, relu hidden
layers; the hidden layers hold almost all MACs): the shipped 2x16 pendulum policy, and random nets 3->64->64->1 and
3->256->256->1 quantized with the project's quantizer on uniform states.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass

import numpy as np

from ..contract.blob import encode_blob, read_blob
from ..contract.reference import QuantMLP
from ..contract.spec import DenseSpec, pendulum_spec
from ..paths import MODELS, REPO
from ..quantize.quant import quantize

GOLDEN = REPO / "tests" / "data" / "golden"
SCHEMES = ("w8a16", "w8a8", "q15")
SCHEME_FILES = {"w8a16": "policy_int8.bin", "w8a8": "policy_int8_a8.bin", "q15": "policy_q15.bin"}


@dataclass
class Case:
    name: str
    model: QuantMLP
    blob: bytes
    xq: np.ndarray  # (N, n_inputs) inputs, Q`in_frac`
    want: np.ndarray  # (N, n_outputs) of the host reference / the golden file


def golden_cases() -> list[Case]:
    """Every integer blob of the golden manifest with its golden rows (expected outputs from the golden files)."""
    manifest = json.loads((GOLDEN / "manifest.json").read_text())
    out = []
    for net in manifest["nets"]:
        for b in net["blobs"]:
            if b["scheme"] == "f32":
                continue
            rows = np.loadtxt(REPO / b["golden"], delimiter=",", skiprows=1, dtype=np.int64, ndmin=2)
            path = REPO / b["blob"]
            n = net["n_inputs"]
            out.append(Case(f"{net['name']}_{b['scheme']}", read_blob(path), path.read_bytes(), rows[:, :n],
                            rows[:, n:]))
    return out


def _case(name: str, model: QuantMLP, xq: np.ndarray) -> Case:
    return Case(name, model, encode_blob(model), xq, model.forward_q(xq))


def variant_cases() -> list[Case]:
    """Kernel paths the golden nets do not reach, on the pendulum's golden rows (expected: host reference)."""
    xq = golden_cases()[0].xq
    out = []
    for scheme in ("w8a8", "q15"):
        narrow = copy.deepcopy(read_blob(MODELS / SCHEME_FILES[scheme]))  # 13 hidden units: n_in 13 next
        keep = list(range(13))
        first, second = narrow.layers[0], narrow.layers[1]
        first.weight, first.bias, first.mult, first.shift = (first.weight[keep], first.bias[keep],
                                                             first.mult[keep], first.shift[keep])
        second.weight = second.weight[:, keep]
        out.append(_case(f"13_units_{scheme}", narrow, xq))
    shifted = copy.deepcopy(read_blob(MODELS / SCHEME_FILES["w8a8"]))  # int8 with products >> p
    shifted.layers[1].pshift = 2
    out.append(_case("pshift_w8a8", shifted, xq))
    return out


def random_policy(widths: list[int], scheme: str = "w8a16", seed: int = 0) -> QuantMLP:
    """Pendulum inputs -> 3 -> widths... -> 1, relu hidden layers, Xavier-uniform weights, quantized on uniform
    operating states."""
    rng = np.random.default_rng(seed)
    dims = [3, *widths, 1]
    layers = []
    for k in range(len(dims) - 1):
        lim = np.sqrt(6.0 / (dims[k] + dims[k + 1]))
        w = rng.uniform(-lim, lim, (dims[k + 1], dims[k]))
        b = rng.uniform(-0.1, 0.1, dims[k + 1])
        layers.append(DenseSpec(w, b, "relu" if k < len(dims) - 2 else "identity"))
    spec = pendulum_spec(0.125, 2.0, layers)
    calib = np.stack([rng.uniform(-np.pi, np.pi, 2048), rng.uniform(-8.0, 8.0, 2048)], axis=1)
    return quantize(spec, scheme, calib, bias_correction=False)


BENCH_SIZES = {"2x16 (shipped pendulum)": None, "3-64-64-1": [64, 64], "3-256-256-1": [256, 256]}


def bench_policy(size: str, scheme: str = "w8a16") -> tuple[QuantMLP, bytes]:
    widths = BENCH_SIZES[size]
    if widths is None:
        path = MODELS / SCHEME_FILES[scheme]
        return read_blob(path), path.read_bytes()
    model = random_policy(widths, scheme)
    return model, encode_blob(model)


def macs(model: QuantMLP) -> int:
    return sum(q.n_in * q.n_out for q in model.layers)
