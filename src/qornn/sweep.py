"""Hyper-parameter sweeps on Optuna: any number of workers share one study in a database.

``qornn sweep --config PRESET --param KEY=DIST ... --trials N --storage URL --study NAME --out DIR``
starts one *worker*.  Each worker loads (or creates) the study ``NAME`` in the storage ``URL``
(SQLite, or any SQLAlchemy URL such as ``postgresql://...`` for workers on several machines)
and, while the study holds fewer than N trials, asks Optuna's sampler for parameter values and
trains them as an ordinary run folder ``DIR/trial-<number>/`` with :func:`qornn.train.train`.
Running the same command again, at the same time or later, adds a worker to the same study.

* Objective (maximized): :func:`qornn.train.selection_score` of the final validation metrics,
  i.e. validation accuracy where the task defines it, else minus the validation loss.
* ``--prune``: every periodic validation is reported to Optuna's median stopping rule
  (``MedianPruner``), which stops a trial whose score is below the median of earlier trials at
  the same step; the run folder's ``trial.json`` then says ``"state": "pruned"``.
* N counts complete, pruned and running trials and those that failed with an error (a config
  value the model refuses, a diverged run), not those whose worker died: a killed worker's
  trial is marked FAIL by Optuna's heartbeat (a live worker writes one every ``--heartbeat`` s;
  another worker fails a trial silent for twice that long), and new trials replace it.
  Heartbeats rather than process ids, because workers may run on different machines.
  A worker stops once the study holds N trials and none of them is running (it waits for the
  other workers' last trials, and for a killed worker's trial to be failed and replaced).

A sweep folder holds ``sweep.json`` (storage URL, study name, search space), the trial run
folders, and (default storage) ``sweep.db``; ``qornn report DIR`` reads it.
"""
from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from . import run as rundir
from .checkpoint import atomic_write_text
from .config import config_to_dict, load_config
from .errors import ConfigError, QornnError
from .sweep_params import Param, nested

SWEEP_FILE = "sweep.json"
SWEEP_FORMAT = "qornn-sweep-1"
TRIAL_FILE = "trial.json"
#: Config keys that may differ between the workers of one study (machine-local settings).
LOCAL_KEYS = {"task.data_dir", "train.threads", "train.progress"}


@dataclass
class SweepSpec:
    """What one ``qornn sweep`` worker runs (see the module docstring)."""

    config: str
    params: list[Param]
    trials: int
    storage: str
    study: str
    out: Path
    sets: list[str] = field(default_factory=list)
    prune: bool = False
    prune_startup: int = 5
    prune_warmup: int = 0
    heartbeat: int = 60
    data_dir: str | None = None

    def space(self) -> list[list]:
        """The search space as JSON-able rows (what every worker of a study must share)."""
        return [[p.key, p.kind, p.low, p.high, list(p.choices)] for p in self.params]


class TrialFailed(Exception):
    """A trial that stopped with a qornn error (recorded in the trial's ``error`` attribute)."""


class SurplusTrial(Exception):
    """A trial created after the study reached its N trials by another worker (never trained)."""


def require_optuna():
    try:
        import optuna
    except ModuleNotFoundError:
        raise ConfigError('qornn sweep needs optuna; install it with pip install "qornn[sweep]"') from None
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # qornn prints one line per trial itself
    return optuna


def storage_url(url: str | None, out: Path) -> str:
    """The storage URL with a relative SQLite path made absolute (default: ``sqlite:///OUT/sweep.db``)."""
    if not url:
        return f"sqlite:///{(Path(out) / 'sweep.db').resolve()}"
    if "://" not in url:
        raise ConfigError(f"--storage {url!r} is not a database URL; use e.g. sqlite:///sweep.db or "
                          f"postgresql://user@host/db")
    if url.startswith("sqlite:"):
        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else ""
        if not path or path == ":memory:" or path.startswith("file::memory:"):
            raise ConfigError(f"--storage {url!r} is an in-memory database that workers cannot share; "
                              f"use a file, e.g. sqlite:///sweep.db")
        file, sep, query = path.partition("?")
        return f"sqlite:///{Path(file).resolve()}{sep}{query}"
    return url


