"""Binary elementwise math: hypot, copysign, heaviside, gcd, lcm, fmax, fmin, nextafter, ldexp, frexp,
float_power and logaddexp2, with torch's dtypes, gradients (derivatives.yaml) and refusals."""
from __future__ import annotations

import math
from collections import namedtuple

from .. import dtypes as _dt
from ..autograd import _nodes
from ..autograd.function import Op
from ..tensor import Tensor
from ._util import broadcast_error, promote
from .elementwise import _float
from .pointwise import _float_kernel

__all__ = ["hypot", "copysign", "heaviside", "gcd", "lcm", "fmax", "fmin", "nextafter", "ldexp", "frexp",
           "float_power", "logaddexp2"]

frexp_result = namedtuple("frexp", ["mantissa", "exponent"])


def _tensors(name, input, other):
    """Both operands as Tensors of torch's result dtype; torch takes no number for ``other`` here."""
    if not isinstance(other, Tensor):
        raise TypeError(f"{name}(): argument 'other' (position 2) must be Tensor, not {type(other).__name__}; "
                        f"wrap it with tensorplug.tensor(...)")
    return promote(input, other)


def _real_kernel(name, *tensors):
    """torch has no complex kernel for ``name``: its NotImplementedError (numpy raised TypeError, or
    compared complex numbers lexicographically)."""
    for t in tensors:
        if isinstance(t, Tensor) and t._dtype.category == _dt.COMPLEX:
            raise NotImplementedError(f"\"{name}\" not implemented for '{_dt.scalar_type_name(t._dtype)}': it takes "
                                      f"real input; apply it to z.real and z.imag, or to z.abs()")


def _no_complex_order(name, t):
    """Complex numbers have no order: torch's RuntimeError (numpy compared them lexicographically)."""
    if t._dtype.category == _dt.COMPLEX:
        raise RuntimeError(f"{name} not implemented for complex tensors; compare z.real, or z.abs()")


def _zeros(ctx, i):
    """A zero gradient for input ``i`` (torch gives zeros, not None, for a non-differentiable operand)."""
    from ..creation import zeros
    return zeros(ctx._shapes[i], dtype=ctx.dtype, device=ctx.backend) if ctx.needs_grad(i) else None


class _BinaryOp(Op):
    """``xp.<fn>(a, b)`` with broadcasting; a numpy shape error becomes torch's RuntimeError."""

    fn = "hypot"

    @classmethod
    def forward(cls, ctx, a, b):
        ctx.dtype = ctx.backend.dtype_of(a)
        try:
            return cls.compute(ctx.backend.xp, a, b)
        except ValueError:
            raise broadcast_error(a.shape, b.shape) from None

    @classmethod
    def compute(cls, xp, a, b):
        return getattr(xp, cls.fn)(a, b)


class Hypot(_BinaryOp):
    save_inputs = (0, 1)
    save_output = True

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors_list()
        out = ctx.output()
        return g * x / out, g * y / out


class Copysign(_BinaryOp):
    fn = "copysign"
    save_inputs = (0,)
    save_output = True

    @staticmethod
    def backward(ctx, g):
        from .arithmetic import where
        (x,) = ctx.saved_tensors_list()
        gx = g * where(x == 0, 0.0, ctx.output() / x) if ctx.needs_grad(0) else None
        return gx, _zeros(ctx, 1)


CopysignByNumber = Copysign.renamed("CopysignBackward1")  # torch's name for the number-sign overload


class _Step(_BinaryOp):
    @staticmethod
    def compute(xp, a, b):
        a, b = xp.broadcast_arrays(a, b)
        step = xp.astype(a > 0, a.dtype)  # nan > 0 is false: 0, as torch
        return xp.where(a == 0, b, step)


Heaviside = _Step.without_derivative(
    "heaviside", "; compute the gradient of a smooth step (e.g. sigmoid(k * x)) instead")


class _MaxMinNan(_BinaryOp):
    """fmax/fmin: the larger/smaller, a NaN operand ignored; the gradient goes to the chosen operand."""

    save_inputs = (0, 1)
    pick = "maximum"

    @classmethod
    def compute(cls, xp, a, b):
        a, b = xp.broadcast_arrays(a, b)
        first = (a >= b) if cls.pick == "maximum" else (a <= b)  # equal (0 and -0): the first, as torch
        return xp.where(first | xp.isnan(b), a, b)

    @classmethod
    def backward(cls, ctx, g):
        from .arithmetic import where
        x, y = ctx.saved_tensors_list()
        first = ((x >= y) if cls.pick == "maximum" else (x <= y)) | y.isnan()
        return where(first, g, 0.0), where(first, 0.0, g)


class Fmax(_MaxMinNan):
    pick = "maximum"


class Fmin(_MaxMinNan):
    pick = "minimum"


class Nextafter(_BinaryOp):
    fn = "nextafter"
    save_inputs = (0, 1)

    @classmethod
    def compute(cls, xp, a, b):  # C returns y where x == y (numpy's float16 gave nextafter(0., -0.) = 0.)
        return xp.where(a == b, b, xp.nextafter(a, b))

    @staticmethod
    def backward(ctx, g):
        from .arithmetic import where
        x, y = ctx.saved_tensors_list()
        gx = where(x == y, 0.0, g) if ctx.needs_grad(0) else None  # torch: zero where it returns y itself
        return gx, _zeros(ctx, 1)


