"""Compare qornn.memory's estimate with the measured peak memory of one training step.

    python benchmarks/memory_estimate.py

Each row runs in a fresh process: build the copy task and the model of the config, take one
tiny warm-up step, then one full step (forward, backward, Adam) on a batch of the task, and
report the growth of the peak resident set size (``ru_maxrss``) during that step beside the
estimate's training-step term (the estimate is meant to be at or above the measurement).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

ROWS = [
    ["model.engine=auto"],
    ["model.engine=reference"],
    ["model.engine=auto", "model.hidden_size=256"],
    ["model.engine=reference", "model.hidden_size=256"],
    ["model.recurrent=dense", "model.linear_recurrence=false"],
    ["model.recurrent=dense", "model.linear_recurrence=false", "model.engine=reference"],
    ["model.recurrent=lstm"],
    ["model.recurrent=gru"],
]
BASE = ["task.seq_len=1000", "train.batch_size=64", "model.hidden_size=128", "train.threads=1"]

CHILD = """
import json, resource, sys
import torch
from qornn.config import load_config
from qornn.memory import estimate_bytes
from qornn.model import build_model
from qornn.tasks import build_task
from qornn.train import make_optimizer
torch.set_num_threads(1)
cfg = load_config("copy-hadamrnn", sys.argv[1:])
task = build_task(cfg)
model = build_model(cfg.model, task.info)
opt = make_optimizer(cfg.train, model)
def step(x, y):
    opt.zero_grad(set_to_none=True)
    task.loss(model(x), y).backward()
    opt.step()
step(*task.train_batch(0, 1))
x, y = task.train_batch(1, cfg.train.batch_size)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
step(x, y)
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
est = estimate_bytes(cfg, task, sum(p.numel() for p in model.parameters()))
print(json.dumps({"measured_mib": grown / 2**20, "estimate_mib": est["train_step"] / 2**20, "engine": est["engine"]}))
"""


def main() -> int:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    print("| config (copy task, T = 1020 steps, B = 64) | engine class | measured step (MiB) | estimate (MiB) |")
    print("|---|---|---|---|")
    for row in ROWS:
        overrides = BASE + row
        out = subprocess.run([sys.executable, "-c", CHILD, *overrides], capture_output=True, text=True, env=env,
                             check=True).stdout
        r = json.loads(out)
        label = ", ".join(row if any(o.startswith("model.hidden_size") for o in row) else [*row, "n=128"])
        print(f"| {label} | {r['engine']} | {r['measured_mib']:.0f} | {r['estimate_mib']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
