"""``qornn report SWEEP_DIR``: the trials of a sweep as a table and a parallel-coordinate figure.

A sweep folder (written by ``qornn sweep``, see :mod:`qornn.sweep`) names its study in
``sweep.json``; the trials are read from the study's storage, so the table shows every
trial of every worker: number, state (complete, pruned, failed, running), the objective
value (for a pruned trial its last reported value), the parameters, the steps trained and the
run folder.  Files written into ``out``:

* ``sweep.md`` and ``sweep.csv``: the table, best trial first in a line above it;
* ``sweep.png``: left, parallel coordinates: one vertical axis per searched key (log axis for
  ``loguniform``) and one for the objective, one line per trial, coloured by its value, the
  best in red, pruned trials dashed grey; right, the objective of each trial against its number
  with the best value so far.
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from . import run as rundir
from .checkpoint import atomic_write_text
from .errors import CheckpointError
from .sweep import SWEEP_FILE, open_storage, require_optuna, show, show_params, space_texts

FILES = ("sweep.md", "sweep.csv", "sweep.png")


def is_sweep(path: str | Path) -> bool:
    return (Path(path) / SWEEP_FILE).is_file()


def load_sweep(path: str | Path) -> tuple[dict, list[dict], list]:
    """(sweep.json, one dict per trial in number order, the search space rows) of a sweep folder."""
    path = Path(path)
    try:
        info = json.loads((path / SWEEP_FILE).read_text())
        storage_url, name = info["storage"], info["study"]
    except (OSError, ValueError, KeyError, TypeError):
        raise CheckpointError(f"{path / SWEEP_FILE} is not a readable sweep file (storage, study)") from None
    optuna = require_optuna()
    try:
        study = optuna.load_study(study_name=name, storage=open_storage(storage_url))
    except KeyError:
        raise CheckpointError(f"study {name!r} is not in {storage_url} (named by {path / SWEEP_FILE})") from None
    space = study.user_attrs.get("qornn_space") or []
    trials = [trial_row(t, path) for t in study.get_trials(deepcopy=False) if "surplus" not in t.user_attrs]
    return info, sorted(trials, key=lambda r: r["number"]), space


def trial_row(trial, sweep_dir: Path) -> dict:
    """One table row: number, state, value (a pruned or running trial: its last reported one), objective,
    params, steps trained, run folder (relative to the sweep folder when inside it), note."""
    attrs, reported = trial.user_attrs, trial.intermediate_values
    state = {"FAIL": "failed"}.get(trial.state.name, trial.state.name.lower())
    value = trial.value if state == "complete" else (
        reported[max(reported)] if reported and state in ("pruned", "running") else None)
    note = attrs.get("error", "")
    if state == "pruned":
        note = f"pruned at step {max(reported)}" if reported else "pruned"
    elif state == "failed" and not note:
        note = "its worker stopped (killed or interrupted)"
    run_dir = Path(attrs["run_dir"]) if attrs.get("run_dir") else None
    steps, shown = None, ""
    if run_dir is not None and run_dir.is_dir():  # else the trial stopped before its folder was made
        steps = max((r.get("step", 0) for r in rundir.read_metrics(run_dir)), default=None)
        try:
            shown = str(run_dir.resolve().relative_to(sweep_dir.resolve()))
        except ValueError:
            shown = str(run_dir)
    return {"number": trial.number, "state": state, "value": value, "objective": attrs.get("objective"),
            "params": dict(trial.params), "steps": steps, "run_dir": shown, "note": note}


def best_row(trials: list[dict]) -> dict | None:
    complete = [r for r in trials if r["state"] == "complete"]
    return max(complete, key=lambda r: (r["value"], -r["number"])) if complete else None


def objective_name(trials: list[dict]) -> str:
    return next((r["objective"] for r in trials if r["objective"]), "validation score")


def markdown(info: dict, trials: list[dict], keys: list[str]) -> str:
    """The trials table in Markdown, the best trial in a line above it."""
    best = best_row(trials)
    counts: dict[str, int] = {}
    for r in trials:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    lines = [f"# Sweep {info['study']}", "",
             f"Storage `{info['storage']}`; search space: " + ", ".join(f"`{t}`" for t in info.get("params", [])),
             f"{len(trials)} trials ({', '.join(f'{n} {s}' for s, n in sorted(counts.items())) or 'none'}); "
             f"objective: {objective_name(trials)} (maximized).", ""]
    if best is not None:
        lines += [f"**Best: trial {best['number']}**, {objective_name(trials)} {best['value']:.6g} with "
                  f"{show_params(best['params'])} (`{best['run_dir']}`).", ""]
    lines += ["| trial | state | value | " + " | ".join(keys) + " | steps | run folder | note |",
              "|---|---|---|" + "---|" * len(keys) + "---|---|---|"]
    for r in trials:
        value = "" if r["value"] is None else f"{r['value']:.6g}"
        params = " | ".join(show(r["params"][k]) if k in r["params"] else "" for k in keys)
        lines.append(f"| {r['number']} | {r['state']} | {value} | {params} | {r['steps'] or ''} | "
                     f"{r['run_dir']} | {r['note']} |")
    return "\n".join(lines) + "\n"


def to_csv(trials: list[dict], keys: list[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["trial", "state", "value", *keys, "steps", "run_dir", "note"])
    for r in trials:
        w.writerow([r["number"], r["state"], "" if r["value"] is None else r["value"],
                    *("" if r["params"].get(k) is None else r["params"][k] for k in keys),
                    r["steps"] if r["steps"] is not None else "", r["run_dir"], r["note"]])
    return buf.getvalue()


# ---- figure -----------------------------------------------------------------------------------
def axis_position(row: list, value) -> float:
    """Where ``value`` of the search-space row (key, kind, low, high, choices) sits on a [0, 1] axis."""
    _, kind, low, high, choices = row
    if kind == "choice":
        return choices.index(value) / (len(choices) - 1) if len(choices) > 1 else 0.5
    if kind == "loguniform":
        return (math.log(value) - math.log(low)) / (math.log(high) - math.log(low))
    return (value - low) / (high - low)


def axis_ticks(row: list) -> list[tuple[float, str]]:
    _, kind, low, high, choices = row
    if kind == "choice":
        return [(axis_position(row, c), show(c)) for c in choices]
    mid = math.sqrt(low * high) if kind == "loguniform" else (low + high) / 2
    return [(axis_position(row, v), show(int(v) if kind == "int" and v == int(v) else v)) for v in (low, mid, high)]


def plot_parallel(ax, trials: list[dict], space: list, objective: str) -> None:
    """Parallel coordinates: one axis per searched key plus the objective, one line per trial."""
    import matplotlib

    drawn = [r for r in trials if r["value"] is not None and all(row[0] in r["params"] for row in space)]
    values = [r["value"] for r in drawn]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    span = (hi - lo) or 1.0
    cmap, best = matplotlib.colormaps["viridis"], best_row(trials)
    for r in sorted(drawn, key=lambda r: (r is best, r["state"] == "complete")):  # best on top
        ys = [axis_position(row, r["params"][row[0]]) for row in space] + [(r["value"] - lo) / span]
        if r is best:
            style = {"color": "tab:red", "lw": 2.5, "zorder": 3}
        elif r["state"] == "complete":
            style = {"color": cmap((r["value"] - lo) / span), "lw": 1.2, "alpha": 0.9}
        else:
            style = {"color": "0.6", "lw": 1.0, "ls": "--", "alpha": 0.8}
        ax.plot(range(len(ys)), ys, marker="o", markersize=3, **style)
    labels = [row[0] for row in space] + [objective]
    ticks = [axis_ticks(row) for row in space] + [[(f, f"{lo + f * span:.4g}") for f in (0.0, 0.5, 1.0)]]
    for x, axis in enumerate(ticks):
        ax.axvline(x, color="black", lw=0.8)
        for y, text in axis:
            ax.text(x + 0.03, y, text, fontsize=7, va="center", zorder=4,
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})
    ax.set_xticks(range(len(labels)), labels, fontsize=8, rotation=15)
    ax.set_yticks([])
    ax.set_xlim(-0.2, len(labels) - 0.6)
    ax.set_ylim(-0.06, 1.06)
    shown_best = f"red: best, trial {best['number']}; " if best is not None else ""
    ax.set_title(f"{len(drawn)} trials, coloured by {objective} ({shown_best}grey dashed: pruned)", fontsize=10)


def plot_history(ax, trials: list[dict], objective: str) -> None:
    """The objective of each trial against its number, and the best so far."""
    for state, marker in (("complete", "o"), ("pruned", "x")):
        rows = [r for r in trials if r["state"] == state and r["value"] is not None]
        if rows:
            ax.plot([r["number"] for r in rows], [r["value"] for r in rows], marker=marker, ls="none",
                    label=state if state == "complete" else "pruned (last reported)")
    best, xs, ys = None, [], []
    for r in trials:
        if r["state"] == "complete":
            best = r["value"] if best is None else max(best, r["value"])
        if best is not None:
            xs.append(r["number"])
            ys.append(best)
    ax.step(xs, ys, where="post", color="tab:red", label="best so far")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial number")
    ax.set_ylabel(objective)
    failed = sum(r["state"] == "failed" for r in trials)
    ax.set_title(f"{objective} by trial" + (f" ({failed} failed, not shown)" if failed else ""), fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")


def write_sweep_report(path: str | Path, out: str | Path) -> dict:
    """Write sweep.md, sweep.csv and sweep.png for the sweep folder ``path`` into ``out``
    (``out`` ending in ``.md``: that page, the other files in the folder of the same name).

    Returns ``{"files", "trials" (the rows), "best" (the best row or None), "plots"}``.
    """
    from .report_plots import pyplot, save_figure

    info, trials, space = load_sweep(path)
    if not trials:
        raise CheckpointError(f"study {info['study']!r} in {info['storage']} has no trials yet")
    info.setdefault("params", space_texts(space))
    keys = [row[0] for row in space] or sorted({k for r in trials for k in r["params"]})
    out = Path(out)
    page, folder = (out, out.with_suffix("")) if out.suffix == ".md" else (out / "sweep.md", out)
    folder.mkdir(parents=True, exist_ok=True)
    plt = pyplot()
    fig, (ax_par, ax_hist) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [2, 1]})
    plot_parallel(ax_par, trials, space, objective_name(trials))
    plot_history(ax_hist, trials, objective_name(trials))
    plots = save_figure(plt, fig, folder / "sweep.png", dpi=110)
    text = markdown(info, trials, keys)
    if page.parent != folder:
        text += f"\n![sweep]({folder.name}/sweep.png)\n"
    atomic_write_text(page, text)
    atomic_write_text(folder / "sweep.csv", to_csv(trials, keys))
    return {"files": [str(page), str(folder / "sweep.csv"), str(folder / "sweep.png")], "trials": trials,
            "best": best_row(trials), "plots": plots}
