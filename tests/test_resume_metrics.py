"""kill -9 and resume: metrics.jsonl byte for byte as the uninterrupted run's, except wall-clock values.

``time_s`` and ``samples_per_s`` measure the wall clock, so two runs never agree on them; the
comparison masks exactly these two values in the raw text (key order, every other number and
its formatting, line order and count are compared byte for byte).  Masking keeps the code
under test the one users run, where a fake clock would have to reach into the training loop.
"""
from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import textwrap

import pytest

from qornn.config import load_config
from qornn.train import train

# log_every does not divide checkpoint_every: the checkpoints fall between two log lines, so the running
# train-loss average has to survive the kill; bop keeps sign-rule state too.
OVERRIDES = ["task.seq_len=5", "model.hidden_size=16", "train.batch_size=8", "train.steps=30",
             "task.val_size=16", "task.test_size=16", "train.log_every=4", "train.checkpoint_every=6",
             "train.eval_every=6", "train.lr=3e-3", "train.progress=false", "seed=5", "train.sign_rule=bop",
             "train.bop_threshold=1e-7"]
CLOCK = re.compile(r'"(time_s|samples_per_s)": [^,}]+')

KILL = textwrap.dedent("""
    import os, signal, sys
    from qornn import checkpoint
    from qornn.config import load_config
    from qornn.train import train
    mode, at = sys.argv[2], int(sys.argv[3])
    cfg = load_config("copy-hadamrnn", sys.argv[4:])
    real_replace = os.replace
    def replace(src, dst):  # mode "write": die with the checkpoint of step `at` written but not renamed
        if mode == "write" and str(dst).endswith("last.safetensors") and str(at) == os.environ["QORNN_STEP"]:
            os.kill(os.getpid(), signal.SIGKILL)
        return real_replace(src, dst)
    checkpoint.os.replace = replace
    def on_step(step, loss):
        os.environ["QORNN_STEP"] = str(step)
        if mode == "step" and step == at:
            os.kill(os.getpid(), signal.SIGKILL)
    train(cfg, sys.argv[1], on_step=on_step, quiet=True)
""")


def masked(path) -> str:
    return CLOCK.sub(r'"\1": <clock>', path.read_text())


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("full") / "run"
    train(load_config("copy-hadamrnn", OVERRIDES), out, quiet=True)
    return out


@pytest.mark.parametrize("mode,at", [("step", 20), ("write", 12)])
def test_kill_9_then_resume_gives_the_same_metrics(uninterrupted, tmp_path, mode, at):
    killed = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", KILL, str(killed), mode, str(at), *OVERRIDES], capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    temporaries = list((killed / "checkpoints").glob(".*.tmp"))
    assert bool(temporaries) == (mode == "write")  # a kill inside the write leaves its temporary file
    assert not (killed / "summary.json").exists()
    train(None, killed, resume=True, quiet=True)
    assert not list(killed.rglob("*.tmp"))  # removed when the run resumed
    a, b = masked(uninterrupted / "metrics.jsonl"), masked(killed / "metrics.jsonl")
    assert a.count("\n") == b.count("\n") > 10
    assert a == b
    assert '"split": "train"' in a and '"sign_flips"' in a  # training lines and sign-rule counters compared


def test_extended_run_continues_the_metrics(uninterrupted, tmp_path):
    """A run of 18 steps (its last log line off the log_every grid) extended to 30 = the 30-step run."""
    short = tmp_path / "run"
    train(load_config("copy-hadamrnn", OVERRIDES + ["train.steps=18"]), short, quiet=True)
    train(None, short, resume=True, quiet=True, extend=["train.steps=30"])
    assert masked(short / "metrics.jsonl") == masked(uninterrupted / "metrics.jsonl")


def test_written_files_have_plain_permissions(uninterrupted):
    mask = os.umask(0o022)
    os.umask(mask)
    for name in ("config.yaml", "metrics.jsonl", "summary.json", "model.safetensors", "checkpoints/last.safetensors"):
        mode = stat.S_IMODE((uninterrupted / name).stat().st_mode)
        assert mode == 0o666 & ~mask, (name, oct(mode))
