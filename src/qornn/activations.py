"""Non-linearities σ used inside the recurrence or at the readout.

``modrelu`` is the modReLU of Arjovsky et al. (2016) used by orthogonal RNNs
(expRNN, QORNN): σ(z) = sign(z)·ReLU(|z| + b) with a learned bias b per unit,
initialised U(−0.01, 0.01).
"""
from __future__ import annotations

import torch
from torch import nn

from .errors import ConfigError

ACTIVATIONS = ("relu", "tanh", "identity", "modrelu")


class ModReLU(nn.Module):
    """σ(z) = sign(z)·ReLU(|z| + b), b ∈ ℝⁿ learned."""

    def __init__(self, n: int):
        super().__init__()
        self.bias = nn.Parameter(torch.empty(n).uniform_(-0.01, 0.01))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sign(z) * torch.relu(z.abs() + self.bias)


def make_activation(name: str, n: int) -> nn.Module:
    if name == "relu":
        return nn.ReLU()
    if name == "tanh":
        return nn.Tanh()
    if name == "identity":
        return nn.Identity()
    if name == "modrelu":
        return ModReLU(n)
    raise ConfigError(f"model.nonlinearity={name!r} is unknown; allowed: {', '.join(ACTIVATIONS)}")
