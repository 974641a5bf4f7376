"""The synthetic golden nets (fixed seeds; not controllers): each exercises device paths the shipped policy does
not. `TEST_NETS` maps a name to (spec builder, schemes, calibration/random rows builder)."""
from __future__ import annotations

import numpy as np

from ..contract.spec import DenseSpec, InputSpec, MLPSpec, OutputSpec, pendulum_spec

SEED = 20261125


def _layers(rng, dims, acts, gain):
    """Random layers; an activation ("clip", lo, hi) is a clip layer with those bounds."""
    return [DenseSpec((rng.normal(size=(dims[k + 1], dims[k])) * gain).astype(np.float32),
                      rng.normal(size=dims[k + 1]).astype(np.float32), *((a,) if isinstance(a, str) else a))
            for k, a in enumerate(acts)]


def tanh_spec() -> MLPSpec:
    """3-12-10-1 tanh net on the pendulum's inputs; weights large enough to reach the ±4 tanh clamp."""
    rng = np.random.default_rng(SEED + 2)
    return pendulum_spec(0.125, 2.0, _layers(rng, [3, 12, 10, 1], ["tanh", "tanh", "identity"], 1.5))


def hardtanh_sigmoid_spec() -> MLPSpec:
    """3-12-10-8-1 sigmoid / hardtanh / sigmoid net on the pendulum's inputs: both sigmoid layers reach their ±8
    clamp and the hardtanh layer clips at ±1."""
    rng = np.random.default_rng(SEED + 3)
    return pendulum_spec(0.125, 2.0, _layers(rng, [3, 12, 10, 8, 1],
                                             ["sigmoid", "hardtanh", "sigmoid", "identity"], 2.0))


def multi_spec() -> MLPSpec:
    """6 inputs (5 affine with different Q formats, offsets, negative and positive scales, clips; 1 angle) → 7
    features → 24 relu → 16 tanh → 4 outputs with affine output stages (negative scale, offsets, fracs 8…16)."""
    rng = np.random.default_rng(SEED + 4)
    inputs = [InputSpec("affine", 12, 1.5, 0.5, -2.0, 5.0, "a"),
              InputSpec("affine", 16, 0.0, -4.0, -0.25, 0.25, "b"),
              InputSpec("angle", 12, name="phi"),
              InputSpec("affine", 8, 100.0, 0.01, 0.0, 300.0, "c"),
              InputSpec("affine", 20, -0.5, 2.0, -1.0, 0.0, "d"),
              InputSpec("affine", 0, 0.0, 1 / 1000, -2000.0, 2000.0, "counts")]
    layers = _layers(rng, [7, 24, 16, 4], ["relu", "tanh", "identity"], 1.0)
    outputs = [OutputSpec(12, 1.0, 0.0, -3.0, 3.0, "u0"), OutputSpec(16, -0.25, 0.1, -1.0, 1.0, "u1"),
               OutputSpec(8, 20.0, 50.0, 0.0, 100.0, "u2"), OutputSpec(10, 0.5, -1.0, -4.0, 2.0, "u3")]
    return MLPSpec(inputs, layers, outputs)


def argmax_spec() -> MLPSpec:
    """4 affine inputs → 32 relu → 5 classes, argmax head."""
    rng = np.random.default_rng(SEED + 5)
    inputs = [InputSpec("affine", 12, 0.0, 1.0, -3.0, 3.0, f"s{i}") for i in range(4)]
    return MLPSpec(inputs, _layers(rng, [4, 32, 5], ["relu", "identity"], 1.0),
                   [OutputSpec(0, 1.0, 0.0, 0.0, 4.0, "class")], argmax=True)


def tanh_out_spec() -> MLPSpec:
    """3 affine inputs → 16 relu → 2 tanh outputs rescaled to an action space [−2, 2] × [0, 10] (SAC-style):
    the output stage's omult / oshift path."""
    rng = np.random.default_rng(SEED + 6)
    inputs = [InputSpec("affine", 12, 0.0, 1.0, -4.0, 4.0, f"o{i}") for i in range(3)]
    return MLPSpec(inputs, _layers(rng, [3, 16, 2], ["relu", "tanh"], 1.5),
                   [OutputSpec(12, 2.0, 0.0, -2.0, 2.0, "a0"), OutputSpec(12, 5.0, 5.0, 0.0, 10.0, "a1")])


