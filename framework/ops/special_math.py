"""Special functions (torch.special and their top-level / Tensor forms): lgamma, digamma, polygamma,
erfc, erfcx, erfinv, the modified Bessel functions i0/i0e/i1/i1e, the normal distribution's ndtr,
ndtri and log_ndtr, entr, xlog1py, multigammaln and Hurwitz zeta.

The values come from the backend's ``special`` method (array formulas in ``framework/_specfun.py``
unless a backend has native ones), computed in float64 and rounded once to the input's dtype (float16 and
bfloat16 digamma and trigamma: torch's float32 series, rounded); the gradients are torch's derivatives.yaml
formulas written with these ops, so they differentiate again (for float16 and bfloat16 in torch's order of
ops, each op rounding).
"""
from __future__ import annotations

import math
import operator

from .. import dtypes as _dt
from ..autograd import _nodes
from ..autograd.function import Op
from ..tensor import Tensor
from ._opmath import is_narrow, opmath
from .elementwise import _float, _float_function

__all__ = ["lgamma", "digamma", "polygamma", "mvlgamma", "erfc", "erfinv", "i0", "xlogy", "logit"]

_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2 * math.pi)


def _real_kernel(backend, kernel, *arrays):
    """torch's special functions have no complex kernel: its NotImplementedError (casting to float64
    would drop the imaginary part and answer for another number)."""
    for a in arrays:
        dtype = None if isinstance(a, int) else backend.dtype_of(a)
        if dtype is not None and dtype.category == _dt.COMPLEX:
            raise NotImplementedError(f"\"{kernel}\" not implemented for '{_dt.scalar_type_name(dtype)}': it takes "
                                      f"real input; apply it to z.real and z.imag, or to z.abs()")


def _special(backend, name, *arrays, dtype=None):
    """``backend.special(name, ...)`` in float64, as an array of ``dtype`` (the last array's by
    default). Numbers among ``arrays`` (polygamma's order) pass as they are."""
    _real_kernel(backend, f"{name}_cpu", *arrays)
    xp = backend.xp
    dtype = dtype or arrays[-1].dtype
    if name in _IN_FLOAT32 and dtype == arrays[-1].dtype and backend.dtype_of(arrays[-1]) in _dt.NARROW_FLOATS:
        kernel = _IN_FLOAT32[name](*arrays[:-1])
        if kernel is not None:
            return xp.astype(kernel(xp, xp.astype(arrays[-1], backend.native_dtype(_dt.float32))), dtype)
    f64 = xp.float64
    wide = [a if isinstance(a, int) or a.dtype == f64 else xp.astype(a, f64) for a in arrays]
    return xp.asarray(backend.special(name, *wide), dtype=dtype)


# torch's float32 digamma and trigamma (Cephes' series), which its float16/bfloat16 kernels round: float64's
# correctly rounded value, rounded to the dtype, differed for 11 of the 63488 finite float16 digamma values
# (and 82 of 20000 bfloat16 digamma gradients), trigamma for 94 float16 and 15615 bfloat16 values; these
# give torch's for every finite float16 and bfloat16 input
_DIGAMMA_SERIES = (8.33333333333333333333E-2, -2.10927960927960927961E-2, 7.57575757575757575758E-3,
                   -4.16666666666666666667E-3, 3.96825396825396825397E-3, -8.33333333333333333333E-3,
                   8.33333333333333333333E-2)


