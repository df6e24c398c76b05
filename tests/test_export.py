"""Integer deployment (qornn.export): the integer reference against the fake-quantized PyTorch model, the
generated C against the reference (compiled with -Werror), the packed file, and the command line."""
from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from qornn.errors import CheckpointError, ConfigError
from qornn.export import IntegerExactModel, calibrate, integer_forward, integer_model
from qornn.export.c_build import CFLAGS, find_compiler, random_inputs, verify_c
from qornn.export.c_code import c_sources, write_c
from qornn.export.integer_model import fixed_point
from qornn.export.packed import load_packed, pack_bits, save_packed, unpack_bits
from qornn.export.reference import fwht_blocks
from qornn.hadamard import block_sylvester
from qornn.model import OrthoRNN, SequenceModel
from qornn.size import model_size

NO_CC = find_compiler() is None
needs_cc = pytest.mark.skipif(NO_CC, reason="no C compiler (cc / $CC) on this machine")

# name: (recurrent, OrthoRNN keyword arguments, token inputs, readout)
FAMILIES = {
    "hadamrnn": ("hadamard", {}, True, "all"),
    "block-hadamrnn-perm": ("block-hadamard", {"scheme_options": {"block_size": 8, "permute_blocks": True,
                                                                  "permute_seed": 5}}, False, "all"),
    "qornn-modrelu": ("bjorck", {"recurrent_bits": 5, "linear_recurrence": False, "nonlinearity": "modrelu"},
                      False, "last"),
    "qornn-radius": ("bjorck", {"recurrent_bits": 3, "recurrent_rescale": "radius", "linear_recurrence": False,
                                "nonlinearity": "modrelu"}, False, "last"),
    "qornn-relu": ("dense", {"recurrent_bits": 4, "linear_recurrence": False, "nonlinearity": "relu"}, True, "all"),
}


class RandomTask:
    """train_batch(step, batch) of random tokens or features (what calibrate reads)."""

    def __init__(self, tokens: bool, input_size: int):
        self.tokens, self.input_size = tokens, input_size

    def train_batch(self, step, batch_size):
        g = torch.Generator().manual_seed(step)
        if self.tokens:
            return torch.randint(0, self.input_size, (batch_size, 12), generator=g), None
        return torch.randn(batch_size, 12, self.input_size, generator=g), None


def build(family: str, n: int, bits: int = 8):
    """(model, integer model, float inputs x) of a random model of ``family`` with hidden size n."""
    recurrent, kwargs, tokens, readout = FAMILIES[family]
    torch.manual_seed(n)
    d_in = 6 if tokens else 3
    rnn = OrthoRNN(d_in, n, recurrent, input_bits=4, **kwargs)
    if hasattr(rnn.activation, "bias"):
        torch.nn.init.uniform_(rnn.activation.bias, -0.3, 0.1)
    model = SequenceModel(rnn, 5, output_bits=4, readout=readout).eval()
    task = RandomTask(tokens, d_in)
    spec = integer_model(model, calibrate(model, task, batches=2, batch_size=4), bits)
    x = task.train_batch(0, 4)[0]  # a calibration batch: inside the calibrated ranges
    return model, spec, x


def integer_inputs(spec, x):
    return spec.quantize_inputs(x.numpy())


# ---- arithmetic pieces --------------------------------------------------------------------------------
def test_fixed_point_is_exact_for_powers_of_two_and_close_otherwise():
    assert fixed_point(2.0 ** -3) == (1, 3) and fixed_point(1.0) == (1, 0)
    mult, shift = fixed_point(2 ** -4.5)
    assert mult < 2 ** 24 and abs(mult * 2.0 ** -shift / 2 ** -4.5 - 1) < 2 ** -23


def test_fwht_blocks_is_the_block_sylvester_product():
    x = np.random.default_rng(0).integers(-50, 50, size=(3, 16))
    for m in (1, 2, 8, 16):
        s = block_sylvester(16, m, dtype=torch.float64).numpy().astype(np.int64)
        assert np.array_equal(fwht_blocks(x, m), x @ s)


@pytest.mark.parametrize("bits", [1, 2, 4, 9, 12, 16, 32])
def test_pack_bits_round_trip(bits):
    rng = np.random.default_rng(bits)
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    v = rng.integers(lo, hi + 1, size=37)
    assert np.array_equal(unpack_bits(pack_bits(v, bits), v.size, bits), v)
    assert pack_bits(v, bits).size == (37 * bits + 7) // 8
    u = rng.integers(0, 2 ** bits, size=37)
    assert np.array_equal(unpack_bits(pack_bits(u, bits), u.size, bits, signed=False), u)


