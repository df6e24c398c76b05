"""Data-parallel training under ``torchrun``: N processes, one global batch, identical replicas.

``torchrun --nproc_per_node N -m qornn train ...`` starts N copies of ``qornn train``;
torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ...)
tells each its place, and :func:`join` connects them.  The design is exact by
construction:

* every rank builds the same model from the same seed and draws the same global batch
  of the step (a pure function of seed and step, as in one process), then trains on its
  rows ``[r·B/N, (r+1)·B/N)`` (:meth:`DataParallel.rows`); ``train.batch_size`` B is the
  global batch and must be a multiple of N;
* ``DistributedDataParallel`` averages the gradients over the ranks during ``backward()``
  (gloo on CPU, NCCL on CUDA), so each rank holds ∇ of the mean loss over the global
  batch, what one process computes, up to the order of float additions; everything after
  ``backward()`` (the sign rule, gradient clipping, the optimizer, projUNN's projection)
  then runs on identical numbers on every rank and keeps the replicas identical
  (:meth:`DataParallel.check_in_sync` verifies it at every checkpoint);
* evaluation is split by batches over the ranks and the sums are added up, so every rank
  holds the same metrics; only rank 0 writes files and prints.

Control messages (the config and checkpoint that rank 0 reads on ``--resume``, losses,
metric sums) go through a gloo process group on the CPU; on CUDA the gradients go
through a separate NCCL group.
"""
from __future__ import annotations

import datetime
import hashlib
import inspect
import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

from .devices import resolve_device
from .errors import ConfigError, QornnError

#: How long a rank waits for the others (e.g. while rank 0 writes a checkpoint) before giving up.
TIMEOUT = datetime.timedelta(minutes=60)


class OutOfSyncError(QornnError):
    """The ranks of a data-parallel run no longer hold the same weights."""


@dataclass
class DataParallel:
    """This process's place in a data-parallel run (one process: rank 0 of 1, every method a no-op)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    gradient_group: object = None  # the NCCL group of a CUDA run (None: the default gloo group)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def use_device(self, name: str) -> torch.device:
        """Resolve ``train.device`` for this rank (its local GPU under torchrun) and remember it."""
        self.device = resolve_device(name, self.local_rank)
        if self.active and self.device.type == "mps":
            raise ConfigError("train.device='mps' cannot run data-parallel (torch.distributed has no MPS backend); "
                              "use one process or train.device=cpu")
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
            if self.active:
                self.gradient_group = _nccl_group()
        return self.device

    def rows(self, batch_size: int) -> slice:
        """This rank's rows of a global batch of ``batch_size`` (a ConfigError unless N divides it)."""
        if batch_size % self.world_size:
            raise ConfigError(f"train.batch_size={batch_size} is not allowed with {self.world_size} processes: the "
                              f"global batch is split evenly over them; use a multiple of {self.world_size}")
        share = batch_size // self.world_size
        return slice(self.rank * share, (self.rank + 1) * share)

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        """``module`` in DistributedDataParallel (gradients averaged in ``backward()``), or itself."""
        if not self.active:
            return module
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        # buffers (Björck's power-iteration vectors, projUNN's anchor) evolve identically on every rank: no
        # broadcast before each forward (the keyword is forward_sync_buffers from torch 2.13 on)
        known = inspect.signature(DistributedDataParallel.__init__).parameters
        no_sync = {"forward_sync_buffers" if "forward_sync_buffers" in known else "broadcast_buffers": False}
        return DistributedDataParallel(module, device_ids=ids, process_group=self.gradient_group, **no_sync)

    # ---- control messages (gloo, CPU) ----------------------------------------------------------------
    def broadcast(self, obj):
        """Rank 0's ``obj`` on every rank (any picklable object)."""
        if not self.active:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sums over the ranks, in float64."""
        if not self.active:
            return values
        t = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(t)
        return t.tolist()

    def mean_loss(self, loss: torch.Tensor) -> float:
        """The mean over the ranks of this step's loss: the loss of the global batch."""
        if not self.active:
            return loss.item()
        return self.sum([loss.item()])[0] / self.world_size

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on some rank."""
        return bool(self.sum([float(flag)])[0]) if self.active else flag

    def check_in_sync(self, tensors: dict[str, torch.Tensor]) -> None:
        """OutOfSyncError unless every rank holds bit-identical ``tensors`` (model and training state)."""
        if not self.active:
            return
        h = hashlib.sha256()
        for name in sorted(tensors):
            t = tensors[name].detach().cpu().contiguous().reshape(-1)
            h.update(name.encode())
            h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        digests = [None] * self.world_size
        dist.all_gather_object(digests, h.hexdigest())
        if len(set(digests)) > 1:
            differ = [r for r, d in enumerate(digests) if d != digests[0]]
            raise OutOfSyncError(f"the weights of rank(s) {differ} differ from rank 0's; the data-parallel replicas "
                                 f"drifted apart (non-deterministic kernels?); resume from the last checkpoint")


_NCCL: list = []


def _nccl_group():
    """The NCCL group of every rank for CUDA gradients (created once per process, by every rank)."""
    if not _NCCL:
        _NCCL.append(dist.new_group(backend="nccl"))
    return _NCCL[0]


def environment_world_size() -> int:
    """WORLD_SIZE as torchrun sets it (1 when not under torchrun)."""
    text = os.environ.get("WORLD_SIZE", "1")
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"environment variable WORLD_SIZE={text!r} is not allowed; use a positive integer "
                          f"(torchrun sets it)")
    return int(text)


def join() -> DataParallel:
    """This process's :class:`DataParallel`: from torchrun's environment, joining the process group once."""
    world = environment_world_size()
    if world == 1:
        return DataParallel()
    for key in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        if key not in os.environ:
            raise ConfigError(f"WORLD_SIZE={world} but {key} is not set; start data-parallel runs with torchrun "
                              f"(torchrun --nproc_per_node N -m qornn train ...)")
    if not dist.is_initialized():
        dist.init_process_group("gloo", timeout=TIMEOUT)
    return DataParallel(rank=dist.get_rank(), world_size=dist.get_world_size(),
                        local_rank=int(os.environ["LOCAL_RANK"]))
