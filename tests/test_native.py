"""The optional compiled loops (qornn.native): same values as the PyTorch loops; absent, nothing breaks."""
import pytest
import torch

from qornn import hadamard, native
from qornn.operators import HadamardKernel, NativeHadamardKernel, SignedHadamardOperator

LIB = native.library("hadamard_loops")
needs_library = pytest.mark.skipif(LIB is None, reason="no C compiler here: the compiled loops are optional")


def kernels(n, m, batch=3, steps=5):
    signs = torch.where(torch.rand(n) < 0.5, -1.0, 1.0)
    op = SignedHadamardOperator(signs, m, m ** -0.5)
    like = torch.empty(0)
    return NativeHadamardKernel(op, batch, steps, like, LIB), HadamardKernel(op, batch, steps, like, "gemm")


@needs_library
@pytest.mark.parametrize("n, m", [(8, 8), (16, 16), (64, 16), (128, 128), (256, 64), (512, 512)])
def test_native_loops_equal_the_pytorch_loops(n, m):
    compiled, torch_loops = kernels(n, m)
    h0, z, e = torch.randn(3, n), torch.randn(5, 3, n), torch.randn(5, 3, n)
    results = []
    for kernel in (compiled, torch_loops):
        kernel.reset()
        kernel.set_state(h0)
        carry = kernel.buf[0].clone()  # T(h0)
        states = kernel.forward(z.clone()).clone()
        g = kernel.adjoint(e.clone()).clone()
        kernel.accumulate(g)  # the compiled adjoint summed it already
        results.append((carry, states, kernel.buf[:6].clone(), g, kernel.tensor_grads()[0],
                        kernel.grad_initial_state()))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-4)
    # the states match a dense step by hand
    w = compiled.op.dense()
    torch.testing.assert_close(results[0][1][0], h0 @ w.T + z[0], rtol=1e-5, atol=1e-5)


@needs_library
def test_adjoint_of_a_chunk_not_run_forward_first_sums_the_gradient_in_pytorch():
    """readout ``last``: the engine runs the adjoint from a loaded carry, then replays the chunk."""
    compiled, torch_loops = kernels(64, 32)
    h0, z, e = torch.randn(3, 64), torch.randn(5, 3, 64), torch.randn(5, 3, 64)
    grads = []
    for kernel in (compiled, torch_loops):
        kernel.reset()
        kernel.load_carry(h0)
        g = kernel.adjoint(e.clone())
        kernel.replay(z.clone(), g)
        grads.append(kernel.tensor_grads()[0])
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-5, atol=1e-4)


def test_step_method_picks_the_compiled_loops_only_where_they_apply(monkeypatch):
    like = torch.empty(1)
    assert hadamard.step_method(128, 128, like) == ("native" if LIB is not None else "fht")
    assert hadamard.step_method(128, 4, like) != "native"  # blocks narrower than one vector
    assert hadamard.step_method(128, 128, like.double()) != "native"  # float32 only
    monkeypatch.setattr(native, "ENABLED", False)
    assert native.library("hadamard_loops") is None and hadamard.step_method(128, 128, like) != "native"


@pytest.mark.parametrize("cc", ["/nonexistent/cc", "false"])
def test_no_compiler_or_a_failing_one_means_no_library(cc, monkeypatch, tmp_path):
    monkeypatch.setenv("CC", cc)
    monkeypatch.setenv("QORNN_CACHE", str(tmp_path))
    native._load.cache_clear()
    try:
        assert native.library("hadamard_loops") is None
        assert not list(tmp_path.rglob("*.so"))  # nothing half-written is left in the cache
    finally:
        native._load.cache_clear()
