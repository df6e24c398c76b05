"""How the binary signs of HadamRNN / Block-HadamRNN learn: ``train.sign_rule``.

W = diag(s)·S/√n has n trainable signs s = sign(u).  The gradient that reaches the
latent u through the straight-through sign is g = ∂L/∂s.  Four rules:

* ``ste``: u is updated by the run's optimizer (at lr × ``train.recurrent_lr_scale``),
  as in the HadamRNN paper (Foucault, Mamalet, Malgouyres, ICLR 2025).
* ``ste-clip``: the same, then u ← clip(u, −1, 1) after every step, as BinaryConnect
  (Courbariaux, Bengio, David, NeurIPS 2015), so a latent never drifts far from a flip.
* ``bop``: latent-free flips (Bop, Helwegen et al., NeurIPS 2019).  An exponential
  moving average of the gradient, m ← (1 − γ)·m + γ·g, and a flip of s_i when
  |m_i| > τ and sign(m_i) = s_i, i.e. when the descent direction −m_i has pointed
  against the current sign long enough.  u is not touched by the optimizer; a flip
  negates u_i.  With ``train.bop_normalize`` the test is on r_i = m_i/√v_i with
  v ← (1 − γ)·v + γ·g² (so |r_i| ≤ 1 measures how consistently the gradient points
  one way, independent of the loss's scale; τ is then in (0, 1)).
  ``train.bop_max_flip_fraction`` optionally caps the flips of one step to the
  largest |r_i| (every flip changes all powers of W at once).
* ``frozen``: the random initial signs are kept.

>>> import torch
>>> u = torch.tensor([0.5, -0.5, 0.5])
>>> rule = SignRule("bop", [u], gamma=0.5, threshold=0.6)
>>> u.grad = torch.tensor([1.0, 1.0, -1.0])   # descent says: s_0 down, s_1 down (already), s_2 up (already)
>>> rule.after_backward(); u.tolist()          # m = 0.5·g: |m| ≤ τ, no flip yet
[0.5, -0.5, 0.5]
>>> u.grad = torch.tensor([1.0, 1.0, -1.0]); rule.after_backward(); u.tolist()   # m = 0.75·g: s_0 flips
[-0.5, -0.5, 0.5]
"""
from __future__ import annotations

import math

import torch

from .errors import ConfigError

SIGN_RULES = ("ste", "ste-clip", "bop", "frozen")
#: Rules whose latent is not updated by the optimizer.
LATENT_FREE = ("bop", "frozen")
#: |u| below this counts as "near zero" (about one Adam step at lr 1e-3 from a flip).
NEAR_ZERO = 1e-3


def check_sign_rule(rule: str, gamma: float, threshold: float, max_flip_fraction, normalize: bool = False) -> None:
    """One-line errors for a bad rule or bad Bop hyper-parameters."""
    if rule not in SIGN_RULES:
        raise ConfigError(f"train.sign_rule={rule!r} is unknown; allowed: {', '.join(SIGN_RULES)}")
    if rule != "bop":
        return
    if not (isinstance(gamma, (int, float)) and 0 < gamma <= 1):
        raise ConfigError(f"train.bop_gamma={gamma!r} is not allowed; use a number in (0, 1]")
    if not (isinstance(threshold, (int, float)) and math.isfinite(threshold) and threshold > 0):
        raise ConfigError(f"train.bop_threshold={threshold!r} is not allowed; use a finite number > 0")
    if normalize and not threshold < 1:
        raise ConfigError(f"train.bop_threshold={threshold!r} is not allowed with train.bop_normalize=true "
                          f"(|m|/√v ≤ 1); use a number in (0, 1)")
    if max_flip_fraction is not None and not (isinstance(max_flip_fraction, (int, float))
                                              and 0 < max_flip_fraction <= 1):
        raise ConfigError(f"train.bop_max_flip_fraction={max_flip_fraction!r} is not allowed; "
                          f"use a number in (0, 1] or null")


def sign_latents(model: torch.nn.Module) -> list[torch.Tensor]:
    """The latent tensors u of every recurrent scheme with trainable signs in ``model``."""
    from torch.nn.utils import parametrize

    found = []
    for module in model.modules():
        if not parametrize.is_parametrized(module):
            continue
        for plist in module.parametrizations.values():
            if any(callable(getattr(p, "signs", None)) for p in plist):
                found.append(plist.original)
    return found


