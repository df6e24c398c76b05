import math

import pytest
import torch

from qornn.config import load_config
from qornn.errors import ConfigError
from qornn.tasks import AddingTask, CopyTask, build_task, copy_batch, memoryless_baseline


@pytest.mark.parametrize("delay", [1, 20, 1000])
def test_copy_batch_definition(delay):
    k = 10
    x, y = copy_batch(64, delay, k, 8, torch.Generator().manual_seed(1))
    length = delay + 2 * k
    assert x.shape == y.shape == (64, length)
    symbols = x[:, :k]
    assert int(symbols.min()) >= 1 and int(symbols.max()) <= 8
    # blanks between the symbols and the marker, one marker at T + K - 1, blanks after it
    assert (x[:, k:delay + k - 1] == 0).all()
    assert (x[:, delay + k - 1] == 9).all()
    assert (x[:, delay + k:] == 0).all()
    assert ((x == 9).sum(1) == 1).all()
    # target: blank everywhere except the last K steps, which repeat the symbols
    assert (y[:, :-k] == 0).all()
    assert torch.equal(y[:, -k:], symbols)


def test_copy_lengths_of_the_literature():
    task = CopyTask(delay=1000, seed=0, val_size=3, test_size=3)
    x, y = task.train_batch(0, 2)
    assert x.shape[1] == 1020
    assert task.info.baseline == pytest.approx(10 * math.log(8) / 1020)
    assert memoryless_baseline(1000) == pytest.approx(0.020386, abs=1e-6)


def test_copy_symbols_uniform():
    x, _ = copy_batch(4000, 5, 10, 8, torch.Generator().manual_seed(0))
    counts = torch.bincount(x[:, :10].flatten(), minlength=9)[1:].double()
    assert (counts / counts.sum() - 1 / 8).abs().max() < 0.01


def test_batches_are_a_function_of_seed_and_step():
    a, b = CopyTask(delay=20, seed=5), CopyTask(delay=20, seed=5)
    assert torch.equal(a.train_batch(7, 4)[0], b.train_batch(7, 4)[0])
    assert not torch.equal(a.train_batch(7, 4)[0], a.train_batch(8, 4)[0])
    assert not torch.equal(a.train_batch(7, 4)[0], CopyTask(delay=20, seed=6).train_batch(7, 4)[0])
    va = torch.cat([x for x, _ in a.eval_batches("val", 100)])
    ta = torch.cat([x for x, _ in a.eval_batches("test", 100)])
    assert va.shape[0] == 2000 and not torch.equal(va, ta)


def test_memoryless_predictor_scores_the_baseline():
    task = CopyTask(delay=30, seed=0)
    x, y = task.train_batch(0, 256)
    logits = torch.full((256, x.shape[1], 9), -1e9)
    logits[:, :-10, 0] = 0.0  # certain blank before the copy phase
    logits[:, -10:, 1:] = 0.0  # uniform over the 8 symbols after
    assert float(task.loss(logits, y)) == pytest.approx(task.info.baseline, rel=1e-6)


def test_adding_task():
    task = AddingTask(length=50, seed=0)
    x, y = task.train_batch(0, 32)
    assert x.shape == (32, 50, 2) and y.shape == (32,)
    assert ((x[..., 1] == 1).sum(1) == 2).all()
    marked = (x[..., 0] * x[..., 1]).sum(1)
    torch.testing.assert_close(marked, y)
    first = x[..., 1].argmax(1)
    assert (first < 25).all()


def test_unknown_task_and_bad_delay():
    with pytest.raises(ConfigError, match="task.name='nope'"):
        build_task(load_config("copy-hadamrnn", ["task.name=nope"]))
    with pytest.raises(ConfigError, match="task.seq_len=0"):
        build_task(load_config("copy-hadamrnn", ["task.seq_len=0"]))