def open_storage(url: str, heartbeat: int | None = None, on_stale=None):
    """An Optuna RDBStorage for ``url`` (SQLite waits up to 60 s for a lock other workers hold)."""
    optuna = require_optuna()
    import sqlalchemy.exc

    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite:") else None
    if url.startswith("sqlite:"):
        Path(url[len("sqlite:///"):].split("?")[0]).parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(5):  # two workers creating the tables at once may collide; the second retries
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat,
                                                  heartbeat_stale_trial_callback=on_stale)
        except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.IntegrityError) as exc:
            # e.g. "table studies already exists", "UNIQUE constraint failed: alembic_version.version_num"
            if attempt == 4 or not any(m in str(exc) for m in ("already exists", "locked", "UNIQUE")):
                raise ConfigError(f"--storage {url}: cannot open the database "
                                  f"({str(exc.orig).splitlines()[0]})") from None
            time.sleep(0.2 * (attempt + 1))
        except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError, ImportError) as exc:
            raise ConfigError(f"--storage {url}: {str(exc).splitlines()[0]} (is the database driver "
                              f"installed?)") from None


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def base_config(spec: SweepSpec) -> dict:
    """The flat resolved config shared by all trials, without the searched and machine-local keys."""
    cfg = _flat(config_to_dict(load_config(spec.config, spec.sets)))
    searched = {p.key for p in spec.params}
    return {k: v for k, v in cfg.items() if k not in searched and k not in LOCAL_KEYS}


def check_same_study(study, spec: SweepSpec) -> None:
    """Record the search space and config in a new study; refuse a worker whose differ."""
    mine = {"space": spec.space(), "config": base_config(spec)}
    theirs = {k: study.user_attrs.get(f"qornn_{k}") for k in mine}
    if theirs["space"] is None:
        for k, v in mine.items():
            study.set_user_attr(f"qornn_{k}", v)
        return
    if theirs["space"] != mine["space"]:
        raise ConfigError(f"study {spec.study!r} in {spec.storage} searches {' '.join(space_texts(theirs['space']))}, "
                          f"not {' '.join(space_texts(mine['space']))}; use the same --param list or another --study")
    diff = sorted(k for k in set(mine["config"]) | set(theirs["config"] or {})
                  if mine["config"].get(k) != (theirs["config"] or {}).get(k))
    if diff:
        k = diff[0]
        raise ConfigError(f"study {spec.study!r} trains {k}={(theirs['config'] or {}).get(k)!r}, this worker "
                          f"{k}={mine['config'].get(k)!r}; use the same --config and --set or another --study")


def space_texts(space: list) -> list[str]:
    """Search-space rows as --param texts, e.g. ``train.lr=loguniform(0.0001,0.01)``."""
    return [f"{k}={kind}({','.join(map(show, choices if kind == 'choice' else [lo, hi]))})"
            for k, kind, lo, hi, choices in space]


