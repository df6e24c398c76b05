"""The training loop: from a config to a run folder, top to bottom.

``train(cfg, out_dir)`` builds the task and model, then for each step draws the
batch of that step (a pure function of seed and step), takes one optimizer step,
and now and then evaluates on the validation split, appends to ``metrics.jsonl``
and writes a checkpoint.  At the end it evaluates on val and test and writes the
final model and ``summary.json``.  ``train(..., resume=True)`` continues from the
last checkpoint and gives exactly the results of an uninterrupted run.

The run uses ``train.device`` (:mod:`qornn.devices`).  Started by ``torchrun`` with N
processes, it trains data-parallel (:mod:`qornn.distributed`): each process takes its
share of the same global batch, gradients are averaged in ``backward()``, and only
rank 0 writes the run folder and prints.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from . import distributed
from . import run as rundir
from .checkpoint import (atomic_write_text, check_stored_config, load_checkpoint, load_model, read_bytes,
                         remove_temporaries, save_checkpoint, save_model)
from .config import Config, config_to_dict, resume_config, to_yaml, validate_config
from .devices import describe
from .distributed import DataParallel
from .errors import CheckpointError, DivergedError
from .evaluation import evaluate, selection_score
from .memory import check_memory
from .model import build_model
from .optimization import (SCHEDULES, Objective, make_optimizer, make_scheduler, make_sign_rule, regularization,
                           total_steps_of)
from .recurrent import after_optimizer_step
from .signs import SignRule
from .tasks import Task, build_task

__all__ = ["train", "Run", "evaluate", "selection_score", "make_optimizer", "make_scheduler", "make_sign_rule",
           "total_steps_of", "regularization", "after_optimizer_step", "SCHEDULES"]


@dataclass
class Run:
    """One training run: what it trains, and where it stands (built by :func:`_build`, advanced by the loop)."""

    cfg: Config
    out: Path
    dp: DataParallel
    task: Task
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    signs: SignRule
    total: int  # optimizer steps of the whole run
    eval_bs: int
    objective: torch.nn.Module | None = None  # the training forward pass (in DDP when data-parallel)
    log: rundir.MetricsLog | None = None
    step: int = 0
    elapsed_before: float = 0.0  # seconds trained by earlier invocations (resume)
    commands: list = field(default_factory=list)
    best_score: float | None = None  # best validation score so far (train.keep_best)
    best_step: int | None = None
    running: float = 0.0  # sum and count of training losses since the last log line
    seen: int = 0
    started: float = 0.0  # time.perf_counter() when this invocation's loop started
    window_start: float = 0.0

    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.started

    def say(self, quiet: bool, text: str) -> None:
        if self.dp.is_main and not quiet:
            print(text)


def train(cfg: Config | None, out_dir: str | Path, resume: bool = False, overwrite: bool = False,
          on_step: Callable[[int, float], None] | None = None, quiet: bool = False,
          extend: list[str] | tuple[str, ...] = (), command: str | None = None,
          on_eval: Callable[[int, dict], None] | None = None) -> dict:
    """Train ``cfg`` into ``out_dir`` (or continue the run there with ``resume=True``).

    ``extend`` (with ``resume``): ``key=value`` changes that leave model and data unchanged
    (``train.budget_minutes``, ``train.steps``, ``train.epochs``, ...), e.g. to continue a run that
    its time budget stopped.  ``on_step(step, loss)`` is called after each optimizer step (tests
    use it to simulate a kill); ``on_eval(step, val_metrics)`` after each periodic validation (a
    sweep reports it to its pruner, which may stop the run by raising).  ``command``: the command
    line, kept in the checkpoint and summary (``commands``: every invocation that trained this run).
    Returns the summary dict (also summary.json).  The run folder is locked (:mod:`qornn.lock`) while
    this runs.  Under torchrun every process calls this; the hooks run on every rank.
    """
    out, dp = Path(out_dir), distributed.join()
    with contextlib.ExitStack() as locks:
        cfg = _open(cfg, out, resume, overwrite, extend, dp, locks)  # checked; nothing written yet
        run = _build(cfg, out, dp)  # task, model on its device, optimizer; refused if it does not fit
        if resume:
            finished = _restore(run, bool(extend), quiet)
            if finished is not None:  # nothing left to train: change nothing
                return finished
        elif dp.is_main:
            locks.enter_context(rundir.create_run_dir(out, overwrite, {rundir.CONFIG: to_yaml(cfg)}))
        run.commands += [command] if command else []
        run.objective = dp.wrap(Objective(run.model, run.task))
        run.log = rundir.MetricsLog(out / rundir.METRICS if dp.is_main else None, cfg.train.tensorboard,
                                    run.step + 1 if resume else None)
        if resume:
            _validate_where_extended(run)
        stopped_early = _loop(run, on_step, on_eval, quiet)
        return _finish(run, stopped_early, quiet)


# ---- setting up -------------------------------------------------------------------------------
def _open(cfg, out: Path, resume: bool, overwrite: bool, extend, dp: DataParallel, locks) -> Config:
    """The run's config, checked: rank 0 checks ``--out`` (new run) or locks the folder and reads its config."""
    if dp.is_main and resume:
        locks.enter_context(rundir.lock_run(out))  # a second writer of this folder stops here
        cfg = rundir.read_config(out)  # the run's own config wins
        if not (out / rundir.LAST).is_file():
            raise CheckpointError(f"{out} has no checkpoint to resume from ({rundir.LAST} is missing)")
        cfg = resume_config(cfg, extend)
    elif dp.is_main:
        rundir.check_out_dir(out, overwrite)  # nothing is written before the whole config is known to work
    cfg = dp.broadcast(cfg) if resume else cfg
    validate_config(cfg)
    if cfg.train.tensorboard and dp.is_main:
        from .tensorboard_log import require_tensorboard

        require_tensorboard()
    return cfg


