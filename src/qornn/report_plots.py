"""The figures of ``qornn report``: size against accuracy, training curves, sign flips.

Each ``plot_*`` function draws the groups of :mod:`qornn.report` into one PNG file and
returns a description of its panels (scale, labels, legend, markers), which the tests
check; :func:`pyplot` and :func:`save_figure` are shared with :mod:`qornn.sweep_report`.
"""
from __future__ import annotations

import math
from pathlib import Path

from .report import Group, bits_label, mean_std, model_name, numbers, recurrent_bits

MARKERS = "osD^vP*Xph<>"


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _by_task(groups: list[Group]) -> dict[str, list[tuple[int, Group]]]:
    tasks: dict[str, list[tuple[int, Group]]] = {}
    for i, g in enumerate(groups):
        tasks.setdefault(g.config["task"]["name"], []).append((i, g))
    return tasks


def _describe(fig) -> list[dict]:
    """Scale, labels and legend entries of each panel (what the tests check)."""
    out = []
    for ax in fig.axes:
        legend = ax.get_legend()
        out.append({"title": ax.get_title(), "xscale": ax.get_xscale(), "xlabel": ax.get_xlabel(),
                    "ylabel": ax.get_ylabel(), "legend": [t.get_text() for t in legend.get_texts()] if legend else [],
                    "markers": sorted({ln.get_marker() for ln in ax.get_lines() if ln.get_marker() not in ("None", "", "_", "|")})})
    return out


def plot_size_vs_accuracy(groups: list[Group], path: Path) -> list[dict]:
    """Test accuracy (or loss) against size in kbit (log x axis); one marker per model, a panel per task."""
    plt = pyplot()
    from matplotlib import ticker

    tasks = _by_task(groups)
    cols = min(2, len(tasks))
    nrows = math.ceil(len(tasks) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(7.0 * cols, 5.0 * nrows), squeeze=False)
    for ax in axes.flat[len(tasks):]:
        fig.delaxes(ax)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (task, members) in zip(axes.flat, tasks.items()):
        use_acc = all("accuracy" in r.summary["test"] for _, g in members for r in g.runs)
        for i, g in members:
            values = [v * 100 if use_acc else v for v in
                      numbers(r.summary["test"].get("accuracy" if use_acc else "loss") for r in g.runs)]
            mean, std = mean_std(values)
            ax.errorbar([g.runs[0].kbits], [mean], yerr=[std] if std is not None else None,
                        marker=MARKERS[i % len(MARKERS)], color=colors[i % len(colors)], markersize=9,
                        capsize=4, linestyle="none",
                        label=f"{g.label}: {model_name(g.config['model'])}, W {recurrent_bits(g.config['model'])}, "
                              f"p={bits_label(g.config['model'].get('input_bits'))} ({len(g.runs)} seed"
                              f"{'s' if len(g.runs) > 1 else ''})")
        ax.set_xscale("log")
        sizes = [g.runs[0].kbits for _, g in members]
        ax.set_xlim(min(sizes) / 2.5, max(sizes) * 2.5)  # at least a factor 6 so the log axis reads well
        ax.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_xlabel("model size (kbit, log scale; embedding excluded)")
        ax.set_ylabel("test accuracy (%)" if use_acc else "test loss")
        if not use_acc:
            ax.set_yscale("log")
        ax.set_title(f"{task}: test {'accuracy' if use_acc else 'loss'} vs model size (upper left is best)"
                     if use_acc else f"{task}: test loss vs model size (lower left is best)", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    return save_figure(plt, fig, path, dpi=120)


def plot_training_curves(groups: list[Group], path: Path) -> list[dict]:
    """Per task: training loss (left) and validation accuracy or loss (right) against the step."""
    plt = pyplot()
    from matplotlib import ticker

    tasks = _by_task(groups)
    fig, axes = plt.subplots(len(tasks), 2, figsize=(12, 3.8 * len(tasks)), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for (ax_loss, ax_val), (task, members) in zip(axes, tasks.items()):
        use_acc = all("accuracy" in r.summary["test"] for _, g in members for r in g.runs)
        for i, g in members:
            color = colors[i % len(colors)]
            for k, r in enumerate(g.runs):
                label = g.label if k == 0 else None
                train = [m for m in r.metrics if m["split"] == "train" and numbers([m.get("loss")])]
                val = [m for m in r.metrics if m["split"] == "val" and numbers([m.get("loss")])]
                ax_loss.plot([m["step"] for m in train], [m["loss"] for m in train], color=color, lw=1,
                             alpha=0.8, label=label)
                key = "accuracy" if use_acc else "loss"
                scale = 100 if use_acc else 1
                ax_val.plot([m["step"] for m in val if key in m], [m[key] * scale for m in val if key in m],
                            color=color, marker=MARKERS[i % len(MARKERS)], markersize=4, lw=1, label=label)
        ax_loss.set_yscale("log")
        ax_loss.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax_loss.yaxis.set_minor_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax_loss.set_xlabel("training step (optimizer updates)")
        ax_loss.set_ylabel("training loss (log scale)")
        ax_loss.set_title(f"{task}: training loss", fontsize=10)
        ax_val.set_xlabel("training step (optimizer updates)")
        ax_val.set_ylabel("validation accuracy (%)" if use_acc else "validation loss")
        ax_val.set_title(f"{task}: validation {'accuracy' if use_acc else 'loss'}", fontsize=10)
        for ax in (ax_loss, ax_val):
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=7, loc="best")
    return save_figure(plt, fig, path, dpi=110)


def plot_sign_flips(groups: list[Group], path: Path) -> list[dict]:
    """Per task: sign flips per evaluation interval against the step (symlog y axis: 0 stays visible)."""
    plt = pyplot()
    tasks = {t: [(i, g) for i, g in m if any("sign_flips" in x for r in g.runs for x in r.metrics)]
             for t, m in _by_task(groups).items()}
    tasks = {t: m for t, m in tasks.items() if m}
    fig, axes = plt.subplots(len(tasks), 1, figsize=(9, 3.8 * len(tasks)), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (task, members) in zip(axes.flat, tasks.items()):
        for i, g in members:
            for k, r in enumerate(g.runs):
                val = [m for m in r.metrics if m.get("split") == "val" and "sign_flips" in m]
                ax.plot([m["step"] for m in val], [m["sign_flips"] for m in val], color=colors[i % len(colors)],
                        marker=MARKERS[i % len(MARKERS)], markersize=3, lw=1,
                        label=f"{g.label} ({r.config['train'].get('sign_rule', 'ste')})" if k == 0 else None)
        ax.set_yscale("symlog", linthresh=1)
        ax.set_xlabel("training step (optimizer updates)")
        ax.set_ylabel("sign flips per evaluation interval")
        ax.set_title(f"{task}: how often the recurrent signs flip", fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    return save_figure(plt, fig, path, dpi=110)


def save_figure(plt, fig, path: Path, dpi: int) -> list[dict]:
    """Write the figure, describe its panels (for tests) and free it."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    panels = _describe(fig)
    plt.close(fig)
    return panels
