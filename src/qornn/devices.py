"""Where a run's tensors live: ``train.device`` (``qornn train --device``).

``auto`` is the first CUDA device when torch sees one, else the CPU; ``cpu``, ``cuda``,
``cuda:N`` and ``mps`` (Apple GPUs) name a device.  A device this machine lacks is a
ConfigError naming it, before anything is written.  Under ``torchrun`` every process on
a machine with GPUs takes the GPU of its local rank (:mod:`qornn.distributed`).

Everything is computed in float32 on every device: the quantizers, the Hadamard
transform and the recurrence must stay there (a sign or a k-bit grid point changes
with the rounding), and the fused engine writes into float32 buffers of its own, so
automatic mixed precision is not offered.  The fht-cpu kernel is CPU-only; on other
devices the engines use a batched PyTorch transform (:func:`qornn.hadamard.step_method`).

>>> resolve_device("cpu")
device(type='cpu')
"""
from __future__ import annotations

import re

import torch

from .errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "mps")
#: What ``train.device`` may hold: a name of :data:`DEVICES` or ``cuda:N``.
PATTERN = re.compile(r"^(auto|cpu|cuda|mps|cuda:\d+)$")


def check_device_name(name) -> str:
    """``name`` if it is a device name qornn accepts; a ConfigError otherwise."""
    if not isinstance(name, str) or not PATTERN.match(name):
        raise ConfigError(f"train.device={name!r} is not allowed; use one of {', '.join(DEVICES)} or cuda:N")
    return name


def cuda_available() -> bool:
    return torch.cuda.is_available()


def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """The ``torch.device`` of ``train.device=name`` on this machine (``local_rank``: the GPU of a
    torchrun process when the name says ``auto`` or ``cuda``)."""
    check_device_name(name)
    if name == "auto":
        name = "cuda" if cuda_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not mps_available():
            raise ConfigError("train.device='mps' is not available on this machine (torch.backends.mps is not "
                              "available); use auto or cpu")
        return torch.device("mps")
    if not cuda_available():
        raise ConfigError(f"train.device={name!r} is not available on this machine (torch.cuda.is_available() is "
                          f"False: no GPU, or a CPU-only torch build); use auto or cpu")
    count = torch.cuda.device_count()
    index = int(name.split(":")[1]) if ":" in name else local_rank
    if index >= count:
        raise ConfigError(f"train.device={name!r} (local rank {local_rank}) is not available: this machine has "
                          f"{count} CUDA device(s), cuda:0 to cuda:{count - 1}")
    return torch.device("cuda", index)


def describe(device: torch.device) -> str:
    """``cpu``, ``cuda:0 (NVIDIA H100 ...)`` or ``mps``: for logs and summaries."""
    if device.type == "cuda":
        return f"cuda:{device.index} ({torch.cuda.get_device_name(device)})"
    return str(device)
