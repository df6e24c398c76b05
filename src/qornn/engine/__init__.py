"""How the states of a recurrence are computed (an implementation choice behind the modules).

Given the inputs z_t = U x_t + b, the recurrent matrix W and an initial state h_0:

    linear:      h_t = W h_{t-1} + z_t
    non-linear:  h_t = σ(W h_{t-1} + z_t)

``reference`` (:func:`step_loop`) is the plain per-step loop with the dense matrix and
per-step autograd.  ``auto`` gives the same outputs and gradients (to float rounding)
faster, with W as the scheme's operator (:mod:`qornn.operators`, built once per forward):

* linear recurrences: :func:`sequence_forward` (:mod:`.fused`) runs inputs → recurrence
  → readout in one chunked autograd node with the operator's kernel (for HadamRNN and
  Block-HadamRNN a fast Walsh–Hadamard transform per step and an O(BTn) gradient of the
  signs); :func:`model_loss` also folds the cross-entropy into it;
* non-linear recurrences: :func:`nonlinear_states` (:mod:`.nonlinear`) with the dense W
  (``operator.dense()``), one autograd node and a hand-written backward loop.

The engines ask the operator for its kernel or its dense matrix, never a scheme's type.
"""
from __future__ import annotations

import dataclasses

import torch

from .fused import SequenceProblem, chunk_size, kernel_name, sequence_forward
from .loop import step_loop
from .nonlinear import NonlinearScan, kind_of, nonlinear_states

ENGINES = ("auto", "reference")

__all__ = ["ENGINES", "SequenceProblem", "sequence_forward", "model_loss", "fuses_loss", "step_loop", "nonlinear_states",
           "NonlinearScan", "chunk_size", "plan", "plan_sequence"]


def model_loss(model, task, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``task.loss(model(x), y)``, with the readout and a mean cross-entropy over every step fused.

    When ``model`` offers a fused readout ``all`` (``model.sequence_problem(x)``), the task
    scores with the standard cross-entropy and y holds valid class indices (B, T), the
    loss is computed chunk by chunk and the (B, T, classes) logits never exist; the value
    and gradients are those of the unfused path (to float rounding).  Otherwise it is
    exactly ``task.loss(model(x), y)``.
    """
    problem = _loss_problem(model, task, x, y)
    if problem is None:
        return task.loss(model(x), y)
    return sequence_forward(problem)


def fuses_loss(model, task, x: torch.Tensor, y: torch.Tensor) -> bool:
    """Whether :func:`model_loss` computes this loss in the fused pass."""
    return _loss_problem(model, task, x, y) is not None


def _loss_problem(model, task, x, y) -> SequenceProblem | None:
    from ..tasks.base import Task

    if type(task).loss is not Task.loss or task.info.loss != "ce":
        return None
    build = getattr(model, "sequence_problem", None)
    problem = build(x) if build is not None else None
    if problem is None or problem.readout != "all":
        return None
    classes = problem.output_weight.shape[0]
    if y.shape != x.shape[:2] or y.dtype != torch.long or not (0 <= int(y.min()) and int(y.max()) < classes):
        return None
    return dataclasses.replace(problem, readout="loss", targets=y)


def plan(rnn) -> str:
    """Which path ``rnn(x)`` takes on its own (for reports and tests), e.g. ``linear-sign-fht``."""
    if not rnn.linear_recurrence:
        kind = kind_of(rnn.activation)
        return f"nonlinear-{kind}" if kind else "nonlinear-step-loop"
    return "linear-" + rnn.recurrent_operator().kernel(1, 1, rnn.weight_ih_l0).name


def plan_sequence(model, x: torch.Tensor) -> str | None:
    """Name of the fused path ``model(x)`` takes (e.g. ``fused-all-sign-fht``), or None (generic path)."""
    build = getattr(model, "sequence_problem", None)
    problem = build(x) if build is not None else None
    return None if problem is None else f"fused-{problem.readout}-{kernel_name(problem)}"
