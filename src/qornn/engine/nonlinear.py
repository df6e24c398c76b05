"""All states of a non-linear recurrence h_t = σ(h_{t-1}·Wᵀ + z_t) in one autograd node.

W is computed once per forward (by the caller), each step is one fused ``addmm``
followed by σ in place, and the backward pass is a hand-written loop,

    δ_t = (∂L/∂h_t + δ_{t+1}·W) ⊙ σ'(p_t),     p_t = h_{t-1}·Wᵀ + z_t,

with ∂L/∂z_t = δ_t, ∂L/∂h_0 = δ_1·W and ∂L/∂W = Σ_t δ_tᵀ h_{t-1} (B large GEMMs).  σ is
one of relu, tanh, identity or modReLU (σ(p) = sign(p)·ReLU(|p| + b), Arjovsky et
al. 2016, with ∂σ/∂p = sign(p)²·1{|p| + b > 0} and ∂σ/∂b = sign(p)·1{|p| + b > 0});
other modules fall back to :func:`fused_loop` (per-step autograd, W still computed once).
"""
from __future__ import annotations

import torch
from torch import nn

from ..activations import ModReLU
from .linear import outer_sum

KINDS = ("relu", "tanh", "identity", "modrelu")


def kind_of(activation: nn.Module) -> str | None:
    if type(activation) is nn.ReLU:
        return "relu"
    if type(activation) is nn.Tanh:
        return "tanh"
    if type(activation) is nn.Identity:
        return "identity"
    if type(activation) is ModReLU:
        return "modrelu"
    return None


def _modrelu_(p: torch.Tensor, bias: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    torch.abs(p, out=out)
    return out.add_(bias).relu_().mul_(torch.sign(p))


def nonlinear_forward(z, h0, w, kind, bias=None, store_pre=False):
    states = torch.empty_like(z, memory_format=torch.contiguous_format)
    pre = torch.empty_like(states) if store_pre else None
    wt = w.t()
    h = h0
    for t in range(z.shape[1]):
        out = states[:, t]
        if kind == "modrelu":
            p = torch.addmm(z[:, t], h, wt, out=pre[:, t]) if pre is not None else torch.addmm(z[:, t], h, wt)
            _modrelu_(p, bias, out)
        else:
            torch.addmm(z[:, t], h, wt, out=out)
            if kind == "relu":
                out.relu_()
            elif kind == "tanh":
                out.tanh_()
        h = out
    return states, pre


class NonlinearScan(torch.autograd.Function):
    """states = NonlinearScan.apply(z (T,B,n), h0, w, bias or None, kind)."""

    @staticmethod
    def forward(ctx, z, h0, w, bias, kind):
        states, pre = nonlinear_forward(z, h0, w, kind, bias, store_pre=kind == "modrelu")
        ctx.kind = kind
        ctx.save_for_backward(states, pre, h0, w, bias)
        return states

    @staticmethod
    def backward(ctx, grad_states):
        states, pre, h0, w, bias = ctx.saved_tensors
        kind = ctx.kind
        steps = grad_states.shape[1]
        delta = torch.empty_like(grad_states, memory_format=torch.contiguous_format)
        carry = None
        for t in range(steps - 1, -1, -1):
            d = delta[:, t]
            if carry is None:
                d.copy_(grad_states[:, t])
            else:
                torch.add(grad_states[:, t], carry, out=d)
            if kind == "relu":
                d.masked_fill_(states[:, t] <= 0, 0.0)
            elif kind == "tanh":
                h = states[:, t]
                d.mul_(1.0 - h * h)
            elif kind == "modrelu":
                p = pre[:, t]
                d.mul_(((p.abs() + bias) > 0) & (p != 0))
            if t > 0 or ctx.needs_input_grad[1]:
                carry = d @ w
        grad_z = delta if ctx.needs_input_grad[0] else None
        grad_h0 = carry if ctx.needs_input_grad[1] else None
        grad_w = outer_sum(delta, states, h0) if ctx.needs_input_grad[2] else None
        grad_bias = None
        if kind == "modrelu" and ctx.needs_input_grad[3]:
            grad_bias = (delta * torch.sign(pre)).sum((0, 1))
        return grad_z, grad_h0, grad_w, grad_bias, None


def fused_loop(z, h0, w, activation) -> torch.Tensor:
    """Per-step autograd with W computed once and one ``addmm`` per step (any σ module)."""
    wt = w.t()
    h, out = h0, []
    for z_t in z.unbind(1):
        h = activation(torch.addmm(z_t, h, wt))
        out.append(h)
    return torch.stack(out, 1)


def nonlinear_states(z, h0, w, activation) -> torch.Tensor:
    """All states (B, T, n) of h_t = σ(h_{t-1}·Wᵀ + z_t)."""
    kind = kind_of(activation)
    if kind is None:
        return fused_loop(z, h0, w, activation)
    bias = activation.bias if kind == "modrelu" else None
    needs = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (z, h0, w, bias))
    if needs:
        return NonlinearScan.apply(z, h0, w, bias, kind)
    with torch.no_grad():
        return nonlinear_forward(z, h0, w, kind, None if bias is None else bias.detach())[0]
