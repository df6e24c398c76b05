"""`qornn report`: grouping of seeds, the table, the CSV and the two plots, on tiny real runs."""
from __future__ import annotations

import csv
import json
import statistics

import pytest

from qornn.cli.main import main
from qornn.report import write_report

COPY = ["--set", "task.seq_len=5", "--set", "task.n_symbols=2", "--set", "task.train_size=64", "--set",
        "task.val_size=32", "--set", "task.test_size=32", "--set", "train.steps=6", "--set", "train.batch_size=16",
        "--set", "train.eval_every=3", "--set", "train.log_every=2", "--set", "model.hidden_size=8", "--quiet"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    assert main(["train", "--config", "copy-hadamrnn", *COPY, "--seeds", "3", "--out", str(root / "hadam")]) == 0
    assert main(["train", "--config", "copy-hadamrnn", *COPY, "--set", "model.recurrent=dense", "--set", "train.sign_rule=ste",
                 "--set", "model.weight_bits=null", "--out", str(root / "dense")]) == 0
    sst = root / "data" / "SST-2"
    sst.mkdir(parents=True)
    lines = "".join(f"{'a good film' if i % 2 else 'a bad plot'} number {i}\t{i % 2}\n" for i in range(60))
    for name in ("train", "dev"):
        (sst / f"{name}.tsv").write_text("sentence\tlabel\n" + lines)
    assert main(["train", "--config", "sst2-hadamrnn", "--set", "model.hidden_size=8", "--set", "model.embedding_dim=4",
                 "--set", "train.steps=3", "--data-dir", str(root / "data"), "--out", str(root / "text"),
                 "--quiet"]) == 0
    return root


def summaries(folder):
    return [json.loads(p.read_text()) for p in sorted(folder.rglob("summary.json"))]


def test_report_table_groups_seeds(runs, tmp_path, capsys):
    assert main(["report", str(runs / "hadam"), str(runs / "dense"), "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    md = (tmp_path / "results.md").read_text()
    assert md in printed or md.strip() in printed
    body = [ln for ln in md.splitlines() if ln.startswith("| ") and ("hadamard n=8" in ln or "dense n=8" in ln)]
    assert len(body) == 2
    hadam_row = next(ln for ln in body if "hadamard n=8" in ln)
    assert "| ±1 | 4 | 4 |" in hadam_row and "| 3 |" in hadam_row and "±" in hadam_row.split("| 3 |")[1]
    dense_row = next(ln for ln in body if "dense n=8" in ln)
    assert "| FP32 | FP32 | FP32 |" in dense_row

    with open(tmp_path / "results.csv", newline="") as f:
        rows = {r["label"]: r for r in csv.DictReader(f)}
    accs = [s["test"]["accuracy"] for s in summaries(runs / "hadam")]
    assert rows["hadam"]["n_runs"] == "3" and rows["hadam"]["seeds"] == "712 713 714"
    assert float(rows["hadam"]["test_accuracy_mean"]) == pytest.approx(statistics.fmean(accs))
    assert float(rows["hadam"]["test_accuracy_std"]) == pytest.approx(statistics.stdev(accs))
    assert rows["dense"]["test_accuracy_std"] == ""  # one seed: no spread
    assert float(rows["hadam"]["size_kbit"]) == pytest.approx(summaries(runs / "hadam")[0]["total_bits"] / 1000)
    assert float(rows["dense"]["size_kbit"]) > float(rows["hadam"]["size_kbit"])


def test_report_plots_are_labelled_log_scale_one_marker_per_model(runs, tmp_path):
    result = write_report([runs / "hadam", runs / "dense"], tmp_path)
    for name in ("size_vs_accuracy.png", "training_curves.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    (panel,) = result["plots"]["size_vs_accuracy"]
    assert panel["xscale"] == "log" and "kbit" in panel["xlabel"] and "accuracy (%)" in panel["ylabel"]
    assert len(panel["legend"]) == 2 and len(panel["markers"]) == 2
    loss_panel, val_panel = result["plots"]["training_curves"]
    assert "step" in loss_panel["xlabel"] and "loss" in loss_panel["ylabel"] and "accuracy" in val_panel["ylabel"]
    assert len(loss_panel["legend"]) == 2


def test_report_excludes_embedding_from_size(runs, tmp_path):
    result = write_report([runs / "text"], tmp_path)
    (row,) = result["rows"]
    (summary,) = summaries(runs / "text")
    # words of the 54 training sentences (a good film bad plot number + 54 numbers; 6 are held out
    # for validation) + padding + unknown, 4-d, FP32
    assert row["embedding_kbit"] == pytest.approx(62 * 4 * 32 / 1000) and "emb=4" in row["model"]
    assert row["size_kbit"] + row["embedding_kbit"] == pytest.approx(summary["total_bits"] / 1000)


def test_report_all_runs_below_a_folder_and_unfinished(runs, tmp_path):
    half = runs / "half"
    half.mkdir(exist_ok=True)
    (half / "config.yaml").write_text((runs / "dense" / "config.yaml").read_text())
    result = write_report([runs], tmp_path)
    assert {r["label"] for r in result["rows"]} == {"hadam", "dense", "text"}
    assert result["unfinished"] == [str(half)]
    assert "Not finished" in (tmp_path / "results.md").read_text()
    assert len(result["plots"]["size_vs_accuracy"]) == 2  # one panel per task (copy, sst2)


def test_report_errors_exit_2(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty"), "--out", str(tmp_path / "r")]) == 2
    assert main(["report", str(tmp_path / "nope"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(e.startswith("qornn: error: ") for e in err)
    assert "no qornn run folder" in err[0] and "is not a folder" in err[1]


def test_report_page_lists_commands_and_plots_sign_flips(runs, tmp_path):
    result = write_report([runs / "hadam", runs / "dense"], tmp_path / "docs" / "results.md")
    page = (tmp_path / "docs" / "results.md").read_text()
    assert "--seeds 3" in page and "model.recurrent=dense" in page  # the commands that made each row
    assert "![sign_flips](results/sign_flips.png)" in page
    assert (tmp_path / "docs" / "results" / "sign_flips.png").is_file()
    panel, = result["plots"]["sign_flips"]
    assert panel["ylabel"] == "sign flips per evaluation interval" and panel["xlabel"].startswith("training step")
    assert len(panel["legend"]) == 1  # only the HadamRNN group logs flips; the dense model has no signs


def test_report_published_column_and_intro(runs, tmp_path, capsys):
    pub = tmp_path / "published.csv"
    pub.write_text("run,published,source\nhadam,0.5 CE,HadamRNN paper Table 9\n")
    intro = tmp_path / "intro.md"
    intro.write_text("Runs of commit abc.\n")
    assert main(["report", str(runs / "hadam"), str(runs / "dense"), "--out", str(tmp_path / "r.md"),
                 "--published", str(pub), "--intro", str(intro), "--title", "Ablation"]) == 0
    page = (tmp_path / "r.md").read_text()
    assert page.startswith("# Ablation\n\nRuns of commit abc.\n\n| run |") and "| published |" in page
    rows = {ln.split(" | ")[0][2:]: ln for ln in page.splitlines() if ln.startswith("| hadam") or ln.startswith("| dense")}
    assert rows["hadam"].endswith("| 0.5 CE (HadamRNN paper Table 9) |") and rows["dense"].endswith("| — |")
    capsys.readouterr()
    pub.write_text("run,published,source\nlstm,99,somewhere\n")  # a row the report does not have
    assert main(["report", str(runs / "hadam"), "--out", str(tmp_path / "r2"), "--published", str(pub)]) == 2
    assert main(["report", str(runs / "hadam"), "--out", str(tmp_path / "r3"), "--published", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and "run 'lstm' is not a row of this report; rows: hadam" in err[0]
    assert err[1].startswith(f"qornn: error: --published {tmp_path / 'x'}: cannot read it")
    assert not (tmp_path / "r2").exists() and not (tmp_path / "r3").exists()  # nothing written
