"""qornn: tiny orthogonal RNNs with binary, sparse ternary or k-bit recurrent weights.

Main entry points (imported lazily, so ``qornn.theory`` works without torch)::

    from qornn import OrthoRNN, SequenceModel, hadamard_, block_hadamard_, quantize, load_packed
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "OrthoRNN": "qornn.model",
    "SequenceModel": "qornn.model",
    "build_model": "qornn.model",
    "quantize_weight_": "qornn.model",
    "hadamard_": "qornn.recurrent",
    "block_hadamard_": "qornn.recurrent",
    "HadamardSign": "qornn.recurrent",
    "BlockHadamardSign": "qornn.recurrent",
    "orthogonal_": "qornn.recurrent",
    "bjorck_": "qornn.recurrent",
    "projunn_": "qornn.recurrent",
    "after_optimizer_step": "qornn.recurrent",
    "GatedRNN": "qornn.gated",
    "quantize": "qornn.quant",
    "quantize_ste": "qornn.quant",
    "UniformQuantizer": "qornn.quant",
    "sylvester": "qornn.hadamard",
    "fwht": "qornn.hadamard",
    "load_config": "qornn.config",
    "train": "qornn.train",
    "load_packed": "qornn.export.packed",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'qornn' has no attribute {name!r}")
