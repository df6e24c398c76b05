"""Data loaders and data-backed tasks, on tiny files that each test writes itself."""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import re

import numpy as np
import pytest
import torch

from qornn.cli.main import main
from qornn.config import load_config
from qornn.data import DEFAULT_DIR, Vocabulary, data_dir, pad_sequences, tokenize
from qornn.data.download import download_mnist
from qornn.data.glue import load_qqp, load_sst2
from qornn.data.idx import read_idx, write_idx
from qornn.data.imdb import load_imdb
from qornn.data.mnist import load_mnist, pmnist_permutation
from qornn.data.sequences import load_npz, load_uci_har
from qornn.data.paths import LAYOUTS
from qornn.errors import ConfigError, DataError, MissingDataError
from qornn.model import build_model
from qornn.tasks import build_task, task_info
from qornn.train import train

N_TRAIN, N_TEST = 240, 60


# ---- fixture writers ----------------------------------------------------------------------------
def write_mnist(root, gz=True, n_train=N_TRAIN, n_test=N_TEST, seed=0):
    rng = np.random.default_rng(seed)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    arrays = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        write_idx(raw / f"{split}-images-idx3-ubyte{ext}", images)
        write_idx(raw / f"{split}-labels-idx1-ubyte{ext}", labels)
        arrays[split] = (images, labels)
    return arrays


WORDS = ["good", "bad", "great", "awful", "movie", "film", "plot", "acting", "the", "a", "was", "is"]


def fake_reviews(n, seed):
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        label = int(i % 2)
        k = int(rng.integers(3, 40))
        words = list(rng.choice(WORDS[4:], size=k)) + [("great" if label else "awful")] * 2
        texts.append(" ".join(words) + ("!<br />It's fine." if i % 3 == 0 else "."))
        labels.append(label)
    return texts, labels


def write_csv(path, texts, labels, header="text,label"):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(header + "\n")
        for t, y in zip(texts, labels):
            f.write('"' + t.replace('"', '""') + f'",{y}\n')


def write_imdb_csv(root, n_train=200, n_test=60):
    write_csv(root / "imdb" / "train.csv", *fake_reviews(n_train, 1))
    write_csv(root / "imdb" / "test.csv", *fake_reviews(n_test, 2))


