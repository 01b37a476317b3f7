"""Binary arithmetic with broadcasting and torch's type promotion."""
from __future__ import annotations

import math

from .. import amp as _amp
from .. import dtypes as _dt
from ..autograd.function import Op
from ..autograd.grad_mode import GradMode
from ..tensor import Tensor
from ._opmath import is_narrow, opmath
from ._util import broadcast_error, cast, promote, shape_of

_make = Tensor._make


def binary(op, a, b):
    """Promote ``a`` and ``b`` to torch's result dtype and apply ``op``."""
    # two tensors of one dtype need no promotion
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a._dtype is b._dtype:
        if a._backend is b._backend:
            try:
                # fast path: no graph to record: skip the node as well
                if not ((a._requires_grad or b._requires_grad) and GradMode.enabled):
                    if op.array_forward:  # its result has the inputs' dtype: no lookup (~120 of ~980 ns)
                        return _make(op.forward(None, a._data, b._data), a._dtype, a._backend)
                else:
                    return op.apply2(a, b)  # a node, without apply's generic input loop
            except ValueError:
                raise broadcast_error(a._data.shape, b._data.shape) from None
    else:
        if op in _OPMATH and _scalar_operand(a, b):
            return _OPMATH[op].apply(a, b)  # b used unrounded: no promotion
        a, b = promote(a, b)
        if op in _OPMATH and is_narrow(a if isinstance(a, Tensor) else b):
            op = _OPMATH[op]
    try:
        return op.apply(a, b)
    except ValueError:
        raise broadcast_error(shape_of(a), shape_of(b)) from None


def _scalar_operand(a, b):
    """Whether ``b`` is a 0-d float32/float64 tensor beside a float16/bfloat16 ``a`` with dimensions: torch's
    mul and div read such a "CPU scalar" unrounded, as a Python number (x * tensor(0.1) in bfloat16 was an
    ulp off for a fifth of the elements). Only as the second operand, and not one that wants a gradient."""
    return isinstance(b, Tensor) and isinstance(a, Tensor) and not b._data.ndim and a._data.ndim and \
        is_narrow(a) and b._dtype.category == _dt.FLOAT and b._dtype.itemsize > 2 and \
        not (b._requires_grad and GradMode.enabled) and a._backend is b._backend


class Add(Op):
    array_forward = True
    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g

    @staticmethod
    def fast_backward(ctx, g):
        return g, g


class Sub(Op):
    array_forward = True
    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, g):
        return g, -g

    @staticmethod
    def fast_backward(ctx, g):
        return g, (-g if ctx.needs_grad(1) else None)


class Rsub(Sub):
    """``number - tensor`` (the reflected operator): torch records it as rsub."""

    node_name = "RsubBackward1"


class Mul(Op):
    array_forward = True
    save_inputs = (0, 1)
    save_needed_by = {0: (1,), 1: (0,)}

    @staticmethod
    def forward(ctx, a, b):
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors_list()
        return (g * b if ctx.needs_grad(0) else None), (g * a if ctx.needs_grad(1) else None)

    @staticmethod
    def fast_backward(ctx, g):
        a, b = ctx.saved_arrays()
        # two index tests instead of two needs_grad() calls: 50 vs 185 ns, on a backward of ~1.5 us
        edges = ctx._edges
        return (g * b if edges[0] is not None else None), (g * a if edges[1] is not None else None)


class Div(Op):
    array_forward = True
    save_inputs = (0, 1)
    save_needed_by = {0: (1,), 1: (0, 1)}

    @staticmethod
    def forward(ctx, a, b):
        return a / b

    # torch's grouping, -g * ((a / b) / b): float16/bfloat16 round after each op (softsign's gradient,
    # -(g / b) * a / b, was an ulp off for a third of the elements)
    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors_list()
        return g / b, -g * ((a / b) / b) if ctx.needs_grad(1) else None

    @staticmethod
    def fast_backward(ctx, g):
        a, b = ctx.saved_arrays()
        return g / b, -g * ((a / b) / b) if ctx.needs_grad(1) else None


