"""Composite pointwise ops (written with other ops, so autograd comes for free): lerp, addcmul, addcdiv,
logaddexp, clamp_min/clamp_max."""
from __future__ import annotations

from .. import amp as _amp
from .. import dtypes as _dt
from ..autograd.function import Op
from ..tensor import Tensor
from ._opmath import is_narrow, opmath


def _float_kernel(name, *tensors):
    """torch has no integer kernel for ``name``: NotImplementedError when every operand is integer or bool."""
    if all(t._dtype.category < _dt.FLOAT for t in tensors if hasattr(t, "_dtype")):
        kind = _dt.scalar_type_name(tensors[0]._dtype)
        raise NotImplementedError(f"\"{name}\" not implemented for '{kind}': the operands are integer; "
                                  f"convert them to float first, e.g. x.float()")


def _c_name(dtype):
    """A dtype as torch's C++ messages spell it (double, float, c10::Half)."""
    return {"float64": "double", "float32": "float", "float16": "c10::Half",
            "bfloat16": "c10::BFloat16"}.get(dtype.name, dtype.name)


class Lerp(Op):
    """float16/bfloat16 ``lerp`` with a number weight (widened by ``opmath``): torch's two-sided formula,
    exact at weight 1; its gradients ``g * (1 - weight)`` and ``g * weight``."""

    @staticmethod
    def forward(ctx, a, b, weight):
        ctx.weight = weight
        backend = ctx.backend
        xp = backend.xp
        w = xp.astype(xp.asarray(weight, dtype=backend.native_dtype(_dt.float32)), a.dtype)  # torch's float
        coeff, base = (w, a) if abs(weight) < 0.5 else (w - 1, b)
        # torch's vectorized lerp is a fused multiply-add, rounded to float32 once (float64 holds the float32
        # product exactly; rounding each step put 30 of 20000 bfloat16 results an ulp off)
        f64 = backend.native_dtype(_dt.float64)
        return xp.astype(xp.astype(base, f64) + xp.astype(coeff, f64) * xp.astype(b - a, f64), a.dtype)

    @staticmethod
    def backward(ctx, g):
        return g * (1 - ctx.weight), g * ctx.weight


class Addcmul(Op):
    """float16/bfloat16 ``a + value * t1 * t2`` (widened by ``opmath``), torch's kernel's order, with its
    gradients' grouping."""

    save_inputs = (1, 2)
    node_name = "AddcmulBackward0"

    @staticmethod
    def forward(ctx, a, t1, t2, value):
        ctx.value = value
        # torch's vectorised kernel: a fused multiply-add of value * t1 and t2 onto a, rounded to float32 once
        # (float64 holds the float32 product exactly; rounding each step put 4 of 20000 bfloat16 results off)
        backend = ctx.backend
        xp = backend.xp
        f64 = backend.native_dtype(_dt.float64)
        return xp.astype(xp.astype(a, f64) + xp.astype(value * t1, f64) * xp.astype(t2, f64), a.dtype)

    @staticmethod
    def backward(ctx, g):
        t1, t2 = ctx.saved_tensors_list()
        v = ctx.value
        return g, g * (t2 * v) if ctx.needs_grad(1) else None, g * (t1 * v) if ctx.needs_grad(2) else None


class Addcdiv(Addcmul):
    """float16/bfloat16 ``a + value * t1 / t2`` (widened by ``opmath``), torch's kernel's order, with its
    gradients' grouping."""

    node_name = "AddcdivBackward0"

    @staticmethod
    def forward(ctx, a, t1, t2, value):
        ctx.value = value
        return a + value * t1 / t2

    @staticmethod
    def backward(ctx, g):
        t1, t2 = ctx.saved_tensors_list()
        v = ctx.value
        g1 = g * (t2.new_full((), v) / t2) if ctx.needs_grad(1) else None  # torch's value / t2: v rounded
        g2 = -g * (t1 * v / (t2 * t2)) if ctx.needs_grad(2) else None
        return g, g1, g2


