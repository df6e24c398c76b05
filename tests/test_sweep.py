"""`qornn sweep` in one process: the --param grammar, bad input, pruning, failed trials, `qornn report`."""
from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest

from qornn.cli.main import main
from qornn.errors import ConfigError
from qornn.sweep_params import check_params, field_type, parse_param

needs_optuna = pytest.mark.skipif(importlib.util.find_spec("optuna") is None,
                                  reason='optuna is not installed (pip install "qornn[sweep]")')

SETS = ["task.seq_len=5", "model.hidden_size=16", "task.n_symbols=2", "task.train_size=64", "task.val_size=32",
        "task.test_size=32", "train.steps=60", "train.batch_size=16", "train.eval_every=20", "train.log_every=10",
        "train.schedule=constant", "train.threads=1"]
SET_ARGS = [a for s in SETS for a in ("--set", s)]


def test_param_grammar_reads_every_kind():
    p = parse_param("train.lr=loguniform(1e-4, 1e-2)")
    assert (p.key, p.kind, p.low, p.high) == ("train.lr", "loguniform", 1e-4, 1e-2)
    p = parse_param("model.weight_bits=int(2,8)")
    assert (p.kind, p.low, p.high) == ("int", 2, 8) and isinstance(p.low, int)
    p = parse_param("model.weight_bits=choice(null, 2, 4)")
    assert p.choices == (None, 2, 4)
    assert parse_param("model.linear_recurrence=choice(true,false)").choices == (True, False)
    assert parse_param("model.nonlinearity=choice(relu,tanh)").choices == ("relu", "tanh")
    assert parse_param("train.grad_clip=choice(null,0.5)").choices == (None, 0.5)
    assert parse_param("train.lr=uniform(0,1e-2)").high == 0.01
    assert str(field_type("model.weight_bits")) == "typing.Optional[int]" and field_type("model.nope") is None
    check_params([parse_param("train.lr=loguniform(1e-4,1e-2)"), parse_param("model.weight_bits=choice(2,3,null)"),
                  parse_param("seed=int(0,9)")],
                 "copy-hadamrnn", SETS)


