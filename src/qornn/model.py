"""Orthogonal RNNs with quantized weights, as drop-in ``torch.nn`` modules.

:class:`OrthoRNN` is the recurrence (interface of ``torch.nn.RNN(batch_first=True)``):

    linear (HadamRNN default):  h_t = W h_{t-1} + U x_t + b
    non-linear (classic ORNN):  h_t = σ(W h_{t-1} + U x_t + b)

with W given by a recurrent scheme (``qornn.recurrent``) and U quantized to p bits.
:class:`SequenceModel` adds an optional token embedding and the readout
y_t = V σ(h_t) + c (σ applied here only when the recurrence is linear), many-to-many
or many-to-one (last state, or mean over non-padding steps).

>>> import torch
>>> rnn = OrthoRNN(10, 64, recurrent="hadamard", input_bits=4)
>>> out, h_n = rnn(torch.randn(2, 7, 10))
>>> tuple(out.shape), tuple(h_n.shape)
((2, 7, 64), (1, 2, 64))
"""
from __future__ import annotations

import math
from typing import Mapping

import torch
from torch import nn

from . import engine as engines
from .activations import SIGMAS, make_activation
from .errors import ConfigError
from .layout import check_inputs, from_batch_first, initial_state, project_inputs, to_batch_first
from .operators import DenseOperator, RecurrentOperator
from .quant import check_bits, quantize_weight_
from .recurrent import attach, build_scheme, latent_of, scheme_of

__all__ = ["OrthoRNN", "SequenceModel", "build_model", "quantize_weight_"]


