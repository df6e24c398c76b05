"""Model size accounting and weight diagnostics (what ``qornn info`` prints).

How bits are counted (the true storage cost of what is trained):

* a p-bit quantized matrix (U, V, or a k-bit W): p bits per entry (2 bits for the
  ternary p = 1), plus one 32-bit scale α;
* HadamRNN W: n bits (the signs; S_n is implied by n);
* Block-HadamRNN W: n bits (the signs; the block structure and the optional
  permutation are implied by m and the seed). ``dense_bits`` (from the scheme) gives, for comparison,
  the cost of storing the same matrix as a generic ternary matrix (2 bits per entry);
* everything else (biases, embeddings, full-precision matrices, modReLU biases):
  32 bits per entry.

With ``activation_bits=B`` (an integer deployment, ``qornn quantize --activation-bits``), the
recurrent bias b and the modReLU bias are B-bit codes (B bits per entry), and a Block-HadamRNN
permutation is stored explicitly (n·⌈log2 n⌉ bits): the size of the packed model file.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils import parametrize

from .quant import UniformQuantizer, check_bits, grid, quantize, storage_bits_per_weight
from .recurrent.base import RecurrentScheme

#: Bits of one full-precision entry (biases, embeddings, unquantized matrices, a quantizer's scale α).
FULL_PRECISION_BITS = 32
ROLES = {"rnn.weight_ih_l0": "U", "rnn.weight_hh_l0": "W", "output.weight": "V", "rnn.bias_hh_l0": "b",
         "output.bias": "c", "embedding.weight": "embedding"}


@torch.no_grad()
def grid_step(w: torch.Tensor, max_levels: int = 1024) -> float | None:
    """Spacing Δ of the uniform grid that holds every entry of w, or None (not on a grid: full precision).

    >>> grid_step(torch.tensor([-0.5, 0.0, 0.25, 0.75]))
    0.25
    """
    v = torch.unique(w.detach().double())
    if v.numel() < 2 or v.numel() > max_levels:
        return None
    d = v.diff()
    ratio = d / d.min()
    if float((ratio - ratio.round()).abs().max()) > 1e-3:
        return None
    return float(d.min())


@torch.no_grad()
def matrix_diagnostics(w: torch.Tensor, bits: int | None = None) -> dict:
    """‖WᵀW − I‖₂, σ_min, σ_max, α, step Δ and the number of distinct values of a matrix W.

    ``bits=None``: the numbers of W itself, with α = max|W| and Δ its grid spacing
    (None when W is not on a uniform grid).  ``bits=k``: the numbers of the
    effective k-bit matrix Q_k(W) (:func:`qornn.quant.quantize`), with the
    quantizer's α = max|W| and Δ = α/2^(k−1) (α for the ternary k = 1).
    For a non-square W the Gram matrix of the shorter side is used.

    >>> d = matrix_diagnostics(torch.eye(4) * 0.5)
    >>> d["orthogonality_error"], d["sigma_max"], d["alpha"], d["step"]
    (0.75, 0.5, 0.5, 0.5)
    """
    w = w.detach()
    alpha = float(w.abs().max()) if w.numel() else 0.0
    if bits is not None:
        check_bits(bits, "bits", allow_none=False)
        alpha, step = grid(w, bits)
        w = quantize(w, bits)
    else:
        step = grid_step(w)
    w = w.double()
    if w.shape[0] < w.shape[1]:
        w = w.t()
    s = torch.linalg.svdvals(w)
    eye = torch.eye(w.shape[1], dtype=w.dtype, device=w.device)
    return {"orthogonality_error": float(torch.linalg.matrix_norm(w.t() @ w - eye, ord=2)),
            "sigma_min": float(s.min()), "sigma_max": float(s.max()), "alpha": alpha, "step": step,
            "distinct_values": int(torch.unique(w).numel())}


def _before_last(plist) -> torch.Tensor:
    """The tensor a parametrization chain hands to its last parametrization (e.g. W before Q_k)."""
    x = plist.original
    for p in list(plist)[:-1]:
        x = p(x)
    return x


def _value_stats(w: torch.Tensor) -> dict:
    w = w.detach()
    return {"shape": list(w.shape), "distinct_values": int(torch.unique(w).numel()),
            "zero_fraction": float((w == 0).float().mean()) if w.numel() else 0.0}


def _parametrized_bits(plist, weight: torch.Tensor) -> tuple[int, dict]:
    """Storage bits of a parametrized tensor, from its last size-defining parametrization."""
    last = plist[-1]
    if isinstance(last, UniformQuantizer):
        alpha, step = grid(_before_last(plist).detach(), last.bits)
        return (weight.numel() * storage_bits_per_weight(last.bits) + FULL_PRECISION_BITS,
                {"quantized_bits": last.bits, "alpha": alpha, "step": step})
    if isinstance(last, RecurrentScheme):
        return last.storage_bits(), last.describe()
    return FULL_PRECISION_BITS * weight.numel(), {}


@torch.no_grad()
def weight_report(model: nn.Module) -> dict:
    """One entry per tensor: shape, bits, distinct values, zero fraction (+ orthogonality for W)."""
    report: dict[str, dict] = {}
    seen_originals: set[int] = set()
    for mod_name, module in model.named_modules():
        if not parametrize.is_parametrized(module):
            continue
        for tensor_name, plist in module.parametrizations.items():
            seen_originals.add(id(plist.original))
            full = f"{mod_name}.{tensor_name}" if mod_name else tensor_name
            weight = getattr(module, tensor_name)
            bits, extra = _parametrized_bits(plist, weight)
            entry = {"role": ROLES.get(full, ""), **_value_stats(weight), "bits": int(bits), **extra}
            if isinstance(plist[0], RecurrentScheme):
                if isinstance(plist[-1], UniformQuantizer):  # k-bit W: α and Δ of its quantizer
                    entry.update(matrix_diagnostics(_before_last(plist), bits=plist[-1].bits))
                else:
                    entry.update(matrix_diagnostics(weight))
                entry.setdefault("scheme", plist[0].name)
            report[full] = entry
    for name, p in model.named_parameters():
        if id(p) in seen_originals:
            continue
        report[name] = {"role": ROLES.get(name, ""), **_value_stats(p), "bits": FULL_PRECISION_BITS * p.numel()}
    return report


def embedding_bits(tensors) -> int:
    """Bits of the embedding table among named tensors (``{name: tensor}``, as a model or a weights file
    holds them): full precision, 32 per entry.  Sizes "without embedding" subtract this."""
    return sum(FULL_PRECISION_BITS * t.numel() for name, t in tensors.items() if ROLES.get(name) == "embedding")


#: Tensors that an integer deployment stores as B-bit activation codes.
ACTIVATION_CODED = ("rnn.bias_hh_l0", "rnn.activation.bias")


def _integer_deployment(report: dict, bits: int) -> None:
    """Count biases at B bits and an explicit Block-HadamRNN permutation (see the module docstring)."""
    for name, entry in report.items():
        if name in ACTIVATION_CODED:
            entry["bits"] = bits * math.prod(entry["shape"])
            entry["activation_bits"] = bits
        if entry.get("permute"):
            n = entry["shape"][0]
            entry["permutation_bits"] = n * max(1, math.ceil(math.log2(n)))
            entry["bits"] += entry["permutation_bits"]


def model_size(model: nn.Module, activation_bits: int | None = None) -> dict:
    report = weight_report(model)
    if activation_bits is not None:
        _integer_deployment(report, activation_bits)
    total = sum(e["bits"] for e in report.values())
    emb = embedding_bits(dict(model.named_parameters()))
    out = {"weights": report, "total_bits": int(total), "total_bits_without_embedding": int(total - emb),
           "total_kbits": total / 1000.0}
    if activation_bits is not None:
        out["activation_bits"] = activation_bits
    return out


def model_size_from_run(run_dir: str | Path) -> dict:
    """``model_size`` of a trained run folder (weights from model.safetensors or the last checkpoint)."""
    from .export.calibration import has_activations, read_activations
    from .run import load_trained

    _, _, model = load_trained(Path(run_dir))
    return model_size(model, read_activations(run_dir)[0] if has_activations(run_dir) else None)
