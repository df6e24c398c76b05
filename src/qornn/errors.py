"""Exceptions that the command line turns into one-line errors (exit code 2).

Every message names the offending value and what is allowed, e.g.
``model.hidden_size=100 is not a power of two; hadamard needs 2^k (e.g. 64, 128, 256)``.
"""


class QornnError(Exception):
    """Base class: a user-facing problem, reported as one line without a traceback."""


class ConfigError(QornnError, ValueError):
    """A configuration value (size, bit width, preset, key) is not allowed."""


class ShapeError(QornnError, ValueError):
    """A tensor or matrix has a shape the operation cannot accept."""


class DataError(QornnError):
    """A data file is missing or malformed."""


class MissingDataError(DataError):
    """A data set's files are not in the data folder (``dataset``: its name, ``root``: the folder)."""

    def __init__(self, message: str, dataset: str, root):
        super().__init__(message)
        self.dataset, self.root = dataset, root


class CheckpointError(QornnError):
    """A run folder or checkpoint is missing, incomplete or corrupted."""


class DivergedError(QornnError):
    """Training produced a non-finite loss (the run folder is kept for inspection)."""


class OutputError(QornnError):
    """A destination (file, folder, standard output) cannot be written."""


class LockedError(QornnError):
    """A run folder is in use by another qornn process."""


class BuildError(QornnError):
    """A generated program (exported C) failed to compile or to run."""
