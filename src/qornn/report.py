"""Results of finished runs as a table (Markdown + CSV) and two plots.

``write_report(paths, out)`` collects the run folders found under ``paths`` (a run
folder, a multi-seed folder ``OUT/seed-<s>/`` written by ``qornn train --seeds N``, or any
folder above them), groups runs whose configurations differ only in the seed, and writes:

* ``results.md`` and ``results.csv``: one row per group: task, model, bit widths of W, U
  and V, size in kbit, test accuracy and loss as mean ± standard deviation over seeds
  (sample standard deviation, n − 1), steps and runtime;
* ``size_vs_accuracy.png``: test accuracy against model size on a log-scale kbit axis,
  one marker per model and one panel per task (as the HadamRNN paper's Figure 1 for pMNIST);
* ``training_curves.png``: training loss and validation accuracy (or loss) against the step;
* ``sign_flips.png`` (when runs logged ``sign_flips``, see :mod:`qornn.signs`): sign flips per
  evaluation interval against the step, one panel per task.

The Markdown lists, under the table, every command that trained each row's runs (kept in
``summary.json``).  ``published`` (a CSV file with the columns ``run,published,source``) adds a
column with a published figure beside the row of that label, with its source (paper, table);
``intro`` (a Markdown file) is placed between the title (``title``, "Results") and the table.  ``out`` ending in ``.md`` writes that page there and the other files
into the folder of the same name without the suffix (``docs/results.md`` → ``docs/results/``).

Sizes are those of ``qornn info`` (see :mod:`qornn.size`) without the full-precision
embedding table of text models, which the CSV lists apart.  Only the run folders'
``config.yaml``, ``summary.json``, ``metrics.jsonl`` and ``model.safetensors`` (checksum and
stored config verified) are read, so no data set is needed.
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from . import run as rundir
from .checkpoint import atomic_write_text, model_state
from .config import config_to_dict
from .errors import CheckpointError, ConfigError, OutputError
from .recurrent import scheme_value_set
from .size import embedding_bits

#: Config keys that do not make two runs different models.
IGNORED_KEYS = {("seed",), ("description",), ("task", "data_dir"), ("train", "progress"), ("train", "threads"),
                ("train", "tensorboard")}
_SEED_DIR = re.compile(r"^seed-\d+$")


@dataclass
class Run:
    path: Path
    config: dict
    summary: dict
    metrics: list[dict]
    embedding_bits: int = 0

    @property
    def kbits(self) -> float:
        return (self.summary["total_bits"] - self.embedding_bits) / 1000.0


@dataclass
class Group:
    label: str
    runs: list[Run] = field(default_factory=list)

    @property
    def config(self) -> dict:
        return self.runs[0].config


def find_runs(paths) -> tuple[list[Path], list[Path]]:
    """(finished run folders, unfinished ones) under ``paths``, each list sorted."""
    done, unfinished = set(), set()
    for p in map(Path, paths):
        if not p.is_dir():
            raise CheckpointError(f"{p} is not a folder; pass run folders written by `qornn train --out`")
        candidates = [p] if (p / rundir.CONFIG).is_file() else [c.parent for c in p.rglob(rundir.CONFIG)]
        if not candidates:
            raise CheckpointError(f"no qornn run folder (with {rundir.CONFIG}) under {p}")
        for c in candidates:
            (done if (c / rundir.SUMMARY).is_file() else unfinished).add(c)
    return sorted(done), sorted(unfinished)


def load_run(path: Path) -> Run:
    """A finished run: summary and metrics read and checked, weights checksum and stored config verified."""
    summary = rundir.read_summary(path)
    cfg, _, tensors = rundir.verified_weights(path)
    return Run(path, config_to_dict(cfg), summary, rundir.read_metrics(path),
               embedding_bits(model_state(tensors)))


def _group_key(cfg: dict) -> str:
    flat = {}

    def walk(d, prefix=()):
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, prefix + (k,))
            elif prefix + (k,) not in IGNORED_KEYS:
                flat[".".join(prefix + (k,))] = v
    walk(cfg)
    return json.dumps(flat, sort_keys=True, default=str)


def _base_label(path: Path) -> str:
    return path.parent.name if _SEED_DIR.match(path.name) else path.name


def group_runs(runs: list[Run]) -> list[Group]:
    groups: dict[str, Group] = {}
    for r in runs:
        key = _group_key(r.config)
        if key not in groups:
            groups[key] = Group(_base_label(r.path))
        groups[key].runs.append(r)
    out = list(groups.values())
    seen: dict[str, int] = {}
    for g in out:  # make labels unique
        seen[g.label] = seen.get(g.label, 0) + 1
        if seen[g.label] > 1:
            g.label = f"{g.label} ({seen[g.label]})"
    return sorted(out, key=lambda g: (g.config["task"]["name"], g.runs[0].kbits, g.label))


# ---- table ------------------------------------------------------------------------------------
def bits_label(value) -> str:
    return "FP32" if value is None else ("ternary" if value == 1 else str(value))


def recurrent_bits(mcfg: dict) -> str:
    """How W is stored: k bits, the scheme's value set (±1 for HadamRNN, 0/±1 for Block-HadamRNN), or FP32."""
    if mcfg.get("recurrent_bits") is not None:
        return bits_label(mcfg["recurrent_bits"])
    values = scheme_value_set(mcfg["recurrent"], mcfg["hidden_size"], mcfg)
    return "FP32" if values is None else values[1]


