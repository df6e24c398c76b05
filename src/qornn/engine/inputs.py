"""The input stage of the fused engine: z_t = U x_t + b, chunk by chunk, time-major.

``x`` holds token ids (B, T) (then z_t is column x_t of U plus b: a row of the table
Uᵀ + b) or features (B, T, F).  The backward pass receives g_t = ∂L/∂z_t chunk by
chunk and accumulates ∂L/∂U = Σ_t g_t x_tᵀ, ∂L/∂b = Σ_t g_t and ∂L/∂x_t = Uᵀ g_t.
"""
from __future__ import annotations

import torch


class InputStage:
    """z for the chunks of one batch (see the module docstring)."""

    def __init__(self, x: torch.Tensor, u: torch.Tensor, b: torch.Tensor | None, steps: int):
        self.tokens = not torch.is_floating_point(x)
        self.x, self.u, self.b = x, u, b
        self.n = u.shape[0]
        self.xt = x.t().contiguous() if self.tokens else x.transpose(0, 1)  # (T, B) or (T, B, F) view
        if self.tokens:
            self.table = (u.t() + b if b is not None else u.t()).contiguous()  # (vocab, n): z for each token
        self.zbuf = u.new_empty(steps, x.shape[0], self.n)
        self.grad_table = self.grad_u = self.grad_b = self.grad_x = None

    def chunk(self, t0: int, t1: int) -> torch.Tensor:
        """z (t1 − t0, B, n), written into the stage's buffer (valid until the next call)."""
        z = self.zbuf[:t1 - t0]
        flat = z.view(-1, self.n)
        xs = self.xt[t0:t1]
        if self.tokens:
            torch.index_select(self.table, 0, xs.reshape(-1), out=flat)
        elif self.u.shape[1] == 1:  # one feature (sMNIST, pMNIST): an outer product, not a GEMM
            if self.b is None:
                torch.mul(xs.reshape(-1, 1), self.u.t(), out=flat)
            else:
                torch.addcmul(self.b, xs.reshape(-1, 1), self.u.t(), out=flat)
        elif self.b is None:
            torch.mm(xs.reshape(-1, xs.shape[-1]), self.u.t(), out=flat)
        else:
            torch.addmm(self.b, xs.reshape(-1, xs.shape[-1]), self.u.t(), out=flat)
        return z

    def forward(self, kernel, t0: int, t1: int, activation: str | None = None) -> torch.Tensor:
        """The kernel's states over the chunk (σ of them when ``activation`` names σ), from its inputs; token
        inputs go to the kernel as table rows to gather (``kernel.forward_gather``)."""
        if self.tokens:
            return kernel.forward_gather(self.table, self.xt[t0:t1], self.zbuf[:t1 - t0], activation)
        return kernel.forward(self.chunk(t0, t1), activation)

    def adjoint(self, kernel, e: torch.Tensor, t0: int, t1: int) -> torch.Tensor:
        """g_t = ∂L/∂z_t of the chunk (the kernel's adjoint, over e) and the gradients of the inputs from it;
        for tokens the kernel adds g_t to the rows of the table's gradient (``kernel.adjoint_scatter``)."""
        if self.tokens:
            return kernel.adjoint_scatter(e, self.xt[t0:t1], self.grad_table)
        g = kernel.adjoint(e)
        self.backward(g, t0, t1)
        return g

    # ---- backward ----------------------------------------------------------------------------------------
    def start_backward(self, need_x: bool, need_u: bool, need_b: bool) -> None:
        self.need_u, self.need_b = need_u, need_b and self.b is not None
        if self.tokens and (self.need_u or self.need_b):
            self.grad_table = torch.zeros_like(self.table)
        if not self.tokens:
            self.grad_u = torch.zeros_like(self.u) if need_u else None
            self.grad_b = torch.zeros_like(self.b) if self.need_b else None
            self.grad_x = torch.empty_like(self.x) if need_x else None

    def backward(self, g: torch.Tensor, t0: int, t1: int) -> None:
        """Accumulate the gradients of feature inputs from g (t1 − t0, B, n) = ∂L/∂z_t of the chunk."""
        g2 = g.reshape(-1, self.n)
        xs = self.xt[t0:t1]
        if self.grad_u is not None:
            self.grad_u.addmm_(g2.t(), xs.reshape(-1, xs.shape[-1]))
        if self.grad_b is not None:
            self.grad_b += g2.sum(0)
        if self.grad_x is not None:
            self.grad_x[:, t0:t1].copy_((g2 @ self.u).view(t1 - t0, self.x.shape[0], -1).transpose(0, 1))

    def grads(self):
        """(∂L/∂x, ∂L/∂U, ∂L/∂b), None where not wanted."""
        if self.grad_table is not None:
            grad_u = self.grad_table.t() if self.need_u else None
            grad_b = self.grad_table.sum(0) if self.need_b else None
            return None, grad_u, grad_b
        return self.grad_x, self.grad_u, self.grad_b