class Pow(Op):
    save_inputs = (0, 1)
    save_output = True

    @staticmethod
    def forward(ctx, a, b):
        try:
            return a ** b
        except ValueError:  # numpy refuses a negative integer exponent that torch takes
            return _int_pow(ctx.backend.xp, a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors_list()
        ga = g * (b * a ** (b - 1)) if ctx.needs_grad(0) else None  # torch's grouping (narrow dtypes round)
        gb = None
        if ctx.needs_grad(1):
            safe = where(a == 0, 1, a) if isinstance(a, Tensor) else a
            gb = g * (ctx.output() * _log(safe))
        return ga, gb


def _int_pow(xp, a, b):
    """Integer ``a ** b`` as torch's: where ``b < 0`` it is 1 for ``a == 1``, +-1 for ``a == -1``, else 0."""
    negative = b < 0
    out = a ** xp.where(negative, 0, b)
    small = xp.where(a == 1, 1, xp.where(a == -1, xp.where(b % 2 == 0, 1, -1), 0))
    return xp.astype(xp.where(negative, small, out), out.dtype)


class PowByProducts(Pow):
    """``tensor ** 3``, ``** -2`` and ``** -0.5`` as torch's kernel computes them: ``a * a * a``,
    ``1 / (a * a)`` and ``1 / sqrt(a)``, each op rounded to the dtype, not a power function (NumPy's float32
    ``power(x, 3)`` is an ulp from torch's for a third of the elements, bfloat16's for a fifth)."""

    node_name = "PowBackward0"

    @staticmethod
    def forward(ctx, a, b):
        if b == -0.5:
            return 1 / ctx.backend.xp.sqrt(a)
        return a * a * a if b == 3 else 1 / (a * a)


# the dtypes each exponent is computed by products in (torch computes float16 in float32, as NumPy's
# float16 power does; its bfloat16 ** -0.5 is neither rsqrt nor the float32 power)
_BY_PRODUCTS = {3: (_dt.bfloat16, _dt.float32, _dt.float64), -2: (_dt.bfloat16, _dt.float32, _dt.float64),
                -0.5: (_dt.float32, _dt.float64)}


class PowTensor(Pow):
    """``tensor ** tensor``: torch's Tensor_Tensor overload, a node of its own name."""

    node_name = "PowBackward1"


class PowScalarBase(Pow):
    """``number ** tensor``: torch's Scalar overload."""

    node_name = "PowBackward2"


class Neg(Op):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return -g

    @staticmethod
    def fast_backward(ctx, g):
        return -g


class Where(Op):
    save_inputs = (0,)

    @staticmethod
    def forward(ctx, cond, a, b):
        xp = ctx.backend.xp
        if not hasattr(a, "dtype") and hasattr(b, "dtype"):
            a = xp.asarray(a, dtype=b.dtype)  # NumPy's where(c, 1.0, bfloat16) is float32; torch keeps bfloat16
        return xp.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved_tensors_list()
        zero = g.new_zeros(())
        return None, where(cond, g, zero), where(cond, zero, g)


def _log(x):
    from .elementwise import log
    return log(x) if isinstance(x, Tensor) else math.log(x)


# torch's mul and div of a float16/bfloat16 tensor and a number compute in float32 ("opmath") with the
# number unrounded (NumPy rounded it to the narrow dtype first: 0.1 is 0.10009765625 in bfloat16, so x * 0.1
# came out an ulp high for a fifth of the elements, and a bfloat16 SGD step used a 0.1% larger learning
# rate); its add and sub round the number to the tensor's dtype first
_OPMATH = {op: opmath(op, backward=True) for op in (Mul, Div)}


# public functions ----------------------------------------------------------------

def add(input, other, *, alpha=1, out=None):
    """``input + alpha * other`` with broadcasting.

    Example:
        >>> tensorplug.add(tensorplug.ones(2), 1)
        tensor([2., 2.])
    """
    if alpha != 1:
        if _scaled_in_float32(input, other):
            return _out(_ADD_SCALED.apply(*promote(input, other), alpha=alpha), out)
        other = _times_alpha(input, other, alpha)
    result = binary(Add, input, other)
    # `a + b` lands here: the common case skips the call to _out
    return result if out is None else _out(result, out)


def _times_alpha(input, other, alpha):
    """``alpha * other`` for add/sub, with torch's check that a float alpha needs a floating result."""
    dtype = _promoted_dtype(input, other)
    if isinstance(alpha, float) and dtype.category < _dt.FLOAT:
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating point number.")
    if not isinstance(other, Tensor):
        return other * alpha
    # in the result's dtype, as torch: uint8 255 * 2 wrapped to 254 before adding to int8 or float16 (and a
    # bool other times 2 made the sum int64)
    other = other if other._dtype is dtype else other.to(dtype)
    return (other if alpha else other & False) if dtype is _BOOL else mul(other, alpha)


def sub(input, other, *, alpha=1, out=None):
    """``input - alpha * other`` with broadcasting."""
    # a bool operand is refused; the Tensor-Tensor case (a - b) is read first, the cheapest
    if (other._dtype is _BOOL if isinstance(other, Tensor) else type(other) is bool) or \
            getattr(input, "_dtype", None) is _BOOL:
        _refuse_bool_subtraction(input, other)
    if alpha != 1:
        if _scaled_in_float32(input, other):
            return _out(_SUB_SCALED.apply(*promote(input, other), alpha=-alpha), out)
        other = _times_alpha(input, other, alpha)
    result = binary(Sub, input, other)
    return result if out is None else _out(result, out)


def rsub(input, other):
    """``other - input`` (``Tensor.__rsub__``)."""
    if input._dtype is _BOOL or type(other) is bool:
        _refuse_bool_subtraction(input, other)
    return binary(Rsub, other, input)


_BOOL = _dt.bool_


class AddScaled(Op):
    """``a + alpha * b``, torch's add with ``alpha`` (sub: ``-alpha``)."""

    node_name = "AddBackward0"

    @staticmethod
    def forward(ctx, a, b, alpha):
        ctx.alpha = alpha  # the gradient's g * alpha reads it unrounded, as torch's
        narrow = getattr(ctx, "narrow", None)
        if narrow is not None:  # widened float16/bfloat16: torch's kernel rounds alpha to the dtype first
            xp = ctx.backend.xp
            alpha = xp.astype(xp.asarray(alpha, dtype=narrow), a.dtype)
        return a + alpha * b

    @staticmethod
    def backward(ctx, g):
        return g, g * ctx.alpha

    @staticmethod
    def fast_backward(ctx, g):
        return g, g * ctx.alpha


# float16/bfloat16 a + alpha * b as torch's: alpha rounded to the dtype, then in float32 and rounded once
# (alpha * b rounded first made x.add(y, alpha=0.1) an ulp off for a tenth of the elements)
_ADD_SCALED = opmath(AddScaled, backward=True)
_SUB_SCALED = opmath(AddScaled.renamed("SubBackward0"), backward=True)


def _scaled_in_float32(input, other):
    """Whether ``input + alpha * other`` is two float16/bfloat16 tensors (of one dtype after promotion)."""
    return isinstance(input, Tensor) and isinstance(other, Tensor) and is_narrow(input) and \
        _promoted_dtype(input, other) is input._dtype


def _refuse_bool_subtraction(input, other):
    """torch refuses ``-`` with a bool operand (a bool tensor, or a Python bool beside a tensor)."""
    bools = [isinstance(x, bool) or getattr(x, "_dtype", None) is _dt.bool_ for x in (input, other)]
    if all(bools):
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
                           "`logical_xor()` operator instead.")
    if any(bools):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to "
                           "invert a mask, use the `~` or `logical_not()` operator instead.")


