"""Spectral radius of the k-bit recurrent matrix Q_k(W) of a preset's freshly initialized model.

An orthogonal W has spectral radius ρ = 1; its k-bit quantization Q_k(W) (QORNN) does not, and a
linear-ish recurrence can grow by up to ρ^T over T steps (docs/usage.md, QORNN on pMNIST).
With ``model.recurrent_rescale=radius`` the same model's ρ is at most 1 (printed beside it).

    python benchmarks/quantized_spectral_radius.py [--config pmnist-qornn-bjorck-k4] [--bits 3 4 6 8]
"""
from __future__ import annotations

import argparse

import torch

from qornn.config import load_config
from qornn.model import build_model
from qornn.quant import spectral_radius
from qornn.tasks import build_task


def initial_radius(config: str, bits: int, rescale: str = "none") -> tuple[float, int]:
    """(ρ(Q_k(W)) at initialization, sequence length T) for a preset with W and U at ``bits``."""
    cfg = load_config(config, [f"model.recurrent_bits={bits}", f"model.input_bits={bits}",
                               f"model.recurrent_rescale={rescale}"])
    task = build_task(cfg)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, task.info)
    return float(spectral_radius(model.rnn.weight_hh_l0.double())), task.info.seq_len


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="pmnist-qornn-bjorck-k4")
    p.add_argument("--bits", type=int, nargs="+", default=[3, 4, 6, 8])
    args = p.parse_args()
    torch.set_num_threads(1)
    for bits in args.bits:
        rho, steps = initial_radius(args.config, bits)
        bounded, _ = initial_radius(args.config, bits, "radius")
        print(f"k = {bits}: spectral radius {rho:.4f}, rho^T = {rho ** steps:.3g} over T = {steps} steps; "
              f"with recurrent_rescale=radius {bounded:.4f}")


if __name__ == "__main__":
    main()
