"""Composite pointwise ops (written with other ops, so autograd comes for free): lerp, addcmul, addcdiv,
logaddexp, clamp_min/clamp_max."""
from __future__ import annotations

from .. import amp as _amp
from .. import dtypes as _dt


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


def lerp(input, end, weight):
    """``input + weight * (end - input)``."""
    from .arithmetic import where
    _float_kernel("lerp_kernel_tensor" if hasattr(weight, "_dtype") else "lerp_kernel_scalar", input)
    for name, t in (("end", end), ("weight", weight)):
        if hasattr(t, "_dtype") and t._dtype is not input._dtype:  # torch does not promote here
            raise RuntimeError(f"expected dtype {_c_name(input._dtype)} for `{name}` but got dtype "
                               f"{_c_name(t._dtype)}; convert it with .to({input._dtype})")
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
    quot = _in_common_dtype(input, tensor1, tensor2, lambda a, b: a / b)
    return input + (quot if value == 1 else quot * value)


def logaddexp(input, other):
    """``log(exp(input) + exp(other))`` without overflow."""
    from .minmax import maximum
    from .elementwise import abs as _abs, exp, log1p
    from .arithmetic import where
    _float_kernel("logaddexp_cpu", input, other)
    m = maximum(input, other)
    out = m + log1p(exp(-_abs(input - other)))
    # two infinities of one sign: inf - inf would make it nan; torch returns that infinity
    same_inf = (input == other) & (m.abs() == float("inf"))
    return where(same_inf, m, out)


def clamp_min(input, min):
    """``clamp(input, min=min)``."""
    from .minmax import clamp
    return clamp(input, min=min)


def clamp_max(input, max):
    """``clamp(input, max=max)``."""
    from .minmax import clamp
    return clamp(input, max=max)
