"""Where the eigenvalues of a trained HadamRNN's W lie on the unit circle (docs/signs.md).

W = diag(s)·S_n/√n is orthogonal, so its eigenvalues are e^{iθ}. A recurrence that keeps a symbol for
T steps needs the phases θ spread: if they gather at 0 and π, W² ≈ I and the state only alternates
between two patterns. For each run folder this prints

* the normalized entropy of the θ histogram (32 bins over (−π, π]; 1 = uniform, 0 = one bin),
* the share of eigenvalues within 0.1 rad of +1 and of −1.

    python benchmarks/sign_spectrum.py RUN_DIR [RUN_DIR ...]
"""
from __future__ import annotations

import sys

import numpy as np

from qornn.run import load_trained

BINS, NEAR = 32, 0.1


def spectrum_spread(weight: np.ndarray) -> dict:
    """Angle entropy / log(BINS) and the shares of eigenvalues near +1 and −1 of a square matrix."""
    theta = np.angle(np.linalg.eigvals(weight))
    counts, _ = np.histogram(theta, bins=BINS, range=(-np.pi, np.pi))
    p = counts[counts > 0] / counts.sum()
    return {"angle_entropy": float(-(p * np.log(p)).sum() / np.log(BINS)),
            "near_plus_one": float(np.mean(np.abs(theta) < NEAR)),
            "near_minus_one": float(np.mean(np.abs(np.abs(theta) - np.pi) < NEAR))}


def main(run_dirs: list[str]) -> None:
    for run_dir in run_dirs:
        _, _, model = load_trained(run_dir)
        w = model.rnn.weight_hh_l0.detach().double().numpy()
        s = spectrum_spread(w)
        print(f"{run_dir}: angle entropy {s['angle_entropy']:.3f}, near +1 {s['near_plus_one']:.3f}, "
              f"near -1 {s['near_minus_one']:.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