def show(value) -> str:
    """A parameter value as a --param / --set would spell it (``null``, ``true``, ``0.001234``)."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def show_params(params: dict) -> str:
    return " ".join(f"{k}={show(v)}" for k, v in params.items())


def write_sweep_file(spec: SweepSpec) -> None:
    """Create ``OUT/sweep.json``; refuse an OUT that holds another study or files that are no sweep."""
    out = Path(spec.out)
    path = out / SWEEP_FILE
    if not path.is_file():
        # allowed: the default database and what a worker starting at the same moment is writing
        others = [p.name for p in out.iterdir() if not p.name.startswith(("sweep.", ".sweep.json."))] \
            if out.is_dir() else []
        if (out.exists() and not out.is_dir()) or others:
            raise ConfigError(f"--out {out} already holds files that are not a qornn sweep; choose another folder")
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps({"format": SWEEP_FORMAT, "storage": spec.storage, "study": spec.study,
                                            "params": space_texts(spec.space())}, indent=2) + "\n")
        return
    try:
        old = json.loads(path.read_text())
    except ValueError:
        raise ConfigError(f"{path} is not valid JSON; remove it or choose another --out") from None
    if (old.get("storage"), old.get("study")) != (spec.storage, spec.study):
        raise ConfigError(f"--out {out} holds the sweep of study {old.get('study')!r} in {old.get('storage')}; "
                          f"use that --study/--storage or another --out")


def counts_toward_budget(trial) -> bool:
    """Complete, pruned, running, or failed with an error; not a killed worker's or a surplus trial."""
    state = trial.state.name
    return state in ("COMPLETE", "PRUNED", "RUNNING") or (state == "FAIL" and "error" in trial.user_attrs)


def budget_used(study, before: int | None = None) -> int:
    """Trials that count toward N (with ``before``: only those numbered below it)."""
    return sum(1 for t in study.get_trials(deepcopy=False)
               if counts_toward_budget(t) and (before is None or t.number < before))


def mark_run(run_dir: Path, record: dict) -> None:
    """Write ``trial.json`` (state, value, parameters) into a trial's run folder, if qornn created it."""
    run_dir = Path(run_dir)
    if rundir.has_marker(run_dir):
        atomic_write_text(run_dir / TRIAL_FILE, json.dumps(record, indent=2) + "\n")


def trial_record(trial, state: str, **extra) -> dict:
    return {"number": trial.number, "state": state, "params": dict(trial.params), **extra}


def on_stale_trial(say):
    """Optuna's callback for a trial whose worker stopped sending heartbeats: mark its run folder failed."""
    def callback(study, trial) -> None:
        run_dir = trial.user_attrs.get("run_dir")
        if run_dir:
            mark_run(Path(run_dir), trial_record(trial, "failed", error="its worker stopped (no heartbeat)"))
        say(f"trial {trial.number}: marked failed, its worker stopped sending heartbeats")
    return callback


def make_objective(spec: SweepSpec, study, command: str | None, say):
    """Optuna objective: train one trial's run folder, return its validation score."""
    import optuna

    from .evaluation import selection_score
    from .train import train

    def objective(trial) -> float:
        if budget_used(study, before=trial.number) >= spec.trials:  # another worker took the last slot
            trial.set_user_attr("surplus", True)
            raise SurplusTrial(f"study already has {spec.trials} trials")
        values = {p.key: p.suggest(trial) for p in spec.params}
        run_dir = Path(spec.out).resolve() / f"trial-{trial.number}"
        trial.set_user_attr("run_dir", str(run_dir))
        shown = show_params(values)

        last = {"step": None}

        def on_eval(step: int, metrics: dict) -> None:
            trial.report(selection_score(metrics), step)
            last["step"] = step
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at step {step}")

        started = time.perf_counter()
        try:
            cfg = load_config(spec.config, spec.sets, base=nested(values))
            if spec.data_dir:
                cfg.task.data_dir = spec.data_dir
            summary = train(cfg, run_dir, quiet=True, command=command, on_eval=on_eval)
        except optuna.TrialPruned as pruned:
            mark_run(run_dir, trial_record(trial, "pruned", pruned_step=last["step"]))
            say(f"trial {trial.number}: {shown} -> {pruned} ({time.perf_counter() - started:.1f} s)")
            raise
        except QornnError as exc:
            trial.set_user_attr("error", str(exc))
            mark_run(run_dir, trial_record(trial, "failed", error=str(exc)))
            say(f"trial {trial.number}: {shown} -> failed: {exc}")
            raise TrialFailed(str(exc)) from None
        value = selection_score(summary["val"])
        objective_name = "val accuracy" if "accuracy" in summary["val"] else "minus val loss"
        trial.set_user_attr("objective", objective_name)
        mark_run(run_dir, trial_record(trial, "complete", value=value, objective=objective_name))
        say(f"trial {trial.number}: {shown} -> {objective_name} {value:.6g} "
            f"({time.perf_counter() - started:.1f} s, {run_dir})")
        return value

    return objective


