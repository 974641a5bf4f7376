"""Random float policy specs for host tests (weights scaled by 1/sqrt(fan-in), small biases, identity output)."""

import numpy as np

from tinypolicy_host.contract.spec import DenseSpec, MLPSpec, pendulum_spec


def random_spec(dims=(3, 16, 16, 1), act="relu", seed=0) -> MLPSpec:
    """A pendulum-shaped MLPSpec (θ angle, θ̇ affine → 3 features → … → torque ±2 N·m)."""
    rng = np.random.default_rng(seed)
    layers = []
    for k in range(len(dims) - 1):
        w = (rng.normal(size=(dims[k + 1], dims[k])) / np.sqrt(dims[k])).astype(np.float32)
        b = (0.1 * rng.normal(size=dims[k + 1])).astype(np.float32)
        layers.append(DenseSpec(w, b, act if k < len(dims) - 2 else "identity"))
    return pendulum_spec(0.125, 2.0, layers)
