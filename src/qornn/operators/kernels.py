"""The step loops of the fast engines, one object per (operator, batch size, chunk length).

The engines cut time into chunks of at most ``steps`` steps and hand a kernel
time-major chunks (c, B, n) in the operator's frame (:attr:`RecurrentOperator.frame`):

* ``forward(z, activation)``: runs h_t = h_{t-1}·Wᵀ + z_t over the chunk from the kernel's carry
  (the state before the chunk) and returns the states (c, B, n), or σ(h_t) (``activation``: relu,
  tanh) written over z; ``forward_gather(table, ids, z, activation)``: the same with z_t the rows
  ``ids[t]`` of ``table`` (token inputs);
* ``advance(z, last)``: the same, keeping only the carry (and returning h of the
  chunk's last step when ``last``);
* ``adjoint(e)``: turns e_t = ∂L/∂h_t from outside the recurrence into
  g_t = e_t + g_{t+1}·W (in place), from the adjoint carry g_{t1+1} (zero at the end);
  ``adjoint_scatter(e, ids, table_grad)`` also adds g_t to the rows ``ids[t]`` of ``table_grad``;
* ``accumulate(g)``: adds the chunk's Σ_t g_tᵀ h_{t-1}, contracted with the operator's
  structure, to the gradients of its tensors (``tensor_grads()``), using the states
  of the last ``forward`` (``replay(z, g)``: ``forward`` then ``accumulate``);
* ``save_carry`` / ``load_carry`` / ``set_state``: the chunk-boundary state, in the
  kernel's own representation (the engines store it for the backward pass);
* ``grad_initial_state()``: ∂L/∂h_0 = g_1·W after the last (earliest) chunk.

:class:`StepKernel` implements them on plain states with three per-step hooks;
:class:`DenseKernel` (one ``addmm`` per step) and :class:`MatvecKernel` (the
operator's own ``matvec``, for new structured schemes) fill them in.
"""
from __future__ import annotations

import torch

from ..activations import apply_sigma

__all__ = ["StepKernel", "DenseKernel", "MatvecKernel"]


class StepKernel:
    """Chunked forward and adjoint loops on plain states h (see the module docstring)."""

    name = "generic"

    def __init__(self, op, batch: int, steps: int, like: torch.Tensor):
        self.op = op.detach()
        self.n = n = op.n
        self.buf = like.new_zeros(steps + 1, batch, n)  # buf[0]: state before the chunk, buf[t + 1]: h_t
        self.views = list(self.buf.unbind(0))
        self.at = 0  # views[at] holds the carry (the state after the last chunk run)
        self.adj = like.new_zeros(batch, n)  # g at the first step of the last chunk run backwards
        self.prev = None

    # -- per-step hooks ------------------------------------------------------------------------------
    def step(self, z_t: torch.Tensor, h: torch.Tensor, out: torch.Tensor) -> None:
        """out = h·Wᵀ + z_t."""
        raise NotImplementedError

    def adjoint_step(self, g_next: torch.Tensor, e_t: torch.Tensor) -> None:
        """e_t += g_next·W (in place)."""
        raise NotImplementedError

    def accumulate(self, g: torch.Tensor) -> None:
        """Add Σ_t g_tᵀ h_{t-1} of the last forward chunk to the tensors' gradients."""
        raise NotImplementedError

    def tensor_grads(self) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError

    # -- the loops -----------------------------------------------------------------------------------
    def reset(self) -> None:
        self.views[0].zero_()
        self.at = 0
        self.adj.zero_()

    def set_state(self, h0: torch.Tensor) -> None:
        self.load_carry(h0)

    def save_carry(self, out: torch.Tensor) -> None:
        out.copy_(self.views[self.at])

    def load_carry(self, src: torch.Tensor) -> None:
        self.views[0].copy_(src)
        self.at = 0

    def _start(self) -> None:
        """Move the carry to slot 0, where a chunk starts."""
        if self.at:
            self.views[0].copy_(self.views[self.at])
            self.at = 0

    def forward(self, z: torch.Tensor, activation: str | None = None) -> torch.Tensor:
        states = self.run(z)
        return states if activation in (None, "identity") else apply_sigma(activation, states, out=z)

    def run(self, z: torch.Tensor) -> torch.Tensor:
        """The chunk's states (c, B, n) from the carry; ``forward`` without σ."""
        self._start()
        c, v = z.shape[0], self.views
        for t, z_t in enumerate(z.unbind(0)):
            self.step(z_t, v[t], v[t + 1])
        self.at = c
        self.prev = self.buf[:c]
        return self.buf[1:c + 1]

    def forward_gather(self, table: torch.Tensor, ids: torch.Tensor, z: torch.Tensor,
                       activation: str | None = None) -> torch.Tensor:
        """``forward`` with z_t = rows ``ids`` (c, B) of ``table`` (token inputs), z the buffer to use."""
        torch.index_select(table, 0, ids.reshape(-1), out=z.view(-1, self.n))
        return self.forward(z, activation)

    def advance(self, z: torch.Tensor, last: bool = False) -> torch.Tensor | None:
        states = self.forward(z)
        return states[-1] if last else None

    def adjoint(self, e: torch.Tensor) -> torch.Tensor:
        ev = e.unbind(0)
        nxt = self.adj
        for t in range(len(ev) - 1, -1, -1):
            self.adjoint_step(nxt, ev[t])
            nxt = ev[t]
        self.adj.copy_(ev[0])
        return e

    def adjoint_scatter(self, e: torch.Tensor, ids: torch.Tensor, table_grad: torch.Tensor | None) -> torch.Tensor:
        """``adjoint``, then row ``ids[t, b]`` of ``table_grad`` += g_t[b] (the gradient of gathered inputs)."""
        g = self.adjoint(e)
        if table_grad is not None:
            table_grad.index_add_(0, ids.reshape(-1), g.reshape(-1, self.n))
        return g

    def replay(self, z: torch.Tensor, g: torch.Tensor) -> None:
        """Rerun the chunk from the carry and accumulate with its adjoints g (readout ``last``)."""
        self.forward(z)
        self.accumulate(g)

    def grad_initial_state(self) -> torch.Tensor:
        out = torch.zeros_like(self.adj)
        self.adjoint_step(self.adj, out)
        return out


