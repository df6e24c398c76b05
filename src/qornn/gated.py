"""Gated baselines: LSTM and GRU with the interface of :class:`qornn.model.OrthoRNN`.

Same call as ``OrthoRNN`` (and ``torch.nn.LSTM/GRU(batch_first=True)``): input
(batch, time, features) or integer token ids (batch, time), output
``(states, h_n)`` with states (batch, time, n) and h_n (1, batch, n).  Parameters
have the names, shapes and gate order of ``torch.nn.LSTM`` / ``torch.nn.GRU``
(``weight_ih_l0`` (G·n, d), ``weight_hh_l0`` (G·n, n), ``bias_ih_l0``, ``bias_hh_l0``;
gates i, f, g, o for LSTM and r, z, n for GRU), so weights load into either.

Initialisation is torch's (uniform ±1/√n) except that the LSTM forget-gate bias
starts at 1 + U(±1/√n) (Jozefowicz, Zaremba & Sutskever, ICML 2015), without
which an LSTM sits at the copy task's memoryless baseline for thousands of steps.

``input_bits`` / ``recurrent_bits`` put the same per-tensor k-bit STE quantizer as
U and V (:class:`qornn.quant.UniformQuantizer`) on ``weight_ih_l0`` / ``weight_hh_l0``
(quantized LSTM/GRU rows of comparison tables); biases stay full precision.  The
input projection is computed for all steps at once and the quantized recurrent
matrix once per forward; only the gate arithmetic runs per step.

>>> import torch
>>> lstm = GatedRNN(3, 8, "lstm", recurrent_bits=4)
>>> out, h_n = lstm(torch.randn(2, 5, 3))
>>> tuple(out.shape), tuple(h_n.shape), len(torch.unique(lstm.weight_hh_l0)) <= 16
((2, 5, 8), (1, 2, 8), True)
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .errors import ConfigError
from .layout import from_batch_first, initial_state, project_inputs, to_batch_first
from .quant import check_bits, quantize_weight_

CELLS = {"lstm": 4, "gru": 3}


class GatedRNN(nn.Module):
    """Single-layer LSTM or GRU, optionally with k-bit quantized weight matrices."""

    #: σ is inside the cell; SequenceModel reads the states as they are.
    linear_recurrence = False

    def __init__(self, input_size: int, hidden_size: int, cell: str = "lstm", *, input_bits: int | None = None,
                 recurrent_bits: int | None = None, batch_first: bool = True):
        super().__init__()
        if cell not in CELLS:
            raise ConfigError(f"gated cell {cell!r} is unknown; allowed: {', '.join(CELLS)}")
        if not isinstance(hidden_size, int) or hidden_size < 1:
            raise ConfigError(f"model.hidden_size={hidden_size!r} is not allowed; use a positive integer")
        if not isinstance(input_size, int) or input_size < 1:
            raise ConfigError(f"input_size={input_size!r} is not allowed; use a positive integer")
        self.cell, self.recurrent = cell, cell
        self.input_size, self.hidden_size = input_size, hidden_size
        self.batch_first = batch_first
        self.input_bits = check_bits(input_bits, "model.input_bits")
        self.recurrent_bits = check_bits(recurrent_bits, "model.recurrent_bits")
        g = CELLS[cell] * hidden_size
        self.weight_ih_l0 = nn.Parameter(torch.empty(g, input_size))
        self.weight_hh_l0 = nn.Parameter(torch.empty(g, hidden_size))
        self.bias_ih_l0 = nn.Parameter(torch.empty(g))
        self.bias_hh_l0 = nn.Parameter(torch.empty(g))
        bound = 1.0 / math.sqrt(hidden_size)  # torch.nn.LSTM/GRU initialisation ...
        for p in (self.weight_ih_l0, self.weight_hh_l0, self.bias_ih_l0, self.bias_hh_l0):
            nn.init.uniform_(p, -bound, bound)
        if cell == "lstm":  # ... plus 1 on the forget gate (Jozefowicz et al., ICML 2015): remember by default
            with torch.no_grad():
                self.bias_ih_l0[hidden_size:2 * hidden_size] += 1.0
        self.activation = nn.Identity()
        quantize_weight_(self, "weight_ih_l0", self.input_bits)
        quantize_weight_(self, "weight_hh_l0", self.recurrent_bits)

    def input_projection(self, x: torch.Tensor) -> torch.Tensor:
        """U x_t + b_ih for all steps: (B, T, G·n). Integer x is read as token ids."""
        return project_inputs(x, self.weight_ih_l0, self.bias_ih_l0, self.input_size)

    def forward(self, x: torch.Tensor, h0=None):
        x, batched = to_batch_first(x, self.batch_first)
        z = self.input_projection(x)
        batch, n = z.shape[0], self.hidden_size
        c = None
        if isinstance(h0, tuple):  # LSTM (h0, c0)
            h0, c = h0
        h = initial_state(h0, batch, n, z, "initial state")
        if self.cell == "lstm":
            c = initial_state(c, batch, n, z, "initial state")
        whh = self.weight_hh_l0.t()  # quantized once per forward
        bhh = self.bias_hh_l0
        states = []
        for z_t in z.unbind(1):
            gh = h @ whh + bhh
            if self.cell == "lstm":
                i, f, g, o = (z_t + gh).chunk(4, dim=-1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
            else:
                ir, iz, in_ = z_t.chunk(3, dim=-1)
                hr, hz, hn = gh.chunk(3, dim=-1)
                r = torch.sigmoid(ir + hr)
                u = torch.sigmoid(iz + hz)
                h = (1 - u) * torch.tanh(in_ + r * hn) + u * h
            states.append(h)
        out = torch.stack(states, 1) if states else z.new_zeros(batch, 0, n)
        return from_batch_first(out, h.unsqueeze(0), batched, self.batch_first)

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, cell={self.cell!r}, input_bits={self.input_bits}, "
                f"recurrent_bits={self.recurrent_bits}")
