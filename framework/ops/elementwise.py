"""Unary elementwise math. Integer inputs of float functions give float32, as in torch."""
from __future__ import annotations

import sys

from .. import amp as _amp
from .. import dtypes as _dt
from ..autograd.function import Op
from ..autograd.grad_mode import GradMode
from ..tensor import Tensor
from ._opmath import opmath
from .complex_numbers import sgn

_make = Tensor._make
_ZEROS = {}


def _zero(backend, dtype):
    """A cached 0-d zero of a native ``dtype``, never written: no allocation per call (on a GPU,
    no fill launch)."""
    key = (backend, dtype)
    zero = _ZEROS.get(key)
    if zero is None:
        zero = _ZEROS[key] = backend.xp.zeros((), dtype=dtype)
    return zero


def _float(x):
    """Float functions of integer tensors compute in the default float dtype."""
    return x if x._dtype.category >= _dt.FLOAT else x.to(_dt.get_default_dtype())


def _zero_grad(g):
    """torch's ``zeros_like(grad)``: zero also where ``g`` is inf or NaN (``g * 0`` is NaN there)."""
    return _make(g._backend.zeros(g._data.shape, g._dtype), g._dtype, g._backend)


def _unary(fn, *, input=None, output=None, grad=None, node_name=None):
    """The Op computing ``xp.<fn>(a)``, whose gradient is ``input(g, x)`` of its saved input ``x``,
    ``output(g, y)`` of its output ``y``, or ``grad(g)`` (nothing saved): one formula per function, as
    torch's derivatives.yaml."""
    def forward(ctx, a):
        return getattr(ctx.backend.xp, fn)(a)

    if input is not None:
        def backward(ctx, g):
            (x,) = ctx.saved_tensors_list()
            return input(g, x)
        body = {"save_inputs": (0,)}
    elif output is not None:
        def backward(ctx, g):
            return output(g, ctx.output())
        body = {"save_output": True}
    else:
        def backward(ctx, g):
            return grad(g)
        body = {}
    name = fn.capitalize()
    body.update(forward=staticmethod(forward), backward=staticmethod(backward), __qualname__=name)
    if node_name is not None:
        body["node_name"] = node_name
    return type(name, (Op,), body)


def _float_function(name, op, doc=None, *, autocast=False, narrow=None):
    """The public function ``name(input)``: ``op`` of ``input`` as float (integers give float32), in
    float32 under autocast when ``autocast``; ``doc`` its docstring. ``narrow``: the op float16 and
    bfloat16 inputs take instead (``opmath(op)``, where ``op``'s forward rounds more than once)."""
    if narrow is None:
        narrow = op
    f16, bf16 = _dt.float16, _dt.bfloat16
    if autocast:
        def function(input):
            if _amp.active and _amp.applies():
                return _amp.run(_amp.FLOAT32, function, input)
            input = _float(input)
            dtype = input._dtype
            return (narrow if dtype is bf16 or dtype is f16 else op).apply(input)
    else:
        def function(input):
            input = _float(input)
            dtype = input._dtype
            return (narrow if dtype is bf16 or dtype is f16 else op).apply(input)
    function.__name__ = function.__qualname__ = name
    function.__code__ = function.__code__.replace(co_name=name)  # as tracebacks and profiles name it
    function.__doc__ = doc
    function.__module__ = sys._getframe(1).f_globals["__name__"]  # the caller's, as namedtuple's
    return function


