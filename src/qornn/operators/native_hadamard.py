"""The step loops of :class:`SignedHadamardOperator` as compiled C (:mod:`qornn.native`), one call per chunk.

The maths and the buffers are those of :class:`HadamardKernel` (``buf`` holds q_t = T(h_t),
the forward pass writes h_t over z; the adjoint carry is b = g·W'), but the time loop runs
in C, so a chunk costs one call instead of two kernel launches per step, and the adjoint
pass also sums the signs' gradient Σ_t g_t ⊙ q_{t-1} while g_t is at hand, when the chunk
was just run forward (the engines recompute a chunk before its adjoint).  float32 only;
:func:`qornn.hadamard.step_method` picks it when the library compiled (``native``).
"""
from __future__ import annotations

import torch

from .kernels import StepKernel


class NativeHadamardKernel(StepKernel):
    """:class:`HadamardKernel`'s contract with the C loops of ``qornn/native/hadamard_loops.c``."""

    name = "sign-native"

    def __init__(self, op, batch: int, steps: int, like: torch.Tensor, lib):
        super().__init__(op, batch, steps, like)  # self.buf: q_{t0-1}, q_{t0}, ... of a chunk
        self.lib, self.batch, self.m, self.scale = lib, batch, op.block_size, op.scale
        self.d = self.op.diagonal.to(like.dtype).contiguous()
        self.carry = like.new_zeros(batch, self.n)  # b after the chunk run backwards last
        self.acc, self.part = like.new_zeros(self.n), like.new_zeros(self.n)
        self.fresh = self.pending = False  # buf holds the states of the chunk now run backwards / part is due

    def _sizes(self, steps: int) -> tuple[int, int, int, int]:
        return self.batch, self.n, self.m, steps

    def reset(self) -> None:
        super().reset()  # T(0) = 0: the zero carry is the zero state
        self.carry.zero_()
        self.acc.zero_()
        self.fresh = self.pending = False

    def set_state(self, h0):
        self.load_carry(h0)
        self.lib.qornn_transform_rows(self.batch, self.n, self.m, self.views[0].data_ptr())

    def load_carry(self, src):
        super().load_carry(src)
        self.fresh = False

    def forward(self, z):
        self._start()
        c = z.shape[0]
        self.lib.qornn_hadamard_forward(*self._sizes(c), self.d.data_ptr(), self.buf.data_ptr(), z.data_ptr())
        self.at, self.prev, self.fresh = c, self.buf[:c], True
        return z  # h_t, written over z_t

    def advance(self, z, last=False):
        states = self.forward(z)
        return states[-1] if last else None

    def adjoint(self, e):
        self.pending = self.fresh
        if self.pending:
            self.part.zero_()
        prev, part = (self.prev.data_ptr(), self.part.data_ptr()) if self.pending else (None, None)
        self.lib.qornn_hadamard_adjoint(*self._sizes(e.shape[0]), self.d.data_ptr(), self.carry.data_ptr(),
                                        e.data_ptr(), prev, part)
        return e  # g_t, written over e_t

    def accumulate(self, g):
        if self.pending:  # summed by the adjoint pass
            self.acc += self.part
            self.pending = False
        else:
            self.acc += (g.reshape(-1, self.n) * self.prev.reshape(-1, self.n)).sum(0)

    def tensor_grads(self):
        return (self.acc * self.scale,)

    def grad_initial_state(self):
        return self.carry.clone()  # b_1 = g_1·W'
