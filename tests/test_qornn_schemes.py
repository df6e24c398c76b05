"""QORNN schemes: orthogonal baselines (expm, cayley, Björck, projUNN-D/T), k-bit W, gated baselines."""
import math

import pytest
import torch

from qornn.config import load_config
from qornn.errors import ConfigError
from qornn.gated import GatedRNN
from qornn.model import OrthoRNN, build_model
from qornn.quant import quantize
from qornn.recurrent import BjorckOrthogonal, OrthogonalMap, ProjUNN
from qornn.recurrent.bjorck import bjorck_fixed_point_gap
from qornn.recurrent.projunn import lsi_low_rank, projunn_d, projunn_t
from qornn.size import grid_step, matrix_diagnostics
from qornn.tasks import build_task
from qornn.train import after_optimizer_step

FULL_PRECISION = ["expm", "cayley", "projunn-d", "projunn-t"]


def orth_error(w):
    return matrix_diagnostics(w)["orthogonality_error"]


def haar(n, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=dtype))
    return q * torch.sign(torch.diagonal(r))


def copy_model(recurrent, *overrides, seed=0):
    cfg = load_config("copy-hadamrnn", ["task.seq_len=10", "model.hidden_size=32", f"model.recurrent={recurrent}",
                                        "model.weight_bits=null", f"seed={seed}", "train.sign_rule=ste", *overrides])
    torch.manual_seed(seed)
    task = build_task(cfg)
    return task, build_model(cfg.model, task.info)


def train_steps(task, model, steps=100, lr=1e-2):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for step in range(steps):
        x, y = task.train_batch(step, 16)
        loss = task.loss(model(x), y) + model.rnn.penalty()
        opt.zero_grad()
        loss.backward()
        opt.step()
        after_optimizer_step(model)
    return float(loss.detach())


# ---- full-precision schemes stay orthogonal under a real loss ------------------------------------
@pytest.mark.parametrize("recurrent", FULL_PRECISION + ["bjorck"])
def test_scheme_stays_orthogonal_after_100_adam_steps(recurrent):
    task, model = copy_model(recurrent)
    w0 = model.rnn.weight_hh_l0.detach().clone()
    train_steps(task, model)
    w = model.rnn.weight_hh_l0.detach()
    assert float((w - w0).norm()) > 0.1  # it did learn
    # Björck: 15 steps from σ_min/σ_max of the trained latent leave at most the scalar map's gap.
    v = model.rnn.recurrent_latent.detach().double()
    s = torch.linalg.svdvals(v)
    tol = 1e-5 if recurrent != "bjorck" else 1e-5 + 3 * bjorck_fixed_point_gap(float(s.min() / s.max()))
    assert orth_error(w) < tol


def test_bjorck_maps_singular_values_by_the_scalar_iteration():
    torch.manual_seed(0)
    v = torch.randn(24, 24, dtype=torch.float64)
    scheme = BjorckOrthogonal(24, steps=3, beta=0.3).double()
    scheme.initialize_(v.clone())  # warm power iteration on some matrix, then on v itself:
    scheme.right_inverse(v)
    w = scheme(v)
    sv = torch.linalg.svdvals(v)
    sigma = sv / float(torch.dot(scheme.u, v @ scheme.v))
    for _ in range(3):
        sigma = 1.3 * sigma - 0.3 * sigma ** 3
    torch.testing.assert_close(torch.linalg.svdvals(w), sigma, rtol=1e-6, atol=1e-8)
    assert float(torch.dot(scheme.u, v @ scheme.v)) == pytest.approx(float(sv[0]), rel=1e-4)


def test_bjorck_power_iteration_vectors_are_in_the_state_dict_and_only_advance_in_training():
    _, model = copy_model("bjorck")
    keys = [k for k in model.state_dict() if k.endswith((".u", ".v"))]
    assert sorted(k.rsplit(".", 1)[1] for k in keys) == ["u", "v"]
    scheme = model.rnn.scheme
    u = scheme.u.clone()
    with torch.no_grad():
        scheme.train()(model.rnn.recurrent_latent * 2 + 0.1)
    assert torch.equal(u, scheme.u)  # no update under no_grad
    scheme(model.rnn.recurrent_latent + 0.1 * torch.randn(32, 32))
    assert not torch.equal(u, scheme.u)


