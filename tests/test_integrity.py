"""Config limits table, checksummed files, stored-config checks, strict JSON and reads during writes."""
from __future__ import annotations

import json
import threading

import pytest
import torch

from qornn import checkpoint, jsonio
from qornn.config import LIMITS, config_differences, config_to_dict, field_types, load_config
from qornn.errors import CheckpointError, ConfigError


def test_config_limits_cover_every_numeric_key():
    numeric = {k for k, t in field_types().items() if "int" in t or "float" in t}
    assert numeric == set(LIMITS)


@pytest.mark.parametrize("key", sorted(LIMITS))
def test_every_limited_key_refuses_nan_and_infinity_and_accepts_its_default(key):
    for bad in ("nan", "inf", "-inf"):
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            load_config(None, [f"{key}={bad}"])
    load_config(None, [])  # the defaults are inside the limits


def test_preset_values_are_inside_the_limits():
    from qornn.config import list_presets

    for name in list_presets():
        load_config(name)


def test_config_differences_name_keys_and_ignore_free_ones():
    cfg = load_config(None, ["model.weight_bits=2", "train.steps=7", "description=x"])
    stored = config_to_dict(load_config(None, []))
    diffs = config_differences(stored, cfg)
    assert any(d.startswith("model.weight_bits: 2 in config.yaml, 4 stored") for d in diffs)
    assert not any(d.startswith(("train.steps", "description")) for d in diffs)  # extendable / free keys
    del stored["train"]["sign_rule"]  # a config stored by an older version: missing keys count as defaults
    assert config_differences(stored, load_config(None, [])) == []


def _model():
    torch.manual_seed(0)
    return torch.nn.Linear(3, 2)


def test_checksum_covers_tensors_and_metadata(tmp_path):
    path = tmp_path / "m.safetensors"
    checkpoint.save_model(path, _model(), {"step": 3, "config": {"seed": 1}})
    tensors, meta = checkpoint.read_tensors(path)
    assert meta["format"] == checkpoint.FORMAT and len(meta["sha256"]) == 64
    assert checkpoint.digest(tensors, meta) == meta["sha256"]
    meta2 = {**meta, "step": "4"}
    assert checkpoint.digest(tensors, meta2) != meta["sha256"]
    tensors2 = {**tensors, "model/bias": tensors["model/bias"].clone().add_(1e-7)}
    assert checkpoint.digest(tensors2, meta) != meta["sha256"]


def test_legacy_files_without_checksum_still_load(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "old.safetensors"
    model = _model()
    save_file({f"model/{k}": v.contiguous() for k, v in model.state_dict().items()}, str(path),
              metadata={"format": "qornn-checkpoint-1", "kind": "model", "step": "1"})
    other = torch.nn.Linear(3, 2)
    checkpoint.load_model(path, other)
    assert torch.equal(other.weight, model.weight)


def test_reads_never_see_a_half_replaced_checkpoint(tmp_path):
    """A writer replaces the file continuously; every read gets one whole version (checksum valid)."""
    path = tmp_path / "last.safetensors"
    model = torch.nn.Linear(64, 64)
    checkpoint.save_model(path, model)
    stop = threading.Event()

    def writer():
        while not stop.is_set():
            with torch.no_grad():
                model.weight.add_(1.0)
            checkpoint.save_model(path, model)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        versions = set()
        for _ in range(200):
            tensors, _ = checkpoint.read_tensors(path)
            versions.add(float(tensors["model/weight"][0, 0]))
    finally:
        stop.set()
        thread.join()
    assert len(versions) > 1  # the file really changed under the reader


def test_strict_json_helpers(tmp_path):
    text = jsonio.dumps({"a": [1.0, float("inf")], "b": {"c": float("-inf")}})
    data = json.loads(text, parse_constant=lambda c: pytest.fail(c))
    assert data == {"a": [1.0, None], "b": {"c": None}, "non_finite": {"a[1]": "inf", "b.c": "-inf"}}
    path = tmp_path / "s.json"
    path.write_text('{"steps": 1.5}')
    with pytest.raises(CheckpointError, match="key 'steps' is float"):
        jsonio.read_object(path, {"steps": int})
    path.write_text('{"steps": true}')
    with pytest.raises(CheckpointError, match="expected int"):
        jsonio.read_object(path, {"steps": int})
