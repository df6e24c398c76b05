import pytest
import torch

from qornn.config import load_config
from qornn.errors import ConfigError, ShapeError
from qornn.model import OrthoRNN, SequenceModel, build_model
from qornn.tasks import build_task


def manual_states(rnn, x, nonlinear):
    w, u, b = rnn.weight_hh_l0.detach(), rnn.weight_ih_l0.detach(), rnn.bias_hh_l0.detach()
    h = torch.zeros(x.shape[0], w.shape[0])
    out = []
    for t in range(x.shape[1]):
        h = h @ w.T + x[:, t] @ u.T + b
        if nonlinear:
            h = torch.relu(h)
        out.append(h)
    return torch.stack(out, 1)


@pytest.mark.parametrize("recurrent,opts", [("hadamard", {}), ("block-hadamard", {"block_size": 4}), ("dense", {})])
@pytest.mark.parametrize("linear", [True, False])
def test_recurrence_formula(recurrent, opts, linear):
    rnn = OrthoRNN(3, 16, recurrent, input_bits=4, linear_recurrence=linear, scheme_options=opts)
    x = torch.randn(2, 9, 3)
    states, h_n = rnn(x)
    expected = manual_states(rnn, x, nonlinear=not linear)
    torch.testing.assert_close(states, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(h_n[0], states[:, -1])


def test_input_weight_is_quantized():
    rnn = OrthoRNN(5, 8, "hadamard", input_bits=2)
    assert rnn.weight_ih_l0.unique().numel() <= 4
    full = OrthoRNN(5, 8, "hadamard", input_bits=None)
    assert full.weight_ih_l0.unique().numel() == 40


def test_tokens_equal_one_hot():
    rnn = OrthoRNN(10, 16, "hadamard", input_bits=3)
    tokens = torch.randint(0, 10, (3, 11))
    one_hot = torch.nn.functional.one_hot(tokens, 10).float()
    torch.testing.assert_close(rnn(tokens)[0], rnn(one_hot)[0])


def test_unbatched_and_time_major():
    rnn = OrthoRNN(4, 8, "hadamard")
    x = torch.randn(6, 4)
    out, h = rnn(x)
    assert out.shape == (6, 8) and h.shape == (1, 8)
    tm = OrthoRNN(4, 8, "hadamard", batch_first=False)
    tm.load_state_dict(rnn.state_dict())
    xb = torch.randn(2, 6, 4)
    torch.testing.assert_close(tm(xb.transpose(0, 1))[0].transpose(0, 1), rnn(xb)[0])


def test_initial_state():
    rnn = OrthoRNN(4, 8, "hadamard")
    x = torch.randn(2, 5, 4)
    full, _ = rnn(x)
    _, h2 = rnn(x[:, :2])
    rest, _ = rnn(x[:, 2:], h2)
    torch.testing.assert_close(rest, full[:, 2:], atol=1e-6, rtol=1e-5)


def test_bad_inputs():
    rnn = OrthoRNN(4, 8, "hadamard")
    with pytest.raises(ShapeError, match="5 features"):
        rnn(torch.randn(2, 3, 5))
    with pytest.raises(ShapeError, match="token ids"):
        OrthoRNN(4, 8, "hadamard")(torch.tensor([[0, 4]]))
    with pytest.raises(ConfigError, match="engine"):
        OrthoRNN(4, 8, "hadamard", engine="gpu")


def test_readouts_and_gradients_reach_every_parameter():
    rnn = OrthoRNN(6, 16, "hadamard", input_bits=4)
    x = torch.randint(1, 6, (3, 7))
    x[0, 5:] = 0
    for readout, shape in (("all", (3, 7, 2)), ("last", (3, 2)), ("mean", (3, 2))):
        model = SequenceModel(rnn, 2, output_bits=4, readout=readout, padding_idx=0)
        y = model(x)
        assert y.shape == shape
    model.zero_grad()
    model(x).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_mean_readout_ignores_padding():
    rnn = OrthoRNN(6, 8, "hadamard")
    model = SequenceModel(rnn, 1, readout="mean", padding_idx=0)
    x = torch.tensor([[3, 2, 0, 0]])
    feats = model.features(rnn(x)[0])[0, :2].mean(0)
    torch.testing.assert_close(model(x)[0], model.output(feats))


def test_build_model_from_preset():
    cfg = load_config("copy-block-hadamrnn", ["task.seq_len=5"])
    task = build_task(cfg)
    model = build_model(cfg.model, task.info)
    x, y = task.train_batch(0, 2)
    assert model(x).shape == (2, 25, 9)
    assert model.output.weight.unique().numel() == 9 * 512  # output_bits null: full precision V
    assert model.rnn.weight_ih_l0.unique().numel() <= 4  # input_bits 2
