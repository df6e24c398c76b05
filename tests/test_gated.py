"""GatedRNN runs torch.nn.LSTM / GRU: the same outputs and gradients as the per-step cells it replaces."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from qornn.gated import GatedGRU, GatedLSTM, GatedRNN


def cells_loop(g, x, h0=None, c0=None):
    """The per-step cells qornn ran before (its previous gated.py): U x_t + b_ih for all steps, then the gates."""
    z = F.embedding(x, g.weight_ih_l0.t()) if not torch.is_floating_point(x) else x @ g.weight_ih_l0.t()
    z = z + g.bias_ih_l0
    batch, n = z.shape[0], g.hidden_size
    h = h0 if h0 is not None else z.new_zeros(batch, n)
    c = c0 if c0 is not None else z.new_zeros(batch, n)
    whh, bhh, states = g.weight_hh_l0.t(), g.bias_hh_l0, []
    for z_t in z.unbind(1):
        gh = h @ whh + bhh
        if g.cell == "lstm":
            i, f, gg, o = (z_t + gh).chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
            h = torch.sigmoid(o) * torch.tanh(c)
        else:
            ir, iz, in_ = z_t.chunk(3, dim=-1)
            hr, hz, hn = gh.chunk(3, dim=-1)
            r, u = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
            h = (1 - u) * torch.tanh(in_ + r * hn) + u * h
        states.append(h)
    return torch.stack(states, 1)


def grads_of(g, fn):
    g.zero_grad(set_to_none=True)
    out = fn()
    (out * torch.linspace(-1, 1, out.shape[-1])).sum().backward()
    return out.detach(), {k: p.grad.clone() for k, p in g.named_parameters()}


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bits", [(None, None), (3, 4)])
@pytest.mark.parametrize("tokens", [False, True])
def test_torch_kernel_matches_the_per_step_cells(cell, bits, tokens):
    torch.manual_seed(1)
    g = GatedRNN(6, 16, cell, input_bits=bits[0], recurrent_bits=bits[1])
    assert isinstance(g, (GatedLSTM, GatedGRU)) and isinstance(g, GatedRNN)
    x = torch.randint(0, 6, (3, 11)) if tokens else torch.randn(3, 11, 6)
    h0 = torch.randn(3, 16)
    init = (h0, torch.randn(3, 16)) if cell == "lstm" else h0
    out_a, grads_a = grads_of(g, lambda: g(x, init)[0])
    out_b, grads_b = grads_of(g, lambda: cells_loop(g, x, *(init if cell == "lstm" else (init,))))
    torch.testing.assert_close(out_a, out_b, rtol=1e-5, atol=1e-6)
    assert set(grads_a) == set(grads_b) and len(grads_a) == 4
    for k, grad in grads_b.items():
        torch.testing.assert_close(grads_a[k], grad, rtol=1e-4, atol=1e-6, msg=k)


def test_forget_gate_bias_and_interface():
    g = GatedRNN(3, 8, "lstm")
    assert float(g.bias_ih_l0[8:16].detach().mean()) > 0.5  # 1 + U(±1/√8)
    out, h_n = g(torch.randn(5, 3))  # unbatched (time, features)
    assert out.shape == (5, 8) and h_n.shape == (1, 8)
    with pytest.raises(Exception, match="token ids must lie in"):
        g(torch.full((2, 4), 3))
    with pytest.raises(Exception, match="gated cell 'rnn' is unknown"):
        GatedRNN(3, 8, "rnn")