class OrthoRNN(nn.Module):
    """Single-layer RNN with a structured recurrent matrix (see module docstring).

    Args:
        input_size: features per step, or vocabulary size when called on integer tokens
            (then U x_t is the column of U for token x_t, a one-hot product).
        hidden_size: n.
        recurrent: scheme name (``hadamard``, ``block-hadamard``, ``dense``, ...).
        input_bits: p for U (None = full precision).
        recurrent_bits: k, a k-bit STE quantizer on W after the scheme (QORNN; 2..8, None = off).
        recurrent_rescale: ``none``, or ``radius``: Q_k(W) / max(1, ρ(Q_k(W))), so that rounding does not
            push the spectral radius above 1 (needs ``recurrent_bits``; see :mod:`qornn.quant`).
        ortho_penalty: λ of the loss term λ‖WᵀW − I‖²_F on the effective W (:meth:`penalty`).
        nonlinearity: σ (``relu``, ``tanh``, ``identity``, ``modrelu``).
        linear_recurrence: σ outside (True) or inside (False) the recurrence.
        scheme_options: further options of the scheme (``block_size``, ``ste``, ...).
        engine: ``auto`` (structured operator, fastest path) or ``reference`` (dense loop).

    Parameters follow ``nn.RNN`` names: ``weight_ih_l0`` (U), ``weight_hh_l0`` (W),
    ``bias_hh_l0`` (b).
    """

    def __init__(self, input_size: int, hidden_size: int, recurrent: str = "hadamard", *,
                 input_bits: int | None = None, nonlinearity: str = "relu", linear_recurrence: bool = True,
                 bias: bool = True, batch_first: bool = True, engine: str = "auto",
                 scheme_options: Mapping | None = None, recurrent_bits: int | None = None,
                 recurrent_rescale: str = "none", ortho_penalty: float = 0.0):
        super().__init__()
        if not isinstance(hidden_size, int) or hidden_size < 1:
            raise ConfigError(f"model.hidden_size={hidden_size!r} is not allowed; use a positive integer")
        if not isinstance(input_size, int) or input_size < 1:
            raise ConfigError(f"input_size={input_size!r} is not allowed; use a positive integer")
        if engine not in engines.ENGINES:
            raise ConfigError(f"model.engine={engine!r} is unknown; allowed: {', '.join(engines.ENGINES)}")
        self.input_size, self.hidden_size = input_size, hidden_size
        self.batch_first = batch_first
        self.linear_recurrence = bool(linear_recurrence)
        self.engine = engine
        self.recurrent = recurrent
        self.input_bits = check_bits(input_bits, "model.input_bits")
        scheme = build_scheme(recurrent, hidden_size, scheme_options)
        self.recurrent_bits = check_recurrent_bits(scheme, recurrent_bits)
        self.recurrent_rescale = check_recurrent_rescale(recurrent_rescale, self.recurrent_bits)
        if isinstance(ortho_penalty, bool) or not isinstance(ortho_penalty, (int, float)) or not ortho_penalty >= 0:
            raise ConfigError(f"model.ortho_penalty={ortho_penalty!r} is not allowed; use a number >= 0")
        self.ortho_penalty = float(ortho_penalty)

        self.weight_ih_l0 = nn.Parameter(torch.empty(hidden_size, input_size))
        self.weight_hh_l0 = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.bias_hh_l0 = nn.Parameter(torch.empty(hidden_size)) if bias else None
        self.activation = make_activation(nonlinearity, hidden_size)
        self.nonlinearity = nonlinearity
        nn.init.xavier_uniform_(self.weight_ih_l0)
        if self.bias_hh_l0 is not None:
            bound = 1.0 / math.sqrt(hidden_size)
            nn.init.uniform_(self.bias_hh_l0, -bound, bound)
        attach(self, "weight_hh_l0", scheme)
        quantize_weight_(self, "weight_ih_l0", self.input_bits)
        quantize_weight_(self, "weight_hh_l0", self.recurrent_bits,  # after the scheme: Q_k(W(latent))
                         bound_radius=self.recurrent_rescale == "radius")

    # -- pieces --------------------------------------------------------------------------
    @property
    def scheme(self):
        return scheme_of(self, "weight_hh_l0")

    @property
    def recurrent_latent(self) -> torch.Tensor:
        return latent_of(self, "weight_hh_l0")

    def penalty(self) -> torch.Tensor | float:
        """λ‖WᵀW − I‖²_F of the effective W (k-bit quantized, with an STE, when recurrent_bits is set)."""
        if not self.ortho_penalty:
            return 0.0
        w = self.weight_hh_l0
        eye = torch.eye(self.hidden_size, dtype=w.dtype, device=w.device)
        return self.ortho_penalty * (w.t() @ w - eye).pow(2).sum()

    def input_projection(self, x: torch.Tensor) -> torch.Tensor:
        """z = U x_t + b for all steps: (B, T, n). Integer x is read as token ids."""
        return project_inputs(x, self.weight_ih_l0, self.bias_hh_l0, self.input_size)

    def recurrent_operator(self) -> RecurrentOperator:
        """W as an operator, computed once: the scheme's own (e.g. signs + block size + permutation + scale),
        or the dense W when further parametrizations follow the scheme (k-bit quantization of W).

        ``rnn.recurrent_operator().detach().describe()`` gives the facts of the trained W (for export).
        """
        scheme = self.scheme
        if scheme is None or len(self.parametrizations.weight_hh_l0) > 1:
            return DenseOperator(self.weight_hh_l0)
        return scheme.operator(self.recurrent_latent)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None):
        x, batched = to_batch_first(x, self.batch_first)
        if self.engine == "auto" and self.linear_recurrence and x.shape[0] and x.shape[1]:
            check_inputs(x, self.input_size)
            h = initial_state(h0, x.shape[0], self.hidden_size, self.weight_ih_l0) if h0 is not None else None
            problem = engines.SequenceProblem(x, self.weight_ih_l0, self.bias_hh_l0, self.recurrent_operator(),
                                              "states", initial_state=h)
            states = engines.sequence_forward(problem)
        else:
            z = self.input_projection(x)
            h = initial_state(h0, z.shape[0], self.hidden_size, z)
            if self.engine == "auto" and not self.linear_recurrence:
                states = engines.nonlinear_states(z, h, self.recurrent_operator().dense(), self.activation)
            else:  # the reference: the parametrized W (its definition), once per forward, and a step loop
                wt = self.weight_hh_l0.t()
                activation = None if self.linear_recurrence else self.activation
                states = engines.step_loop(z, lambda h_prev: h_prev @ wt, h, activation)
        return from_batch_first(states, states[:, -1].unsqueeze(0), batched, self.batch_first)

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, recurrent={self.recurrent!r}, input_bits={self.input_bits}, "
                f"nonlinearity={self.nonlinearity!r}, linear_recurrence={self.linear_recurrence}")


