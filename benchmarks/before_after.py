"""Time the fast engine of this checkout against an older one, in one process, alternating.

    git archive main src | tar -x -C /tmp/qornn-before        # any older checkout's src/
    python benchmarks/before_after.py --before /tmp/qornn-before/src [--steps 5] [--config copy-hadamrnn ...]

Both versions build the same model from the same preset (same seed, weights copied),
take the same batch and run the same training step (forward, loss, backward; no optimizer
step, so the weights stay equal); the older one with ``task.loss(model(x), y)``, this one
with ``engine.model_loss`` when it has it (what ``qornn train`` runs).  One intra-op
thread; medians over ``--steps`` alternated repetitions after one warm-up, of the wall
time and of the process's CPU time (less sensitive to other processes on a shared
machine); also the memory autograd keeps for the backward pass (MiB) and the agreement
of the gradients.
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import torch

CONFIGS = [("copy-hadamrnn", []), ("pmnist-hadamrnn", []), ("copy-hadamrnn", ["model.hidden_size=512"]),
           ("copy-block-hadamrnn", []), ("copy-qornn-bjorck-k6", [])]


def load_before(src: str):
    """The older ``qornn`` package, imported as ``qornn_before`` (its relative imports stay inside it)."""
    path = f"{src.rstrip('/')}/qornn"
    spec = importlib.util.spec_from_file_location("qornn_before", f"{path}/__init__.py",
                                                  submodule_search_locations=[path])
    module = importlib.util.module_from_spec(spec)
    sys.modules["qornn_before"] = module
    spec.loader.exec_module(module)
    for sub in ("config", "model", "cli.bench"):
        importlib.import_module(f"qornn_before.{sub}")
    return module


def build(pkg, preset, sets, info):
    """The preset's model, built by ``pkg`` from ``pkg``'s own copy of the preset (a preset by name would be
    looked up in the installed ``qornn``, whose newer keys an older package refuses)."""
    own = Path(pkg.__file__).parent / "presets" / f"{preset}.yaml"
    cfg = pkg.config.load_config(str(own) if own.is_file() else preset, sets)
    torch.manual_seed(cfg.seed)
    return pkg.model.build_model(cfg.model, info)


def step_fn(pkg, model, task, x, y):
    engine = importlib.import_module(f"{pkg.__name__}.engine")
    loss = getattr(engine, "model_loss", None)

    def step():
        model.zero_grad(set_to_none=True)
        (loss(model, task, x, y) if loss else task.loss(model(x), y)).backward()
    return step


def saved_mb(pkg, step) -> float:
    nbytes, _ = pkg.cli.bench.saved_bytes(step)
    return nbytes / 2 ** 20


def compare(before, preset, sets, steps):
    import qornn
    import qornn.config
    import qornn.engine
    import qornn.model
    from qornn.cli.bench import task_and_batch
    from qornn.config import load_config

    cfg = load_config(preset, sets)
    task, x, y, data = task_and_batch(cfg, cfg.train.batch_size)
    new = build(qornn, preset, sets, task.info)
    old = build(before, preset, sets, task.info)
    old.load_state_dict(new.state_dict())
    fns = {"before": step_fn(before, old, task, x, y), "after": step_fn(qornn, new, task, x, y)}
    times = {k: [] for k in fns}
    cpu = {k: [] for k in fns}
    for i in range(steps + 1):
        for k, fn in fns.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            if i:
                times[k].append(time.perf_counter() - start)
                cpu[k].append(time.process_time() - start_cpu)
    err = max(float((p.grad - q.grad).norm() / q.grad.norm().clamp_min(1e-30))
              for p, q in zip(new.parameters(), old.parameters()) if q.grad is not None)
    med = {k: statistics.median(v) for k, v in times.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    mem = {"before": saved_mb(before, lambda: task.loss(old(x), y)),
           "after": saved_mb(qornn, lambda: qornn.engine.model_loss(new, task, x, y))}
    return {"config": " ".join([preset, *sets]), "data": data, "before_ms": med["before"] * 1e3,
            "after_ms": med["after"] * 1e3, "ratio": med["after"] / med["before"],
            "cpu_before_ms": med_cpu["before"] * 1e3, "cpu_after_ms": med_cpu["after"] * 1e3,
            "cpu_ratio": med_cpu["after"] / med_cpu["before"], "grad_rel_diff": err,
            "saved_mb_before": mem["before"], "saved_mb_after": mem["after"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="src/ folder of the older checkout")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--config", action="append", help="preset (default: the five of run_all.py)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    before = load_before(args.before)
    configs = [(c, []) for c in args.config] if args.config else CONFIGS
    print("| configuration | train step before (ms) | after (ms) | after / before | CPU time before / after (ms) "
          "| CPU after / before | saved MiB before / after | max grad rel diff |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for preset, sets in configs:
        r = compare(before, preset, sets, args.steps)
        data = "" if r["data"] == "task" else " (random inputs)"
        print(f"| {r['config']}{data} | {r['before_ms']:,.0f} | {r['after_ms']:,.0f} | **{r['ratio']:.2f}** "
              f"| {r['cpu_before_ms']:,.0f} / {r['cpu_after_ms']:,.0f} | **{r['cpu_ratio']:.2f}** "
              f"| {r['saved_mb_before']:.1f} / {r['saved_mb_after']:.1f} | {r['grad_rel_diff']:.1e} |", flush=True)


if __name__ == "__main__":
    main()
