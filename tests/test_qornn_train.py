"""QORNN end to end: every recurrent scheme trains the copy task, resume is exact, PTQ, CLI, presets."""
import json

import pytest
import torch
from safetensors.torch import load_file

from qornn.cli.main import main
from qornn.config import list_presets, load_config
from qornn.model import build_model
from qornn.quant import quantize
from qornn.run import load_trained, read_metrics
from qornn.tasks import build_task
from qornn.train import train

SHORT = ["task.seq_len=20", "model.hidden_size=32", "train.batch_size=64", "train.lr=3e-3", "train.progress=false",
         "train.schedule=constant", "train.eval_every=100000", "model.weight_bits=null", "seed=0",
         "task.val_size=200", "task.test_size=500", "train.sign_rule=ste"]  # the preset freezes signs
ORNN = ["model.nonlinearity=relu", "model.linear_recurrence=true"]


def copy_cfg(recurrent, *overrides):
    return load_config("copy-hadamrnn", SHORT + ORNN + [f"model.recurrent={recurrent}", *overrides])


@pytest.mark.parametrize("recurrent,overrides", [
    ("expm", []),
    ("cayley", []),
    ("bjorck", []),
    ("projunn-d", []),
    ("projunn-t", ["model.projunn_rank=2", "model.projunn_sampler=svd", "train.steps=250"]),
    # QAT (k-bit W and U) needs a few more steps
    ("bjorck", ["model.recurrent_bits=5", "model.input_bits=5"]),                      # STE-Björck
    ("projunn-d", ["model.recurrent_bits=5", "model.input_bits=5", "train.steps=250"]),  # STE-projUNN-D
    ("projunn-t", ["model.recurrent_bits=6", "model.input_bits=6", "train.steps=250"]),  # STE-projUNN-T
    ("dense", ["model.recurrent_bits=5", "model.input_bits=5", "model.ortho_penalty=0.01", "train.steps=250"]),
    ("bjorck", ["model.recurrent_bits=6", "model.nonlinearity=modrelu", "model.linear_recurrence=false"]),
])
def test_every_scheme_trains_a_short_copy_task_below_the_memoryless_baseline(tmp_path, recurrent, overrides):
    cfg = copy_cfg(recurrent, "train.steps=150", *overrides)  # penalty QAT: the λ‖QᵀQ − I‖² row
    summary = train(cfg, tmp_path / "run", quiet=True)
    test = summary["test"]
    assert test["loss"] < 0.85 * test["baseline"], test
    if cfg.model.recurrent_bits:
        _, _, model = load_trained(tmp_path / "run")
        assert torch.unique(model.rnn.weight_hh_l0).numel() <= 2 ** cfg.model.recurrent_bits


@pytest.mark.parametrize("cell,steps", [("gru", 300), ("lstm", 800)])
def test_gated_baselines_train_a_short_copy_task_below_the_memoryless_baseline(tmp_path, cell, steps):
    cfg = load_config("copy-hadamrnn", SHORT + [f"model.recurrent={cell}", "task.n_symbols=3", "train.lr=1e-2",
                                                "train.batch_size=32", f"train.steps={steps}", "seed=2"])
    test = train(cfg, tmp_path / "run", quiet=True)["test"]
    assert test["loss"] < 0.95 * test["baseline"], test


class Interrupt(Exception):
    pass


def _stop_at(n):
    def on_step(step, loss):
        if step == n:
            raise Interrupt
    return on_step


