"""``torch.nn.modules.activation``: the same classes as ``tensorplug.nn`` (for imports and annotations)."""
from __future__ import annotations

from ._reexport import reexport

__all__ = reexport(globals(), [
    "Threshold", "ReLU", "RReLU", "Hardtanh", "ReLU6", "Sigmoid", "Hardsigmoid", "Tanh", "SiLU", "Mish",
    "Hardswish", "ELU", "CELU", "SELU", "GLU", "GELU", "Hardshrink", "LeakyReLU", "LogSigmoid", "Softplus",
    "Softshrink", "MultiheadAttention", "PReLU", "Softsign", "Tanhshrink", "Softmin", "Softmax",
    "Softmax2d", "LogSoftmax",
])
