"""Composite pointwise ops (written with other ops, so autograd comes for free): lerp, addcmul, addcdiv,
logaddexp, clamp_min/clamp_max."""
from __future__ import annotations



def lerp(input, end, weight):
    """``input + weight * (end - input)``."""
    return input + weight * (end - input)


def addcmul(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 * tensor2``."""
    prod = tensor1 * tensor2
    return input + (prod if value == 1 else prod * value)


def addcdiv(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 / tensor2``."""
    quot = tensor1 / tensor2
    return input + (quot if value == 1 else quot * value)


def logaddexp(input, other):
    """``log(exp(input) + exp(other))`` without overflow."""
    from .minmax import maximum
    from .elementwise import abs as _abs, exp, log1p
    m = maximum(input, other)
    return m + log1p(exp(-_abs(input - other)))


def clamp_min(input, min):
    """``clamp(input, min=min)``."""
    from .minmax import clamp
    return clamp(input, min=min)


def clamp_max(input, max):
    """``clamp(input, max=max)``."""
    from .minmax import clamp
    return clamp(input, max=max)
