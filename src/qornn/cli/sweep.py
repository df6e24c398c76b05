"""``qornn sweep``: one worker of a hyper-parameter sweep on Optuna (optional extra ``qornn[sweep]``)."""
from __future__ import annotations

from pathlib import Path

from .common import add_set_argument


def register(sub) -> None:
    p = sub.add_parser(
        "sweep", help="hyper-parameter sweep: trials as run folders, workers sharing one study database",
        description="Run one worker of a sweep: train trials (OUT/trial-<n>/ run folders) with parameter values "
                    "from Optuna until the study holds --trials trials. Start the same command again, here or on "
                    "another machine with the same --storage, to add workers. Example: qornn sweep --config "
                    "copy-hadamrnn-quick --param 'train.lr=loguniform(1e-4,1e-2)' --param "
                    "'model.weight_bits=choice(2,3,4)' --trials 20 --storage sqlite:///sweep.db --study copy "
                    "--out sweeps/copy")
    p.add_argument("--config", required=True, help="preset name (see `qornn presets`) or path to a YAML file")
    add_set_argument(p)
    p.add_argument("--param", dest="params", action="append", default=[], metavar="KEY=DIST",
                   help="a searched key: KEY=loguniform(a,b), uniform(a,b), int(a,b) or choice(v1,v2,...) "
                        "(repeatable)")
    p.add_argument("--trials", type=int, required=True, metavar="N",
                   help="trials the study should hold (complete, pruned, running or failed with an error)")
    p.add_argument("--out", required=True, metavar="DIR", help="sweep folder: sweep.json and trial-<n>/ run folders")
    p.add_argument("--storage", default=None, metavar="URL",
                   help="SQLAlchemy URL of the study database, shared by all workers (default sqlite:///DIR/sweep.db)")
    p.add_argument("--study", default=None, metavar="NAME", help="study name (default: the name of DIR)")
    p.add_argument("--prune", action="store_true",
                   help="stop trials whose validation score is below the median of earlier trials at the same step")
    p.add_argument("--prune-startup", type=int, default=5, metavar="K",
                   help="with --prune: prune nothing until K trials have finished (default 5)")
    p.add_argument("--prune-warmup", type=int, default=0, metavar="STEPS",
                   help="with --prune: never prune before this training step (default 0)")
    p.add_argument("--heartbeat", type=int, default=60, metavar="S",
                   help="seconds between a worker's heartbeats; a trial silent for 2S is marked failed (default 60)")
    p.add_argument("--data-dir", default=None, metavar="DIR",
                   help="data folder for data-backed tasks (default $QORNN_DATA, else ~/.cache/qornn-data)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import ConfigError
    from ..sweep import SweepSpec, require_optuna, run_worker, storage_url
    from ..sweep_params import check_params, parse_param

    if not args.params:
        raise ConfigError("give at least one --param KEY=DIST, e.g. --param 'train.lr=loguniform(1e-4,1e-2)'")
    for name in ("prune_startup", "prune_warmup"):
        if getattr(args, name) < 0:
            raise ConfigError(f"--{name.replace('_', '-')} {getattr(args, name)} is not allowed; use an integer >= 0")
    params = [parse_param(text) for text in args.params]
    check_params(params, args.config, args.overrides)  # all of it before the storage is touched
    require_optuna()
    out = Path(args.out)
    spec = SweepSpec(config=args.config, params=params, trials=args.trials, storage=storage_url(args.storage, out),
                     study=args.study or out.resolve().name, out=out, sets=list(args.overrides), prune=args.prune,
                     prune_startup=args.prune_startup, prune_warmup=args.prune_warmup, heartbeat=args.heartbeat,
                     data_dir=str(Path(args.data_dir).expanduser().resolve()) if args.data_dir else None)
    run_worker(spec, command=args.command_line)
    return 0
