"""W = P·diag(s)·(I_q ⊗ S_m)·Pᵀ·scale: the operator of HadamRNN and Block-HadamRNN.

Entry by entry, W[p_i, p_j] = scale·s_i·(I_q ⊗ S_m)[i, j] with s ∈ {−1, +1}ⁿ, S_m the
Sylvester matrix of order m = 2^k, q = n/m blocks, p a fixed permutation (the identity
when ``perm`` is None) and scale = 1/√m (to float rounding: the value the dense W holds).
HadamRNN is m = n without permutation.  Orthogonal: S_m S_mᵀ = m·I.

In the frame p (h' = h[..., p]) a step is h'·W'ᵀ = T(h') ⊙ d with d = s·scale and T the
(block) Walsh–Hadamard transform.  :class:`HadamardKernel` keeps q_t = T(h_t) instead of
h_t, so that a step is two kernel calls (an ``addcmul`` and an in-place transform):

    q_t = T(z_t + d ⊙ q_{t-1}),     then, for a whole chunk at once, h_t = z_t + d ⊙ q_{t-1};

the adjoint keeps b_t = T(d ⊙ g_t) = g_t·W': b_t = T(d ⊙ (e_t + b_{t+1})), g_t = e_t + b_{t+1};
the gradient of the signs is ∂L/∂s_i = scale·Σ_t g_{t,i} q_{t-1,i} (O(BTn), no n×n matrix).

>>> import torch
>>> op = SignedHadamardOperator(torch.tensor([1.0, -1.0, 1.0, 1.0]), block_size=2, scale=2 ** -0.5)
>>> (op.dense() * 2 ** 0.5).round().int()
tensor([[ 1,  1,  0,  0],
        [-1,  1,  0,  0],
        [ 0,  0,  1,  1],
        [ 0,  0,  1, -1]], dtype=torch.int32)
>>> h = torch.randn(3, 4)
>>> torch.allclose(op.matvec(h), h @ op.dense().T)
True
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from ..hadamard import StepTransform, block_sylvester, hadamard_transform, native_loops_apply, step_method
from .base import RecurrentOperator
from .kernels import DenseKernel, StepKernel
from .native_hadamard import NativeHadamardKernel

__all__ = ["SignedHadamardOperator", "HadamardKernel"]


@dataclass(frozen=True)
class SignedHadamardOperator(RecurrentOperator):
    """W[p_i, p_j] = scale·s_i·(I_q ⊗ S_m)[i, j] (see the module docstring)."""

    signs: torch.Tensor  # s (n,), ±1, in the frame: s_i signs row p_i of W
    block_size: int  # m
    scale: float  # the magnitude of W's non-zero entries
    perm: torch.Tensor | None = None  # p, or None for the identity
    tensor_fields: ClassVar[tuple[str, ...]] = ("signs",)
    kind: ClassVar[str] = "signed-hadamard"

    @property
    def frame(self):
        return self.perm

    @property
    def diagonal(self) -> torch.Tensor:
        """d = s·scale (n,)."""
        return self.signs * self.scale

    def _to_frame(self, x):
        return x if self.perm is None else x[..., self.perm]

    def _from_frame(self, x):
        return x if self.perm is None else x[..., torch.argsort(self.perm)]

    def matvec(self, h):
        return self._from_frame(hadamard_transform(self._to_frame(h), self.block_size) * self.diagonal)

    def rmatvec(self, g):
        return self._from_frame(hadamard_transform(self._to_frame(g) * self.diagonal, self.block_size))

    def _block_matrix(self):
        return block_sylvester(self.n, self.block_size, dtype=self.signs.dtype, device=self.signs.device)

    def dense_in_frame(self):
        return self.diagonal.unsqueeze(1) * self._block_matrix()

    def dense(self):
        w = self.dense_in_frame()
        if self.perm is None:
            return w
        inv = torch.argsort(self.perm)
        return w[inv][:, inv]

    def tensor_grads(self, g, h):
        q = hadamard_transform(self._to_frame(h), self.block_size)
        return ((self._to_frame(g) * q).sum(0) * self.scale,)

    def dense_grads(self, grad_w):
        return ((grad_w * self._block_matrix()).sum(1) * self.scale,)

    def kernel(self, batch: int, steps: int, like: torch.Tensor):
        method = step_method(self.n, self.block_size, like)
        if method == "dense":
            return DenseKernel(self, batch, steps, like, name="sign-dense")
        if method == "native":
            return NativeHadamardKernel(self, batch, steps, like, native_loops_apply(self.n, self.block_size, like))
        return HadamardKernel(self, batch, steps, like, method)


class HadamardKernel(StepKernel):
    """The step loops of :class:`SignedHadamardOperator` on q_t = T(h_t) (see the module docstring)."""

    def __init__(self, op: SignedHadamardOperator, batch: int, steps: int, like: torch.Tensor, method: str):
        super().__init__(op, batch, steps, like)  # self.buf holds q_{t0-1}, q_{t0}, ... of a chunk
        self.name = f"sign-{method}"
        self.d, self.scale, m = self.op.diagonal.to(like.dtype), self.op.scale, op.block_size
        self.transform = StepTransform(self.buf, m, method)
        self.adj_buf = torch.zeros_like(self.buf)  # d ⊙ g_t, then b_t, of a chunk; b_{t0} stays in slot 0
        self.adj_views = list(self.adj_buf.unbind(0))
        self.adj_transform = StepTransform(self.adj_buf, m, method)
        self.acc, self.acc_rows = like.new_zeros(self.n), like.new_zeros(batch, self.n)

    def reset(self) -> None:
        super().reset()  # T(0) = 0: the zero carry is the zero state
        self.adj_buf[0].zero_()
        self.acc.zero_()
        self.acc_rows.zero_()

    def set_state(self, h0):
        self.load_carry(h0)
        self.transform(0)

    def run(self, z):
        self._start()
        c, v, d = z.shape[0], self.views, self.d
        for t, z_t in enumerate(z.unbind(0)):
            torch.addcmul(z_t, v[t], d, out=v[t + 1])
            self.transform(t + 1)
        self.at = c
        self.prev = self.buf[:c]
        return z.addcmul_(self.prev, d)  # h_t = z_t + d ⊙ q_{t-1}, over z

    def advance(self, z, last=False):
        """The chunk's steps on one (B, n) slot, hot in cache."""
        self._start()
        q, d, zv = self.views[0], self.d, z.unbind(0)
        for z_t in zv[:-1] if last else zv:
            torch.addcmul(z_t, q, d, out=q)
            self.transform(0)
        if not last:
            return None
        h = torch.addcmul(zv[-1], q, d, out=self.views[1])
        q.copy_(h)
        self.transform(0)
        return h

    def adjoint(self, e):
        c, a, d = e.shape[0], self.adj_views, self.d
        a[c].copy_(a[0])  # b after the chunk
        torch.mul(e, d, out=self.adj_buf[:c])
        for t in range(c - 1, -1, -1):
            a[t].addcmul_(a[t + 1], d)  # d ⊙ (e_t + b_{t+1}) = d ⊙ g_t
            self.adj_transform(t)  # b_t
        return e.add_(self.adj_buf[1:c + 1])  # g_t = e_t + b_{t+1}

    def accumulate(self, g):
        c = g.shape[0]
        scratch = torch.mul(g, self.prev, out=self.adj_buf[1:c + 1])  # free again; slot 0 is the carry
        self.acc += scratch.view(-1, self.n).sum(0)

    def replay(self, z, g):
        self._start()
        q, d = self.views[0], self.d
        for z_t, g_t in zip(z.unbind(0), g.unbind(0)):
            self.acc_rows.addcmul_(g_t, q)  # g_t ⊙ q_{t-1}
            torch.addcmul(z_t, q, d, out=q)
            self.transform(0)

    def tensor_grads(self):
        return ((self.acc + self.acc_rows.sum(0)) * self.scale,)

    def grad_initial_state(self):
        return self.adj_buf[0].clone()  # b_1 = g_1·W'