def hypot(input, other):
    """``sqrt(input**2 + other**2)`` without overflow.

    Example:
        >>> hypot(tensorplug.tensor([3.0]), tensorplug.tensor([4.0]))
        tensor([5.])
    """
    a, b = _tensors("hypot", input, other)
    _float_kernel("hypot_cpu", a, b)
    _real_kernel("hypot_cpu", a, b)
    return Hypot.apply(a, b)


def copysign(input, other):
    """``|input|`` with the sign of ``other`` (-0.0 counts as negative); integers give float."""
    if not isinstance(other, Tensor):  # the number's sign as given (promote wraps -1 to 255 for uint8)
        from ._util import as_tensor_like
        a = _float(input)
        b = as_tensor_like(float(other), a).to(a.dtype)
    else:
        a, b = promote(input, other)
    a, b = _float(a), _float(b)
    _real_kernel("copysign_cpu", a, b)
    return (Copysign if isinstance(other, Tensor) else CopysignByNumber).apply(a, b)


def heaviside(input, values):
    """The step function: 0 where ``input < 0``, ``values`` where it is 0, 1 where it is > 0."""
    if not isinstance(values, Tensor):
        raise TypeError(f"heaviside(): argument 'values' (position 2) must be Tensor, not "
                        f"{type(values).__name__}; wrap it with tensorplug.tensor(...)")
    if input._dtype is not values._dtype:
        raise RuntimeError(f"heaviside is not yet implemented for tensors with different dtypes: input is "
                           f"{input._dtype.name}, values {values._dtype.name}; convert one with .to(...)")
    if input._dtype.category == _dt.COMPLEX:
        raise RuntimeError("heaviside is not yet implemented for complex tensors; apply it to z.real")
    return Heaviside.apply(input, values)


def _euclid(xp, a, b):
    """gcd of integer arrays by Euclid's algorithm, all elements at once (at most ~90 rounds for int64)."""
    a, b = xp.broadcast_arrays(xp.abs(a), xp.abs(b))
    while bool(xp.any(b != 0)):
        nonzero = b != 0
        safe = xp.where(nonzero, b, xp.ones_like(b))
        a, b = xp.where(nonzero, b, a), xp.where(nonzero, a % safe, b)
    return a


def _integer_pair(name, input, other):
    a, b = _tensors(name, input, other)
    if a._dtype.category > _dt.INT:
        raise NotImplementedError(f"\"{name}_cpu\" not implemented for '{_dt.scalar_type_name(a._dtype)}': {name} "
                                  f"takes integer tensors; convert with .long()")
    return a, b


def gcd(input, other):
    """The greatest common divisor, elementwise (non-negative; gcd(0, 0) = 0)."""
    a, b = _integer_pair("gcd", input, other)
    try:
        out = _euclid(a._backend.xp, a._data, b._data)
    except ValueError:
        raise broadcast_error(a.shape, b.shape) from None
    return Tensor._make(out, a._dtype, a._backend)


