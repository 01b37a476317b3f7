"""The op library. Each family module defines its Ops and public functions;
this module binds the Tensor methods and operators to them, once, at import."""
from __future__ import annotations

from types import ModuleType as _ModuleType

from ..tensor import Tensor
from . import complex_numbers as _complex_ops
from . import (arithmetic, conversion, elementwise, gather, indexing, inplace, join, linalg, minmax, random,
               reduction, shape, softmax, special_math, binary_math, scans, products)
from ._util import sum_to_shape
from .arithmetic import (add, sub, mul, div, neg, negative, pow, where, floor_divide, remainder, fmod)
from .conversion import clone
from .elementwise import (exp, log, sqrt, abs, sign, sin, cos, tanh, sigmoid, relu, trunc, eq, ne, lt, le, gt,
                          ge, logical_and, logical_or, logical_xor, logical_not, bitwise_and, bitwise_or,
                          bitwise_xor, bitwise_not, bitwise_left_shift, bitwise_right_shift)
from .elementwise import (tan, log1p, expm1, rsqrt, reciprocal, erf, square, floor, ceil, round)
from .gather import gather, scatter, scatter_add, index_select, masked_fill, take_along_dim
from .join import cat, concat, concatenate, stack, hstack, vstack, split, chunk, unbind
from .linalg import matmul, mm, bmm, mv, dot, addmm, outer, einsum, adjoint
from .minmax import max, min, amax, amin, aminmax, argmax, argmin, maximum, minimum, clamp, clip
from .reduction import prod, var, std, var_mean, std_mean, logsumexp, norm, cumsum, cumprod, cdist, all, any
from .shape import flip, fliplr, flipud, broadcast_to, broadcast_shapes, movedim, swapaxes
from .counting import unique, bincount, histc, searchsorted, bucketize
from .misc import (meshgrid, cartesian_prod, tril_indices, triu_indices, diag_embed, trace, kron, logit, xlogy,
                   sinc, nan_to_num)
from .softmax import softmax, log_softmax
from .trig import (sinh, cosh, asin, acos, atan, atan2, arctan2, log2, log10, exp2, isnan, isinf, isfinite, isclose,
                   allclose, equal)
from .pointwise import lerp, addcmul, addcdiv, logaddexp, clamp_min, clamp_max
from .sorting import sort, argsort, msort, topk, median, count_nonzero
from .shape import narrow, diagonal, diag, tril, triu, unflatten, tile, roll, diff
from .gather import nonzero, argwhere, masked_select, index_add, index_fill
from .random import bernoulli, multinomial
from .reduction import sum, mean
from .shape import reshape, permute, transpose, t, squeeze, unsqueeze, flatten
from .special_math import *  # noqa: F401,F403 - lgamma, digamma, polygamma, erfc, erfinv, i0 ...
from .binary_math import *  # noqa: F401,F403 - hypot, copysign, gcd, fmax, frexp, float_power ...
from .scans import *  # noqa: F401,F403 - cummax, cummin, logcumsumexp
from .products import *  # noqa: F401,F403 - cross, tensordot, inner, addmv, matrix_power ...
from .complex_numbers import (view_as_real, view_as_complex, real, imag, conj, conj_physical, resolve_conj,
                              resolve_neg, is_conj, is_complex, angle, sgn, polar, complex)

# every public function imported above; submodules (and Tensor, annotations) are not part of the API
__all__ = [n for n, v in list(globals().items())
           if not n.startswith("_") and not isinstance(v, _ModuleType) and n not in ("Tensor", "annotations")]


def _swap(fn):
    def reflected(self, other):
        return fn(other, self)
    reflected.__name__ = f"r{fn.__name__}"
    return reflected


def _iop(name):
    def iop(self, other):
        return getattr(self, name)(other)
    iop.__name__ = f"__i{name[:-1]}__"
    return iop


