"""The step loops of :class:`SignedHadamardOperator` as compiled C (:mod:`qornn.native`), one call per chunk.

The maths and the buffers are those of :class:`HadamardKernel` (``buf`` holds q_t = T(h_t),
the forward pass writes h_t over z; the adjoint carry is b = g·W'), but the time loop runs
in C, so a chunk costs one call instead of two kernel launches per step, and each pass does
in the same sweep what would otherwise be passes of their own: the forward pass gathers
token inputs from their table and applies relu; the adjoint pass adds g_t to the table's
gradient and sums the signs' gradient Σ_t g_t ⊙ q_{t-1} (when the chunk was just run
forward: the engines recompute a chunk before its adjoint).  float32 only;
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

    def run(self, z):
        return self._forward(z, None, None, None)

    def forward(self, z, activation=None):
        return self._forward(z, None, None, activation)

    def forward_gather(self, table, ids, z, activation=None):
        return self._forward(z, table, ids, activation)

    def _forward(self, z, table, ids, activation):
        self._start()
        c = z.shape[0]
        gather = (table.data_ptr(), ids.data_ptr()) if table is not None else (None, None)
        self.lib.qornn_hadamard_forward(*self._sizes(c), self.d.data_ptr(), self.buf.data_ptr(), z.data_ptr(),
                                        *gather, int(activation == "relu"))
        self.at, self.prev, self.fresh = c, self.buf[:c], True
        return z.tanh_() if activation == "tanh" else z  # h_t, or σ(h_t), written over z_t

    def advance(self, z, last=False):
        states = self.forward(z)
        return states[-1] if last else None

    def adjoint(self, e):
        return self.adjoint_scatter(e, None, None)

    def adjoint_scatter(self, e, ids, table_grad):
        self.pending = self.fresh
        if self.pending:
            self.part.zero_()
        prev, part = (self.prev.data_ptr(), self.part.data_ptr()) if self.pending else (None, None)
        scatter = (ids.data_ptr(), table_grad.data_ptr()) if table_grad is not None else (None, None)
        self.lib.qornn_hadamard_adjoint(*self._sizes(e.shape[0]), self.d.data_ptr(), self.carry.data_ptr(),
                                        e.data_ptr(), prev, part, *scatter)
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
