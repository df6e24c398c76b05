"""The integer model: what a trained run becomes once its activations are quantized to B bits.

Every number of the deployed recurrence is an integer code times a power of two, in units of
the input step u = Δ_U·Δ_x (Δ_U = α_U/2^{p−1} the step of the p-bit U, Δ_x = 2^{e_x} the input
step; Δ_x = 1 for token inputs, whose U x_t is a column of U).  This is the rescaling of the
QORNN authors' activation notebook (arXiv 2402.04012, v2): the state is re-expressed in units
of α_U so that U is its integer codes, and every range is a power of two:

    state      h̃ = 2^{e_h}·a,   a ∈ [−2^{B−1}, 2^{B−1} − 1]            (e_h from the calibrated max |h|)
    W          W = r·(s ⊙ T  or  W_int),   r ≈ μ·2^{−ρ}                 (μ an integer of at most 24 bits)
    biases     b̃ = 2^{e_b}·b_int, modReLU bias 2^{e_m}·m_int, B-bit codes on their own power-of-two ranges
    readout    y = Δ_out·(V_int σ(a) + c_int),   Δ_out = Δ_V·u·2^{e_h}

T is the (block) Walsh–Hadamard transform of a :class:`~qornn.operators.SignedHadamardOperator`
(HadamRNN, Block-HadamRNN) and W_int the k-bit codes of a dense W (QORNN).  The recurrent scale
r is 1/√m for Hadamard W (an exact shift, μ = 1, when m is an even power of two; a 24-bit
fixed-point constant for odd ones) and α_W/2^{k−1} for a k-bit W.  One step, all integer:

    acc = (μ·R(a))·2^{e_h−ρ−e} + (U_int x)·2^{−e} + b_int·2^{e_b−e}          (exact, int64)
    a'  = sat_B(⌊σ(acc)/2^{e_h−e} + 1/2⌋)

with e = min(0, e_h − ρ, e_b, e_m) the accumulator exponent, so that every term is an exact
left shift and the state quantizer is the only rounding (half up), followed by saturation
(docs/deploy.md).  :func:`integer_model` builds it from a trained model, reading W from the
model's recurrent operator (``rnn.recurrent_operator().detach().describe()``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np
import torch

from ..errors import ConfigError
from ..quant import quant_levels, quantize_codes

__all__ = ["ACTIVATION_BITS", "MULTIPLIER_BITS", "IntegerModel", "check_activation_bits", "fixed_point",
           "integer_model", "power_of_two_exponent", "quantize_to_exponent"]

#: Allowed activation bit widths B (input, hidden state, biases).
ACTIVATION_BITS = (4, 16)
#: Largest width of the fixed-point recurrent multiplier μ.
MULTIPLIER_BITS = 24
#: Every accumulator stays below 2^EXACT_BITS: exact in int64 and in float64 (the fake-quantized model).
EXACT_BITS = 52
SUPPORTED_SIGMAS = {True: ("relu", "identity"), False: ("relu", "identity", "modrelu")}


def check_activation_bits(bits) -> int:
    lo, hi = ACTIVATION_BITS
    if isinstance(bits, bool) or not isinstance(bits, int) or not lo <= bits <= hi:
        raise ConfigError(f"--activation-bits {bits!r} is out of range; allowed: an integer from {lo} to {hi}")
    return bits


def power_of_two_exponent(max_abs: float, bits: int) -> int:
    """The smallest e with 2^{e+B−1} ≥ max_abs: B-bit codes times 2^e cover [−max_abs, max_abs].

    >>> power_of_two_exponent(1.0, 8), power_of_two_exponent(3.0, 8), power_of_two_exponent(0.0, 4)
    (-7, -5, -3)
    """
    if not math.isfinite(max_abs):
        raise ConfigError(f"a calibrated range is {max_abs}; the model produced non-finite values")
    if max_abs <= 0:
        return -(bits - 1)
    mant, exp = math.frexp(max_abs)  # max_abs = mant·2^exp, 0.5 ≤ mant < 1
    return (exp - 1 if mant == 0.5 else exp) - (bits - 1)


def quantize_to_exponent(values: np.ndarray, exponent: int, bits: int) -> np.ndarray:
    """sat_B(⌊v·2^{−e} + 1/2⌋) as int64: the B-bit code of v on the grid 2^e (round half up)."""
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return np.clip(np.floor(np.asarray(values, dtype=np.float64) * 2.0 ** -exponent + 0.5), lo, hi).astype(np.int64)


def fixed_point(value: float, bits: int = MULTIPLIER_BITS) -> tuple[int, int]:
    """(μ, ρ) with μ·2^{−ρ} the nearest value to ``value`` > 0 with μ < 2^bits; μ odd or ρ = 0.

    A power of two is exact (μ = 1): 1/√256 → (1, 4); 1/√512 → (11863283, 28).

    >>> fixed_point(0.0625), fixed_point(2 ** -4.5)
    ((1, 4), (11863283, 28))
    """
    if not value > 0 or not math.isfinite(value):
        raise ConfigError(f"recurrent scale {value!r} is not allowed; it must be a positive number")
    shift = bits - 1 - math.frexp(value)[1] + 1  # value·2^shift in [2^{bits−1}, 2^bits)
    mult = int(math.floor(value * 2.0 ** shift + 0.5))
    if mult >= 2 ** bits:
        mult, shift = mult // 2, shift - 1
    while shift > 0 and mult % 2 == 0:
        mult, shift = mult // 2, shift - 1
    while shift < 0:  # scales ≥ 2^bits: keep ρ ≥ 0
        mult, shift = mult * 2, shift + 1
    return mult, shift


@dataclass(frozen=True, eq=False)
class IntegerModel:
    """An integer-only sequence model (see the module docstring); arrays are int64, in the model's order."""

    kind: str  # the recurrent operator's kind: "signed-hadamard" or "dense"
    n: int
    input_kind: str  # "tokens" or "features"
    input_size: int
    output_size: int
    readout: str  # "all" (an output every step) or "last"
    linear: bool  # σ at the readout (HadamRNN) or inside the recurrence (QORNN)
    nonlinearity: str
    activation_bits: int
    input_bits: int
    output_bits: int
    recurrent_bits: int | None
    block_size: int
    recurrent_multiplier: int  # μ
    recurrent_shift: int  # ρ
    input_exponent: int  # e_x (features)
    state_exponent: int  # e_h
    bias_exponent: int  # e_b
    modrelu_exponent: int  # e_m
    unit: float  # u, in model units
    output_scale: float  # Δ_out
    input_weight: np.ndarray  # (n, input_size) p-bit codes
    bias: np.ndarray  # (n,) B-bit codes
    output_weight: np.ndarray  # (output_size, n) p-bit codes
    output_bias: np.ndarray  # (output_size,) in units of Δ_out
    signs: np.ndarray | None = None  # (n,) ±1, in the operator's frame
    perm: np.ndarray | None = None  # (n,) the operator's frame p, or None
    recurrent_weight: np.ndarray | None = None  # (n, n) k-bit codes (dense)
    modrelu_bias: np.ndarray | None = None  # (n,) B-bit codes (modReLU inside the recurrence)

    # ---- derived shifts (every term of the accumulator is an exact left shift) ------------------------
    @property
    def acc_exponent(self) -> int:
        exps = [0, self.state_exponent - self.recurrent_shift, self.bias_exponent]
        if self.modrelu_bias is not None:
            exps.append(self.modrelu_exponent)
        return min(exps)

    @property
    def shifts(self) -> dict:
        """Left shifts into the accumulator, and the state quantizer's right shift."""
        e = self.acc_exponent
        return {"input": -e, "recurrent": self.state_exponent - self.recurrent_shift - e,
                "bias": self.bias_exponent - e, "modrelu": self.modrelu_exponent - e, "state": self.state_exponent - e}

    @property
    def state_range(self) -> tuple[int, int]:
        return -(2 ** (self.activation_bits - 1)), 2 ** (self.activation_bits - 1) - 1

    @property
    def input_range(self) -> tuple[int, int]:
        """Allowed input values: token ids, or B-bit input codes."""
        return (0, self.input_size - 1) if self.input_kind == "tokens" else self.state_range

    def frame_arrays(self) -> dict:
        """U, b, modReLU bias and V in the operator's frame (h' = h[p]), where W is s ⊙ T: no permutation
        is left at run time."""
        p = self.perm if self.perm is not None else slice(None)
        out = {"input_weight": self.input_weight[p], "bias": self.bias[p], "output_weight": self.output_weight[:, p]}
        out["modrelu_bias"] = None if self.modrelu_bias is None else self.modrelu_bias[p]
        return out

    def quantize_inputs(self, x) -> np.ndarray:
        """Input codes of float features x (…, input_size): sat_B(⌊x·2^{−e_x} + 1/2⌋); token ids pass through."""
        if self.input_kind == "tokens":
            return np.asarray(x, dtype=np.int64)
        return quantize_to_exponent(np.asarray(x, dtype=np.float64), self.input_exponent, self.activation_bits)

    def recurrent_operator(self, dtype=torch.float64):
        """W with the fixed-point scale μ·2^{−ρ}, as a recurrent operator (what the fake-quantized model steps with)."""
        from ..operators import DenseOperator, SignedHadamardOperator

        scale = self.recurrent_multiplier * 2.0 ** -self.recurrent_shift
        if self.kind == "signed-hadamard":
            perm = None if self.perm is None else torch.from_numpy(self.perm)
            return SignedHadamardOperator(torch.tensor(self.signs, dtype=dtype), self.block_size, scale, perm)
        return DenseOperator(torch.tensor(self.recurrent_weight, dtype=dtype) * scale)

    def __call__(self, inputs) -> np.ndarray:
        """Integer outputs of token ids (B, T) or input codes (B, T, input_size) (the NumPy reference)."""
        from .reference import integer_forward

        return integer_forward(self, inputs)

    def logits(self, inputs) -> np.ndarray:
        return self(inputs) * self.output_scale

    def scalars(self) -> dict:
        """Every field that is not an array (JSON-serialisable)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if not _is_array_field(f.name)}

    def arrays(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)
                if _is_array_field(f.name) and getattr(self, f.name) is not None}

    def with_arrays(self, **arrays) -> "IntegerModel":
        return replace(self, **arrays)


ARRAY_FIELDS = ("input_weight", "bias", "output_weight", "output_bias", "signs", "perm", "recurrent_weight",
                "modrelu_bias")


def _is_array_field(name: str) -> bool:
    return name in ARRAY_FIELDS


# ---- from a trained model -----------------------------------------------------------------------------
def _supported_rnn(model):
    """The OrthoRNN of a SequenceModel that integer export can take, or a ConfigError naming what is not."""
    from ..model import OrthoRNN, SequenceModel

    if not isinstance(model, SequenceModel) or not isinstance(model.rnn, OrthoRNN):
        raise ConfigError(f"integer export takes an orthogonal RNN (OrthoRNN); got {type(getattr(model, 'rnn', model)).__name__}")
    rnn = model.rnn
    if model.embedding is not None:
        raise ConfigError("integer export of a model with a token embedding is not supported; use model.embedding_dim=0")
    if model.readout not in ("all", "last"):
        raise ConfigError(f"integer export of model.readout={model.readout!r} is not supported; allowed: all, last")
    allowed = SUPPORTED_SIGMAS[rnn.linear_recurrence]
    if rnn.nonlinearity not in allowed:
        raise ConfigError(f"integer export of model.nonlinearity={rnn.nonlinearity!r} is not supported with "
                          f"linear_recurrence={rnn.linear_recurrence}; allowed: {', '.join(allowed)}")
    for key, bits in (("input_bits", rnn.input_bits), ("output_bits", model.output_bits)):
        if bits is None:
            raise ConfigError(f"model.{key}=null: a full-precision matrix cannot be exported to integers; "
                              f"quantize it first (qornn quantize RUN --{key.replace('_', '-')} 4 ...)")
    return rnn


def _codes(module, name: str, bits: int) -> tuple[np.ndarray, float]:
    """p-bit codes and step of the quantized ``module.<name>`` (its quantizer's input is the original tensor)."""
    original = module.parametrizations[name].original.detach()
    codes, step = quantize_codes(original, bits)
    return codes.numpy().astype(np.int64), float(step)


def _grid_codes(weight: np.ndarray, bits: int) -> tuple[np.ndarray, float]:
    """Codes and step of a matrix already on a k-bit grid: the step is −min/2^{k−1} or max/(2^{k−1} − 1)."""
    lo, hi, div = quant_levels(bits)
    step = max(-float(weight.min()) / -lo, float(weight.max()) / hi, 1e-300)
    codes = np.clip(np.round(weight / step), lo, hi)
    if np.abs(codes * step - weight).max() > 1e-5 * step * div:
        raise ConfigError(f"the recurrent matrix is not on a {bits}-bit grid; cannot export it to integers")
    return codes.astype(np.int64), step


def _recurrent_facts(rnn) -> dict:
    """W's integer facts from the model's recurrent operator: signs, block size, frame and scale, or k-bit codes."""
    facts = rnn.recurrent_operator().detach().describe()
    if facts["kind"] == "signed-hadamard":
        signs = np.asarray(facts["signs"], dtype=np.float64)
        if not np.all(np.abs(signs) == 1):
            raise ConfigError("the Hadamard operator's signs are not all ±1; cannot export it to integers")
        perm = None if facts["perm"] is None else np.asarray(facts["perm"], dtype=np.int64)
        return {"kind": facts["kind"], "signs": signs.astype(np.int64), "perm": perm,
                "block_size": int(facts["block_size"]), "scale": float(facts["scale"]),
                "row_sum": int(facts["block_size"])}
    if facts["kind"] == "dense":
        if rnn.recurrent_bits is None:
            raise ConfigError(f"model.recurrent={rnn.recurrent!r} with recurrent_bits=null has a full-precision W; "
                              f"integer export needs hadamard, block-hadamard or a k-bit W (model.recurrent_bits)")
        codes, step = _grid_codes(np.asarray(facts["weight"], dtype=np.float64), rnn.recurrent_bits)
        return {"kind": "dense", "recurrent_weight": codes, "block_size": rnn.hidden_size, "scale": step,
                "row_sum": int(np.abs(codes).sum(1).max())}
    raise ConfigError(f"recurrent operator {facts['kind']!r} has no integer export; allowed: signed-hadamard, dense")


def integer_model(model, calibration, bits: int) -> IntegerModel:
    """The integer model of a trained ``SequenceModel`` for B = ``bits`` activation bits and calibrated
    ranges ``calibration`` (:class:`qornn.export.Calibration`)."""
    check_activation_bits(bits)
    rnn = _supported_rnn(model)
    rec = _recurrent_facts(rnn)
    u_codes, u_step = _codes(rnn, "weight_ih_l0", rnn.input_bits)
    v_codes, v_step = _codes(model.output, "weight", model.output_bits)
    tokens = calibration.input_kind == "tokens"
    input_exp = 0 if tokens else power_of_two_exponent(calibration.input_max, bits)
    unit = u_step * 2.0 ** input_exp
    state_exp = power_of_two_exponent(calibration.state_max / unit, bits)
    span = max(1, rec["row_sum"]) * 2 ** (bits - 1)
    mult, shift = fixed_point(rec["scale"], min(MULTIPLIER_BITS, EXACT_BITS - 2 - span.bit_length()))

    def vector(tensor, floor_exp):  # B-bit codes of a bias on its own power-of-two range (units of u)
        values = np.zeros(rnn.hidden_size) if tensor is None else tensor.detach().double().numpy() / unit
        exp = max(power_of_two_exponent(float(np.abs(values).max(initial=0.0)), bits), floor_exp)
        return quantize_to_exponent(values, exp, bits), exp

    bias, bias_exp = vector(rnn.bias_hh_l0, state_exp - shift)
    modrelu = rnn.nonlinearity == "modrelu" and not rnn.linear_recurrence
    mod, mod_exp = vector(rnn.activation.bias, state_exp - shift) if modrelu else (None, 0)
    out_scale = v_step * unit * 2.0 ** state_exp
    c = model.output.bias
    c = np.zeros(v_codes.shape[0]) if c is None else c.detach().double().numpy()
    spec = IntegerModel(
        kind=rec["kind"], n=rnn.hidden_size, input_kind="tokens" if tokens else "features",
        input_size=rnn.input_size, output_size=int(v_codes.shape[0]), readout=model.readout,
        linear=rnn.linear_recurrence, nonlinearity=rnn.nonlinearity, activation_bits=bits,
        input_bits=rnn.input_bits, output_bits=model.output_bits, recurrent_bits=rnn.recurrent_bits,
        block_size=rec["block_size"], recurrent_multiplier=mult, recurrent_shift=shift, input_exponent=input_exp,
        state_exponent=state_exp, bias_exponent=bias_exp, modrelu_exponent=mod_exp, unit=unit,
        output_scale=out_scale, input_weight=u_codes, bias=bias, output_weight=v_codes,
        output_bias=np.floor(c / out_scale + 0.5).astype(np.int64), signs=rec.get("signs"), perm=rec.get("perm"),
        recurrent_weight=rec.get("recurrent_weight"), modrelu_bias=mod)
    check_bounds(spec)
    return spec


def check_bounds(spec: IntegerModel) -> None:
    """A ConfigError unless every accumulator of ``spec`` fits its integer type (int32 transform, input and
    readout sums; int64 accumulator, below 2^52 so that float64 fake quantization is exact too)."""
    state = 2 ** (spec.activation_bits - 1)
    limit32 = 2 ** 31 - 1
    row = spec.block_size if spec.kind == "signed-hadamard" else int(np.abs(spec.recurrent_weight).sum(1).max())
    u_max = int(np.abs(spec.input_weight).max(initial=0))
    inputs = u_max * (state * spec.input_size if spec.input_kind == "features" else 1)
    readout = int(np.abs(spec.output_weight).sum(1).max(initial=0)) * state + int(np.abs(spec.output_bias).max())
    sh = spec.shifts
    acc = (spec.recurrent_multiplier * row * state << sh["recurrent"]) + (inputs << sh["input"]) \
        + (state << sh["bias"]) + (state << sh["modrelu"] if spec.modrelu_bias is not None else 0)
    checks = (("the Walsh-Hadamard transform", row * state if spec.kind == "signed-hadamard" else 0, limit32),
              ("the input projection", inputs, limit32), ("the readout", readout, limit32),
              ("the accumulator", acc, 2 ** EXACT_BITS))
    for what, value, limit in checks:
        if value > limit:
            raise ConfigError(f"{what} can reach {value}, above {limit}: lower --activation-bits "
                              f"(now {spec.activation_bits}) or the bit widths of the weights")