def _digamma32(xp, x):
    """torch's ``calc_digamma(float)`` of float32 ``x``: below 0 reflected, pushed up to 10 by steps of 1."""
    f64 = xp.float64
    negative = x < 0
    wide = xp.astype(x, f64)
    reflection = xp.astype(math.pi / xp.tan(math.pi * (wide - xp.trunc(wide))), x.dtype)  # in float64, as torch
    y = xp.where(negative, 1 - x, x)
    shift = xp.zeros_like(x)
    for _ in range(10):
        below = y < 10
        shift = xp.where(below, shift - 1 / y, shift)
        y = xp.where(below, y + 1, y)
    z = 1 / (y * y)
    series = xp.zeros_like(x)
    for a in _DIGAMMA_SERIES:
        series = series * z + a
    tail = xp.where(y < 1e17, z * series, 0)
    out = xp.where(y == 10, shift + 2.25175258906672110764, shift + _log32(xp, y) - 0.5 / y - tail)
    out = xp.where(negative, out - reflection, out)
    out = xp.where(negative & (xp.trunc(x) == x), math.nan, out)
    return xp.where(x == 0, xp.copysign(xp.asarray(math.inf, dtype=x.dtype), -x), out)


def _trigamma32(xp, x):
    """torch's ``trigamma(float)`` of float32 ``x``: below 0.5 reflected, six steps up, then the series."""
    reflected = x < 0.5
    pi = xp.asarray(math.pi, dtype=x.dtype)
    sin = xp.sin(pi * x)  # the backend's float32 sine: torch's sinf
    out = xp.where(reflected, -((pi * pi) / (sin * sin)), 0)
    y = xp.where(reflected, 1 - x, x)
    for _ in range(6):
        out = out + 1 / (y * y)
        y = y + 1
    ixx = 1 / (y * y)
    out = out + (1 + 1 / (2 * y) + ixx * (1 / 6 - ixx * (1 / 30 - ixx * (1 / 42)))) / y
    return xp.where(reflected, -out, out)


def _log32(xp, x):
    """float32 ``log``, correctly rounded (from float64), as torch's ``logf``."""
    return xp.astype(xp.log(xp.astype(x, xp.float64)), x.dtype)


# special function -> fn(*orders) giving its float32 kernel for float16/bfloat16 inputs (None: float64's)
_IN_FLOAT32 = {"digamma": lambda: _digamma32, "polygamma": lambda n: _trigamma32 if n == 1 else None}


def _special_op(name, grad, node_name=None, save="input"):
    """The Op computing special function ``name``; ``grad(g, x, y)`` its gradient from the saved input
    ``x`` and/or output ``y`` (``save``: "input", "output" or "both")."""
    def forward(ctx, a):
        return _special(ctx.backend, name, a)

    def backward(ctx, g):
        x = ctx.saved_tensors_list()[0] if save != "output" else None
        y = ctx.output() if save != "input" else None
        return grad(g, x, y)

    cls_name = "".join(part.capitalize() for part in name.split("_"))
    body = {"forward": staticmethod(forward), "backward": staticmethod(backward), "__qualname__": cls_name,
            "save_inputs": (0,) if save != "output" else (), "save_output": save != "input"}
    if node_name is not None:
        body["node_name"] = node_name
    return type(cls_name, (Op,), body)


def _no_half(kernel, t):
    """torch has no float16/bfloat16 kernel for ``kernel``: NotImplementedError, as torch raises."""
    if t._dtype.category >= _dt.FLOAT and t._dtype.itemsize == 2:
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_dt.scalar_type_name(t._dtype)}': it needs "
                                  f"float32 or float64; convert with .float() first")
    return t


def _i1_grad(g, x, y):
    """torch's i1_backward: ``i0(x) - i1(x) / x``, 0.5 where ``|x|`` is below epsilon."""
    from .arithmetic import where
    _no_half("i1_backward", x)
    tiny = ~(x.abs() > _dt.finfo(x.dtype).eps)  # nan too, as torch
    safe = where(tiny, _dt.finfo(x.dtype).eps, x)
    return g * where(tiny, 0.5, i0(safe) - y / safe)


def _i1e_grad(g, x, y):
    """torch's i1e_backward: ``i0e(x) - i1e(x) (sgn(x) + 1 / x)``, 0.5 near 0."""
    from .arithmetic import where
    _no_half("i1e_backward", x)
    tiny = ~(x.abs() > _dt.finfo(x.dtype).eps)  # nan too, as torch
    safe = where(tiny, _dt.finfo(x.dtype).eps, x)
    return g * where(tiny, 0.5, special_i0e(safe) - y * (safe.sign() + 1 / safe))


