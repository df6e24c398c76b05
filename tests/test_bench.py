"""`qornn bench`: JSON keys, agreement of the engines, every preset, one-line errors."""
from __future__ import annotations

import json

import pytest
import torch

from qornn import hadamard
from qornn.cli.main import main
from qornn.config import list_presets
from qornn.hadamard import fwht_kernel_available

KEYS = {"train_step_s_fast", "train_step_s_reference", "train_speedup", "forward_s_fast", "forward_s_reference",
        "forward_speedup", "max_abs_diff", "max_grad_rel_err", "saved_mb_fast", "saved_mb_reference", "command"}

# Small shapes so every preset runs in about a second (sequence length, hidden size, batch).
SMALL = ["task.seq_len=20", "task.max_len=12", "task.vocab_size=50", "model.hidden_size=32",
         "model.embedding_dim=8", "task.train_size=64", "task.val_size=8", "task.test_size=8"]


def bench_json(capsys, *args) -> dict:
    assert main(["bench", "--json", "--steps", "1", "--warmup", "0", "--batch-size", "3", "--no-tune-malloc", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_bench_json_keys_and_agreement(capsys):
    out = bench_json(capsys, "--config", "copy-hadamrnn", "--set", "task.seq_len=30", "--set", "model.hidden_size=64")
    assert KEYS <= set(out)
    compiled = hadamard.native_loops_apply(64, 64, torch.empty(3, 64)) is not None
    assert out["fast_path"] == "fused-all-sign-" + ("native" if compiled else "fht" if fwht_kernel_available() else "kron")
    assert out["data"] == "task" and out["threads"] == 1
    assert out["seq_len"] == 50 and out["batch_size"] == 3  # T + 2K
    for k in ("train_step_s_fast", "train_step_s_reference", "forward_s_fast", "forward_s_reference"):
        assert out[k] > 0
    assert out["train_speedup"] == pytest.approx(out["train_step_s_reference"] / out["train_step_s_fast"])
    assert out["max_abs_diff"] < 1e-4 and out["max_grad_rel_err"] < 1e-4
    assert 0 < out["saved_mb_fast"] <= out["saved_mb_reference"] * 1.01
    assert out["command"].startswith("qornn bench --config copy-hadamrnn --set task.seq_len=30")
    assert out["malloc_tuned"] is False and out["command"].endswith("--no-tune-malloc")


@pytest.mark.parametrize("preset", list_presets())
def test_bench_works_for_every_preset(capsys, tmp_path, preset):
    sets = [a for s in SMALL + [f"task.data_dir={tmp_path}"] for a in ("--set", s)]
    if "block" in preset:
        sets += ["--set", "model.block_size=16"]
    if "authors" in preset:  # seq_len is the total length there: at least 2K = 20
        sets += ["--set", "task.seq_len=24"]
    if "lstm" in preset or "gru" in preset:  # no OrthoRNN: bench refuses in one line
        assert main(["bench", "--config", preset, *sets]) == 2
        assert "builds no OrthoRNN" in capsys.readouterr().err
        return
    out = bench_json(capsys, "--config", preset, *sets, "--no-forward")
    assert out["train_step_s_fast"] > 0 and "forward_s_fast" not in out
    assert out["max_grad_rel_err"] < 1e-4, out
    if preset.startswith(("copy", "adding")):
        assert out["data"] == "task"
    else:  # no data set in the temporary folder: random inputs of the task's shapes
        assert out["data"] == "random"


def test_bench_text_output(capsys):
    assert main(["bench", "--config", "copy-hadamrnn-quick", "--set", "task.seq_len=5", "--set",
                 "model.hidden_size=16", "--steps", "1", "--warmup", "0", "--batch-size", "2"]) == 0
    text = capsys.readouterr().out
    assert "speed-up" in text and "reproduce: qornn bench --config copy-hadamrnn-quick" in text


@pytest.mark.parametrize("args, message", [
    (["--config", "copy-hadamrnn", "--threads", "0"], "--threads 0"),
    (["--config", "copy-hadamrnn", "--steps", "0"], "--steps 0"),
    (["--config", "no-such-preset"], "unknown preset"),
    (["--config", "copy-hadamrnn", "--set", "model.engine=gpu"], "model.engine"),
])
def test_bench_errors_are_one_line(capsys, args, message):
    assert main(["bench", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qornn: error:") and message in err and err.count("\n") == 1


def test_bench_says_when_it_times_random_inputs(capsys, tmp_path):
    assert main(["bench", "--json", "--steps", "1", "--warmup", "0", "--batch-size", "2", "--no-tune-malloc",
                 "--config", "pmnist-hadamrnn", "--set", f"task.data_dir={tmp_path}", "--set", "model.hidden_size=32",
                 "--no-forward"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["data"] == "random"
    assert f"mnist data not found in {tmp_path}" in captured.err


def test_bench_reports_unreadable_data_instead_of_timing_random_inputs(capsys, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (raw / stem).write_bytes(b"not an IDX file")
    assert main(["bench", "--config", "pmnist-hadamrnn", "--set", f"task.data_dir={tmp_path}", "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qornn: error:") and "IDX" in err and err.count("\n") == 1
