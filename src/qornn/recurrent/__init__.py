"""Recurrent-weight schemes, one per file, and one-line entry points.

Each scheme is a parametrization (``torch.nn.utils.parametrize``) of a square
weight, so it can be put on any module's tensor::

    rnn = torch.nn.RNN(16, 64, batch_first=True)
    qornn.recurrent.hadamard_(rnn, "weight_hh_l0")        # binary orthogonal W

The registry ``SCHEMES`` maps a config name (``model.recurrent``) to a builder
``builder(n, options) -> RecurrentScheme`` where ``options`` is a mapping of the
model configuration (``ste``, ``block_size``, ...).
"""
from __future__ import annotations

import re
from typing import Callable, Mapping

import torch
from torch import nn
from torch.nn.utils import parametrize

from ..errors import ConfigError, ShapeError
from .base import RecurrentScheme
from .bjorck import BjorckOrthogonal
from .block_hadamard import BlockHadamardSign
from .dense import DenseWeight
from .hadamard import HadamardSign
from .orthogonal import OrthogonalMap
from .projunn import ProjUNN

Builder = Callable[[int, Mapping], RecurrentScheme]

SCHEMES: dict[str, Builder] = {
    "hadamard": lambda n, o: HadamardSign(n, ste=o.get("ste", "identity")),
    "block-hadamard": lambda n, o: BlockHadamardSign(
        n, o.get("block_size"), ste=o.get("ste", "identity"),
        permute=o.get("permute_blocks", False), seed=o.get("permute_seed", 0)),
    "dense": lambda n, o: DenseWeight(n),
    "expm": lambda n, o: OrthogonalMap(n, "expm"),
    "cayley": lambda n, o: OrthogonalMap(n, "cayley"),
    "bjorck": lambda n, o: BjorckOrthogonal(n, steps=o.get("bjorck_steps", 15), beta=o.get("bjorck_beta", 0.5)),
    "projunn-d": lambda n, o: ProjUNN(n, "d", rank=o.get("projunn_rank", 1), sampler=o.get("projunn_sampler", "lsi")),
    "projunn-t": lambda n, o: ProjUNN(n, "t", rank=o.get("projunn_rank", 1), sampler=o.get("projunn_sampler", "lsi")),
}

def register_scheme(name: str, builder: Builder) -> None:
    """Make a scheme available as ``model.recurrent=name``."""
    SCHEMES[name] = builder


#: The config key of each scheme argument: library calls name the argument, the config layer the key.
CONFIG_KEYS = {"n": "model.hidden_size", "block_size": "model.block_size", "ste": "model.ste",
               "steps": "model.bjorck_steps", "beta": "model.bjorck_beta", "rank": "model.projunn_rank",
               "sampler": "model.projunn_sampler"}
_ARGUMENT = re.compile(r"\b(" + "|".join(CONFIG_KEYS) + r")=")


def build_scheme(name: str, n: int, options: Mapping | None = None) -> RecurrentScheme:
    """The scheme ``model.recurrent=name`` for hidden size n; a bad value raises a ConfigError naming its key."""
    if name not in SCHEMES:
        raise ConfigError(f"model.recurrent={name!r} is unknown; allowed: {', '.join(sorted(SCHEMES))}")
    try:
        return SCHEMES[name](n, dict(options or {}))
    except (ShapeError, ConfigError) as exc:
        message = _ARGUMENT.sub(lambda m: CONFIG_KEYS[m.group(1)] + "=", str(exc))
        raise ConfigError(f"{message} (model.recurrent={name!r})") from None


def scheme_value_set(name: str, n: int, options: Mapping | None = None) -> tuple[str, str] | None:
    """The fixed value set of W for ``model.recurrent=name`` (``RecurrentScheme.value_set``), or None: a
    full-precision W, or a name that is not a scheme here (e.g. ``lstm``)."""
    if name not in SCHEMES:
        return None
    return build_scheme(name, n, options).value_set


