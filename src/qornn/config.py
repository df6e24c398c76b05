"""Run configuration: typed dataclasses, YAML presets and ``key=value`` overrides.

A run is described by one :class:`Config` (seed, task, model, train).  Presets are
small YAML files shipped in ``qornn/presets/`` that override the defaults below;
``--set model.hidden_size=256`` overrides a preset.  Parsing, type checking and
unknown-key detection are done by OmegaConf structured configs.

``model.input_bits`` and ``model.output_bits`` default to ``model.weight_bits``
(p, the bit width of U and V); set either to ``null`` for full precision.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Optional

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .errors import ConfigError

__all__ = ["Config", "TaskConfig", "ModelConfig", "TrainConfig", "load_config", "list_presets",
           "preset_path", "to_yaml", "from_yaml_file", "config_to_dict", "resume_config", "RESUME_KEYS",
           "LIMITS", "Range", "validate_config", "flatten"]


@dataclass
class TaskConfig:
    name: str = "copy"
    #: copy: the blank delay T (sequence length T + 2K); adding: the sequence length.
    seq_len: int = 1000
    #: copy: K, the number of symbols to remember; alphabet: how many distinct symbols.
    n_symbols: int = 10
    alphabet: int = 8
    #: copy: "qornn" (seq_len = the delay T, T + 2K steps) or "authors" (seq_len = total length, first
    #: symbol due at the marker step, as in the HadamRNN authors' released code).
    layout: str = "qornn"
    #: Synthetic tasks: samples per training epoch and sizes of the fixed val/test sets.
    train_size: int = 512_000
    val_size: int = 2_000
    test_size: int = 2_000
    #: Data-backed tasks: folder holding the files (default $QORNN_DATA or ~/.cache/qornn-data).
    data_dir: Optional[str] = None
    #: Data-backed tasks: a single file (e.g. task.name=npz).
    path: Optional[str] = None
    #: Text tasks: vocabulary size and maximal sequence length.
    vocab_size: Optional[int] = None
    max_len: Optional[int] = None
    #: Data-backed tasks: share of the training file held out for validation (null = the task's default).
    val_fraction: Optional[float] = None


@dataclass
class ModelConfig:
    #: hadamard, block-hadamard, dense, expm, cayley, bjorck, projunn-d, projunn-t (OrthoRNN) or lstm, gru.
    recurrent: str = "hadamard"
    hidden_size: int = 128
    block_size: Optional[int] = None
    permute_blocks: bool = False
    permute_seed: int = 0
    ste: str = "identity"
    #: p, the bit width of U and V (1 = ternary, 2..8, null = full precision).
    weight_bits: Optional[int] = 4
    input_bits: Optional[int] = "${.weight_bits}"  # type: ignore[assignment]
    output_bits: Optional[int] = "${.weight_bits}"  # type: ignore[assignment]
    #: k-bit quantization of the recurrent matrix itself (QORNN, STE): 2..8 (lstm/gru: 1..8); null = as the
    #: scheme gives it. Refused for hadamard / block-hadamard, whose W is already binary / ternary.
    recurrent_bits: Optional[int] = None
    #: "radius": divide Q_k(W) by its spectral radius when rounding pushed it above 1 ("none": keep it).
    recurrent_rescale: str = "none"
    #: bjorck: Björck steps N and β of W ← (1+β)W − βWWᵀW after spectral normalisation.
    bjorck_steps: int = 15
    bjorck_beta: float = 0.5
    #: projunn-d / projunn-t: rank r of the update, and how Δ is made rank r ("lsi" randomized, "svd" exact).
    projunn_rank: int = 1
    projunn_sampler: str = "lsi"
    #: λ of the penalty λ‖WᵀW − I‖²_F on the effective (quantized) W added to the loss (0 = off).
    ortho_penalty: float = 0.0
    nonlinearity: str = "relu"
    #: True: h_t = W h_{t-1} + U x_t + b, σ only at the readout (HadamRNN). False: σ inside.
    linear_recurrence: bool = True
    embedding_dim: Optional[int] = None
    #: Many-to-one readout: "last" state or "mean" over (non-padding) steps.
    readout: str = "last"
    engine: str = "auto"


@dataclass
class TrainConfig:
    #: Total optimizer steps; null = epochs × steps per epoch.
    steps: Optional[int] = None
    epochs: Optional[float] = None
    batch_size: int = 128
    optimizer: str = "adam"
    lr: float = 1e-3
    #: Learning rate of the recurrent matrix's latent tensor = lr × this (1 = same as the rest).
    recurrent_lr_scale: float = 1.0
    #: How the binary signs of hadamard / block-hadamard learn: ste, ste-clip, bop or frozen (qornn.signs).
    sign_rule: str = "ste"
    #: bop: rate γ of the gradient's moving average, flip threshold τ, optional cap on the share of signs
    #: flipped in one step.
    bop_gamma: float = 1.0e-3
    bop_threshold: float = 1.0e-6
    bop_max_flip_fraction: Optional[float] = None
    #: bop: test |m|/√v > τ (v the moving average of g², τ in (0, 1)) instead of |m| > τ.
    bop_normalize: bool = False
    weight_decay: float = 0.0
    #: "constant", "step" (×lr_gamma every lr_step_epochs epochs) or "cosine".
    schedule: str = "step"
    lr_gamma: float = 0.98
    lr_step_epochs: float = 1.0
    grad_clip: Optional[float] = None
    eval_every: int = 500
    eval_batch_size: Optional[int] = None
    checkpoint_every: int = 500
    log_every: int = 50
    #: Final model = the weights with the best validation accuracy (or loss) instead of the last ones.
    keep_best: bool = False
    #: Stop cleanly (checkpoint + final test) after this many minutes of training.
    budget_minutes: Optional[float] = None
    progress: bool = True
    #: torch intra-op threads (null = leave torch's default).
    threads: Optional[int] = None
    #: Refuse a run whose estimated memory for one training step exceeds the available memory
    #: (:mod:`qornn.memory`); false skips the check on machines whose memory the estimate misjudges.
    memory_check: bool = True
    #: Also write every metrics.jsonl record as scalars to RUN/tensorboard/ (needs the tensorboard package).
    tensorboard: bool = False
    #: auto (CUDA when present, else CPU), cpu, cuda, cuda:N or mps (qornn.devices); --device sets it.
    device: str = "auto"


@dataclass
class Config:
    seed: int = 0
    description: str = ""
    task: TaskConfig = field(default_factory=TaskConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def list_presets() -> list[str]:
    folder = resources.files("qornn") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def preset_path(name: str):
    path = resources.files("qornn") / "presets" / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown preset {name!r}; allowed: {', '.join(list_presets())} or a path to a .yaml file")
    return path


def _read_yaml(text: str, origin: str) -> dict:
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
        raise ConfigError(f"{origin}: not valid YAML ({first})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping of keys, got {type(data).__name__}")
    return data


def _omegaconf_message(exc: OmegaConfBaseException) -> str:
    msg = str(exc).splitlines()[0].strip()
    key = getattr(exc, "full_key", None)
    if "not in struct" in msg or "Key '" in msg and "not in" in msg:
        return f"unknown config key {key!r}; see `qornn presets` and docs/usage.md for allowed keys"
    return f"{key}: {msg}" if key else msg


def load_config(config: str | None = None, overrides: list[str] | tuple[str, ...] = (),
                base: dict | None = None) -> Config:
    """Defaults ← preset or YAML file (``config``) ← ``base`` dict ← ``key=value`` overrides."""
    layers = []
    if config:
        if config.endswith((".yaml", ".yml")) or "/" in config:
            path = Path(config)
            if path.is_dir():
                raise ConfigError(f"config file {config!r} is a folder; give a preset name or a YAML file")
            if not path.is_file():
                raise ConfigError(f"config file {config!r} does not exist")
            layers.append(_read_yaml(read_text(path), config))
        else:
            layers.append(_read_yaml(preset_path(config).read_text(), f"preset {config}"))
    if base:
        layers.append(base)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r} is not of the form key=value (e.g. model.hidden_size=256)")
    try:
        schema = OmegaConf.structured(Config)
        merged = OmegaConf.merge(schema, *layers, OmegaConf.from_dotlist(list(overrides)))
        resolved = OmegaConf.to_container(merged, resolve=True)
        cfg = OmegaConf.to_object(OmegaConf.merge(schema, resolved))
    except OmegaConfBaseException as exc:
        raise ConfigError(_omegaconf_message(exc)) from None
    validate_config(cfg)
    return cfg


#: Keys that ``qornn train --resume DIR --set ...`` may change: they leave the model and the data unchanged.
RESUME_KEYS = ("train.budget_minutes", "train.steps", "train.epochs", "train.eval_every", "train.checkpoint_every",
               "train.log_every", "train.progress", "train.threads", "train.eval_batch_size", "train.tensorboard",
               "train.device")


def resume_config(cfg: Config, overrides: list[str] | tuple[str, ...]) -> Config:
    """``cfg`` with ``key=value`` overrides applied, refusing keys outside :data:`RESUME_KEYS`."""
    for item in overrides:
        key = item.split("=", 1)[0].strip()
        if key not in RESUME_KEYS:
            raise ConfigError(f"--set {key} cannot change when resuming (it changes the model, the data or the "
                              f"optimization); allowed with --resume: {', '.join(RESUME_KEYS)}")
    if not overrides:
        return cfg
    return load_config(base=config_to_dict(cfg), overrides=overrides)


def config_to_dict(cfg: Config) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def to_yaml(cfg: Config) -> str:
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False)


def from_yaml_file(path: Path) -> Config:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path} does not exist")
    try:
        return load_config(base=_read_yaml(read_text(path), str(path)))
    except ConfigError as exc:
        text = str(exc)
        raise ConfigError(text if text.startswith(str(path)) else f"{path}: {text}") from None


def read_text(path: Path) -> str:
    """The UTF-8 text of ``path``, or a one-line ConfigError naming the file and the problem."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a UTF-8 text file (byte {exc.start}: {exc.reason}); "
                          f"a config is a YAML file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None


