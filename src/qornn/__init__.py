"""qornn: tiny orthogonal RNNs with quantized recurrent weights."""
__version__ = "0.1.0"
