"""Window functions (hann, hamming, blackman, bartlett, kaiser) and the other sequence factories torch has
beside arange/linspace: logspace, the deprecated end-inclusive ``torch.range``, and ``vander``."""
from __future__ import annotations

import math
import warnings

from .. import dtypes as _dt

__all__ = ["hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window", "logspace",
           "range", "vander"]


def _positions(name, window_length, periodic, dtype, device):
    """``(n, N - 1)``: the sample positions 0..L-1 as float64 and the window's denominator (L, not L - 1,
    for a periodic window); None for the lengths 0 and 1, whose windows are fixed."""
    from ..creation import arange
    if dtype is not None and dtype.category != _dt.FLOAT:
        raise RuntimeError(f"{name} expects floating point dtypes, got: {dtype}; pass dtype=torch.float32")
    if window_length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got window_length={window_length}")
    if window_length <= 1:
        return None
    denominator = window_length if periodic else window_length - 1
    return arange(window_length, dtype=_dt.float64, device=device), denominator


def _window(name, window_length, periodic, dtype, device, requires_grad, shape):
    from ..creation import ones
    dtype = dtype or _dt.get_default_dtype()
    at = _positions(name, window_length, periodic, dtype, device)
    if at is None:
        return ones(window_length, dtype=dtype, device=device, requires_grad=requires_grad)
    n, denominator = at
    out = shape(n, denominator).to(dtype)
    return out.requires_grad_() if requires_grad else out


def _cosine_sum(coefficients):
    """``sum_k (-1)^k a_k cos(2 pi k n / (N - 1))``: the hann, hamming and blackman windows."""
    def shape(n, denominator):
        total = n * 0
        for k, a in enumerate(coefficients):
            total = total + (-1) ** k * a * (n * (2 * math.pi * k / denominator)).cos()
        return total
    return shape


def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False):
    """The Hann window ``0.5 - 0.5 cos(2 pi n / (N - 1))`` (N = length + 1 when periodic)."""
    return _window("hann_window", window_length, periodic, dtype, device, requires_grad, _cosine_sum((0.5, 0.5)))


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None, layout=None,
                   device=None, requires_grad=False):
    """The Hamming window ``alpha - beta cos(2 pi n / (N - 1))``."""
    return _window("hamming_window", window_length, periodic, dtype, device, requires_grad,
                   _cosine_sum((alpha, beta)))


def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False):
    """The Blackman window ``0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 cos(4 pi n / (N - 1))``."""
    return _window("blackman_window", window_length, periodic, dtype, device, requires_grad,
                   _cosine_sum((0.42, 0.5, 0.08)))


def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False):
    """The triangular Bartlett window ``1 - |2 n / (N - 1) - 1|``."""
    def shape(n, denominator):
        return 1 - (n * (2 / denominator) - 1).abs()
    return _window("bartlett_window", window_length, periodic, dtype, device, requires_grad, shape)


def _i0(x):
    """The modified Bessel function I0 by its power series (|x| <= a few tens: 60 terms reach float64).
    (No ``range`` here: this module's ``range`` is torch's.)"""
    term = x * 0 + 1
    total = term
    quarter = x * x / 4
    for k in _TERMS:
        term = term * quarter / (k * k)
        total = total + term
    return total


_TERMS = tuple(k + 1 for k in __import__("builtins").range(60))


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None, device=None,
                  requires_grad=False):
    """The Kaiser window ``I0(beta sqrt(1 - (2 n / (N - 1) - 1)^2)) / I0(beta)``."""
    def shape(n, denominator):
        ratio = n * (2 / denominator) - 1
        return _i0(beta * (1 - ratio * ratio).clamp(min=0).sqrt()) / _i0(n * 0 + beta)
    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad, shape)


def logspace(start, end, steps, base=10.0, *, dtype=None, layout=None, device=None, requires_grad=False):
    """``steps`` values from ``base**start`` to ``base**end``, evenly spaced in the exponent."""
    from ..creation import linspace
    dtype = dtype or _dt.get_default_dtype()
    exponents = linspace(start, end, steps, dtype=_dt.float64, device=device)
    out = (base ** exponents).to(dtype)
    return out.requires_grad_() if requires_grad else out


def _end_inclusive_range(start=0, end=None, step=1, *, dtype=None, layout=None, device=None,
                         requires_grad=False):
    """torch.range (deprecated): ``start`` to ``end`` *inclusive*, in the default float dtype unless
    ``dtype`` is given. Prefer ``arange`` (end excluded)."""
    from ..creation import arange
    warnings.warn("torch.range is deprecated and will be removed in a future release because its behavior is "
                  "inconsistent with Python's range builtin. Instead, use torch.arange, which produces values "
                  "in [start, end).", UserWarning, stacklevel=2)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    count = int(math.floor((end - start) / step)) + 1
    dtype = dtype or _dt.get_default_dtype()
    values = arange(count, dtype=_dt.float64, device=device) * step + start
    out = values.to(dtype)
    return out.requires_grad_() if requires_grad else out


def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of a 1-D ``x``: columns ``x**(N-1), ..., x**0`` (reversed if ``increasing``),
    built as torch does by a cumulative product (so gradients match at x = 0)."""
    from ..creation import ones
    from .join import cat
    if x._data.ndim != 1:
        raise RuntimeError(f"x must be a one-dimensional tensor, got {x._data.ndim} dims; flatten it first")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError(f"N must be non-negative, got N={n}")
    dtype = x._dtype if x._dtype.category >= _dt.FLOAT else _dt.int64
    x = x.to(dtype)
    if n == 0:
        return ones(x.shape[0], 0, dtype=dtype, device=x._backend)
    columns = [ones(x.shape[0], 1, dtype=dtype, device=x._backend)]
    if n > 1:
        columns.append(x.unsqueeze(1).expand(x.shape[0], n - 1))
    out = cat(columns, 1).cumprod(1)
    return out if increasing else out.flip(1)


range = _end_inclusive_range  # noqa: A001 - torch.range