def _new_like(factory):
    def method(self, *sizes, size=None, dtype=None, device=None, requires_grad=False):
        from .. import creation
        from ._util import sizes_or_keyword
        if size is not None or not sizes:
            sizes = sizes_or_keyword(f"new_{factory}", "size", sizes, size)
        return getattr(creation, factory)(*sizes, dtype=dtype or self._dtype, device=device or self._backend,
                                          requires_grad=requires_grad)
    return method


def _new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    from ..creation import full
    return full(size, fill_value, dtype=dtype or self._dtype, device=device or self._backend,
                requires_grad=requires_grad)


def _new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
    from ..tensor import tensor
    return tensor(data, dtype=dtype or self._dtype, device=device or self._backend, requires_grad=requires_grad)


def _cast_method(dtype_name):
    from .. import dtypes
    dtype = dtypes.BY_NAME[dtype_name]

    def method(self, memory_format=None):
        return self if self._dtype is dtype else conversion.Cast.apply(self, dtype=dtype)
    return method


def _device_method(device_type):
    def method(self, device=None, non_blocking=False, memory_format=None):
        target = device_type if device is None else (
            f"{device_type}:{device}" if isinstance(device, int) else device)
        return conversion.to(self, target)
    return method


def _stride(self, dim=None):
    """Strides in elements (those of the storage where the backend exposes them, else contiguous ones)."""
    data = self._data
    raw = getattr(data, "strides", None)
    if raw is not None:
        item = self._dtype.itemsize
        strides = tuple(s // item for s in raw)
    else:
        strides = []
        step = 1
        for size in reversed(data.shape):
            strides.append(step)
            step *= size if size > 1 else 1  # (max here is tensorplug.max)
        strides = tuple(reversed(strides))
    if dim is None:
        return strides
    from ._util import wrap_dim
    return strides[wrap_dim(dim, data.ndim)]


METHODS = {
    # operators
    "__add__": add, "__radd__": _swap(add), "__sub__": sub, "__rsub__": arithmetic.rsub,
    "__mul__": mul, "__rmul__": _swap(mul), "__truediv__": div, "__rtruediv__": _swap(div),
    "__floordiv__": floor_divide, "__rfloordiv__": _swap(floor_divide),
    "__mod__": remainder, "__rmod__": _swap(remainder), "__pow__": pow, "__rpow__": _swap(pow),
    "__matmul__": matmul, "__rmatmul__": _swap(matmul), "__neg__": neg, "__pos__": lambda self: self,
    "__abs__": abs, "__eq__": eq, "__ne__": ne, "__lt__": lt, "__le__": le, "__gt__": gt, "__ge__": ge,
    "__and__": bitwise_and, "__or__": bitwise_or, "__xor__": bitwise_xor, "__invert__": bitwise_not,
    "__lshift__": bitwise_left_shift, "__rshift__": bitwise_right_shift,
    "__rlshift__": _swap(bitwise_left_shift), "__rrshift__": _swap(bitwise_right_shift),
    "__rand__": _swap(bitwise_and), "__ror__": _swap(bitwise_or), "__rxor__": _swap(bitwise_xor),
    "__getitem__": indexing.getitem, "__setitem__": indexing.setitem,
    "__iadd__": _iop("add_"), "__isub__": _iop("sub_"), "__imul__": _iop("mul_"), "__itruediv__": _iop("div_"),
    # methods
    "add": add, "sub": sub, "mul": mul, "div": div, "neg": neg, "negative": neg, "pow": pow,
    "floor_divide": floor_divide, "remainder": remainder, "fmod": fmod,
    "exp": exp, "log": log, "sqrt": sqrt, "abs": abs, "sign": sign, "sin": sin, "cos": cos, "tanh": tanh,
    "sigmoid": sigmoid, "relu": relu, "trunc": trunc,
    "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge,
    "logical_and": logical_and, "logical_or": logical_or, "logical_xor": logical_xor, "logical_not": logical_not,
    "bitwise_left_shift": bitwise_left_shift, "bitwise_right_shift": bitwise_right_shift,
    "bitwise_and": bitwise_and, "bitwise_or": bitwise_or, "bitwise_xor": bitwise_xor, "bitwise_not": bitwise_not,
    "matmul": matmul, "mm": mm, "bmm": bmm, "mv": mv, "dot": dot, "outer": outer,
    "sum": sum, "mean": mean,
    "view": shape.view, "reshape": shape.reshape, "permute": shape.permute, "transpose": shape.transpose,
    "t": shape.t, "expand": shape.expand, "expand_as": shape.expand_as, "squeeze": shape.squeeze,
    "unsqueeze": shape.unsqueeze, "flatten": shape.flatten,
    "view_as": lambda self, other: shape.view(self, other._data.shape),
    "reshape_as": lambda self, other: shape.reshape(self, other._data.shape),
    "clone": clone, "to": conversion.to, "contiguous": conversion.contiguous,
    "float": _cast_method("float32"), "double": _cast_method("float64"), "half": _cast_method("float16"),
    "long": _cast_method("int64"), "int": _cast_method("int32"), "short": _cast_method("int16"),
    "char": _cast_method("int8"), "byte": _cast_method("uint8"), "bool": _cast_method("bool"),
    "cpu": _device_method("cpu"), "cuda": _device_method("cuda"),
    "new_zeros": _new_like("zeros"), "new_ones": _new_like("ones"), "new_empty": _new_like("empty"),
    "new_full": _new_full, "new_tensor": _new_tensor,
    # in place
    "copy_": inplace.copy_, "zero_": inplace.zero_, "fill_": inplace.fill_,
    "random_": random.random_, "uniform_": random.uniform_, "normal_": random.normal_,
    "bernoulli_": random.bernoulli_, "exponential_": random.exponential_, "log_normal_": random.log_normal_,
    "cauchy_": random.cauchy_, "geometric_": random.geometric_, "bernoulli": bernoulli,
    "multinomial": multinomial,
}
METHODS.update({
    "tan": tan, "log1p": log1p, "expm1": expm1, "rsqrt": rsqrt, "reciprocal": reciprocal, "erf": erf,
    "square": square, "floor": floor, "ceil": ceil, "round": round,
    "gather": gather, "scatter": scatter, "scatter_add": scatter_add, "index_select": index_select,
    "masked_fill": masked_fill, "take_along_dim": take_along_dim,
    "split": split, "chunk": chunk, "unbind": unbind,
    "max": max, "min": min, "amax": amax, "amin": amin, "aminmax": aminmax, "addmm": addmm,
    "argmax": argmax, "argmin": argmin,
    "maximum": maximum, "minimum": minimum, "clamp": clamp, "clip": clip,
    "prod": prod, "var": var, "std": std, "logsumexp": logsumexp, "norm": norm, "cumsum": cumsum, "cumprod": cumprod, "unique": unique, "bincount": bincount, "histc": histc, "diag_embed": diag_embed, "trace": trace,
    "kron": kron, "logit": logit, "xlogy": xlogy, "sinc": sinc, "nan_to_num": nan_to_num,
    "all": all, "any": any,
    "flip": flip, "fliplr": fliplr, "flipud": flipud, "repeat": shape.repeat, "broadcast_to": broadcast_to,
    "movedim": movedim, "swapaxes": swapaxes, "softmax": softmax, "log_softmax": log_softmax,
    "sinh": sinh, "cosh": cosh, "asin": asin, "acos": acos, "atan": atan, "atan2": atan2, "arctan2": atan2,
    "log2": log2, "log10": log10, "exp2": exp2, "isnan": isnan, "isinf": isinf, "isfinite": isfinite,
    "isclose": isclose, "allclose": allclose, "equal": equal, "lerp": lerp, "addcmul": addcmul,
    "addcdiv": addcdiv, "logaddexp": logaddexp, "clamp_min": clamp_min, "clamp_max": clamp_max,
    "sort": sort, "argsort": argsort, "msort": msort, "topk": topk, "narrow": narrow, "diagonal": diagonal,
    "diag": diag, "tril": tril, "triu": triu, "nonzero": nonzero, "argwhere": argwhere,
    "masked_select": masked_select, "median": median, "count_nonzero": count_nonzero, "unflatten": unflatten,
    "tile": tile, "roll": roll, "diff": diff, "index_add": index_add, "index_fill": index_fill,
    "type_as": lambda self, other: self.to(other._dtype),
    "where": lambda self, condition, other: where(condition, self, other),
    "stride": _stride,
})
METHODS.update(inplace.binary_inplace_methods())
METHODS.update(_complex_ops.bind_methods())
for _name, _fn in (("exp_", exp), ("log_", log), ("sqrt_", sqrt), ("abs_", abs), ("neg_", neg),
                   ("sigmoid_", sigmoid), ("tanh_", tanh), ("relu_", relu), ("pow_", pow),
                   ("sin_", sin), ("cos_", cos), ("sign_", sign), ("trunc_", trunc),
                   ("tan_", tan), ("log1p_", log1p), ("expm1_", expm1), ("rsqrt_", rsqrt),
                   ("reciprocal_", reciprocal), ("erf_", erf), ("square_", square), ("floor_", floor),
                   ("ceil_", ceil), ("round_", round), ("clamp_", clamp), ("clip_", clip),
                   ("masked_fill_", masked_fill), ("scatter_", scatter), ("scatter_add_", scatter_add),
                   ("maximum_", maximum), ("minimum_", minimum), ("floor_divide_", floor_divide),
                   ("remainder_", remainder), ("fmod_", fmod), ("bitwise_and_", bitwise_and),
                   ("bitwise_left_shift_", bitwise_left_shift), ("bitwise_right_shift_", bitwise_right_shift),
                   ("bitwise_or_", bitwise_or), ("bitwise_xor_", bitwise_xor), ("bitwise_not_", bitwise_not),
                   ("logical_not_", logical_not), ("sinh_", sinh), ("cosh_", cosh), ("asin_", asin),
                   ("acos_", acos), ("atan_", atan), ("atan2_", atan2), ("log2_", log2), ("log10_", log10),
                   ("exp2_", exp2), ("lerp_", lerp), ("addcmul_", addcmul), ("addcdiv_", addcdiv),
                   ("clamp_min_", clamp_min), ("clamp_max_", clamp_max), ("tril_", tril), ("triu_", triu),
                   ("index_add_", index_add), ("index_fill_", index_fill)):
    METHODS[_name] = inplace.make_inplace(_fn, _name)
METHODS.update({"__ipow__": _iop("pow_"), "__ifloordiv__": _iop("floor_divide_"), "__imod__": _iop("remainder_"),
                "__iand__": _iop("bitwise_and_"), "__ior__": _iop("bitwise_or_"), "__ixor__": _iop("bitwise_xor_"),
                "__ilshift__": _iop("bitwise_left_shift_"), "__irshift__": _iop("bitwise_right_shift_")})


def bind(methods):
    """Attach ``methods`` to Tensor (used here and by op families added later)."""
    for name, fn in methods.items():
        setattr(Tensor, name, fn)


bind(METHODS)
bind(special_math.bind_methods())
bind({**binary_math.bind_methods(), **scans.METHODS, **products.bind_methods()})
Tensor.T = property(lambda self: self.permute(*reversed(range(self._data.ndim))))
Tensor.mT = property(linalg.matrix_transpose)
Tensor.mH = property(linalg.matrix_adjoint)
Tensor.H = property(linalg.conj_transpose)
bind({"adjoint": adjoint})