def clip_spec() -> MLPSpec:
    """4 affine inputs → 16 relu6 (clip 0..6) → 12 clip(−0.5, 2) → 2 clip(−1, 1.5) outputs rescaled (×2, +0.5):
    every clip layer reaches both bounds; the last one hands on its step to the output stage (omult / oshift)."""
    rng = np.random.default_rng(SEED + 8)
    inputs = [InputSpec("affine", 12, 0.0, 1.0, -3.0, 3.0, f"c{i}") for i in range(4)]
    acts = [("clip", 0.0, 6.0), ("clip", -0.5, 2.0), ("clip", -1.0, 1.5)]
    return MLPSpec(inputs, _layers(rng, [4, 16, 12, 2], acts, 0.5),
                   [OutputSpec(12, 2.0, 0.5, -1.5, 3.5, "k0"), OutputSpec(12, -1.0, 0.0, -1.5, 1.0, "k1")])


def affine_relu_spec(dims: list[int], seed: int, prefix: str = "w") -> MLPSpec:
    """dims[0] affine inputs (Q12, clip ±5) → relu hidden layers dims[1:-1] → dims[-1] identity outputs (clip ±8);
    weights N(0, 1/n_in), biases N(0, 0.01), from default_rng(seed)."""
    rng = np.random.default_rng(seed)
    inputs = [InputSpec("affine", 12, 0.0, 1.0, -5.0, 5.0, f"{prefix}{i}") for i in range(dims[0])]
    acts = ["relu"] * (len(dims) - 2) + ["identity"]
    layers = [DenseSpec((rng.normal(size=(dims[k + 1], dims[k])) / np.sqrt(dims[k])).astype(np.float32),
                        (0.1 * rng.normal(size=dims[k + 1])).astype(np.float32), a)
              for k, a in enumerate(acts)]
    return MLPSpec(inputs, layers, [OutputSpec(12, 1.0, 0.0, -8.0, 8.0, f"y{j}") for j in range(dims[-1])])


def wide_spec() -> MLPSpec:
    """17 affine inputs → 256 relu → 256 relu → 6 outputs (the size of a Stable-Baselines3 SAC actor)."""
    return affine_relu_spec([17, 256, 256, 6], SEED + 7)


def rows_for(spec: MLPSpec, n: int, seed: int) -> np.ndarray:
    """n float rows: half inside every input's range (angles ±π), half 25 % beyond it (angles ±8π)."""
    rng = np.random.default_rng(seed)
    cols = []
    for inp in spec.inputs:
        if inp.kind == "angle":
            cols.append(np.concatenate([rng.uniform(-np.pi, np.pi, n - n // 2), rng.uniform(-8 * np.pi, 8 * np.pi,
                                                                                            n // 2)]))
        else:
            c, h = (inp.lo + inp.hi) / 2, (inp.hi - inp.lo) / 2
            cols.append(np.concatenate([rng.uniform(inp.lo, inp.hi, n - n // 2),
                                        rng.uniform(c - 1.25 * h, c + 1.25 * h, n // 2)]))
    return np.stack(cols, axis=1)


def pendulum_rows(n: int, seed: int) -> np.ndarray:
    """Pendulum-style rows: thirds wide (θ ∈ ±8π, θ̇ ∈ ±40), operating box (±π, ±8), near upright (±0.15, ±0.8)."""
    rng = np.random.default_rng(seed)
    k = n // 3
    th = np.concatenate([rng.uniform(-8 * np.pi, 8 * np.pi, k), rng.uniform(-np.pi, np.pi, k),
                         rng.uniform(-0.15, 0.15, n - 2 * k)])
    thd = np.concatenate([rng.uniform(-40, 40, k), rng.uniform(-8, 8, k), rng.uniform(-0.8, 0.8, n - 2 * k)])
    return np.stack([th, thd], axis=1)


def pendulum_calib(n: int = 4096, seed: int = SEED) -> np.ndarray:
    """Synthetic pendulum-style nets' calibration rows: uniform in the operating box."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(-np.pi, np.pi, n), rng.uniform(-8, 8, n)], axis=1)


INT8 = ("w8a8", "w8a16")
ALL = ("f32", "w8a8", "w8a16", "q15")
#: name → (spec builder, schemes, pendulum-style inputs?, golden random rows)
TEST_NETS = {
    "tanh": (tanh_spec, ALL, True, 1200),
    "hardtanh_sigmoid": (hardtanh_sigmoid_spec, ALL, True, 1200),
    "multi": (multi_spec, ALL, False, 600),
    "argmax": (argmax_spec, ALL, False, 600),
    "tanh_out": (tanh_out_spec, ALL, False, 400),
    "wide": (wide_spec, INT8, False, 240),
    "clip": (clip_spec, ALL, False, 600),
}
