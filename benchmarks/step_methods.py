"""Per-step time of each way to apply W = diag(d)·(I_q ⊗ S_m) (the thresholds of qornn.hadamard).

    python benchmarks/step_methods.py [--batch 128] [--steps 32]

For each (n, m): the fast engine's forward loop over one chunk of steps with the dense
W (one ``addmm`` per step) and with the structured kernel by each method (``fht``: the
fht-cpu kernel, when installed; ``gemm``: one GEMM with S_m; ``kron``: two GEMMs with
S_a ⊗ S_b), best of 5, one intra-op thread; and the method ``hadamard.step_method`` picks.
"""
from __future__ import annotations

import argparse
import time

import torch

from qornn import hadamard
from qornn.operators import DenseKernel, HadamardKernel, SignedHadamardOperator

SIZES = [(16, 16), (32, 32), (32, 4), (64, 64), (64, 16), (128, 128), (128, 16), (256, 256), (256, 16),
         (512, 512), (512, 64), (512, 16), (1024, 1024)]


def per_step_us(kernel, z: torch.Tensor) -> float:
    best = float("inf")
    for _ in range(5):
        kernel.reset()
        start = time.perf_counter()
        kernel.forward(z.clone())
        best = min(best, time.perf_counter() - start)
    return best / z.shape[0] * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(1)
    methods = ["fht", "gemm", "kron"] if hadamard.fwht_kernel_available() else ["gemm", "kron"]
    print(f"µs per step, B = {args.batch}, 1 thread, fht-cpu kernel: {hadamard.fwht_kernel_available()}")
    print("| n | m | dense | " + " | ".join(methods) + " | step_method picks |")
    print("|---:|---:|---:|" + "---:|" * len(methods) + "---|")
    for n, m in SIZES:
        signs = torch.where(torch.rand(n) < 0.5, -1.0, 1.0)
        op = SignedHadamardOperator(signs, m, m ** -0.5)
        z = torch.randn(args.steps, args.batch, n)
        row = [per_step_us(DenseKernel(op, args.batch, args.steps, z), z)]
        for method in methods:
            if method == "kron" and m < 4:
                row.append(float("nan"))
                continue
            row.append(per_step_us(HadamardKernel(op, args.batch, args.steps, z, method), z))
        cells = " | ".join(f"{t:.1f}" for t in row)
        print(f"| {n} | {m} | {cells} | {hadamard.step_method(n, m, z)} |", flush=True)


if __name__ == "__main__":
    main()
