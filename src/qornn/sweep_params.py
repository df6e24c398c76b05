"""The search space of a sweep: ``--param KEY=DISTRIBUTION`` strings, parsed and checked.

Grammar (``KEY`` a config key such as ``train.lr``)::

    KEY=loguniform(a,b)    a float, log-uniform on [a, b], 0 < a < b
    KEY=uniform(a,b)       a float, uniform on [a, b], a < b
    KEY=int(a,b)           an integer in a..b (both included), a < b
    KEY=choice(v1,v2,...)  one of the values, each read as a YAML scalar (null, true, 3, 0.5, relu)

Every parameter is checked against the config schema (:mod:`qornn.config`) before a sweep
touches its storage: the key must exist, a float range needs a float key, and every value
that can be drawn at the ends of the range (or each choice) must load as a config.
"""
from __future__ import annotations

import re
import typing
from dataclasses import dataclass, fields, is_dataclass

import yaml

from .config import Config, load_config
from .errors import ConfigError

KINDS = ("loguniform", "uniform", "int", "choice")
_PARAM = re.compile(r"^\s*([A-Za-z_][\w.-]*)\s*=\s*([a-z]+)\s*\((.*)\)\s*$", re.S)
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class Param:
    """One searched config key: ``kind`` in KINDS; ``low``/``high`` for ranges, ``choices`` for choice."""

    key: str
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    choices: tuple = ()
    text: str = ""

    def values_to_check(self) -> list:
        return list(self.choices) if self.kind == "choice" else [self.low, self.high]

    def suggest(self, trial):
        """Draw this parameter's value for an Optuna trial."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.key, self.low, self.high)
        return trial.suggest_float(self.key, self.low, self.high, log=self.kind == "loguniform")


def scalar(text: str):
    """A YAML scalar; numbers such as ``1e-4`` (a string in YAML 1.1) become floats.

    >>> [scalar(t) for t in ("null", "true", "3", "1e-4", "0.5", "relu")]
    [None, True, 3, 0.0001, 0.5, 'relu']
    """
    text = text.strip()
    try:
        value = yaml.safe_load(text) if text else ""
    except yaml.YAMLError:
        value = text
    if isinstance(value, str) and _NUMBER.match(value):
        return float(value)
    if isinstance(value, (dict, list)):
        raise ConfigError(f"value {text!r} is not a scalar; use null, true/false, numbers or words")
    return value


def _number(text: str, what: str, integer: bool):
    value = scalar(text)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{what}: {text.strip()!r} is not a number")
    if integer:
        if value != int(value):
            raise ConfigError(f"{what}: {text.strip()!r} is not an integer")
        return int(value)
    return float(value)


def parse_param(text: str) -> Param:
    """``"train.lr=loguniform(1e-4,1e-2)"`` → Param (grammar checks only; see :func:`check_params`).

    >>> parse_param("model.weight_bits=choice(2,3,null)").choices
    (2, 3, None)
    """
    what = f"--param {text!r}"
    m = _PARAM.match(text)
    if not m:
        raise ConfigError(f"{what} is not of the form KEY=KIND(...) with KIND one of {', '.join(KINDS)}, "
                          f"e.g. train.lr=loguniform(1e-4,1e-2) or model.weight_bits=choice(2,3,4)")
    key, kind, inside = m.groups()
    if kind not in KINDS:
        raise ConfigError(f"{what}: unknown distribution {kind!r}; allowed: {', '.join(KINDS)}")
    args = [a for a in inside.split(",")]
    if kind == "choice":
        if not inside.strip() or any(not a.strip() for a in args):
            raise ConfigError(f"{what}: choice() needs one or more comma-separated values, e.g. choice(2,3,4)")
        choices = tuple(scalar(a) for a in args)
        if len(set(map(repr, choices))) != len(choices):
            raise ConfigError(f"{what}: choice() lists a value twice")
        return Param(key, kind, choices=choices, text=text)
    if len(args) != 2:
        raise ConfigError(f"{what}: {kind}() takes two numbers, the ends of the range, e.g. {kind}(1,8)")
    low, high = (_number(a, what, integer=kind == "int") for a in args)
    if not low < high:
        raise ConfigError(f"{what}: the range [{low}, {high}] is empty; need a < b (for a single value use --set)")
    if kind == "loguniform" and low <= 0:
        raise ConfigError(f"{what}: loguniform needs 0 < a < b, got a={low}")
    return Param(key, kind, low, high, text=text)


def field_type(key: str):
    """The annotated type of a dotted config key (e.g. ``typing.Optional[int]``), or None if unknown."""
    node = Config
    for name in key.split("."):
        if not is_dataclass(node) or name not in {f.name for f in fields(node)}:
            return None
        node = typing.get_type_hints(node)[name]
    return None if is_dataclass(node) else node


def _members(annotation) -> set:
    return set(typing.get_args(annotation)) or {annotation}


def _allows(annotation, kind: str) -> bool:
    """Can a field of this type take values of a ``kind`` range? (choice is checked by loading.)"""
    members = _members(annotation)
    if kind == "int":
        return bool(members & {int, float})
    return float in members


def check_params(params: list[Param], config: str | None, sets: list[str] | tuple[str, ...] = ()) -> None:
    """Refuse unknown keys, keys given twice, ranges the key's type cannot take, and values the schema
    refuses (each choice, each end of a range), with one-line errors."""
    set_keys = {s.split("=", 1)[0].strip() for s in sets}
    seen: set[str] = set()
    for p in params:
        what = f"--param {p.text!r}"
        if p.key in seen:
            raise ConfigError(f"{what}: {p.key} is searched twice; give each key once")
        if p.key in set_keys:
            raise ConfigError(f"{what}: {p.key} is also fixed with --set; give it once")
        seen.add(p.key)
        annotation = field_type(p.key)
        if annotation is None:
            raise ConfigError(f"{what}: unknown config key {p.key!r}; see `qornn presets` and docs/usage.md for keys")
        if p.kind != "choice" and not _allows(annotation, p.kind):
            name = " or ".join(sorted("null" if t is type(None) else t.__name__ for t in _members(annotation)))
            use = "int(a,b) or choice(...)" if int in _members(annotation) else "choice(...)"
            raise ConfigError(f"{what}: {p.key} is of type {name}, which {p.kind}() does not fit; use {use}")
        for value in p.values_to_check():
            try:
                load_config(config, sets, base=nested({p.key: value}))
            except ConfigError as exc:
                raise ConfigError(f"{what}: {p.key}={value!r} is refused: {exc}") from None


def nested(flat: dict) -> dict:
    """``{"train.lr": 0.1}`` → ``{"train": {"lr": 0.1}}``.

    >>> nested({"train.lr": 0.1, "seed": 3})
    {'train': {'lr': 0.1}, 'seed': 3}
    """
    out: dict = {}
    for key, value in flat.items():
        *parents, last = key.split(".")
        node = out
        for name in parents:
            node = node.setdefault(name, {})
        node[last] = value
    return out