@pytest.mark.parametrize("recurrent,overrides", [
    ("bjorck", ["model.recurrent_bits=4"]),        # power-iteration vectors
    ("projunn-t", ["model.recurrent_bits=4"]),     # anchor + LSI random directions
    ("expm", []),                                  # orthogonal base
    ("lstm", ["model.recurrent_bits=4"]),
])
def test_resume_is_exact(tmp_path, recurrent, overrides):
    over = ["task.seq_len=8", "model.hidden_size=16", "task.val_size=32", "task.test_size=32",
            "train.batch_size=8", "train.steps=12",
            "train.checkpoint_every=4", "train.log_every=2", "train.eval_every=4", *overrides]
    cfg = copy_cfg(recurrent, *over)
    train(cfg, tmp_path / "full", quiet=True)
    with pytest.raises(Interrupt):
        train(cfg, tmp_path / "cut", quiet=True, on_step=_stop_at(10))  # last checkpoint at step 8
    train(None, tmp_path / "cut", resume=True, quiet=True)
    a = load_file(str(tmp_path / "full" / "model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    strip = lambda rows: [(r["step"], r["split"], r["loss"]) for r in rows]  # noqa: E731
    assert strip(read_metrics(tmp_path / "cut")) == strip(read_metrics(tmp_path / "full"))


# ---- PTQ ------------------------------------------------------------------------------------------
def _effective(model):
    return {"W": model.rnn.weight_hh_l0.detach(), "U": model.rnn.weight_ih_l0.detach(),
            "V": model.output.weight.detach()}


@pytest.mark.parametrize("recurrent", ["bjorck", "projunn-d"])
def test_ptq_changes_only_the_quantized_matrices(tmp_path, capsys, recurrent):
    cfg = copy_cfg(recurrent, "train.steps=40", "model.nonlinearity=modrelu", "model.linear_recurrence=false")
    train(cfg, tmp_path / "fp", quiet=True)
    assert main(["quantize", str(tmp_path / "fp"), "--recurrent-bits", "4", "--input-bits", "3",
                 "--out", str(tmp_path / "ptq")]) == 0
    assert "PTQ" in capsys.readouterr().out
    _, _, fp = load_trained(tmp_path / "fp")
    qcfg, _, q = load_trained(tmp_path / "ptq")
    assert (qcfg.model.recurrent_bits, qcfg.model.input_bits, qcfg.model.output_bits) == (4, 3, None)
    before, after = _effective(fp), _effective(q)
    torch.testing.assert_close(after["W"], quantize(before["W"], 4), rtol=0, atol=0)
    torch.testing.assert_close(after["U"], quantize(before["U"], 3), rtol=0, atol=0)
    assert torch.equal(after["V"], before["V"])
    assert not torch.equal(after["W"], before["W"]) and not torch.equal(after["U"], before["U"])
    # every stored tensor (latents, biases, modReLU bias, power-iteration vectors, anchors) is unchanged
    sfp, sq = fp.state_dict(), q.state_dict()
    renamed = {"rnn.parametrizations.weight_ih_l0.original": "rnn.weight_ih_l0"}
    for key, value in sq.items():
        source = sfp[key] if key in sfp else sfp[renamed[key]]
        assert torch.equal(value, source), key
    assert len(sq) == len(sfp) and "rnn.weight_ih_l0" in sfp
    # a complete run folder: eval and info accept it, and the summary records the source
    assert main(["eval", str(tmp_path / "ptq")]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    summary = json.loads((tmp_path / "ptq" / "summary.json").read_text())
    assert evaluated["loss"] == pytest.approx(summary["test"]["loss"])
    assert summary["ptq"]["source"] == str(tmp_path / "fp")
    assert summary["total_bits"] < summary["ptq"]["source_total_bits"]
    source = json.loads((tmp_path / "fp" / "summary.json").read_text())
    assert (summary["steps"], summary["total_steps"], summary["stopped_early"]) == (
        source["steps"], source["total_steps"], source["stopped_early"])
    assert summary["commands"][0].startswith("qornn quantize " + str(tmp_path / "fp"))
    assert main(["info", str(tmp_path / "ptq"), "--json"]) == 0
    w = json.loads(capsys.readouterr().out)["weights"]["rnn.weight_hh_l0"]
    assert w["quantized_bits"] == 4 and w["distinct_values"] <= 16
    assert w["step"] == pytest.approx(w["alpha"] / 8) and w["bits"] == 32 * 32 * 4 + 32
    assert w["orthogonality_error"] > 1e-3 and 0 < w["sigma_min"] < 1 < w["sigma_max"]
    # the same PTQ with --recurrent-rescale radius: the same codes on a smaller step, spectral radius 1
    assert main(["quantize", str(tmp_path / "fp"), "--recurrent-bits", "3", "--recurrent-rescale", "radius",
                 "--out", str(tmp_path / "ptq-radius"), "--quiet", "--no-eval"]) == 0
    rcfg, _, r = load_trained(tmp_path / "ptq-radius")
    assert (rcfg.model.recurrent_bits, rcfg.model.recurrent_rescale) == (3, "radius")
    plain = quantize(before["W"], 3).double()
    rho = float(torch.linalg.eigvals(plain).abs().max())
    assert rho > 1.0
    torch.testing.assert_close(_effective(r)["W"].double(), plain / rho, rtol=1e-5, atol=1e-8)


def test_ptq_of_a_run_its_budget_stopped_is_marked_as_stopped(tmp_path, capsys):
    train(copy_cfg("bjorck", "train.steps=500", "train.budget_minutes=1e-6"), tmp_path / "cut", quiet=True)
    source = json.loads((tmp_path / "cut" / "summary.json").read_text())
    assert source["stopped_early"] and source["steps"] < 500
    assert main(["quantize", str(tmp_path / "cut"), "--recurrent-bits", "5", "--out", str(tmp_path / "q"),
                 "--quiet", "--no-eval"]) == 0
    summary = json.loads((tmp_path / "q" / "summary.json").read_text())
    assert (summary["steps"], summary["total_steps"], summary["stopped_early"]) == (source["steps"], 500, True)


def test_ptq_refuses_bad_requests_with_one_line(tmp_path, capsys):
    train(load_config("copy-hadamrnn", SHORT + ["train.steps=2"]), tmp_path / "hadam", quiet=True)
    cases = [
        (["quantize", str(tmp_path / "hadam"), "--recurrent-bits", "4", "--out", str(tmp_path / "a")],
         "already binary"),
        (["quantize", str(tmp_path / "hadam"), "--out", str(tmp_path / "b")], "give at least one"),
        (["quantize", str(tmp_path / "missing"), "--input-bits", "4", "--out", str(tmp_path / "c")], "does not exist"),
        (["quantize", str(tmp_path / "hadam"), "--input-bits", "9", "--out", str(tmp_path / "d")], "input_bits=9"),
        (["quantize", str(tmp_path / "hadam"), "--input-bits", "2", "--out", str(tmp_path / "hadam")], "source run"),
        (["quantize", str(tmp_path / "hadam"), "--recurrent-rescale", "radius", "--out", str(tmp_path / "e")],
         "needs a k-bit W"),
    ]
    for argv, needle in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("qornn: error:") and needle in err and err.count("\n") == 1, err
        assert "Traceback" not in err
    assert main(["quantize", str(tmp_path / "hadam"), "--input-bits", "2", "--output-bits", "fp",
                 "--out", str(tmp_path / "ok"), "--quiet", "--no-eval"]) == 0
    cfg, _, model = load_trained(tmp_path / "ok")
    assert cfg.model.input_bits == 2 and cfg.model.output_bits is None
    assert torch.unique(model.rnn.weight_ih_l0).numel() <= 4


def test_cli_train_and_info_for_a_k_bit_run(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--config", "copy-qornn-projunn-k5", "--out", str(out), "--quiet"]
    for item in ["task.seq_len=5", "model.hidden_size=16", "train.steps=3", "train.epochs=null",
                 "train.batch_size=4", "task.val_size=8", "task.test_size=8"]:
        argv += ["--set", item]
    assert main(argv) == 0
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "projunn-t" in text and "α" in text and "σ_min" in text
    assert main(["train", "--config", "copy-hadamrnn", "--set", "model.recurrent_bits=3",
                 "--out", str(tmp_path / "bad")]) == 2
    assert "already binary" in capsys.readouterr().err


def test_qornn_presets_load_and_copy_presets_build():
    expected = {f"copy-qornn-{m}-k{k}" for m in ("bjorck", "projunn") for k in (5, 6, 8)}
    expected |= {f"{t}-qornn-bjorck-k{k}" for t in ("pmnist", "smnist") for k in (3, 4, 5, 6, 8)}
    expected |= {"copy-qornn-fp-projunn", "pmnist-qornn-fp-projunn"}
    assert expected <= set(list_presets())
    for name in sorted(expected):
        cfg = load_config(name)
        assert cfg.model.output_bits is None and cfg.model.nonlinearity == "modrelu"
        if name.startswith("copy-"):
            assert cfg.model.hidden_size == 256 and cfg.task.seq_len == 1000
            small = load_config(name, ["model.hidden_size=8"])
            task = build_task(small)
            model = build_model(small.model, task.info)
            k = cfg.model.recurrent_bits
            if k is not None:
                assert k == int(name[-1]) and torch.unique(model.rnn.weight_hh_l0).numel() <= 2 ** k
