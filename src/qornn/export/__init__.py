"""Integer deployment: activation quantization, an integer reference, a packed file and generated C.

A trained run becomes an :class:`IntegerModel` (every weight, bias and activation an integer
code times a power of two, W read from the model's recurrent operator) in two steps:
:func:`calibrate` measures the activation ranges on training data, :func:`integer_model`
quantizes.  Everything downstream consumes that one object:

* :func:`integer_forward` (NumPy, integers only) is the reference arithmetic;
* :class:`IntegerExactModel` is the same model as PyTorch float64 fake quantization (what
  ``qornn eval RUN_Q`` evaluates), equal to the reference output for output;
* :func:`save_packed` / :func:`load_packed` write and read a bit-packed safetensors file;
* :func:`write_c` generates C99 (no malloc, no libm, no float), :func:`verify_c` compiles and
  checks it against the reference.

docs/deploy.md states the rounding and saturation rules and the commands.
"""
from .calibration import Calibration, calibrate, has_activations, load_integer_run, read_activations, write_activations
from .fake_quant import IntegerExactModel
from .integer_model import ACTIVATION_BITS, IntegerModel, check_activation_bits, integer_model
from .reference import integer_forward

__all__ = ["ACTIVATION_BITS", "Calibration", "IntegerExactModel", "IntegerModel", "calibrate",
           "check_activation_bits", "has_activations", "integer_forward", "integer_model", "load_integer_run",
           "read_activations", "write_activations"]
