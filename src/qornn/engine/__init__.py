"""How the states of a recurrence are computed (an implementation choice behind the modules).

Given the pre-computed inputs z_t = U x_t + b, the recurrent matrix W (computed once
per forward) and an initial state h_0:

    linear:      h_t = W h_{t-1} + z_t
    non-linear:  h_t = σ(W h_{t-1} + z_t)

``reference`` (:func:`step_loop`) is the plain per-step loop with the dense matrix
and per-step autograd.  ``auto`` gives the same outputs and gradients (to float
rounding) faster:

* :class:`~qornn.SequenceModel` with a linear recurrence and readout ``all`` or
  ``last``: inputs → recurrence → readout in one chunked autograd node that never
  builds a (B, T, n) tensor (:mod:`.fused`, :func:`sequence_forward`);
* otherwise (``OrthoRNN`` on its own, non-linear recurrences) :func:`fast_states`:
  states written in place into one (B, T, n) buffer, one autograd node for the whole
  sequence and a hand-written backward loop (:mod:`.linear`, :mod:`.nonlinear`);
* either way, for HadamRNN / Block-HadamRNN (linear recurrence), W·h as a fast (block)
  Walsh–Hadamard transform times the signs, and a gradient for the signs in
  O(BTn) instead of O(BTn²) (:mod:`.operators`, :mod:`.fused`).
"""
from __future__ import annotations

import torch

from ..recurrent import BlockHadamardSign, HadamardSign
from .linear import LinearScan, linear_states
from .loop import step_loop
from .nonlinear import NonlinearScan, fused_loop, nonlinear_states
from .fused import FusedLinear, plan_sequence, sequence_forward
from .operators import DENSE_BLOCK_MAX, KRON_MIN_SIZE, DenseOp, SignTransformOp, choose_method

ENGINES = ("auto", "reference")

__all__ = ["ENGINES", "step_loop", "fast_states", "plan", "LinearScan", "NonlinearScan", "linear_states",
           "nonlinear_states", "fused_loop", "DenseOp", "SignTransformOp", "FusedLinear", "sequence_forward",
           "plan_sequence"]


def _sign_structure(rnn):
    """(signs, block size, permutation or None) when W = P·diag(s)·(I_q⊗S_m/√m)·Pᵀ exactly, else None."""
    scheme = rnn.scheme
    if scheme is None or len(rnn.parametrizations.weight_hh_l0) != 1:
        return None  # extra parametrizations (e.g. k-bit quantization of W) change the structure
    if type(scheme) is HadamardSign:
        return scheme, scheme.n, None
    if type(scheme) is BlockHadamardSign:
        return scheme, scheme.block_size, (scheme.perm if scheme.permute else None)
    return None


def plan(rnn) -> str:
    """Which fast path ``fast_states`` takes for this RNN (for reports and tests)."""
    if not rnn.linear_recurrence:
        from .nonlinear import kind_of

        kind = kind_of(rnn.activation)
        return f"nonlinear-{kind}" if kind else "nonlinear-fused-loop"
    sign = _sign_structure(rnn)
    if sign is None:
        return "linear-dense"
    scheme, m, _ = sign
    like = torch.empty(1, dtype=rnn.weight_ih_l0.dtype, device=rnn.weight_ih_l0.device)
    if not structured_pays(rnn.hidden_size, m, like):
        return "linear-sign-dense"
    return f"linear-sign-{choose_method(m, like)}"


def structured_pays(n: int, m: int, like: torch.Tensor) -> bool:
    """Whether the (block) transform beats one dense ``addmm`` per step (measured on CPU, 1 thread).

    Small n: the dense product is one BLAS call.  Blocks m ≤ 32 are a GEMM with S_m (m
    instead of n multiply-adds per entry); the fht-cpu kernel wins from n = 64; the
    pure-PyTorch Kronecker split from n = 256 (4.5x at n = 512).
    """
    if n <= DENSE_BLOCK_MAX:
        return False
    method = choose_method(m, like)
    return method != "kron" or n >= KRON_MIN_SIZE


def fast_states(rnn, z: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """All states (B, T, n) of ``rnn``'s recurrence for inputs z = U x + b (B, T, n)."""
    w = rnn.weight_hh_l0  # the parametrization runs once per forward
    if not rnn.linear_recurrence:
        return nonlinear_states(z, h0, w, rnn.activation)
    sign = _sign_structure(rnn)
    if sign is None:
        return linear_states(z, h0, w, DenseOp(w))
    scheme, m, perm = sign
    inv = None
    if perm is not None:  # work in permuted coordinates h' = h[perm], where W' = diag(s)·(I_q⊗S_m)/√m
        inv = scheme.inv_perm
        z, h0, w = z.index_select(-1, perm), h0.index_select(-1, perm), w[perm][:, perm]
    if not structured_pays(rnn.hidden_size, m, z):
        op = DenseOp(w)
    else:
        with torch.no_grad():
            # ±1/√m, with the scale taken from the scheme's own basis so both engines round alike
            d = scheme.signs(rnn.recurrent_latent).to(z.dtype) * scheme.basis[0, 0].to(z.dtype)
        op = SignTransformOp(d, m, batch=z.shape[0])
    op.row_scaling = True
    states = linear_states(z, h0, w, op)
    return states if inv is None else states.index_select(-1, inv)
