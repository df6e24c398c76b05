"""The integer reference: an :class:`~qornn.export.IntegerModel` run in NumPy integers only.

This is the arithmetic the generated C performs, operation for operation (docs/deploy.md).
Step t = 1, 2, ... uses the tables of its parity t mod P (``spec.step_params``; P = 2 only when
1/√m is folded into alternating state grids):

* the state a (B-bit codes, kept in int64 here, int32 in C) lives in the operator's frame
  (h' = h[p]), where W is r·(s ⊙ T); U, b and V were permuted into it;
* R = s ⊙ T(a) (block Walsh–Hadamard transform: additions and subtractions, |R| < 2^31) or
  R = W_int·a (multiply-accumulate);
* acc = μ·R·2^{σ_r} + (U x)·2^{σ_x} + b·2^{σ_b} (exact: every shift σ is a left shift; the model
  was built so that |acc| < 2^52);
* σ inside the recurrence (QORNN): relu(acc), or modReLU sign(acc)·max(0, |acc| + m·2^{σ_m});
* requantization a' = sat_B(⌊acc/2^{σ_h} + 1/2⌋) (round half up: add 2^{σ_h−1}, arithmetic shift
  right), saturation to [−2^{B−1}, 2^{B−1} − 1];
* readout y = V_int·f(a) + c (|y| < 2^31, checked when the model was built), f = relu or identity
  for a linear recurrence, the state itself otherwise.

>>> import numpy as np
>>> fwht_blocks(np.array([[1, 2, 3, 4]]), 2)
array([[ 3, -1,  7, -1]])
>>> round_shift(np.array([-3, -2, 2, 3]), 1)
array([-1, -1,  1,  2])
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError

__all__ = ["integer_forward", "integer_step", "fwht_blocks", "round_shift", "check_integer_inputs"]


def round_shift(x: np.ndarray, shift: int) -> np.ndarray:
    """⌊x/2^shift + 1/2⌋ for shift ≥ 0 (round half up), with integer operations only."""
    if shift == 0:
        return x
    return (x + (1 << (shift - 1))) >> shift


def fwht_blocks(x: np.ndarray, m: int) -> np.ndarray:
    """x·(I_q ⊗ S_m) along the last axis, in integers (log2 m butterfly stages of additions/subtractions)."""
    rows, n = x.reshape(-1, x.shape[-1]).shape
    y = x.reshape(rows, n)
    h = 1
    while h < m:
        y = y.reshape(rows, n // (2 * h), 2, h)
        y = np.stack((y[:, :, 0] + y[:, :, 1], y[:, :, 0] - y[:, :, 1]), axis=2)
        h *= 2
    return y.reshape(x.shape)


def check_integer_inputs(spec, inputs) -> np.ndarray:
    """Inputs as int64 (B, T) token ids or (B, T, input_size) codes; a ShapeError for a wrong shape or range."""
    x = np.asarray(inputs)
    if x.dtype.kind not in "iu":
        raise ShapeError(f"integer inputs have dtype {x.dtype}; quantize features first (IntegerModel.quantize_inputs)")
    x = x.astype(np.int64)
    want = 2 if spec.input_kind == "tokens" else 3
    if x.ndim != want or (want == 3 and x.shape[-1] != spec.input_size) or x.shape[1] < 1:
        shape = "(batch, steps)" if want == 2 else f"(batch, steps, {spec.input_size})"
        raise ShapeError(f"integer inputs of shape {x.shape} are not allowed; expected {shape} with steps >= 1")
    lo, hi = spec.input_range
    if x.size and (x.min() < lo or x.max() > hi):
        raise ShapeError(f"integer inputs span [{x.min()}, {x.max()}]; allowed: [{lo}, {hi}]")
    return x


def _recurrent(spec, a: np.ndarray) -> np.ndarray:
    if spec.kind == "signed-hadamard":
        return fwht_blocks(a, spec.block_size) * spec.signs
    return a @ spec.recurrent_weight.T


def integer_step(spec, params: dict, a: np.ndarray, x_t: np.ndarray) -> np.ndarray:
    """One step a_{t−1} ↦ a_t for a batch (B, n) in the frame, with the tables ``params`` of the step's parity
    (``spec.step_params(t % P, frame=True)``); ``x_t`` token ids (B,) or input codes (B, d)."""
    sh = params["shifts"]
    u = params["input_weight"]
    inp = u[:, x_t].T if spec.input_kind == "tokens" else x_t @ u.T
    acc = (spec.recurrent_multiplier * _recurrent(spec, a) << sh["recurrent"]) + (inp << sh["input"]) \
        + (params["bias"] << sh["bias"])
    if not spec.linear:
        if spec.nonlinearity == "relu":
            acc = np.maximum(acc, 0)
        elif spec.nonlinearity == "modrelu":
            acc = np.sign(acc) * np.maximum(np.abs(acc) + (params["modrelu_bias"] << sh["modrelu"]), 0)
    lo, hi = spec.state_range
    return np.clip(round_shift(acc, sh["state"]), lo, hi)


def _readout(spec, params: dict, a: np.ndarray) -> np.ndarray:
    f = np.maximum(a, 0) if spec.linear and spec.nonlinearity == "relu" else a
    return f @ params["output_weight"].T + params["output_bias"]


def integer_forward(spec, inputs) -> np.ndarray:
    """Integer outputs (B, T, output_size) for readout ``all``, (B, output_size) for ``last``; output t (1-based)
    times ``spec.step_params(t % P)["output_scale"]`` is the logit."""
    x = check_integer_inputs(spec, inputs)
    params = [spec.step_params(p, frame=True) for p in range(spec.parities)]
    a = np.zeros((x.shape[0], spec.n), dtype=np.int64)
    outputs = []
    for t in range(x.shape[1]):
        p = params[(t + 1) % spec.parities]
        a = integer_step(spec, p, a, x[:, t])
        if spec.readout == "all":
            outputs.append(_readout(spec, p, a))
    if spec.readout == "last":
        return _readout(spec, params[x.shape[1] % spec.parities], a)
    return np.stack(outputs, axis=1)