@pytest.mark.parametrize("param,needle", [
    ("train.lr", "not of the form KEY=KIND(...)"),
    ("train.lr=gauss(1,2)", "unknown distribution 'gauss'"),
    ("train.lr=uniform(1)", "takes two numbers"),
    ("train.lr=uniform(a,1)", "'a' is not a number"),
    ("train.lr=uniform(0.1,0.01)", "is empty"),
    ("train.lr=loguniform(0,1)", "loguniform needs 0 < a < b"),
    ("train.steps=int(1.5,3)", "'1.5' is not an integer"),
    ("train.lr=choice()", "choice() needs one or more"),
    ("model.weight_bits=choice(2,2)", "lists a value twice"),
    ("train.lrr=uniform(0,1)", "unknown config key 'train.lrr'"),
    ("model.weight_bits=uniform(2,4)", "model.weight_bits is of type int or null"),
    ("model.nonlinearity=int(1,3)", "use choice(...)"),
    ("model.weight_bits=choice(2,2.5)", "model.weight_bits=2.5 is refused"),
    ("train.batch_size=int(8,16)", "also fixed with --set"),
])
def test_bad_params_are_one_line_errors_before_the_storage(tmp_path, capsys, param, needle):
    db = tmp_path / "s.db"
    code = main(["sweep", "--config", "copy-hadamrnn", *SET_ARGS, "--set", "train.batch_size=16", "--param", param,
                 "--trials", "2", "--storage", f"sqlite:///{db}", "--study", "s", "--out", str(tmp_path / "sw")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("qornn: error: ") and err.count("\n") == 1 and needle in err, err
    assert not db.exists() and not (tmp_path / "sw").exists()


@pytest.mark.parametrize("extra,needle", [
    (["--storage", "sqlite://"], "in-memory database"),
    (["--storage", "sweep.db"], "is not a database URL"),
    (["--storage", "nosuchdb://host/x"], "--storage nosuchdb://host/x:"),
    (["--trials", "0"], "--trials 0 is not allowed"),
    (["--heartbeat", "0"], "--heartbeat 0 is not allowed"),
    (["--prune-startup", "-1"], "--prune-startup -1 is not allowed"),
])
@needs_optuna
def test_bad_sweep_options(tmp_path, capsys, monkeypatch, extra, needle):
    monkeypatch.chdir(tmp_path)
    argv = ["sweep", "--config", "copy-hadamrnn", *SET_ARGS, "--param", "train.lr=loguniform(1e-4,1e-2)",
            "--trials", "2", "--out", "sw", *extra]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("qornn: error: ") and err.count("\n") == 1 and needle in err, err


@needs_optuna
def test_out_folder_and_study_must_match(tmp_path, capsys):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    base = ["sweep", "--config", "copy-hadamrnn", *SET_ARGS, "--trials", "1", "--storage",
            f"sqlite:///{tmp_path / 's.db'}"]
    assert main([*base, "--param", "train.lr=loguniform(1e-4,1e-2)", "--study", "a", "--out",
                 str(tmp_path / "busy")]) == 2
    assert "already holds files that are not a qornn sweep" in capsys.readouterr().err
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"
    # a study created with one search space refuses a worker with another, and an OUT holds one study
    from qornn.sweep import SweepSpec, open_study

    spec = SweepSpec(config="copy-hadamrnn", params=[parse_param("train.lr=loguniform(1e-4,1e-2)")], trials=1,
                     storage=f"sqlite:///{tmp_path / 's.db'}", study="a", out=tmp_path / "a", sets=SETS)
    open_study(spec, print)
    assert main([*base, "--param", "train.lr=loguniform(1e-3,1e-2)", "--study", "a", "--out",
                 str(tmp_path / "a2")]) == 2
    assert "searches train.lr=loguniform(0.0001,0.01), not train.lr=loguniform(0.001,0.01)" in capsys.readouterr().err
    assert main([*base, "--param", "train.lr=loguniform(1e-4,1e-2)", "--set", "train.optimizer=sgd", "--study", "a",
                 "--out", str(tmp_path / "a3")]) == 2
    assert "trains train.optimizer='adam', this worker train.optimizer='sgd'" in capsys.readouterr().err
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "sweep.json").write_text(json.dumps({"storage": "sqlite:////elsewhere.db", "study": "b"}))
    assert main([*base, "--param", "train.lr=loguniform(1e-4,1e-2)", "--study", "a", "--out",
                 str(tmp_path / "b")]) == 2
    assert "holds the sweep of study 'b'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def pruned_sweep(tmp_path_factory):
    """Three enqueued trials, one worker, --prune after 1 trial: complete, pruned, failed (weight_bits=9)."""
    from qornn.sweep import SweepSpec, open_study, run_worker, storage_url

    out = tmp_path_factory.mktemp("sweep") / "sw"
    spec = SweepSpec(config="copy-hadamrnn", params=[parse_param("train.lr=loguniform(1e-5,1e-1)"),
                                                     parse_param("model.weight_bits=choice(4,9)")],
                     trials=3, storage=storage_url(None, out), study="p", out=out, sets=SETS, prune=True,
                     prune_startup=1, heartbeat=1)
    out.mkdir()
    study = open_study(spec, print)
    for lr, bits in ((5e-2, 4), (1e-5, 4), (1e-3, 9)):  # learns; never leaves 0 accuracy; refused by the model
        study.enqueue_trial({"train.lr": lr, "model.weight_bits": bits})
    lines = []
    summary = run_worker(spec, say=lines.append)
    return out, study, summary, lines


@needs_optuna
def test_pruned_and_failed_trials(pruned_sweep):
    out, study, summary, lines = pruned_sweep
    states = {t.number: t.state.name for t in study.get_trials()}
    assert states == {0: "COMPLETE", 1: "PRUNED", 2: "FAIL"}
    assert summary["counts"] == {"complete": 1, "pruned": 1, "failed": 1} and summary["ran_here"] == 3
    t0, t1, t2 = study.get_trials()
    marker = json.loads((out / "trial-1" / "trial.json").read_text())
    at = marker["pruned_step"]  # a validation step after the first, before the last (60)
    assert at in (20, 40) and max(t1.intermediate_values) == at
    assert t1.intermediate_values[at] < t0.intermediate_values[at]  # the median rule's reason to prune
    assert marker["state"] == "pruned" and marker["params"]["train.lr"] == 1e-5
    assert not (out / "trial-1" / "summary.json").exists() and (out / "trial-1" / ".qornn-run").is_file()
    assert max(json.loads(x)["step"] for x in (out / "trial-1" / "metrics.jsonl").read_text().splitlines()) == at
    done = json.loads((out / "trial-0" / "trial.json").read_text())
    assert done["state"] == "complete" and done["value"] == json.loads(
        (out / "trial-0" / "summary.json").read_text())["val"]["accuracy"] == t0.value
    assert "model.weight_bits=9" in t2.user_attrs["error"] and not (out / "trial-2").exists()
    assert lines[1] == f"trial 1: train.lr=1e-05 model.weight_bits=4 -> pruned at step {at}" + lines[1][-8:]
    assert summary["best"]["number"] == 0 and f"best trial 0: val accuracy {t0.value:.6g}" in lines[-1]


@needs_optuna
def test_report_of_a_sweep_folder(pruned_sweep, tmp_path, capsys):
    out, study, _, _ = pruned_sweep
    assert main(["report", str(out), "--out", str(tmp_path / "rep")]) == 0
    printed = capsys.readouterr().out
    md = (tmp_path / "rep" / "sweep.md").read_text()
    assert md in printed and "**Best: trial 0**" in md
    rows = {ln.split(" | ")[0]: ln for ln in md.splitlines() if ln.startswith("| ") and ln[2].isdigit()}
    at = json.loads((out / "trial-1" / "trial.json").read_text())["pruned_step"]
    assert rows["| 1"].startswith(f"| 1 | pruned | 0 | 1e-05 | 4 | {at} | trial-1 | pruned at step {at} |")
    assert rows["| 2"].startswith("| 2 | failed |  | 0.001 | 9 |  |  | model.weight_bits=9 is not allowed")
    with open(tmp_path / "rep" / "sweep.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [r["state"] for r in table] == ["complete", "pruned", "failed"]
    assert float(table[0]["value"]) == study.get_trials()[0].value and table[0]["run_dir"] == "trial-0"
    png = (tmp_path / "rep" / "sweep.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    # a page path: the figure goes into the folder of the same name and the page links it
    from qornn.sweep_report import write_sweep_report

    result = write_sweep_report(out, tmp_path / "docs" / "sweep.md")
    assert "![sweep](sweep/sweep.png)" in (tmp_path / "docs" / "sweep.md").read_text()
    assert Path(result["files"][2]).is_file() and result["best"]["number"] == 0
    titles = [p["title"] for p in result["plots"]]
    assert titles[0].startswith("2 trials, coloured by val accuracy (red: best, trial 0")
    assert titles[1] == "val accuracy by trial (1 failed, not shown)"
    assert result["plots"][0]["xlabel"] == "" and result["plots"][1]["xlabel"] == "trial number"


def test_check_params_needs_a_config():
    with pytest.raises(ConfigError, match="unknown preset"):
        check_params([parse_param("train.lr=uniform(0,1)")], "no-such-preset")