# ---- reference == fake-quantized PyTorch model, and close to the float model at high bits ------------
@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("bits,n", [(4, 32), (8, 32), (16, 32), (12, 8), (12, 512)])
def test_reference_equals_fake_quantized_model(family, bits, n):
    model, spec, x = build(family, n, bits)
    fake = IntegerExactModel(spec)
    ref = integer_forward(spec, integer_inputs(spec, x))
    assert ref.dtype == np.int64
    assert np.array_equal(ref, fake.integer_outputs(x).numpy().astype(np.int64))
    assert np.all(fake.integer_outputs(x).numpy() == ref)  # integer-valued floats, no rounding anywhere


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_16_bit_activations_track_the_float_model(family):
    model, spec, x = build(family, 64, 16)
    with torch.no_grad():
        want = model(x)
    got = IntegerExactModel(spec)(x)
    assert float((got - want).abs().max()) < 0.02 * float(want.abs().max())


def test_fewer_bits_give_larger_errors():
    model, spec, x = build("hadamrnn", 64, 16)
    with torch.no_grad():
        want = model(x)
    errors = [float((IntegerExactModel(build("hadamrnn", 64, b)[1])(x) - want).abs().mean()) for b in (4, 8, 16)]
    assert errors[0] > errors[1] > errors[2]


def test_block_permutation_is_folded_into_the_frame():
    _, spec, x = build("block-hadamrnn-perm", 32)
    assert spec.perm is not None and not np.array_equal(spec.perm, np.arange(32))
    frame = spec.step_params(0, frame=True)
    assert np.array_equal(frame["input_weight"], spec.input_weight[spec.perm])


# ---- C: compiled with -Werror, bit for bit against the reference -----------------------------------
@needs_cc
@pytest.mark.parametrize("family,n", [("hadamrnn", 8), ("hadamrnn", 64), ("hadamrnn", 512), ("block-hadamrnn-perm", 8),
                                      ("block-hadamrnn-perm", 64), ("block-hadamrnn-perm", 512), ("qornn-modrelu", 8),
                                      ("qornn-relu", 64), ("qornn-modrelu", 512)])
def test_generated_c_matches_reference(family, n, tmp_path):
    _, spec, _ = build(family, n, 12 if n < 512 else 16)
    write_c(spec, tmp_path)
    steps = 30 if n < 512 else 8
    result = verify_c(spec, tmp_path, sequences=3, steps=steps, seed=n)
    assert "-Werror" in CFLAGS and "-std=c99" in CFLAGS
    assert result["mismatches"] == 0 and result["outputs"] == 3 * (steps if spec.readout == "all" else 1) * 5


@needs_cc
@pytest.mark.parametrize("m,input_bits", [(1, 4), (2, 1), (4, 2)])
def test_generated_c_small_blocks_and_ternary_u(m, input_bits, tmp_path):
    """Block sizes without full transform stages (m = 1, 2, 4) and a ternary U, bit for bit."""
    rnn = OrthoRNN(5, 16, "block-hadamard", input_bits=input_bits, scheme_options={"block_size": m})
    model = SequenceModel(rnn, 4, output_bits=4).eval()
    spec = integer_model(model, calibrate(model, RandomTask(True, 5), 2, 4), 10)
    write_c(spec, tmp_path)
    assert verify_c(spec, tmp_path, sequences=2, steps=20)["mismatches"] == 0


def test_generated_c_has_no_float_malloc_or_libm():
    _, spec, _ = build("block-hadamrnn-perm", 64)
    code = c_sources(spec)["model.c"]
    body = code.split("qnn_requires_arithmetic_shift", 1)[1]
    for word in ("float", "double", "malloc", "math.h", "#include <stdio.h>"):
        assert word not in body
    assert "qnn_fwht" in code and "qnn_sign_mask" in code


def test_odd_power_scale_is_folded_into_two_grids_or_a_multiplier():
    model, spec, x = build("block-hadamrnn-perm", 32, 12)  # m = 8 = 2^3: 1/sqrt(8) is not a power of two
    assert spec.parities == 2 and spec.recurrent_multiplier == 1 and spec.odd_scale in (-1, 1)
    p0, p1 = spec.step_params(0), spec.step_params(1)
    assert p1["recurrent_shift"] == p0["recurrent_shift"] + spec.odd_scale
    ratio = p1["input_weight"] / (spec.input_weight * 2.0 ** spec.fraction_bits + 1e-300)
    used = spec.input_weight != 0
    assert np.allclose(ratio[used], np.sqrt(2.0) ** -spec.odd_scale, rtol=2 ** -(spec.fraction_bits - 1))
    other = integer_model(model, calibrate(model, RandomTask(False, 3), 2, 4), 12, odd_scale="multiply")
    assert other.parities == 1 and other.recurrent_multiplier > 1
    with torch.no_grad():
        want = model(x)
    for s in (spec, other):  # both close to the float model; the reference equals the fake-quantized model
        assert float((IntegerExactModel(s)(x) - want).abs().max()) < 0.05 * float(want.abs().max())
        assert np.array_equal(integer_forward(s, integer_inputs(s, x)), IntegerExactModel(s).integer_outputs(x).numpy())


