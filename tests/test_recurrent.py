import math

import pytest
import torch

import qornn.recurrent as R
from qornn.errors import ConfigError, ShapeError
from qornn.hadamard import sylvester


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


SCHEMES_64 = [R.HadamardSign(64), R.BlockHadamardSign(64, 8), R.BlockHadamardSign(64, 8, permute=True, seed=2),
              R.DenseWeight(64), R.OrthogonalMap(64, "cayley")]


@pytest.mark.parametrize("scheme", SCHEMES_64, ids=lambda s: f"{s.name}-{getattr(s, 'permute', '')}")
def test_operator_is_the_schemes_matrix(scheme):
    """The operator the engines run is exactly W = scheme(latent): dense, h·Wᵀ, g·W, in and out of its frame."""
    latent = torch.randn(64) if scheme.name.endswith("hadamard") else torch.randn(64, 64)
    w = scheme(latent)
    op = scheme.operator(latent)
    assert torch.equal(op.dense(), w)  # the same rounding: the scale is the one W holds
    h = torch.randn(5, 64)
    torch.testing.assert_close(op.matvec(h), h @ w.T, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(op.rmatvec(h), h @ w, atol=1e-5, rtol=1e-5)
    p = op.frame
    framed = w if p is None else w[p][:, p]
    assert torch.equal(op.dense_in_frame(), framed)


@pytest.mark.parametrize("scheme", SCHEMES_64[:3], ids=["hadamard", "block", "block-permuted"])
def test_operator_facts_and_latent_gradient(scheme):
    """signs, block size, permutation and scale describe W entry by entry; tensor_grads is ∂/∂signs."""
    u = torch.randn(64, requires_grad=True)
    op = scheme.operator(u)
    facts = op.detach().describe()
    m, perm = facts["block_size"], facts["perm"] or list(range(64))
    assert facts["kind"] == "signed-hadamard" and m == getattr(scheme, "block_size", 64)
    assert facts["scale"] == pytest.approx(1 / math.sqrt(m)) and set(facts["signs"]) <= {-1.0, 1.0}
    w, blocks = scheme(u.detach()), torch.block_diag(*[sylvester(m)] * (64 // m))
    for i in (0, 5, 63):
        for j in (0, 7, 63):
            assert float(w[perm[i], perm[j]]) == facts["scale"] * facts["signs"][i] * float(blocks[i, j])
    g, h = torch.randn(7, 64), torch.randn(7, 64)
    (op.matvec(h) * g).sum().backward()
    (grad_signs,) = op.detach().tensor_grads(g, h)
    torch.testing.assert_close(u.grad, grad_signs)  # identity STE: ∂L/∂u = ∂L/∂s


def test_straight_through_gradient_on_signs():
    n = 16
    scheme = R.HadamardSign(n)
    u = torch.randn(n, requires_grad=True)
    h = torch.randn(3, n)
    g = torch.randn(3, n)
    (scheme.operator(u).matvec(h) * g).sum().backward()
    # d/d sign_i of sum(g * (h S / sqrt n) * sign) = sum_b g_bi (h S)_bi / sqrt n
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
    """Library calls name the argument (a ShapeError for sizes); the config layer names the key."""
    with pytest.raises(ShapeError, match="^n=100 is not a power of two"):
        R.HadamardSign(100)
    with pytest.raises(ShapeError, match="^block_size=3 is not allowed for n=16"):
        R.BlockHadamardSign(16, 3)
    with pytest.raises(ShapeError, match="^block_size=32"):
        R.BlockHadamardSign(16, 32)
    with pytest.raises(ConfigError, match="^ste='hard'"):
        R.HadamardSign(8, ste="hard")
    with pytest.raises(ConfigError, match="^model.hidden_size=100 is not a power of two"):
        R.build_scheme("hadamard", 100)
    with pytest.raises(ConfigError, match="^model.block_size=3 is not allowed for model.hidden_size=16"):
        R.build_scheme("block-hadamard", 16, {"block_size": 3})
    with pytest.raises(ConfigError, match="^model.ste='hard'"):
        R.build_scheme("hadamard", 8, {"ste": "hard"})
    with pytest.raises(ConfigError, match="unknown"):
        R.build_scheme("nope", 8)
