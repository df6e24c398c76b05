"""engine.model_loss: the readout and the cross-entropy inside the chunked pass give the unfused loss and gradients."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from qornn import engine
from qornn.cli.bench import saved_bytes
from qornn.model import OrthoRNN, SequenceModel
from qornn.tasks import CopyTask, Task, TaskInfo


def feature_task(classes: int) -> Task:
    task = Task()
    task.info = TaskInfo(input_kind="features", input_size=5, output_size=classes, many_to_many=True, loss="ce")
    return task


def models(n, recurrent, nonlinearity="relu", dtype=torch.float32, input_size=10, classes=9, **options):
    rnn = OrthoRNN(input_size, n, recurrent, nonlinearity=nonlinearity, scheme_options=options)
    fused = SequenceModel(rnn, classes).to(dtype)
    return fused, copy.deepcopy(fused)


def loss_and_grads(model, loss_fn):
    model.zero_grad(set_to_none=True)
    loss = loss_fn(model)
    loss.backward()
    return loss.detach(), {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}


def assert_same(a, b, tol):
    (la, ga), (lb, gb) = a, b
    assert abs(float(la - lb)) <= tol * abs(float(lb))
    assert set(ga) == set(gb) and len(gb) >= 4
    for k, g in gb.items():
        err = float((ga[k] - g).norm() / g.norm().clamp_min(1e-30))
        assert err < tol, f"{k}: relative gradient error {err:.1e}"


@pytest.mark.parametrize("recurrent, options", [("hadamard", {}), ("dense", {}),
                                                ("block-hadamard", {"block_size": 16, "permute_blocks": True})])
@pytest.mark.parametrize("nonlinearity", ["relu", "tanh", "identity"])
def test_fused_loss_equals_unfused_tokens(recurrent, options, nonlinearity):
    task = CopyTask(delay=30, n_symbols=4, train_size=64)
    x, y = task.train_batch(0, 6)
    fused, unfused = models(64, recurrent, nonlinearity, **options)
    assert engine.fuses_loss(fused, task, x, y)
    a = loss_and_grads(fused, lambda m: engine.model_loss(m, task, x, y))
    b = loss_and_grads(unfused, lambda m: task.loss(m(x), y))
    assert_same(a, b, tol=1e-5)


@pytest.mark.parametrize("recurrent", ["hadamard", "dense"])
def test_fused_loss_float64_features_many_chunks(recurrent, monkeypatch):
    """float64 agrees to rounding; chunks of 3 steps over 20 (odd tail); float inputs get their gradient too."""
    from qornn.engine import fused as fused_module

    monkeypatch.setattr(fused_module, "CHUNK_MIN", 3)
    monkeypatch.setattr(fused_module, "CHUNK_MAX", 3)
    task = feature_task(7)
    x, y = torch.randn(4, 20, 5, dtype=torch.float64), torch.randint(0, 7, (4, 20))
    fused, unfused = models(64, recurrent, dtype=torch.float64, input_size=5, classes=7)
    xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    a = loss_and_grads(fused, lambda m: engine.model_loss(m, task, xa, y))
    b = loss_and_grads(unfused, lambda m: task.loss(m(xb), y))
    assert_same(a, b, tol=1e-12)
    torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-12, atol=1e-14)
    with torch.no_grad():
        assert float(a[0]) == pytest.approx(float(F.cross_entropy(unfused(x).transpose(1, 2), y)), rel=1e-13)


def test_fused_loss_keeps_no_more_for_backward():
    task = CopyTask(delay=200, n_symbols=4, train_size=64)
    x, y = task.train_batch(0, 8)
    fused, unfused = models(128, "hadamard")
    kept = [saved_bytes(lambda: engine.model_loss(fused, task, x, y))[0],
            saved_bytes(lambda: task.loss(unfused(x), y))[0]]
    probabilities = 8 * x.shape[1] * 9 * 4  # (B, T, K): what cross_entropy keeps, and the fused node instead
    assert probabilities < kept[0] <= kept[1]


def test_fused_loss_under_no_grad_and_scaled_backward():
    task = CopyTask(delay=25, n_symbols=3, train_size=64)
    x, y = task.train_batch(0, 5)
    fused, unfused = models(32, "hadamard")
    with torch.no_grad():
        torch.testing.assert_close(engine.model_loss(fused, task, x, y), task.loss(unfused(x), y))
    a = loss_and_grads(fused, lambda m: 3.0 * engine.model_loss(m, task, x, y))
    b = loss_and_grads(unfused, lambda m: 3.0 * task.loss(m(x), y))
    assert_same(a, b, tol=1e-5)


class WeightedTask(CopyTask):
    def loss(self, logits, y):  # a task with its own loss: never fused
        return 2.0 * super().loss(logits, y)


@pytest.mark.parametrize("case", ["own loss", "ignored targets", "readout last", "reference engine", "bce"])
def test_model_loss_falls_back_to_the_unfused_path(case):
    task = WeightedTask(delay=10, n_symbols=2, train_size=64) if case == "own loss" else \
        CopyTask(delay=10, n_symbols=2, train_size=64)
    x, y = task.train_batch(0, 3)
    fused, _ = models(16, "hadamard")
    if case == "ignored targets":
        y = y.clone()
        y[0, 0] = -100  # cross_entropy's ignore_index
    if case == "readout last":
        fused.readout, y = "last", y[:, -1]
    if case == "reference engine":
        fused.rnn.engine = "reference"
    if case == "bce":
        task.info = TaskInfo("tokens", 10, 1, True, "bce")
        fused = SequenceModel(fused.rnn, 1)
        y = (y > 0).float()
    assert not engine.fuses_loss(fused, task, x, y)
    torch.testing.assert_close(engine.model_loss(fused, task, x, y), task.loss(fused(x), y))
