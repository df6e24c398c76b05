"""Several `qornn sweep` worker processes on one SQLite study: concurrency and a killed worker."""
from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from qornn.cli.main import main

pytestmark = pytest.mark.skipif(importlib.util.find_spec("optuna") is None,
                                reason='optuna is not installed (pip install "qornn[sweep]")')

SETS = ["task.seq_len=5", "model.hidden_size=16", "task.n_symbols=2", "task.train_size=64", "task.val_size=32",
        "task.test_size=32", "train.batch_size=16", "train.eval_every=20", "train.log_every=10",
        "train.schedule=constant", "train.threads=1"]


def sweep_args(steps: int, trials: int, study: str) -> list[str]:
    return ["sweep", "--config", "copy-hadamrnn", *[a for s in SETS for a in ("--set", s)],
            "--set", f"train.steps={steps}", "--param", "train.lr=loguniform(1e-3,1e-1)",
            "--param", "model.weight_bits=choice(2,4,null)", "--trials", str(trials),
            "--storage", "sqlite:///sweep.db", "--study", study, "--out", "sw", "--heartbeat", "1"]


def start_worker(argv: list[str], cwd) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", "import sys; from qornn.cli.main import main; "
                             "sys.exit(main(sys.argv[1:]))", *argv], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def load(tmp_path, study: str):
    import optuna

    return optuna.load_study(study_name=study, storage=f"sqlite:///{tmp_path / 'sweep.db'}")


def test_two_concurrent_workers_share_one_study(tmp_path, capsys):
    workers = [start_worker(sweep_args(100, 4, "two"), tmp_path) for _ in range(2)]
    outputs = [w.communicate(timeout=240) for w in workers]
    for w, (out, err) in zip(workers, outputs):
        assert w.returncode == 0, err
    trials = load(tmp_path, "two").get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE"] * 4 and [t.number for t in trials] == [0, 1, 2, 3]
    ran = [{int(ln.split(":")[0][6:]) for ln in out.splitlines() if ln.startswith("trial ")} for out, _ in outputs]
    assert ran[0] and ran[1] and ran[0].isdisjoint(ran[1]) and ran[0] | ran[1] == {0, 1, 2, 3}  # both worked
    best = max(trials, key=lambda t: (t.value, -t.number))
    for out, _ in outputs:  # each worker waited for the other's last trial, then reported the same best
        assert out.splitlines()[-1].startswith(f"study two: 4 trials (4 complete); best trial {best.number}: "
                                               f"val accuracy {best.value:.6g} with train.lr=")
    for t in trials:
        run = tmp_path / "sw" / f"trial-{t.number}"
        summary = json.loads((run / "summary.json").read_text())
        assert summary["val"]["accuracy"] == t.value and summary["steps"] == 100 and (run / ".qornn-run").is_file()
        assert json.loads((run / "trial.json").read_text())["state"] == "complete"
    assert main(["report", str(tmp_path / "sw"), "--out", str(tmp_path / "rep")]) == 0
    assert f"**Best: trial {best.number}**, val accuracy {best.value:.6g}" in capsys.readouterr().out


def test_a_killed_worker_leaves_a_failed_trial_and_the_next_worker_continues(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    worker = start_worker(sweep_args(150, 1, "kill"), tmp_path)
    metrics = tmp_path / "sw" / "trial-0" / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while not (metrics.is_file() and metrics.read_text().strip()) and time.monotonic() < deadline:
        assert worker.poll() is None, worker.communicate()
        time.sleep(0.02)
    worker.send_signal(signal.SIGKILL)  # mid-trial: no final line, no summary, no chance to clean up
    worker.wait()
    assert not (tmp_path / "sw" / "trial-0" / "summary.json").exists()
    assert [t.state.name for t in load(tmp_path, "kill").get_trials()] == ["RUNNING"]  # the study still loads

    # the next worker waits until trial 0's heartbeat is stale (2 s), marks it failed, and trains trial 1
    assert main(sweep_args(150, 1, "kill")) == 0
    out = capsys.readouterr().out.splitlines()
    trials = load(tmp_path, "kill").get_trials()
    assert [t.state.name for t in trials] == ["FAIL", "COMPLETE"], out
    if out[0] == "waiting for running trial 0":  # started within 2 s of the kill (else trial 0 was stale already)
        out = out[1:]
    assert out[0] == "trial 0: marked failed, its worker stopped sending heartbeats"
    assert out[1].startswith("trial 1: ") and out[-1].startswith("study kill: 2 trials (1 complete, 1 failed); "
                                                                "best trial 1: val accuracy")
    killed = json.loads((tmp_path / "sw" / "trial-0" / "trial.json").read_text())
    assert killed["state"] == "failed" and "no heartbeat" in killed["error"]
    assert json.loads((tmp_path / "sw" / "trial-1" / "summary.json").read_text())["steps"] == 150