def mul(input, other, *, out=None):
    """Elementwise product with broadcasting."""
    result = binary(Mul, input, other)
    return result if out is None else _out(result, out)


def div(input, other, *, rounding_mode=None, out=None):
    """True division (integers give floats), or ``rounding_mode='trunc'|'floor'``."""
    if rounding_mode is None and not isinstance(input, Tensor):
        # number / tensor is torch's reciprocal(tensor) * number, in every dtype (5042 of 20000 float32
        # quotients 0.3 / x are an ulp from the true division's)
        from .elementwise import reciprocal
        return _out(binary(Mul, reciprocal(other), input), out)
    if rounding_mode == "floor":
        _check_rounding_division(input, other, "div_floor_cpu")
        return _out(binary(DivFloor, input, other), out)
    if rounding_mode == "trunc":
        _check_rounding_division(input, other, "div_trunc_cpu")
        exact = _promoted_dtype(input, other).category < _dt.FLOAT
        return _out(binary(DivTruncExact if exact else DivTrunc, input, other), out)
    if rounding_mode is not None:
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'")
    r = _promoted_dtype(input, other)
    if r.category < _dt.FLOAT:
        input = input.to(_dt.get_default_dtype()) if isinstance(input, Tensor) else float(input)
        other = other.to(_dt.get_default_dtype()) if isinstance(other, Tensor) else float(other)
    return _out(binary(Div, input, other), out)