# ---- allowed values: one table, checked before anything is written ---------------------------------
@dataclass(frozen=True)
class Range:
    """Allowed values of a numeric key: ``low ≤ v ≤ high`` (``<`` where open), finite, null if ``nullable``."""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def allows(self, v: float) -> bool:
        if not math.isfinite(v):
            return False
        if self.low is not None and (v <= self.low if self.low_open else v < self.low):
            return False
        return self.high is None or (v < self.high if self.high_open else v <= self.high)

    def describe(self, integer: bool) -> str:
        kind = "an integer" if integer else "a finite number"
        fmt = (lambda x: str(int(x))) if integer else (lambda x: f"{x:g}")  # noqa: E731
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"{kind} in {left}{fmt(self.low)}, {fmt(self.high)}{right}"
        if self.low is not None:
            return f"{kind} {'>' if self.low_open else '>='} {fmt(self.low)}"
        return kind


_COUNT, _POSITIVE, _NONNEG = Range(1), Range(0, low_open=True), Range(0)
_BITS, _SEED, _FRACTION = Range(1, 8), Range(0, 2 ** 63 - 1), Range(0, 1, True, True)

#: Every numeric config key and its allowed values (``test_config_limits_cover_every_numeric_key`` keeps
#: this complete). Finer, key-combination rules (e.g. hidden_size a power of two for hadamard) stay with
#: the code that builds the task or model; both run before a run folder is created.
LIMITS: dict[str, Range] = {
    "seed": _SEED,
    "task.seq_len": _COUNT, "task.n_symbols": _COUNT, "task.alphabet": Range(2), "task.train_size": _COUNT,
    "task.val_size": _COUNT, "task.test_size": _COUNT, "task.vocab_size": _COUNT, "task.max_len": _COUNT,
    "task.val_fraction": _FRACTION,
    "model.hidden_size": _COUNT, "model.block_size": _COUNT, "model.permute_seed": _SEED,
    "model.weight_bits": _BITS, "model.input_bits": _BITS, "model.output_bits": _BITS, "model.recurrent_bits": _BITS,
    "model.bjorck_steps": Range(0, 100), "model.bjorck_beta": Range(0, 1, True, True), "model.projunn_rank": _COUNT,
    "model.ortho_penalty": _NONNEG, "model.embedding_dim": _COUNT,
    "train.steps": _COUNT, "train.epochs": _POSITIVE, "train.batch_size": _COUNT, "train.lr": _POSITIVE,
    "train.recurrent_lr_scale": _NONNEG, "train.bop_gamma": Range(0, 1, low_open=True),
    "train.bop_threshold": _POSITIVE, "train.bop_max_flip_fraction": Range(0, 1, low_open=True),
    "train.weight_decay": _NONNEG, "train.lr_gamma": _POSITIVE, "train.lr_step_epochs": _POSITIVE,
    "train.grad_clip": _POSITIVE, "train.eval_every": _COUNT, "train.eval_batch_size": _COUNT,
    "train.checkpoint_every": _COUNT, "train.log_every": _COUNT, "train.budget_minutes": _POSITIVE,
    "train.threads": Range(1, 1024),
}


def flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    """``{"model": {"hidden_size": 8}}`` → ``{"model.hidden_size": 8}``."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def field_types() -> dict[str, str]:
    """Dotted key → annotation of its dataclass field, e.g. ``"train.steps": "Optional[int]"``."""
    types = {}
    for f in dataclasses.fields(Config):
        section = f.default_factory if dataclasses.is_dataclass(f.default_factory) else None
        if section is not None:
            types.update({f"{f.name}.{g.name}": str(g.type) for g in dataclasses.fields(section)})
        else:
            types[f.name] = str(f.type)
    return types


def validate_config(cfg: Config) -> None:
    """Every key of :data:`LIMITS` within its range (null only for ``Optional`` keys), and a known
    ``train.device`` name; ConfigError if not."""
    from .devices import check_device_name

    check_device_name(cfg.train.device)
    types = field_types()
    for key, value in flatten(config_to_dict(cfg)).items():
        limits = LIMITS.get(key)
        if limits is None:
            continue
        integer, nullable = "int" in types[key], "Optional" in types[key]
        allowed = limits.describe(integer) + (" or null" if nullable else "")
        if value is None:
            if nullable:
                continue
            raise ConfigError(f"{key}=null is not allowed; use {allowed}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not limits.allows(value):
            raise ConfigError(f"{key}={value!r} is not allowed; use {allowed}")


#: Keys that may differ between a run's config.yaml and the config stored with its weights: the extending
#: keys of --resume, and where the data lives or how the run reports (not what was trained or on what).
FREE_KEYS = frozenset(RESUME_KEYS) | {"description", "task.data_dir", "task.path", "train.progress",
                                      "train.memory_check"}


def config_differences(stored: dict, cfg: Config) -> list[str]:
    """Keys (outside :data:`FREE_KEYS`) whose value in ``cfg`` differs from the ``stored`` config dict, as
    ``"key: A in config.yaml, B stored"``; keys an older stored config lacks count as their default."""
    if not isinstance(stored, dict):
        return [f"(stored config is {type(stored).__name__}, not a mapping)"]
    have, defaults = flatten(stored), flatten(config_to_dict(load_config()))
    out = []
    for key, value in flatten(config_to_dict(cfg)).items():
        if key in FREE_KEYS:
            continue
        before = have.get(key, defaults.get(key))
        if before != value:
            out.append(f"{key}: {value!r} in config.yaml, {before!r} stored")
    return out
