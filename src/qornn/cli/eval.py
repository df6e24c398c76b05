"""``qornn eval DIR``: evaluate a trained run on a split and print the metrics as JSON.

An activation-quantized run (``qornn quantize --activation-bits``) is evaluated as its integer-exact
model (:class:`qornn.export.IntegerExactModel`).
"""
from __future__ import annotations

from ..errors import ConfigError
from .common import print_json

SPLITS = ("train", "val", "test")


def register(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a run folder on a split (JSON)")
    p.add_argument("run_dir", metavar="DIR")
    p.add_argument("--split", default="test", help="val or test (default test)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--data-dir", default=None, help="data folder for data-backed tasks")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..run import load_trained
    from ..evaluation import evaluate

    if args.split not in ("val", "test"):
        raise ConfigError(f"--split {args.split!r} is not allowed; use val or test")
    if args.batch_size is not None and args.batch_size < 1:
        raise ConfigError(f"--batch-size {args.batch_size} is not allowed; use a positive integer")
    from ..export import IntegerExactModel, has_activations, load_integer_run

    extra = {}
    if has_activations(args.run_dir):  # an activation-quantized run: its integer-exact model
        cfg, task, _, spec = load_integer_run(args.run_dir, data_dir=args.data_dir)
        model = IntegerExactModel(spec)
        extra = {"activation_bits": spec.activation_bits, "integer_exact": True}
    else:
        cfg, task, model = load_trained(args.run_dir, data_dir=args.data_dir)
    bs = args.batch_size or cfg.train.eval_batch_size or cfg.train.batch_size
    print_json({"run": str(args.run_dir), **extra, **evaluate(model, task, args.split, bs)})
    return 0
