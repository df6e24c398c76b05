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
#: The σ that the fast engines apply to whole chunks of states (:func:`apply_sigma`, :func:`sigma_backward_`).
SIGMAS = ("relu", "tanh", "identity")


def apply_sigma(kind: str, h: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """σ(h) into ``out`` (which may be h itself); identity returns h."""
    if kind == "relu":
        return torch.clamp_min(h, 0.0, out=out)
    if kind == "tanh":
        return torch.tanh(h, out=out)
    return h


def sigma_backward_(kind: str, grad: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
    """grad ← grad ⊙ σ'(h), in place, from feats = σ(h)."""
    if kind == "relu":  # one fused pass (σ(h) > 0 exactly where h > 0)
        torch.ops.aten.threshold_backward.grad_input(grad, feats, 0.0, grad_input=grad)
    elif kind == "tanh":
        grad.mul_(1.0 - feats * feats)
    return grad


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