def _promoted_dtype(a, b):
    from ._util import result_dtype
    return result_dtype(a, b)


def _check_rounding_division(input, other, kernel):
    """torch's refusals of a rounding division or remainder (``kernel``: its CPU kernel's name): bool and
    complex operands, and an integer zero divisor."""
    dtype = _promoted_dtype(input, other)
    if dtype is _dt.bool_ or dtype.category == _dt.COMPLEX:
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_dt.scalar_type_name(dtype)}'")
    if dtype.category > _dt.INT:
        return
    if isinstance(other, Tensor):
        zero = bool(other._backend.xp.any(other._data == 0))
    else:
        zero = other == 0
    if zero:
        raise RuntimeError("ZeroDivisionError: integer division or modulo by zero; "
                           "use a float tensor for inf/nan results")


class DivFloor(Op):
    """``div(rounding_mode='floor')``: a step function, so its gradient is zero (torch's DivBackward2)."""
    node_name = "DivBackward2"

    @staticmethod
    def forward(ctx, a, b):
        return ctx.backend.xp.floor_divide(a, b)

    @staticmethod
    def backward(ctx, g):
        return g * 0, g * 0


class DivTrunc(DivFloor):
    node_name = "DivBackward2"

    @staticmethod
    def forward(ctx, a, b):
        xp = ctx.backend.xp
        return xp.trunc(xp.divide(a, b))


class DivTruncExact(DivTrunc):
    """Integer ``div(rounding_mode='trunc')`` without a float quotient (exact past 2**53): the floor
    quotient, moved up by one where it is negative and inexact."""
    node_name = "DivBackward2"

    @staticmethod
    def forward(ctx, a, b):
        xp = ctx.backend.xp
        q = xp.floor_divide(a, b)
        return xp.where((q < 0) & (q * b != a), q + 1, q)


# floor_divide and //: torch records a node with no derivative, so a backward through it raises rather
# than passing the zero gradient that div(rounding_mode='floor') has
FloorDivide = DivFloor.without_derivative("floor_divide")


class Remainder(Op):
    save_inputs = (0, 1)

    @staticmethod
    def forward(ctx, a, b):
        xp = ctx.backend.xp
        r = xp.remainder(a, b)
        if ctx.backend.dtype_of(r).category == _dt.FLOAT:  # torch's zero has the dividend's sign, numpy's the divisor's
            # a number's zero as an array of r's dtype (a Python float made bfloat16 float32)
            zero = 0 * a if hasattr(a, "dtype") else xp.asarray(-0.0 if a < 0 else 0.0, dtype=r.dtype)
            r = xp.where(r == 0, zero, r)
        return r

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors_list()
        return g, (-g * div(a, b, rounding_mode="floor")) if isinstance(b, Tensor) else None


RemainderByTensor = Remainder.renamed("RemainderBackward1")  # torch's name when the divisor is a tensor


RemainderOfScalar = Remainder.without_derivative("remainder")  # scalar % tensor (remainder.Scalar_Tensor)


class Fmod(Op):
    save_inputs = (0, 1)

    @staticmethod
    def forward(ctx, a, b):
        # C's fmod, exact (a - trunc(a / b) * b rounds: fmod(10, 0.1) gave 0; remainder - b gave NaN for
        # fmod(-7, inf) and rounded twice in bfloat16); integer division by zero is refused before this
        xp = ctx.backend.xp
        if hasattr(xp, "fmod"):
            return xp.fmod(a, b)
        # the array API has none: its exact remainder, less b where the sign is not the dividend's
        r = xp.remainder(a, b)
        out = xp.where((r != 0) & ((r < 0) != (a < 0)), r - b, r)
        return xp.where(out == 0, 0 * a, out)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors_list()
        return g, (-g * div(a, b, rounding_mode="trunc")) if isinstance(b, Tensor) else None