def model_name(mcfg: dict) -> str:
    name = f"{mcfg['recurrent']} n={mcfg['hidden_size']}"
    if mcfg.get("block_size"):
        name += f" m={mcfg['block_size']}"
    if mcfg.get("embedding_dim"):
        name += f" emb={mcfg['embedding_dim']}"
    if mcfg.get("readout") == "mean":
        name += " mean-pool"
    return name


def mean_std(values: list[float]) -> tuple[float, float | None]:
    if not values:
        return math.nan, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def _fmt(mean: float, std: float | None, scale: float = 1.0, digits: int = 2) -> str:
    if math.isnan(mean):
        return "—"
    text = f"{mean * scale:.{digits}f}"
    return text + (f" ± {std * scale:.{digits}f}" if std is not None else "")


def _fmt_loss(mean: float, std: float | None) -> str:
    if math.isnan(mean):
        return "—"
    return f"{mean:.4g}" + (f" ± {std:.2g}" if std is not None else "")


def numbers(values) -> list[float]:
    """The finite numbers among ``values`` (a null, e.g. a NaN loss written as null, is left out)."""
    return [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]


def rows(groups: list[Group]) -> list[dict]:
    """One dict per group with the numbers of results.csv."""
    out = []
    for g in groups:
        m = g.config["model"]
        acc = numbers(r.summary["test"].get("accuracy") for r in g.runs)
        val_acc = numbers((r.summary.get("val") or {}).get("accuracy") for r in g.runs)
        loss = numbers(r.summary["test"]["loss"] for r in g.runs)
        row = {"label": g.label, "task": g.config["task"]["name"], "model": model_name(m),
               "W_bits": recurrent_bits(m), "U_bits": bits_label(m.get("input_bits")),
               "V_bits": bits_label(m.get("output_bits")),
               "size_kbit": g.runs[0].kbits, "embedding_kbit": g.runs[0].embedding_bits / 1000.0,
               "seeds": " ".join(str(r.config["seed"]) for r in g.runs), "n_runs": len(g.runs)}
        for name, values in (("test_accuracy", acc), ("val_accuracy", val_acc), ("test_loss", loss)):
            row[f"{name}_mean"], row[f"{name}_std"] = mean_std(values)
        row["steps_mean"] = statistics.fmean(r.summary["steps"] for r in g.runs)
        row["total_steps"] = g.runs[0].summary.get("total_steps")
        row["stopped_early"] = any(r.summary.get("stopped_early") for r in g.runs)
        row["runtime_s_mean"] = statistics.fmean(numbers(r.summary.get("runtime_s") for r in g.runs) or [math.nan])
        row["runs"] = " ".join(str(r.path) for r in g.runs)
        row["commands"] = list(dict.fromkeys(c for r in g.runs for c in r.summary.get("commands", [])))
        out.append(row)
    return out


