"""torch's orthogonal parametrization (``torch.nn.utils.parametrizations._Orthogonal``).

``torch.nn.utils.parametrizations.orthogonal(module)`` registers a private module
``_Orthogonal(weight, map, use_trivialization=True)`` computing W = B·φ(A),
A = tril(X) − tril(X)ᵀ, with φ the matrix exponential or the Cayley map
(``_OrthMaps``) and B a persistent buffer ``base``; its ``right_inverse(W)`` makes W
the base.  qornn wraps that module as a recurrent scheme
(:class:`qornn.recurrent.OrthogonalMap`), so checkpoints hold ``...map.base``; only
this file names the private classes, and ``tests/test_adapters.py`` checks them.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import _OrthMaps, _Orthogonal

#: The maps qornn offers, by config name.
MAPS = {"expm": _OrthMaps.matrix_exp, "cayley": _OrthMaps.cayley}


def orthogonal_map(n: int, kind: str) -> nn.Module:
    """A module X ↦ B·φ(tril(X) − tril(X)ᵀ) with a persistent buffer ``base`` = B (initially I)."""
    module = _Orthogonal(torch.empty(n, n), MAPS[kind], use_trivialization=True)
    module.base = torch.eye(n)
    return module