def _build(cfg: Config, out: Path, dp: DataParallel) -> Run:
    """Task, model (on the run's device), sign rule, optimizer and schedule; ConfigError if it will not fit."""
    tcfg = cfg.train
    if tcfg.threads:
        torch.set_num_threads(tcfg.threads)
    device = dp.use_device(tcfg.device)
    dp.rows(tcfg.batch_size)  # the global batch must split evenly over the processes
    # Model and data: the seed fixes the initial weights; batches depend on (seed, step) only.
    torch.manual_seed(cfg.seed)
    task = build_task(cfg)
    model = build_model(cfg.model, task.info).to(device)
    per_epoch = task.steps_per_epoch(tcfg.batch_size)
    total = total_steps_of(tcfg, per_epoch)
    signs = make_sign_rule(tcfg, model)
    optimizer = make_optimizer(tcfg, model, exclude=tuple(signs.latents) if signs.latent_free else ())
    scheduler = make_scheduler(tcfg, optimizer, total, per_epoch)
    check_memory(cfg, task, model)
    return Run(cfg, out, dp, task, model, optimizer, scheduler, signs, total, tcfg.eval_batch_size or tcfg.batch_size)


def _restore(run: Run, extended: bool, quiet: bool) -> dict | None:
    """Load the last checkpoint (rank 0 reads it, every rank loads it); the summary of a finished run."""
    out, cfg, dp = run.out, run.cfg, run.dp
    data = None
    if dp.is_main:
        for folder in (out, out / rundir.LAST.parent):
            remove_temporaries(folder)  # left by a write that a kill interrupted
        data = read_bytes(out / rundir.LAST)
    state = load_checkpoint(out / rundir.LAST, run.model, run.optimizer, run.scheduler, data=dp.broadcast(data),
                            check=lambda meta: check_stored_config(meta, cfg, out / rundir.LAST, out / rundir.CONFIG))
    extra = state["extra"]
    run.step = int(state["step"])
    run.running, run.seen = float(extra.get("train_loss_sum", 0.0)), int(extra.get("train_loss_count", 0))
    run.elapsed_before = float(extra.get("elapsed_s", 0.0))
    run.commands = list(extra.get("commands", []))
    run.best_score, run.best_step = extra.get("best_score"), extra.get("best_step")
    run.signs.load_state_dict({k[len("signs/"):]: v for k, v in state["state"].items() if k.startswith("signs/")},
                              extra.get("sign_rule", {}))
    finished = rundir.finished_message(out, run.step, run.total, run.elapsed_before, cfg.train) if dp.is_main else None
    if dp.broadcast(finished):
        summary = dp.broadcast(rundir.read_summary(out) if dp.is_main else None)
        run.say(quiet, finished)
        return summary
    if dp.is_main:
        if extended:
            atomic_write_text(out / rundir.CONFIG, to_yaml(cfg))
        rundir.truncate_metrics(out, run.step, cfg.train.log_every)
    return None