Lgamma = _special_op("lgamma", lambda g, x, y: g * digamma(x))
Digamma = _special_op("digamma", lambda g, x, y: g * polygamma(1, x))
Erfc = _special_op("erfc", lambda g, x, y: g * (-2 / _SQRT_PI) * (-(x * x)).exp())
Erfinv = _special_op("erfinv", lambda g, x, y: g * (_SQRT_PI / 2) * (y * y).exp(), save="output")
# float16/bfloat16: torch's formulas op by op, in its order, each op rounding (g times the constant first put
# 7200 of 20000 bfloat16 erfc gradients an ulp off, erfinv 6548); erfinv's value rounded to float32 first, as
# torch computes it (5 of 20000 float16 values were an ulp off)
_NARROW_ERFC = _special_op("erfc", lambda g, x, y: (-2 / _SQRT_PI) * (-(x * x)).exp() * g)
_NARROW_ERFINV = opmath(_special_op("erfinv", lambda g, x, y: (_SQRT_PI / 2) * (y * y).exp() * g, save="output"))
I0 = _special_op("i0", lambda g, x, y: g * special_i1(x))
SpecialI0e = _special_op("i0e", lambda g, x, y: g * (special_i1e(x) - x.sgn() * y), "SpecialI0EBackward0",
                         save="both")
SpecialI1 = _special_op("i1", _i1_grad, "SpecialI1Backward0", save="both")
SpecialI1e = _special_op("i1e", _i1e_grad, "SpecialI1EBackward0", save="both")
SpecialErfcx = _special_op("erfcx", lambda g, x, y: g * (2 * x * y - 2 / _SQRT_PI), "SpecialErfcxBackward0",
                           save="both")
SpecialNdtri = _special_op("ndtri", lambda g, x, y: g * _SQRT_2PI * (y * y / 2).exp(), "SpecialNdtriBackward0",
                           save="output")


class Polygamma(Op):
    save_inputs = (0,)

    @staticmethod
    def forward(ctx, a, *, n):
        ctx.n = n
        if n == 0:
            return _special(ctx.backend, "digamma", a)
        return _special(ctx.backend, "polygamma", n, a)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors_list()
        return g * polygamma(ctx.n + 1, x)


class SpecialLogNdtr(Op):
    save_inputs = (0,)
    save_output = True

    @staticmethod
    def forward(ctx, a):
        # log(ndtr(x)): log(erfcx(-x/sqrt2) / 2) - x*x/2 in the left tail (no underflow), log1p beyond
        backend = ctx.backend
        xp = backend.xp
        t = a * math.sqrt(0.5)
        left = xp.log(_special(backend, "erfcx", -t) / 2) - t * t
        right = xp.log1p(-_special(backend, "erfc", t) / 2)
        return xp.where(a < -1, left, right)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors_list()
        return g / _SQRT_2PI * (-(ctx.output() + x * x / 2)).exp()


class SpecialEntr(Op):
    save_inputs = (0,)

    @staticmethod
    def forward(ctx, a):
        _real_kernel(ctx.backend, "entr_cpu", a)
        xp = ctx.backend.xp
        out = xp.where(a > 0, -a * xp.log(xp.where(a > 0, a, 1)), xp.where(a == 0, xp.zeros_like(a), -math.inf))
        return xp.asarray(xp.where(xp.isnan(a), a, out), dtype=a.dtype)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors_list()
        return g * -(1 + x.log())


class SpecialZeta(Op):
    """Hurwitz zeta; torch's derivative in ``q`` only, ``-s zeta(s + 1, q)`` (none in ``s``)."""

    save_inputs = (0, 1)

    @staticmethod
    def forward(ctx, s, q):
        xp = ctx.backend.xp
        s, q = xp.broadcast_arrays(s, q)
        return _special(ctx.backend, "zeta", s, q)

    @staticmethod
    def backward(ctx, g):
        if ctx.needs_grad(0):
            raise NotImplementedError("the derivative for 'zeta' is not implemented.")
        s, q = ctx.saved_tensors_list()
        return None, g * -s * special_zeta(s + 1, q)