@needs_cc
def test_saturation_is_exercised_and_still_exact(tmp_path):
    _, spec, _ = build("qornn-relu", 16, 4)
    spec = dataclasses.replace(spec, state_exponent=spec.state_exponent - 3)  # a range 8x too small: saturates
    write_c(spec, tmp_path)
    x = random_inputs(spec, 4, 40, seed=1)
    frame = spec.step_params(0, frame=True)
    from qornn.export.reference import integer_step
    a = np.zeros((4, 16), dtype=np.int64)
    hits = 0
    for t in range(40):
        a = integer_step(spec, frame, a, x[:, t])
        hits += int((np.abs(a) == 2 ** 3).sum() + (a == 2 ** 3 - 1).sum())
    assert hits > 0
    assert verify_c(spec, tmp_path, sequences=4, steps=40, seed=1)["mismatches"] == 0


# ---- packed file ------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("n", [8, 64, 512])
def test_packed_round_trip_and_size_rule(family, n, tmp_path):
    model, spec, x = build(family, n, 12)
    path = tmp_path / "model.qnn"
    size = save_packed(spec, path)
    loaded = load_packed(path)
    xi = integer_inputs(spec, x)
    assert np.array_equal(loaded(xi), spec(xi))
    for name, values in spec.arrays().items():
        assert np.array_equal(loaded.arrays()[name], values), name
    assert loaded.scalars() == spec.scalars()
    counted = model_size(model, 12)["total_bits"] / 8
    assert size == path.stat().st_size and abs(size - counted) <= 1024


def test_packed_file_damage_is_detected(tmp_path):
    _, spec, _ = build("hadamrnn", 16)
    path = tmp_path / "m.qnn"
    save_packed(spec, path)
    data = path.read_bytes()
    cases = {"truncated": data[:-7], "header only": data[:40], "flipped": data[:-3] + bytes([data[-3] ^ 1]) + data[-2:],
             "empty": b"", "text": b"not a model"}
    for name, damaged in cases.items():
        bad = tmp_path / f"{name}.qnn"
        bad.write_bytes(damaged)
        with pytest.raises(CheckpointError):
            load_packed(bad)


def test_unsupported_models_are_config_errors():
    rnn = OrthoRNN(4, 16, "bjorck", input_bits=4)  # full-precision W
    model = SequenceModel(rnn, 3, output_bits=4).eval()
    cal = calibrate(model, RandomTask(False, 4), batches=1, batch_size=2)
    with pytest.raises(ConfigError, match="full-precision W"):
        integer_model(model, cal, 8)
    with pytest.raises(ConfigError, match="activation-bits"):
        integer_model(build("hadamrnn", 16)[0], cal, 3)
    fp_u = SequenceModel(OrthoRNN(4, 16, "hadamard"), 3, output_bits=4).eval()
    with pytest.raises(ConfigError, match="input_bits"):
        integer_model(fp_u, cal, 8)


def test_integer_inputs_out_of_range_are_shape_errors():
    _, spec, _ = build("hadamrnn", 16)
    from qornn.errors import ShapeError
    with pytest.raises(ShapeError):
        spec(np.full((1, 3), 99))


# ---- command line -----------------------------------------------------------------------------------
FAST = ["--set", "task.seq_len=5", "--set", "model.hidden_size=16", "--set", "train.steps=4", "--set",
        "train.batch_size=8", "--set", "task.val_size=16", "--set", "task.test_size=16", "--set",
        "train.progress=false"]


def run_cli(capsys, *argv):
    from qornn.cli.main import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err):
    return code == 2 and err.startswith("qornn: error: ") and err.count("\n") == 1 and "Traceback" not in err


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from qornn.cli.main import main

    root = tmp_path_factory.mktemp("export")
    assert main(["train", "--config", "copy-hadamrnn", *FAST, "--quiet", "--out", str(root / "run")]) == 0
    assert main(["quantize", str(root / "run"), "--activation-bits", "10", "--calibration-batches", "2",
                 "--out", str(root / "run-a10"), "--quiet"]) == 0
    return root


