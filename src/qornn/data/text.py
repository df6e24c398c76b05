"""Text to fixed-length token ids: a regex tokenizer, a frequency vocabulary, padding.

Tokenizer (:func:`tokenize`): lower-case the text, turn HTML line breaks
(``<br />``) into spaces, and keep the matches of :data:`TOKEN_RE`: runs of letters
and digits, optionally followed by one apostrophe part (``don't``, ``film's``).
Punctuation is dropped.  ``"This movie's GREAT!<br />10/10"`` → ``this movie's great 10 10``.

Vocabulary (:class:`Vocabulary`): the ``size`` most frequent words of the *training*
texts get ids 2, 3, ... in order of decreasing count, ties broken alphabetically (so
the vocabulary is a pure function of the training set); id 0 is padding and id 1
stands for every other word.  The embedding table therefore has ``size + 2`` rows.

Padding (:func:`pad_sequences`): like ``keras.preprocessing.sequence.pad_sequences``
with its defaults, which the HadamRNN IMDB setting uses: a sequence longer than
``length`` keeps its *last* ``length`` tokens, and a shorter one is padded with zeros
*in front*, so the last time step (read by a many-to-one model) is always the last word.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, Sequence

import numpy as np

from ..errors import ConfigError

PAD, UNK = 0, 1
TOKEN_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_BREAK_RE = re.compile(r"<br\s*/?>", re.IGNORECASE)


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens of ``text`` (see the module docstring)."""
    return TOKEN_RE.findall(_BREAK_RE.sub(" ", text).lower())


class Vocabulary:
    """Word → id map built from training texts: 0 = padding, 1 = unknown, 2.. = words."""

    def __init__(self, words: Sequence[str]):
        self.words = list(words)
        self.index = {w: i + 2 for i, w in enumerate(self.words)}

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], size: int) -> "Vocabulary":
        """The ``size`` most frequent words (ties: alphabetical order)."""
        if not isinstance(size, int) or size < 1:
            raise ConfigError(f"task.vocab_size={size!r} is not allowed; use a positive integer (e.g. 10000)")
        counts = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return cls([w for w, _ in ranked[:size]])

    def __len__(self) -> int:
        """Rows of the embedding table: the words plus padding and unknown."""
        return len(self.words) + 2

    def encode(self, tokens: Sequence[str]) -> list[int]:
        get = self.index.get
        return [get(t, UNK) for t in tokens]


def pad_sequences(seqs: Sequence[Sequence[int]], length: int) -> np.ndarray:
    """(N, length) int64: keep the last ``length`` ids, pad with 0 in front."""
    if not isinstance(length, int) or length < 1:
        raise ConfigError(f"task.max_len={length!r} is not allowed; use a positive integer (e.g. 500)")
    out = np.zeros((len(seqs), length), dtype=np.int64)
    for i, s in enumerate(seqs):
        s = s[-length:]
        if len(s):
            out[i, length - len(s):] = s
    return out


def encode_corpus(train_texts: Sequence[str], other_texts: dict[str, Sequence[str]], vocab_size: int,
                  max_len: int, fit_length: bool = False) -> tuple[Vocabulary, dict[str, np.ndarray]]:
    """Build the vocabulary on ``train_texts`` and encode every split.

    ``fit_length=True`` pads to the longest tokenized text when that is shorter than ``max_len``
    (short sentences, e.g. SST-2, then cost fewer recurrent steps).
    """
    tokens = {"train": [tokenize(t) for t in train_texts]}
    tokens.update({k: [tokenize(t) for t in v] for k, v in other_texts.items()})
    vocab = Vocabulary.build(tokens["train"], vocab_size)
    length = max_len
    if fit_length:
        longest = max((len(t) for ts in tokens.values() for t in ts), default=1)
        length = max(1, min(max_len, longest))
    return vocab, {k: pad_sequences([vocab.encode(t) for t in ts], length) for k, ts in tokens.items()}