FmodByTensor = Fmod.renamed("FmodBackward1")


def floor_divide(input, other, *, out=None):
    _check_rounding_division(input, other, "div_floor_cpu")
    return _out(binary(FloorDivide, input, other), out)


def remainder(input, other, *, out=None):
    _check_rounding_division(input, other, "remainder_cpu")
    op = Remainder if not isinstance(other, Tensor) else RemainderByTensor if isinstance(input, Tensor) else \
        RemainderOfScalar
    return _out(binary(op, input, other), out)


def fmod(input, other, *, out=None):
    """The remainder of ``input / other`` with the dividend's sign (C's fmod; ``remainder`` takes the divisor's).

    Example:
        >>> tensorplug.fmod(tensorplug.tensor([-3.0, 3.0]), 2)
        tensor([-1.,  1.])
    """
    _check_rounding_division(input, other, "fmod_cpu")
    return _out(binary(FmodByTensor if isinstance(other, Tensor) else Fmod, input, other), out)


def pow(input, exponent, *, out=None):
    """``input ** exponent`` elementwise."""
    if _amp.active and out is None and _amp.applies():
        return _amp.run(_amp.FLOAT32, pow, input, exponent, out=out)
    if getattr(input, "_dtype", None) is _dt.bool_ and (
            isinstance(exponent, bool) or getattr(exponent, "_dtype", None) is _dt.bool_):
        if isinstance(exponent, bool):  # torch: x ** True is x, x ** False all True (numpy gave int8)
            return _out(input.clone() if exponent else input.new_ones(input.shape), out)
        raise NotImplementedError("\"pow\" not implemented for 'Bool'")
    if getattr(exponent, "_dtype", None) is _dt.bool_ and isinstance(input, bool):
        raise NotImplementedError("\"pow\" not implemented for 'Bool'")
    if not isinstance(input, Tensor):
        return _out(binary(PowScalarBase, input, exponent), out)
    if input._dtype.category <= _dt.INT:
        neg = False
        if isinstance(exponent, int) and not isinstance(exponent, bool):
            neg = exponent < 0  # a tensor of negative exponents torch takes (_int_pow), a number not
        if neg:
            raise RuntimeError("Integers to negative integer powers are not allowed; "
                               "convert the base to float first, e.g. x.float() ** -1")
    if type(exponent) in (int, float) and input._dtype in _BY_PRODUCTS.get(exponent, ()):
        return _out(PowByProducts.apply(input, exponent), out)
    return _out(binary(PowTensor if isinstance(exponent, Tensor) else Pow, input, exponent), out)


def neg(input):
    """``-input``."""
    if input._dtype is _dt.bool_:
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.")
    return Neg.apply(input)


negative = neg


def where(condition, input=None, other=None):
    """``input`` where ``condition`` is true, else ``other`` (broadcasting); ``where(c)`` is ``nonzero(c, as_tuple=True)``."""
    if input is None and other is None:
        from .gather import nonzero
        return nonzero(condition, as_tuple=True)
    return where_as(Where, condition, input, other)


def where_as(op, condition, input, other):
    """``where(condition, input, other)`` recorded as ``op``: a Where named for the torch function
    built on it (masked_fill, tril), as torch names that node."""
    a, b = promote(input, other) if isinstance(input, Tensor) or isinstance(other, Tensor) else (input, other)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        from ._util import as_tensor_like
        a = as_tensor_like(a, condition).to(_dt.get_default_dtype() if isinstance(a, float) else _dt.scalar_dtype(a))
        a, b = promote(a, b)
    if condition._dtype is not _dt.bool_:
        condition = condition.to(_dt.bool_)
    try:
        return op.apply(condition, a, b)
    except ValueError:
        raise broadcast_error(condition._data.shape, shape_of(a)) from None


def _out(result, out):
    if out is None:
        return result
    from .._out import write_out  # resizing, casting and the autograd refusal, as torch's out=
    return write_out(None, out, result)
