"""``qornn train``: train a preset or YAML config into a run folder, or resume one."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from ..config import load_config
from ..errors import ConfigError
from .common import add_set_argument


def register(sub) -> None:
    p = sub.add_parser("train", help="train a model (preset or YAML file) into --out DIR",
                       description="Train a model. Example: qornn train --config copy-hadamrnn --out runs/copy")
    p.add_argument("--config", help="preset name (see `qornn presets`) or path to a YAML file")
    add_set_argument(p)
    p.add_argument("--out", help="run folder to create")
    p.add_argument("--resume", metavar="DIR", help="continue the interrupted run in DIR")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run folder given by --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no final line")
    p.add_argument("--seeds", type=int, default=1, metavar="N",
                   help="train N runs with seeds seed, seed+1, ... into OUT/seed-<s>/ (default 1: OUT itself)")
    p.add_argument("--data-dir", default=None, metavar="DIR",
                   help="data folder for data-backed tasks (default $QORNN_DATA, else ~/.cache/qornn-data)")
    p.add_argument("--device", default=None, metavar="DEVICE",
                   help="auto (CUDA when present, else CPU), cpu, cuda, cuda:N or mps; sets train.device. "
                        "Several processes: torchrun --nproc_per_node N -m qornn train ... (docs/scaling.md)")
    p.set_defaults(func=run)


def seed_dirs(out) -> list:
    """The seed-<s> run folders of a multi-seed folder, in seed order."""
    found = [d for d in Path(out).glob("seed-*") if (d / "config.yaml").is_file() and d.name[5:].isdigit()]
    return sorted(found, key=lambda d: int(d.name[5:]))


def run(args) -> int:
    from ..engine.malloc import tune_malloc
    from ..train import train

    tune_malloc()  # keep freed (B, T, n) blocks: copy-hadamrnn steps 1.65x faster on the reference engine
    if args.seeds < 1:
        raise ConfigError(f"--seeds {args.seeds} is not allowed; use a positive integer")
    overrides = list(args.overrides or ()) + ([f"train.device={args.device}"] if args.device else [])
    if args.resume:
        if args.config or args.out or args.data_dir or args.seeds != 1:
            raise ConfigError("--resume DIR takes the run's own config; do not combine it with --config, "
                              "--out, --data-dir or --seeds (--set only for keys that extend the run)")
        extend = overrides
        runs = seed_dirs(args.resume) if not (Path(args.resume) / "config.yaml").is_file() else []
        if not runs:  # a single run folder
            train(None, args.resume, resume=True, quiet=args.quiet, extend=extend, command=args.command_line)
        for d in runs:  # a multi-seed folder: continue (or extend) every seed
            train(None, d, resume=True, quiet=args.quiet, extend=extend, command=args.command_line)
        return 0
    if not args.out:
        raise ConfigError("--out DIR is required (the run folder to create), or --resume DIR")
    if not args.config:
        raise ConfigError("--config is required: a preset name (see `qornn presets`) or a YAML file")
    cfg = load_config(args.config, overrides)
    if args.data_dir:
        cfg.task.data_dir = str(Path(args.data_dir).expanduser().resolve())
    if args.seeds == 1:
        train(cfg, args.out, overwrite=args.overwrite, quiet=args.quiet, command=args.command_line)
        return 0
    first = cfg.seed
    for seed in range(first, first + args.seeds):
        train(dataclasses.replace(cfg, seed=seed), Path(args.out) / f"seed-{seed}", overwrite=args.overwrite,
              quiet=args.quiet, command=args.command_line)
    return 0
