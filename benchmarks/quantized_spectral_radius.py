"""Spectral radius of the k-bit recurrent matrix Q_k(W) of a preset's freshly initialized model.

An orthogonal W has spectral radius ρ = 1; its k-bit quantization Q_k(W) (QORNN) does not, and a
linear-ish recurrence can grow by up to ρ^T over T steps (docs/usage.md, QORNN on pMNIST).

    python benchmarks/quantized_spectral_radius.py [--config pmnist-qornn-bjorck-k4] [--bits 3 4 6 8]
"""
from __future__ import annotations

import argparse

import torch

from qornn.config import load_config
from qornn.model import build_model
from qornn.tasks import build_task


def spectral_radius(config: str, bits: int) -> tuple[float, int]:
    """(ρ(Q_k(W)) at initialization, sequence length T) for a preset with W and U at ``bits``."""
    cfg = load_config(config, [f"model.recurrent_bits={bits}", f"model.input_bits={bits}"])
    task = build_task(cfg)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, task.info)
    w = model.rnn.weight_hh_l0.detach().double()
    return float(torch.linalg.eigvals(w).abs().max()), task.info.seq_len


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="pmnist-qornn-bjorck-k4")
    p.add_argument("--bits", type=int, nargs="+", default=[3, 4, 6, 8])
    args = p.parse_args()
    torch.set_num_threads(1)
    for bits in args.bits:
        rho, steps = spectral_radius(args.config, bits)
        print(f"k = {bits}: spectral radius {rho:.4f}, rho^T = {rho ** steps:.3g} over T = {steps} steps")


if __name__ == "__main__":
    main()