# the functions that are one array call, each with its gradient (x: the saved input, y: the output)
Sqrt = _unary("sqrt", output=lambda g, y: g / (2 * y))
Abs = _unary("abs", input=lambda g, x: g * sgn(x))  # sgn: z/|z| for complex, differentiable
Sin = _unary("sin", input=lambda g, x: g * cos(x))
Cos = _unary("cos", input=lambda g, x: -g * sin(x))
Tan = _unary("tan", output=lambda g, y: g * (1 + y * y))
Log1p = _unary("log1p", input=lambda g, x: g / (x + 1), node_name="Log1PBackward0")
Expm1 = _unary("expm1", output=lambda g, y: g * (y + 1))
# piecewise constant (sign too, below): the gradient is zero
Trunc = _unary("trunc", grad=_zero_grad)
Floor = _unary("floor", grad=_zero_grad)
Ceil = _unary("ceil", grad=_zero_grad)
Round = _unary("round", grad=_zero_grad)


class Exp(Op):
    save_output = True

    @staticmethod
    def forward(ctx, a):
        return ctx.backend.xp.exp(a)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.output()

    @staticmethod
    def fast_backward(ctx, g):
        return g * ctx.output_array()


class Log(Op):
    save_inputs = (0,)

    @staticmethod
    def forward(ctx, a):
        return ctx.backend.xp.log(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors_list()
        return g / a

    @staticmethod
    def fast_backward(ctx, g):
        (a,) = ctx.saved_arrays()
        return g / a


class Sign(Op):
    @staticmethod
    def forward(ctx, a):
        xp = ctx.backend.xp
        out = xp.sign(a)
        if a.dtype == xp.bool:
            return out  # (numpy's isdtype refuses bfloat16, so NaN is looked for in every numeric dtype)
        return xp.where(xp.isnan(a), _zero(ctx.backend, a.dtype), out)  # torch: sign(nan) is 0

    @staticmethod
    def backward(ctx, g):
        return _zero_grad(g)


class Tanh(Op):
    save_output = True

    @staticmethod
    def forward(ctx, a):
        return ctx.backend.xp.tanh(a)

    @staticmethod
    def backward(ctx, g):
        y = ctx.output()
        return g * (1 - y * y)

    @staticmethod
    def fast_backward(ctx, g):
        y = ctx.output_array()
        return g * (1 - y * y)


class Sigmoid(Op):
    save_output = True

    @staticmethod
    def forward(ctx, a):
        xp = ctx.backend.xp
        if xp.isdtype(a.dtype, "complex floating"):  # no sign to split on: the formula itself, as torch's
            return 1 / (1 + xp.exp(-a))
        # exp of -|a| never overflows; pick the matching form per sign
        e = xp.exp(-xp.abs(a))
        return xp.where(a >= 0, 1 / (1 + e), e / (1 + e))

    # torch's sigmoid_backward: g * (1 - y) * y (in that order: float16 rounds after each product)
    @staticmethod
    def backward(ctx, g):
        y = ctx.output()
        return g * (1 - y) * y

    @staticmethod
    def fast_backward(ctx, g):
        y = ctx.output_array()
        return g * (1 - y) * y


class Relu(Op):
    save_output = True

    @staticmethod
    def forward(ctx, a):
        backend = ctx.backend
        return backend.xp.maximum(a, _zero(backend, a.dtype))

    # torch's threshold_backward: the gradient stops where the output is <= 0; NaN passes
    @staticmethod
    def backward(ctx, g):
        from .arithmetic import where
        return where(ctx.output() <= 0, 0.0, g)  # threshold_backward: NaN passes; a NaN g stays out where cut

    @staticmethod
    def fast_backward(ctx, g):
        xp = ctx.backend.xp
        out = ctx.output_array()
        fused = ctx.backend.fused_relu_backward(out, g)
        if fused is not NotImplemented:
            return fused
        grad = g * xp.astype(out > 0, g.dtype)
        # the product is wrong in two rare cases: a NaN output (torch passes its gradient) and a NaN/inf
        # g where relu cut (torch gives 0, the product NaN). Both make out . g non-finite: one BLAS dot
        # (cheaper than a sum) finds them, and only then runs where(), which costs 13x the product on a
        # random mask (1.37 ms vs 0.10 ms on 64x8x26x26). An overflowing dot takes the exact path too.
        if not bool(xp.isfinite(xp.vecdot(xp.reshape(out, (-1,)), xp.reshape(g, (-1,))))):
            grad = xp.where(out <= 0, xp.zeros((), dtype=g.dtype), g)
        return grad


exp = _float_function("exp", Exp, autocast=True)
log = _float_function("log", Log, autocast=True)
sqrt = _float_function("sqrt", Sqrt)


def abs(input):
    return Abs.apply(input)


def sign(input):
    if input._dtype is _dt.bool_:
        return input.clone()  # torch: a bool's sign is itself (numpy has no bool sign loop)
    return Sign.apply(input)


sin = _float_function("sin", Sin)
cos = _float_function("cos", Cos, narrow=opmath(Cos, wide=_dt.float64))
tanh = _float_function("tanh", Tanh, narrow=opmath(Tanh, forward=False, backward=True))
sigmoid = _float_function("sigmoid", Sigmoid, narrow=opmath(Sigmoid, backward=(_dt.bfloat16,)))


def relu(input):
    if input._requires_grad and GradMode.enabled:
        return Relu.apply(input)
    # nothing to record: the array op alone (inference, and every ReLU under no_grad)
    backend = input._backend
    data = input._data
    return _make(backend.xp.maximum(data, _zero(backend, data.dtype)), input._dtype, backend)


def trunc(input):
    return input if input._dtype.category < _dt.FLOAT else Trunc.apply(input)


class Rsqrt(Op):
    save_output = True

    @staticmethod
    def forward(ctx, a):
        xp = ctx.backend.xp
        return 1 / xp.sqrt(a)

    # torch's formulas here and below, op by op: in float16/bfloat16 each op rounds, as torch's do
    @staticmethod
    def backward(ctx, g):
        y = ctx.output()
        return -0.5 * g * y.pow(3)


class Reciprocal(Op):
    save_output = True

    @staticmethod
    def forward(ctx, a):
        return 1 / a

    @staticmethod
    def backward(ctx, g):
        y = ctx.output()
        return -g * (y * y)


class Erf(Op):
    save_inputs = (0,)

    @staticmethod
    def forward(ctx, a):
        if a.ndim == 0:
            # some backends' erf hands back a Python float for a 0-d array
            xp = ctx.backend.xp
            return xp.reshape(xp.asarray(ctx.backend.erf(xp.reshape(a, (1,))), dtype=a.dtype), ())
        return ctx.backend.erf(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors_list()
        return 1.1283791670955126 * exp(-(a * a)) * g  # 2 / sqrt(pi)


tan = _float_function("tan", Tan, "Elementwise tangent.", autocast=True, narrow=opmath(Tan, wide=_dt.float64))
log1p = _float_function("log1p", Log1p, "``log(1 + x)``, accurate for small ``x``.", autocast=True)
expm1 = _float_function("expm1", Expm1, "``exp(x) - 1``, accurate for small ``x``.", autocast=True)
rsqrt = _float_function("rsqrt", Rsqrt, "``1 / sqrt(x)``.", autocast=True, narrow=opmath(Rsqrt))
reciprocal = _float_function("reciprocal", Reciprocal, "``1 / x`` (integers give float32).", autocast=True)
erf = _float_function("erf", Erf, "The Gauss error function.")


def square(input):
    """``x * x`` (torch's ``pow(x, 2)``: a bool tensor squares to int64)."""
    if input._dtype is _dt.bool_:
        input = input.to(_dt.int64)
    return input * input


def floor(input):
    """Largest integer <= x (integer tensors are returned as they are)."""
    return input if input._dtype.category < _dt.FLOAT else Floor.apply(input)


def ceil(input):
    """Smallest integer >= x."""
    return input if input._dtype.category < _dt.FLOAT else Ceil.apply(input)


def round(input, *, decimals=0):
    """Round half to even, as torch does; ``decimals`` shifts the rounding position."""
    if input._dtype.category < _dt.FLOAT:
        return input
    if decimals:
        scale = 10.0 ** decimals
        return Round.apply(input * scale) / scale
    return Round.apply(input)


# comparisons and logic: results are bool and carry no gradient ------------------

def _compare(name):
    def compare(input, other):
        from ._util import promote, broadcast_error, shape_of
        a, b = promote(input, other)
        x = a._data if isinstance(a, Tensor) else a
        y = b._data if isinstance(b, Tensor) else b
        t = a if isinstance(a, Tensor) else b
        if t._dtype.category == _dt.COMPLEX and name not in ("equal", "not_equal"):
            from .complex_numbers import ordering_error
            raise ordering_error(_TORCH_NAMES[name], t._dtype)
        try:
            out = getattr(t._backend.xp, name)(x, y)
        except ValueError:
            raise broadcast_error(shape_of(a), shape_of(b)) from None
        except TypeError:
            return NotImplemented
        return Tensor._make(out, _dt.bool_, t._backend)
    compare.__name__ = name
    compare.__doc__ = f"Elementwise ``{name}`` with broadcasting; a bool tensor."
    return compare


_TORCH_NAMES = {"less": "lt", "less_equal": "le", "greater": "gt", "greater_equal": "ge"}
eq = _compare("equal")
ne = _compare("not_equal")
lt = _compare("less")
le = _compare("less_equal")
gt = _compare("greater")
ge = _compare("greater_equal")


def _logical(name, bitwise):
    def logic(input, other=None):
        if not isinstance(input, Tensor):  # `3 & t` (__rand__): and, or and xor commute
            input, other = other, input
        xp = input._backend.xp
        if other is None:
            x = input._data
            out = getattr(xp, name)(x)
            dt = input._dtype if bitwise else _dt.bool_
            return Tensor._make(out, dt, input._backend)
        from ._util import promote
        a, b = promote(input, other)
        if bitwise and a._dtype.category > _dt.INT:
            raise NotImplementedError(f"\"{name}_cpu\" not implemented for '{_dt.scalar_type_name(a._dtype)}': "
                                      f"bitwise ops need integer or bool tensors")
        x = a._data
        y = b._data if isinstance(b, Tensor) else b
        out = getattr(xp, name)(x, y)
        return Tensor._make(out, a._dtype if bitwise else _dt.bool_, input._backend)
    logic.__name__ = name
    return logic


logical_and = _logical("logical_and", False)
logical_or = _logical("logical_or", False)
logical_xor = _logical("logical_xor", False)
logical_not = _logical("logical_not", False)
bitwise_and = _logical("bitwise_and", True)
bitwise_or = _logical("bitwise_or", True)
bitwise_xor = _logical("bitwise_xor", True)


def _shift(name, kernel):
    def shift(input, other):
        from ._util import promote
        a, b = promote(input, other)
        ref = a if isinstance(a, Tensor) else b
        if ref._dtype.category != _dt.INT:
            raise NotImplementedError(f"\"{kernel}_cpu\" not implemented for '{_dt.scalar_type_name(ref._dtype)}'")
        arrays = [x._data if isinstance(x, Tensor) else x for x in (a, b)]
        return Tensor._make(getattr(ref._backend.xp, name)(*arrays), ref._dtype, ref._backend)
    shift.__name__ = name
    shift.__doc__ = f"Elementwise ``{name}`` of integer tensors (shifts past the width give 0, or -1 right of a negative)."
    return shift


bitwise_left_shift = _shift("bitwise_left_shift", "lshift")
bitwise_right_shift = _shift("bitwise_right_shift", "rshift")


def bitwise_not(input):
    xp = input._backend.xp
    out = xp.logical_not(input._data) if input._dtype is _dt.bool_ else xp.bitwise_invert(input._data)
    return Tensor._make(out, input._dtype, input._backend)
