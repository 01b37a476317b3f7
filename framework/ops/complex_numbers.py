"""Complex numbers: views of their parts (``real``, ``imag``, ``view_as_real``, ``view_as_complex``),
``conj``, ``angle``, ``sgn``, ``polar`` and ``complex``, with torch's gradients.

torch's gradient for a complex tensor is the conjugate Wirtinger derivative: for a real loss L of
z = x + iy it is dL/dx + i dL/dy. The ops here write it out (``holomorphic = False``); the engine
derives it for the ops written with the real formula (``Op.holomorphic``).
"""
from __future__ import annotations

import math

from .. import dtypes as _dt
from ..autograd.function import Op
from ..tensor import Tensor, _shared_data
from ._util import mark_view

__all__ = ["view_as_real", "view_as_complex", "real", "imag", "conj", "conj_physical", "resolve_conj",
           "resolve_neg", "is_conj", "is_complex", "angle", "sgn", "polar", "complex"]


def ordering_error(op, dtype):
    """torch's error for an ordering (``<``, ``max``) of complex numbers, which have none."""
    return NotImplementedError(f'"{op}_cpu" not implemented for \'{_dt.scalar_type_name(dtype)}\': complex numbers '
                               f"have no order; compare their .abs() or .real instead")


class _LinearMap(Op):
    """A linear map whose gradient, in torch's convention, is the map ``adjoint``: view_as_real and
    view_as_complex undo each other, conj is its own."""

    holomorphic = False
    adjoint = None

    @classmethod
    def forward(cls, ctx, a):
        return cls.run(ctx.backend, a)

    @classmethod
    def backward(cls, ctx, g):
        return cls.adjoint.apply(g)


class ViewAsReal(_LinearMap):
    run = staticmethod(lambda backend, a: backend.view_as_real(a))


class ViewAsComplex(_LinearMap):
    run = staticmethod(lambda backend, a: backend.view_as_complex(a))


class Conj(_LinearMap):
    run = staticmethod(lambda backend, a: backend.xp.conj(a))


class ConjPhysical(Conj):
    pass


ViewAsReal.adjoint, ViewAsComplex.adjoint, Conj.adjoint = ViewAsComplex, ViewAsReal, Conj


def _refuse_rebase(t):
    raise RuntimeError("an in-place write through .real, .imag or view_as_real() of a complex tensor that is "
                       "part of an autograd graph: tensorplug cannot rewrite the complex tensor's history "
                       "(torch can); build the new value out of place, e.g. z = torch.complex(new_real, z.imag)")


def _part_view(out, base):
    # shares storage and version counter; an in-place write with a graph recorded cannot be replayed on the
    # complex base (tensorplug's CopySlices maps elements of one dtype), so it is refused
    return mark_view(out, base, _refuse_rebase)


def view_as_real(input: Tensor) -> Tensor:
    """A complex tensor as a real one with a last dimension of 2 (real, imaginary), sharing its memory
    where the backend can (NumPy always).

    Example:
        >>> view_as_real(tensorplug.tensor([1 + 2j]))
        tensor([[1., 2.]])
    """
    if not input.is_complex():
        raise RuntimeError(f"view_as_real is only supported for complex tensors, got {input._dtype}; "
                           f"a real tensor needs no conversion")
    _shared_data(input)  # NumPy's 0-d results are immutable scalars: give the view an array to share
    return _part_view(ViewAsReal.apply(input), input)


def view_as_complex(input: Tensor) -> Tensor:
    """A real tensor whose last dimension is 2 (real, imaginary) read as complex numbers, sharing its
    memory where the backend can.

    Example:
        >>> view_as_complex(tensorplug.tensor([[1.0, 2.0]]))
        tensor([1.+2.j])
    """
    dtype = input._dtype
    if dtype not in (_dt.float16, _dt.float32, _dt.float64):
        raise RuntimeError(f"view_as_complex is only supported for half, float and double tensors, but got a "
                           f"tensor of scalar type: {_dt.scalar_type_name(dtype)}")
    if dtype is _dt.float16:
        raise RuntimeError("view_as_complex: tensorplug has no complex32 (torch's ComplexHalf); convert the "
                           "tensor to float32 first")
    if input.ndim == 0:
        raise RuntimeError("Input tensor must have one or more dimensions")
    if input.shape[-1] != 2:
        raise RuntimeError(f"Tensor must have a last dimension of size 2, got shape {list(input.shape)}")
    strides = input.stride()
    if strides[-1] != 1:
        raise RuntimeError("Tensor must have a last dimension with stride 1; call .contiguous() first")
    if any(s % 2 for s in strides[:-1]):
        raise RuntimeError("Tensor must have a stride divisible by 2 for all but last dimension; call "
                           ".contiguous() first")
    return _part_view(ViewAsComplex.apply(input), input)


def real(input: Tensor) -> Tensor:
    """The real part of a complex tensor as a view (a real tensor itself)."""
    if not input.is_complex():
        return input
    return view_as_real(input)[..., 0]  # torch records SelectBackward0 as well


def imag(input: Tensor) -> Tensor:
    """The imaginary part of a complex tensor as a view."""
    if not input.is_complex():
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return view_as_real(input)[..., 1]


def _set_real(self, value):
    real(self).copy_(value)


def _set_imag(self, value):
    imag(self).copy_(value)