def _validate_where_extended(run: Run) -> None:
    """A resumed run that ended on the eval grid and is extended: the validation an uninterrupted run makes."""
    step = run.step
    if step % run.cfg.train.eval_every or step >= run.total:
        return
    missing = None
    if run.dp.is_main:
        missing = not any(r["step"] == step and r["split"] == "val" for r in rundir.read_metrics(run.out))
    if run.dp.broadcast(missing):
        run.log.write({"step": step, **_validate(run, step), "time_s": run.elapsed_before})


# ---- the loop ---------------------------------------------------------------------------------
def _loop(run: Run, on_step, on_eval, quiet: bool) -> bool:
    """Optimizer steps up to the total; returns True when the time budget stopped the run first."""
    tcfg = run.cfg.train
    budget_s = tcfg.budget_minutes * 60 if tcfg.budget_minutes else None
    run.model.train()
    show = tcfg.progress and not quiet and run.dp.is_main
    bar = tqdm(total=run.total, initial=run.step, disable=None if show else True, desc="train", unit="step",
               dynamic_ncols=True)
    run.started = run.window_start = time.perf_counter()
    with contextlib.closing(bar):
        while run.step < run.total:
            loss = _step(run)
            bar.update(1)
            if on_step is not None:
                on_step(run.step, loss)
            _log_training(run, bar)
            _evaluate_and_checkpoint(run, on_eval)
            if budget_s is not None and run.step < run.total and run.dp.any(run.elapsed() >= budget_s):
                run.say(quiet, f"time budget of {tcfg.budget_minutes} min reached at step {run.step}/{run.total}; "
                               f"stopping")
                return True
    return False


def _step(run: Run) -> float:
    """One optimizer step on this rank's rows of the step's batch; returns the global batch's loss."""
    tcfg = run.cfg.train
    x, y = run.task.train_rows(run.step, tcfg.batch_size, run.dp.rows(tcfg.batch_size))
    loss, objective = run.objective(x.to(run.dp.device), y.to(run.dp.device))
    run.optimizer.zero_grad(set_to_none=True)
    objective.backward()  # data-parallel: DDP averages the gradients over the ranks here
    run.signs.after_backward()  # bop flips here; latent-free rules drop the sign gradients
    if tcfg.grad_clip:
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), tcfg.grad_clip)
    run.optimizer.step()
    after_optimizer_step(run.model)  # e.g. projUNN's projection back onto O(n)
    run.signs.after_step()  # ste-clip clips; the STE rules count their flips
    run.scheduler.step()
    run.step += 1
    value = run.dp.mean_loss(loss)
    if not math.isfinite(value):
        run.log.write({"step": run.step, "split": "train", "loss": value, "diverged": True, "time_s": run.elapsed()})
        raise DivergedError(f"training diverged at step {run.step} (loss={value}); lower train.lr (now {tcfg.lr}) "
                            f"or set train.grad_clip; {run.out} is kept for inspection, the same command with "
                            f"--overwrite replaces it")
    run.running, run.seen = run.running + value, run.seen + 1
    return value


def _log_training(run: Run, bar) -> None:
    """Every train.log_every steps and at the last: the mean training loss since the previous line."""
    step, tcfg = run.step, run.cfg.train
    if step % tcfg.log_every and step != run.total:
        return
    rate = run.seen * tcfg.batch_size / max(time.perf_counter() - run.window_start, 1e-9)
    mean = run.running / run.seen
    run.log.write({"step": step, "split": "train", "loss": mean, "lr": run.optimizer.param_groups[0]["lr"],
                   "samples_per_s": rate, "time_s": run.elapsed()})
    bar.set_postfix(loss=f"{mean:.4g}", samples_s=f"{rate:.0f}")
    if step % tcfg.log_every == 0:  # an off-grid last line keeps the sums: a longer run continues them
        run.running, run.seen, run.window_start = 0.0, 0, time.perf_counter()


