"""What the fused engine makes of the states, chunk by chunk, and the gradient it sends back.

Each readout sees the states of one chunk (c, B, n) (time-major), as σ(h) when it names σ in
``activation`` (the kernel applies it while writing them), in the forward pass and, in the
backward pass, writes e_t = ∂L/∂h_t (c, B, n) for the adjoint recurrence:

* ``states``: every h_t, as a (B, T, n) tensor (``OrthoRNN`` on its own);
* ``last``: h_T only (many-to-one); the chunks before need no states at all;
* ``all``: the logits y_t = V σ(h_t) + c, (B, T, K), computed per chunk as one
  (K, n) × (n, C·B) GEMM;
* ``loss``: the mean cross-entropy of those logits against targets (B, T), in the same
  (K, T, B) layout, with no (B, T, K) copies: the forward pass keeps p_t − onehot(y_t),
  the gradient of the loss with respect to the logits up to the factor (∂L/∂loss)/(B·T).

σ is ``relu``, ``tanh`` or ``identity``; e_t = Vᵀ(∂L/∂y_t) ⊙ σ'(h_t), ∂L/∂V = Σ_t (∂L/∂y_t) σ(h_t)ᵀ.
"""
from __future__ import annotations

import torch

from ..activations import sigma_backward_

class StatesReadout:
    """Every state: output (B, T, n); e_t = ∂L/∂h_t as given."""

    keeps_states = True
    needs_states_backward = False
    activation = None  # the states themselves

    def __init__(self, batch: int, steps: int, n: int, like: torch.Tensor):
        self.shape, self.like = (batch, steps, n), like

    def start_forward(self):
        self.out = self.like.new_empty(self.shape)

    def forward(self, h, t0, t1):
        self.out[:, t0:t1].copy_(h.transpose(0, 1))

    def finish(self, last):
        return self.out

    def start_backward(self, grad_out, need_v=False, need_c=False):
        self.grad_out = grad_out

    def backward(self, h, t0, t1, e):
        e.copy_(self.grad_out[:, t0:t1].transpose(0, 1))

    def grads(self):
        return None, None


class LastReadout(StatesReadout):
    """h_T only: output (B, n); e_t = 0 except e_T = ∂L/∂h_T."""

    keeps_states = False

    def __init__(self, steps: int):
        self.steps = steps

    def start_forward(self):
        pass

    def forward(self, h, t0, t1):  # pragma: no cover - keeps_states is False
        raise AssertionError("the last-state readout needs no chunk states")

    def finish(self, last):
        return last.clone()

    def backward(self, h, t0, t1, e):
        e.zero_()
        if t1 == self.steps:
            e[-1].copy_(self.grad_out)


class LogitsReadout:
    """y_t = V σ(h_t) + c for every step: output (B, T, K), stored as (K, T, B)."""

    keeps_states = True
    needs_states_backward = True

    def __init__(self, v, c, kind: str, batch: int, steps: int):
        self.v, self.c, self.activation = v, c, kind  # the chunks come as features σ(h_t)
        self.steps, self.batch = steps, batch
        self.grad_v = self.grad_c = None

    def start_forward(self):
        # (K, T, B): one (K, n) × (n, C·B) GEMM per chunk (twice as fast as (C·B, n) × (n, K))
        self.logits = self.v.new_empty(self.v.shape[0], self.steps, self.batch)

    def forward(self, feats, t0, t1):
        out = self.logits[:, t0:t1].view(self.v.shape[0], -1)
        torch.addmm(self.c.unsqueeze(1), self.v, feats.reshape(-1, feats.shape[-1]).t(), out=out)

    def finish(self, last):
        return self.logits.permute(2, 1, 0)

    def start_backward(self, grad_out, need_v=True, need_c=True):
        self.grad_tm = grad_out.permute(2, 1, 0).contiguous()  # (K, T, B), the layout of the logits
        self.grad_v = torch.zeros_like(self.v) if need_v else None
        self.grad_c = self.grad_tm.sum((1, 2)) if need_c else None

    def logit_grads(self, t0, t1):
        """∂L/∂y of the chunk as (K, C·B)."""
        return self.grad_tm[:, t0:t1].reshape(self.v.shape[0], -1)

    def backward(self, feats, t0, t1, e):
        gl = self.logit_grads(t0, t1)
        feats = feats.reshape(-1, feats.shape[-1])
        e2 = e.view(-1, e.shape[-1])
        torch.mm(gl.t(), self.v, out=e2)
        sigma_backward_(self.activation, e2, feats)
        if self.grad_v is not None:
            self.grad_v.addmm_(gl, feats)

    def grads(self):
        return self.grad_v, self.grad_c


class LossReadout(LogitsReadout):
    """Mean cross-entropy of the logits against targets y (B, T): output a scalar.

    The chunks write the logits (K, T, B); one log-softmax over classes follows, and
    when the backward pass is coming, p − onehot(y) replaces them in ``probs``.
    """

    def __init__(self, v, c, kind, batch, steps, targets: torch.Tensor, probs: torch.Tensor | None):
        super().__init__(v, c, kind, batch, steps)
        self.y = targets.t().reshape(1, -1)  # (1, T·B), the layout of the logits
        self.probs = probs  # (K, T, B): p − onehot(y), filled by the forward pass (None: not kept)

    def finish(self, last):
        logits = self.logits.view(self.v.shape[0], -1)
        logp = torch.log_softmax(logits, 0) if self.probs is None else \
            torch.log_softmax(logits, 0, out=self.probs.view(logits.shape))
        del self.logits
        loss = -logp.gather(0, self.y).sum() / self.y.numel()
        if self.probs is not None:
            logp.exp_().scatter_add_(0, self.y, logp.new_full(self.y.shape, -1.0))
        return loss

    def start_backward(self, grad_out, need_v=True, need_c=True):
        self.scale = float(grad_out) / self.y.numel()
        self.grad_v = torch.zeros_like(self.v) if need_v else None
        self.grad_c = self.probs.sum((1, 2)) * self.scale if need_c else None

    def logit_grads(self, t0, t1):
        return torch.mul(self.probs[:, t0:t1], self.scale).reshape(self.v.shape[0], -1)
