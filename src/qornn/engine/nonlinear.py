"""All states of a non-linear recurrence h_t = σ(h_{t-1}·Wᵀ + z_t) in one autograd node.

W is computed once per forward (by the caller), each step is one fused ``addmm``
followed by σ in place, and the backward pass is a hand-written loop,

    δ_t = (∂L/∂h_t + δ_{t+1}·W) ⊙ σ'(p_t),     p_t = h_{t-1}·Wᵀ + z_t,

with ∂L/∂z_t = δ_t, ∂L/∂h_0 = δ_1·W and ∂L/∂W = Σ_t δ_tᵀ h_{t-1} (B large GEMMs).  σ is
one of relu, tanh, identity or modReLU (σ(p) = sign(p)·ReLU(|p| + b), Arjovsky et
al. 2016, with ∂σ/∂p = sign(p)²·1{|p| + b > 0} and ∂σ/∂b = sign(p)·1{|p| + b > 0});
other modules fall back to the reference loop (per-step autograd, W still computed once).
"""
from __future__ import annotations

import torch
from torch import nn

from ..activations import ModReLU
from .loop import step_loop

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


def outer_sum(g: torch.Tensor, states: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """Σ_t g_tᵀ h_{t-1} (n × n) with h_{-1} = h0, as B GEMMs over contiguous (T, n) slices."""
    out = g[:, 0].t() @ h0
    if g.shape[1] > 1:
        for b in range(g.shape[0]):
            out.addmm_(g[b, 1:].t(), states[b, :-1])
    return out


def nonlinear_forward(z, h0, w, kind, bias=None):
    """All states (B, T, n); modReLU as σ(p) = sign(p)·ReLU(|p| + b) = s·ReLU(p·s + b), s = sign(p)."""
    states = torch.empty_like(z, memory_format=torch.contiguous_format)
    wt = w.t()
    h = h0
    if kind == "modrelu":
        p, s = torch.empty_like(h0), torch.empty_like(h0)
    for t in range(z.shape[1]):
        out = states[:, t]
        if kind == "modrelu":
            torch.addmm(z[:, t], h, wt, out=p)
            torch.sign(p, out=s)
            torch.addcmul(bias, p, s, out=out).relu_().mul_(s)
        else:
            torch.addmm(z[:, t], h, wt, out=out)
            if kind == "relu":
                out.relu_()
            elif kind == "tanh":
                out.tanh_()
        h = out
    return states


class NonlinearScan(torch.autograd.Function):
    """states = NonlinearScan.apply(z (B,T,n), h0, w, bias or None, kind).

    Only the states are saved: σ'(p) is read off h = σ(p) (relu: h > 0; tanh: 1 − h²;
    modReLU: ∂σ/∂p = 1{h ≠ 0} and ∂σ/∂b = sign(h), since h = 0 exactly where p = 0 or |p| + b ≤ 0).
    """

    @staticmethod
    def forward(ctx, z, h0, w, bias, kind):
        states = nonlinear_forward(z, h0, w, kind, bias)
        ctx.kind = kind
        ctx.save_for_backward(states, h0, w)
        return states

    @staticmethod
    def backward(ctx, grad_states):
        states, h0, w = ctx.saved_tensors
        kind = ctx.kind
        steps = grad_states.shape[1]
        delta = torch.empty_like(grad_states, memory_format=torch.contiguous_format)
        carry = torch.zeros_like(h0)
        need_bias = kind == "modrelu" and ctx.needs_input_grad[3]
        if kind == "modrelu":
            s = torch.empty_like(h0)
            bias_acc = torch.zeros_like(h0) if need_bias else None
        for t in range(steps - 1, -1, -1):
            d = delta[:, t]
            torch.add(grad_states[:, t], carry, out=d)
            h = states[:, t]
            if kind == "relu":  # one fused pass (masked_fill_ with h <= 0 is several times slower)
                torch.ops.aten.threshold_backward.grad_input(d, h, 0.0, grad_input=d)
            elif kind == "tanh":
                d.mul_(1.0 - h * h)
            elif kind == "modrelu":
                torch.sign(h, out=s)
                if need_bias:
                    bias_acc.addcmul_(d, s)
                d.mul_(s.abs_())
            if t > 0 or ctx.needs_input_grad[1]:
                torch.mm(d, w, out=carry)
        grad_z = delta if ctx.needs_input_grad[0] else None
        grad_h0 = carry if ctx.needs_input_grad[1] else None
        grad_w = outer_sum(delta, states, h0) if ctx.needs_input_grad[2] else None
        grad_bias = bias_acc.sum(0) if need_bias else None
        return grad_z, grad_h0, grad_w, grad_bias, None


def nonlinear_states(z, h0, w, activation) -> torch.Tensor:
    """All states (B, T, n) of h_t = σ(h_{t-1}·Wᵀ + z_t)."""
    kind = kind_of(activation)
    if kind is None:  # a σ module of the user's: the reference loop, with W computed once
        wt = w.t()
        return step_loop(z, lambda h: h @ wt, h0, activation)
    bias = activation.bias if kind == "modrelu" else None
    needs = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (z, h0, w, bias))
    if needs:
        return NonlinearScan.apply(z, h0, w, bias, kind)
    with torch.no_grad():
        return nonlinear_forward(z, h0, w, kind, None if bias is None else bias.detach())
