"""New structured schemes need no engine edit: the example of docs/architecture.md and a signed permutation."""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
import torch

from qornn import engine
from qornn.model import OrthoRNN, SequenceModel
from qornn.operators import MatvecKernel, RecurrentOperator
from qornn.quant import sign_ste
from qornn.recurrent import SCHEMES, RecurrentScheme
from qornn.tasks import CopyTask

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


# ---- a toy structured scheme, defined here only: W = diag(s)·P, (P h)_i = h_{perm_i} ------------------------
@dataclass(frozen=True)
class SignedPermutation(RecurrentOperator):
    signs: torch.Tensor
    perm: torch.Tensor
    tensor_fields: ClassVar[tuple] = ("signs",)
    kind: ClassVar[str] = "signed-permutation"

    def matvec(self, h):  # (W h)_i = s_i h_{perm_i}; rmatvec, dense and tensor_grads: the defaults
        return h[..., self.perm] * self.signs

    def kernel(self, batch, steps, like):
        return MatvecKernel(self, batch, steps, like)


class SignedPermutationScheme(RecurrentScheme):
    name = "signed-permutation"

    def __init__(self, n):
        super().__init__(n)
        self.register_buffer("perm", torch.randperm(n, generator=torch.Generator().manual_seed(n)))

    def forward(self, u):
        return torch.eye(self.n, dtype=u.dtype)[self.perm] * sign_ste(u).unsqueeze(1)

    def operator(self, u):
        return SignedPermutation(sign_ste(u), self.perm)

    def right_inverse(self, w):  # the latent (n,) behind a W (n, n)
        return w[torch.arange(self.n), self.perm].clone()

    @torch.no_grad()
    def initialize_(self, u):
        u.uniform_(-1.0, 1.0)


def pair(recurrent, n=32, readout="all"):
    torch.manual_seed(0)
    fast = SequenceModel(OrthoRNN(10, n, recurrent), 9, readout=readout)
    ref = copy.deepcopy(fast)
    ref.rnn.engine = "reference"
    return fast, ref


def grads(model, loss_fn):
    model.zero_grad(set_to_none=True)
    loss = loss_fn(model)
    loss.backward()
    return float(loss.detach()), {k: p.grad.clone() for k, p in model.named_parameters()}


def assert_fast_equals_reference(recurrent, kernel_name):
    task = CopyTask(delay=15, n_symbols=3, train_size=64)
    x, y = task.train_batch(0, 4)
    for readout in ("all", "last"):
        fast, ref = pair(recurrent, readout=readout)
        assert engine.plan_sequence(fast, x) == f"fused-{readout}-{kernel_name}"
        target = y if readout == "all" else y[:, -1]
        loss_a, ga = grads(fast, lambda m: engine.model_loss(m, task, x, target))
        loss_b, gb = grads(ref, lambda m: task.loss(m(x), target))
        assert loss_a == pytest.approx(loss_b, rel=1e-5)
        assert ga["rnn.parametrizations.weight_hh_l0.original"].abs().sum() > 0  # the signs learn
        for k, g in gb.items():
            torch.testing.assert_close(ga[k], g, rtol=1e-4, atol=1e-6, msg=k)
    rnn = pair(recurrent)[0].rnn  # OrthoRNN alone (every state), with an initial state
    ref = copy.deepcopy(rnn)
    ref.engine = "reference"
    assert engine.plan(rnn) == f"linear-{kernel_name}"
    x, h0 = torch.randn(4, 6, 10), torch.randn(1, 4, 32)
    results = []
    for model in (rnn, ref):
        h = h0.clone().requires_grad_(True)
        _, g = grads(model, lambda m: m(x, h)[0].tanh().sum())
        results.append((model(x, h0)[0].detach(), h.grad, g))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(results[0][1], results[1][1], rtol=1e-5, atol=1e-6)
    for k, g in results[1][2].items():
        torch.testing.assert_close(results[0][2][k], g, rtol=1e-4, atol=1e-6, msg=k)


def test_a_new_structured_scheme_runs_through_the_fast_engine(monkeypatch):
    monkeypatch.setitem(SCHEMES, "signed-permutation", lambda n, options: SignedPermutationScheme(n))
    assert_fast_equals_reference("signed-permutation", "matvec")


def test_the_architecture_doc_example_runs(monkeypatch):
    code = re.search(r"## Add a scheme in 30 lines.*?```python\n(.*?)```", DOC.read_text(), re.S).group(1)
    body = [line for line in code.splitlines() if line.strip() and not line.startswith(("from ", "import "))]
    assert len(body) <= 35  # "in 30 lines": the scheme without its imports
    monkeypatch.setitem(SCHEMES, "placeholder", None)  # restore the registry afterwards
    namespace: dict = {"__name__": "architecture_example"}
    exec(compile(code, str(DOC), "exec", dont_inherit=True), namespace)
    assert "signed-shift" in SCHEMES
    try:
        w = namespace["SignedShiftScheme"](8)(torch.randn(8))
        torch.testing.assert_close(w.T @ w, torch.eye(8))  # orthogonal
        assert_fast_equals_reference("signed-shift", "matvec")
    finally:
        SCHEMES.pop("signed-shift")
