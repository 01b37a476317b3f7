"""``tensorplug.fft``: torch.fft's discrete Fourier transforms, with gradients.

Every transform is one of three ops over a set of dims: complex to complex (``fft``, ``ifft``), real
to the one-sided half spectrum (``rfft``) and back (``irfft``); the Hermitian ones are those with
the conjugate and the other normalization (``hfft(x) = irfft(conj(x))`` unscaled). Forward runs the
backend's ``fft`` (the Array API fft extension); each backward is the adjoint transform, as torch's.
Sizes ``n`` / ``s`` zero-pad or trim the input first (``narrow`` / ``cat``, whose gradients follow).
"""
from __future__ import annotations

import math

from . import dtypes as _dt
from ._out import with_out
from .autograd.function import Op
from .ops.complex_numbers import conj
from .tensor import Tensor, _wrap_dim

__all__ = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fft2", "ifft2", "rfft2", "irfft2", "hfft2",
           "ihfft2", "fftn", "ifftn", "rfftn", "irfftn", "hfftn", "ihfftn", "fftfreq", "rfftfreq", "fftshift",
           "ifftshift"]

_NORMS = ("backward", "ortho", "forward")
# the adjoint of a transform scaled one way is the opposite transform scaled the same way
_ADJOINT_NORM = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


class FftC2C(Op):
    holomorphic = False  # backward is the adjoint: torch's convention already

    @staticmethod
    def forward(ctx, x, axes, norm, inverse):
        ctx.params = (axes, norm, inverse)
        return ctx.backend.fft(x, "ifft" if inverse else "fft", None, axes, norm)

    @staticmethod
    def backward(ctx, g):
        axes, norm, inverse = ctx.params
        return FftC2C.apply(g, axes=axes, norm=_ADJOINT_NORM[norm], inverse=not inverse)


class FftR2C(Op):
    holomorphic = False

    @staticmethod
    def forward(ctx, x, axes, norm):
        ctx.params = (axes, norm, x.shape[axes[-1]])
        return ctx.backend.fft(x, "rfft", None, axes, norm)

    @staticmethod
    def backward(ctx, g):
        # the half spectrum's gradient is the full one's with zeros for the dropped half
        axes, norm, n = ctx.params
        full = _resize(g, axes[-1], n)
        return FftC2C.apply(full, axes=axes, norm=_ADJOINT_NORM[norm], inverse=True).real


class FftC2R(Op):
    holomorphic = False

    @staticmethod
    def forward(ctx, x, axes, norm, last_size):
        ctx.params = (axes, norm, last_size)
        sizes = [x.shape[a] for a in axes[:-1]] + [last_size]
        return ctx.backend.fft(x, "irfft", sizes, axes, norm)

    @staticmethod
    def backward(ctx, g):
        # the input's bins 1 .. n - (n//2 + 1) stand for themselves and their conjugate mirror: twice
        axes, norm, last_size = ctx.params
        gx = FftR2C.apply(g, axes=axes, norm=_ADJOINT_NORM[norm])
        bins = gx.shape[axes[-1]]
        doubled = last_size - bins
        if doubled <= 0:
            return gx
        weights = [1.0] + [2.0] * doubled + [1.0] * (bins - 1 - doubled)
        shape = [1] * gx.ndim
        shape[axes[-1]] = bins
        return gx * ctx.tensor(ctx.backend.asarray(weights, _dt.COMPLEX_PARTS[gx.dtype])).reshape(shape)


# arguments ------------------------------------------------------------------------------

def _norm(norm):
    if norm is None:
        return "backward"
    if norm not in _NORMS:
        raise RuntimeError(f'Invalid normalization mode: "{norm}"; expected one of "backward", "ortho", '
                           f'"forward" (or None)')
    return norm


def _float_input(x, complex_out):
    """``x`` in the dtype the transform computes in: ints and bools in the default float dtype; complex
    when ``complex_out`` (torch's promote_tensor_fft)."""
    dtype = x._dtype
    if dtype.category < _dt.FLOAT:
        x = x.to(_dt.get_default_dtype())
    if complex_out and not x.is_complex():
        x = x.to(_dt.COMPLEX_OF[x._dtype])
    return x


