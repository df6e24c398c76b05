"""Metric against activation bits: the table "metric vs activation bits" of the README (issue 11).

    python benchmarks/activation_bits.py RUN [RUN ...] [--bits 6 8 10 12 16] [--split test] [--out FILE]

For each trained run folder: the float model's test metrics, then, for each B, the integer-exact
model (``qornn quantize RUN --activation-bits B``: ranges calibrated once on ``--batches``
training batches, max |h| or ``--percentile``) evaluated on the same split.  Loss and accuracy
are printed; for tasks with a memoryless baseline (copy) also the loss as a percentage of it.
One thread (OMP_NUM_THREADS=1) for comparable timings; prints a markdown table (and writes it to
``--out``).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="trained run folders")
    p.add_argument("--bits", type=int, nargs="+", default=[6, 8, 10, 12, 16])
    p.add_argument("--split", default="test", choices=("val", "test"))
    p.add_argument("--batches", type=int, default=10, help="calibration batches")
    p.add_argument("--percentile", type=float, default=None, help="calibrate on this percentile of |h|")
    p.add_argument("--batch-size", type=int, default=None, help="evaluation batch size")
    p.add_argument("--odd-scale", default="fold", choices=("fold", "multiply"),
                   help="1/sqrt(m) for odd powers of two: folded into two grids (default) or a fixed-point multiply")
    p.add_argument("--out", default=None, help="also write the markdown table here")
    return p.parse_args(argv)


def cell(metrics: dict) -> str:
    text = f"{metrics['loss']:.4g}"
    if metrics.get("baseline"):
        text += f" ({100 * metrics['loss'] / metrics['baseline']:.1f} % of baseline)"
    if "accuracy" in metrics:
        text += f", {100 * metrics['accuracy']:.2f} %"
    return text


def measure(run_dir: str, args) -> tuple[str, dict]:
    """(label, {bits or "float": metrics}) of one run folder."""
    import torch

    from qornn.export import IntegerExactModel, calibrate, integer_model
    from qornn.run import load_trained
    from qornn.train import evaluate

    torch.set_num_threads(1)
    cfg, task, model = load_trained(Path(run_dir))
    bs = args.batch_size or cfg.train.eval_batch_size or cfg.train.batch_size
    start = time.perf_counter()
    rows = {"float": evaluate(model, task, args.split, bs)}
    calibration = calibrate(model, task, args.batches, cfg.train.batch_size, args.percentile)
    for bits in args.bits:
        rows[bits] = evaluate(IntegerExactModel(integer_model(model, calibration, bits, args.odd_scale)), task,
                              args.split, bs)
        print(f"  {run_dir}: {bits} bits -> {cell(rows[bits])}", file=sys.stderr)
    label = f"{cfg.task.name} {cfg.model.recurrent} n={cfg.model.hidden_size} ({run_dir})"
    print(f"  {run_dir}: {time.perf_counter() - start:.0f} s; state max {calibration.state_max:.4g}", file=sys.stderr)
    return label, rows


def table(results: list, args) -> str:
    head = "| activations | " + " | ".join(label for label, _ in results) + " |"
    lines = [head, "|---" * (len(results) + 1) + "|"]
    for key in ["float", *args.bits]:
        name = "float (FP32)" if key == "float" else f"{key} bits"
        lines.append(f"| {name} | " + " | ".join(cell(rows[key]) for _, rows in results) + " |")
    lines.append("")
    lines.append(f"{args.split} loss (and accuracy); integer-exact model of `qornn quantize RUN --activation-bits B`, "
                 f"ranges calibrated on {args.batches} training batches ("
                 + (f"{args.percentile}th percentile" if args.percentile else "max |h|")
                 + f"), 1/sqrt(m) for odd m: {args.odd_scale}. Command: "
                 f"`python benchmarks/activation_bits.py {' '.join(args.runs)} --bits {' '.join(map(str, args.bits))}"
                 f"{'' if args.odd_scale == 'fold' else ' --odd-scale ' + args.odd_scale}`")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    args = parse_args(argv)
    results = [measure(run, args) for run in args.runs]
    text = table(results, args)
    print(text)
    if args.out:
        from qornn.checkpoint import atomic_write_text

        atomic_write_text(Path(args.out), text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