def lcm(input, other):
    """The least common multiple, elementwise (non-negative; 0 where either is 0)."""
    a, b = _integer_pair("lcm", input, other)
    xp = a._backend.xp
    try:
        g = _euclid(xp, a._data, b._data)
    except ValueError:
        raise broadcast_error(a.shape, b.shape) from None
    out = xp.abs(a._data // xp.where(g == 0, xp.ones_like(g), g) * b._data)
    return Tensor._make(out, a._dtype, a._backend)


def fmax(input, other):
    """The elementwise maximum, where a NaN loses to a number (NaN only where both are)."""
    a, b = _tensors("fmax", input, other)
    _no_complex_order("fmax", a)
    return Fmax.apply(a, b)


def fmin(input, other):
    """The elementwise minimum, where a NaN loses to a number."""
    a, b = _tensors("fmin", input, other)
    _no_complex_order("fmin", a)
    return Fmin.apply(a, b)


def nextafter(input, other):
    """The next float after ``input`` towards ``other``."""
    a, b = _tensors("nextafter", input, other)
    _float_kernel("nextafter_cpu", a, b)
    _real_kernel("nextafter_cpu", a, b)
    return Nextafter.apply(a, b)


def ldexp(input, other):
    """``input * 2**other`` (torch's composite: the gradient is that of the product)."""
    from .arithmetic import pow
    a, b = _tensors("ldexp", input, other)
    dtype = _float(a).dtype  # 2**other in the result's dtype: float64's 2**200 is finite, float16's 2**20 inf
    out = input * pow(2.0, other.to(dtype) if other._dtype.category <= _dt.INT else other)
    return _nodes.named(out, "LdexpBackward0")  # torch records one node


def _frexp_exponent(xp, x):
    """The integer ``e`` with ``x = m * 2**e``, ``0.5 <= |m| < 1`` (0 for 0, inf and nan), from float64."""
    ax = xp.abs(xp.astype(x, xp.float64))
    regular = xp.isfinite(ax) & (ax > 0)
    safe = xp.where(regular, ax, xp.ones_like(ax))
    e = xp.floor(xp.log2(safe)) + 1
    m = _scale(xp, safe, -e)
    e = xp.where(m >= 1, e + 1, xp.where(m < 0.5, e - 1, e))  # log2's rounding at powers of two
    return xp.where(regular, e, xp.zeros_like(e))


def _scale(xp, x, e):
    """``x * 2**e`` in two factors, so that ``2**e`` does not overflow for subnormal ``x``."""
    half = xp.floor(e / 2)
    return x * xp.pow(2.0, half) * xp.pow(2.0, e - half)


class FrexpMantissa(Op):
    node_name = "FrexpBackward0"

    @staticmethod
    def forward(ctx, a, e):
        ctx.e = e
        xp = ctx.backend.xp
        scaled = _scale(xp, xp.astype(a, xp.float64), -e)
        return xp.astype(xp.where(e == 0, xp.astype(a, xp.float64), scaled), a.dtype)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.tensor(ctx.backend.xp.pow(2.0, -ctx.e)).to(g.dtype), None


def frexp(input):
    """``(mantissa, exponent)`` with ``input = mantissa * 2**exponent``, ``0.5 <= |mantissa| < 1``; the
    exponent is int32, as torch."""
    if input._dtype.category != _dt.FLOAT:
        raise RuntimeError(f"torch.frexp() only supports floating-point dtypes: got {input._dtype.name}; "
                           f"convert with .float()")
    xp = input._backend.xp
    e = _frexp_exponent(xp, input._data)
    mantissa = FrexpMantissa.apply(input, e)
    return frexp_result(mantissa, Tensor._make(xp.astype(e, xp.int32), _dt.int32, input._backend))


def _wide(x):
    """float_power's operand dtype: float64, or complex128 when ``x`` is complex."""
    if isinstance(x, Tensor):
        return x.to(_dt.complex128 if x._dtype.category == _dt.COMPLEX else _dt.float64)
    return x


def float_power(input, exponent):
    """``input ** exponent`` computed in double precision (float64, or complex128 for complex operands)."""
    from .arithmetic import pow
    complex_ = any(isinstance(v, complex) or (isinstance(v, Tensor) and v._dtype.category == _dt.COMPLEX)
                   for v in (input, exponent))
    if complex_:
        input = input.to(_dt.complex128) if isinstance(input, Tensor) else complex(input)
        exponent = exponent.to(_dt.complex128) if isinstance(exponent, Tensor) else complex(exponent)
        return pow(input, exponent)
    if not isinstance(input, Tensor):  # torch's PowBackward2, the number-base overload
        return pow(float(input), _wide(exponent))
    return pow(_wide(input), _wide(exponent) if isinstance(exponent, Tensor) else float(exponent))


def float_power_(self, exponent):
    """In-place float_power: ``self`` must already be float64 (complex128), as torch requires."""
    wanted = _dt.complex128 if (self._dtype.category == _dt.COMPLEX or isinstance(exponent, complex) or (
        isinstance(exponent, Tensor) and exponent._dtype.category == _dt.COMPLEX)) else _dt.float64
    if self._dtype is not wanted:
        raise RuntimeError(f"the base given to float_power_ has dtype {_dt.scalar_type_name(self._dtype)} but the "
                           f"operation's result requires dtype {_dt.scalar_type_name(wanted)}; convert it with "
                           f".double() first")
    from .inplace import make_inplace
    return make_inplace(float_power, "float_power_")(self, exponent)


def logaddexp2(input, other):
    """``log2(2**input + 2**other)`` without overflow."""
    from .arithmetic import where
    from .elementwise import abs as _abs, log1p
    from .minmax import maximum
    from .trig import exp2
    a, b = _tensors("logaddexp2", input, other)
    _float_kernel("logaddexp2_cpu", a, b)
    _real_kernel("logaddexp2_cpu", a, b)
    m = maximum(a, b)
    out = m + log1p(exp2(-_abs(a - b))) / math.log(2)
    same_inf = (a == b) & (m.abs() == math.inf)  # inf - inf would be nan; torch returns that infinity
    return _nodes.named(where(same_inf, m, out), "Logaddexp2Backward0")  # torch's one node


METHODS = {"hypot": hypot, "copysign": copysign, "heaviside": heaviside, "gcd": gcd, "lcm": lcm, "fmax": fmax,
           "fmin": fmin, "nextafter": nextafter, "ldexp": ldexp, "frexp": frexp, "float_power": float_power,
           "logaddexp2": logaddexp2}
INPLACE = ("hypot", "copysign", "heaviside", "gcd", "lcm", "nextafter", "ldexp")


def bind_methods():
    """The Tensor methods, with the in-place forms torch has (``x.hypot_(y)`` ...)."""
    from .inplace import make_inplace
    methods = dict(METHODS)
    methods.update({f"{name}_": make_inplace(METHODS[name], f"{name}_") for name in INPLACE})
    methods["float_power_"] = float_power_
    return methods
