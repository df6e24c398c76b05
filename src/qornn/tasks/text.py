"""Binary text classification: IMDB reviews, GLUE SST-2 sentences and QQP question pairs.

Texts become token ids with :mod:`qornn.data.text` (regex tokenizer; the
``task.vocab_size`` most frequent training words, 0 = padding, 1 = unknown; pre-padded
and cut to ``task.max_len`` keeping the last words).  One logit, BCE loss, accuracy.

Splits:

* ``imdb`` (defaults: 10,000 words, length 500): train = the training file; the test file is
  shuffled with a fixed seed and halved, first half = test, second half = validation (the
  HadamRNN authors' split of the 25,000 official test reviews).
* ``sst2`` (defaults: 10,000 words, length ≤ 128) and ``qqp`` (length ≤ 128): validation =
  a fixed random ``task.val_fraction`` (default 10 %) of train.tsv; test = GLUE's dev.tsv
  (GLUE's test labels are hidden).  Sequences are padded to the longest text when it is
  shorter than the maximal length.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ..data import data_dir, encode_corpus
from ..data.glue import load_qqp, load_sst2
from ..data.imdb import load_imdb
from ..data.splits import halves, train_val_split
from ..errors import DataError
from .base import ArrayTask, TaskInfo


#: Default ``task.max_len`` per task (GLUE's sequences are cut to the longest text when shorter).
DEFAULT_LENGTH = {"imdb": 500, "sst2": 128, "qqp": 128}
DEFAULT_VOCABULARY = 10_000


def text_info(name: str, cfg) -> TaskInfo:
    """Token ids below vocabulary + 2 (padding 0, unknown 1), one logit; the longest length (no data needed)."""
    return TaskInfo(input_kind="tokens", input_size=(cfg.task.vocab_size or DEFAULT_VOCABULARY) + 2, output_size=1,
                    many_to_many=False, loss="bce", padding_idx=0, seq_len=cfg.task.max_len or DEFAULT_LENGTH[name])


def _text_task(name, cfg, train, others, fit_length):
    classes = np.unique(train[1])
    if len(classes) < 2:
        raise DataError(f"{name}: every training text has label {int(classes[0]) if len(classes) else '-'}; "
                        f"binary classification needs both labels 0 and 1 in the training split")
    longest = text_info(name, cfg)
    texts = {k: v[0] for k, v in others.items()}
    vocab, ids = encode_corpus(train[0], texts, cfg.task.vocab_size or DEFAULT_VOCABULARY, longest.seq_len,
                               fit_length=fit_length)
    labels = {"train": train[1], **{k: v[1] for k, v in others.items()}}
    splits = {k: (torch.from_numpy(ids[k]), torch.from_numpy(labels[k]).float()) for k in ids}
    info = dataclasses.replace(longest, input_size=len(vocab), seq_len=max(v.shape[1] for v in ids.values()))
    task = ArrayTask(name, info, splits, seed=cfg.seed)
    task.vocabulary = vocab
    return task


def _select(texts_labels, idx):
    texts, labels = texts_labels
    return [texts[i] for i in idx], labels[idx]


def build_imdb(cfg) -> ArrayTask:
    data = load_imdb(data_dir(cfg.task.data_dir))
    test, val = halves(len(data["test"][1]))
    others = {"test": _select(data["test"], test), "val": _select(data["test"], val)}
    return _text_task("imdb", cfg, data["train"], others, fit_length=False)


def _glue(name, cfg, data) -> ArrayTask:
    tr, va = train_val_split(len(data["train"][1]), cfg.task.val_fraction or 0.1)
    others = {"val": _select(data["train"], va), "test": data["dev"]}
    return _text_task(name, cfg, _select(data["train"], tr), others, fit_length=True)


def build_sst2(cfg) -> ArrayTask:
    return _glue("sst2", cfg, load_sst2(data_dir(cfg.task.data_dir)))


def build_qqp(cfg) -> ArrayTask:
    return _glue("qqp", cfg, load_qqp(data_dir(cfg.task.data_dir)))