def read_published(path: str | Path, labels: list[str]) -> dict[str, str]:
    """``{row label: "figure (source)"}`` from a CSV file ``run,published,source``; one-line errors."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            records = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"--published {path}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
    if records and not {"run", "published", "source"} <= set(records[0]):
        raise ConfigError(f"--published {path}: the columns must be run,published,source")
    out = {}
    for rec in records:
        if rec["run"] not in labels:
            raise ConfigError(f"--published {path}: run {rec['run']!r} is not a row of this report; "
                              f"rows: {', '.join(labels)}")
        out[rec["run"]] = f"{rec['published']} ({rec['source']})"
    return out


def markdown(table: list[dict], unfinished: list[Path] = (), published: dict[str, str] | None = None,
             intro: str = "", title: str = "Results") -> str:
    head = ["run", "task", "model", "W", "U", "V", "size (kbit)", "seeds", "test acc (%)", "val acc (%)",
            "test loss", "steps", "runtime (min)"] + (["published"] if published else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in table:
        steps = f"{r['steps_mean']:.0f}/{r['total_steps']}" + (" (budget)" if r["stopped_early"] else "")
        cells = [r["label"], r["task"], r["model"], r["W_bits"], r["U_bits"], r["V_bits"], f"{r['size_kbit']:.2f}",
                 str(r["n_runs"]), _fmt(r["test_accuracy_mean"], r["test_accuracy_std"], 100),
                 _fmt(r["val_accuracy_mean"], r["val_accuracy_std"], 100),
                 _fmt_loss(r["test_loss_mean"], r["test_loss_std"]), steps, f"{r['runtime_s_mean'] / 60:.1f}"]
        cells += [published.get(r["label"], "—")] if published else []
        lines.append("| " + " | ".join(cells) + " |")
    text = (f"# {title}\n\n" + (intro.strip() + "\n\n" if intro.strip() else "") + "\n".join(lines) + "\n\n"
            "Metrics: mean ± sample standard deviation over seeds (none shown for a single seed). "
            "W, U, V: storage of the recurrent, input and output matrices (±1 = binary, 0/±1 = sparse ternary, "
            "k = k-bit, FP32 = full precision). Size: all trained weights and biases as counted by `qornn info`, "
            "without the FP32 embedding table of text models (listed in results.csv). "
            "Runtime: training time per seed, without the final evaluation.\n")
    commands = [(r["label"], c) for r in table for c in r.get("commands", [])]
    if commands:
        text += "\nCommands that trained each row (in order; `--resume` continues a run):\n\n"
        text += "".join(f"- {label}: `{c}`\n" for label, c in commands)
    if unfinished:
        text += "\nNot finished (no summary.json), left out: " + ", ".join(str(p) for p in unfinished) + "\n"
    return text


CSV_FIELDS = ["label", "task", "model", "W_bits", "U_bits", "V_bits", "size_kbit", "embedding_kbit", "n_runs", "seeds",
              "test_accuracy_mean", "test_accuracy_std", "val_accuracy_mean", "val_accuracy_std", "test_loss_mean",
              "test_loss_std", "steps_mean", "total_steps", "stopped_early", "runtime_s_mean", "runs"]


def to_csv(table: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for r in table:
        w.writerow({k: ("" if r[k] is None or (isinstance(r[k], float) and math.isnan(r[k])) else r[k])
                    for k in CSV_FIELDS})
    return buf.getvalue()


FILES = ("results.md", "results.csv", "size_vs_accuracy.png", "training_curves.png")


def write_report(paths, out: str | Path, published: str | Path | None = None, intro: str | Path | None = None,
                 title: str = "Results") -> dict:
    """Write the four report files into ``out`` (``published``, ``intro``, ``title``: see the module docstring).

    Returns ``{"files", "rows" (the table), "unfinished" (left-out folders), "plots" (panel descriptions)}``.
    """
    done, unfinished = find_runs(paths)
    if not done:
        raise CheckpointError("no finished run (with summary.json) among the given folders: "
                              + ", ".join(str(p) for p in unfinished))
    groups = group_runs([load_run(p) for p in done])
    table = rows(groups)
    figures = read_published(published, [r["label"] for r in table]) if published else None
    try:
        intro_text = Path(intro).read_text(encoding="utf-8") if intro else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--intro {intro}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
    out = Path(out)
    page, folder = (out, out.with_suffix("")) if out.suffix == ".md" else (out / "results.md", out)
    for target in (page.parent, folder):
        if target.exists() and not target.is_dir():
            raise OutputError(f"--out {target} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        from .report_plots import plot_sign_flips, plot_size_vs_accuracy, plot_training_curves

        plots = {"size_vs_accuracy": plot_size_vs_accuracy(groups, folder / "size_vs_accuracy.png"),
                 "training_curves": plot_training_curves(groups, folder / "training_curves.png")}
        names = list(FILES)
        if any("sign_flips" in m for g in groups for r in g.runs for m in r.metrics):
            plots["sign_flips"] = plot_sign_flips(groups, folder / "sign_flips.png")
            names.append("sign_flips.png")
        text = markdown(table, unfinished, figures, intro_text, title)
        if page.parent != folder:  # a page beside its figure folder links the figures
            rel = folder.name
            text += "\n" + "".join(f"![{n[:-4]}]({rel}/{n})\n" for n in names if n.endswith(".png"))
        atomic_write_text(page, text)
        atomic_write_text(folder / "results.csv", to_csv(table))
    except OSError as exc:
        raise OutputError(f"cannot write the report to {out}: {exc.strerror or exc}") from None
    files = [str(page)] + [str(folder / n) for n in names if n != "results.md"]
    return {"files": files, "rows": table, "unfinished": [str(p) for p in unfinished], "plots": plots}
