"""How the states of a recurrence are computed (an implementation choice behind the modules).

Given the pre-computed inputs z_t = U x_t + b (shape (B, T, n)), the operator
``step(h) = h·Wᵀ`` and an initial state h_0:

    linear:      h_t = W h_{t-1} + z_t
    non-linear:  h_t = σ(W h_{t-1} + z_t)

``reference`` is the plain per-step loop with the dense matrix (W computed once per
forward); ``auto`` uses the scheme's structured operator (fast transform).
"""
from __future__ import annotations

from typing import Callable

import torch

ENGINES = ("auto", "reference")


def step_loop(z: torch.Tensor, step: Callable[[torch.Tensor], torch.Tensor], h0: torch.Tensor,
              activation: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """All states (B, T, n) by a per-time-step loop."""
    h = h0
    states = []
    for z_t in z.unbind(1):
        h = step(h) + z_t
        if activation is not None:
            h = activation(h)
        states.append(h)
    return torch.stack(states, 1)
