"""Run `qornn bench` over the reference configurations and write benchmarks/results.md.

    python benchmarks/run_all.py [--steps N]        (what `make bench` runs)
    python benchmarks/run_all.py --before OLD/src   (also: this checkout against an older one, see before_after.py)

Each configuration runs in its own process with one intra-op thread
(OMP_NUM_THREADS=1, `--threads 1`).  pMNIST uses random inputs of the pMNIST shapes
when the MNIST files are not on disk (the timings need only the shapes).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (label, target, qornn bench arguments)
CONFIGS = [
    ("HadamRNN copy, n=128, T=1000 (1020 steps), B=128", "train ≥10x, forward ≥20x",
     ["--config", "copy-hadamrnn"]),
    ("HadamRNN pMNIST, n=512, T=784, B=100", "train ≥10x, forward ≥20x",
     ["--config", "pmnist-hadamrnn"]),
    ("HadamRNN copy, n=512, T=1000, B=128 (same n as Block)", "—",
     ["--config", "copy-hadamrnn", "--set", "model.hidden_size=512"]),
    ("Block-HadamRNN copy, n=512, m=16, T=1000, B=128", "as fast as HadamRNN n=512",
     ["--config", "copy-block-hadamrnn"]),
    ("QORNN STE-Björck k=6 copy, n=256, modReLU, T=1000, B=128", "train ≥2x",
     ["--config", "copy-qornn-bjorck-k6"]),
]


def bench(args: list[str], steps: int) -> dict:
    cmd = [sys.executable, "-c", "import sys; from qornn.cli.main import main; sys.exit(main())",
           "bench", *args, "--steps", str(steps), "--threads", "1", "--json"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"qornn bench {' '.join(args)} failed:\n{done.stderr}")
    return json.loads(done.stdout)


def before_after(src: str, steps: int) -> list[str]:
    """The table of benchmarks/before_after.py (this checkout against ``src``), in one process, 1 thread."""
    print("bench: before/after ...", file=sys.stderr, flush=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = [sys.executable, str(HERE / "before_after.py"), "--before", src, "--steps", str(steps)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"before_after.py failed:\n{done.stderr}")
    return ["## Training step: this checkout against an older one", "",
            f"`python benchmarks/before_after.py --before {src} --steps {steps}`: the fast engine (model.engine=auto) "
            "of both versions on the same weights and batch, alternated in one process, 1 thread; forward, loss and "
            "backward (the loss through `engine.model_loss` where this checkout has it, as `qornn train` does).", "",
            *done.stdout.strip().splitlines(), ""]


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="timed repetitions per engine (default 3)")
    parser.add_argument("--out", default=str(HERE / "results.md"))
    parser.add_argument("--before", default=None, help="src/ folder of an older checkout: add a before/after table")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    rows = []
    for label, target, bench_args in CONFIGS:
        print(f"bench: {label} ...", file=sys.stderr, flush=True)
        r = bench(bench_args, args.steps)
        rows.append((label, target, r))
        print(f"  train {r['train_speedup']:.2f}x, forward {r['forward_speedup']:.2f}x", file=sys.stderr)

    lines = [
        "# qornn bench: fast engine vs reference engine",
        "",
        f"Produced by `python benchmarks/run_all.py --steps {args.steps}` on {datetime.date.today().isoformat()}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, 1 intra-op thread, "
        f"Python {platform.python_version()}, torch {__import__('torch').__version__}, "
        f"fht-cpu kernel: {'yes' if rows[0][2]['fht_kernel'] else 'no'}.",
        f"Load average (1 min) {load_before:.2f} before and {os.getloadavg()[0]:.2f} after the runs"
        + (" (above 2 on 2 cores: other processes shared the CPU; both engines alike, since they alternate)."
           if max(load_before, os.getloadavg()[0]) > 2 else "."),
        "Medians over the timed repetitions, engines alternated in one process; times in ms.",
        "\"saved\" is the memory autograd keeps for the backward pass of one training step (MiB).",
        "",
        "| configuration | fast path | train fast | train ref | train speed-up | forward fast | forward ref "
        "| forward speed-up | max abs diff | max grad rel err | saved fast / ref | target |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for label, target, r in rows:
        data = "" if r["data"] == "task" else " (random inputs)"
        lines.append(
            f"| {label}{data} | {r['fast_path']} | {ms(r['train_step_s_fast'])} | {ms(r['train_step_s_reference'])} "
            f"| **{r['train_speedup']:.1f}x** | {ms(r['forward_s_fast'])} | {ms(r['forward_s_reference'])} "
            f"| **{r['forward_speedup']:.1f}x** | {r['max_abs_diff']:.1e} | {r['max_grad_rel_err']:.1e} "
            f"| {r['saved_mb_fast']:.0f} / {r['saved_mb_reference']:.0f} | {target} |")
    lines += ["", "Commands (one per row):", ""]
    lines += [f"    {r['command']}" for _, _, r in rows]
    lines.append("")
    if args.before:
        lines += before_after(args.before, args.steps)
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
