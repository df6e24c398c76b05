"""All states of a linear recurrence h_t = h_{t-1}·Wᵀ + z_t in one autograd node.

The forward pass runs the recurrence in a tight loop writing each state into its
slice of one (B, T, n) buffer (one fused ``addmm``, or one fast transform, per
step; no autograd graph); the backward pass runs the adjoint recurrence of the
linear map,

    g_T = ∂L/∂h_T,   g_t = ∂L/∂h_t + g_{t+1}·W,

then ∂L/∂z_t = g_t, ∂L/∂h_0 = g_1·W and ∂L/∂W = Σ_t g_tᵀ h_{t-1} (B large GEMMs).
For the sign schemes (HadamRNN, Block-HadamRNN: W = diag(s)·M with M fixed and
rows of unit norm) the backward returns instead the projected gradient diag(r)·W
with r = Σ_{t,b} g_t ⊙ (h_{t-1}·Wᵀ): O(BTn) instead of O(BTn²), and the same
gradient for the signs (∂L/∂s_i = s_i·r_i).  Either way one (B, T, n) buffer is
saved (the states, or the products h_{t-1}·Wᵀ), as many values as the reference
loop's per-step autograd saves.
"""
from __future__ import annotations

import torch

#: Elements per chunk when reducing over (batch, time) (keeps temporaries small).
_REDUCE_CHUNK = 1 << 20


def batch_chunks(batch: int, per_row: int):
    size = max(1, _REDUCE_CHUNK // max(per_row, 1))
    return [slice(s, s + size) for s in range(0, batch, size)]


def linear_forward(z: torch.Tensor, h0: torch.Tensor, op, store_pre: bool = False):
    """(states, pre): states[:, t] = pre[:, t] + z[:, t], pre[:, t] = states[:, t-1]·Wᵀ (None unless asked)."""
    states = torch.empty_like(z, memory_format=torch.contiguous_format)
    pre = torch.empty_like(states) if store_pre else None
    h = h0
    for t in range(z.shape[1]):
        h = op.step(h, z[:, t], states[:, t], None if pre is None else pre[:, t])
    return states, pre


def adjoint(grad_states: torch.Tensor, op) -> torch.Tensor:
    """g (B, T, n) with g_T = ∂L/∂h_T, g_t = ∂L/∂h_t + g_{t+1}·W."""
    steps = grad_states.shape[1]
    g = torch.empty_like(grad_states, memory_format=torch.contiguous_format)
    g[:, steps - 1] = grad_states[:, steps - 1]
    for t in range(steps - 2, -1, -1):
        op.step_t(g[:, t + 1], grad_states[:, t], g[:, t])
    return g


def outer_sum(g: torch.Tensor, states: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """Σ_t g_tᵀ h_{t-1} (n × n) with h_{-1} = h0, as B GEMMs over contiguous (T, n) slices."""
    out = g[:, 0].t() @ h0
    if g.shape[1] > 1:
        for b in range(g.shape[0]):
            out.addmm_(g[b, 1:].t(), states[b, :-1])
    return out


class LinearScan(torch.autograd.Function):
    """states = LinearScan.apply(z (B,T,n), h0 (B,n), w (n,n), op): see module docstring."""

    @staticmethod
    def forward(ctx, z, h0, w, op):
        row_scaling = op.row_scaling and ctx.needs_input_grad[2]
        states, pre = linear_forward(z, h0, op, store_pre=row_scaling)
        ctx.op, ctx.row_scaling = op, row_scaling
        if row_scaling:
            ctx.save_for_backward(pre, None, None, w)
        else:
            ctx.save_for_backward(None, states, h0, w)
        return states

    @staticmethod
    def backward(ctx, grad_states):
        op = ctx.op
        pre, states, h0, w = ctx.saved_tensors
        g = adjoint(grad_states, op)
        grad_h0 = grad_w = None
        if ctx.needs_input_grad[1]:
            first = g[:, 0]
            grad_h0 = op.step_t(first, torch.zeros_like(first), torch.empty_like(first))
        if ctx.needs_input_grad[2]:
            if ctx.row_scaling:
                r = g.new_zeros(g.shape[-1])
                for c in batch_chunks(g.shape[0], g.shape[1] * g.shape[2]):
                    r += (g[c] * pre[c]).sum((0, 1))
                grad_w = r.unsqueeze(1) * w
            else:
                grad_w = outer_sum(g, states, h0)
        return g if ctx.needs_input_grad[0] else None, grad_h0, grad_w, None


def linear_states(z: torch.Tensor, h0: torch.Tensor, w: torch.Tensor, op) -> torch.Tensor:
    """All states (B, T, n) of h_t = h_{t-1}·Wᵀ + z_t."""
    if torch.is_grad_enabled() and (z.requires_grad or h0.requires_grad or w.requires_grad):
        return LinearScan.apply(z, h0, w, op)
    with torch.no_grad():
        return linear_forward(z, h0, op)[0]
