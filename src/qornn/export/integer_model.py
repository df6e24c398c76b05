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
    """An integer-only sequence model (see the module docstring); arrays are int64, in the model's order.

    Scalars and arrays are those of the parity-0 grid; with ``odd_scale`` σ = ±1 the states of odd
    steps live on a grid √2^σ times coarser, whose tables :meth:`step_params` derives.
    """

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
    recurrent_shift: int  # ρ (parity 0)
    input_exponent: int  # e_x (features)
    state_exponent: int  # e_h
    bias_exponent: int  # e_b
    modrelu_exponent: int  # e_m
    odd_scale: int  # σ: 0 (one grid) or ±1 (odd steps on a grid √2^σ times the even one)
    fraction_bits: int  # g: extra bits of the odd steps' U, b and modReLU bias
    unit: float  # u, in model units
    output_scale: float  # Δ_out (parity 0)
    input_weight: np.ndarray  # (n, input_size) p-bit codes
    bias: np.ndarray  # (n,) B-bit codes
    output_weight: np.ndarray  # (output_size, n) p-bit codes
    output_bias: np.ndarray  # (output_size,) in units of Δ_out
    signs: np.ndarray | None = None  # (n,) ±1, in the operator's frame
    perm: np.ndarray | None = None  # (n,) the operator's frame p, or None
    recurrent_weight: np.ndarray | None = None  # (n, n) k-bit codes (dense)
    modrelu_bias: np.ndarray | None = None  # (n,) B-bit codes (modReLU inside the recurrence)

    @property
    def parities(self) -> int:
        """1, or 2 when step t uses the tables of parity t mod 2 (t = 1, 2, ...)."""
        return 2 if self.odd_scale else 1

    @property
    def state_range(self) -> tuple[int, int]:
        return -(2 ** (self.activation_bits - 1)), 2 ** (self.activation_bits - 1) - 1

    @property
    def input_range(self) -> tuple[int, int]:
        """Allowed input values: token ids, or B-bit input codes."""
        return (0, self.input_size - 1) if self.input_kind == "tokens" else self.state_range

    def _fold(self, values, parity: int, extra_bits: int):
        """Parity-1 codes of parity-0 codes: ⌊v·√2^{−σ}·2^{extra} + 1/2⌋ (identity for parity 0)."""
        if values is None or parity == 0:
            return values
        return np.floor(values * math.sqrt(2.0) ** -self.odd_scale * 2.0 ** extra_bits + 0.5).astype(np.int64)

    def step_params(self, parity: int = 0, frame: bool = False) -> dict:
        """Tables, shifts and output scale of the steps t ≡ parity (mod 2), in the operator's frame when
        ``frame`` (h' = h[p], where W is r·(s ⊙ T): no permutation is left at run time)."""
        g = self.fraction_bits * parity
        rho = self.recurrent_shift + self.odd_scale * parity
        exps = {"input": -g, "recurrent": self.state_exponent - rho, "bias": self.bias_exponent - g,
                "modrelu": self.modrelu_exponent - g}
        if self.modrelu_bias is None:
            del exps["modrelu"]
        acc = min(exps.values())
        shifts = {k: e - acc for k, e in exps.items()} | {"state": self.state_exponent - acc}
        p = self.perm if frame and self.perm is not None else slice(None)
        mod = self._fold(self.modrelu_bias, parity, g)
        return {"input_weight": self._fold(self.input_weight, parity, g)[p],
                "bias": self._fold(self.bias, parity, g)[p], "modrelu_bias": None if mod is None else mod[p],
                "output_weight": self.output_weight[:, p], "output_bias": self._fold(self.output_bias, parity, 0),
                "recurrent_shift": rho, "shifts": shifts,
                "output_scale": self.output_scale * math.sqrt(2.0) ** (self.odd_scale * parity)}

    def quantize_inputs(self, x) -> np.ndarray:
        """Input codes of float features x (…, input_size): sat_B(⌊x·2^{−e_x} + 1/2⌋); token ids pass through."""
        if self.input_kind == "tokens":
            return np.asarray(x, dtype=np.int64)
        return quantize_to_exponent(np.asarray(x, dtype=np.float64), self.input_exponent, self.activation_bits)

    def recurrent_operator(self, parity: int = 0, dtype=torch.float64):
        """W with the scale μ·2^{−ρ_parity} of the steps of that parity, as a recurrent operator (what the
        fake-quantized model steps with, in units of the parity's grid)."""
        from ..operators import DenseOperator, SignedHadamardOperator

        scale = self.recurrent_multiplier * 2.0 ** -self.step_params(parity)["recurrent_shift"]
        if self.kind == "signed-hadamard":
            perm = None if self.perm is None else torch.from_numpy(self.perm)
            return SignedHadamardOperator(torch.tensor(self.signs, dtype=dtype), self.block_size, scale, perm)
        return DenseOperator(torch.tensor(self.recurrent_weight, dtype=dtype) * scale)

    def __call__(self, inputs) -> np.ndarray:
        """Integer outputs of token ids (B, T) or input codes (B, T, input_size) (the NumPy reference)."""
        from .reference import integer_forward

        return integer_forward(self, inputs)

    def scalars(self) -> dict:
        """Every field that is not an array (JSON-serialisable)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ARRAY_FIELDS}

    def arrays(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name in ARRAY_FIELDS and getattr(self, f.name) is not None}


ARRAY_FIELDS = ("input_weight", "bias", "output_weight", "output_bias", "signs", "perm", "recurrent_weight",
                "modrelu_bias")


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
        m = int(facts["block_size"])
        if not np.all(np.abs(signs) == 1) or abs(float(facts["scale"]) * math.sqrt(m) - 1) > 1e-6:
            raise ConfigError("the Hadamard operator's signs are not all ±1 or its scale is not 1/√m; "
                              "cannot export it to integers")
        perm = None if facts["perm"] is None else np.asarray(facts["perm"], dtype=np.int64)
        return {"kind": facts["kind"], "signs": signs.astype(np.int64), "perm": perm, "block_size": m,
                "scale": 2.0 ** (-(m.bit_length() - 1) / 2), "row_sum": m}
    if facts["kind"] == "dense":
        if rnn.recurrent_bits is None:
            raise ConfigError(f"model.recurrent={rnn.recurrent!r} with recurrent_bits=null has a full-precision W; "
                              f"integer export needs hadamard, block-hadamard or a k-bit W (model.recurrent_bits)")
        codes, step = _grid_codes(np.asarray(facts["weight"], dtype=np.float64), rnn.recurrent_bits)
        return {"kind": "dense", "recurrent_weight": codes, "block_size": rnn.hidden_size, "scale": step,
                "row_sum": int(np.abs(codes).sum(1).max())}
    raise ConfigError(f"recurrent operator {facts['kind']!r} has no integer export; allowed: signed-hadamard, dense")


#: How 1/√m is applied when m is an odd power of two: folded into alternating state grids, or a multiply.
ODD_SCALES = ("fold", "multiply")


def _recurrent_scale(rec: dict, odd_scale: str, state_units: float, bits: int, state_exp: int) -> tuple:
    """(μ, ρ, σ): W = μ·2^{−ρ}·(s ⊙ T or W_int) on the parity-0 grid, σ the odd steps' grid (0: none)."""
    if odd_scale not in ODD_SCALES:
        raise ConfigError(f"odd_scale={odd_scale!r} is not allowed; use one of {', '.join(ODD_SCALES)}")
    if rec["kind"] == "signed-hadamard":
        ell = rec["block_size"].bit_length() - 1
        if ell % 2 == 0:
            return 1, ell // 2, 0
        if odd_scale == "fold":  # odd grid √2 finer when its range still covers the state, else √2 coarser
            sigma = -1 if state_units <= (2 ** (bits - 1) - 1) * 2.0 ** state_exp * math.sqrt(0.5) else 1
            return 1, (ell + 1) // 2 if sigma < 0 else (ell - 1) // 2, sigma
    span = max(1, rec["row_sum"]) * 2 ** (bits - 1)
    return (*fixed_point(rec["scale"], min(MULTIPLIER_BITS, EXACT_BITS - 2 - span.bit_length())), 0)


