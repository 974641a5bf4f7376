"""The trained float policy as plain arrays: the hand-off between training (torch) and export/quantization.

Sensor inputs: θ (rad, any wrap) and θ̇ (rad/s). Features: [cos θ, sin θ, θ̇·vel_scale]. Then dense layers
(weight shape (out, in)), each followed by its activation; the output is torque in N·m clipped to ±max_torque.
"""
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: Hidden-layer activations: hardtanh is clip(x, −1, 1) (torch nn.Hardtanh(), ONNX Clip(−1, 1)); sigmoid is
#: 1 / (1 + e^−x) (computed by the integer path as (1 + tanh(x/2)) / 2 from the tanh table).
ACTIVATIONS = ("identity", "relu", "tanh", "hardtanh", "sigmoid")


@dataclass
class DenseSpec:
    weight: np.ndarray  # (n_out, n_in) float32
    bias: np.ndarray  # (n_out,) float32
    activation: str  # one of ACTIVATIONS


@dataclass
class FloatPolicySpec:
    vel_scale: float  # θ̇ multiplier in the feature stage (1/max_speed by default)
    max_torque: float  # N·m, output clip
    layers: list[DenseSpec] = field(default_factory=list)

    @property
    def dims(self) -> list[int]:
        return [self.layers[0].weight.shape[1]] + [layer.weight.shape[0] for layer in self.layers]

    def features(self, theta, theta_dot) -> np.ndarray:
        """(N, 3) float64 features from sensor arrays θ, θ̇."""
        theta, theta_dot = np.asarray(theta, np.float64), np.asarray(theta_dot, np.float64)
        return np.stack([np.cos(theta), np.sin(theta), theta_dot * self.vel_scale], axis=-1)

    def forward(self, theta, theta_dot) -> np.ndarray:
        """Float64 reference: torque (N·m) for arrays of θ (rad) and θ̇ (rad/s)."""
        x = self.features(theta, theta_dot)
        for layer in self.layers:
            x = x @ layer.weight.astype(np.float64).T + layer.bias.astype(np.float64)
            x = apply_activation(x, layer.activation)
        return np.clip(x[..., 0], -self.max_torque, self.max_torque)

    def save(self, path: Path) -> None:
        arrays = {"vel_scale": np.float64(self.vel_scale), "max_torque": np.float64(self.max_torque),
                  "activations": np.array([layer.activation for layer in self.layers])}
        for i, layer in enumerate(self.layers):
            arrays[f"w{i}"], arrays[f"b{i}"] = layer.weight, layer.bias
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path: Path) -> "FloatPolicySpec":
        with np.load(path) as data:
            acts = [str(a) for a in data["activations"]]
            layers = [DenseSpec(data[f"w{i}"].astype(np.float32), data[f"b{i}"].astype(np.float32), a)
                      for i, a in enumerate(acts)]
            return cls(float(data["vel_scale"]), float(data["max_torque"]), layers)


def load_spec_file(path: Path) -> FloatPolicySpec:
    """FloatPolicySpec.load for a path the user gave: a UserError naming the file instead of numpy's exceptions."""
    from ..errors import UserError

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such spec file (train first: `tinypolicy train`)")
    try:
        return FloatPolicySpec.load(path)
    except Exception as exc:  # np.load raises many types (BadZipFile, UnpicklingError, KeyError, ValueError…)
        raise UserError(f"{path}: not a policy spec: {exc}") from None


def apply_activation(x: np.ndarray, name: str) -> np.ndarray:
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "tanh":
        return np.tanh(x)
    if name == "identity":
        return x
    if name == "hardtanh":
        return np.clip(x, -1.0, 1.0)
    if name == "sigmoid":
        return 0.5 + 0.5 * np.tanh(0.5 * x)  # = 1 / (1 + e^-x), without overflow warnings for large |x|
    raise ValueError(f"unknown activation {name!r} (known: {', '.join(ACTIVATIONS)})")
