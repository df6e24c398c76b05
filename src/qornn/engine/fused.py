"""A linear recurrence with its input stage and readout in one autograd node, chunk by chunk.

For z_t = U x_t + b and h_t = W h_{t-1} + z_t (h_0 given, or zero), followed by a
readout of the states (:mod:`.readout`: every state, the last one, the logits
V σ(h_t) + c, or their mean cross-entropy), :func:`sequence_forward` never holds more
than one chunk of C steps of (B, n) tensors:

* forward: for each chunk, the input stage writes z (C, B, n) (:mod:`.inputs`), the
  operator's kernel runs the recurrence from the state before the chunk
  (:mod:`qornn.operators.kernels`) and the readout consumes the states; only the state
  at each chunk boundary is kept (gradient checkpointing: (T/C, B, n) memory);
* backward: the chunks in reverse; each is recomputed from its boundary state (the
  same operations, hence exactly the same states), the readout gives e_t = ∂L/∂h_t,
  the kernel runs the adjoint recurrence g_t = e_t + g_{t+1}·W and accumulates the
  gradient of W's tensors, and the input stage those of U, b and x (g_t = ∂L/∂z_t).

The kernel works in the operator's frame (a permutation p of the state coordinates):
U, b, V and h_0 are permuted here, outside the node, so autograd maps their gradients back.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.autograd.function import once_differentiable

from ..errors import ConfigError
from ..operators import RecurrentOperator
from .inputs import InputStage
from ..activations import SIGMAS
from .readout import LastReadout, LogitsReadout, LossReadout, StatesReadout

READOUTS = ("states", "last", "all", "loss")
#: Target number of floats in one (C, B, n) chunk buffer (C = this / (B·n), clamped).
CHUNK_ELEMENTS = 1 << 19
CHUNK_MIN, CHUNK_MAX = 4, 64


def chunk_size(batch: int, n: int) -> int:
    return max(CHUNK_MIN, min(CHUNK_MAX, CHUNK_ELEMENTS // max(1, batch * n)))


@dataclass(frozen=True)
class SequenceProblem:
    """What the fused engine runs: inputs → linear recurrence → readout (see the module docstring)."""

    inputs: torch.Tensor  # token ids (B, T) or features (B, T, F)
    input_weight: torch.Tensor  # U (n, vocabulary or F)
    input_bias: torch.Tensor | None  # b (n,)
    operator: RecurrentOperator  # W
    readout: str  # one of READOUTS
    activation: str = "identity"  # σ of the readouts ``all`` and ``loss``: relu, tanh or identity
    output_weight: torch.Tensor | None = None  # V (K, n)
    output_bias: torch.Tensor | None = None  # c (K,)
    initial_state: torch.Tensor | None = None  # h_0 (B, n)
    targets: torch.Tensor | None = None  # class indices (B, T) for the readout ``loss``

    def __post_init__(self):
        if self.readout not in READOUTS:
            raise ConfigError(f"readout={self.readout!r} is not allowed; use one of {', '.join(READOUTS)}")
        if self.readout in ("all", "loss") and (self.activation not in SIGMAS or self.output_bias is None):
            raise ConfigError(f"readout={self.readout!r} needs V, c and σ in {', '.join(SIGMAS)}")


@dataclass(frozen=True)
class _Spec:
    """The non-tensor facts of one call of the node."""

    readout: str
    activation: str
    chunk: int
    operator: RecurrentOperator  # the structure; its tensors are passed to the node separately


@dataclass
class _Pass:
    """What one forward or backward pass of the node works with."""

    kernel: object  # the operator's StepKernel
    inputs: InputStage
    readout: object  # one of the readouts of .readout
    chunks: list  # (t0, t1) of each chunk
    bounds: torch.Tensor | None  # the kernel's carry before each chunk (len(chunks), B, n)


@dataclass(frozen=True)
class _Needs:
    """Which gradients the backward pass computes."""

    x: bool
    u: bool
    b: bool
    v: bool
    c: bool
    h0: bool
    op: bool  # any of W's tensors

    @property
    def adjoint(self) -> bool:
        return self.x or self.u or self.b or self.h0 or self.op


def _make_pass(spec: _Spec, x, u, b, v, c, y, probs, tensors, bounds) -> _Pass:
    batch, steps = x.shape[0], x.shape[1]
    op = spec.operator.replace(*tensors)
    if spec.readout == "states":
        readout = StatesReadout(batch, steps, op.n, u)
    elif spec.readout == "last":
        readout = LastReadout(steps)
    elif spec.readout == "all":
        readout = LogitsReadout(v, c, spec.activation, batch, steps)
    else:
        readout = LossReadout(v, c, spec.activation, batch, steps, y, probs)
    chunks = [(t0, min(t0 + spec.chunk, steps)) for t0 in range(0, steps, spec.chunk)]
    return _Pass(op.kernel(batch, spec.chunk, u), InputStage(x, u, b, spec.chunk), readout, chunks, bounds)


def run_forward(p: _Pass, h0: torch.Tensor | None) -> torch.Tensor:
    """The node's output; stores the kernel's carry before each chunk in ``p.bounds`` (when given)."""
    p.kernel.reset()
    if h0 is not None:
        p.kernel.set_state(h0)
    p.readout.start_forward()
    last = None
    for k, (t0, t1) in enumerate(p.chunks):
        if p.bounds is not None:
            p.kernel.save_carry(p.bounds[k])
        if p.readout.keeps_states:
            p.readout.forward(p.inputs.forward(p.kernel, t0, t1, p.readout.activation), t0, t1)
        else:
            last = p.kernel.advance(p.inputs.chunk(t0, t1), last=t1 == p.chunks[-1][1])
    return p.readout.finish(last)


def run_backward(p: _Pass, grad_out: torch.Tensor, need: _Needs) -> tuple:
    """Gradients (x, U, b, V, c, h_0, W's tensors) from ∂L/∂output (None where not needed)."""
    recompute = p.readout.keeps_states and (p.readout.needs_states_backward or need.op)
    p.kernel.reset()
    p.readout.start_backward(grad_out, need.v, need.c)
    p.inputs.start_backward(need.x, need.u, need.b)
    ebuf = torch.empty_like(p.inputs.zbuf)
    for k in range(len(p.chunks) - 1, -1, -1):
        t0, t1 = p.chunks[k]
        e = ebuf[:t1 - t0]
        p.kernel.load_carry(p.bounds[k])
        states = p.inputs.forward(p.kernel, t0, t1, p.readout.activation) if recompute else None
        p.readout.backward(states, t0, t1, e)
        if not need.adjoint:
            continue
        g = p.inputs.adjoint(p.kernel, e, t0, t1)  # also the gradients of U, b, x
        if need.op and p.readout.keeps_states:
            p.kernel.accumulate(g)
        elif need.op:  # no states yet: replay the chunk's alongside its adjoints
            p.kernel.replay(p.inputs.chunk(t0, t1), g)
    grad_x, grad_u, grad_b = p.inputs.grads()
    grad_v, grad_c = p.readout.grads()
    grad_h0 = p.kernel.grad_initial_state() if need.h0 else None
    grad_op = p.kernel.tensor_grads() if need.op else (None,) * len(p.kernel.op.tensor_fields)
    return (grad_x, grad_u, grad_b, grad_v, grad_c, grad_h0, *grad_op)


class FusedRecurrence(torch.autograd.Function):
    """out = FusedRecurrence.apply(spec, x, U, b, V, c, h0, targets, *W's tensors) (see the module docstring)."""

    @staticmethod
    def forward(ctx, spec, x, u, b, v, c, h0, y, *tensors):
        keep = any(ctx.needs_input_grad)  # what the backward pass needs
        batch, steps, n = x.shape[0], x.shape[1], u.shape[0]
        chunks = -(-steps // spec.chunk)
        bounds = u.new_empty(chunks, batch, n) if keep else None
        probs = u.new_empty(v.shape[0], steps, batch) if keep and spec.readout == "loss" else None
        out = run_forward(_make_pass(spec, x, u, b, v, c, y, probs, tensors, bounds), h0)
        ctx.spec = spec
        ctx.save_for_backward(x, u, b, v, c, h0, y, bounds, probs, *tensors)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        x, u, b, v, c, h0, y, bounds, probs, *tensors = ctx.saved_tensors
        p = _make_pass(ctx.spec, x, u, b, v, c, y, probs, tensors, bounds)
        flags = ctx.needs_input_grad  # spec, x, U, b, V, c, h0, targets, *tensors
        need = _Needs(*flags[1:7], op=any(flags[8:]))
        grad_x, grad_u, grad_b, grad_v, grad_c, grad_h0, *grad_op = run_backward(p, grad_out, need)
        return None, grad_x, grad_u, grad_b, grad_v, grad_c, grad_h0, None, *grad_op


def _framed(problem: SequenceProblem):
    """(spec, node arguments, inverse permutation or None): the problem in its operator's frame."""
    op = problem.operator
    u, b, v, h0 = problem.input_weight, problem.input_bias, problem.output_weight, problem.initial_state
    perm, inv = op.frame, None
    if perm is not None:  # h' = h[..., perm]: permute the weights, not the states
        inv = torch.argsort(perm)
        u, b = u[perm], (b[perm] if b is not None else None)
        v = v[:, perm] if v is not None else None
        h0 = h0[:, perm] if h0 is not None else None
    readout = problem.readout
    spec = _Spec(readout, problem.activation, chunk_size(problem.inputs.shape[0], op.n), op.detach())
    args = (problem.inputs, u, b, v, problem.output_bias, h0, problem.targets, *op.tensors())
    return spec, args, inv


def sequence_forward(problem: SequenceProblem) -> torch.Tensor:
    """The readout's output: states (B, T, n), h_T (B, n), logits (B, T, K) or the mean cross-entropy."""
    spec, args, inv = _framed(problem)
    out = FusedRecurrence.apply(spec, *args)
    if inv is not None and problem.readout in ("states", "last"):
        out = out[..., inv]
    return out


def kernel_name(problem: SequenceProblem) -> str:
    """Which kernel :func:`sequence_forward` runs for this problem (e.g. ``sign-fht``, ``dense``)."""
    return problem.operator.kernel(problem.inputs.shape[0], 1, problem.input_weight).name