class LogAddExp(Op):
    save_inputs = (0, 1)

    @staticmethod
    def forward(ctx, a, b):
        return ctx.backend.xp.logaddexp(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors_list()
        from .elementwise import exp
        return g / (1 + exp(b - a)), g / (1 + exp(a - b))


# float16/bfloat16 operands of one dtype take these: torch's kernels compute in float32 with the number
# unrounded and round once (each NumPy step rounded: lerp, addcmul, addcdiv and logaddexp came out an ulp
# off for 10-15% of the elements); their gradients are torch's formulas of ops, each rounding as torch's
_LERP, _ADDCMUL, _ADDCDIV, _LOGADDEXP = (opmath(op) for op in (Lerp, Addcmul, Addcdiv, LogAddExp))


def _one_narrow_dtype(first, *others):
    """Whether every operand is a tensor of one dtype, float16 or bfloat16 (the float32 path: one test)."""
    if not (isinstance(first, Tensor) and is_narrow(first)):
        return False
    return all(isinstance(t, Tensor) and t._dtype is first._dtype for t in others)


def lerp(input, end, weight):
    """``input + weight * (end - input)``."""
    from .arithmetic import where
    _float_kernel("lerp_kernel_tensor" if hasattr(weight, "_dtype") else "lerp_kernel_scalar", input)
    for name, t in (("end", end), ("weight", weight)):
        if hasattr(t, "_dtype") and t._dtype is not input._dtype:  # torch does not promote here
            raise RuntimeError(f"expected dtype {_c_name(input._dtype)} for `{name}` but got dtype "
                               f"{_c_name(t._dtype)}; convert it with .to({input._dtype})")
    if not hasattr(weight, "_dtype") and _one_narrow_dtype(input, end):
        return _broadcasting(_LERP, input, end, weight=weight)
    # torch's two-sided formula: exact at weight 1, and an infinite end does not meet inf - inf
    low = input + weight * (end - input)
    high = end - (end - input) * (1 - weight)
    if not hasattr(weight, "_dtype"):
        return low if abs(weight) < 0.5 else high
    return where(weight.abs() < 0.5, low, high)


def addcmul(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 * tensor2``."""
    if _amp.active and _amp.applies():
        return _amp.run(_amp.PROMOTE, addcmul, input, tensor1, tensor2, value=value)
    if all(getattr(t, "_dtype", None) is _dt.bool_ for t in (input, tensor1, tensor2)):
        raise NotImplementedError("\"addcmul_cpu_out\" not implemented for 'Bool': the operands are bool; use "
                                  "input | (tensor1 & tensor2), or convert them to int first")
    if _one_narrow_dtype(input, tensor1, tensor2):
        return _broadcasting(_ADDCMUL, input, tensor1, tensor2, value=value)
    prod = _in_common_dtype(input, tensor1, tensor2, lambda a, b: a * b)
    return input + (prod if value == 1 else prod * value)


def _in_common_dtype(input, tensor1, tensor2, fn):
    """``fn(tensor1, tensor2)`` in the dtype of all three operands, as torch (uint8 255 * 255 wrapped to 1
    before being added to an int32 or float16 input)."""
    from ..tensor import Tensor
    if getattr(input, "_dtype", None) is getattr(tensor1, "_dtype", 0) is getattr(tensor2, "_dtype", 1):
        return fn(tensor1, tensor2)  # the common case: one dtype

    def kind(t):  # dtype, and whether it has dimensions (a 0-d tensor ranks below them, as torch)
        return (t._dtype, t._data.ndim > 0) if isinstance(t, Tensor) else (_dt.scalar_dtype(t), False)
    (d1, n1), (d2, n2) = kind(tensor1), kind(tensor2)
    dtype = _dt.result_type(*kind(input), _dt.result_type(d1, n1, d2, n2), n1 or n2)
    return fn(*(t.to(dtype) if isinstance(t, Tensor) and t._dtype is not dtype else t for t in (tensor1, tensor2)))


def addcdiv(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 / tensor2``."""
    if _amp.active and _amp.applies():
        return _amp.run(_amp.PROMOTE, addcdiv, input, tensor1, tensor2, value=value)
    if tensor1._dtype.category < _dt.FLOAT and tensor2._dtype.category < _dt.FLOAT:
        raise RuntimeError("Integer division with addcdiv is no longer supported: tensor1 and tensor2 are "
                           "integer; for true division convert one to float, for floor division use "
                           "input + value * (tensor1 // tensor2)")
    if _one_narrow_dtype(input, tensor1, tensor2):
        return _broadcasting(_ADDCDIV, input, tensor1, tensor2, value=value)
    quot = _in_common_dtype(input, tensor1, tensor2, lambda a, b: a / b)
    return input + (quot if value == 1 else quot * value)


def logaddexp(input, other):
    """``log(exp(input) + exp(other))`` without overflow."""
    from .minmax import maximum
    from .elementwise import abs as _abs, exp, log1p
    from .arithmetic import where
    _float_kernel("logaddexp_cpu", input, other)
    if _one_narrow_dtype(input, other):
        return _broadcasting(_LOGADDEXP, input, other)
    m = maximum(input, other)
    out = m + log1p(exp(-_abs(input - other)))
    # two infinities of one sign: inf - inf would make it nan; torch returns that infinity
    same_inf = (input == other) & (m.abs() == float("inf"))
    return where(same_inf, m, out)


def _broadcasting(op, *tensors, **params):
    """``op.apply(*tensors, **params)``, with torch's error where the shapes do not broadcast."""
    from ._util import broadcast_error
    try:
        return op.apply(*tensors, **params)
    except ValueError:
        raise broadcast_error(*(t._data.shape for t in tensors[:2])) from None


def clamp_min(input, min):
    """``clamp(input, min=min)``."""
    from .minmax import clamp
    return clamp(input, min=min)


def clamp_max(input, max):
    """``clamp(input, max=max)``."""
    from .minmax import clamp
    return clamp(input, max=max)
