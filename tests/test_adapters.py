"""The private APIs qornn relies on, one adapter each: these tests fail loudly when a dependency changes them."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from qornn.adapters import fht_cpu, torch_orthogonal
from qornn.hadamard import sylvester


def test_fht_cpu_row_functions_transform_rows_in_place():
    module = pytest.importorskip("fht_cpu")  # optional dependency: nothing to adapt without it
    assert fht_cpu.available()
    for dtype, name in fht_cpu.ROW_FUNCTIONS.items():
        assert callable(getattr(module, name, None)), f"fht_cpu.{name} is gone: update qornn/adapters/fht_cpu.py"
        x = np.random.default_rng(0).standard_normal((5, 64)).astype(dtype)
        expected = x.astype(np.float64) @ sylvester(64, dtype=torch.float64).numpy()
        fht_cpu.rows_inplace(dtype)(x)  # in place, one thread
        np.testing.assert_allclose(x, expected, rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-4)
        view = np.zeros((4, 2, 8), dtype=dtype)[:, 1]  # a row view that is not C-contiguous as a whole
        with pytest.raises(TypeError):
            fht_cpu.rows_inplace(dtype)(view)  # the kernel refuses it (qornn passes contiguous blocks only)
    y = np.eye(4)
    np.testing.assert_array_equal(fht_cpu.transform_rows(y), sylvester(4, dtype=torch.float64).numpy())
    np.testing.assert_array_equal(y, np.eye(4))  # a copy


def test_torch_orthogonal_parametrization():
    for kind in ("expm", "cayley"):
        m = torch_orthogonal.orthogonal_map(6, kind)
        assert "base" in dict(m.named_buffers()) and "base" in m.state_dict()
        torch.testing.assert_close(m(torch.zeros(6, 6)), torch.eye(6))  # W = B·φ(0) = B
        x = torch.randn(6, 6)
        w = m(x)
        torch.testing.assert_close(w.T @ w, torch.eye(6), atol=1e-5, rtol=0)
        q, _ = torch.linalg.qr(torch.randn(6, 6))
        m.right_inverse(q)  # torch's rule: an orthogonal W becomes the base
        torch.testing.assert_close(m.base, q)
        torch.testing.assert_close(m(torch.zeros(6, 6)), q)
    x = torch.randn(6, 6, requires_grad=True)
    torch_orthogonal.orthogonal_map(6, "expm")(x).sum().backward()
    assert x.grad is not None and float(x.grad.triu(1).abs().max()) == 0.0  # only the lower triangle is used
