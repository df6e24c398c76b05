"""Recurrent operators: what a recurrent matrix W is, for the engines and for export.

Layer between the Hadamard algebra (:mod:`qornn.hadamard`) and the recurrent schemes
(:mod:`qornn.recurrent`): a scheme returns one operator per forward pass
(``scheme.operator(latent)``), the engines run its kernel, and an exporter reads its
facts (``OrthoRNN.recurrent_operator().detach().describe()``).  The contract is in
:mod:`.base` and docs/architecture.md.
"""
from .base import DenseOperator, RecurrentOperator
from .kernels import DenseKernel, MatvecKernel, StepKernel
from .native_hadamard import NativeHadamardKernel
from .signed_hadamard import HadamardKernel, SignedHadamardOperator

__all__ = ["RecurrentOperator", "DenseOperator", "SignedHadamardOperator", "StepKernel", "DenseKernel",
           "MatvecKernel", "HadamardKernel", "NativeHadamardKernel"]
