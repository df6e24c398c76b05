"""Data-parallel training under torchrun (2 CPU processes, gloo) against one process with the same global batch."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from qornn.checkpoint import read_tensors
from qornn.config import load_config
from qornn.distributed import DataParallel, join
from qornn.errors import ConfigError
from qornn.run import read_metrics
from qornn.tasks import ArrayTask, CopyTask, TaskInfo
from qornn.tasks.mnist import PixelMNIST
from qornn.train import train

needs_gloo = pytest.mark.skipif(not (dist.is_available() and dist.is_gloo_available()),
                                reason="this torch build has no torch.distributed with the gloo backend")

TINY = ["task.seq_len=20", "task.n_symbols=3", "model.hidden_size=64", "task.train_size=256", "task.val_size=40",
        "task.test_size=40", "train.steps=8", "train.epochs=null", "train.batch_size=16", "train.eval_every=4",
        "train.checkpoint_every=4", "train.log_every=2", "train.progress=false", "train.lr=3e-3", "seed=5",
        "train.eval_batch_size=16"]


def torchrun(args: list, cwd: Path, processes: int = 2) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).parent))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}", *args]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def files(folder: Path) -> set:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def weights(run: Path) -> dict:
    return {k: v for k, v in read_tensors(run / "model.safetensors")[0].items()}


def assert_same_run(single: Path, parallel: Path, rtol: float = 1e-5) -> None:
    """Same metric lines (steps, splits, accuracies), losses and final weights equal to float rounding."""
    a, b = read_metrics(single), read_metrics(parallel)
    assert [(r["step"], r["split"]) for r in a] == [(r["step"], r["split"]) for r in b]
    for ra, rb in zip(a, b):
        assert rb["loss"] == pytest.approx(ra["loss"], rel=rtol), (ra, rb)
        assert ra.get("accuracy") == rb.get("accuracy") and ra.get("sign_flips") == rb.get("sign_flips")
    wa, wb = weights(single), weights(parallel)
    assert wa.keys() == wb.keys()
    for k in wa:
        torch.testing.assert_close(wb[k], wa[k], rtol=rtol, atol=1e-6)


# ---- pieces, in one process --------------------------------------------------------------------------
def test_each_rank_gets_its_share_of_the_global_batch():
    shares = [DataParallel(rank=r, world_size=4).rows(12) for r in range(4)]
    assert [(s.start, s.stop) for s in shares] == [(0, 3), (3, 6), (6, 9), (9, 12)]
    with pytest.raises(ConfigError, match=r"train.batch_size=10 .* 4 processes.*multiple of 4"):
        DataParallel(rank=0, world_size=4).rows(10)


@pytest.mark.parametrize("kind", ["copy", "array", "pixels"])
def test_the_shares_of_the_ranks_make_up_the_batch_of_one_process(kind):
    if kind == "copy":
        task = CopyTask(delay=6, n_symbols=2, train_size=64, val_size=4, test_size=4, seed=3)
    else:
        info = TaskInfo(input_kind="features", input_size=1, output_size=10, many_to_many=False, loss="ce")
        x = torch.randint(0, 256, (40, 9), dtype=torch.uint8) if kind == "pixels" else torch.randn(40, 9, 1)
        splits = {s: (x, torch.randint(0, 10, (40,))) for s in ("train", "val", "test")}
        task = (PixelMNIST if kind == "pixels" else ArrayTask)("t", info, splits, seed=3)
    for step in (0, 1, 5):  # epoch 0 and (array tasks, 5 steps per epoch) epoch 1
        x, y = task.train_batch(step, 8)
        parts = [task.train_rows(step, 8, DataParallel(rank=r, world_size=2).rows(8)) for r in range(2)]
        assert torch.equal(torch.cat([p[0] for p in parts]), x) and torch.equal(torch.cat([p[1] for p in parts]), y)


def test_one_process_without_torchrun(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    dp = join()
    assert (dp.rank, dp.world_size, dp.is_main, dp.active) == (0, 1, True, False)
    assert dp.broadcast({"a": 1}) == {"a": 1} and dp.sum([1.5, 2]) == [1.5, 2] and not dp.any(False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    for key in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(ConfigError, match="start data-parallel runs with torchrun"):
        join()


# ---- two processes ----------------------------------------------------------------------------------
@needs_gloo
def test_torchrun_two_processes_match_one_process_and_only_rank_0_writes(tmp_path):
    single = tmp_path / "single"
    train(load_config("copy-hadamrnn", TINY), single, quiet=True)
    ws = tmp_path / "ws"
    ws.mkdir()
    sets = [a for item in TINY for a in ("--set", item)]
    proc = torchrun(["-m", "qornn", "train", "--config", "copy-hadamrnn", *sets, "--out", "run"], ws)
    assert_same_run(single, ws / "run")
    assert files(ws) == {f"run/{name}" for name in files(single)}  # nothing else written, by any rank
    assert proc.stdout.count("test loss") == 1  # one final line: rank 0's
    summary = json.loads((ws / "run" / "summary.json").read_text())
    assert summary["processes"] == 2 and summary["device"] == "cpu"


@needs_gloo
def test_sign_rule_projunn_and_resume_under_torchrun(tmp_path):
    import distributed_runs

    torchrun([str(Path(distributed_runs.__file__)), str(tmp_path), *TINY], tmp_path)
    for name in ("bop", "projunn"):  # the after-backward and after-step hooks see the averaged gradients
        single = tmp_path / f"single-{name}"
        train(load_config("copy-hadamrnn", TINY + distributed_runs.RUNS[name]), single, quiet=True)
        assert_same_run(single, tmp_path / name)
    val = [r for r in read_metrics(tmp_path / "bop") if r["split"] == "val"]
    assert sum(r.get("sign_flips", 0) for r in val) > 0, val  # Bop did flip signs
    assert val[-1]["selected_step"] < 8  # train.keep_best: the final model is rank 0's best.safetensors
    # resumed at step 4 with the same world size: bit-identical to the uninterrupted run
    straight, resumed = weights(tmp_path / "straight"), weights(tmp_path / "resumed")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    losses = [json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert losses[0] == losses[1]  # every rank saw the loss of the global batch
    assert losses[0]["resumed"] == losses[0]["straight"][:5] + losses[0]["straight"][4:]  # step 5 ran twice