def integer_model(model, calibration, bits: int, odd_scale: str = "fold") -> IntegerModel:
    """The integer model of a trained ``SequenceModel`` for B = ``bits`` activation bits and calibrated
    ranges ``calibration`` (:class:`qornn.export.Calibration`); ``odd_scale`` says how 1/√m is applied for
    an odd power of two m (:data:`ODD_SCALES`)."""
    check_activation_bits(bits)
    rnn = _supported_rnn(model)
    rec = _recurrent_facts(rnn)
    u_codes, u_step = _codes(rnn, "weight_ih_l0", rnn.input_bits)
    v_codes, v_step = _codes(model.output, "weight", model.output_bits)
    tokens = calibration.input_kind == "tokens"
    input_exp = 0 if tokens else power_of_two_exponent(calibration.input_max, bits)
    unit = u_step * 2.0 ** input_exp
    state_exp = power_of_two_exponent(calibration.state_max / unit, bits)
    mult, shift, sigma = _recurrent_scale(rec, odd_scale, calibration.state_max / unit, bits, state_exp)

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
        state_exponent=state_exp, bias_exponent=bias_exp, modrelu_exponent=mod_exp, odd_scale=sigma,
        fraction_bits=0, unit=unit, output_scale=out_scale, input_weight=u_codes, bias=bias,
        output_weight=v_codes, output_bias=np.floor(c / out_scale + 0.5).astype(np.int64), signs=rec.get("signs"),
        perm=rec.get("perm"), recurrent_weight=rec.get("recurrent_weight"), modrelu_bias=mod)
    if sigma:
        spec = replace(spec, fraction_bits=_fraction_bits(spec))
    check_bounds(spec)
    return spec