def open_study(spec: SweepSpec, say):
    """Load the study ``spec.study`` from its storage, creating it (maximize) if it is new."""
    optuna = require_optuna()
    storage = open_storage(spec.storage, spec.heartbeat, on_stale_trial(say))
    pruner = (optuna.pruners.MedianPruner(n_startup_trials=spec.prune_startup, n_warmup_steps=spec.prune_warmup)
              if spec.prune else optuna.pruners.NopPruner())
    study = optuna.create_study(storage=storage, study_name=spec.study, direction="maximize", pruner=pruner,
                                load_if_exists=True)
    if study.direction != optuna.study.StudyDirection.MAXIMIZE:
        raise ConfigError(f"study {spec.study!r} in {spec.storage} minimizes; qornn sweeps maximize, "
                          f"use another --study")
    check_same_study(study, spec)
    return study


def fail_stale_trials(study) -> None:
    """Mark FAIL the running trials whose worker stopped sending heartbeats (Optuna's own check)."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def run_worker(spec: SweepSpec, command: str | None = None, say=print) -> dict:
    """One worker: train trials until the study holds ``spec.trials`` of them, then wait until no trial
    runs (another worker's, or a killed worker's until its heartbeat is stale and a trial replaces it).

    Returns :func:`study_summary`.
    """
    if spec.trials < 1:
        raise ConfigError(f"--trials {spec.trials} is not allowed; use a positive integer")
    if spec.heartbeat < 1:
        raise ConfigError(f"--heartbeat {spec.heartbeat} is not allowed; use a whole number of seconds >= 1")
    write_sweep_file(spec)
    study = open_study(spec, say)
    objective = make_objective(spec, study, command, say)
    ran, waiting = 0, None
    while True:
        fail_stale_trials(study)
        if budget_used(study) < spec.trials:
            study.optimize(objective, n_trials=1, catch=(TrialFailed, SurplusTrial))
            ran += 1
            continue
        running = [t.number for t in study.get_trials(deepcopy=False) if t.state.name == "RUNNING"]
        if not running:
            break
        if running != waiting:  # other workers' trials, or a dead worker's until its heartbeat is stale
            say(f"waiting for running trial{'s' if len(running) > 1 else ''} {', '.join(map(str, running))}")
            waiting = running
        time.sleep(min(spec.heartbeat, 10))
    summary = study_summary(study)
    summary["ran_here"] = ran
    say(summary_line(spec, summary))
    return summary


def study_summary(study) -> dict:
    """Counts per state and the best complete trial (number, value, params, run folder)."""
    trials = [t for t in study.get_trials(deepcopy=False) if "surplus" not in t.user_attrs]
    counts: dict[str, int] = {}
    for t in trials:
        state = "failed" if t.state.name == "FAIL" else t.state.name.lower()
        counts[state] = counts.get(state, 0) + 1
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    best = max(complete, key=lambda t: (t.value, -t.number)) if complete else None
    return {"trials": len(trials), "counts": counts,
            "best": None if best is None else {"number": best.number, "value": best.value,
                                               "objective": best.user_attrs.get("objective", "score"),
                                               "params": dict(best.params),
                                               "run_dir": best.user_attrs.get("run_dir")}}


def summary_line(spec: SweepSpec, summary: dict) -> str:
    counts = ", ".join(f"{n} {s}" for s, n in sorted(summary["counts"].items()))
    line = f"study {spec.study}: {summary['trials']} trials ({counts or 'none'})"
    best = summary["best"]
    if best is None:
        return line + "; no complete trial yet"
    return line + (f"; best trial {best['number']}: {best['objective']} {best['value']:.6g} with "
                   f"{show_params(best['params'])} ({best['run_dir']})")