class SignRule:
    """Applies ``train.sign_rule`` to the sign latents ``latents`` and counts flips (see module docstring).

    Call :meth:`after_backward` between ``backward()`` and ``optimizer.step()`` and
    :meth:`after_step` after it.  :meth:`state_dict` holds everything resume needs.
    """

    def __init__(self, rule: str, latents: list[torch.Tensor], gamma: float = 1e-3, threshold: float = 1e-6,
                 max_flip_fraction: float | None = None, normalize: bool = False):
        check_sign_rule(rule, gamma, threshold, max_flip_fraction, normalize)
        self.rule, self.latents = rule, list(latents)
        self.gamma, self.threshold, self.max_flip_fraction = float(gamma), float(threshold), max_flip_fraction
        self.normalize = bool(normalize) and rule == "bop"
        self.momentum = [torch.zeros_like(u, dtype=torch.float32) for u in self.latents] if rule == "bop" else []
        self.second = [torch.zeros_like(m) for m in self.momentum] if self.normalize else []
        self.flips = 0  # since the last report()
        self._before: list[torch.Tensor] = []

    @property
    def latent_free(self) -> bool:
        return self.rule in LATENT_FREE

    @torch.no_grad()
    def after_backward(self) -> None:
        """Bop: update the moving averages and flip; latent-free rules: drop the latents' gradients."""
        if self.rule == "bop":
            for i, (u, m) in enumerate(zip(self.latents, self.momentum)):
                if u.grad is not None:
                    g = u.grad.float()
                    m.mul_(1 - self.gamma).add_(g, alpha=self.gamma)
                    if self.normalize:
                        self.second[i].mul_(1 - self.gamma).addcmul_(g, g, value=self.gamma)
                signal = m / self.second[i].sqrt().clamp_min(1e-30) if self.normalize else m
                self.flips += self._flip(u, signal)
        if self.latent_free:
            for u in self.latents:
                u.grad = None
        else:
            self._before = [u >= 0 for u in self.latents]

    def _flip(self, u: torch.Tensor, m: torch.Tensor) -> int:
        s = torch.where(u >= 0, 1.0, -1.0)
        want = (m.abs() > self.threshold) & (torch.sign(m) == s)
        count = int(want.sum())
        if count and self.max_flip_fraction is not None:
            cap = max(1, int(self.max_flip_fraction * u.numel()))
            if count > cap:
                strength = torch.where(want, m.abs(), torch.zeros_like(m))
                keep = torch.topk(strength.flatten(), cap).indices
                want = torch.zeros_like(want).flatten().index_fill_(0, keep, True).view_as(want)
                count = cap
        if count:
            u.copy_(torch.where(want, -s * u.abs().clamp_min(1e-12), u))
        return count

    @torch.no_grad()
    def after_step(self) -> None:
        """STE rules: clip (ste-clip) and count the flips the optimizer made."""
        if self.latent_free:
            return
        for u, before in zip(self.latents, self._before):
            if self.rule == "ste-clip":
                u.clamp_(-1.0, 1.0)
            self.flips += int(((u >= 0) != before).sum())
        self._before = []

    def report(self) -> dict:
        """Flips since the last report and (STE rules) the share of latents within NEAR_ZERO of 0."""
        out = {"sign_flips": self.flips}
        if not self.latent_free and self.latents:
            total = sum(u.numel() for u in self.latents)
            near = sum(int((u.abs() < NEAR_ZERO).sum()) for u in self.latents)
            out["latents_near_zero"] = near / total
        self.flips = 0
        return out

    def state_dict(self) -> tuple[dict[str, torch.Tensor], dict]:
        """(tensors, JSON-able scalars) to store in a checkpoint."""
        tensors = {f"bop_momentum/{i}": m for i, m in enumerate(self.momentum)}
        tensors.update({f"bop_second/{i}": v for i, v in enumerate(self.second)})
        return tensors, {"flips": self.flips}

    def load_state_dict(self, tensors: dict[str, torch.Tensor], scalars: dict) -> None:
        for key, mine in self.state_dict()[0].items():
            if key not in tensors or tensors[key].shape != mine.shape:
                from .errors import CheckpointError

                raise CheckpointError(f"the checkpoint has no valid {key} for train.sign_rule=bop")
            mine.copy_(tensors[key])
        self.flips = int(scalars.get("flips", 0))
