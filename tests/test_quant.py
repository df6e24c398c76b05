import pytest
import torch

from qornn.errors import ConfigError
from qornn.quant import (UniformQuantizer, check_bits, quantize, quantize_codes, quantize_ste, sign_ste,
                         spectral_radius, storage_bits_per_weight)


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


def _orthogonal(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))[0].float()


@pytest.mark.parametrize("bits", [3, 4, 6])
def test_rounding_an_orthogonal_matrix_raises_its_radius_and_bound_radius_brings_it_back(bits):
    w = _orthogonal(64, bits)
    plain = quantize(w, bits)
    assert float(spectral_radius(plain)) > 1.0  # what the option is for
    bounded = quantize_ste(w, bits, bound_radius=True)
    assert float(spectral_radius(bounded)) == pytest.approx(1.0, abs=1e-5)
    codes, _ = quantize_codes(w, bits)
    ratio = bounded / plain  # same codes, a smaller step: one scalar
    nonzero = codes != 0
    assert torch.allclose(ratio[nonzero], ratio[nonzero][0].expand(int(nonzero.sum())), rtol=1e-6)
    assert float(ratio[nonzero][0]) < 1.0


def test_bound_radius_leaves_a_contraction_alone_and_passes_the_gradient_straight_through():
    w = (0.5 * _orthogonal(16, 0)).requires_grad_(True)
    q = quantize_ste(w, 8, bound_radius=True)
    assert torch.equal(q.detach(), quantize(w.detach(), 8))  # ρ < 1: nothing to divide
    (q * torch.arange(256.0).view(16, 16)).sum().backward()
    assert torch.equal(w.grad, torch.arange(256.0).view(16, 16))


def test_bound_radius_keeps_a_long_quantized_recurrence_bounded():
    w = _orthogonal(64, 1)
    h0 = torch.randn(64, generator=torch.Generator().manual_seed(2))
    norms = {}
    for bound in (False, True):
        q, h = quantize_ste(w, 3, bound_radius=bound), h0.clone()
        for _ in range(500):
            h = q @ h
        norms[bound] = float(h.norm() / h0.norm())
    assert norms[False] > 100.0
    assert norms[True] < 10.0


def test_bound_radius_refuses_a_non_square_weight():
    with pytest.raises(ConfigError, match="square"):
        UniformQuantizer(4, bound_radius=True)(torch.randn(3, 4))
