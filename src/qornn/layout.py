"""Input and state layouts shared by the RNN modules (``OrthoRNN``, ``GatedRNN``).

They follow ``torch.nn.RNN``: (batch, time, features) with ``batch_first=True``,
(time, batch, features) otherwise, or an unbatched (time, features) sequence;
integer inputs are token ids, read as one-hot vectors (U x_t is then column x_t of U).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .errors import ShapeError


def to_batch_first(x: torch.Tensor, batch_first: bool) -> tuple[torch.Tensor, bool]:
    """(x as (B, T, ...), whether the input was batched)."""
    floating = torch.is_floating_point(x)
    if x.dim() == (3 if floating else 2):
        batched = True
    elif x.dim() == (2 if floating else 1):
        batched = False
        x = x.unsqueeze(0 if batch_first else 1)
    else:
        raise ShapeError(f"input of shape {tuple(x.shape)} is not allowed; expected (batch, time, features) "
                         f"or (batch, time) token ids")
    return (x if batch_first else x.transpose(0, 1)), batched


def from_batch_first(states: torch.Tensor, h_n: torch.Tensor, batched: bool, batch_first: bool):
    """Undo :func:`to_batch_first` on the outputs (B, T, n) and h_n (1, B, n)."""
    if not batch_first:
        states = states.transpose(0, 1)
    if not batched:
        states = states.squeeze(0 if batch_first else 1)
        h_n = h_n.squeeze(1)
    return states, h_n


def check_inputs(x: torch.Tensor, input_size: int) -> None:
    """A ShapeError unless x (batch-first) holds token ids in [0, input_size) or input_size features per step."""
    if not torch.is_floating_point(x):
        if x.numel() and (int(x.min()) < 0 or int(x.max()) >= input_size):
            raise ShapeError(f"token ids must lie in [0, {input_size - 1}], got [{int(x.min())}, {int(x.max())}]")
    elif x.shape[-1] != input_size:
        raise ShapeError(f"input has {x.shape[-1]} features per step; this RNN expects {input_size}")


def project_inputs(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, input_size: int) -> torch.Tensor:
    """z_t = U x_t (+ bias) for all steps of a batch-first x; integer x holds token ids."""
    check_inputs(x, input_size)
    z = F.embedding(x, weight.t()) if not torch.is_floating_point(x) else x @ weight.t()
    return z if bias is None else z + bias


def initial_state(h0: torch.Tensor | None, batch: int, hidden_size: int, like: torch.Tensor,
                  name: str = "h0") -> torch.Tensor:
    """h0 as (B, n): zeros when None; accepts (1, B, n) or (B, n)."""
    if h0 is None:
        return like.new_zeros(batch, hidden_size)
    h = h0.reshape(-1, hidden_size) if h0.dim() == 3 else h0
    if h.shape != (batch, hidden_size):
        raise ShapeError(f"{name} has shape {tuple(h0.shape)}; expected (1, {batch}, {hidden_size})")
    return h
