"""The optional ``fht-cpu`` kernel (MIT, ``pip install fht-cpu``): an unnormalised fast
Walsh–Hadamard transform of every row of a C-contiguous 2-D float32/float64 array.

qornn calls the package's per-dtype row functions ``fht_2d_f32_rows(array, threads)`` and
``fht_2d_f64_rows(array, threads)`` (defined in its ``_core`` extension and re-exported at
the package's top level, but not in its ``__all__``) rather than its public ``fht()``:
``fht()`` validates its arguments in Python on every call, which for the (128, 128)
array of one recurrence step costs about as much as the transform.  Only this module
touches those names; ``tests/test_adapters.py`` checks them.
"""
from __future__ import annotations

import functools
from typing import Callable

import numpy as np

#: The row functions, by numpy dtype name.
ROW_FUNCTIONS = {"float32": "fht_2d_f32_rows", "float64": "fht_2d_f64_rows"}


@functools.lru_cache(maxsize=1)
def load():
    """The ``fht_cpu`` module, or None when it is not installed (or fails to import)."""
    try:
        import fht_cpu  # type: ignore[import-not-found]
    except Exception:  # noqa: BLE001 - any import problem means "not available"
        return None
    return fht_cpu


def available() -> bool:
    return load() is not None


def rows_inplace(dtype: str) -> Callable[[np.ndarray], None]:
    """f(array) transforming every row of a C-contiguous (rows, 2^k) array in place, one thread."""
    module = load()
    if module is None:
        raise RuntimeError("fht-cpu is not installed")
    return functools.partial(getattr(module, ROW_FUNCTIONS[dtype]), num_threads=1)


def transform_rows(array: np.ndarray) -> np.ndarray:
    """A transformed copy of a 2-D array (rows of length 2^k), one thread."""
    out = np.ascontiguousarray(array).copy()
    rows_inplace(out.dtype.name)(out)
    return out
