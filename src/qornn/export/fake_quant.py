"""The integer model as a PyTorch module: fake quantization in float64, equal to the integer reference.

:class:`IntegerExactModel` runs the recurrence of a :class:`~qornn.export.IntegerModel` on
real values (in units of u, the input step), in the model's own coordinate order, with W
applied by its recurrent operator (fixed-point scale μ·2^{−ρ}) and the state quantizer

    Q(z) = 2^{e_h}·clamp(⌊z·2^{−e_h} + 1/2⌋, −2^{B−1}, 2^{B−1} − 1)

after every step (after σ when σ is inside the recurrence).  Every value is a dyadic number
below 2^52 units of the finest grid, so float64 computes it exactly: the outputs equal those
of the NumPy integer reference bit for bit (tests/test_export.py).  It is what
``qornn eval RUN_Q`` evaluates (``forward`` returns logits, like ``SequenceModel``).
"""
from __future__ import annotations

import torch
from torch import nn

from ..hadamard import hadamard_transform

__all__ = ["IntegerExactModel"]


def _pow2(values, exponent: int) -> torch.Tensor:
    return torch.as_tensor(values, dtype=torch.float64) * 2.0 ** exponent


class IntegerExactModel(nn.Module):
    """``model(x)`` = logits of the integer model ``spec``; ``integer_outputs(x)`` = its integer outputs."""

    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        self.op = spec.recurrent_operator(torch.float64)
        self.register_buffer("u", torch.as_tensor(spec.input_weight, dtype=torch.float64))
        self.register_buffer("b", _pow2(spec.bias, spec.bias_exponent))
        mod = spec.modrelu_bias
        self.register_buffer("mod", None if mod is None else _pow2(mod, spec.modrelu_exponent))
        self.register_buffer("v", torch.as_tensor(spec.output_weight, dtype=torch.float64))
        self.register_buffer("c", torch.as_tensor(spec.output_bias, dtype=torch.float64))

    def quantize_state(self, z: torch.Tensor) -> torch.Tensor:
        lo, hi = self.spec.state_range
        step = 2.0 ** self.spec.state_exponent
        return torch.clamp(torch.floor(z / step + 0.5), lo, hi) * step

    def input_terms(self, x: torch.Tensor) -> torch.Tensor:
        """U_int x̃_t for all steps (B, T, n) in units of u: token columns, or quantized features."""
        spec = self.spec
        if not torch.is_floating_point(x):
            return self.u.t()[x]
        lo, hi = spec.state_range
        codes = torch.clamp(torch.floor(x.double() * 2.0 ** -spec.input_exponent + 0.5), lo, hi)
        return codes @ self.u.t()

    def recurrent_term(self, h: torch.Tensor) -> torch.Tensor:
        """h·Wᵀ; a signed-Hadamard operator by the butterfly in its frame (the dense product is slower)."""
        op = self.op
        if op.kind != "signed-hadamard":
            return op.matvec(h)
        p = op.frame
        r = hadamard_transform(h if p is None else h[..., p], op.block_size, method="fwht") * op.diagonal
        return r if p is None else r[..., torch.argsort(p)]

    def sigma(self, z: torch.Tensor) -> torch.Tensor:
        name = self.spec.nonlinearity
        if name == "relu":
            return torch.relu(z)
        if name == "modrelu":
            return torch.sign(z) * torch.relu(z.abs() + self.mod)
        return z

    def readout(self, h: torch.Tensor) -> torch.Tensor:
        f = self.sigma(h) if self.spec.linear else h
        return (f * 2.0 ** -self.spec.state_exponent) @ self.v.t() + self.c

    @torch.no_grad()
    def integer_outputs(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs in units of Δ_out (integer-valued float64): (B, T, C) for readout ``all``, else (B, C)."""
        spec = self.spec
        z_in = self.input_terms(x)
        h = z_in.new_zeros(z_in.shape[0], spec.n)
        outputs = []
        for t in range(z_in.shape[1]):
            z = self.recurrent_term(h) + z_in[:, t] + self.b
            h = self.quantize_state(z if spec.linear else self.sigma(z))
            if spec.readout == "all":
                outputs.append(self.readout(h))
        return torch.stack(outputs, 1) if spec.readout == "all" else self.readout(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.integer_outputs(x) * self.spec.output_scale).float()