def lgamma(input):
    """``log|Gamma(x)|`` (inf at the poles).

    Example:
        >>> lgamma(tensorplug.tensor([0.5, 3.0]))
        tensor([0.5724, 0.6931])
    """
    return Lgamma.apply(_float(input))


def digamma(input):
    """The logarithmic derivative of Gamma, ``psi(x)``; ``-0 -> inf``, ``0 -> -inf``, nan at the negative
    integers, as torch."""
    return Digamma.apply(_float(input))


def _int_argument(fn, name, position, value):
    """``value`` as an int, or torch's TypeError: a float or bool order is refused, not rounded."""
    if not isinstance(value, bool):
        try:
            return operator.index(value)
        except TypeError:
            pass
    raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be int, not {type(value).__name__}; "
                    f"pass a whole number such as {fn}({'n, x' if position == 1 else 'x, p'})")


def polygamma(n, input):
    """The ``n``-th derivative of digamma (``n = 0``: digamma itself)."""
    n = _int_argument("polygamma", "n", 1, n)
    if n < 0:
        raise RuntimeError(f"polygamma(n, x) does not support negative n: got n={n}; n must be a non-negative "
                           f"integer")
    return Polygamma.apply(_float(input), n=n)


def _tensor_polygamma(self, n):
    return polygamma(n, self)


def mvlgamma(input, p):
    """The multivariate log-gamma ``sum_i lgamma(x - i/2) + p(p-1)/4 log(pi)`` over i < p (torch 2.13
    no longer checks that x > (p-1)/2: smaller x give the sum's value)."""
    p = _int_argument("mvlgamma", "p", 2, p)
    if p < 1:
        raise RuntimeError(f"p has to be greater than or equal to 1: got p={p}")
    x = _float(input)
    if is_narrow(x):
        return Mvlgamma.apply(x, p=p)
    return _nodes.named(_mvlgamma(x, p), "MvlgammaBackward0")  # torch records one node


def _mvlgamma(x, p):
    halves = x.new_tensor([i / 2 for i in range(p)])
    terms = lgamma(x.unsqueeze(-1) - halves)
    return terms.sum(-1) + p * (p - 1) / 4 * math.log(math.pi)


class Mvlgamma(Op):
    """float16/bfloat16 mvlgamma, whose gradient is torch's ``mvlgamma_backward``: ``g`` times the sum of
    the digammas, each op rounding (the composite's g * digamma per term, summed, put 6574 of 20000 bfloat16
    gradients an ulp off for p=3)."""

    save_inputs = (0,)

    @staticmethod
    def forward(ctx, a, p):
        ctx.p = p
        return _mvlgamma(ctx.tensor(a), p)._data

    @staticmethod
    def backward(ctx, g):
        from ..creation import arange
        (x,) = ctx.saved_tensors_list()
        p = ctx.p
        args = x.unsqueeze(-1) + arange(-p / 2 + 0.5, 0.5, 0.5, dtype=x.dtype, device=x.device)  # torch's order of terms
        return g * digamma(args).sum(-1)


erfc = _float_function("erfc", Erfc, "The complementary error function ``1 - erf(x)``, accurate in the right tail.",
                       narrow=_NARROW_ERFC)
erfinv = _float_function("erfinv", Erfinv, "The inverse error function (+-inf at +-1, nan outside [-1, 1]).",
                         narrow=_NARROW_ERFINV)
i0 = _float_function("i0", I0, "The modified Bessel function of the first kind, order 0.")
special_i0e = _float_function("special_i0e", SpecialI0e, "``exp(-|x|) i0(x)``.")
special_i1 = _float_function("special_i1", SpecialI1,
                             "The modified Bessel function of the first kind, order 1.")