class DenseKernel(StepKernel):
    """W' = ``op.dense_in_frame()`` as a matrix: one ``addmm`` per step; ∂L/∂W' = Σ_t g_tᵀ h_{t-1}."""

    def __init__(self, op, batch: int, steps: int, like: torch.Tensor, name: str = "dense"):
        super().__init__(op, batch, steps, like)
        self.name = name
        self.w = self.op.dense_in_frame().to(like.dtype).contiguous()
        self.wt = self.w.t()
        self.grad_w = torch.zeros_like(self.w)

    def reset(self) -> None:
        super().reset()
        self.grad_w.zero_()

    def step(self, z_t, h, out):
        torch.addmm(z_t, h, self.wt, out=out)

    def adjoint_step(self, g_next, e_t):
        e_t.addmm_(g_next, self.w)

    def accumulate(self, g):
        self.grad_w.addmm_(g.reshape(-1, self.n).t(), self.prev.reshape(-1, self.n))

    def tensor_grads(self):
        return self.op.dense_grads(self.grad_w)


class MatvecKernel(StepKernel):
    """The operator's own ``matvec`` / ``rmatvec`` per step (any structure; allocates per step)."""

    name = "matvec"

    def __init__(self, op, batch: int, steps: int, like: torch.Tensor):
        super().__init__(op, batch, steps, like)
        self.perm = self.op.frame
        self.inv = None if self.perm is None else torch.argsort(self.perm)
        self.grads = None

    def reset(self) -> None:
        super().reset()
        self.grads = None

    def _in_frame(self, fn, x):
        return fn(x) if self.perm is None else fn(x[..., self.inv])[..., self.perm]

    def step(self, z_t, h, out):
        torch.add(z_t, self._in_frame(self.op.matvec, h), out=out)

    def adjoint_step(self, g_next, e_t):
        e_t.add_(self._in_frame(self.op.rmatvec, g_next))

    def accumulate(self, g):
        g, h = g.reshape(-1, self.n), self.prev.reshape(-1, self.n)
        if self.perm is not None:
            g, h = g[:, self.inv], h[:, self.inv]
        grads = self.op.tensor_grads(g, h)
        self.grads = grads if self.grads is None else tuple(a + b for a, b in zip(self.grads, grads))

    def tensor_grads(self):
        if self.grads is None:
            return tuple(torch.zeros_like(t) for t in self.op.tensors())
        return self.grads
