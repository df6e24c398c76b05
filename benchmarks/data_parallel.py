"""Speed-up of data-parallel training: ``qornn train`` in 1 process against ``torchrun`` with N processes.

    python benchmarks/data_parallel.py [--config pmnist-hadamrnn] [--steps 30] [--processes 1 2] [--repeats 2]

Each run trains ``--steps`` optimizer steps of the preset (global batch as configured) with one
intra-op thread per process and logs every ``--window`` steps; the time per step is read from the
``samples_per_s`` of the training lines of metrics.jsonl (the first window, warm-up, is dropped; the
final evaluation is not timed).  The process counts alternate within each repeat, so background load
hits them alike.  Prints one line per run and a table of medians with the load average.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from qornn.run import read_config


def run_once(config: str, processes: int, steps: int, window: int, extra: list[str], folder: Path) -> list[float]:
    """Milliseconds per optimizer step of each logging window after the first."""
    sets = [f"train.steps={steps}", "train.epochs=null", f"train.log_every={window}", "train.eval_every=100000",
            "train.checkpoint_every=100000", "train.threads=1", "train.progress=false", "task.val_fraction=0.01",
            *extra]
    out = folder / f"run-{processes}"
    qornn = ["-m", "qornn", "train", "--config", config, *[a for s in sets for a in ("--set", s)], "--out", str(out),
             "--overwrite", "--quiet"]
    launcher = [] if processes == 1 else ["-m", "torch.distributed.run", "--standalone",
                                          f"--nproc_per_node={processes}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, *launcher, *qornn], check=True, env=env)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in rows if r["split"] == "train"]
    size = read_config(out).train.batch_size  # the global batch
    return [1000.0 * size / r["samples_per_s"] for r in train[1:]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="pmnist-hadamrnn")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], help="further config overrides")
    args = parser.parse_args()
    times: dict[int, list[float]] = {n: [] for n in args.processes}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for n in args.processes:
                ms = run_once(args.config, n, args.steps, args.window, args.set, Path(tmp))
                times[n] += ms
                print(f"repeat {repeat}, {n} process(es): ms/step per window " + ", ".join(f"{t:.0f}" for t in ms),
                      flush=True)
    load_after = os.getloadavg()
    base = statistics.median(times[args.processes[0]])
    print(f"\n{args.config}, {args.steps} steps, 1 thread per process; load average before "
          f"{load_before[0]:.1f}, after {load_after[0]:.1f}")
    print("| processes | ms per step (median) | speed-up |\n|---:|---:|---:|")
    for n in args.processes:
        med = statistics.median(times[n])
        print(f"| {n} | {med:.0f} | {base / med:.2f}x |")


if __name__ == "__main__":
    main()
