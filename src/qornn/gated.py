"""Gated baselines: ``torch.nn.LSTM`` / ``torch.nn.GRU`` with the interface of :class:`qornn.model.OrthoRNN`.

``GatedRNN(input_size, hidden_size, "lstm" | "gru")`` is a :class:`GatedLSTM` or
:class:`GatedGRU`: torch's own module (one layer, ``batch_first=True``; its fused CPU
and GPU kernels, its parameter names, shapes and gate order: i, f, g, o for LSTM and
r, z, n for GRU), called like ``OrthoRNN``: input (batch, time, features) or integer
token ids (batch, time), output ``(states, h_n)`` with states (batch, time, n) and
h_n (1, batch, n).  Token ids are fed as one-hot vectors (exact: column x_t of U); for
large vocabularies give the model an embedding (``model.embedding_dim``).

Initialisation is torch's (uniform ±1/√n) except that the LSTM forget-gate bias
starts at 1 + U(±1/√n) (Jozefowicz, Zaremba & Sutskever, ICML 2015), without
which an LSTM sits at the copy task's memoryless baseline for thousands of steps.

``input_bits`` / ``recurrent_bits`` put the per-tensor k-bit STE quantizer of U and V
(:class:`qornn.quant.UniformQuantizer`) on ``weight_ih_l0`` / ``weight_hh_l0`` as
parametrizations (quantized LSTM/GRU rows of comparison tables), computed once per
forward; biases stay full precision.

>>> import torch
>>> lstm = GatedRNN(3, 8, "lstm", recurrent_bits=4)
>>> out, h_n = lstm(torch.randn(2, 5, 3))
>>> tuple(out.shape), tuple(h_n.shape), len(torch.unique(lstm.weight_hh_l0)) <= 16, isinstance(lstm, torch.nn.LSTM)
((2, 5, 8), (1, 2, 8), True, True)
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from .errors import ConfigError
from .layout import check_inputs, from_batch_first, initial_state, to_batch_first
from .quant import check_bits, quantize_weight_

__all__ = ["GatedRNN", "GatedLSTM", "GatedGRU", "CELLS"]


class GatedRNN(nn.Module):
    """An LSTM or GRU baseline: ``GatedRNN(input_size, hidden_size, cell)`` builds the subclass for ``cell``."""

    #: σ is inside the cell; SequenceModel reads the states as they are.
    linear_recurrence = False

    def __new__(cls, input_size: int = 1, hidden_size: int = 1, cell: str = "lstm", **kwargs):
        if cls is GatedRNN:
            if cell not in CELLS:
                raise ConfigError(f"gated cell {cell!r} is unknown; allowed: {', '.join(CELLS)}")
            cls = CELLS[cell]
        return super().__new__(cls)

    def _setup(self, cell: str, input_bits, recurrent_bits, batch_first: bool) -> None:
        """What qornn adds to torch's module (called by the subclasses after torch's __init__)."""
        self.cell, self.recurrent = cell, cell
        self.qornn_batch_first = batch_first
        self.input_bits = check_bits(input_bits, "model.input_bits")
        self.recurrent_bits = check_bits(recurrent_bits, "model.recurrent_bits")
        self.activation = nn.Identity()
        quantize_weight_(self, "weight_ih_l0", self.input_bits)
        quantize_weight_(self, "weight_hh_l0", self.recurrent_bits)

    def forward(self, x: torch.Tensor, h0=None):
        x, batched = to_batch_first(x, self.qornn_batch_first)
        check_inputs(x, self.input_size)
        if not torch.is_floating_point(x):
            x = F.one_hot(x, self.input_size).to(self.bias_ih_l0.dtype)
        hx = self._initial(h0, x)
        with parametrize.cached():  # the quantized weights once per forward
            out, state = super().forward(x, hx)
        h_n = state[0] if isinstance(state, tuple) else state
        return from_batch_first(out, h_n, batched, self.qornn_batch_first)

    def _initial(self, h0, x):
        batch, n = x.shape[0], self.hidden_size
        if self.cell == "lstm":
            h, c = h0 if isinstance(h0, tuple) else (h0, None)
            return (initial_state(h, batch, n, x, "initial state").unsqueeze(0),
                    initial_state(c, batch, n, x, "initial state").unsqueeze(0))
        return initial_state(h0, batch, n, x, "initial state").unsqueeze(0)

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, cell={self.cell!r}, input_bits={self.input_bits}, "
                f"recurrent_bits={self.recurrent_bits}")


def _check_sizes(input_size, hidden_size) -> None:
    if not isinstance(hidden_size, int) or hidden_size < 1:
        raise ConfigError(f"model.hidden_size={hidden_size!r} is not allowed; use a positive integer")
    if not isinstance(input_size, int) or input_size < 1:
        raise ConfigError(f"input_size={input_size!r} is not allowed; use a positive integer")


class GatedLSTM(GatedRNN, nn.LSTM):
    """``torch.nn.LSTM`` (forget-gate bias + 1) with qornn's interface and optional k-bit weights."""

    def __init__(self, input_size: int, hidden_size: int, cell: str = "lstm", *, input_bits: int | None = None,
                 recurrent_bits: int | None = None, batch_first: bool = True):
        _check_sizes(input_size, hidden_size)
        nn.LSTM.__init__(self, input_size, hidden_size, batch_first=True)
        with torch.no_grad():  # remember by default (Jozefowicz et al., ICML 2015)
            self.bias_ih_l0[hidden_size:2 * hidden_size] += 1.0
        self._setup("lstm", input_bits, recurrent_bits, batch_first)


class GatedGRU(GatedRNN, nn.GRU):
    """``torch.nn.GRU`` with qornn's interface and optional k-bit weights."""

    def __init__(self, input_size: int, hidden_size: int, cell: str = "gru", *, input_bits: int | None = None,
                 recurrent_bits: int | None = None, batch_first: bool = True):
        _check_sizes(input_size, hidden_size)
        nn.GRU.__init__(self, input_size, hidden_size, batch_first=True)
        self._setup("gru", input_bits, recurrent_bits, batch_first)


CELLS = {"lstm": GatedLSTM, "gru": GatedGRU}