def _evaluate_and_checkpoint(run: Run, on_eval) -> None:
    """Validation every train.eval_every steps, a checkpoint every train.checkpoint_every (not at the end)."""
    step, tcfg = run.step, run.cfg.train
    if step % tcfg.eval_every == 0 and step < run.total:
        metrics = _validate(run, step)
        run.log.write({"step": step, **metrics, "time_s": run.elapsed()})
        if on_eval is not None:
            on_eval(step, metrics)
    if step % tcfg.checkpoint_every == 0 and step < run.total:
        _checkpoint(run, run.elapsed())


def _validate(run: Run, at: int) -> dict:
    """Metrics on val (and the sign rule's report); with train.keep_best, keep the best weights so far."""
    metrics = {**evaluate(run.model, run.task, "val", run.eval_bs, run.dp),
               **(run.signs.report() if run.signs.latents else {})}
    score = selection_score(metrics)
    if run.cfg.train.keep_best and (run.best_score is None or score > run.best_score):
        run.best_score, run.best_step = score, at
        if run.dp.is_main:
            save_model(run.out / rundir.BEST, run.model, {"step": at, "config": config_to_dict(run.cfg)})
    return metrics


def _checkpoint(run: Run, elapsed: float) -> None:
    """checkpoints/last.safetensors, everything resume needs (written by rank 0, once the ranks agree)."""
    sign_tensors, sign_scalars = run.signs.state_dict()
    state = {f"signs/{k}": v for k, v in sign_tensors.items()}
    run.dp.check_in_sync({**{f"model/{k}": v for k, v in run.model.state_dict().items()}, **state})
    if not run.dp.is_main:
        return
    save_checkpoint(run.out / rundir.LAST, run.model, run.optimizer, run.scheduler, run.step,
                    {"elapsed_s": elapsed, "best_score": run.best_score, "best_step": run.best_step,
                     "sign_rule": sign_scalars, "commands": run.commands, "train_loss_sum": run.running,
                     "train_loss_count": run.seen},
                    state=state, config=config_to_dict(run.cfg))


# ---- the end ----------------------------------------------------------------------------------
def _finish(run: Run, stopped_early: bool, quiet: bool) -> dict:
    """Checkpoint, final model (the last, or with train.keep_best the best on val), val + test, summary."""
    runtime = run.elapsed()
    _checkpoint(run, runtime)
    final = {"val": {**evaluate(run.model, run.task, "val", run.eval_bs, run.dp),
                     **(run.signs.report() if run.signs.latents else {})}}
    selected = run.step
    if run.cfg.train.keep_best and run.best_score is not None and run.best_score > selection_score(final["val"]):
        path = run.out / rundir.BEST  # rank 0 reads it, every rank loads it
        load_model(path, run.model, data=run.dp.broadcast(read_bytes(path) if run.dp.is_main else None))
        selected = run.best_step
        final["val"] = evaluate(run.model, run.task, "val", run.eval_bs, run.dp)
    if run.dp.is_main:
        save_model(run.out / rundir.MODEL, run.model, {"step": selected, "config": config_to_dict(run.cfg)})
    final["test"] = evaluate(run.model, run.task, "test", run.eval_bs, run.dp)
    for split in ("val", "test"):
        run.log.write({"step": run.step, **final[split], "time_s": runtime, "final": True, "selected_step": selected})
    run.log.close()
    summary = rundir.make_summary(run.cfg, run.model, run.step, run.total, runtime, final, stopped_early,
                                  selected_step=selected, commands=run.commands, device=describe(run.dp.device),
                                  processes=run.dp.world_size)
    if run.dp.is_main:
        rundir.write_summary(run.out, summary)
    run.say(quiet, f"{rundir.score_line(final['test'], run.task.info.baseline_name)}  [{run.step} steps, "
                   f"{runtime:.1f} s, run folder {run.out}]")
    return summary