special_i1e = _float_function("special_i1e", SpecialI1e, "``exp(-|x|) i1(x)``.")


def special_erfcx(input):
    """The scaled complementary error function ``exp(x**2) erfc(x)``."""
    return SpecialErfcx.apply(_no_half("erfcx_cpu", _float(input)))


def special_ndtr(input):
    """The standard normal CDF ``(1 + erf(x / sqrt 2)) / 2``."""
    x = _float(input)
    if is_narrow(x):  # torch's composite, each op rounding (erfc's one rounding fewer: 8445 of 20000 bfloat16 off)
        from .elementwise import erf
        return (1 + erf(x * math.sqrt(0.5))) * 0.5
    return erfc(x * -math.sqrt(0.5)) * 0.5


def special_ndtri(input):
    """The standard normal quantile (inverse of ndtr)."""
    return SpecialNdtri.apply(_no_half("ndtri_cpu", _float(input)))


def special_log_ndtr(input):
    """``log(ndtr(x))``, accurate far into the left tail."""
    return SpecialLogNdtr.apply(_no_half("log_ndtr_cpu", _float(input)))


special_entr = _float_function("special_entr", SpecialEntr,
                               "The elementwise entropy ``-x log x`` (0 at 0, -inf for x < 0).")


class Logit(Op):
    """``log(p / (1 - p))`` of ``p`` clamped to [eps, 1 - eps]; torch's gradient: nan outside [0, 1]
    without eps, 0 outside [eps, 1 - eps] with it."""

    save_inputs = (0,)

    @staticmethod
    def forward(ctx, a, *, eps):
        _real_kernel(ctx.backend, "logit_cpu", a)
        ctx.eps = eps
        xp = ctx.backend.xp
        # torch's clamp is x < lo ? lo : x > hi ? hi : x, so an eps over 0.5 (lo > hi) maps below-lo to lo
        if eps is not None:
            lo, hi = xp.asarray(eps, dtype=a.dtype), xp.asarray(1 - eps, dtype=a.dtype)
            a = xp.where(a < lo, lo, xp.where(a > hi, hi, a))
        return xp.asarray(xp.log(a / (1 - a)), dtype=a.dtype)

    @staticmethod
    def backward(ctx, g):
        from .arithmetic import where
        (x,) = ctx.saved_tensors_list()
        eps = ctx.eps
        grad = g / (x * (1 - x))
        if eps is None:
            return where((x < 0) | (x > 1), math.nan, grad)
        return where((x < eps) | (x > 1 - eps), 0.0, grad)


def logit(input, eps=None):
    """The log-odds ``log(p / (1 - p))``, ``p`` clamped to ``[eps, 1 - eps]`` when ``eps`` is given."""
    return Logit.apply(_float(input), eps=None if eps is None or eps < 0 else float(eps))


class _XLog(Op):
    """``x * log(y)`` (``log1p`` for xlog1py), 0 where ``x`` is 0 and ``y`` is not nan; torch's gradients:
    ``xlog(g, y)`` for x, cut to 0 where ``x == 0`` and ``y`` is at or below the log's pole, and
    ``g * x / (y + shift)`` for y."""

    save_inputs = (0, 1)
    fn = "log"
    kernel = "xlogy_cpu"
    shift = 0

    @classmethod
    def forward(cls, ctx, a, b):
        _real_kernel(ctx.backend, cls.kernel, a, b)
        xp = ctx.backend.xp
        if a.shape != b.shape:
            try:
                a, b = xp.broadcast_arrays(a, b)
            except ValueError:
                from ._util import broadcast_error
                raise broadcast_error(a.shape, b.shape) from None
        zero = (a == 0) & ~xp.isnan(b)
        # 0.5 in b's dtype: a number beside a bfloat16 array promotes it to float32, where torch rounds the
        # log to bfloat16 before the product (5595 of 20000 values were an ulp off)
        logs = getattr(xp, cls.fn)(xp.where(zero, xp.asarray(0.5, dtype=b.dtype), b))
        return xp.asarray(xp.where(zero, xp.zeros((), dtype=logs.dtype), a * logs), dtype=a.dtype)

    @classmethod
    def backward(cls, ctx, g):
        from ._util import sum_to_shape
        from .arithmetic import where
        x, y = ctx.saved_tensors_list()
        gx = gy = None
        if ctx.needs_grad(0):
            gx = where((x == 0) & (y <= -cls.shift), 0.0, cls.apply(g, y))
            gx = sum_to_shape(gx, x.shape)
        if ctx.needs_grad(1):
            gy = sum_to_shape(g * x / (y + cls.shift), y.shape)
        return gx, gy


