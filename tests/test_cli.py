import json

import pytest

from qornn.cli.main import main

FAST = ["--set", "task.seq_len=5", "--set", "model.hidden_size=16", "--set", "train.steps=4",
        "--set", "train.batch_size=8", "--set", "task.val_size=16", "--set", "task.test_size=16",
        "--set", "train.progress=false"]


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", "--config", "copy-hadamrnn", *FAST, "--out", str(out), "--quiet"]) == 0
    return out


def test_presets_lists_shipped_presets(capsys):
    code, out, _ = run_cli(capsys, "presets")
    assert code == 0 and "copy-hadamrnn" in out and "copy-block-hadamrnn" in out


def test_eval_prints_json(trained, capsys):
    code, out, _ = run_cli(capsys, "eval", str(trained), "--split", "test")
    data = json.loads(out)
    assert code == 0 and data["split"] == "test" and data["loss"] > 0 and "accuracy" in data and "baseline" in data


def test_info_json_keys(trained, capsys):
    code, out, _ = run_cli(capsys, "info", str(trained), "--json")
    data = json.loads(out)
    assert code == 0
    w = data["weights"]["rnn.weight_hh_l0"]
    assert w["bits"] == 16 and w["distinct_values"] == 2 and w["orthogonality_error"] < 1e-5
    for entry in data["weights"].values():
        assert {"shape", "bits", "distinct_values", "zero_fraction"} <= set(entry)
    assert data["total_bits"] == sum(e["bits"] for e in data["weights"].values())
    # U: 16x10 at 4 bits + 32-bit scale; V: 9x16 at 4 bits + scale; biases 32-bit
    assert data["total_bits"] == 16 + (160 * 4 + 32) + (144 * 4 + 32) + 32 * 16 + 32 * 9
    code, out, _ = run_cli(capsys, "info", str(trained))
    assert code == 0 and "rnn.weight_hh_l0" in out


def test_resume_of_a_finished_run_is_a_no_op(trained, capsys):
    def contents():
        return {p.relative_to(trained): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(trained.rglob("*"))
                if p.is_file() and p.name != ".qornn-lock"}

    before = contents()
    code, _, err = run_cli(capsys, "train", "--resume", str(trained), "--quiet")
    assert code == 0 and err == ""
    assert contents() == before  # no file written, rewritten or added: nothing trained, nothing saved


@pytest.mark.parametrize("args,needle", [
    (["--set", "model.hidden_size=100"], "hidden_size=100"),
    (["--set", "model.recurrent=block-hadamard", "--set", "model.block_size=3"], "block_size=3"),
    (["--set", "model.recurrent=block-hadamard", "--set", "model.block_size=32"], "block_size=32"),
    (["--set", "model.weight_bits=9"], "weight_bits=9"),
    (["--set", "model.input_bits=0"], "input_bits=0"),
    (["--set", "model.nope=1"], "model.nope"),
    (["--set", "model.hidden_size=abc"], "abc"),
    (["--set", "train.optimizer=adamx"], "adamx"),
    (["--set", "model.recurrent=lstmx"], "lstmx"),
])
def test_bad_config_values_give_one_line_errors(tmp_path, capsys, args, needle):
    code, _, err = run_cli(capsys, "train", "--config", "copy-hadamrnn", *FAST, *args, "--out", str(tmp_path / "r"))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qornn: error:") and needle in lines[0], err
    assert "Traceback" not in err
    assert not (tmp_path / "r").exists()  # a refused config leaves no folder behind


def test_unknown_preset(tmp_path, capsys):
    code, _, err = run_cli(capsys, "train", "--config", "nope", "--out", str(tmp_path / "r"))
    assert code == 2 and "unknown preset 'nope'" in err and len(err.strip().splitlines()) == 1


def test_resume_folder_without_run(tmp_path, capsys):
    code, _, err = run_cli(capsys, "train", "--resume", str(tmp_path))
    assert code == 2 and "holds no qornn run" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(capsys, "eval", str(tmp_path / "missing"))
    assert code == 2 and "does not exist" in err


def test_corrupted_checkpoint_cli(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--config", "copy-hadamrnn", *FAST, "--out", str(out), "--quiet"]) == 0
    (out / "checkpoints" / "last.safetensors").write_bytes(b"\x00garbage")
    (out / "model.safetensors").write_bytes(b"not a safetensors file")
    code, _, err = run_cli(capsys, "train", "--resume", str(out))
    assert code == 2 and "corrupted" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(capsys, "eval", str(out))
    assert code == 2 and "corrupted" in err


def test_existing_out_dir_is_protected(trained, capsys):
    code, _, err = run_cli(capsys, "train", "--config", "copy-hadamrnn", *FAST, "--out", str(trained))
    assert code == 2 and "--resume" in err
    assert (trained / "model.safetensors").is_file()


def test_overwrite_refuses_non_run_folder(tmp_path, capsys):
    (tmp_path / "precious.txt").write_text("keep me")
    code, _, err = run_cli(capsys, "train", "--config", "copy-hadamrnn", *FAST, "--out", str(tmp_path), "--overwrite")
    assert code == 2 and (tmp_path / "precious.txt").read_text() == "keep me"
