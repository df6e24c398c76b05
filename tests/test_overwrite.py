"""--overwrite deletes only run folders that qornn created, and replaces them only once the new one exists."""
import os
from pathlib import Path

import pytest

from qornn import run as rundir
from qornn.cli.main import main
from qornn.errors import ConfigError

FAST = ["--set", "task.seq_len=5", "--set", "model.hidden_size=16", "--set", "train.steps=2",
        "--set", "train.batch_size=8", "--set", "task.val_size=16", "--set", "task.test_size=16",
        "--set", "train.progress=false", "--quiet"]


def train(out, *extra):
    return main(["train", "--config", "copy-hadamrnn", *FAST, *extra, "--out", str(out)])


def listing(folder: Path) -> set:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def test_new_run_carries_marker_and_can_be_overwritten(tmp_path):
    out = tmp_path / "run"
    assert train(out) == 0
    first = (out / rundir.MARKER).read_text()
    assert rundir.has_marker(out)
    assert train(out, "--set", "seed=3", "--overwrite") == 0
    assert (out / rundir.MARKER).read_text() != first  # a new run id
    assert "seed: 3" in (out / "config.yaml").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no staging or old folder left beside it


def test_overwrite_refuses_foreign_folder_with_config(tmp_path, capsys):
    foreign = tmp_path / "model"
    foreign.mkdir()
    for name in ("config.yaml", "pytorch_model.bin", "README.md"):
        (foreign / name).write_text("mine")
    before = listing(tmp_path)
    assert train(foreign, "--overwrite") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refuses to delete" in err and "nothing was deleted" in err
    assert listing(tmp_path) == before


def test_overwrite_refuses_current_folder_and_parents(tmp_path, monkeypatch, capsys):
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    (project / "config.yaml").write_text("x: 1")
    (project / rundir.MARKER).write_text(rundir.marker_text())  # even a marked folder
    monkeypatch.chdir(project / "sub")
    (project / "sub" / "keep.txt").write_text("keep")
    before = listing(tmp_path)
    for target in (".", "..", str(project)):
        assert train(target, "--overwrite") == 2
        assert "refuses to delete" in capsys.readouterr().err
    assert listing(tmp_path) == before


def test_overwrite_refuses_symlink_to_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert train(out) == 0
    link = tmp_path / "link"
    os.symlink(out, link)
    before = listing(tmp_path)
    assert train(link, "--overwrite") == 2
    assert "symbolic link" in capsys.readouterr().err
    assert listing(tmp_path) == before


def test_failed_replacement_leaves_old_run_intact(tmp_path, monkeypatch):
    out = tmp_path / "run"
    assert train(out) == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    real_replace = os.replace

    def failing_replace(src, dst):
        if Path(src).name.startswith(".run.qornn-new-"):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(rundir.os, "replace", failing_replace)
    with pytest.raises(ConfigError, match="No space left"):
        rundir.create_run_dir(out, True, {"config.yaml": "seed: 1\n"})
    monkeypatch.undo()
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