def conj(input: Tensor) -> Tensor:
    """The complex conjugate (a real tensor itself). torch returns a lazy view with the conjugate bit set;
    tensorplug computes it (``is_conj()`` is False)."""
    return Conj.apply(input) if input.is_complex() else input


def conj_physical(input: Tensor) -> Tensor:
    """The complex conjugate, computed (a real tensor itself)."""
    return ConjPhysical.apply(input) if input.is_complex() else input


def resolve_conj(input: Tensor) -> Tensor:
    """``input``: tensorplug never holds a lazy conjugate."""
    return input


def resolve_neg(input: Tensor) -> Tensor:
    """``input``: tensorplug never holds a lazy negation."""
    return input


def is_conj(input: Tensor) -> bool:
    return False


def is_neg(input: Tensor) -> bool:
    return False


def is_complex(input: Tensor) -> bool:
    return input.is_complex()


class Angle(Op):
    holomorphic = False
    save_inputs = (0,)

    @staticmethod
    def forward(ctx, a):
        xp = ctx.backend.xp
        if ctx.backend.dtype_of(a).is_complex:
            return xp.atan2(xp.imag(a), xp.real(a))
        # torch: pi where negative, 0 elsewhere, NaN kept
        pi = xp.asarray(math.pi, dtype=a.dtype)
        return xp.where(a < 0, pi, xp.where(xp.isnan(a), a, pi * 0))

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors_list()
        if not a.is_complex():
            return g.new_zeros(tuple(a.shape))  # torch: zero, also where g is NaN
        from .arithmetic import where
        return where(a == 0, 0, g * a / (a.abs() ** 2) * 1j)


def angle(input: Tensor) -> Tensor:
    """The argument of each complex number in radians (pi for negative reals, 0 for the others)."""
    if input._dtype.category < _dt.FLOAT:
        input = input.to(_dt.get_default_dtype())
    return Angle.apply(input)


def sgn(input: Tensor) -> Tensor:
    """``z / |z|`` (0 where z is 0); ``sign`` for a real tensor."""
    if not input.is_complex():
        return input.sign()
    from .arithmetic import where
    size = input.abs()
    return where(size == 0, 0, input / where(size == 0, 1, size))


def _check_parts(real_part, imag_part):
    """torch's checks on the two real tensors ``complex`` and ``polar`` combine."""
    a, b = real_part._dtype, imag_part._dtype
    if a not in (_dt.float32, _dt.float64) or b not in (_dt.float32, _dt.float64):
        if {a, b} <= {_dt.float16, _dt.float32, _dt.float64}:
            raise RuntimeError("tensorplug has no complex32 (torch's ComplexHalf): give float32 or float64 parts")
        raise RuntimeError(f"Expected both inputs to be Half, Float or Double tensors but got "
                           f"{_dt.scalar_type_name(a)} and {_dt.scalar_type_name(b)}; convert them with .float()")
    if a is not b:
        raise RuntimeError(f"Expected object of scalar type {_dt.scalar_type_name(a)} but got scalar type "
                           f"{_dt.scalar_type_name(b)} for second argument; convert one with .to(other.dtype)")


def _combine(ctx, re, im):
    """The complex array ``re + i im`` (broadcasting)."""
    xp = ctx.backend.xp
    native = ctx.backend.native_dtype(_dt.COMPLEX_OF[ctx.backend.dtype_of(re)])
    return xp.astype(re, native) + xp.astype(im, native) * xp.asarray(1j, dtype=native)


class Complex(Op):
    holomorphic = False

    @staticmethod
    def forward(ctx, re, im):
        return _combine(ctx, re, im)

    @staticmethod
    def backward(ctx, g):
        return real(g), imag(g)


class Polar(Op):
    holomorphic = False
    save_output = True

    @staticmethod
    def forward(ctx, r, theta):
        xp = ctx.backend.xp
        return _combine(ctx, r * xp.cos(theta), r * xp.sin(theta))

    @staticmethod
    def backward(ctx, g):
        out = ctx.output()
        gc = g.conj()
        return real(gc * sgn(out)), real(gc * out * 1j)


def complex(real: Tensor, imag: Tensor) -> Tensor:  # noqa: A001 - torch.complex
    """The complex tensor ``real + i imag`` (float32 parts give complex64, float64 complex128).

    Example:
        >>> complex(tensorplug.tensor([1.0]), tensorplug.tensor([2.0]))
        tensor([1.+2.j])
    """
    _check_parts(real, imag)
    return Complex.apply(real, imag)


def polar(abs: Tensor, angle: Tensor) -> Tensor:  # noqa: A002 - torch's argument names
    """The complex tensor ``abs * (cos(angle) + i sin(angle))``."""
    _check_parts(abs, angle)
    return Polar.apply(abs, angle)


def bind_methods():
    """The Tensor methods and properties of this family."""
    Tensor.real = property(real, _set_real)
    Tensor.imag = property(imag, _set_imag)
    return {"conj": conj, "conj_physical": conj_physical, "resolve_conj": resolve_conj,
            "resolve_neg": resolve_neg, "is_conj": is_conj, "angle": angle, "sgn": sgn,
            "conj_physical_": _conj_physical_, "is_neg": is_neg}


def _conj_physical_(self):
    from .inplace import inplace
    return inplace(self, conj_physical)
