"""More elementwise math: hyperbolic and inverse trig, log2/log10/exp2, and the float tests isnan/isinf/isfinite."""
from __future__ import annotations

from .. import amp as _amp
from .. import dtypes as _dt
from ..autograd.function import Op
from ..tensor import Tensor
from ._opmath import opmath
from .elementwise import _float, _float_function, _unary


# the functions that are one array call, each with its gradient (x: the saved input)
Sinh = _unary("sinh", input=lambda g, x: g * cosh(x))
Cosh = _unary("cosh", input=lambda g, x: g * sinh(x))
# asin, acos: torch's formulas op by op (float16/bfloat16 round after each, as torch's)
Asin = _unary("asin", input=lambda g, x: g * (-x * x + 1).rsqrt())
Acos = _unary("acos", input=lambda g, x: g * -((-x * x + 1).rsqrt()))
Atan = _unary("atan", input=lambda g, x: g / (1 + x * x))
Log2 = _unary("log2", input=lambda g, x: g / (x * 0.6931471805599453))  # ln 2
Log10 = _unary("log10", input=lambda g, x: g / (x * 2.302585092994046))  # ln 10


class Atan2(Op):
    save_inputs = (0, 1)

    @staticmethod
    def forward(ctx, a, b):
        return ctx.backend.xp.atan2(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors_list()
        from .arithmetic import where
        denom = a * a + b * b
        recip = where(denom == 0, 0.0, 1 / denom)  # torch: a zero gradient at (0, 0), not 0/0
        return g * b * recip, g * -a * recip


sinh = _float_function("sinh", Sinh, "Hyperbolic sine.", autocast=True)
cosh = _float_function("cosh", Cosh, "Hyperbolic cosine.", autocast=True)
asin = _float_function("asin", Asin, "Inverse sine (nan outside [-1, 1]).", autocast=True)
acos = _float_function("acos", Acos, "Inverse cosine (nan outside [-1, 1]).", autocast=True)
atan = _float_function("atan", Atan, "Inverse tangent.")


def atan2(input, other):
    """The angle of the point (other, input), elementwise with broadcasting."""
    if _amp.active and _amp.applies():
        return _amp.run(_amp.PROMOTE, atan2, input, other)
    from ._util import broadcast_error, promote, shape_of
    a, b = promote(input, other)  # then to float: atan2(bool, float16) is float16
    a, b = (_float(x) if isinstance(x, Tensor) else x for x in (a, b))
    try:
        return Atan2.apply(a, b)
    except ValueError:
        raise broadcast_error(shape_of(a), shape_of(b)) from None


arctan2 = atan2


log2 = _float_function("log2", Log2, "Base-2 logarithm.", autocast=True)
log10 = _float_function("log10", Log10, "Base-10 logarithm.", autocast=True, narrow=opmath(Log10, wide=_dt.float64))


class Exp2(Op):
    save_output = True

    @staticmethod
    def forward(ctx, a):
        xp = ctx.backend.xp
        if hasattr(xp, "exp2"):
            return xp.exp2(a)
        return xp.pow(xp.asarray(2.0, dtype=a.dtype), a)  # the Array API has no exp2

    @staticmethod
    def backward(ctx, g):
        return g * ctx.output() * 0.6931471805599453  # torch's grad * result * ln 2, op by op


exp2 = _float_function("exp2", Exp2, "``2 ** x``.")


def _test(name):
    def test(input):
        xp = input._backend.xp
        if input._dtype.category < _dt.FLOAT:
            value = name == "isfinite"
            out = xp.full(input._data.shape, value, dtype=xp.bool)
        else:
            out = getattr(xp, name)(input._data)
        return Tensor._make(out, _dt.bool_, input._backend)
    test.__name__ = test.__qualname__ = name
    test.__doc__ = f"Elementwise ``{name}``; a bool tensor."
    return test


isnan = _test("isnan")
isinf = _test("isinf")
isfinite = _test("isfinite")


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``|input - other| <= atol + rtol * |other|`` elementwise (bool)."""
    from .elementwise import abs as _abs
    from .elementwise import logical_and, logical_or
    a = input.detach()
    b = other.detach() if isinstance(other, Tensor) else other
    close = _abs(a - b) <= atol + rtol * _abs(b if isinstance(b, Tensor) else a * 0 + b)
    close = logical_or(close, a == b)
    if equal_nan:
        nan_b = isnan(b) if isinstance(b, Tensor) else (b != b)
        close = logical_or(close, logical_and(isnan(a), nan_b))
    return close


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """Whether every element is close (see ``isclose``)."""
    return bool(isclose(input, other, rtol, atol, equal_nan).all())


def equal(input, other) -> bool:
    """True when both tensors have the same shape and elements (a Python bool; NaN is unequal).

    Example:
        >>> tensorplug.equal(tensorplug.tensor([1, 2]), tensorplug.tensor([1.0, 2.0]))
        True
    """
    for i, (name, value) in enumerate((("input", input), ("other", other)), 1):
        if not isinstance(value, Tensor):
            raise TypeError(f"equal(): argument '{name}' (position {i}) must be Tensor, not "
                            f"{type(value).__name__}; wrap it with tensorplug.tensor(...)")
    return input._data.shape == other._data.shape and bool((input == other).all())
