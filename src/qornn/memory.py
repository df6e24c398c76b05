"""Will a run fit in memory?  An estimate of the peak, checked before the run folder is created.

Peak bytes ≈ max(training step, evaluation) + parameters + synthetic evaluation sets:

* training step: 4·B·T·(k·n + 2·E + 2·C + F) bytes for batch B, length T, hidden size n,
  embedding width E, outputs per step C (many-to-many only) and input features F, where k
  is the number of (B, T, n) float tensors the engine keeps for the backward pass
  (:data:`STATE_COPIES`, from the peak RSS growth of one step on CPU, ``python
  benchmarks/memory_estimate.py``: about 0.6 for the fused linear engine, 3.2 for ``auto``
  non-linear, 5 for ``reference``, 15 for LSTM and 20 for GRU; rounded up);
* evaluation: the same with the evaluation batch, no gradients (a third of k, at least 1);
* parameters with their gradients and two optimizer moments: 16 bytes per entry;
* copy / adding tasks generate their whole validation and test sets: 16 bytes per step and sample.

:func:`check_memory` compares this with the memory available (``MemAvailable`` of
``/proc/meminfo``, lowered by a cgroup limit) and refuses the run with the estimate in the
message; ``train.memory_check=false`` skips the check.
"""
from __future__ import annotations

from pathlib import Path

from .errors import ConfigError

#: (B, T, n) float tensors kept for backward, per engine class (see the module docstring).
STATE_COPIES = {"fused": 1.0, "auto": 3.5, "reference": 6.0, "gated": 21.0}
GIB = 2 ** 30


def engine_class(mcfg) -> str:
    """Which memory class of :data:`STATE_COPIES` a model config falls in."""
    if mcfg.recurrent in ("lstm", "gru"):
        return "gated"
    if mcfg.engine == "reference":
        return "reference"
    if mcfg.linear_recurrence and mcfg.readout != "mean":
        return "fused"
    return "auto"


def sequence_steps(task) -> int:
    """T of the task's training sequences (its ``TaskInfo.seq_len``), without generating a long sequence."""
    if task.info.seq_len is not None:
        return task.info.seq_len
    return int(task.train_batch(0, 1)[0].shape[1])


def estimate_bytes(cfg, task, n_params: int) -> dict:
    """Estimated peak bytes of training ``cfg`` on ``task`` (and its parts), see the module docstring."""
    info, m, tr = task.info, cfg.model, cfg.train
    steps = sequence_steps(task)
    kind = engine_class(m)
    copies = STATE_COPIES[kind]
    emb = (m.embedding_dim or 0) if info.input_kind == "tokens" else 0
    outputs = info.output_size if info.many_to_many else 0
    features = info.input_size if info.input_kind == "features" else 0
    per_step = copies * m.hidden_size + 2 * emb + 2 * outputs + features
    train = 4 * tr.batch_size * steps * per_step
    eval_bs = tr.eval_batch_size or tr.batch_size
    evaluate = 4 * eval_bs * steps * (max(1.0, copies / 3) * m.hidden_size + emb + outputs + features)
    sizes = getattr(task, "sizes", None)
    synthetic = 16 * steps * (sizes["val"] + sizes["test"]) if sizes and not hasattr(task, "splits") else 0
    total = max(train, evaluate) + 16 * n_params + synthetic
    return {"total": total, "train_step": train, "evaluation": evaluate, "synthetic_sets": synthetic,
            "steps": steps, "engine": kind}


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().split()[0]
    except (OSError, IndexError):
        return None
    return int(text) if text.isdigit() else None


def available_bytes() -> int | None:
    """Memory this process can still get: MemAvailable, lowered by a cgroup (v2 or v1) limit; None if unknown."""
    avail = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        avail = None
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is not None and usage is not None and limit < 2 ** 60:
            avail = min(avail, limit - usage) if avail is not None else limit - usage
    return avail


def check_memory(cfg, task, model) -> dict:
    """ConfigError (with the estimate) when ``cfg`` on ``task`` needs more memory than is available."""
    n_params = sum(p.numel() for p in model.parameters())
    est = estimate_bytes(cfg, task, n_params)
    avail = available_bytes()
    if cfg.train.memory_check and avail is not None and est["total"] > avail:
        m, tr = cfg.model, cfg.train
        raise ConfigError(
            f"this run needs about {est['total'] / GIB:.1f} GiB of memory (one training step: batch "
            f"{tr.batch_size} x length {est['steps']} x hidden {m.hidden_size}, {est['engine']} engine, "
            f"{est['train_step'] / GIB:.1f} GiB; evaluation {est['evaluation'] / GIB:.1f} GiB; generated "
            f"val/test sets {est['synthetic_sets'] / GIB:.1f} GiB) but {max(avail, 0) / GIB:.1f} GiB is available; "
            f"lower train.batch_size, train.eval_batch_size, the sequence length or model.hidden_size, or set "
            f"train.memory_check=false if the estimate is wrong for this machine")
    return {**est, "available": avail}