def write_sst2(root, n_train=200, n_dev=40):
    folder = root / "SST-2"
    folder.mkdir(parents=True, exist_ok=True)
    for name, n, seed in (("train", n_train, 3), ("dev", n_dev, 4)):
        texts, labels = fake_reviews(n, seed)
        (folder / f"{name}.tsv").write_text("sentence\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in zip(texts, labels)))


def write_npz(path, n_train=160, n_test=40, T=12, F=3, n_classes=4, **extra):
    rng = np.random.default_rng(5)
    y_train = np.arange(n_train) % n_classes
    y_test = np.arange(n_test) % n_classes
    X_train = rng.normal(size=(n_train, T, F)).astype(np.float32) + y_train[:, None, None]
    X_test = rng.normal(size=(n_test, T, F)).astype(np.float32) + y_test[:, None, None]
    arrays = dict(X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test)
    arrays.update(extra)
    np.savez(path, **arrays)
    return arrays


def cfg_for(task, root=None, **over):
    items = [f"task.name={task}", "model.hidden_size=16", "train.steps=3", "train.batch_size=8",
             "train.eval_batch_size=64", "train.progress=false", "train.log_every=1"]
    if root is not None:
        items.append(f"task.data_dir={root}")
    items += [f"{k}={v}" for k, v in over.items()]
    return load_config(None, items)


# ---- data folder ----------------------------------------------------------------------------------
def test_data_dir_order(monkeypatch, tmp_path):
    monkeypatch.setenv("QORNN_DATA", str(tmp_path / "env"))
    assert data_dir(tmp_path / "explicit") == tmp_path / "explicit"
    assert data_dir(None) == tmp_path / "env"
    monkeypatch.delenv("QORNN_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_dir(None) == tmp_path / "home" / ".cache" / "qornn-data"
    assert str(DEFAULT_DIR) == "~/.cache/qornn-data"


def test_missing_data_message_names_files_place_and_remedy(tmp_path):
    with pytest.raises(MissingDataError) as err:
        build_task(cfg_for("pmnist", tmp_path))
    msg = str(err.value)
    assert "MNIST/raw" in msg and str(tmp_path) in msg and "qornn data download mnist" in msg and "\n" not in msg
    assert err.value.dataset == "mnist" and err.value.root == tmp_path


def test_layouts_are_what_the_readers_and_data_check_use(tmp_path, capsys):
    """Each data set's files are listed once (LAYOUTS): the reader finds its files through it, `data check`
    reports them, and the missing-data message names them."""
    write_mnist(tmp_path, gz=False)
    write_sst2(tmp_path)
    (tmp_path / "imdb").mkdir()
    (tmp_path / "imdb" / "train.csv").write_text("text,label\n")  # half of an option is not present
    for name, layout in LAYOUTS.items():
        hit = layout.present(tmp_path)
        assert (hit is not None) == (name in ("mnist", "sst2")), name
        if hit is None:
            with pytest.raises(MissingDataError, match=re.escape(layout.describe())):
                layout.find(tmp_path)
    assert [p.name for p in LAYOUTS["mnist"].find(tmp_path)[1]] == [
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    assert main(["data", "check", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "SST-2/train.tsv, SST-2/dev.tsv" in out and "MNIST/raw/t10k-labels-idx1-ubyte" in out
    assert f"har    missing  looked for {LAYOUTS['har'].describe()}" in out


@pytest.mark.parametrize("name", ["pmnist", "sst2", "imdb", "har"])
def test_task_info_without_data_gives_the_built_tasks_shapes(tmp_path, name):
    """bench's random inputs: the shapes from the config alone equal those of the task built from data
    (vocabulary and length of text tasks: at most the configured ones)."""
    write_mnist(tmp_path, gz=False)
    write_sst2(tmp_path)
    write_imdb_csv(tmp_path)
    (tmp_path / "har").mkdir()
    har = np.random.default_rng(0).normal(size=(20, 128, 9)).astype(np.float32)
    np.savez(tmp_path / "har" / "har.npz", X_train=har, y_train=np.arange(20) % 6, X_test=har[:6], y_test=np.arange(6))
    cfg = cfg_for(name, tmp_path, **({"task.max_len": 40} if name in ("sst2", "imdb") else {}))
    info = task_info(cfg)
    built = build_task(cfg).info
    if name in ("sst2", "imdb"):
        assert built.input_size <= info.input_size == 10_002 and built.seq_len <= info.seq_len == 40
        info = dataclasses.replace(info, input_size=built.input_size, seq_len=built.seq_len)
    assert info == built


def test_task_info_of_synthetic_tasks_is_their_batches_shape():
    for name, length in (("copy", 25), ("adding", 25)):
        cfg = cfg_for(name, None, **{"task.seq_len": length})
        info = task_info(cfg)
        x, _ = build_task(cfg).train_batch(0, 2)
        assert info == build_task(cfg).info and info.seq_len == x.shape[1]


# ---- IDX / MNIST --------------------------------------------------------------------------------
@pytest.mark.parametrize("gz", [True, False])
def test_idx_roundtrip_and_mnist_shapes(tmp_path, gz):
    arrays = write_mnist(tmp_path, gz=gz)
    data = load_mnist(tmp_path)
    assert data["train"][0].shape == (N_TRAIN, 784) and data["test"][0].shape == (N_TEST, 784)
    assert np.array_equal(data["train"][0], arrays["train"][0].reshape(N_TRAIN, 784))
    assert np.array_equal(data["test"][1], arrays["t10k"][1])


def test_idx_bad_magic_and_size(tmp_path):
    bad = tmp_path / "bad-idx3-ubyte"
    bad.write_bytes(b"\x12\x34\x08\x03" + bytes(12))
    with pytest.raises(DataError, match="bad-idx3-ubyte.*magic"):
        read_idx(bad)
    short = tmp_path / "short-idx1-ubyte"
    short.write_bytes(b"\x00\x00\x08\x01" + (10).to_bytes(4, "big") + bytes(7))
    with pytest.raises(DataError, match="short-idx1-ubyte.*10 data bytes.*7"):
        read_idx(short)
    write_idx(tmp_path / "three-idx3-ubyte", np.zeros((2, 3, 3), np.uint8))
    with pytest.raises(DataError, match="3 dimensions; expected 1"):
        read_idx(tmp_path / "three-idx3-ubyte", ndim=1)


def test_mnist_labels_out_of_range_and_count_mismatch(tmp_path):
    write_mnist(tmp_path)
    raw = tmp_path / "MNIST" / "raw"
    write_idx(raw / "t10k-labels-idx1-ubyte.gz", np.full(N_TEST, 12, np.uint8))
    with pytest.raises(DataError, match="label 12 out of range"):
        load_mnist(tmp_path)
    write_idx(raw / "t10k-labels-idx1-ubyte.gz", np.zeros(N_TEST - 1, np.uint8))
    with pytest.raises(DataError, match=f"{N_TEST} images but .* {N_TEST - 1} labels"):
        load_mnist(tmp_path)


def test_pmnist_permutation_is_the_authors(tmp_path):
    perm = pmnist_permutation()
    assert list(perm[:8]) == list(np.random.RandomState(92916).permutation(784)[:8])
    assert sorted(perm) == list(range(784))
    write_mnist(tmp_path)
    s, p = build_task(cfg_for("smnist", tmp_path)), build_task(cfg_for("pmnist", tmp_path))
    xs, ys = next(s.eval_batches("test", 5))
    xp, yp = next(p.eval_batches("test", 5))
    assert xs.shape == (5, 784, 1) and xs.dtype == torch.float32
    assert torch.equal(ys, yp) and torch.equal(xp[:, :, 0], xs[:, perm, 0])
    assert 0.0 <= float(xs.min()) and float(xs.max()) <= 1.0 and float(xs.max()) > 0.9


def test_mnist_split_is_fixed_and_one_sixth(tmp_path):
    arrays = write_mnist(tmp_path)
    a, b = build_task(cfg_for("smnist", tmp_path, seed=1)), build_task(cfg_for("smnist", tmp_path, seed=2))
    assert a.split_size("train") == 200 and a.split_size("val") == 40 and a.split_size("test") == N_TEST
    assert torch.equal(a.splits["val"][0], b.splits["val"][0])  # same split for every run seed
    train_rows = {bytes(r) for r in a.splits["train"][0].numpy()}
    assert not any(bytes(r) in train_rows for r in a.splits["val"][0].numpy())
    assert a.split_size("train") + a.split_size("val") == len(arrays["train"][1])
    with pytest.raises(ConfigError, match="task.val_fraction=1.5"):
        build_task(cfg_for("smnist", tmp_path, **{"task.val_fraction": 1.5}))


def test_download_mnist_from_a_mirror(tmp_path):
    mirror = tmp_path / "mirror"
    write_mnist(mirror, gz=True)
    src = mirror / "MNIST" / "raw"
    md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in src.glob("*.gz")}
    dest = tmp_path / "data"
    download_mnist(dest, mirrors=[(tmp_path / "nowhere").as_uri() + "/", src.as_uri() + "/"], md5=md5,
                   log=lambda s: None)
    assert np.array_equal(load_mnist(dest)["train"][0], load_mnist(mirror)["train"][0])
    assert (dest / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file()  # also unpacked
    with pytest.raises(DataError, match="could not download"):
        download_mnist(tmp_path / "d2", mirrors=[(tmp_path / "nowhere").as_uri() + "/"], md5=md5, log=lambda s: None)


# ---- text -----------------------------------------------------------------------------------------
def test_tokenizer():
    assert tokenize("This movie's GREAT!<br />10/10, don't") == ["this", "movie's", "great", "10", "10", "don't"]


def test_vocabulary_rules():
    vocab = Vocabulary.build([["b", "a", "c", "a"], ["c", "d", "b"]], size=3)
    # counts a=2, b=2, c=2, d=1: ties broken alphabetically; 0 = padding, 1 = unknown
    assert vocab.words == ["a", "b", "c"] and len(vocab) == 5
    assert vocab.encode(["c", "a", "d", "zzz"]) == [4, 2, 1, 1]
    with pytest.raises(ConfigError, match="task.vocab_size=0"):
        Vocabulary.build([["a"]], size=0)


def test_padding_is_in_front_and_cut_keeps_the_end():
    out = pad_sequences([[5, 6], [1, 2, 3, 4, 5]], 3)
    assert out.tolist() == [[0, 5, 6], [3, 4, 5]]
    assert pad_sequences([[]], 2).tolist() == [[0, 0]]


def test_imdb_csv_task(tmp_path):
    write_imdb_csv(tmp_path)
    task = build_task(cfg_for("imdb", tmp_path, **{"task.max_len": 30, "task.vocab_size": 6}))
    assert task.info.loss == "bce" and task.info.output_size == 1 and task.info.padding_idx == 0
    assert task.info.input_size == 8  # 6 words + padding + unknown
    x, y = task.train_batch(0, 8)
    assert x.shape == (8, 30) and x.dtype == torch.int64 and set(y.tolist()) <= {0.0, 1.0}
    assert task.split_size("train") == 200 and task.split_size("val") == 30 and task.split_size("test") == 30
    # pre-padding: a short review ends at the last column
    short = next(i for i, row in enumerate(task.splits["train"][0]) if row[0] == 0)
    assert int(task.splits["train"][0][short, -1]) != 0


def test_imdb_acl_layout_equals_csv(tmp_path):
    texts, labels = fake_reviews(20, 7)
    for split in ("train", "test"):
        for i, (t, y) in enumerate(zip(texts, labels)):
            d = tmp_path / "acl" / "aclImdb" / split / ("pos" if y else "neg")
            d.mkdir(parents=True, exist_ok=True)
            (d / f"{i:03d}_7.txt").write_text(t)
    acl = load_imdb(tmp_path / "acl")
    assert len(acl["train"][0]) == 20 and acl["train"][1].tolist() == [0] * 10 + [1] * 10
    assert sorted(acl["train"][0]) == sorted(texts)


def test_csv_without_label_column_and_bad_label(tmp_path):
    write_csv(tmp_path / "imdb" / "train.csv", ["a b"], [1], header="text,sentiment")
    write_csv(tmp_path / "imdb" / "test.csv", ["a b"], [1])
    with pytest.raises(DataError, match=r"train.csv: no 'label' column"):
        load_imdb(tmp_path)
    write_csv(tmp_path / "imdb" / "train.csv", ["a b", "c"], [1, 7])
    with pytest.raises(DataError, match=r"train.csv:3: label '7' is not allowed"):
        load_imdb(tmp_path)


def test_sst2_task_fits_length_and_tests_on_dev(tmp_path):
    write_sst2(tmp_path)
    data = load_sst2(tmp_path)
    assert len(data["train"][0]) == 200 and len(data["dev"][0]) == 40
    task = build_task(cfg_for("sst2", tmp_path))
    longest = max(len(tokenize(t)) for s in data.values() for t in s[0])
    assert task.splits["train"][0].shape[1] == min(128, longest)
    assert task.split_size("val") == 20 and task.split_size("train") == 180 and task.split_size("test") == 40


def test_qqp_pairs(tmp_path):
    folder = tmp_path / "QQP"
    folder.mkdir()
    rows = "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n" + "".join(
        f"{i}\t{2 * i}\t{2 * i + 1}\tHow do I cook {i}?\tWhat is cooking {i}?\t{i % 2}\n" for i in range(30))
    (folder / "train.tsv").write_text(rows)
    (folder / "dev.tsv").write_text(rows)
    data = load_qqp(tmp_path)
    assert data["train"][0][1] == "How do I cook 1? [SEP] [SEP] What is cooking 1?" and data["train"][1][1] == 1
    assert build_task(cfg_for("qqp", tmp_path)).split_size("test") == 30


# ---- npz and UCI HAR ------------------------------------------------------------------------------
def test_npz_task_shapes_split_and_standardisation(tmp_path):
    write_npz(tmp_path / "mine.npz", classes=np.array(["a", "b", "c", "d"]))
    task = build_task(cfg_for("npz", **{"task.path": str(tmp_path / "mine.npz")}))
    assert task.info.input_size == 3 and task.info.output_size == 4 and task.classes == ["a", "b", "c", "d"]
    assert task.split_size("train") == 144 and task.split_size("val") == 16 and task.split_size("test") == 40
    X = task.splits["train"][0]
    assert torch.allclose(X.mean((0, 1)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(X.std((0, 1), unbiased=False), torch.ones(3), atol=1e-4)


def test_npz_malformed(tmp_path):
    p = tmp_path / "d.npz"
    ragged = np.empty(3, dtype=object)
    ragged[:] = [np.zeros((4, 2)), np.zeros((5, 2)), np.zeros((6, 2))]
    np.savez(p, X_train=ragged, y_train=np.arange(3), X_test=np.zeros((2, 4, 2)), y_test=np.zeros(2, int))
    with pytest.raises(DataError, match=r"d.npz: X_train holds sequences of different lengths"):
        load_npz(p)
    write_npz(p, X_test=np.zeros((5, 9, 3), np.float32), y_test=np.zeros(5, int))
    with pytest.raises(DataError, match=r"X_test has steps×features \(9, 3\) but X_train has \(12, 3\)"):
        load_npz(p)
    write_npz(p, y_test=np.full(40, 9))
    with pytest.raises(DataError, match=r"y_test has labels in \[9, 9\], out of range; labels must lie in 0..3"):
        load_npz(p)
    np.savez(p, X_train=np.zeros((2, 3, 1)), y_train=np.zeros(2, int))
    with pytest.raises(DataError, match="missing array.*X_test, y_test"):
        load_npz(p)
    with pytest.raises(ConfigError, match="task.path"):
        build_task(cfg_for("npz"))


def test_uci_har_layout(tmp_path):
    folder = tmp_path / "UCI HAR Dataset"
    rng = np.random.default_rng(0)
    for split, n in (("train", 30), ("test", 10)):
        sig = folder / split / "Inertial Signals"
        sig.mkdir(parents=True)
        for name in ("body_acc", "body_gyro", "total_acc"):
            for axis in "xyz":
                np.savetxt(sig / f"{name}_{axis}_{split}.txt", rng.normal(size=(n, 128)))
        np.savetxt(folder / split / f"y_{split}.txt", (np.arange(n) % 6) + 1, fmt="%d")
    data, classes = load_uci_har(folder)
    assert data["train"][0].shape == (30, 128, 9) and data["train"][1].tolist()[:7] == [0, 1, 2, 3, 4, 5, 0]
    assert classes[0] == "WALKING"
    task = build_task(cfg_for("har", tmp_path))
    assert task.info.input_size == 9 and task.info.output_size == 6 and task.split_size("val") == 3
    np.savetxt(folder / "test" / "y_test.txt", np.full(10, 7), fmt="%d")
    with pytest.raises(DataError, match="y_test.txt: activity codes in \\[7, 7\\]"):
        load_uci_har(folder)


# ---- models on these tasks ------------------------------------------------------------------------
def test_mean_pooling_ignores_padding(tmp_path):
    write_sst2(tmp_path)
    cfg = cfg_for("sst2", tmp_path, **{"model.embedding_dim": 8, "model.readout": "mean"})
    task = build_task(cfg)
    model = build_model(cfg.model, task.info).eval()
    x, _ = next(task.eval_batches("val", 6))
    states, _ = model.rnn(model.embedding(x))
    feats = model.features(states)
    mask = (x != 0).float().unsqueeze(-1)
    manual = model.output((feats * mask).sum(1) / mask.sum(1))
    assert (x == 0).any() and torch.allclose(model(x), manual, atol=1e-6)
    assert not torch.allclose(model(x), model.output(feats.mean(1)), atol=1e-4)


@pytest.mark.parametrize("task_name", ["smnist", "imdb", "sst2", "har"])
def test_each_task_trains_a_few_steps(tmp_path, task_name):
    root = tmp_path / "data"
    root.mkdir()
    extra = {}
    if task_name == "smnist":
        write_mnist(root, n_train=60, n_test=12)
    elif task_name == "imdb":
        write_imdb_csv(root)
        extra = {"model.embedding_dim": 8, "task.max_len": 40}
    elif task_name == "sst2":
        write_sst2(root)
        extra = {"model.embedding_dim": 8, "model.readout": "mean"}
    else:
        (root / "har").mkdir()
        write_npz(root / "har" / "har.npz")
    steps = []
    summary = train(cfg_for(task_name, root, **extra), tmp_path / "run", quiet=True,
                    on_step=lambda s, loss: steps.append(loss))
    assert summary["steps"] == 3 and len(steps) == 3 and all(np.isfinite(steps))
    assert 0.0 <= summary["test"]["accuracy"] <= 1.0 and np.isfinite(summary["val"]["loss"])


def test_har_learns_an_easy_signal(tmp_path):
    """Class c shifts every feature by c: a few hundred steps must beat chance (25 %) clearly."""
    write_npz(tmp_path / "easy.npz")
    cfg = cfg_for("npz", **{"task.path": str(tmp_path / "easy.npz"), "train.steps": 150, "train.lr": 1e-2,
                            "train.batch_size": 16})
    summary = train(cfg, tmp_path / "run", quiet=True)
    assert summary["test"]["accuracy"] >= 0.6


# ---- command line ---------------------------------------------------------------------------------
def test_cli_malformed_data_is_one_line_exit_2(tmp_path, capsys):
    write_mnist(tmp_path)
    raw = tmp_path / "MNIST" / "raw"
    (raw / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\x01\x02\x03\x04" + bytes(20)))
    code = main(["train", "--config", "pmnist-hadamrnn", "--set", "model.hidden_size=8", "--data-dir", str(tmp_path),
                 "--out", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("qornn: error: ") and err.count("\n") == 1
    assert "train-images-idx3-ubyte.gz" in err and "magic" in err and "Traceback" not in err


def test_cli_seeds_and_data_dir(tmp_path, capsys):
    (tmp_path / "data" / "har").mkdir(parents=True)
    write_npz(tmp_path / "data" / "har" / "har.npz")
    out = tmp_path / "runs"
    code = main(["train", "--config", "har-hadamrnn", "--set", "model.hidden_size=8", "--set", "train.steps=2",
                 "--set", "seed=4", "--seeds", "2", "--data-dir", str(tmp_path / "data"), "--out", str(out), "--quiet"])
    assert code == 0
    seeds = [json.loads((out / f"seed-{s}" / "summary.json").read_text())["seed"] for s in (4, 5)]
    assert seeds == [4, 5]
    assert main(["train", "--resume", str(out), "--quiet"]) == 0  # finished seeds are left alone
    assert main(["train", "--config", "har-hadamrnn", "--seeds", "0", "--out", str(out)]) == 2
    assert "--seeds 0" in capsys.readouterr().err


def test_cli_data_check(tmp_path, capsys):
    write_sst2(tmp_path)
    assert main(["data", "check", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "sst2" in out and "present" in out and "mnist" in out and "missing" in out
    assert main(["data", "download", "cifar", "--data-dir", str(tmp_path)]) == 2


# ---- presets at the paper settings (hadamrnn.md §3.2) -----------------------------------------------
@pytest.mark.parametrize("preset,task,n,batch,epochs,lr,gamma,seed", [
    ("pmnist-hadamrnn", "pmnist", 512, 100, 100, 1e-3, 0.98, 8),  # the released lr (signs frozen)
    ("smnist-hadamrnn", "smnist", 512, 64, 100, 1e-3, 0.98, 68),
    ("imdb-hadamrnn", "imdb", 128, 100, 30, 5e-4, 0.99, 8),
    ("sst2-hadamrnn", "sst2", 128, 100, 30, 5e-4, 0.99, 8),
    ("qqp-block-hadamrnn", "qqp", 512, 20, 50, 5e-4, 0.99, 8),
])
def test_paper_presets(preset, task, n, batch, epochs, lr, gamma, seed):
    cfg = load_config(preset)
    assert (cfg.task.name, cfg.model.hidden_size, cfg.train.batch_size, cfg.train.epochs, cfg.train.lr,
            cfg.train.lr_gamma, cfg.seed) == (task, n, batch, epochs, lr, gamma, seed)
    assert cfg.model.input_bits == cfg.model.output_bits == 4
    # text rows pool over non-padding steps (see the preset description); sequences read the last step
    assert cfg.model.readout == ("mean" if task in ("imdb", "sst2", "qqp") else "last")
    assert cfg.train.schedule == "step" and cfg.train.lr_step_epochs == 1
    if task in ("imdb", "sst2", "qqp"):
        assert cfg.model.embedding_dim == (512 if task == "imdb" else 256)
        assert cfg.task.max_len == (500 if task == "imdb" else 128) and cfg.task.vocab_size == 10_000
    if task == "qqp":
        assert cfg.model.recurrent == "block-hadamard" and cfg.model.block_size == 128
