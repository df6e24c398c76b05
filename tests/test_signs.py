"""train.sign_rule: the Bop flip rule, BinaryConnect clipping, frozen signs; resume; bad input."""
import subprocess
import sys
import textwrap

import pytest
import torch
from safetensors.torch import load_file

from qornn.cli.main import main
from qornn.config import load_config
from qornn.errors import ConfigError
from qornn.run import read_metrics
from qornn.signs import SignRule
from qornn.train import train


def feed(rule, u, grads):
    """Run the rule on a sequence of gradients; return the signs after each step."""
    out = []
    for g in grads:
        u.grad = torch.tensor(g)
        rule.after_backward()
        out.append(torch.where(u >= 0, 1, -1).tolist())
    return out


def test_bop_flips_exactly_when_the_average_crosses_the_threshold():
    # m_t = 1 - 0.5^t for a constant gradient 1 (γ = 0.5): 0.5, 0.75, 0.875, 0.9375; τ = 0.8 is crossed at t = 3
    u = torch.tensor([0.3, -0.3])
    rule = SignRule("bop", [u], gamma=0.5, threshold=0.8)
    signs = feed(rule, u, [[1.0, 1.0]] * 4)
    assert signs == [[1, -1], [1, -1], [-1, -1], [-1, -1]]  # s_0 flips at step 3; s_1 (already -1) never
    assert rule.report()["sign_flips"] == 1
    # after the flip the sign agrees with the descent direction: no flip back while m keeps its sign,
    # and a reversed gradient must first drive m through zero and past -τ
    signs = feed(rule, u, [[-1.0, 0.0]] * 4)  # m_0: 0.9375 -> 0.47 -> -0.27 -> -0.63 -> -0.82
    assert signs == [[-1, -1], [-1, -1], [-1, -1], [1, -1]]
    assert float(u[0]) == pytest.approx(0.3)  # a flip negates u, keeping its size


def test_bop_threshold_just_above_average_never_flips():
    u = torch.tensor([0.1])
    rule = SignRule("bop", [u], gamma=0.5, threshold=0.9376)  # m_4 = 0.9375 < τ
    assert feed(rule, u, [[1.0]] * 4)[-1] == [1]


def test_normalized_bop_is_scale_free_and_cap_limits_flips():
    grads = [[5.0, 4.0, 3.0, -2.0]] * 6
    results = []
    for scale in (1e-6, 1e3):
        u = torch.tensor([0.2, 0.2, 0.2, -0.2])
        rule = SignRule("bop", [u], gamma=0.3, threshold=0.5, normalize=True)
        results.append(feed(rule, u, [[scale * g for g in row] for row in grads]))
    assert results[0] == results[1]  # same flips whatever the loss scale
    u = torch.tensor([0.2, 0.2, 0.2, 0.2])
    rule = SignRule("bop", [u], gamma=1.0, threshold=0.5, max_flip_fraction=0.25)
    signs = feed(rule, u, [[5.0, 4.0, 3.0, 2.0]])
    assert signs == [[-1, 1, 1, 1]]  # only the strongest of the four wanting a flip


def test_ste_clip_keeps_latents_in_unit_interval_and_counts_flips():
    u = torch.nn.Parameter(torch.tensor([0.05, -0.5, 0.9]))
    opt = torch.optim.SGD([u], lr=1.0)
    rule = SignRule("ste-clip", [u])
    u.grad = torch.tensor([0.1, -5.0, 0.0])
    rule.after_backward()
    opt.step()
    rule.after_step()
    assert u.tolist() == pytest.approx([-0.05, 1.0, 0.9])
    assert rule.report() == {"sign_flips": 2, "latents_near_zero": 0.0}


SHORT = ["task.seq_len=20", "model.hidden_size=128", "train.batch_size=64", "train.lr=3e-3",
         "train.progress=false", "train.steps=600", "train.eval_every=200", "seed=1"]
RULES = {"ste": ["train.sign_rule=ste"], "ste-clip": ["train.sign_rule=ste-clip"], "frozen": ["train.sign_rule=frozen"],
         "bop": ["train.sign_rule=bop", "train.bop_normalize=true", "train.bop_threshold=0.5",
                 "train.bop_max_flip_fraction=0.01"]}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_each_rule_beats_memoryless_baseline_on_short_copy(tmp_path, rule):
    summary = train(load_config("copy-hadamrnn", SHORT + RULES[rule]), tmp_path / "run", quiet=True)
    assert summary["test"]["loss"] < summary["test"]["baseline"], summary["test"]
    vals = [r for r in read_metrics(tmp_path / "run") if r["split"] == "val"]
    assert all("sign_flips" in r for r in vals)
    assert ("latents_near_zero" in vals[0]) == (rule in ("ste", "ste-clip"))
    if rule == "frozen":
        assert all(r["sign_flips"] == 0 for r in vals)


KILL_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    from qornn.config import load_config
    from qornn.train import train
    cfg = load_config("copy-hadamrnn", sys.argv[2:])
    def on_step(step, loss):
        if step == 23:
            os.kill(os.getpid(), signal.SIGKILL)
    train(cfg, sys.argv[1], on_step=on_step, quiet=True)
