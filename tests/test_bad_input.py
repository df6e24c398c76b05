"""Bad input, every command: exit code 2, one line ``qornn: error: ...``, no traceback, nothing created or deleted.

Each case runs ``qornn.cli.main.main`` in-process inside a fresh workspace holding a copy of a tiny
trained run (``run/``) and whatever files the case writes; afterwards every file of the workspace
(run folder included) must be byte for byte what it was, except the pid in a run's ``.qornn-lock``.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from safetensors.torch import save_file

from qornn import checkpoint, memory
from qornn.cli.main import main
from qornn.lock import LOCK

TINY = ["--set", "task.seq_len=5", "--set", "model.hidden_size=16", "--set", "train.steps=4", "--set",
        "train.batch_size=8", "--set", "task.val_size=16", "--set", "task.test_size=16", "--set",
        "train.checkpoint_every=2", "--set", "train.progress=false"]
NEW = ["train", "--config", "copy-hadamrnn", *TINY, "--quiet", "--out", "{ws}/new"]


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("base") / "run"
    assert main(["train", "--config", "copy-hadamrnn", *TINY, "--quiet", "--out", str(out)]) == 0
    return out


# ---- files the cases write ------------------------------------------------------------------------
def write(rel: str, data: bytes | str) -> Callable[[Path], None]:
    def setup(ws: Path) -> None:
        path = ws / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    return setup


def npz(rel: str, nan: bool = False, one_class: bool = False, damage: bool = False) -> Callable[[Path], None]:
    def setup(ws: Path) -> None:
        rng = np.random.default_rng(0)
        x = rng.normal(size=(160, 12, 3))
        if nan:
            x[3, 4, 1] = np.nan
        y = np.zeros(160, np.int64) if one_class else rng.integers(0, 3, 160)
        path = ws / rel
        np.savez(path, X_train=x, y_train=y, X_test=x[:40], y_test=y[:40])
        if damage:  # flip one byte inside X_train's data: the zip member's CRC-32 no longer matches
            data = bytearray(path.read_bytes())
            data[20000] ^= 0xFF
            path.write_bytes(bytes(data))
    return setup


def edit_config(old: str, new: str) -> Callable[[Path], None]:
    def setup(ws: Path) -> None:
        path = ws / "run" / "config.yaml"
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new, 1))
    return setup


def flip_byte(rel: str, from_end: int = 9) -> Callable[[Path], None]:
    def setup(ws: Path) -> None:
        path = ws / rel
        data = bytearray(path.read_bytes())
        data[len(data) - from_end] ^= 0x01
        path.write_bytes(bytes(data))
    return setup


def resave(rel: str, edit: Callable[[dict, dict], None]) -> Callable[[Path], None]:
    """Rewrite a qornn safetensors file after ``edit(tensors, metadata)``, with a valid checksum again."""
    def setup(ws: Path) -> None:
        path = ws / rel
        tensors, meta = checkpoint.read_tensors(path)
        tensors, meta = dict(tensors), dict(meta)
        edit(tensors, meta)
        meta.pop("sha256", None)
        meta["sha256"] = checkpoint.digest(tensors, meta)
        save_file(tensors, str(path), metadata=meta)
    return setup


def unfinish(ws: Path) -> None:
    """The run looks interrupted: resume would continue it (and read metrics.jsonl)."""
    (ws / "run" / "summary.json").unlink()


def both(*setups):
    def setup(ws: Path) -> None:
        for s in setups:
            s(ws)
    return setup


def nan_model(tensors, meta):
    for k in tensors:
        if tensors[k].is_floating_point():
            tensors[k] = tensors[k] * float("nan")


def wrong_optimizer_shape(tensors, meta):
    key = next(k for k in sorted(tensors) if k.startswith("optim/") and tensors[k].dim() == 2)
    tensors[key] = tensors[key][:, :1].contiguous()


LAST = "run/checkpoints/last.safetensors"
MODEL = "run/model.safetensors"
MNIST_BAD = b"\x01\x02\x03\x04" + bytes(60)
QQP_HEADER = "question1\tquestion2\tis_duplicate\n"


@dataclass
class Case:
    id: str
    argv: list[str]
    needle: str
    setup: Callable[[Path], None] | None = None


def train(*sets: str) -> list[str]:
    return NEW + [a for s in sets for a in ("--set", s)]


def data_task(task: str, *sets: str) -> list[str]:
    return train(f"task.name={task}", "task.data_dir={ws}/data", *sets)


CASES = [
    # -- training configuration: types and ranges, checked before the run folder exists
    Case("lr-inf", train("train.lr=inf"), "train.lr=inf"),
    Case("lr-nan", train("train.lr=nan"), "train.lr=nan"),
    Case("lr-negative", train("train.lr=-1"), "train.lr=-1"),
    Case("lr-zero", train("train.lr=0"), "train.lr=0"),
    Case("grad-clip-nan", train("train.grad_clip=nan"), "train.grad_clip=nan"),
    Case("grad-clip-zero", train("train.grad_clip=0"), "train.grad_clip=0"),
    Case("lr-gamma-negative", train("train.lr_gamma=-2"), "train.lr_gamma=-2"),
    Case("lr-gamma-nan", train("train.lr_gamma=nan"), "train.lr_gamma=nan"),
    Case("lr-step-epochs-negative", train("train.lr_step_epochs=-1"), "train.lr_step_epochs=-1"),
    Case("budget-negative", train("train.budget_minutes=-1"), "train.budget_minutes=-1"),
    Case("budget-zero", train("train.budget_minutes=0"), "train.budget_minutes=0"),
    Case("weight-decay-negative", train("train.weight_decay=-0.1"), "train.weight_decay=-0.1"),
    Case("threads-negative", train("train.threads=-1"), "train.threads=-1"),
    Case("threads-zero", train("train.threads=0"), "train.threads=0"),
    Case("batch-size-zero", train("train.batch_size=0"), "train.batch_size=0"),
    Case("steps-zero", train("train.steps=0"), "train.steps=0"),
    Case("epochs-zero", train("train.steps=null", "train.epochs=0"), "train.epochs=0"),
    Case("eval-every-zero", train("train.eval_every=0"), "train.eval_every=0"),
    Case("log-every-negative", train("train.log_every=-5"), "train.log_every=-5"),
    Case("eval-batch-zero", train("train.eval_batch_size=0"), "train.eval_batch_size=0"),
    Case("recurrent-lr-scale-negative", train("train.recurrent_lr_scale=-1"), "train.recurrent_lr_scale=-1"),
    Case("bop-gamma-two", train("train.bop_gamma=2"), "train.bop_gamma=2"),
    Case("optimizer-unknown", train("train.optimizer=adamz"), "train.optimizer='adamz'"),
    Case("schedule-unknown", train("train.schedule=weird"), "train.schedule='weird'"),
    Case("seed-negative", train("seed=-1"), "seed=-1"),
    Case("max-len-zero", train("task.max_len=0"), "task.max_len=0"),
    Case("seq-len-zero", train("task.seq_len=0"), "task.seq_len=0"),
    Case("val-fraction-above-one", train("task.val_fraction=1.5"), "task.val_fraction=1.5"),
    Case("hidden-size-zero", train("model.hidden_size=0"), "model.hidden_size=0"),
    Case("hidden-size-not-power-of-two", train("model.hidden_size=100"), "hidden_size=100"),
    Case("embedding-dim-negative", train("model.embedding_dim=-3"), "model.embedding_dim=-3"),
    Case("weight-bits-nine", train("model.weight_bits=9"), "model.weight_bits=9"),
    Case("block-size-zero", train("model.recurrent=block-hadamard", "model.block_size=0"), "model.block_size=0"),
    Case("ortho-penalty-negative", train("model.ortho_penalty=-1"), "model.ortho_penalty=-1"),
    Case("rescale-unknown", train("model.recurrent=bjorck", "model.recurrent_bits=4", "model.recurrent_rescale=norm"),
         "model.recurrent_rescale='norm'"),
    Case("rescale-without-k-bit-w", train("model.recurrent=bjorck", "model.recurrent_rescale=radius"),
         "model.recurrent_rescale='radius' needs"),
    Case("bjorck-beta-above-one", train("model.bjorck_beta=1.5"), "model.bjorck_beta=1.5"),
    Case("recurrent-unknown", train("model.recurrent=foo"), "model.recurrent='foo'"),
    Case("unknown-key", train("model.hidden=3"), "unknown config key"),
    Case("set-without-equals", NEW + ["--set", "model.hidden_size"], "key=value"),
    Case("hidden-size-not-int", train("model.hidden_size=abc"), "model.hidden_size"),
    Case("memory-estimate-too-large", train("task.seq_len=1000000000"), "GiB of memory"),
    # -- configuration files and presets
    Case("config-binary-garbage", ["train", "--config", "{ws}/bad.yaml", "--out", "{ws}/new"], "not a UTF-8",
         write("bad.yaml", bytes(range(128, 256)))),
    Case("config-not-a-mapping", ["train", "--config", "{ws}/list.yaml", "--out", "{ws}/new"], "mapping",
         write("list.yaml", "- 1\n- 2\n")),
    Case("config-invalid-yaml", ["train", "--config", "{ws}/bad.yaml", "--out", "{ws}/new"], "not valid YAML",
         write("bad.yaml", "model: {hidden_size: [\n")),
    Case("config-missing", ["train", "--config", "{ws}/none.yaml", "--out", "{ws}/new"], "does not exist"),
    Case("config-is-a-folder", ["train", "--config", "{ws}/run/", "--out", "{ws}/new"], "is a folder"),
    Case("preset-unknown", ["train", "--config", "nope", "--out", "{ws}/new"], "unknown preset"),
    # -- output folders
    Case("out-is-a-file", NEW[:-1] + ["{ws}/file"], "is a file", write("file", "x")),
    Case("out-in-proc", NEW[:-1] + ["/proc/qornn-x"], "/proc/qornn-x"),
    Case("out-holds-files", NEW[:-1] + ["{ws}/mine"], "already holds files", write("mine/notes.txt", "x")),
    Case("overwrite-foreign-folder", NEW[:-1] + ["{ws}/model", "--overwrite"], "refuses to delete",
         write("model/config.yaml", "mine")),
    Case("overwrite-current-folder", NEW[:-1] + [".", "--overwrite"], "refuses to delete"),
    Case("overwrite-symlink-to-run", NEW[:-1] + ["{ws}/link", "--overwrite"], "symbolic link",
         lambda ws: (ws / "link").symlink_to(ws / "run")),
    Case("overwrite-parent-folder", NEW[:-1] + ["{ws}/..", "--overwrite"], "refuses to delete"),
    Case("no-config", ["train", "--out", "{ws}/new"], "--config is required"),
    Case("resume-with-config", ["train", "--resume", "{ws}/run", "--config", "copy-hadamrnn"], "--resume DIR"),
    Case("seeds-zero", NEW + ["--seeds", "0"], "--seeds 0"),
    # -- data sets
    Case("npz-missing", train("task.name=npz", "task.path={ws}/none.npz"), "file not found"),
    Case("npz-bad-crc", train("task.name=npz", "task.path={ws}/d.npz"), "corrupted", npz("d.npz", damage=True)),
    Case("npz-nan", train("task.name=npz", "task.path={ws}/d.npz"), "NaN", npz("d.npz", nan=True)),
    Case("npz-one-class", train("task.name=npz", "task.path={ws}/d.npz"), "single class", npz("d.npz", one_class=True)),
    Case("sst2-not-utf8", data_task("sst2"), "not UTF-8",
         both(write("data/SST-2/train.tsv", b"sentence\tlabel\ngood \xff\xfe film\t1\n"),
              write("data/SST-2/dev.tsv", "sentence\tlabel\nbad\t0\n"))),
    Case("qqp-not-utf8", data_task("qqp"), "not UTF-8",
         both(write("data/QQP/train.tsv", QQP_HEADER.encode() + b"a \xff\tb\t1\n"),
              write("data/QQP/dev.tsv", QQP_HEADER + "a\tb\t0\n"))),
    Case("imdb-one-class", data_task("imdb"), "both labels",
         both(write("data/imdb/train.csv", "text,label\ngood film,1\ngreat film,1\n"),
              write("data/imdb/test.csv", "text,label\nbad,0\ngood,1\n"))),
    Case("imdb-bad-label", data_task("imdb"), "label 'maybe'",
         both(write("data/imdb/train.csv", "text,label\ngood film,maybe\n"),
              write("data/imdb/test.csv", "text,label\nbad,0\n"))),
    Case("mnist-bad-magic", data_task("pmnist"), "bad IDX magic",
         both(*(write(f"data/MNIST/raw/{n}", MNIST_BAD) for n in (
             "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")))),
    Case("har-txt-not-utf8", data_task("har"), "not UTF-8",
         write("data/UCI HAR Dataset/train/Inertial Signals/body_acc_x_train.txt", b"1.0 \xff 2.0\n")),
    # -- resuming
    Case("resume-missing-folder", ["train", "--resume", "{ws}/none"], "does not exist"),
    Case("resume-not-a-run", ["train", "--resume", "{ws}/mine"], "holds no qornn run", write("mine/a.txt", "x")),
    Case("resume-set-model-key", ["train", "--resume", "{ws}/run", "--set", "model.hidden_size=32"],
         "cannot change when resuming"),
    Case("resume-flipped-checkpoint", ["train", "--resume", "{ws}/run"], "checksum mismatch", flip_byte(LAST)),
    Case("resume-truncated-checkpoint", ["train", "--resume", "{ws}/run"], "corrupted",
         lambda ws: (ws / LAST).write_bytes((ws / LAST).read_bytes()[:300])),
    Case("resume-metadata-key-missing", ["train", "--resume", "{ws}/run"], "missing key 'step'",
         resave(LAST, lambda t, m: m.pop("step"))),
    Case("resume-truncated-rng", ["train", "--resume", "{ws}/run"], "RNG state",
         resave(LAST, lambda t, m: t.update({"rng/torch": t["rng/torch"][:100].clone()}))),
    Case("resume-optimizer-wrong-shape", ["train", "--resume", "{ws}/run"], "has shape",
         resave(LAST, wrong_optimizer_shape)),
    Case("resume-edited-config", ["train", "--resume", "{ws}/run"], "train.batch_size",
         edit_config("batch_size: 8", "batch_size: 9")),
    Case("resume-metrics-not-utf8", ["train", "--resume", "{ws}/run"], "metrics.jsonl: not UTF-8",
         both(unfinish, write("run/metrics.jsonl", b'{"step": 2, "split": "tr\xffain"}\n'))),
    Case("resume-metrics-wrong-type", ["train", "--resume", "{ws}/run"], "expected a JSON object",
         both(unfinish, write("run/metrics.jsonl", "[1, 2]\n{}\n"))),
    Case("resume-metrics-missing-key", ["train", "--resume", "{ws}/run"], "missing key 'split'",
         both(unfinish, write("run/metrics.jsonl", '{"step": 2}\n'))),
    Case("resume-summary-missing-keys", ["train", "--resume", "{ws}/run"], "missing key",
         write("run/summary.json", '{"steps": 4}')),
    # -- eval / info / quantize on damaged or edited runs
    Case("eval-flipped-model", ["eval", "{ws}/run"], "checksum mismatch", flip_byte(MODEL)),
    Case("eval-bits-edited", ["eval", "{ws}/run"], "model.weight_bits",
         edit_config("weight_bits: 4", "weight_bits: 2")),
    Case("eval-scheme-edited", ["eval", "{ws}/run"], "model.recurrent",
         edit_config("recurrent: hadamard", "recurrent: block-hadamard")),
    Case("eval-nonlinearity-edited", ["eval", "{ws}/run"], "model.nonlinearity",
         edit_config("nonlinearity: relu", "nonlinearity: tanh")),
    Case("eval-nan-model", ["eval", "{ws}/run"], "NaN", resave(MODEL, nan_model)),
    Case("eval-no-checksum", ["eval", "{ws}/run"], "no checksum", lambda ws: _strip_checksum(ws / MODEL)),
    Case("eval-not-safetensors", ["eval", "{ws}/run"], "corrupted", write("run/model.safetensors", "hello")),
    Case("eval-config-garbage", ["eval", "{ws}/run"], "not a UTF-8", write("run/config.yaml", b"\xff\xfe\x00")),
    Case("eval-split-train", ["eval", "{ws}/run", "--split", "train"], "--split 'train'"),
    Case("eval-batch-size-zero", ["eval", "{ws}/run", "--batch-size", "0"], "--batch-size 0"),
    Case("eval-batch-size-text", ["eval", "{ws}/run", "--batch-size", "x"], "invalid int value"),
    Case("eval-missing-folder", ["eval", "{ws}/none"], "does not exist"),
    Case("info-flipped-model", ["info", "{ws}/run"], "checksum mismatch", flip_byte(MODEL, 40)),
    Case("info-edited-config", ["info", "{ws}/run"], "model.hidden_size",
         edit_config("hidden_size: 16", "hidden_size: 32")),
    Case("quantize-edited-config", ["quantize", "{ws}/run", "--input-bits", "2", "--out", "{ws}/q"],
         "no longer matches", edit_config("weight_bits: 4", "weight_bits: 3")),
    Case("quantize-out-is-a-file", ["quantize", "{ws}/run", "--input-bits", "2", "--out", "{ws}/file"],
         "is a file", write("file", "x")),
    Case("quantize-bits-nine", ["quantize", "{ws}/run", "--input-bits", "9", "--out", "{ws}/q"], "input_bits=9"),
    Case("quantize-source-summary-bad", ["quantize", "{ws}/run", "--input-bits", "2", "--out", "{ws}/q"],
         "summary.json", write("run/summary.json", '{"steps": "four"}')),
    # -- report
    Case("report-summary-missing-keys", ["report", "{ws}/run", "--out", "{ws}/rep"], "missing key 'total_bits'",
         write("run/summary.json", '{"steps": 4, "test": {"loss": 1.0}}')),
    Case("report-summary-not-utf8", ["report", "{ws}/run", "--out", "{ws}/rep"], "not UTF-8",
         write("run/summary.json", b'{"steps": \xff}')),
    Case("report-summary-nan", ["report", "{ws}/run", "--out", "{ws}/rep"], "not valid JSON",
         write("run/summary.json", '{"steps": 4, "total_bits": NaN, "test": {}}')),
    Case("report-metrics-wrong-type", ["report", "{ws}/run", "--out", "{ws}/rep"], "key 'step' is str",
         write("run/metrics.jsonl", '{"step": "2", "split": "val"}\n')),
    Case("report-out-is-a-file", ["report", "{ws}/run", "--out", "{ws}/file"], "is a file", write("file", "x")),
    Case("report-out-in-proc", ["report", "{ws}/run", "--out", "/proc/qornn-x"], "/proc/qornn-x"),
    Case("report-edited-config", ["report", "{ws}/run", "--out", "{ws}/rep"], "no longer matches",
         edit_config("seq_len: 5", "seq_len: 6")),
    # -- other commands
    Case("data-download-unknown", ["data", "download", "cifar", "--data-dir", "{ws}/data"], "cannot download"),
    Case("bench-lr-inf", ["bench", "--config", "copy-hadamrnn", "--set", "train.lr=inf"], "train.lr=inf"),
    Case("bound-widths-zero", ["bound", "holder", "--widths", "0,3"], "--widths"),
    Case("unknown-command", ["frobnicate"], "invalid choice"),
]


def _strip_checksum(path: Path) -> None:
    tensors, meta = checkpoint.read_tensors(path)
    meta = {k: v for k, v in meta.items() if k != "sha256"}
    save_file(dict(tensors), str(path), metadata=meta)


def snapshot(ws: Path) -> dict[str, str]:
    """Every path under ``ws`` → SHA-256 of its bytes ("dir" for folders); lock files count by name only."""
    out = {}
    for p in sorted(ws.rglob("*")):
        rel = str(p.relative_to(ws))
        if p.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = "lock" if p.name == LOCK else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def fill(argv: list[str], ws: Path) -> list[str]:
    return [a.replace("{ws}", str(ws)) for a in argv]


def test_enough_cases():
    assert len(CASES) >= 60 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_and_touches_nothing(case, base_run, tmp_path, monkeypatch, capsys):
    ws = tmp_path / "ws"
    ws.mkdir()
    shutil.copytree(base_run, ws / "run")
    if case.setup is not None:
        case.setup(ws)
    monkeypatch.chdir(ws)
    before = snapshot(ws)
    code = main(fill(case.argv, ws))
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert err.startswith("qornn: error: ") and err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err and out == ""
    assert case.needle in err, err
    assert snapshot(ws) == before


# ---- cases that need a held lock, an immutable folder or a subprocess ------------------------------
def test_second_writer_of_a_run_folder_is_refused(base_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(base_run, run)
    (run / "summary.json").unlink()
    before = snapshot(tmp_path)
    hold = ("import sys, time; from qornn.lock import RunLock; lock = RunLock(sys.argv[1]).acquire(); "
            "print('held', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", hold, str(run)], stdout=subprocess.PIPE, text=True)
    try:  # another process holds the folder, as a running `qornn train` does
        assert holder.stdout.readline().strip() == "held"
        for argv in (["train", "--resume", str(run)], NEW[:-1] + [str(run), "--overwrite"]):
            assert main(argv) == 2
            err = capsys.readouterr().err
            assert err.startswith("qornn: error: ") and err.count("\n") == 1, err
            assert f"in use by another qornn process (pid {holder.pid})" in err
    finally:
        holder.kill()
        holder.wait()
    assert snapshot(tmp_path) == before
    assert main(["train", "--resume", str(run), "--quiet"]) == 0  # the lock died with its process


def test_immutable_folder_as_out(base_run, tmp_path, capsys):
    frozen = tmp_path / "frozen"
    frozen.mkdir()
    if subprocess.run(["chattr", "+i", str(frozen)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here (needs CAP_LINUX_IMMUTABLE)")
    try:
        for argv in (NEW[:-1] + [str(frozen / "run")], ["report", str(base_run), "--out", str(frozen / "rep")]):
            assert main(argv) == 2
            err = capsys.readouterr().err
            assert err.startswith("qornn: error: ") and err.count("\n") == 1 and str(frozen) in err, err
        assert list(frozen.iterdir()) == []
    finally:
        subprocess.run(["chattr", "-i", str(frozen)], check=True)


def test_memory_estimate_refuses_and_can_be_overridden(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(memory, "available_bytes", lambda: 1000)  # a machine with 1000 bytes free
    argv = fill(train(), tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "GiB of memory" in err and "train.memory_check=false" in err and not (tmp_path / "new").exists()
    assert main(argv + ["--set", "train.memory_check=false"]) == 0
    assert (tmp_path / "new" / "summary.json").is_file()


def test_full_stdout_and_closed_pipe(base_run):
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "qornn.cli.main", "eval", str(base_run)], stdout=full,
                              stderr=subprocess.PIPE)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.count("\n") == 1 and "standard output" in err and "Traceback" not in err
    proc = subprocess.Popen([sys.executable, "-m", "qornn.cli.main", "presets"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # `qornn presets | head -0`
    err = proc.stderr.read().decode()
    assert proc.wait() == 141 and err == ""


def test_diverged_run_says_how_to_rerun_and_overwrite_works(tmp_path, capsys):
    argv = fill(train("train.lr=1e30", "train.steps=30", "model.weight_bits=null"), tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "diverged" in err and "--overwrite" in err
    rows = [json.loads(line) for line in (tmp_path / "new" / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["diverged"] and rows[-1]["loss"] is None and "loss" in rows[-1]["non_finite"]
    assert main(fill(train(), tmp_path) + ["--overwrite"]) == 0


def test_non_finite_eval_prints_null_and_says_why(base_run, tmp_path, capsys, monkeypatch):
    import qornn.evaluation as training

    monkeypatch.setattr(training, "evaluate", lambda *a, **k: {"split": "test", "loss": float("nan")})
    assert main(["eval", str(base_run)]) == 0
    data = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"{c} in JSON output"))
    assert data["loss"] is None and data["non_finite"] == {"loss": "nan"}
