import json
import math
import subprocess
import sys
import textwrap

import pytest
import torch
from safetensors.torch import load_file

from qornn.config import load_config
from qornn.errors import CheckpointError
from qornn.run import load_trained, read_metrics
from qornn.train import train

SHORT = ["task.seq_len=20", "model.hidden_size=128", "train.batch_size=64", "train.lr=3e-3", "train.progress=false"]


def test_short_copy_task_beats_memoryless_baseline(tmp_path):
    cfg = load_config("copy-hadamrnn", SHORT + ["train.steps=800", "train.eval_every=400", "seed=1"])
    summary = train(cfg, tmp_path / "run", quiet=True)
    test = summary["test"]
    assert test["loss"] < 0.5 * test["baseline"], test
    assert test["accuracy"] > 0.5
    rows = read_metrics(tmp_path / "run")
    assert {"step", "split", "loss"} <= set(rows[0])
    assert [r["step"] for r in rows if r["split"] == "val"] == [400, 800]
    assert all("accuracy" in r for r in rows if r["split"] in ("val", "test"))
    for name in ("config.yaml", "model.safetensors", "summary.json", "checkpoints/last.safetensors"):
        assert (tmp_path / "run" / name).is_file()


def test_block_hadamard_trains(tmp_path):
    cfg = load_config("copy-block-hadamrnn", SHORT + ["model.block_size=16", "train.steps=60",
                                                     "model.permute_blocks=true"])
    summary = train(cfg, tmp_path / "run", quiet=True)
    # a uniform guess over the 9 classes scores log 9 = 2.2; 60 steps take the test loss most of the way
    # down to the memoryless baseline (0.52 here): it learned, not merely ran
    assert summary["test"]["loss"] < 0.3 * math.log(9)
    _, _, model = load_trained(tmp_path / "run")
    w = model.rnn.weight_hh_l0.detach()  # still sparse ternary and orthogonal after training
    assert sorted(torch.unique(w * 4).round().tolist()) == [-1.0, 0.0, 1.0]
    assert float((w != 0).float().mean()) == 16 / 128
    assert torch.allclose(w.t() @ w, torch.eye(128), atol=1e-5)


KILL_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    from qornn.config import load_config
    from qornn.train import train
    cfg = load_config("copy-hadamrnn", sys.argv[2:])
    def on_step(step, loss):
        if step == 27:
            os.kill(os.getpid(), signal.SIGKILL)
    train(cfg, sys.argv[1], on_step=on_step, quiet=True)
""")


def test_resume_after_kill_matches_uninterrupted_run(tmp_path):
    overrides = ["task.seq_len=20", "model.hidden_size=32", "train.batch_size=16", "train.steps=40",
                 "train.checkpoint_every=10", "train.eval_every=10", "train.log_every=5", "train.lr=3e-3",
                 "train.progress=false", "seed=3"]
    cfg = load_config("copy-hadamrnn", overrides)
    full = train(cfg, tmp_path / "full", quiet=True)

    killed = tmp_path / "killed"
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(killed), *overrides], capture_output=True)
    assert proc.returncode != 0  # SIGKILL
    assert not (killed / "model.safetensors").exists()
    assert load_file(str(killed / "checkpoints" / "last.safetensors"))  # intact last checkpoint
    resumed = train(None, killed, resume=True, quiet=True)

    assert resumed["steps"] == full["steps"] == 40
    assert resumed["test"]["loss"] == full["test"]["loss"]
    a = load_file(str(tmp_path / "full" / "model.safetensors"))
    b = load_file(str(killed / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    strip = lambda rows: [(r["step"], r["split"], r["loss"]) for r in rows]  # noqa: E731
    assert strip(read_metrics(killed)) == strip(read_metrics(tmp_path / "full"))


def test_corrupted_checkpoint_is_refused(tmp_path):
    cfg = load_config("copy-hadamrnn", SHORT + ["train.steps=10", "train.checkpoint_every=5"])
    train(cfg, tmp_path / "run", quiet=True)
    ckpt = tmp_path / "run" / "checkpoints" / "last.safetensors"
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupted"):
        train(None, tmp_path / "run", resume=True, quiet=True)
    assert ckpt.read_bytes() == data[: len(data) // 2]  # nothing else was touched
    assert (tmp_path / "run" / "model.safetensors").is_file()


def test_budget_stops_cleanly_with_final_evaluation(tmp_path):
    cfg = load_config("copy-hadamrnn", SHORT + ["train.steps=100000", "train.budget_minutes=0.001"])
    summary = train(cfg, tmp_path / "run", quiet=True)
    assert summary["stopped_early"] and summary["steps"] < 100000
    assert "loss" in summary["test"]
    final = [r for r in read_metrics(tmp_path / "run") if r.get("final")]
    assert [r["split"] for r in final] == ["val", "test"]
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["steps"] == summary["steps"]


def test_recurrent_latent_has_its_own_learning_rate(tmp_path):
    from qornn.model import build_model
    from qornn.tasks import build_task
    from qornn.train import make_optimizer

    cfg = load_config("copy-hadamrnn", ["task.seq_len=5", "model.hidden_size=16", "train.lr=1e-3",
                                        "train.recurrent_lr_scale=0.1", "train.sign_rule=ste"])
    model = build_model(cfg.model, build_task(cfg).info)
    opt = make_optimizer(cfg.train, model)
    lrs = [g["lr"] for g in opt.param_groups]
    assert lrs == pytest.approx([1e-3, 1e-4])
    assert opt.param_groups[1]["params"] == [model.rnn.recurrent_latent]
    n_all = sum(len(g["params"]) for g in opt.param_groups)
    assert n_all == len(list(model.parameters()))
    # frozen signs (scale 0): training moves every other parameter but never the latent u
    cfg = load_config("copy-hadamrnn", SHORT + ["train.steps=20", "train.recurrent_lr_scale=0"])
    train(cfg, tmp_path / "run", quiet=True)
    from qornn.run import load_trained

    _, _, trained = load_trained(tmp_path / "run")
    torch.manual_seed(cfg.seed)
    fresh = build_model(cfg.model, build_task(cfg).info)
    assert torch.equal(trained.rnn.recurrent_latent, fresh.rnn.recurrent_latent)
    assert not torch.equal(trained.rnn.bias_hh_l0, fresh.rnn.bias_hh_l0)


def test_keep_best_selects_the_best_validation_weights(tmp_path):
    overrides = SHORT + ["train.steps=50", "train.eval_every=10", "train.lr=0.05", "seed=4", "train.keep_best=true"]
    summary = train(load_config("copy-hadamrnn", overrides), tmp_path / "run", quiet=True)
    vals = [r for r in read_metrics(tmp_path / "run") if r["split"] == "val" and not r.get("final")]
    best = max(vals, key=lambda r: r["accuracy"])
    final_val = summary["val"]["accuracy"]
    assert final_val >= best["accuracy"]  # never worse than any validation point seen
    assert (tmp_path / "run" / "best.safetensors").is_file()
    # lr 0.05 overshoots: the best validation point (step 40) is not the last one, so a selection happens
    assert summary["selected_step"] == best["step"] < summary["steps"]
    assert final_val == best["accuracy"] and summary["val"]["loss"] == pytest.approx(best["loss"], rel=1e-5)
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["selected_step"] == summary["selected_step"]
