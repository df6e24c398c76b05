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
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Optional

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .errors import ConfigError

__all__ = ["Config", "TaskConfig", "ModelConfig", "TrainConfig", "load_config", "list_presets",
           "preset_path", "to_yaml", "from_yaml_file", "config_to_dict", "resume_config", "RESUME_KEYS"]


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
    except yaml.YAMLError as exc:
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
        return f"unknown config key {key!r}; see `qornn presets` and the README for allowed keys"
    return f"{key}: {msg}" if key else msg


def load_config(config: str | None = None, overrides: list[str] | tuple[str, ...] = (),
                base: dict | None = None) -> Config:
    """Defaults ← preset or YAML file (``config``) ← ``base`` dict ← ``key=value`` overrides."""
    layers = []
    if config:
        if config.endswith((".yaml", ".yml")) or "/" in config:
            path = Path(config)
            if not path.is_file():
                raise ConfigError(f"config file {config!r} does not exist")
            layers.append(_read_yaml(path.read_text(), config))
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
    return cfg


#: Keys that ``qornn train --resume DIR --set ...`` may change: they leave the model and the data unchanged.
RESUME_KEYS = ("train.budget_minutes", "train.steps", "train.epochs", "train.eval_every", "train.checkpoint_every",
               "train.log_every", "train.progress", "train.threads", "train.eval_batch_size")


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
    return load_config(base=_read_yaml(path.read_text(), str(path)))