def _supported(x):
    """torch's first check: half-precision FFTs exist on CUDA only."""
    if not isinstance(x, Tensor):
        raise TypeError(f"fft: argument 'input' must be Tensor, not {type(x).__name__}")
    if x._dtype in (_dt.float16, _dt.bfloat16):
        name = {"float16": "Half", "bfloat16": "BFloat16"}[x._dtype.name]
        raise RuntimeError(f"Unsupported dtype {name}: the FFTs take float32, float64 or complex input on the "
                           f"CPU; convert with .float()")


def _real_input(name, x):
    if x.is_complex():
        kind = x._dtype.legacy_name[:-len("Tensor")]
        way_out = "use the complex transform (fft, fftn), or pass x.real"
        if name == "ihfftn":
            raise RuntimeError(f"Only supports floating-point dtypes, but found: {kind}; {way_out}")
        real = "real-valued" if name == "rfftn" else "real"
        raise RuntimeError(f"{name} expects a {real} input tensor, but got {kind}; {way_out}")
    return _float_input(x, False)


def _check_size(n):
    if n < 1:
        raise RuntimeError(f"Invalid number of data points ({n}) specified; the transform length must be "
                           f"at least 1")


def _dims_1d(x, n, dim):
    _supported(x)
    if x.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    axis = _wrap_dim(dim, x.ndim)
    size = x.shape[axis] if n is None else n
    _check_size(size)
    return [axis], [size]


def _dims_half(name, x, s, dim):
    """``_dims_nd`` for the transforms that halve their last dim (rfftn, irfftn, hfftn, ihfftn): at least one."""
    axes, sizes = _dims_nd(x, s, dim)
    if not axes:
        raise RuntimeError(f"{name} must transform at least one axis")
    return axes, sizes


def _dims_nd(x, s, dim):
    """torch's canonicalize_fft_shape_and_dim_args: the dims and the signal size along each."""
    if isinstance(dim, int):
        dim = [dim]
    if dim is not None:
        axes = [_wrap_dim(d, x.ndim) if x.ndim else _no_dims(d) for d in dim]
        if len(set(axes)) != len(axes):
            raise RuntimeError("FFT dims must be unique")
    if s is not None and dim is not None and len(s) != len(dim):
        raise RuntimeError("When given, dim and shape arguments must have the same length")
    if s is not None and len(s) > x.ndim:
        raise RuntimeError(f"Got shape with {len(s)} values but input tensor only has {x.ndim} dimensions.")
    if dim is None:  # the last len(s) dims, or all
        axes = list(range(x.ndim - (x.ndim if s is None else len(s)), x.ndim))
    sizes = [x.shape[a] for a in axes] if s is None else [x.shape[a] if n == -1 else n for a, n in zip(axes, s)]
    _supported(x)
    for n in sizes:
        _check_size(n)
    return axes, sizes


def _no_dims(d):
    raise IndexError(f"Dimension specified as {d} but tensor has no dimensions")


def _resize(x, axis, size):
    """``x`` trimmed or zero-padded at the end of ``axis`` to ``size``."""
    have = x.shape[axis]
    if have == size:
        return x
    if have > size:
        return x.narrow(axis, 0, size)
    shape = list(x.shape)
    if have == 0:  # zeros that still come from x, so that x gets its (empty) gradient
        shape[axis] = size
        return x.sum(axis, keepdim=True).expand(*shape)
    from .ops.join import cat
    shape[axis] = size - have
    return cat([x, x.new_zeros(shape)], axis)


def _resized(x, axes, sizes):
    for a, n in zip(axes, sizes):
        x = _resize(x, a, n)
    return x


# the transforms on canonical (dims, sizes) ------------------------------------------------

def _c2c(x, axes, sizes, norm, inverse):
    x = _resized(_float_input(x, True), axes, sizes)
    return FftC2C.apply(x, axes=tuple(axes), norm=_norm(norm), inverse=inverse)