READOUTS = ("all", "last", "mean")


class SequenceModel(nn.Module):
    """[embedding] → OrthoRNN → readout y = V σ(h) + c (V quantized to ``output_bits``)."""

    def __init__(self, rnn: nn.Module, output_size: int, output_bits: int | None = None, readout: str = "all",
                 embedding: nn.Embedding | None = None, padding_idx: int | None = None):
        super().__init__()
        if readout not in READOUTS:
            raise ConfigError(f"model.readout={readout!r} is unknown; allowed: {', '.join(READOUTS)}")
        self.embedding = embedding
        self.rnn = rnn
        self.readout = readout
        self.padding_idx = padding_idx
        self.output_bits = check_bits(output_bits, "model.output_bits")
        self.output = nn.Linear(rnn.hidden_size, output_size)
        nn.init.xavier_uniform_(self.output.weight)
        quantize_weight_(self.output, "weight", self.output_bits)

    def features(self, states: torch.Tensor) -> torch.Tensor:
        linear = getattr(self.rnn, "linear_recurrence", False)
        return self.rnn.activation(states) if linear else states

    def sequence_problem(self, x: torch.Tensor) -> "engines.SequenceProblem | None":
        """``self(x)`` as a problem of the fused engine (linear recurrence, engine ``auto``, readout ``all``
        with σ in relu/tanh/identity or ``last``), or None when the generic path runs."""
        rnn = self.rnn
        if not (isinstance(rnn, OrthoRNN) and rnn.engine == "auto" and rnn.linear_recurrence and rnn.batch_first):
            return None
        if self.readout not in ("all", "last") or x.dim() < 2 or x.shape[0] == 0 or x.shape[1] == 0:
            return None
        if self.readout == "all" and (rnn.nonlinearity not in SIGMAS or self.output.bias is None):
            return None
        inp = x
        if self.embedding is not None:
            inp = self.embedding(x)
        elif x.dim() != (2 if not torch.is_floating_point(x) else 3):
            return None
        check_inputs(inp, rnn.input_size)
        if self.readout == "last":
            return engines.SequenceProblem(inp, rnn.weight_ih_l0, rnn.bias_hh_l0, rnn.recurrent_operator(), "last")
        return engines.SequenceProblem(inp, rnn.weight_ih_l0, rnn.bias_hh_l0, rnn.recurrent_operator(), "all",
                                       rnn.nonlinearity, self.output.weight, self.output.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        problem = self.sequence_problem(x)  # linear recurrence, engine=auto: no (B, T, n) tensors
        if problem is not None:
            out = engines.sequence_forward(problem)
            return out if self.readout == "all" else self.output(self.rnn.activation(out))
        tokens = x if not torch.is_floating_point(x) else None
        inp = self.embedding(x) if self.embedding is not None else x
        states, _ = self.rnn(inp)
        feats = self.features(states)
        if self.readout == "last":
            feats = feats[:, -1]
        elif self.readout == "mean":
            if tokens is not None and self.padding_idx is not None:
                mask = (tokens != self.padding_idx).to(feats.dtype).unsqueeze(-1)
                feats = (feats * mask).sum(1) / mask.sum(1).clamp_min(1.0)
            else:
                feats = feats.mean(1)
        return self.output(feats)


RECURRENT_BITS = (2, 8)


def check_recurrent_bits(scheme, bits):
    """k for W: None, or an integer in [2, 8] with a scheme whose W is not already on a low-bit set."""
    if bits is None:
        return None
    lo, hi = RECURRENT_BITS
    if isinstance(bits, bool) or not isinstance(bits, int) or not lo <= bits <= hi:
        raise ConfigError(f"model.recurrent_bits={bits!r} is out of range; allowed: an integer from {lo} to {hi} "
                          f"or null (for a binary/ternary orthogonal W use recurrent=hadamard or block-hadamard)")
    if scheme.value_set is not None:
        raise ConfigError(f"model.recurrent_bits={bits} is not allowed with model.recurrent={scheme.name!r} (W is "
                          f"already {scheme.value_set[0]}); set recurrent_bits=null or use another scheme")
    return bits


#: How a k-bit W is rescaled after rounding: not at all, or down to spectral radius 1 when above it.
RECURRENT_RESCALES = ("none", "radius")


def check_recurrent_rescale(rescale, bits):
    """``none`` or ``radius``; ``radius`` only with a k-bit W (``recurrent_bits``)."""
    if rescale not in RECURRENT_RESCALES:
        raise ConfigError(f"model.recurrent_rescale={rescale!r} is unknown; allowed: {', '.join(RECURRENT_RESCALES)}")
    if rescale != "none" and bits is None:
        raise ConfigError(f"model.recurrent_rescale={rescale!r} needs a k-bit W; set model.recurrent_bits (2..8) "
                          f"or model.recurrent_rescale=none")
    return rescale


def build_model(mcfg, info) -> SequenceModel:
    """The model described by ``cfg.model`` for a task with :class:`~qornn.tasks.TaskInfo` ``info``."""
    for key in ("weight_bits", "input_bits", "output_bits"):
        check_bits(getattr(mcfg, key), f"model.{key}")
    embedding = None
    input_size = info.input_size
    if info.input_kind == "tokens" and mcfg.embedding_dim:
        embedding = nn.Embedding(info.input_size, mcfg.embedding_dim, padding_idx=info.padding_idx)
        input_size = mcfg.embedding_dim
    options = {k: getattr(mcfg, k) for k in vars(mcfg)}
    from .gated import CELLS, GatedRNN
    from .recurrent import SCHEMES

    if mcfg.recurrent not in SCHEMES and mcfg.recurrent not in CELLS:
        raise ConfigError(f"model.recurrent={mcfg.recurrent!r} is unknown; allowed: "
                          f"{', '.join(sorted(SCHEMES) + sorted(CELLS))}")
    if mcfg.recurrent in CELLS and mcfg.recurrent_rescale != "none":
        raise ConfigError(f"model.recurrent_rescale={mcfg.recurrent_rescale!r} is not allowed with model.recurrent="
                          f"{mcfg.recurrent!r} (its W is not square); use none or an orthogonal scheme")
    if mcfg.recurrent in CELLS and mcfg.ortho_penalty:
        raise ConfigError(f"model.ortho_penalty={mcfg.ortho_penalty} is not allowed with model.recurrent="
                          f"{mcfg.recurrent!r} (its W is not square); use 0 or an orthogonal scheme")
    if mcfg.recurrent in CELLS:  # LSTM / GRU baselines (U and W optionally quantized)
        rnn = GatedRNN(input_size, mcfg.hidden_size, mcfg.recurrent, input_bits=mcfg.input_bits,
                       recurrent_bits=mcfg.recurrent_bits)
    else:
        rnn = OrthoRNN(input_size, mcfg.hidden_size, mcfg.recurrent, input_bits=mcfg.input_bits,
                       nonlinearity=mcfg.nonlinearity, linear_recurrence=mcfg.linear_recurrence, engine=mcfg.engine,
                       scheme_options=options, recurrent_bits=mcfg.recurrent_bits,
                       recurrent_rescale=mcfg.recurrent_rescale, ortho_penalty=mcfg.ortho_penalty)
    readout = "all" if info.many_to_many else mcfg.readout
    if readout == "all" and not info.many_to_many:
        raise ConfigError("model.readout='all' needs a many-to-many task; use 'last' or 'mean'")
    return SequenceModel(rnn, info.output_size, mcfg.output_bits, readout, embedding, info.padding_idx)