@pytest.mark.parametrize("kind", ["expm", "cayley"])
def test_orthogonal_maps_match_their_formula(kind):
    torch.manual_seed(1)
    scheme = OrthogonalMap(6, kind).double()
    x = torch.zeros(6, 6, dtype=torch.float64)
    scheme.initialize_(x)
    x = torch.randn(6, 6, dtype=torch.float64)
    a = x.tril() - x.tril().t()
    eye = torch.eye(6, dtype=torch.float64)
    phi = torch.matrix_exp(a) if kind == "expm" else torch.linalg.solve(eye - a / 2, eye + a / 2)
    torch.testing.assert_close(scheme(x), scheme.map.base @ phi)
    assert orth_error(scheme(x)) < 1e-12
    assert "map.base" in scheme.state_dict()


# ---- projUNN ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("sampler", ["lsi", "svd"])
@pytest.mark.parametrize("mode", ["d", "t"])
def test_projunn_step_on_a_rank_one_gradient_matches_the_closed_form(mode, sampler):
    n, lr = 16, 0.1
    scheme = ProjUNN(n, mode, rank=1, sampler=sampler).double()
    w = torch.nn.Parameter(torch.zeros(n, n, dtype=torch.float64))
    scheme.initialize_(w.data)
    w0 = w.detach().clone()
    g = torch.Generator().manual_seed(5)
    a, b = torch.randn(n, 1, generator=g, dtype=torch.float64), torch.randn(n, 1, generator=g, dtype=torch.float64)
    w.grad = -(a @ b.t()) / lr  # SGD step Δ = −lr·grad = a bᵀ
    torch.optim.SGD([w], lr=lr).step()
    scheme.after_optimizer_step(w.data)
    if mode == "d":  # polar factor of W0 + a bᵀ
        u, _, vh = torch.linalg.svd(w0 + a @ b.t())
        expected = u @ vh
    else:  # W0 expm(skew(W0ᵀ a bᵀ))
        m = w0.t() @ a @ b.t()
        expected = w0 @ torch.matrix_exp(0.5 * (m - m.t()))
    torch.testing.assert_close(w.data, expected, rtol=0, atol=1e-10)
    torch.testing.assert_close(scheme.anchor, w.data)


def test_projunn_rank_r_is_exact_for_rank_r_updates():
    w = haar(20)
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(20, 3, generator=g, dtype=torch.float64), torch.randn(20, 3, generator=g, dtype=torch.float64)
    a2, b2 = lsi_low_rank(a @ b.t(), 3)
    torch.testing.assert_close(a2 @ b2.t(), a @ b.t())
    u, _, vh = torch.linalg.svd(w + a @ b.t())
    torch.testing.assert_close(projunn_d(w, a, b), u @ vh)
    assert orth_error(projunn_t(w, a, b)) < 1e-12


# ---- k-bit W ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("recurrent", ["dense", "expm", "cayley", "bjorck", "projunn-d", "projunn-t"])
@pytest.mark.parametrize("k", [2, 3, 5, 8])
def test_k_bit_effective_w_has_at_most_2_to_the_k_values(recurrent, k):
    rnn = OrthoRNN(4, 64, recurrent, recurrent_bits=k)
    w = rnn.weight_hh_l0.detach()
    assert torch.unique(w).numel() <= 2 ** k
    before = rnn.parametrizations.weight_hh_l0[0](rnn.recurrent_latent).detach()
    torch.testing.assert_close(w, quantize(before, k))
    d = matrix_diagnostics(w)
    assert d["step"] == pytest.approx(float(before.abs().max()) / 2 ** (k - 1), rel=1e-5)


@pytest.mark.parametrize("recurrent", ["bjorck", "projunn-d", "dense"])
def test_radius_rescale_keeps_the_codes_and_puts_the_spectral_radius_at_most_one(recurrent):
    torch.manual_seed(0)
    plain = OrthoRNN(4, 64, recurrent, recurrent_bits=3)
    torch.manual_seed(0)
    bounded = OrthoRNN(4, 64, recurrent, recurrent_bits=3, recurrent_rescale="radius")
    w, q = plain.weight_hh_l0.detach(), bounded.weight_hh_l0.detach()
    rho = float(torch.linalg.eigvals(w.double()).abs().max())
    assert rho > 1.0  # rounding pushed it above 1 ...
    assert float(torch.linalg.eigvals(q.double()).abs().max()) == pytest.approx(1.0, abs=1e-5)  # ... and back
    torch.testing.assert_close(q, w / rho, rtol=1e-5, atol=1e-7)
    assert matrix_diagnostics(q)["distinct_values"] == matrix_diagnostics(w)["distinct_values"]


