"""One writer per run folder: an exclusive, non-blocking ``flock`` on ``DIR/.qornn-lock``.

``qornn train`` holds the lock of its run folder from creation to the end (and ``--resume``
from the start), so a second ``train --resume`` or ``--overwrite`` of the same folder
refuses at once with one line instead of interleaving its writes.  The lock belongs to the
open file, so it disappears when the process ends, even by ``kill -9``; the file itself
stays (it holds the pid of the last holder, for the message).  Readers (``eval``, ``info``,
``report``) take no lock: files are replaced atomically and read in one piece.  On systems
without ``fcntl`` (Windows) the lock is a no-op.
"""
from __future__ import annotations

import os
from pathlib import Path

from .errors import LockedError, OutputError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

LOCK = ".qornn-lock"


class RunLock:
    """``RunLock(folder).acquire()`` → held lock (LockedError if another process holds it); ``release()``."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.fd: int | None = None

    def acquire(self) -> "RunLock":
        path = self.folder / LOCK
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise OutputError(f"cannot create the lock file {path}: {exc.strerror or exc}") from None
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                raise LockedError(f"{self.folder} is in use by another qornn process (pid {holder}); wait for it "
                                  f"to finish or stop it") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the last descriptor drops the flock
            self.fd = None

    def __enter__(self) -> "RunLock":
        return self if self.fd is not None else self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def __del__(self):
        self.release()


def ensure_unlocked(folder: Path) -> None:
    """LockedError if another process holds ``folder``'s lock (nothing is created when it has no lock file)."""
    if (Path(folder) / LOCK).is_file():
        RunLock(folder).acquire().release()
