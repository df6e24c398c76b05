"""How a run's parameters are updated: the objective, the optimizer, its schedule and the sign rule.

``Objective(model, task)(x, y)`` is the training forward pass, (loss, loss + regularization);
:func:`make_optimizer`, :func:`make_scheduler` and :func:`make_sign_rule` turn ``cfg.train``
into the optimizer (with the recurrent latents in a group of their own), a per-step learning
rate schedule and the rule that trains HadamRNN's signs (:mod:`qornn.signs`).
"""
from __future__ import annotations

import math

import torch

from .engine import model_loss
from .errors import ConfigError
from .model import OrthoRNN
from .signs import SignRule, sign_latents

__all__ = ["SCHEDULES", "Objective", "make_optimizer", "make_scheduler", "make_sign_rule", "total_steps_of",
           "regularization"]

SCHEDULES = ("constant", "step", "cosine")


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
    """Optimizer steps of the run: ``train.steps``, else ⌈``train.epochs`` × steps per epoch⌉."""
    if tcfg.steps is not None:
        if tcfg.steps < 1:
            raise ConfigError(f"train.steps={tcfg.steps} is not allowed; use a positive integer")
        return int(tcfg.steps)
    if tcfg.epochs is not None and tcfg.epochs > 0:
        return max(1, math.ceil(tcfg.epochs * steps_per_epoch))
    raise ConfigError("set train.steps or train.epochs (a positive number)")


def regularization(model: torch.nn.Module) -> torch.Tensor | float:
    """Sum of ``penalty()`` terms that modules add to the loss (e.g. an orthogonality penalty)."""
    total = 0.0
    for m in model.modules():
        if isinstance(m, OrthoRNN) and hasattr(m, "penalty"):
            total = total + m.penalty()
    return total


class Objective(torch.nn.Module):
    """(loss, loss + regularization) of ``model`` on a batch (x, y) of ``task``.

    The whole training forward pass in one module, so that DistributedDataParallel can wrap it:
    :func:`qornn.engine.model_loss` fuses the readout and the cross-entropy and does not go through
    ``model.forward``.
    """

    def __init__(self, model: torch.nn.Module, task):
        super().__init__()
        self.model, self.task = model, task

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        loss = model_loss(self.model, self.task, x, y)  # readout + cross-entropy fused where possible
        return loss, loss + regularization(self.model)