def _r2c(name, x, axes, sizes, norm):
    x = _resized(_real_input(name, x), axes, sizes)
    return FftR2C.apply(x, axes=tuple(axes), norm=_norm(norm))


def _c2r(x, axes, sizes, norm, last_given):
    """``sizes[-1]`` is the real output's length (``2 * (m - 1)`` when not given, for m input bins)."""
    x = _float_input(x, True)
    if not last_given:
        sizes = sizes[:-1] + [2 * (x.shape[axes[-1]] - 1)]
        _check_size(sizes[-1])
    x = _resized(x, axes, sizes[:-1] + [sizes[-1] // 2 + 1])
    return FftC2R.apply(x, axes=tuple(axes), norm=_norm(norm), last_size=sizes[-1])


def _hermitian_norm(norm):
    return _ADJOINT_NORM[_norm(norm)]


# 1-D ------------------------------------------------------------------------------------------

@with_out
def fft(input, n=None, dim=-1, norm=None):
    """The one-dimensional discrete Fourier transform of ``input`` along ``dim``.

    Args:
        n: the signal length (``input`` is zero-padded or trimmed to it); ``dim``: the dim;
        norm: ``"backward"`` (no scaling, the default), ``"ortho"`` (1/sqrt(n)) or ``"forward"`` (1/n).

    Returns: a complex tensor (complex64 for float32 or integer input, complex128 for float64).

    Example:
        >>> fft(tensorplug.tensor([1.0, 0.0, 0.0, 0.0]))
        tensor([1.+0.j, 1.+0.j, 1.+0.j, 1.+0.j])
    """
    return _c2c(input, *_dims_1d(input, n, dim), norm, False)


@with_out
def ifft(input, n=None, dim=-1, norm=None):
    """The inverse of ``fft`` (scaled by 1/n with the default ``norm="backward"``)."""
    return _c2c(input, *_dims_1d(input, n, dim), norm, True)


@with_out
def rfft(input, n=None, dim=-1, norm=None):
    """``fft`` of a real signal, keeping the ``n // 2 + 1`` non-negative frequencies."""
    return _r2c("rfft", input, *_dims_1d(input, n, dim), norm)


@with_out
def irfft(input, n=None, dim=-1, norm=None):
    """The inverse of ``rfft``: a real signal of length ``n`` (default ``2 * (input.shape[dim] - 1)``)."""
    axes, sizes = _dims_1d(input, 1 if n is None else n, dim)
    return _c2r(input, axes, sizes, norm, n is not None)


@with_out
def hfft(input, n=None, dim=-1, norm=None):
    """The real ``fft`` of a Hermitian-symmetric signal given by its first half (length ``n`` out)."""
    axes, sizes = _dims_1d(input, 1 if n is None else n, dim)
    return _c2r(conj(_float_input(input, True)), axes, sizes, _hermitian_norm(norm), n is not None)


@with_out
def ihfft(input, n=None, dim=-1, norm=None):
    """The inverse of ``hfft``: the half spectrum of a real signal (``conj(rfft)`` scaled as an inverse)."""
    return conj(_r2c("ihfft", input, *_dims_1d(input, n, dim), _hermitian_norm(norm)))


# 2-D and n-D ----------------------------------------------------------------------------------

@with_out
def fftn(input, s=None, dim=None, norm=None):
    """``fft`` over ``dim`` (all dims, or the last ``len(s)``), with signal sizes ``s`` (-1 keeps a size)."""
    return _c2c(input, *_dims_nd(input, s, dim), norm, False)


@with_out
def ifftn(input, s=None, dim=None, norm=None):
    """The inverse of ``fftn``."""
    return _c2c(input, *_dims_nd(input, s, dim), norm, True)


@with_out
def rfftn(input, s=None, dim=None, norm=None):
    """``fftn`` of a real signal, keeping half of the last dim's frequencies."""
    return _r2c("rfftn", input, *_dims_half("rfftn", input, s, dim), norm)


@with_out
def irfftn(input, s=None, dim=None, norm=None):
    """The inverse of ``rfftn``; the last dim's output length is ``s[-1]`` or ``2 * (m - 1)``."""
    axes, sizes = _dims_half("irfftn", input, s, dim)
    return _c2r(input, axes, sizes, norm, s is not None and s[-1] != -1)


@with_out
def hfftn(input, s=None, dim=None, norm=None):
    """The real ``fftn`` of a signal Hermitian-symmetric in the last dim, given by its first half."""
    axes, sizes = _dims_half("hfftn", input, s, dim)
    x = conj(_float_input(input, True))
    return _c2r(x, axes, sizes, _hermitian_norm(norm), s is not None and s[-1] != -1)


@with_out
def ihfftn(input, s=None, dim=None, norm=None):
    """The inverse of ``hfftn``."""
    return conj(_r2c("ihfftn", input, *_dims_half("ihfftn", input, s, dim), _hermitian_norm(norm)))


def _over_last_two(transform):
    """``transform`` (an n-dimensional one) with torch's 2-D signature: the last two dims by default."""
    def two_d(input, s=None, dim=(-2, -1), norm=None):
        return transform(input, s, dim, norm)
    two_d.__name__ = two_d.__qualname__ = transform.__name__[:-1] + "2"
    two_d.__doc__ = f"``{transform.__name__}`` over the last two dims (or the two in ``dim``)."
    return two_d


fft2, ifft2, rfft2, irfft2, hfft2, ihfft2 = (with_out(_over_last_two(t)) for t in (fftn, ifftn, rfftn, irfftn, hfftn,
                                                                                   ihfftn))


# frequencies and shifts ------------------------------------------------------------------------

def _frequency_dtype(dtype):
    dtype = _dt.get_default_dtype() if dtype is None else dtype
    if dtype.category < _dt.FLOAT:
        raise RuntimeError(f"fftfreq requires a floating point or complex dtype, got {dtype}")
    if dtype.is_complex:  # torch documents complex, but its arange has no complex kernel
        raise NotImplementedError(f'"arange_cpu" not implemented for \'{_dt.scalar_type_name(dtype)}\'')
    return dtype


@with_out
def fftfreq(n, d=1.0, *, dtype=None, layout=None, device=None, requires_grad=False):
    """The sample frequencies of an ``fft`` of length ``n``: ``[0, 1, ..., -(n // 2), ..., -1] / (d * n)``.

    Example:
        >>> fftfreq(4)
        tensor([ 0.0000,  0.2500, -0.5000, -0.2500])
    """
    from .creation import arange
    from .ops.join import cat
    dtype = _frequency_dtype(dtype)
    k = cat([arange((n + 1) // 2, dtype=dtype, device=device), arange(-(n // 2), 0, dtype=dtype, device=device)])
    return (k * _reciprocal(n * d)).requires_grad_(requires_grad)


@with_out
def rfftfreq(n, d=1.0, *, dtype=None, layout=None, device=None, requires_grad=False):
    """The sample frequencies of an ``rfft`` of length ``n``: ``[0, 1, ..., n // 2] / (d * n)``."""
    from .creation import arange
    dtype = _frequency_dtype(dtype)
    return (arange(n // 2 + 1, dtype=dtype, device=device) * _reciprocal(n * d)).requires_grad_(requires_grad)


def _reciprocal(x):
    """``1 / x`` as torch's C++ double: inf for 0 (n = 0: fftfreq empty, rfftfreq ``[nan]``, as torch's)."""
    return 1.0 / x if x else math.copysign(math.inf, x)


def _shift(input, dim, half):
    if dim is None:
        dim = tuple(range(input.ndim))
    elif isinstance(dim, int):
        dim = (dim,)
    if not dim:
        raise RuntimeError("`shifts` required: a 0-dim tensor has no dim to shift; reshape it to 1-D first")
    return input.roll(tuple(half(input.shape[d]) for d in dim), tuple(dim))


def fftshift(input, dim=None):
    """Move the zero frequency to the centre of ``dim`` (all dims by default)."""
    return _shift(input, dim, lambda n: n // 2)


def ifftshift(input, dim=None):
    """The inverse of ``fftshift``."""
    return _shift(input, dim, lambda n: (n + 1) // 2)