# The digest's table (§5): ‖q_k(W) − W‖₂ and [σ_min, σ_max] of q_k(W), one Haar W, n = 256.
DIGEST_256 = {2: (1.339, 0.17, 1.97), 3: (0.671, 0.56, 1.51), 4: (0.343, 0.77, 1.25), 5: (0.169, 0.88, 1.12),
              6: (0.084, 0.94, 1.06), 8: (0.021, 0.99, 1.02)}


def test_quantized_orthogonality_error_shrinks_with_k_as_in_the_digest():
    n = 256
    w = haar(n, seed=0)
    alpha = float(w.abs().max())
    errors = []
    for k, (e_ref, lo_ref, hi_ref) in DIGEST_256.items():
        d = matrix_diagnostics(w, bits=k)
        e = float(torch.linalg.matrix_norm(quantize(w, k) - w, ord=2))
        assert e_ref / 1.5 < e < e_ref * 1.5, (k, e)
        assert e == pytest.approx(alpha * math.sqrt(n) * 2 ** (1 - k) / math.sqrt(3), rel=0.25)
        assert (1 - lo_ref) / 1.5 < 1 - d["sigma_min"] < (1 - lo_ref) * 1.5 + 0.01, (k, d)
        assert (hi_ref - 1) / 1.5 - 0.01 < d["sigma_max"] - 1 < (hi_ref - 1) * 1.5, (k, d)
        assert d["orthogonality_error"] <= 2 * e + e * e + 1e-9  # Weyl: ‖QᵀQ − I‖₂ ≤ 2‖E‖₂ + ‖E‖₂²
        assert d["distinct_values"] <= 2 ** k
        assert d["alpha"] == pytest.approx(alpha) and d["step"] == pytest.approx(alpha / 2 ** (k - 1))
        errors.append(d["orthogonality_error"])
    assert errors == sorted(errors, reverse=True)
    assert errors[-1] < errors[0] / 30


def test_matrix_diagnostics_reads_the_grid_of_a_quantized_matrix():
    w = haar(32, seed=3)
    q = quantize(w, 4)
    plain, with_bits = matrix_diagnostics(q), matrix_diagnostics(w, bits=4)
    assert plain["step"] == pytest.approx(with_bits["step"])
    assert plain["orthogonality_error"] == pytest.approx(with_bits["orthogonality_error"])
    assert grid_step(w) is None and matrix_diagnostics(w)["step"] is None
    assert grid_step(torch.tensor([-1.0, 1.0])) == 2.0


# ---- penalty -----------------------------------------------------------------------------------------
def test_ortho_penalty_is_lambda_frobenius_of_the_quantized_w_with_a_straight_through_gradient():
    rnn = OrthoRNN(4, 16, "dense", recurrent_bits=3, ortho_penalty=0.5)
    q = rnn.weight_hh_l0.detach()
    expected = 0.5 * float(((q.t() @ q - torch.eye(16)) ** 2).sum())
    p = rnn.penalty()
    assert float(p.detach()) == pytest.approx(expected, rel=1e-5) and expected > 0.01
    p.backward()
    grad = rnn.recurrent_latent.grad
    torch.testing.assert_close(grad, 0.5 * 4 * q @ (q.t() @ q - torch.eye(16)), rtol=1e-4, atol=1e-6)
    assert OrthoRNN(4, 16, "dense").penalty() == 0.0


