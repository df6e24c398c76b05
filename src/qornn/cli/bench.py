"""``qornn bench --config PRESET``: time the fast engine against the reference engine.

In one process, on identical weights and inputs: a training step (forward, loss,
backward, optimizer step) and an inference forward of ``model.engine=auto`` and of
``model.engine=reference``, alternated, after warm-up; medians and ratios.  It also
checks that both engines give the same outputs and gradients, and measures the
memory kept for the backward pass (bytes of the distinct tensors autograd saves).

Presets whose data set is not on disk are timed on random inputs of the task's
shapes (the timings need only the shapes).  One intra-op thread by default, and
glibc malloc told to keep freed large blocks (``tune_malloc``; ``--no-tune-malloc``
to measure without), for both engines alike.
"""
from __future__ import annotations

import copy
import statistics
import sys
import time

import torch

from ..engine.malloc import tune_malloc
from ..errors import ConfigError, MissingDataError
from .common import add_set_argument, print_json

def register(sub) -> None:
    p = sub.add_parser("bench", help="time the fast engine against the reference engine (same weights and inputs)")
    p.add_argument("--config", required=True, help="preset name or YAML file")
    add_set_argument(p)
    p.add_argument("--steps", type=int, default=5, help="timed repetitions per engine (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="untimed repetitions first (default 1)")
    p.add_argument("--batch-size", type=int, default=None, help="default: train.batch_size")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    p.add_argument("--no-forward", action="store_true", help="time the training step only")
    p.add_argument("--no-tune-malloc", action="store_true",
                   help="keep glibc's default of returning large blocks to the OS (see tune_malloc)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def random_batch(info, batch_size: int, generator: torch.Generator):
    """(x, y): random inputs and targets with the shapes of a task (``info``: its TaskInfo with ``seq_len``)."""
    length, size = info.seq_len, info.input_size
    if info.input_kind == "tokens":
        x = torch.randint(1, size, (batch_size, length), generator=generator)
    else:
        x = torch.randn(batch_size, length, size, generator=generator)
    shape = (batch_size, length) if info.many_to_many else (batch_size,)
    if info.loss == "ce":
        y = torch.randint(0, info.output_size, shape, generator=generator)
    elif info.loss == "bce":
        y = torch.randint(0, 2, shape, generator=generator).float()
    else:
        y = torch.randn(shape, generator=generator)
    return x, y


def _orthornns(model):
    from ..model import OrthoRNN

    return [m for m in model.modules() if isinstance(m, OrthoRNN)]


def _set_engine(model, engine: str) -> None:
    for m in _orthornns(model):
        m.engine = engine


def saved_bytes(fn) -> int:
    """Bytes of the distinct storages autograd saves for backward while ``fn()`` runs."""
    storages: dict[int, int] = {}

    def pack(t):
        s = t.untyped_storage()
        storages[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return sum(storages.values()), out


def _grads(model) -> dict:
    return {k: p.grad.detach().clone() for k, p in model.named_parameters() if p.grad is not None}


def task_and_batch(cfg, batch_size: int):
    """(task, x, y, data): the task's first training batch (data ``task``), or random inputs of its shapes
    (data ``random``) when its data set is missing; any other problem with the data is raised."""
    from ..tasks import Task, build_task, task_info

    try:
        task = build_task(cfg)
    except MissingDataError as exc:
        print(f"qornn bench: {exc.dataset} data not found in {exc.root}; "
              f"timing random inputs of the {cfg.task.name} shapes", file=sys.stderr)
        task = Task()
        task.info = task_info(cfg)
        x, y = random_batch(task.info, batch_size, torch.Generator().manual_seed(cfg.seed))
        return task, x, y, "random"
    x, y = task.train_batch(0, batch_size)
    return task, x, y, "task"


def _loss(model, task, x, y):
    from ..engine import model_loss
    from ..optimization import regularization

    return model_loss(model, task, x, y) + regularization(model)


def agreement(fast, ref, task, x, y) -> tuple[float, float]:
    """(max |Δ output|, max relative gradient error) of the two engines on one training step."""
    grads, outs = [], []
    for model in (fast, ref):
        model.train()
        model.zero_grad(set_to_none=True)
        _loss(model, task, x, y).backward()
        grads.append(_grads(model))
        with torch.no_grad():
            outs.append(model(x))
    max_abs_diff = float((outs[0] - outs[1]).abs().max())
    grad_err = max((float((grads[0][k] - g).norm() / g.norm().clamp_min(1e-30)) for k, g in grads[1].items()),
                   default=0.0)
    return max_abs_diff, grad_err


def timings(cfg, fast, ref, task, x, y, steps: int, warmup: int, forward: bool) -> dict:
    """Median seconds of a training step (and a forward pass) per engine, the engines alternated."""
    from ..optimization import make_optimizer
    from ..recurrent import after_optimizer_step

    optims = {id(m): make_optimizer(cfg.train, m.parameters()) for m in (fast, ref)}

    def train_step(model):
        opt = optims[id(model)]
        opt.zero_grad(set_to_none=True)
        _loss(model, task, x, y).backward()
        opt.step()
        after_optimizer_step(model)

    def forward_pass(model):
        with torch.no_grad():
            model(x)

    times = {}
    for phase, fn in (("train", train_step), ("fwd", forward_pass)):
        if phase == "fwd" and not forward:
            continue
        for model in (fast, ref):
            model.train(phase == "train")
        for i in range(warmup + steps):  # alternate the engines so that load drifts hit both alike
            for name, model in (("fast", fast), ("ref", ref)):
                start = time.perf_counter()
                fn(model)
                if i >= warmup:
                    times.setdefault((phase, name), []).append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def _saved_mb(model, task, x, y) -> float:
    model.train()
    model.zero_grad(set_to_none=True)
    nbytes, out = saved_bytes(lambda: _loss(model, task, x, y))
    out.backward()
    return nbytes / 2 ** 20


def run_bench(cfg, steps: int = 5, warmup: int = 1, batch_size: int | None = None, forward: bool = True) -> dict:
    """Time both engines on ``cfg`` (see module docstring); returns the result dict."""
    from .. import engine as engines
    from ..hadamard import fwht_kernel_available
    from ..model import build_model

    if steps < 1 or warmup < 0:
        raise ConfigError(f"--steps {steps} / --warmup {warmup} not allowed; use --steps >= 1 and --warmup >= 0")
    bs = batch_size or cfg.train.batch_size
    if bs < 1:
        raise ConfigError(f"--batch-size {bs} is not allowed; use a positive integer")
    torch.manual_seed(cfg.seed)
    task, x, y, data = task_and_batch(cfg, bs)
    torch.manual_seed(cfg.seed)
    fast = build_model(cfg.model, task.info)
    rnns = _orthornns(fast)
    if not rnns:
        raise ConfigError(f"model.recurrent={cfg.model.recurrent!r} builds no OrthoRNN; bench compares the engines "
                          f"of OrthoRNN models")
    ref = copy.deepcopy(fast)
    _set_engine(fast, "auto")
    _set_engine(ref, "reference")
    max_abs_diff, grad_err = agreement(fast, ref, task, x, y)
    med = timings(cfg, fast, ref, task, x, y, steps, warmup, forward)
    result = {
        "config": cfg.description or cfg.task.name, "task": cfg.task.name, "data": data,
        "recurrent": cfg.model.recurrent, "hidden_size": cfg.model.hidden_size, "block_size": cfg.model.block_size,
        "linear_recurrence": cfg.model.linear_recurrence, "seq_len": int(x.shape[1]), "batch_size": bs,
        "threads": torch.get_num_threads(), "fast_path": engines.plan_sequence(fast, x) or engines.plan(rnns[0]),
        "fused_loss": engines.fuses_loss(fast, task, x, y), "fht_kernel": fwht_kernel_available(), "steps": steps,
        "train_step_s_fast": med[("train", "fast")], "train_step_s_reference": med[("train", "ref")],
        "train_speedup": med[("train", "ref")] / med[("train", "fast")],
    }
    if forward:
        result.update({"forward_s_fast": med[("fwd", "fast")], "forward_s_reference": med[("fwd", "ref")],
                       "forward_speedup": med[("fwd", "ref")] / med[("fwd", "fast")]})
    result.update({"max_abs_diff": max_abs_diff, "max_grad_rel_err": grad_err,
                   "saved_mb_fast": _saved_mb(fast, task, x, y), "saved_mb_reference": _saved_mb(ref, task, x, y)})
    return result


def run(args) -> int:
    from ..config import load_config

    if args.threads < 1:
        raise ConfigError(f"--threads {args.threads} is not allowed; use a positive integer")
    torch.set_num_threads(args.threads)
    cfg = load_config(args.config, args.overrides)
    malloc_tuned = False if args.no_tune_malloc else tune_malloc()
    result = run_bench(cfg, steps=args.steps, warmup=args.warmup, batch_size=args.batch_size,
                       forward=not args.no_forward)
    result["malloc_tuned"] = malloc_tuned
    result["command"] = " ".join(["qornn bench --config", args.config, *[f"--set {o}" for o in args.overrides],
                                  f"--steps {args.steps}", f"--threads {args.threads}"]
                                 + ([f"--batch-size {args.batch_size}"] if args.batch_size else [])
                                 + (["--no-tune-malloc"] if args.no_tune_malloc else []))
    if args.json:
        print_json(result)
        return 0
    print(f"{result['config']}  [{result['fast_path']}, n={result['hidden_size']}, T={result['seq_len']}, "
          f"B={result['batch_size']}, {result['threads']} thread(s), data: {result['data']}]")
    print(f"  train step  fast {result['train_step_s_fast'] * 1e3:9.1f} ms   reference "
          f"{result['train_step_s_reference'] * 1e3:9.1f} ms   speed-up {result['train_speedup']:.2f}x")
    if "forward_s_fast" in result:
        print(f"  forward     fast {result['forward_s_fast'] * 1e3:9.1f} ms   reference "
              f"{result['forward_s_reference'] * 1e3:9.1f} ms   speed-up {result['forward_speedup']:.2f}x")
    print(f"  max |Δ output| {result['max_abs_diff']:.2e}, max relative gradient error "
          f"{result['max_grad_rel_err']:.2e}; saved for backward: fast {result['saved_mb_fast']:.1f} MiB, "
          f"reference {result['saved_mb_reference']:.1f} MiB")
    print(f"  reproduce: {result['command']}")
    return 0
