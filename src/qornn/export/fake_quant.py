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
        self.parities = [self._parity(spec, p) for p in range(spec.parities)]
        self.register_buffer("v", torch.as_tensor(spec.output_weight, dtype=torch.float64))

    @staticmethod
    def _parity(spec, parity: int) -> dict:
        """The operator and the tables of the steps of one parity, in units of that parity's grid."""
        p = spec.step_params(parity)
        g = spec.fraction_bits * parity
        mod = p["modrelu_bias"]
        return {"op": spec.recurrent_operator(parity), "u": _pow2(p["input_weight"], -g),
                "b": _pow2(p["bias"], spec.bias_exponent - g),
                "mod": None if mod is None else _pow2(mod, spec.modrelu_exponent - g),
                "c": torch.as_tensor(p["output_bias"], dtype=torch.float64), "scale": p["output_scale"]}

    def quantize_state(self, z: torch.Tensor) -> torch.Tensor:
        lo, hi = self.spec.state_range
        step = 2.0 ** self.spec.state_exponent
        return torch.clamp(torch.floor(z / step + 0.5), lo, hi) * step

    def input_terms(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """U x̃_t for all steps (B, T, n) with the input table u: token columns, or quantized features."""
        spec = self.spec
        if not torch.is_floating_point(x):
            return u.t()[x]
        lo, hi = spec.state_range
        codes = torch.clamp(torch.floor(x.double() * 2.0 ** -spec.input_exponent + 0.5), lo, hi)
        return codes @ u.t()

    @staticmethod
    def recurrent_term(op, h: torch.Tensor) -> torch.Tensor:
        """h·Wᵀ; a signed-Hadamard operator by the butterfly in its frame (the dense product is slower)."""
        if op.kind != "signed-hadamard":
            return op.matvec(h)
        p = op.frame
        r = hadamard_transform(h if p is None else h[..., p], op.block_size, method="fwht") * op.diagonal
        return r if p is None else r[..., torch.argsort(p)]

    def sigma(self, z: torch.Tensor, mod: torch.Tensor | None) -> torch.Tensor:
        name = self.spec.nonlinearity
        if name == "relu":
            return torch.relu(z)
        if name == "modrelu":
            return torch.sign(z) * torch.relu(z.abs() + mod)
        return z

    def readout(self, h: torch.Tensor, tables: dict) -> torch.Tensor:
        f = torch.relu(h) if self.spec.linear and self.spec.nonlinearity == "relu" else h
        return (f * 2.0 ** -self.spec.state_exponent) @ self.v.t() + tables["c"]

    @torch.no_grad()
    def _run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(integer-valued float64 outputs, the output scale of each): (B, T, C) and (T, 1) for readout ``all``,
        (B, C) and a scalar for ``last``.  Step t (1-based) uses the tables of parity t mod P."""
        spec, tables = self.spec, self.parities
        z_in = [self.input_terms(x, t["u"]) for t in tables]
        h = z_in[0].new_zeros(z_in[0].shape[0], spec.n)
        outputs, scales = [], []
        for t in range(z_in[0].shape[1]):
            p = (t + 1) % len(tables)
            cur = tables[p]
            z = self.recurrent_term(cur["op"], h) + z_in[p][:, t] + cur["b"]
            h = self.quantize_state(z if spec.linear else self.sigma(z, cur["mod"]))
            if spec.readout == "all":
                outputs.append(self.readout(h, cur))
                scales.append(cur["scale"])
        if spec.readout == "last":
            last = tables[z_in[0].shape[1] % len(tables)]
            return self.readout(h, last), torch.tensor(last["scale"], dtype=torch.float64)
        return torch.stack(outputs, 1), torch.tensor(scales, dtype=torch.float64).unsqueeze(1)

    def integer_outputs(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs in output units (integer-valued float64): (B, T, C) for readout ``all``, else (B, C)."""
        return self._run(x)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, scale = self._run(x)
        return (out * scale).float()
