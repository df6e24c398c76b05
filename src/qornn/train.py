"""The training loop: from a config to a run folder, top to bottom.

``train(cfg, out_dir)`` builds the task and model, then for each step draws the
batch of that step (a pure function of seed and step), takes one optimizer step,
and now and then evaluates on the validation split, appends to ``metrics.jsonl``
and writes a checkpoint.  At the end it evaluates on val and test and writes the
final model and ``summary.json``.  ``train(..., resume=True)`` continues from the
last checkpoint and gives exactly the results of an uninterrupted run.
"""
from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from . import jsonio
from . import run as rundir
from .checkpoint import (atomic_write_text, check_stored_config, load_checkpoint, load_model, remove_temporaries,
                         save_checkpoint, save_model)
from .config import Config, config_to_dict, resume_config, to_yaml, validate_config
from .engine import model_loss
from .errors import CheckpointError, ConfigError, DivergedError
from .memory import check_memory
from .model import OrthoRNN, build_model
from .recurrent import after_optimizer_step
from .signs import SignRule, sign_latents
from .tasks import Task, build_task

SCHEDULES = ("constant", "step", "cosine")


# ---- building blocks --------------------------------------------------------------------------
def make_optimizer(tcfg, model, exclude: tuple = ()) -> torch.optim.Optimizer:
    """Any ``torch.optim`` optimizer by (case-insensitive) name, e.g. adam, adamw, sgd, rmsprop.

    The latent tensors of recurrent matrices (e.g. the sign latents u of HadamRNN) form their own
    parameter group with learning rate ``lr × recurrent_lr_scale`` (like projUNN's ``lr_divider``):
    every sign flip of u changes all powers of W, so a smaller step keeps the readout learnable.
    Tensors in ``exclude`` (the latents of a latent-free sign rule) are left out.
    """
    names = {n.lower(): n for n in dir(torch.optim) if isinstance(getattr(torch.optim, n), type)
             and issubclass(getattr(torch.optim, n), torch.optim.Optimizer) and n != "Optimizer"}
    if tcfg.optimizer.lower() not in names:
        raise ConfigError(f"train.optimizer={tcfg.optimizer!r} is unknown; allowed: {', '.join(sorted(names))}")
    if not tcfg.lr > 0:
        raise ConfigError(f"train.lr={tcfg.lr} is not allowed; use a positive number")
    if not tcfg.recurrent_lr_scale >= 0:
        raise ConfigError(f"train.recurrent_lr_scale={tcfg.recurrent_lr_scale} is not allowed; use a number >= 0")
    if not isinstance(model, torch.nn.Module):  # a plain iterable of parameters: one group
        groups = [{"params": list(model)}]
    else:
        recurrent = {id(m.recurrent_latent) for m in model.modules() if isinstance(m, OrthoRNN)}
        skip = {id(p) for p in exclude}
        groups = [{"params": [p for p in model.parameters() if id(p) not in recurrent | skip]}]
        latents = [p for p in model.parameters() if id(p) in recurrent and id(p) not in skip]
        if latents:
            groups.append({"params": latents, "lr": tcfg.lr * tcfg.recurrent_lr_scale})
    cls = getattr(torch.optim, names[tcfg.optimizer.lower()])
    return cls(groups, lr=tcfg.lr, weight_decay=tcfg.weight_decay)


