"""Downloading public data sets into the data folder (needs the network; never used by tests
except through ``file://`` URLs).

* ``mnist``: the four IDX files, from torchvision's mirror and then Yann LeCun's site,
  each checked against its known MD5 and written to ``MNIST/raw/`` (gzipped and plain).
* ``imdb``: ``aclImdb_v1.tar.gz`` from Stanford (84,125,825 bytes), checked against its
  published SHA-256 (:data:`IMDB_SHA256`) before it is unpacked to ``aclImdb/`` (only the
  ``{train,test}/{neg,pos}`` reviews).

Every download is checked against a known digest; a mismatch deletes the file and stops
with one line.  Files are written under a temporary name and renamed, so an interrupted
download leaves nothing half-written.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Sequence

from ..errors import ConfigError, DataError

MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
#: SHA-256 of aclImdb_v1.tar.gz as published by several dataset registries (its MD5 is
#: 7c2ac02c03563afcf9b574c7e56c153a).
IMDB_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"


def _fetch(url: str, dest: Path, timeout: float = 60.0) -> None:
    tmp = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r, open(tmp, "wb") as f:
            shutil.copyfileobj(r, f, length=1 << 20)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, dest)


def file_digest(path: Path, algorithm: str = "md5") -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _md5(path: Path) -> str:
    return file_digest(path, "md5")


def download_mnist(root: Path, mirrors: Sequence[str] = MNIST_MIRRORS, md5: dict[str, str] | None = None,
                   log: Callable[[str], None] = print) -> Path:
    """Fill ``root/MNIST/raw``; returns that folder."""
    md5 = MNIST_MD5 if md5 is None else md5
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name, digest in md5.items():
        target = raw / name
        if not (target.is_file() and _md5(target) == digest):
            errors = []
            for base in mirrors:
                try:
                    _fetch(base + name, target)
                except (urllib.error.URLError, OSError, ValueError) as exc:
                    errors.append(f"{base}: {getattr(exc, 'reason', exc)}")
                    continue
                if _md5(target) == digest:
                    break
                errors.append(f"{base}: MD5 mismatch")
                target.unlink()
            else:
                raise DataError(f"could not download {name} ({'; '.join(errors)}); are you online? "
                                f"Otherwise copy the MNIST IDX files to {raw}")
        plain = raw / name[:-3]
        tmp = plain.with_name(plain.name + ".part")
        tmp.write_bytes(gzip.decompress(target.read_bytes()))
        os.replace(tmp, plain)
        log(f"mnist: {plain}")
    return raw


def download_imdb(root: Path, url: str = IMDB_URL, log: Callable[[str], None] = print,
                  sha256: str = IMDB_SHA256) -> Path:
    """Fill ``root/aclImdb/{train,test}/{neg,pos}``; returns ``root/aclImdb``."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmpdir:
        archive = Path(tmpdir) / "aclImdb_v1.tar.gz"
        try:
            _fetch(url, archive, timeout=120.0)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise DataError(f"could not download {url} ({getattr(exc, 'reason', exc)}); are you online?") from None
        got = file_digest(archive, "sha256")
        if got != sha256:
            raise DataError(f"{url}: SHA-256 {got[:16]}... does not match the published {sha256[:16]}...; the "
                            f"download is damaged or not the IMDB archive, nothing was written")
        staging = Path(tmpdir) / "out"
        try:
            with tarfile.open(archive) as tar:
                members = [m for m in tar.getmembers() if m.isfile() and m.name.endswith(".txt")
                           and len(Path(m.name).parts) == 4 and Path(m.name).parts[0] == "aclImdb"
                           and Path(m.name).parts[1] in ("train", "test") and Path(m.name).parts[2] in ("neg", "pos")]
                tar.extractall(staging, members=members, filter="data")
        except tarfile.TarError as exc:
            raise DataError(f"{url}: not a readable tar.gz archive ({exc})") from None
        dest = root / "aclImdb"
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(staging / "aclImdb", dest)
    log(f"imdb: {dest} ({sum(1 for _ in dest.glob('*/*/*.txt'))} reviews)")
    return dest


DOWNLOADS = {"mnist": download_mnist, "imdb": download_imdb}


def download(name: str, root: Path, log: Callable[[str], None] = print) -> Path:
    if name not in DOWNLOADS:
        raise ConfigError(f"cannot download {name!r}; downloadable: {', '.join(DOWNLOADS)} "
                          f"(other data sets: see `qornn data check` for the files to provide)")
    return DOWNLOADS[name](Path(root), log=log)