# ---- refusals --------------------------------------------------------------------------------------
@pytest.mark.parametrize("overrides,needle", [
    (["model.recurrent=hadamard", "model.recurrent_bits=4"], "already binary"),
    (["model.recurrent=block-hadamard", "model.block_size=8", "model.recurrent_bits=4"], "already sparse ternary"),
    (["model.recurrent=projunn-d", "model.projunn_rank=33"], "projunn_rank=33"),
    (["model.recurrent=projunn-t", "model.projunn_rank=0"], "projunn_rank=0"),
    (["model.recurrent=projunn-t", "model.projunn_sampler=qr"], "projunn_sampler='qr'"),
    (["model.recurrent=bjorck", "model.recurrent_bits=1"], "recurrent_bits=1"),
    (["model.recurrent=expm", "model.recurrent_bits=9"], "recurrent_bits=9"),
    (["model.recurrent=bjorck", "model.bjorck_beta=1.0"], "bjorck_beta=1.0"),
    (["model.recurrent=bjorck", "model.bjorck_steps=-1"], "bjorck_steps=-1"),
    (["model.recurrent=dense", "model.ortho_penalty=-0.1"], "ortho_penalty=-0.1"),
    (["model.recurrent=lstmx"], "'lstmx' is unknown"),
    (["model.recurrent=gru", "model.recurrent_bits=12"], "recurrent_bits=12"),
    (["model.recurrent=lstm", "model.ortho_penalty=0.1"], "ortho_penalty=0.1"),
    (["model.recurrent=bjorck", "model.recurrent_rescale=radius"], "needs a k-bit W"),
    (["model.recurrent=bjorck", "model.recurrent_bits=4", "model.recurrent_rescale=spectral"], "'spectral' is unknown"),
    (["model.recurrent=lstm", "model.recurrent_bits=4", "model.recurrent_rescale=radius"], "not square"),
])
def test_bad_combinations_are_refused_with_one_line(overrides, needle):
    with pytest.raises(ConfigError) as info:
        copy_model(overrides[0].split("=")[1], *overrides[1:])
    assert needle in str(info.value) and "\n" not in str(info.value)


# ---- effective W once per forward -------------------------------------------------------------------
@pytest.mark.parametrize("recurrent", ["bjorck", "expm", "projunn-t"])
def test_effective_w_is_computed_once_per_forward(recurrent):
    _, model = copy_model(recurrent, "model.recurrent_bits=4")
    scheme = model.rnn.scheme
    calls = []
    original = scheme.forward
    scheme.forward = lambda x: calls.append(1) or original(x)
    x = torch.randint(0, 10, (3, 30))
    model(x).sum().backward()
    assert len(calls) == 1


# ---- gated baselines ---------------------------------------------------------------------------------
@pytest.mark.parametrize("cell,ref", [("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU)])
def test_gated_baselines_match_torch(cell, ref):
    torch.manual_seed(0)
    g, r = GatedRNN(3, 8, cell), ref(3, 8, batch_first=True)
    r.load_state_dict(g.state_dict())
    x = torch.randn(2, 7, 3)
    out, h_n = g(x)
    out_ref, h_ref = r(x)
    torch.testing.assert_close(out, out_ref)
    torch.testing.assert_close(h_n, h_ref[0] if cell == "lstm" else h_ref)
    tokens = torch.randint(0, 3, (2, 7))
    torch.testing.assert_close(g(tokens)[0], g(torch.nn.functional.one_hot(tokens, 3).float())[0])


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_quantized_gated_weights_are_k_bit_and_train(cell):
    g = GatedRNN(5, 8, cell, input_bits=3, recurrent_bits=4)
    assert torch.unique(g.weight_hh_l0).numel() <= 16 and torch.unique(g.weight_ih_l0).numel() <= 8
    out, _ = g(torch.randn(2, 4, 5))
    out.sum().backward()
    assert g.parametrizations.weight_hh_l0.original.grad.abs().sum() > 0  # straight-through gradient


# ---- one-line entry points on a plain torch.nn.RNN --------------------------------------------------
def test_one_liners_constrain_a_plain_torch_rnn():
    import qornn.recurrent as R

    for attach_, check in ((lambda m: R.orthogonal_(m, map="cayley"), 1e-5), (R.bjorck_, 1e-4),
                           (lambda m: R.projunn_(m, mode="t"), 1e-5)):
        torch.manual_seed(0)
        rnn = torch.nn.RNN(3, 16, batch_first=True)
        attach_(rnn)
        w0 = rnn.weight_hh_l0.detach().clone()
        opt = torch.optim.SGD(rnn.parameters(), lr=0.1)
        for _ in range(5):
            out, _ = rnn(torch.randn(4, 6, 3))
            opt.zero_grad()
            out.pow(2).sum().backward()
            opt.step()
            R.after_optimizer_step(rnn)
        assert orth_error(rnn.weight_hh_l0) < check
        assert float((rnn.weight_hh_l0.detach() - w0).norm()) > 0.05  # gradients reached the latent through nn.RNN