""")


@pytest.mark.parametrize("rule", ["bop", "ste-clip", "frozen"])
def test_resume_is_bit_identical_with_each_rule(tmp_path, rule):
    overrides = ["task.seq_len=10", "model.hidden_size=32", "train.batch_size=16", "train.steps=30",
                 "train.checkpoint_every=10", "train.eval_every=5", "train.lr=3e-2", "train.progress=false",
                 "seed=5", *RULES[rule]]
    if rule == "bop":
        overrides = overrides[:-3] + ["train.bop_normalize=true", "train.bop_threshold=0.3",
                                      "train.bop_gamma=0.2"]
    full = train(load_config("copy-hadamrnn", overrides), tmp_path / "full", quiet=True)
    killed = tmp_path / "killed"
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(killed), *overrides], capture_output=True)
    assert proc.returncode != 0
    resumed = train(None, killed, resume=True, quiet=True)
    a, b = load_file(str(tmp_path / "full" / "model.safetensors")), load_file(str(killed / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["test"]["loss"] == full["test"]["loss"]
    flips = lambda run: [(r["step"], r["sign_flips"]) for r in read_metrics(run) if r["split"] == "val"]  # noqa
    assert flips(killed) == flips(tmp_path / "full")
    if rule == "bop":
        assert sum(f for _, f in flips(killed)) > 0  # the rule did flip signs in this run


@pytest.mark.parametrize("sets, message", [
    (["train.sign_rule=flip"], "train.sign_rule='flip' is unknown"),
    (["train.sign_rule=bop", "train.bop_threshold=0"], "train.bop_threshold=0"),
    (["train.sign_rule=bop", "train.bop_threshold=-1"], "train.bop_threshold=-1"),
    (["train.sign_rule=bop", "train.bop_gamma=0"], "train.bop_gamma=0"),
    (["train.sign_rule=bop", "train.bop_normalize=true", "train.bop_threshold=1.5"], "bop_normalize"),
    (["train.sign_rule=bop", "model.recurrent=dense"], "needs a recurrent matrix with trainable signs"),
    (["train.sign_rule=frozen", "model.recurrent=lstm"], "needs a recurrent matrix with trainable signs"),
])
def test_bad_sign_rule_is_one_line_error(tmp_path, capsys, sets, message):
    argv = ["train", "--config", "copy-hadamrnn", "--set", "task.seq_len=5", "--set", "model.hidden_size=16",
            "--set", "train.steps=2", "--quiet", "--out", str(tmp_path / "run")]
    for kv in sets:
        argv += ["--set", kv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("qornn: error: ") and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "run").exists()


def test_resume_extends_a_budget_stopped_run_and_refuses_model_keys(tmp_path, capsys):
    base = ["task.seq_len=5", "model.hidden_size=16", "train.batch_size=8", "train.steps=40", "train.eval_every=10",
            "train.checkpoint_every=10", "train.progress=false", "task.val_size=16", "task.test_size=16", "seed=2"]
    full = train(load_config("copy-hadamrnn", base), tmp_path / "full", quiet=True)
    part = tmp_path / "part"
    train(load_config("copy-hadamrnn", base + ["train.steps=20"]), part, quiet=True)
    # a finished run: resuming changes nothing
    before = (part / "metrics.jsonl").read_bytes()
    assert main(["train", "--resume", str(part)]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert (part / "metrics.jsonl").read_bytes() == before
    # keys that change model or data are refused
    assert main(["train", "--resume", str(part), "--set", "model.hidden_size=32"]) == 2
    assert "cannot change when resuming" in capsys.readouterr().err
    # extended to the full length, it ends exactly where the uninterrupted run ends
    assert main(["train", "--resume", str(part), "--set", "train.steps=40", "--quiet"]) == 0
    a, b = load_file(str(tmp_path / "full" / "model.safetensors")), load_file(str(part / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    strip = lambda run: [(r["step"], r["split"], r["loss"]) for r in read_metrics(run) if r["split"] != "train"]  # noqa
    assert strip(part) == strip(tmp_path / "full")
    assert "steps: 40" in (part / "config.yaml").read_text()


def test_authors_copy_layout():
    from qornn.tasks.copy import copy_batch, memoryless_baseline

    x, y = copy_batch(3, 30, n_symbols=4, alphabet=8, generator=torch.Generator().manual_seed(0), layout="authors")
    assert x.shape == y.shape == (3, 30)
    assert (x[:, 26] == 9).all() and (x[:, 27:] == 0).all() and (x[:, 4:26] == 0).all()  # marker at L - K
    assert torch.equal(y[:, 26:], x[:, :4]) and (y[:, :26] == 0).all()  # first symbol due at the marker step
    assert memoryless_baseline(30, 4, 8, "authors") == pytest.approx(4 * torch.log(torch.tensor(8.0)).item() / 30)
    with pytest.raises(ConfigError, match="task.layout"):
        load_config("copy-hadamrnn-authors", ["task.layout=paper"]) and train(
            load_config("copy-hadamrnn-authors", ["task.layout=paper"]), "/nonexistent/x", quiet=True)
