"""Keep freed large blocks in the process (glibc malloc), so a training step does not page-fault them in again."""
from __future__ import annotations


def tune_malloc() -> bool:
    """Ask glibc malloc to keep freed large blocks (no fresh pages, hence no page faults, per step).

    By default glibc serves each allocation above 32 MiB with a fresh ``mmap`` and
    returns it on free, so every (B, T, n) tensor of a step is page-faulted in again:
    on a 2-core VM that costs about 50 ms per 64 MiB.  This is the effect the PyTorch
    CPU tuning guide addresses with jemalloc/tcmalloc.  The price: the process keeps its
    peak heap.  Returns False where glibc's ``mallopt`` is not available (other C
    libraries, other systems); nothing changes then.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        ok = libc.mallopt(m_mmap_threshold, 1 << 30) == 1
        return bool(ok and libc.mallopt(m_trim_threshold, (1 << 31) - 1) == 1)
    except (OSError, AttributeError):
        return False
