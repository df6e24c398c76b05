"""Readers of standard on-disk data sets into numpy arrays (no torch, no model code).

One module per format: :mod:`.idx` / :mod:`.mnist` (IDX, torchvision's MNIST layout),
:mod:`.imdb` (CSV or ``aclImdb/``), :mod:`.glue` (SST-2 and QQP TSV), :mod:`.sequences`
(``.npz`` and the UCI HAR Dataset folder), :mod:`.text` (tokenizer, vocabulary, padding),
:mod:`.paths` (which data folder; the files of each data set; what is missing), :mod:`.splits` (the
fixed train/validation/test splits), :mod:`.download` (online only).
The tasks in :mod:`qornn.tasks` turn these arrays into training batches.
"""
from .paths import DEFAULT_DIR, ENV_VAR, LAYOUTS, data_dir, missing
from .text import PAD, UNK, Vocabulary, encode_corpus, pad_sequences, tokenize

__all__ = ["DEFAULT_DIR", "ENV_VAR", "LAYOUTS", "data_dir", "missing", "PAD", "UNK", "Vocabulary",
           "encode_corpus", "pad_sequences", "tokenize"]