def test_cli_quantize_eval_info_export(runs, capsys):
    rec = json.loads((runs / "run-a10" / "activations.json").read_text())
    assert rec["activation_bits"] == 10 and rec["calibration"]["batches"] == 2 and rec["calibration"]["state_max"] > 0
    code, out, _ = run_cli(capsys, "eval", runs / "run-a10")
    data = json.loads(out)
    assert code == 0 and data["integer_exact"] and data["activation_bits"] == 10 and data["loss"] > 0
    code, out, _ = run_cli(capsys, "info", runs / "run-a10", "--json")
    info = json.loads(out)
    assert code == 0 and info["activation_bits"] == 10 and info["weights"]["rnn.bias_hh_l0"]["bits"] == 160
    code, out, _ = run_cli(capsys, "export", runs / "run-a10", "--format", "packed", "--out", runs / "m.qnn",
                           "--verify", 2)
    assert code == 0 and "mismatches: 0" in out
    assert abs((runs / "m.qnn").stat().st_size - info["total_bits"] / 8) <= 1024


@needs_cc
def test_cli_export_c_verify(runs, capsys):
    code, out, _ = run_cli(capsys, "export", runs / "run-a10", "--format", "c", "--out", runs / "c", "--verify", 3,
                           "--verify-steps", 20)
    assert code == 0 and "mismatches: 0" in out and "code " in out and "RAM " in out
    assert {p.name for p in (runs / "c").iterdir()} >= {"model.h", "model.c", "main.c"}


@pytest.mark.parametrize("case", ["bits-low", "bits-high", "no-calibration", "corrupt-packed", "truncated-packed",
                                  "fp-w"])
def test_cli_bad_input_is_one_line_exit_2(runs, capsys, case, tmp_path):
    from qornn.cli.main import main

    if case.startswith("bits"):
        argv = ["quantize", runs / "run", "--activation-bits", 3 if case == "bits-low" else 17, "--out", tmp_path / "q"]
    elif case == "no-calibration":
        argv = ["export", runs / "run", "--format", "c", "--out", tmp_path / "c"]
    elif case.endswith("packed"):
        save_packed(build("hadamrnn", 16)[1], tmp_path / "m.qnn")
        data = (tmp_path / "m.qnn").read_bytes()
        (tmp_path / "m.qnn").write_bytes(data[:-5] if case.startswith("trunc") else data[:-9] + b"\xff" + data[-8:])
        argv = ["export", tmp_path / "m.qnn", "--format", "c", "--out", tmp_path / "c"]
    else:
        assert main(["train", "--config", "copy-hadamrnn", *FAST, "--set", "model.recurrent=bjorck", "--set", "train.sign_rule=ste", "--quiet",
                     "--out", str(tmp_path / "fp")]) == 0
        capsys.readouterr()
        argv = ["quantize", tmp_path / "fp", "--activation-bits", 8, "--out", tmp_path / "q"]
    code, _, err = run_cli(capsys, *argv)
    assert one_line_error(code, err), err
    assert not (tmp_path / "q").exists() and not (tmp_path / "c" / "model.c").exists()


def test_cli_quantize_without_its_training_data_is_one_line_exit_2(capsys, tmp_path):
    """Calibration reads training batches: a run whose data file is gone cannot be calibrated."""
    from qornn.cli.main import main

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 6, 3)), rng.integers(0, 3, 64)
    data = tmp_path / "d.npz"
    np.savez(data, X_train=x, y_train=y, X_test=x[:16], y_test=y[:16])
    assert main(["train", "--config", "copy-hadamrnn", *FAST, "--set", "task.name=npz", "--set", f"task.path={data}",
                 "--quiet", "--out", str(tmp_path / "run")]) == 0
    data.unlink()
    capsys.readouterr()
    code, _, err = run_cli(capsys, "quantize", tmp_path / "run", "--activation-bits", 8, "--out", tmp_path / "q")
    assert one_line_error(code, err) and str(data) in err, err
    assert not (tmp_path / "q").exists()


@pytest.mark.skipif(not all(shutil.which(t) for t in ("arm-none-eabi-gcc", "arm-none-eabi-size", "qemu-system-arm")),
                    reason="no ARM toolchain / QEMU (make mcu-check installs them)")
def test_mcu_check_with_a_relative_out_folder(tmp_path):
    """tools/mcu_check.py (make mcu-check) on a packed file, its default kind of --out (relative), bit for bit."""
    save_packed(build("hadamrnn", 16, 10)[1], tmp_path / "m.qnn")
    tool = Path(__file__).resolve().parents[1] / "tools" / "mcu_check.py"
    done = subprocess.run([sys.executable, str(tool), "m.qnn", "--sequences", "1", "--steps", "6", "--out", "b/mcu"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("| m.qnn"))
    assert row.split("|")[2].strip().startswith("30 (1 x 6 steps)") and row.split("|")[3].strip() == "0", row
    assert (tmp_path / "b" / "mcu" / "model0" / "fw.elf").is_file()
