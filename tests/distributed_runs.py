"""Run by tests/test_distributed.py under ``torchrun --nproc_per_node 2``: several short trainings in one launch.

Usage: distributed_runs.py ROOT OVERRIDE...  Writes (rank 0 only, through ``train``) the run folders
ROOT/bop, ROOT/projunn, ROOT/straight and ROOT/resumed; ROOT/resumed is interrupted on every rank at
step 5 (after the checkpoint of step 4, with ``train.checkpoint_every=4``) and resumed with the same
world size.  Each rank also writes ROOT/rank-<r>.json with the loss of every step it saw.
"""
import json
import sys
from pathlib import Path

import torch

from qornn.config import load_config
from qornn.train import train

#: Run folder name -> overrides added to the command line's.
RUNS = {"bop": ["train.sign_rule=bop", "train.bop_gamma=0.1", "train.bop_threshold=1e-4", "train.keep_best=true"],
        "projunn": ["model.recurrent=projunn-d", "train.sign_rule=ste", "model.weight_bits=null",
                    "model.nonlinearity=modrelu",
                    "model.linear_recurrence=false"],
        "straight": []}


class Interrupted(Exception):
    pass


def recorder(losses: dict, name: str, stop_at=None):
    def on_step(step, loss):
        losses.setdefault(name, []).append(loss)
        if step == stop_at:
            raise Interrupted

    return on_step


def main(root: Path, overrides: list) -> None:
    torch.set_num_threads(1)
    losses = {}
    for name, extra in RUNS.items():
        cfg = load_config("copy-hadamrnn", overrides + extra)
        train(cfg, root / name, quiet=True, on_step=recorder(losses, name))
    try:
        cfg = load_config("copy-hadamrnn", overrides)
        train(cfg, root / "resumed", quiet=True, on_step=recorder(losses, "resumed", stop_at=5))
    except Interrupted:
        pass
    train(None, root / "resumed", resume=True, quiet=True, on_step=recorder(losses, "resumed"))
    rank = torch.distributed.get_rank()
    (root / f"rank-{rank}.json").write_text(json.dumps(losses))


if __name__ == "__main__":  # not at import: pytest imports this file to look for doctests
    main(Path(sys.argv[1]), sys.argv[2:])
