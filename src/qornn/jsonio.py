"""JSON in and out: strict JSON only (NaN and infinities become null), one-line errors on bad files.

JSON has no NaN or Infinity; ``json.dumps`` writes them anyway, and other readers then fail.
:func:`dumps` replaces each non-finite number by ``null`` and records why under the key
``"non_finite"`` (dotted key → ``"nan"``, ``"inf"`` or ``"-inf"``):

>>> dumps({"loss": float("nan"), "step": 3})
'{"loss": null, "step": 3, "non_finite": {"loss": "nan"}}'
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .errors import CheckpointError

NON_FINITE = "non_finite"


def finite(obj: Any, prefix: str = "") -> tuple[Any, dict[str, str]]:
    """(``obj`` with every NaN/±inf float replaced by None, {dotted key: what it was})."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None, {prefix or "value": repr(obj)}
    if isinstance(obj, dict):
        out, bad = {}, {}
        for k, v in obj.items():
            out[k], sub = finite(v, f"{prefix}.{k}" if prefix else str(k))
            bad.update(sub)
        return out, bad
    if isinstance(obj, (list, tuple)):
        out_list, bad = [], {}
        for i, v in enumerate(obj):
            value, sub = finite(v, f"{prefix}[{i}]")
            out_list.append(value)
            bad.update(sub)
        return out_list, bad
    return obj, {}


def clean(obj: Any) -> Any:
    """``obj`` ready for strict JSON: non-finite numbers → null, listed under ``"non_finite"`` (dicts only)."""
    value, bad = finite(obj)
    if bad and isinstance(value, dict):
        value[NON_FINITE] = bad
    return value


def dumps(obj: Any, **kwargs) -> str:
    """Strict JSON text of ``obj`` (see :func:`clean`)."""
    return json.dumps(clean(obj), allow_nan=False, **kwargs)


def _strict_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def loads(text: str) -> Any:
    """``json.loads`` that refuses NaN and Infinity."""
    return json.loads(text, parse_constant=_strict_constant)


def read_object(path: Path, required: dict[str, type | tuple] | None = None, error=CheckpointError) -> dict:
    """The JSON object in ``path``, with ``required`` keys of the given types; one-line ``error`` otherwise."""
    path = Path(path)
    try:
        data = loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise error(f"{path} does not exist") from None
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except (ValueError, RecursionError) as exc:
        raise error(f"{path}: not valid JSON ({str(exc).splitlines()[0][:120]})") from None
    if not isinstance(data, dict):
        raise error(f"{path}: expected a JSON object, found {type(data).__name__}")
    check_keys(data, required or {}, str(path), error)
    return data


def check_keys(data: dict, required: dict[str, type | tuple], where: str, error=CheckpointError) -> None:
    """``error`` naming ``where`` and the first key of ``required`` missing from ``data`` or of another type."""
    for key, kind in required.items():
        if key not in data:
            raise error(f"{where}: missing key {key!r}; was it written by qornn?")
        value = data[key]
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            ok = False
        else:
            ok = isinstance(value, kind)
        if not ok:
            names = "/".join(t.__name__ if t is not type(None) else "null"
                             for t in (kind if isinstance(kind, tuple) else (kind,)))
            raise error(f"{where}: key {key!r} is {type(value).__name__} {value!r:.40}; expected {names}")