#: Fewest and most fraction bits g of the odd steps' tables (U·√2^{−σ} to g bits below U's own step).
FRACTION_BITS = (3, 14)


def _fraction_bits(spec: IntegerModel) -> int:
    """g for the odd-step tables: the largest one (up to 14 − p, so that U·√2·2^g fits int16) whose accumulator
    stays below 2^31 (an int32, vectorizable loop), else the largest (an int64 loop)."""
    top = FRACTION_BITS[1] - spec.input_bits
    for g in range(top, FRACTION_BITS[0] - 1, -1):
        if accumulator_bounds(replace(spec, fraction_bits=g))["accumulator"] < 2 ** 31:
            return g
    return top


def accumulator_bounds(spec: IntegerModel) -> dict:
    """Largest magnitudes of the transform, the input projection, the readout and the accumulator (over the
    parities), from the bit widths and the tables."""
    state = 2 ** (spec.activation_bits - 1)
    row = spec.block_size if spec.kind == "signed-hadamard" else int(np.abs(spec.recurrent_weight).sum(1).max())
    out = {"transform": row * state if spec.kind == "signed-hadamard" else 0, "input": 0, "readout": 0,
           "accumulator": 0}
    for parity in range(spec.parities):
        p = spec.step_params(parity)
        sh = p["shifts"]
        u_max = int(np.abs(p["input_weight"]).max(initial=0))
        inputs = u_max * (state * spec.input_size if spec.input_kind == "features" else 1)
        readout = int(np.abs(p["output_weight"]).sum(1).max(initial=0)) * state + int(np.abs(p["output_bias"]).max())
        acc = (spec.recurrent_multiplier * row * state << sh["recurrent"]) + (inputs << sh["input"]) \
            + (int(np.abs(p["bias"]).max(initial=0)) << sh["bias"])
        if p["modrelu_bias"] is not None:
            acc += int(np.abs(p["modrelu_bias"]).max(initial=0)) << sh["modrelu"]
        out = {"transform": out["transform"], "input": max(out["input"], inputs),
               "readout": max(out["readout"], readout), "accumulator": max(out["accumulator"], acc)}
    return out


def check_bounds(spec: IntegerModel) -> None:
    """A ConfigError unless every sum of ``spec`` fits its integer type (int32 transform, input and readout
    sums; the accumulator below 2^52, so that int64 and float64 fake quantization are both exact)."""
    limits = {"transform": 2 ** 31 - 1, "input": 2 ** 31 - 1, "readout": 2 ** 31 - 1, "accumulator": 2 ** EXACT_BITS}
    for what, value in accumulator_bounds(spec).items():
        if value > limits[what]:
            raise ConfigError(f"the {what} can reach {value}, above {limits[what]}: lower --activation-bits "
                              f"(now {spec.activation_bits}) or the bit widths of the weights")
