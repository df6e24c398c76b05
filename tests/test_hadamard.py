import math

import pytest
import torch

from qornn.errors import ShapeError
from qornn.hadamard import (block_fwht, block_sylvester, fwht, hadamard_transform, is_power_of_two, sylvester)


@pytest.mark.parametrize("n", [1, 2, 4, 8, 64, 512])
def test_sylvester_is_hadamard(n):
    s = sylvester(n, dtype=torch.float64)
    assert set(s.unique().tolist()) <= {-1.0, 1.0}
    assert torch.equal(s @ s.T, n * torch.eye(n, dtype=torch.float64))
    assert torch.equal(s, s.T)


def test_sylvester_recursion():
    s4 = sylvester(4)
    h2 = torch.tensor([[1.0, 1.0], [1.0, -1.0]])
    assert torch.equal(sylvester(8), torch.kron(s4, h2))


@pytest.mark.parametrize("n", [1, 2, 8, 128, 1024])
def test_fwht_matches_dense_forward_and_gradient(n):
    x = torch.randn(5, 3, n, dtype=torch.float64, requires_grad=True)
    s = sylvester(n, dtype=torch.float64)
    g = torch.randn(5, 3, n, dtype=torch.float64)
    y_fast = fwht(x)
    (gx_fast,) = torch.autograd.grad(y_fast, x, g)
    y_dense = x @ s
    (gx_dense,) = torch.autograd.grad(y_dense, x, g)
    torch.testing.assert_close(y_fast, y_dense)
    torch.testing.assert_close(gx_fast, gx_dense)


def test_fwht_gradcheck():
    x = torch.randn(2, 16, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(fwht, (x,))


@pytest.mark.parametrize("n,m", [(8, 2), (64, 16), (512, 16), (512, 512)])
def test_block_fwht_matches_kronecker(n, m):
    x = torch.randn(4, n, dtype=torch.float64)
    dense = x @ block_sylvester(n, m, dtype=torch.float64)
    torch.testing.assert_close(block_fwht(x, m), dense)
    for method in ("dense", "fwht", "auto"):
        torch.testing.assert_close(hadamard_transform(x, m, method=method), dense)


def test_block_sylvester_structure():
    b = block_sylvester(16, 4)
    assert float((b == 0).float().mean()) == pytest.approx(1 - 1 / 4)
    torch.testing.assert_close(b @ b.T, 4 * torch.eye(16))


@pytest.mark.parametrize("bad", [0, 3, 12, 100])
def test_non_power_of_two_rejected(bad):
    assert not is_power_of_two(bad)
    with pytest.raises(ShapeError, match=str(bad)):
        sylvester(bad)


def test_block_must_divide():
    with pytest.raises(ShapeError, match="does not divide"):
        block_fwht(torch.randn(2, 8), 16)
    with pytest.raises(ShapeError, match="power of two"):
        block_fwht(torch.randn(2, 12), 3)


def test_normalised_transform_is_orthogonal():
    n = 256
    x = torch.randn(10, n, dtype=torch.float64)
    y = fwht(x) / math.sqrt(n)
    torch.testing.assert_close(y.norm(dim=1), x.norm(dim=1))
