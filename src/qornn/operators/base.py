"""What a recurrent matrix W is: the contract between recurrent schemes, engines and exporters.

A recurrent scheme (a parametrization latent ↦ W, :mod:`qornn.recurrent`) also says how W
is built: ``scheme.operator(latent)`` returns a :class:`RecurrentOperator`, a frozen
dataclass made of a few tensors (autograd flows through them back to the latent) and
of plain facts (block size, scale, ...).  Every operator offers, in the row convention
of ``torch.nn`` (one step of h_t = W h_{t-1} + z_t is h ↦ h·Wᵀ):

* ``matvec(h) = h·Wᵀ`` and ``rmatvec(g) = g·W`` (the adjoint), differentiable;
* ``dense()``: W as an (n, n) matrix, differentiable;
* ``tensor_grads(g, h)``: the gradients, with respect to its tensors, of Σ_rows g·(h·Wᵀ)
  (the latent gradient of a recurrence, given its adjoints g_t and states h_{t-1});
* ``frame``: a permutation of the state coordinates in which ``kernel`` works, or None;
* ``kernel(batch, steps, like)``: the in-place step loops that the fast engines run
  (:mod:`qornn.operators.kernels`);
* ``detach()`` / ``describe()``: a frozen copy outside autograd and its facts, for
  inspection and export.

A new structured operator is a frozen dataclass subclass that names its tensor
fields in ``tensor_fields`` and writes ``matvec``; the rest has defaults (``dense``
from ``matvec``, ``rmatvec`` from ``dense``, ``tensor_grads`` by autograd, the dense
kernel).  ``docs/architecture.md`` shows one in 30 lines.

>>> import torch
>>> op = DenseOperator(torch.tensor([[0.0, 1.0], [-1.0, 0.0]]))
>>> op.matvec(torch.tensor([[1.0, 2.0]]))
tensor([[ 2., -1.]])
>>> op.rmatvec(torch.tensor([[1.0, 2.0]]))
tensor([[-2.,  1.]])
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import torch

__all__ = ["RecurrentOperator", "DenseOperator"]


@dataclass(frozen=True)
class RecurrentOperator:
    """Base class of the operators (see the module docstring); subclasses are frozen dataclasses."""

    #: Names of the dataclass fields that are tensors autograd flows through, in ``tensors()`` order.
    tensor_fields: ClassVar[tuple[str, ...]] = ()
    #: Short name of the structure, for reports and export (``dense``, ``signed-hadamard``, ...).
    kind: ClassVar[str] = "operator"

    # ---- what W is ----------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return self.tensors()[0].shape[0]

    @property
    def frame(self) -> torch.Tensor | None:
        """Permutation p such that the kernel works on h' = h[..., p] (None: the identity)."""
        return None

    def tensors(self) -> tuple[torch.Tensor, ...]:
        return tuple(getattr(self, name) for name in self.tensor_fields)

    def replace(self, *tensors: torch.Tensor) -> "RecurrentOperator":
        """The same structure with other tensors (e.g. detached ones)."""
        return dataclasses.replace(self, **dict(zip(self.tensor_fields, tensors)))

    def detach(self) -> "RecurrentOperator":
        return self.replace(*(t.detach() for t in self.tensors()))

    def describe(self) -> dict:
        """The operator's facts (tensors as lists), JSON-serialisable."""
        out = {"kind": self.kind, "n": self.n}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.detach().cpu().tolist() if isinstance(value, torch.Tensor) else value
        return out

    # ---- applying W ---------------------------------------------------------------------------------
    def matvec(self, h: torch.Tensor) -> torch.Tensor:
        """h·Wᵀ along the last dimension (differentiable in h and in the tensors)."""
        raise NotImplementedError

    def rmatvec(self, g: torch.Tensor) -> torch.Tensor:
        """g·W along the last dimension (the adjoint step)."""
        return g @ self.dense()

    def dense(self) -> torch.Tensor:
        """W (n, n); by default matvec(I) = Wᵀ, transposed."""
        t = self.tensors()[0]
        return self.matvec(torch.eye(self.n, dtype=t.dtype, device=t.device)).t()

    def dense_in_frame(self) -> torch.Tensor:
        """W' = W[p][:, p] for the frame p: the matrix the kernel steps with."""
        w, p = self.dense(), self.frame
        return w if p is None else w[p][:, p]

    def tensor_grads(self, g: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """∂/∂tensors of Σ_rows g·(h·Wᵀ) for g, h (rows, n); by default by autograd through ``matvec``."""
        leaves = [t.detach().requires_grad_(True) for t in self.tensors()]
        with torch.enable_grad():
            out = self.replace(*leaves).matvec(h.detach())
            grads = torch.autograd.grad(out, leaves, g, allow_unused=True)
        return tuple(torch.zeros_like(t) if d is None else d for t, d in zip(leaves, grads))

    def dense_grads(self, grad_w: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """∂L/∂tensors from ∂L/∂W' (W' = ``dense_in_frame()``); by default by autograd through it."""
        leaves = [t.detach().requires_grad_(True) for t in self.tensors()]
        with torch.enable_grad():
            w = self.replace(*leaves).dense_in_frame()
            grads = torch.autograd.grad(w, leaves, grad_w, allow_unused=True)
        return tuple(torch.zeros_like(t) if d is None else d for t, d in zip(leaves, grads))

    # ---- for the fast engines -----------------------------------------------------------------------
    def kernel(self, batch: int, steps: int, like: torch.Tensor):
        """The step loops of the fast engines (default: one dense ``addmm`` per step)."""
        from .kernels import DenseKernel

        return DenseKernel(self, batch, steps, like)


@dataclass(frozen=True)
class DenseOperator(RecurrentOperator):
    """W given as a dense (n, n) matrix (full-precision schemes, k-bit quantized W)."""

    weight: torch.Tensor
    tensor_fields: ClassVar[tuple[str, ...]] = ("weight",)
    kind: ClassVar[str] = "dense"

    def matvec(self, h):
        return h @ self.weight.t()

    def rmatvec(self, g):
        return g @ self.weight

    def dense(self):
        return self.weight

    def tensor_grads(self, g, h):
        return (g.t() @ h,)

    def dense_grads(self, grad_w):
        return (grad_w,)