class Xlogy(_XLog):
    pass


class SpecialXlog1py(_XLog):
    node_name = "SpecialXlog1PyBackward0"
    fn = "log1p"
    kernel = "xlog1py_cpu"
    shift = 1


# torch's overloads with a number for self / for other record nodes of their own names
_BY_NUMBER = {op: (op.renamed(op.node_name[:-1] + "1"), op.renamed(op.node_name[:-1] + "2"))
              for op in (Xlogy, SpecialXlog1py, SpecialZeta)}


def _overload(op, input, other):
    """``op`` under the name of torch's overload for these arguments (a number first, a number second)."""
    if not isinstance(input, Tensor):
        return _BY_NUMBER[op][0]
    if not isinstance(other, Tensor):
        return _BY_NUMBER[op][1]
    return op


def _xlog(op, input, other):
    from ._util import as_tensor_like, promote
    a, b = promote(input, other)
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        return op.apply(_float(a), _float(b)) if a._dtype.category < _dt.FLOAT else op.apply(a, b)
    # a number beside a tensor: in the tensor's float dtype (an integer tensor's number is not wrapped
    # to its dtype: xlogy(uint8, -1) is nan, and a float64 tensor's number is not rounded to float32)
    t = _float(a if isinstance(a, Tensor) else b)
    return _overload(op, input, other).apply(*(x if isinstance(x, Tensor) else as_tensor_like(x, t).to(t.dtype)
                                               for x in (_float(input) if isinstance(input, Tensor) else input,
                                                         _float(other) if isinstance(other, Tensor) else other)))


def xlogy(input, other):
    """``input * log(other)``, 0 where ``input`` is 0 (nan where ``other`` is)."""
    return _xlog(Xlogy, input, other)


def special_xlog1py(input, other):
    """``input * log1p(other)``, 0 where ``input`` is 0 (nan where ``other`` is)."""
    return _xlog(SpecialXlog1py, input, other)


def special_zeta(input, other):
    """The Hurwitz zeta function ``sum_k (k + other) ** -input`` (a gradient in ``other`` only, as torch)."""
    from ._util import promote
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError("zeta(): expected at least one Tensor argument; wrap the numbers with tensorplug.tensor")
    s, q = promote(input, other)
    s, q = (t if not isinstance(t, Tensor) or t._dtype.category >= _dt.FLOAT else _float(t) for t in (s, q))
    ref = s if isinstance(s, Tensor) else q
    from ._util import as_tensor_like
    s, q = as_tensor_like(s, ref).to(ref.dtype), as_tensor_like(q, ref).to(ref.dtype)
    return _overload(SpecialZeta, input, other).apply(_no_half("zeta_cpu", s), q)


METHODS = {"lgamma": lgamma, "digamma": digamma, "polygamma": _tensor_polygamma, "mvlgamma": mvlgamma,
           "erfc": erfc, "erfinv": erfinv, "i0": i0, "xlogy": xlogy, "logit": logit}


def bind_methods():
    """The Tensor methods and their in-place forms (``x.lgamma_()``, ``x.polygamma_(n)`` ...)."""
    from .inplace import make_inplace
    methods = dict(METHODS)
    methods.update({f"{name}_": make_inplace(fn, f"{name}_") for name, fn in METHODS.items()})
    return methods
