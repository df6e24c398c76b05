import math

import pytest
import torch

import qornn.recurrent as R
from qornn.errors import ConfigError


def orth_error(w):
    w = w.detach().double()
    return float(torch.linalg.matrix_norm(w.T @ w - torch.eye(w.shape[0], dtype=w.dtype), ord=2))


@pytest.mark.parametrize("n", [1, 2, 16, 128, 512])
def test_hadamard_weight_orthogonal_binary(n):
    scheme = R.HadamardSign(n)
    w = scheme(torch.randn(n))
    assert orth_error(w) < 1e-5
    assert set((w * math.sqrt(n)).round().unique().tolist()) <= {-1.0, 1.0}
    assert scheme.storage_bits() == n


@pytest.mark.parametrize("n,m", [(8, 2), (16, 4), (64, 16), (512, 16), (512, 128), (32, 32)])
@pytest.mark.parametrize("permute", [False, True])
def test_block_hadamard_weight_sparse_ternary(n, m, permute):
    scheme = R.BlockHadamardSign(n, m, permute=permute, seed=3)
    w = scheme(torch.randn(n))
    assert orth_error(w) < 1e-5
    values = set((w * math.sqrt(m)).round().unique().tolist())
    assert values <= {-1.0, 0.0, 1.0}
    assert float((w != 0).float().mean()) == pytest.approx(m / n)
    assert (w != 0).sum(1).eq(m).all()  # every row has exactly m non-zeros


def test_permutation_mixes_blocks():
    plain = R.BlockHadamardSign(64, 8)(torch.ones(64))
    mixed = R.BlockHadamardSign(64, 8, permute=True, seed=1)(torch.ones(64))
    assert not torch.equal(plain != 0, mixed != 0)


@pytest.mark.parametrize("scheme", [R.HadamardSign(64), R.BlockHadamardSign(64, 8),
                                    R.BlockHadamardSign(64, 8, permute=True), R.DenseWeight(64)])
def test_operator_matches_dense_product(scheme):
    latent = torch.randn(64) if not isinstance(scheme, R.DenseWeight) else torch.randn(64, 64)
    h = torch.randn(5, 64)
    torch.testing.assert_close(scheme.operator(latent)(h), h @ scheme(latent).T, atol=1e-5, rtol=1e-5)


def test_straight_through_gradient_on_signs():
    n = 16
    scheme = R.HadamardSign(n)
    u = torch.randn(n, requires_grad=True)
    h = torch.randn(3, n)
    g = torch.randn(3, n)
    (scheme.operator(u)(h) * g).sum().backward()
    # d/d sign_i of sum(g * (h S / sqrt n) * sign) = sum_b g_bi (h S)_bi / sqrt n
    from qornn.hadamard import sylvester

    expected = (g * (h @ sylvester(n)) / math.sqrt(n)).sum(0)
    torch.testing.assert_close(u.grad, expected)


def test_clipped_ste_zeroes_large_latents():
    scheme = R.HadamardSign(4, ste="clipped")
    u = torch.tensor([0.5, -2.0, 0.1, 3.0], requires_grad=True)
    scheme(u).sum().backward()
    assert u.grad[1] == 0 and u.grad[3] == 0 and u.grad[0] != 0


def test_one_line_entry_point_on_torch_rnn():
    rnn = torch.nn.RNN(4, 32, batch_first=True)
    R.hadamard_(rnn, "weight_hh_l0")
    assert orth_error(rnn.weight_hh_l0) < 1e-5
    out, _ = rnn(torch.randn(2, 5, 4))
    out.sum().backward()
    assert rnn.parametrizations.weight_hh_l0.original.shape == (32,)
    assert rnn.parametrizations.weight_hh_l0.original.grad is not None


def test_block_entry_point():
    lin = torch.nn.Linear(16, 16, bias=False)
    R.block_hadamard_(lin, "weight", block_size=4)
    assert float((lin.weight == 0).float().mean()) == pytest.approx(0.75)


def test_initial_signs_are_mixed():
    rnn = torch.nn.RNN(4, 256)
    R.hadamard_(rnn)
    u = rnn.parametrizations.weight_hh_l0.original.detach()
    assert 0.3 < float((u > 0).float().mean()) < 0.7
    assert float(u.abs().max()) <= math.sqrt(6 / 257) + 1e-6


def test_bad_sizes():
    with pytest.raises(ConfigError, match="hidden_size=100 is not a power of two"):
        R.HadamardSign(100)
    with pytest.raises(ConfigError, match="block_size=3"):
        R.BlockHadamardSign(16, 3)
    with pytest.raises(ConfigError, match="block_size=32"):
        R.BlockHadamardSign(16, 32)
    with pytest.raises(ConfigError, match="ste"):
        R.HadamardSign(8, ste="hard")
    with pytest.raises(ConfigError, match="unknown"):
        R.build_scheme("nope", 8)
