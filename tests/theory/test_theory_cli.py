"""``qornn bound``: tables, JSON, one-line errors with exit code 2, RUN_DIR support."""
import json

import pytest

from qornn.cli.main import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_holder_table_and_json(capsys):
    code, out, _ = run_cli(capsys, "bound", "holder", "--widths", "16", "--bits", "1000", "--eps", "1e-3")
    assert code == 0 and "lower bound, widths" in out and "lower bound, bits" in out
    assert "necessary (not sufficient) for eps=0.001: bits >=" in out and "min bits" not in out
    code, out, _ = run_cli(capsys, "bound", "holder", "--d", "2", "--s", "1.5", "--p", "inf", "--bits", "500", "--json")
    data = json.loads(out)
    assert code == 0 and data["bounds"]["bits_route"]["kind"] == "rigorous"
    assert data["bounds"]["bits_route"]["exponent"] == pytest.approx(-0.75)


def test_monotone_and_orthogonality(capsys):
    code, out, _ = run_cli(capsys, "bound", "monotone", "--d", "3", "--p", "2", "--pdim", "1000", "--json")
    assert code == 0 and json.loads(out)["bounds"]["real_weights"]["value"] > 0
    code, out, _ = run_cli(capsys, "bound", "orthogonality", "--n", "32", "--k", "2,4", "--samples", "3", "--json")
    data = json.loads(out)
    assert code == 0
    for row in data["rows"]:
        # each sample is compared with the bound at its own alpha, never the Haar-typical one
        assert row["max measured / own bound"] <= 1
        assert row["measured max"] <= row["a priori (any alpha)"]


def test_bits_from_number(capsys):
    code, out, _ = run_cli(capsys, "bound", "bits", "--bits", "14300")
    assert code == 0 and "window" in out and "Holder" in out


@pytest.mark.parametrize("argv,needle", [
    (["bound", "holder", "--p", "0.5", "--bits", "10"], "p=0.5"),
    (["bound", "holder", "--s", "0", "--bits", "10"], "s=0"),
    (["bound", "holder", "--d", "1.5", "--bits", "10"], "--d=1.5"),
    (["bound", "holder", "--d", "2"], "no approximating class"),
    (["bound", "holder", "--pdim", "0"], "pdim=0"),
    (["bound", "monotone", "--widths", "0", "--p", "2"], "--widths=0"),
    (["bound", "bits"], "RUN_DIR"),
    (["bound", "bits", "/nonexistent/run"], "/nonexistent/run"),
    (["bound", "orthogonality", "--n", "64", "--k", "0"], "k=0"),
    (["bound", "orthogonality", "--n", "x"], "--n=x"),
])
def test_one_line_errors(capsys, argv, needle):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qornn: error: ") and needle in lines[0]
    assert "Traceback" not in err


def test_bits_from_run_dir(tmp_path, capsys):
    from qornn import size

    if not hasattr(size, "model_size_from_run"):
        pytest.skip("qornn.size.model_size_from_run not available in this build")
    out_dir = tmp_path / "run"
    fast = ["--set", "task.seq_len=5", "--set", "model.hidden_size=16", "--set", "train.steps=2",
            "--set", "train.batch_size=8", "--set", "task.val_size=16", "--set", "task.test_size=16",
            "--set", "train.progress=false"]
    assert main(["train", "--config", "copy-hadamrnn", *fast, "--out", str(out_dir), "--quiet"]) == 0
    capsys.readouterr()
    expected = size.model_size_from_run(out_dir)["total_bits"]
    code, out, err = run_cli(capsys, "bound", "bits", str(out_dir), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["bounds"]["holder"]["certificate"]["bits"] == expected


def test_plot_curves_are_labelled_and_written(tmp_path, capsys):
    from qornn.theory import bound_curves

    curves = bound_curves("monotone", d=2, p=2, widths=[8, 8], points=5)
    labels = [s["label"] for s in curves["series"]]
    assert any(lb.startswith("lower bound") and lb.endswith("[rigorous if sources verified]") for lb in labels)
    assert any(lb.startswith("upper bound") and lb.endswith("[rigorous]") for lb in labels)
    assert any("rate only" in lb for lb in labels) and any("sup-norm" in lb for lb in labels)
    ub = next(s for s in curves["series"] if s["label"].startswith("upper bound"))
    lb = next(s for s in curves["series"] if s["label"].startswith("lower bound, any real"))
    common = set(ub["x"]) & set(lb["x"])
    assert common and all(dict(zip(lb["x"], lb["y"]))[x] <= dict(zip(ub["x"], ub["y"]))[x] for x in common)
    code, out, err = run_cli(capsys, "bound", "holder", "--bits", "1000", "--plot", str(tmp_path / "h.png"), "--json")
    assert code == 0, err
    assert json.loads(out)["plot"] == str(tmp_path / "h.png")
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"
