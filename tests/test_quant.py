import pytest
import torch

from qornn.errors import ConfigError
from qornn.quant import (UniformQuantizer, check_bits, quantize, quantize_ste, sign_ste, storage_bits_per_weight)


@pytest.mark.parametrize("bits", range(1, 9))
def test_grid_of_each_bit_width(bits):
    w = torch.randn(4000, dtype=torch.float64)
    alpha = w.abs().max()
    q = quantize(w, bits)
    if bits == 1:
        allowed = {-1, 0, 1}
        step = alpha
    else:
        half = 2 ** (bits - 1)
        allowed = set(range(-half, half))
        step = alpha / half
    codes = torch.round(q / step)
    torch.testing.assert_close(codes * step, q)
    assert set(codes.long().unique().tolist()) <= allowed
    assert q.unique().numel() <= (3 if bits == 1 else 2 ** bits)
    # rounding error at most half a step, except at the clipped top (w near +α).
    inside = w <= (max(allowed) + 0.5) * step
    assert float((q - w)[inside].abs().max()) <= float(step) / 2 + 1e-12
    # the levels are whole multiples of the step, and the extreme codes are reached.
    levels = q.unique()
    gaps = levels.diff() / step
    torch.testing.assert_close(gaps, gaps.round())
    assert int(codes.min()) == min(allowed) or int(codes.max()) == max(allowed)


def test_known_values_two_bits():
    w = torch.tensor([-1.0, -0.3, 0.0, 0.26, 1.0])
    assert quantize(w, 2).tolist() == [-1.0, -0.5, 0.0, 0.5, 0.5]
    assert quantize(w, 1).tolist() == [-1.0, -0.0, 0.0, 0.0, 1.0]


def test_zero_tensor_stays_zero():
    assert torch.equal(quantize(torch.zeros(5), 4), torch.zeros(5))


def test_ste_gradient_is_identity():
    w = torch.randn(50, requires_grad=True)
    g = torch.randn(50)
    q = quantize_ste(w, 3)
    q.backward(g)
    torch.testing.assert_close(w.grad, g)
    assert torch.equal(q.detach(), quantize(w.detach(), 3))


def test_full_precision_is_identity():
    w = torch.randn(7)
    assert quantize_ste(w, None) is w


def test_sign_ste_identity_and_clipped():
    u = torch.tensor([-2.0, -0.5, 0.0, 0.5, 3.0], requires_grad=True)
    s = sign_ste(u)
    assert s.tolist() == [-1.0, -1.0, 1.0, 1.0, 1.0]
    s.backward(torch.ones(5))
    assert u.grad.tolist() == [1.0] * 5
    u.grad = None
    sign_ste(u, clipped=True).backward(torch.ones(5))
    assert u.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


def test_parametrization_on_linear():
    from torch.nn.utils import parametrize

    lin = torch.nn.Linear(16, 8)
    parametrize.register_parametrization(lin, "weight", UniformQuantizer(2))
    assert lin.weight.unique().numel() <= 4
    lin(torch.randn(3, 16)).sum().backward()
    assert lin.parametrizations.weight.original.grad is not None


@pytest.mark.parametrize("bad", [0, 9, -1, 2.5, "4", True])
def test_bits_out_of_range(bad):
    with pytest.raises(ConfigError, match="allowed"):
        check_bits(bad, "model.weight_bits")


def test_storage_bits():
    assert storage_bits_per_weight(None) == 32
    assert storage_bits_per_weight(1) == 2
    assert storage_bits_per_weight(4) == 4
