"""Torch policy network: fixed feature stage [cos θ, sin θ, θ̇·vel_scale] → MLP → torque clipped to ±max_torque.

The hidden layers use one activation (ReLU default; tanh, hardtanh = clip to [−1, 1], sigmoid selectable:
`HIDDEN_ACTIVATIONS`, torch modules in `activation_module`); the output layer is linear and the final
clip (hardtanh) to ±max_torque is the spec's output stage. Optional fake quantization (int8 weights,
symmetric per output channel, straight-through estimator) for quantization-aware fine-tuning.
"""
import numpy as np
import torch
from torch import nn

from ..contract.spec import PENDULUM_THETA_DOT_LIMIT, DenseSpec, MLPSpec, pendulum_params, pendulum_spec
from .plant import MAX_SPEED, MAX_TORQUE

VEL_SCALE = 1.0 / MAX_SPEED
HIDDEN_ACTIVATIONS = ("relu", "tanh", "hardtanh", "sigmoid")


def activation_module(name: str) -> nn.Module:
    """The torch module of a hidden activation (spec.apply_activation is its float64 twin)."""
    if name not in HIDDEN_ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(HIDDEN_ACTIVATIONS)}, not {name!r}")
    return {"relu": nn.ReLU, "tanh": nn.Tanh, "hardtanh": nn.Hardtanh, "sigmoid": nn.Sigmoid}[name]()


def fake_quant_per_channel(w: torch.Tensor, bits: int = 8) -> torch.Tensor:
    """Symmetric per-output-channel fake quantization with a straight-through gradient: w (..., n_out, n_in), one
    scale per row (last axis), so a population of weight matrices (P, n_out, n_in) works too. The one
    fake-quantizer of the project (QAT gradients in PolicyNet.mlp, QAT evolution strategies in train.py)."""
    qmax = 2 ** (bits - 1) - 1
    scale = w.detach().abs().amax(dim=-1, keepdim=True).clamp_min(1e-12) / qmax
    wq = torch.round(w / scale).clamp(-qmax, qmax) * scale
    return w + (wq - w).detach()


class PolicyNet(nn.Module):
    def __init__(self, width: int = 16, depth: int = 2, activation: str = "relu", vel_scale: float = VEL_SCALE,
                 max_torque: float = MAX_TORQUE):
        super().__init__()
        self.act = activation_module(activation)  # nn.Hardtanh() clips to [-1, 1]; no parameters
        self.width, self.depth, self.activation = width, depth, activation
        self.vel_scale, self.max_torque = float(vel_scale), float(max_torque)
        dims = [3] + [width] * depth + [1]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.fake_quant_bits = 0  # 0: off; 8: int8 weight fake-quant (QAT)

    def features(self, theta: torch.Tensor, theta_dot: torch.Tensor) -> torch.Tensor:
        w = theta_dot.clamp(-PENDULUM_THETA_DOT_LIMIT, PENDULUM_THETA_DOT_LIMIT)  # the blob's input clip
        return torch.stack([torch.cos(theta), torch.sin(theta), w * self.vel_scale], dim=-1)

    def mlp(self, x: torch.Tensor) -> torch.Tensor:
        """Unclipped output (N·m) from features (..., 3)."""
        act = self.act
        for i, layer in enumerate(self.layers):
            w = layer.weight
            if self.fake_quant_bits:
                w = fake_quant_per_channel(w, self.fake_quant_bits)
            x = nn.functional.linear(x, w, layer.bias)
            if i < len(self.layers) - 1:
                x = act(x)
        return x[..., 0]

    def forward(self, theta: torch.Tensor, theta_dot: torch.Tensor) -> torch.Tensor:
        """Torque (N·m) in ±max_torque for sensor tensors θ (rad), θ̇ (rad/s) of any (equal) shape."""
        u = self.mlp(self.features(theta, theta_dot))
        return nn.functional.hardtanh(u, -self.max_torque, self.max_torque)

    def to_spec(self) -> MLPSpec:
        n = len(self.layers)
        layers = [DenseSpec(layer.weight.detach().cpu().numpy().astype(np.float32).copy(),
                            layer.bias.detach().cpu().numpy().astype(np.float32).copy(),
                            "identity" if i == n - 1 else self.activation)
                  for i, layer in enumerate(self.layers)]
        return pendulum_spec(self.vel_scale, self.max_torque, layers)

    @classmethod
    def from_spec(cls, spec: MLPSpec) -> "PolicyNet":
        vel_scale, max_torque = pendulum_params(spec)
        acts = [layer.activation for layer in spec.layers]
        dims = spec.dims
        if dims[0] != 3 or dims[-1] != 1 or acts[-1] != "identity" or len(set(acts[:-1])) > 1:
            raise ValueError(f"spec is not a PolicyNet: dims {dims}, activations {acts}")
        if len(set(dims[1:-1])) > 1:
            raise ValueError(f"PolicyNet needs equal hidden widths, spec has {dims[1:-1]}")
        net = cls(width=dims[1] if len(dims) > 2 else 1, depth=len(dims) - 2,
                  activation=acts[0] if len(acts) > 1 else "relu", vel_scale=vel_scale, max_torque=max_torque)
        with torch.no_grad():
            for layer, ls in zip(net.layers, spec.layers, strict=True):
                layer.weight.copy_(torch.from_numpy(np.asarray(ls.weight, np.float32)))
                layer.bias.copy_(torch.from_numpy(np.asarray(ls.bias, np.float32)))
        return net
