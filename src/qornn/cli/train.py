"""``qornn train``: train a preset or YAML config into a run folder, or resume one."""
from __future__ import annotations

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
    p.set_defaults(func=run)


def run(args) -> int:
    from ..train import train

    if args.resume:
        if args.config or args.overrides or args.out:
            raise ConfigError("--resume DIR takes the run's own config; do not combine it with --config, --set or --out")
        train(None, args.resume, resume=True, quiet=args.quiet)
        return 0
    if not args.out:
        raise ConfigError("--out DIR is required (the run folder to create), or --resume DIR")
    if not args.config:
        raise ConfigError("--config is required: a preset name (see `qornn presets`) or a YAML file")
    cfg = load_config(args.config, args.overrides)
    train(cfg, args.out, overwrite=args.overwrite, quiet=args.quiet)
    return 0