def attach(module: nn.Module, tensor_name: str, scheme: RecurrentScheme, initialize: bool = True) -> nn.Module:
    """Register ``scheme`` as the parametrization of ``module.<tensor_name>`` (square n×n)."""
    weight = getattr(module, tensor_name)
    if weight.dim() != 2 or weight.shape[0] != weight.shape[1] or weight.shape[0] != scheme.n:
        from ..errors import ShapeError

        raise ShapeError(f"{tensor_name} has shape {tuple(weight.shape)}; the scheme needs ({scheme.n}, {scheme.n})")
    scheme = scheme.to(device=weight.device)
    parametrize.register_parametrization(module, tensor_name, scheme, unsafe=True)
    if initialize:
        scheme.initialize_(latent_of(module, tensor_name))
    return module


def latent_of(module: nn.Module, tensor_name: str) -> torch.Tensor:
    """The trained (latent) tensor behind a parametrized weight."""
    return module.parametrizations[tensor_name].original


def scheme_of(module: nn.Module, tensor_name: str) -> RecurrentScheme | None:
    if not parametrize.is_parametrized(module, tensor_name):
        return None
    for p in module.parametrizations[tensor_name]:
        if isinstance(p, RecurrentScheme):
            return p
    return None


def hadamard_(module: nn.Module, tensor_name: str = "weight_hh_l0", ste: str = "identity") -> nn.Module:
    """Make ``module.<tensor_name>`` a HadamRNN weight diag(sign u)·S_n/√n (n trainable bits)."""
    n = getattr(module, tensor_name).shape[0]
    return attach(module, tensor_name, HadamardSign(n, ste=ste))


def block_hadamard_(module: nn.Module, tensor_name: str = "weight_hh_l0", block_size: int = 16,
                    ste: str = "identity", permute: bool = False, seed: int = 0) -> nn.Module:
    """Make ``module.<tensor_name>`` a Block-HadamRNN weight P·diag(sign u)·(I_q⊗S_m/√m)·Pᵀ."""
    n = getattr(module, tensor_name).shape[0]
    return attach(module, tensor_name, BlockHadamardSign(n, block_size, ste=ste, permute=permute, seed=seed))


def orthogonal_(module: nn.Module, tensor_name: str = "weight_hh_l0", map: str = "expm") -> nn.Module:
    """Make ``module.<tensor_name>`` orthogonal as B·φ(A), A skew, φ = ``expm`` or ``cayley`` (full precision)."""
    n = getattr(module, tensor_name).shape[0]
    return attach(module, tensor_name, OrthogonalMap(n, map))


def bjorck_(module: nn.Module, tensor_name: str = "weight_hh_l0", steps: int = 15, beta: float = 0.5) -> nn.Module:
    """Make ``module.<tensor_name>`` = Björck_N,β(V/σ_max(V)) (approximately orthogonal, free latent V)."""
    n = getattr(module, tensor_name).shape[0]
    return attach(module, tensor_name, BjorckOrthogonal(n, steps=steps, beta=beta))


def projunn_(module: nn.Module, tensor_name: str = "weight_hh_l0", mode: str = "d", rank: int = 1,
             sampler: str = "lsi") -> nn.Module:
    """Keep ``module.<tensor_name>`` on O(n) by a rank-r projUNN step; call :func:`after_optimizer_step` after
    each ``optimizer.step()``."""
    n = getattr(module, tensor_name).shape[0]
    return attach(module, tensor_name, ProjUNN(n, mode, rank=rank, sampler=sampler))


@torch.no_grad()
def after_optimizer_step(model: nn.Module) -> None:
    """Run every recurrent scheme's post-step update (projUNN's projection) on its latent, anywhere in ``model``."""
    for module in model.modules():
        if not parametrize.is_parametrized(module):
            continue
        for name, plist in module.parametrizations.items():
            for p in plist:
                if isinstance(p, RecurrentScheme):
                    p.after_optimizer_step(plist.original)


__all__ = ["RecurrentScheme", "HadamardSign", "BlockHadamardSign", "DenseWeight", "OrthogonalMap",
           "BjorckOrthogonal", "ProjUNN", "SCHEMES",
           "register_scheme", "build_scheme", "scheme_value_set", "attach", "latent_of", "scheme_of", "hadamard_",
           "block_hadamard_", "orthogonal_", "bjorck_", "projunn_", "after_optimizer_step"]