def make_scheduler(tcfg, optimizer, total_steps: int, steps_per_epoch: int):
    """LambdaLR stepped once per optimizer step: constant, step (×γ every k epochs) or cosine."""
    if tcfg.schedule not in SCHEDULES:
        raise ConfigError(f"train.schedule={tcfg.schedule!r} is unknown; allowed: {', '.join(SCHEDULES)}")
    if tcfg.schedule == "step":
        every = max(1, round(tcfg.lr_step_epochs * steps_per_epoch))
        factor = lambda s: tcfg.lr_gamma ** (s // every)  # noqa: E731
    elif tcfg.schedule == "cosine":
        factor = lambda s: 0.5 * (1.0 + math.cos(math.pi * min(s, total_steps) / total_steps))  # noqa: E731
    else:
        factor = lambda s: 1.0  # noqa: E731
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def finished_message(out: Path, step: int, total: int, elapsed_s: float, tcfg) -> str | None:
    """Why a finished run (summary written) has nothing left to train, or None."""
    if not (out / rundir.SUMMARY).is_file():
        return None
    if step >= total:
        return (f"{out} is finished ({step}/{total} steps); nothing to do (extend it with --set train.steps=N "
                f"or train.epochs=E)")
    if tcfg.budget_minutes and elapsed_s >= tcfg.budget_minutes * 60:
        return (f"{out} stopped at its time budget ({tcfg.budget_minutes} min, step {step}/{total}); nothing to "
                f"do (extend it with --set train.budget_minutes=M)")
    return None


def make_sign_rule(tcfg, model) -> SignRule:
    """``train.sign_rule`` for the model's sign latents; a rule other than ``ste`` needs a scheme with signs."""
    latents = sign_latents(model)
    rule = SignRule(tcfg.sign_rule, latents, tcfg.bop_gamma, tcfg.bop_threshold, tcfg.bop_max_flip_fraction,
                    tcfg.bop_normalize)
    if tcfg.sign_rule != "ste" and not latents:
        raise ConfigError(f"train.sign_rule={tcfg.sign_rule!r} needs a recurrent matrix with trainable signs "
                          f"(model.recurrent=hadamard or block-hadamard); use train.sign_rule=ste")
    return rule


def total_steps_of(tcfg, steps_per_epoch: int) -> int:
    if tcfg.steps is not None:
        if tcfg.steps < 1:
            raise ConfigError(f"train.steps={tcfg.steps} is not allowed; use a positive integer")
        return int(tcfg.steps)
    if tcfg.epochs is not None and tcfg.epochs > 0:
        return max(1, math.ceil(tcfg.epochs * steps_per_epoch))
    raise ConfigError("set train.steps or train.epochs (a positive number)")


@torch.no_grad()
def evaluate(model: torch.nn.Module, task: Task, split: str, batch_size: int) -> dict:
    """Mean loss (and accuracy where defined) over a whole split."""
    was_training = model.training
    model.eval()
    loss_sum, count, correct, scored = 0.0, 0, 0, 0
    for x, y in task.eval_batches(split, batch_size):
        logits = model(x)
        loss_sum += float(task.loss(logits, y)) * len(x)
        count += len(x)
        c, s = task.correct(logits, y)
        correct, scored = correct + c, scored + s
    model.train(was_training)
    out = {"split": split, "loss": loss_sum / max(count, 1)}
    if task.info.has_accuracy and scored:
        out["accuracy"] = correct / scored
    if task.info.baseline is not None:
        out["baseline"] = task.info.baseline
    return out


def selection_score(metrics: dict) -> float:
    """Higher is better: validation accuracy where defined, else minus the loss."""
    return metrics["accuracy"] if "accuracy" in metrics else -metrics["loss"]


def regularization(model: torch.nn.Module) -> torch.Tensor | float:
    """Sum of ``penalty()`` terms that modules add to the loss (e.g. an orthogonality penalty)."""
    total = 0.0
    for m in model.modules():
        if isinstance(m, OrthoRNN) and hasattr(m, "penalty"):
            total = total + m.penalty()
    return total


class MetricsLog:
    """Appends one JSON object per line to metrics.jsonl (with ``tensorboard``, also to RUN/tensorboard/)."""

    def __init__(self, path: Path, tensorboard: bool = False, first_step: int | None = None):
        self.path = path
        self.board = None
        if tensorboard:
            from .tensorboard_log import FOLDER, TensorBoardLog

            self.board = TensorBoardLog(path.parent / FOLDER, first_step)

    def write(self, record: dict) -> None:
        with open(self.path, "a") as f:
            f.write(jsonio.dumps(record) + "\n")  # NaN / inf → null (JSON has neither)
            f.flush()
        if self.board is not None:
            self.board.write(record)

    def close(self) -> None:
        if self.board is not None:
            self.board.close()


# ---- the loop ---------------------------------------------------------------------------------
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
    this runs.
    """
    with contextlib.ExitStack() as locks:
        return _train(cfg, Path(out_dir), resume, overwrite, on_step, quiet, extend, command, locks, on_eval)


def _train(cfg, out: Path, resume, overwrite, on_step, quiet, extend, command, locks: contextlib.ExitStack,
           on_eval=None) -> dict:
    if resume:
        locks.enter_context(rundir.lock_run(out))  # a second writer of this folder stops here
        cfg = rundir.read_config(out)  # the run's own config wins
        if not (out / rundir.LAST).is_file():
            raise CheckpointError(f"{out} has no checkpoint to resume from ({rundir.LAST} is missing)")
        cfg = resume_config(cfg, extend)
    else:
        rundir.check_out_dir(out, overwrite)  # nothing is written before the whole config is known to work
    validate_config(cfg)
    if cfg.train.tensorboard:
        from .tensorboard_log import require_tensorboard

        require_tensorboard()
    tcfg = cfg.train
    if tcfg.threads:
        torch.set_num_threads(tcfg.threads)

    # Model and data: the seed fixes the initial weights; batches depend on (seed, step) only.
    torch.manual_seed(cfg.seed)
    task = build_task(cfg)
    model = build_model(cfg.model, task.info)
    per_epoch = task.steps_per_epoch(tcfg.batch_size)
    total = total_steps_of(tcfg, per_epoch)
    signs = make_sign_rule(tcfg, model)
    optimizer = make_optimizer(tcfg, model, exclude=tuple(signs.latents) if signs.latent_free else ())
    scheduler = make_scheduler(tcfg, optimizer, total, per_epoch)
    eval_bs = tcfg.eval_batch_size or tcfg.batch_size
    check_memory(cfg, task, model)
    if not resume:
        locks.enter_context(rundir.create_run_dir(out, overwrite, {rundir.CONFIG: to_yaml(cfg)}))

    step, elapsed_before, commands = 0, 0.0, []
    best = {"score": None, "step": None}  # best validation score so far (train.keep_best)
    running, seen = 0.0, 0  # sum and count of training losses since the last log line
    if resume:
        for folder in (out, out / rundir.LAST.parent):
            remove_temporaries(folder)  # left by a write that a kill interrupted
        state = load_checkpoint(out / rundir.LAST, model, optimizer, scheduler,
                                check=lambda meta: check_stored_config(meta, cfg, out / rundir.LAST,
                                                                       out / rundir.CONFIG))
        step = int(state["step"])
        running, seen = float(state["extra"].get("train_loss_sum", 0.0)), int(state["extra"].get("train_loss_count", 0))
        elapsed_before = float(state["extra"].get("elapsed_s", 0.0))
        commands = list(state["extra"].get("commands", []))
        best = {"score": state["extra"].get("best_score"), "step": state["extra"].get("best_step")}
        signs.load_state_dict({k[len("signs/"):]: v for k, v in state["state"].items() if k.startswith("signs/")},
                              state["extra"].get("sign_rule", {}))
        finished = finished_message(out, step, total, elapsed_before, tcfg)
        if finished:  # nothing to train: change nothing
            summary = rundir.read_summary(out)
            if not quiet:
                print(finished)
            return summary
        if extend:
            atomic_write_text(out / rundir.CONFIG, to_yaml(cfg))
        rundir.truncate_metrics(out, step, tcfg.log_every)
    if command:
        commands.append(command)
    log = MetricsLog(out / rundir.METRICS, tcfg.tensorboard, step + 1 if resume else None)
    log_fn = (lambda *a: None) if quiet else print

    def checkpoint(at: int, elapsed: float) -> None:
        sign_tensors, sign_scalars = signs.state_dict()
        save_checkpoint(out / rundir.LAST, model, optimizer, scheduler, at,
                        {"elapsed_s": elapsed, "best_score": best["score"], "best_step": best["step"],
                         "sign_rule": sign_scalars, "commands": commands, "train_loss_sum": running,
                         "train_loss_count": seen},
                        state={f"signs/{k}": v for k, v in sign_tensors.items()}, config=config_to_dict(cfg))

    def validate(at: int) -> dict:
        """Evaluate on val; with train.keep_best, keep the weights of the best score so far."""
        metrics = {**evaluate(model, task, "val", eval_bs), **(signs.report() if signs.latents else {})}
        score = selection_score(metrics)
        if tcfg.keep_best and (best["score"] is None or score > best["score"]):
            best.update(score=score, step=at)
            save_model(out / rundir.BEST, model, {"step": at, "config": config_to_dict(cfg)})
        return metrics

    if resume and step % tcfg.eval_every == 0 and step < total and not any(
            r["step"] == step and r["split"] == "val" for r in rundir.read_metrics(out)):
        # an extended run: the validation that an uninterrupted run makes at this step
        log.write({"step": step, **validate(step), "time_s": elapsed_before})
    start = time.perf_counter()
    elapsed = lambda: elapsed_before + time.perf_counter() - start  # noqa: E731
    budget_s = tcfg.budget_minutes * 60 if tcfg.budget_minutes else None
    stopped_early = False
    model.train()
    bar = tqdm(total=total, initial=step, disable=None if (tcfg.progress and not quiet) else True,
               desc="train", unit="step", dynamic_ncols=True)
    window_start = time.perf_counter()
    while step < total:
        x, y = task.train_batch(step, tcfg.batch_size)
        loss = model_loss(model, task, x, y)  # readout + cross-entropy fused where possible
        objective = loss + regularization(model)
        optimizer.zero_grad(set_to_none=True)
        objective.backward()
        signs.after_backward()  # bop flips here; latent-free rules drop the sign gradients
        if tcfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
        optimizer.step()
        after_optimizer_step(model)
        signs.after_step()  # ste-clip clips; the STE rules count their flips
        scheduler.step()
        step += 1
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            log.write({"step": step, "split": "train", "loss": loss_value, "diverged": True, "time_s": elapsed()})
            raise DivergedError(f"training diverged at step {step} (loss={loss_value}); lower train.lr (now "
                                f"{tcfg.lr}) or set train.grad_clip; {out} is kept for inspection, the same command "
                                f"with --overwrite replaces it")
        running, seen = running + loss_value, seen + 1
        bar.update(1)
        if on_step is not None:
            on_step(step, loss_value)

        if step % tcfg.log_every == 0 or step == total:
            rate = seen * tcfg.batch_size / max(time.perf_counter() - window_start, 1e-9)
            log.write({"step": step, "split": "train", "loss": running / seen,
                       "lr": optimizer.param_groups[0]["lr"], "samples_per_s": rate, "time_s": elapsed()})
            bar.set_postfix(loss=f"{running / seen:.4g}", samples_s=f"{rate:.0f}")
            if step % tcfg.log_every == 0:  # an off-grid last line keeps the sums: a longer run continues them
                running, seen, window_start = 0.0, 0, time.perf_counter()
        if step % tcfg.eval_every == 0 and step < total:
            metrics = validate(step)
            log.write({"step": step, **metrics, "time_s": elapsed()})
            if on_eval is not None:
                on_eval(step, metrics)
        if step % tcfg.checkpoint_every == 0 and step < total:
            checkpoint(step, elapsed())
        if budget_s is not None and elapsed() >= budget_s and step < total:
            stopped_early = True
            log_fn(f"time budget of {tcfg.budget_minutes} min reached at step {step}/{total}; stopping")
            break
    bar.close()

    # Final: checkpoint, model (the last one, or with train.keep_best the best on val), val + test, summary.
    runtime = elapsed()
    checkpoint(step, runtime)
    final = {"val": {**evaluate(model, task, "val", eval_bs), **(signs.report() if signs.latents else {})}}
    selected = step
    if tcfg.keep_best and best["score"] is not None and best["score"] > selection_score(final["val"]):
        load_model(out / rundir.BEST, model)
        selected = best["step"]
        final["val"] = evaluate(model, task, "val", eval_bs)
    save_model(out / rundir.MODEL, model, {"step": selected, "config": config_to_dict(cfg)})
    final["test"] = evaluate(model, task, "test", eval_bs)
    for split in ("val", "test"):
        log.write({"step": step, **final[split], "time_s": runtime, "final": True, "selected_step": selected})
    log.close()
    from .size import model_size

    summary = {"steps": step, "total_steps": total, "stopped_early": stopped_early, "runtime_s": runtime,
               "selected_step": selected,
               "task": cfg.task.name, "recurrent": cfg.model.recurrent, "hidden_size": cfg.model.hidden_size,
               "description": cfg.description, "seed": cfg.seed,
               "val": final["val"], "test": final["test"], "total_bits": model_size(model)["total_bits"],
               "commands": commands}
    atomic_write_text(out / rundir.SUMMARY, jsonio.dumps(summary, indent=2) + "\n")
    t = final["test"]
    line = f"test loss {t['loss']:.6g}"
    if "baseline" in t:
        verdict = "below" if t["loss"] < t["baseline"] else "NOT below"
        line += f" ({verdict} the {task.info.baseline_name} baseline {t['baseline']:.6g})"
    if "accuracy" in t:
        line += f", accuracy {100 * t['accuracy']:.2f}%"
    log_fn(f"{line}  [{step} steps, {runtime:.1f} s, run folder {out}]")
    return summary
