"""train.device: resolution, the Hadamard policy off the CPU, every engine path and checkpoints on each device.

The CUDA and MPS cases run only where torch sees such a device; elsewhere they are skipped with the reason.
"""
import copy

import pytest
import torch

from qornn import devices, hadamard
from qornn.config import load_config
from qornn.errors import ConfigError
from qornn.model import build_model
from qornn.optimization import Objective
from qornn.run import load_trained, read_metrics
from qornn.tasks import CopyTask, TaskInfo
from qornn.train import train

DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param("cuda", id="cuda", marks=pytest.mark.skipif(
        not torch.cuda.is_available(), reason="no CUDA device here (torch.cuda.is_available() is False)")),
    pytest.param("mps", id="mps", marks=pytest.mark.skipif(
        not devices.mps_available(), reason="no Apple MPS device here (torch.backends.mps is not available)")),
]


def test_auto_is_cuda_when_present_else_cpu(monkeypatch):
    monkeypatch.setattr(devices, "cuda_available", lambda: False)
    assert devices.resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(devices, "cuda_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert devices.resolve_device("auto", local_rank=1) == torch.device("cuda", 1)  # a torchrun process's GPU
    assert devices.resolve_device("cuda:0", local_rank=1) == torch.device("cuda", 0)
    with pytest.raises(ConfigError, match=r"'cuda:2' .* 2 CUDA device\(s\), cuda:0 to cuda:1"):
        devices.resolve_device("cuda:2")


@pytest.mark.parametrize("name, needle", [("gpu", "is not allowed; use one of auto, cpu, cuda, mps or cuda:N"),
                                          ("cuda", "'cuda' is not available on this machine"),
                                          ("mps", "'mps' is not available on this machine")])
def test_unknown_or_missing_device_is_a_one_line_error(name, needle, monkeypatch, tmp_path):
    monkeypatch.setattr(devices, "cuda_available", lambda: False)
    monkeypatch.setattr(devices, "mps_available", lambda: False)
    with pytest.raises(ConfigError, match=needle) as info:
        train(load_config("copy-hadamrnn", [f"train.device={name}", "train.steps=1"]), tmp_path / "run", quiet=True)
    assert "\n" not in str(info.value) and not (tmp_path / "run").exists()  # refused before the folder exists


@pytest.mark.parametrize("n, m, method", [(16, 16, "dense"), (128, 128, "dense"), (512, 512, "kron"),
                                          (512, 16, "gemm"), (1024, 32, "gemm")])
def test_hadamard_steps_off_the_cpu_use_the_batched_torch_transform(n, m, method, monkeypatch):
    """The fht-cpu kernel works on CPU numpy arrays only: on any other device the policy picks a GEMM path."""
    on_gpu = torch.empty(4, n, device="meta")  # a tensor that is not on the CPU, on any machine
    assert hadamard.step_method(n, m, on_gpu) == method
    monkeypatch.setattr(hadamard, "USE_FHT_KERNEL", False)  # the CPU without the kernel or compiled loops:
    monkeypatch.setattr(hadamard, "native_loops_apply", lambda n, m, like: None)  # the same choice
    assert hadamard.step_method(n, m, torch.empty(4, n)) == method


CASES = {  # model config overrides -> the engine path they take
    "hadamard-fused-loss": ["model.hidden_size=32"],
    "block-permuted": ["model.recurrent=block-hadamard", "model.block_size=8", "model.permute_blocks=true"],
    "dense-k4": ["model.recurrent=dense", "model.recurrent_bits=4"],
    "bjorck-modrelu": ["model.recurrent=bjorck", "model.nonlinearity=modrelu", "model.linear_recurrence=false",
                       "model.recurrent_bits=5"],
    "reference": ["model.engine=reference"],
    "lstm": ["model.recurrent=lstm"],
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_engine_path_gives_the_cpu_loss_and_gradients(device, case):
    cfg = load_config("copy-hadamrnn", ["model.hidden_size=16"] + CASES[case])
    task = CopyTask(delay=12, n_symbols=3, train_size=64, seed=1)
    torch.manual_seed(0)
    cpu_model = build_model(cfg.model, task.info)
    dev_model = copy.deepcopy(cpu_model).to(device)
    x, y = task.train_batch(0, 8)
    results = []
    for model, dev in ((cpu_model, "cpu"), (dev_model, device)):
        loss, _ = Objective(model, task)(x.to(dev), y.to(dev))
        loss.backward()
        results.append((loss.item(), {name: p.grad.cpu() for name, p in model.named_parameters()}))
    (loss_cpu, grads_cpu), (loss_dev, grads_dev) = results
    assert loss_dev == pytest.approx(loss_cpu, rel=1e-5)
    for name, grad in grads_cpu.items():
        torch.testing.assert_close(grads_dev[name], grad, rtol=1e-4, atol=1e-6, msg=f"{case}: gradient of {name}")


def test_features_and_last_readout_on_the_cpu_device():
    info = TaskInfo(input_kind="features", input_size=1, output_size=10, many_to_many=False, loss="ce")
    cfg = load_config("pmnist-hadamrnn", ["model.hidden_size=64"])
    model = build_model(cfg.model, info).to(devices.resolve_device("cpu"))
    out = model(torch.rand(3, 20, 1))
    assert out.shape == (3, 10) and out.device.type == "cpu"


TINY = ["task.seq_len=10", "task.n_symbols=2", "model.hidden_size=16", "task.train_size=64", "task.val_size=16",
        "task.test_size=16", "train.epochs=null", "train.batch_size=8", "train.eval_every=2",
        "train.checkpoint_every=2", "train.log_every=1", "train.progress=false", "train.lr=3e-3"]


@pytest.mark.parametrize("device", DEVICES)
def test_a_run_on_a_device_resumes_on_the_cpu(device, tmp_path):
    """A checkpoint written on ``device`` continues on the CPU (tensors map to the resuming run's device)."""
    run = tmp_path / "run"
    summary = train(load_config("copy-hadamrnn", TINY + [f"train.device={device}", "train.steps=4"]), run, quiet=True)
    assert summary["device"].startswith(device)
    resumed = train(None, run, resume=True, quiet=True, extend=["train.steps=6", "train.device=cpu"])
    assert resumed["steps"] == 6 and resumed["device"] == "cpu"
    assert [r["step"] for r in read_metrics(run) if r["split"] == "train"] == [1, 2, 3, 4, 5, 6]
    _, _, model = load_trained(run, device=device)
    assert {p.device.type for p in model.parameters()} == {torch.device(device).type}
    if device == "cpu":  # same device: bit-identical to an uninterrupted run
        straight = train(load_config("copy-hadamrnn", TINY + ["train.steps=6"]), tmp_path / "straight", quiet=True)
        assert straight["test"] == resumed["test"]
