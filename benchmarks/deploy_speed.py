"""Speed of the generated C step against a float32 dense matrix-vector product in NumPy (issue 11).

    python benchmarks/deploy_speed.py [--sizes 128 256 512 1024] [--steps 200000]

For each n: an (untrained) HadamRNN of the pMNIST shape (one input feature, p = 4, 12-bit
activations) exported with ``qornn.export.write_c``, a timing harness calling ``qnn_step`` in a loop
(readout excluded), compiled with ``cc -std=c99 -O2``; against ``W @ h`` for a float32 (n, n) W in
NumPy at one thread (``timeit``, best of 5), the contenders alternated ``--rounds`` times.  For odd
powers of two (1/√n not a power of two) the default export folds 1/√n into two alternating state
grids (no multiply); the same model exported with ``odd_scale="multiply"`` (a 24-bit fixed-point
constant, int64 products) is timed as well: the cost of that choice.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

HARNESS = """\
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <time.h>
#include "model.h"

static qnn_state state;

int main(void)
{
    long k, steps = %(steps)d;
    int32_t x[QNN_INPUT_WIDTH] = {0};
    struct timespec a, b;
    double best = 1e30;
    int rep;
    long sum = 0;
    int i;
    for (rep = 0; rep < 5; ++rep) {
        qnn_reset(&state);
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (k = 0; k < steps; ++k) {
            x[0] = (int32_t)(k & 255);
            qnn_step(&state, x, 0);
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        {
            double ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / steps;
            best = ns < best ? ns : best;
        }
        for (i = 0; i < QNN_N; ++i)
            sum += state.h[i];
    }
    printf("%%.2f %%ld\\n", best, sum);
    return 0;
}
"""


def c_step_ns(spec, steps: int) -> float:
    from qornn.export.c_build import CFLAGS, find_compiler
    from qornn.export.c_code import write_c

    cc = find_compiler()
    if cc is None:
        sys.exit("deploy_speed: no C compiler")
    with tempfile.TemporaryDirectory() as tmp:
        write_c(spec, tmp)
        (Path(tmp) / "bench.c").write_text(HARNESS % {"steps": steps})
        exe = Path(tmp) / "bench"
        subprocess.run([cc, *CFLAGS, "-o", str(exe), f"{tmp}/model.c", f"{tmp}/bench.c"], check=True)
        out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split()
    return float(out[0])


def numpy_matvec_ns(n: int) -> float:
    import numpy as np

    rng = np.random.default_rng(0)
    w = rng.standard_normal((n, n)).astype(np.float32)
    h = rng.standard_normal(n).astype(np.float32)
    number = max(1, 2_000_000 // (n * n))
    best = min(timeit.repeat(lambda: w @ h, number=number, repeat=5))
    return best / number * 1e9


def spec_for(n: int, bits: int = 12, odd_scale: str = "fold"):
    import torch

    from qornn.export import Calibration, integer_model
    from qornn.model import OrthoRNN, SequenceModel

    torch.manual_seed(0)
    model = SequenceModel(OrthoRNN(1, n, "hadamard", input_bits=4), 10, output_bits=4, readout="last").eval()
    return integer_model(model, Calibration("features", 16.0, 1.0, 0, 0), bits, odd_scale)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512, 1024])
    p.add_argument("--steps", type=int, default=200_000)
    p.add_argument("--rounds", type=int, default=3, help="alternated measurements; the best of each is kept")
    args = p.parse_args(argv)
    from qornn.export.c_code import operations_per_step

    print("| n | C step (ns) | C step, 1/√n as a fixed-point multiply (ns) | NumPy float32 W @ h (ns) | speed-up | "
          "integer ops per step |\n|---:|---:|---:|---:|---:|---|")
    for n in args.sizes:
        spec = spec_for(n)
        steps = max(1000, args.steps * 128 // n)
        odd = spec.parities == 2
        ns, dense, mult = [], [], []
        for _ in range(args.rounds):  # alternate the contenders: the load of a shared machine hits all alike
            ns.append(c_step_ns(spec, steps))
            dense.append(numpy_matvec_ns(n))
            if odd:
                mult.append(c_step_ns(spec_for(n, odd_scale="multiply"), steps))
        ns, dense = min(ns), min(dense)
        ops = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in operations_per_step(spec).items())
        print(f"| {n} | {ns:.0f} | {f'{min(mult):.0f}' if mult else '(exact shift)'} | {dense:.0f} | "
              f"**{dense / ns:.1f}x** | {ops} |", flush=True)
    print("\nOne thread; C: `cc -std=c99 -O2` (generated code, qnn_step without readout), best of 5 loops; "
          "NumPy: best of 5 `timeit` repeats. Command: `python benchmarks/deploy_speed.py`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
