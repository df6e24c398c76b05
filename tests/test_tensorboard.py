"""train.tensorboard=true: every metrics.jsonl record also lands as scalars in RUN/tensorboard/."""
from __future__ import annotations

import importlib.util

import pytest

from qornn.cli.main import main
from qornn.config import load_config
from qornn.run import read_metrics
from qornn.tensorboard_log import scalars
from qornn.train import train

needs_tensorboard = pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None,
                                       reason='tensorboard is not installed (pip install "qornn[tensorboard]")')
SETS = ["task.seq_len=5", "model.hidden_size=16", "task.n_symbols=2", "task.train_size=64", "task.val_size=32",
        "task.test_size=32", "train.steps=12", "train.batch_size=16", "train.eval_every=4", "train.log_every=2",
        "train.checkpoint_every=4", "train.progress=false", "train.tensorboard=true"]


def read_events(folder) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def expected(run_dir) -> dict[str, list[tuple[int, float]]]:
    out: dict[str, list[tuple[int, float]]] = {}
    for record in read_metrics(run_dir):
        for tag, value in scalars(record).items():
            out.setdefault(tag, []).append((record["step"], value))
    return out


class Interrupt(Exception):
    pass


@needs_tensorboard
def test_event_files_hold_every_metrics_record(tmp_path):
    train(load_config("copy-hadamrnn", SETS), tmp_path / "run", quiet=True)
    events = list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    assert len(events) == 1 and events[0].stat().st_size > 0
    got, want = read_events(tmp_path / "run" / "tensorboard"), expected(tmp_path / "run")
    assert {"train/loss", "train/lr", "train/samples_per_s", "val/loss", "val/accuracy", "test/loss",
            "test/accuracy"} <= set(got)
    assert set(got) == set(want)
    for tag in want:  # float32 in the event file
        assert [s for s, _ in got[tag]] == [s for s, _ in want[tag]], tag
        assert [v for _, v in got[tag]] == pytest.approx([v for _, v in want[tag]], rel=1e-6), tag
    assert [s for s, _ in got["train/loss"]] == [2, 4, 6, 8, 10, 12]
    assert [s for s, _ in got["val/loss"]] == [4, 8, 12]  # two periodic validations and the final one


def raw_events(path) -> list:
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    return list(EventFileLoader(str(path)).Load())


@needs_tensorboard
def test_a_resumed_run_purges_the_events_after_its_checkpoint(tmp_path):
    cfg = load_config("copy-hadamrnn", SETS)

    def stop_at_11(step, loss):
        if step == 11:
            raise Interrupt

    with pytest.raises(Interrupt):  # logged step 10, but the last checkpoint is at step 8
        train(cfg, tmp_path / "run", quiet=True, on_step=stop_at_11, command="first")
    train(None, tmp_path / "run", resume=True, quiet=True, command="resume")
    first, second = sorted((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"),
                           key=lambda f: f.stat().st_mtime)
    loss_steps = lambda events: [e.step for e in events if e.summary.value  # noqa: E731
                                 and e.summary.value[0].tag == "train/loss"]
    assert loss_steps(raw_events(first)) == [2, 4, 6, 8, 10] and loss_steps(raw_events(second)) == [10, 12]
    # the resumed writer starts with a session START at step 9: readers drop the first file's step 10
    start = [e for e in raw_events(second) if e.HasField("session_log")]
    assert [(e.step, e.session_log.status) for e in start] == [(9, 1)]  # 1 = SessionLog.START
    got, want = read_events(tmp_path / "run" / "tensorboard"), expected(tmp_path / "run")
    assert [s for s, _ in got["train/loss"]] == [2, 4, 6, 8, 10, 12]
    assert got["train/loss"] == [(s, pytest.approx(v, rel=1e-6)) for s, v in want["train/loss"]]


def test_missing_tensorboard_package_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    code = main(["train", "--config", "copy-hadamrnn", *[a for s in SETS for a in ("--set", s)], "--out",
                 str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith('qornn: error: train.tensorboard=true needs the tensorboard package; install it with '
                          'pip install "qornn[tensorboard]"')
    assert not (tmp_path / "run").exists()  # refused before the run folder is made
