"""torch's documented aliases (``absolute``, ``arccos``, ``divide``, ``greater`` ...), the inverse hyperbolic
functions, and the in-place variants torch has of existing ops (``gt_``, ``cumsum_``, ``squeeze_`` ...),
generated from tables: each alias is the function it names, each in-place method the out-of-place op
written back into its tensor (ops/inplace.py)."""
from __future__ import annotations

from .. import dtypes as _dt
from ..autograd.function import Op
from ..tensor import Tensor
from . import inplace as _inplace
from . import shape as _shape
from .arithmetic import div, mul, neg, sub
from .elementwise import (_float, _float_function, _unary, abs, eq, ge, gt, le, logical_and, logical_or,
                          logical_xor, lt, ne, sqrt, trunc)
from .join import vstack
from .linalg import outer
from .shape import movedim, swapaxes, swapdims
from .trig import acos, asin, atan

# the inverse hyperbolic functions, each with its gradient (x: the saved input)
Acosh = _unary("acosh", input=lambda g, x: g / sqrt(x * x - 1))
Asinh = _unary("asinh", input=lambda g, x: g / sqrt(x * x + 1))
Atanh = _unary("atanh", input=lambda g, x: g / (1 - x * x))
# float16/bfloat16: torch's formulas op by op, each op rounding (g / sqrt(...) put 6278 and 7166 of 20000
# bfloat16 gradients an ulp off)
_NARROW_ACOSH = _unary("acosh", input=lambda g, x: g * (x * x - 1).rsqrt())
_NARROW_ASINH = _unary("asinh", input=lambda g, x: g * (x.pow(2) + 1).rsqrt())


acosh = _float_function("acosh", Acosh, "Inverse hyperbolic cosine (nan below 1).", narrow=_NARROW_ACOSH)
asinh = _float_function("asinh", Asinh, "Inverse hyperbolic sine.", narrow=_NARROW_ASINH)
atanh = _float_function("atanh", Atanh, "Inverse hyperbolic tangent (nan outside [-1, 1]).")


def positive(input):
    """``input`` itself (torch.positive); refused for bool tensors, as torch."""
    if input._dtype is _dt.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported; convert it first (x.int())")
    return input


def deg2rad(input):
    """Degrees to radians."""
    return _float(input) * 0.017453292519943295  # pi / 180


def rad2deg(input):
    """Radians to degrees."""
    return _float(input) * 57.29577951308232  # 180 / pi


def frac(input):
    """The fractional part ``input - trunc(input)`` (sign of input)."""
    if input._dtype.category < _dt.FLOAT:
        raise RuntimeError(f"\"frac_cpu\" not implemented for '{_dt.scalar_type_name(input._dtype)}': frac needs a "
                           f"floating-point tensor; convert it first (x.float())")
    return input - trunc(input)


# alias -> the name torch documents it as naming (function, Tensor method and in-place method alike)
TARGETS = {
    "absolute": "abs", "arccos": "acos", "arcsin": "asin", "arctan": "atan", "arccosh": "acosh",
    "arcsinh": "asinh", "arctanh": "atanh", "divide": "div", "multiply": "mul", "subtract": "sub",
    "true_divide": "div", "negative": "neg", "greater": "gt", "greater_equal": "ge", "less": "lt",
    "less_equal": "le", "not_equal": "ne", "swapdims": "swapaxes", "moveaxis": "movedim", "fix": "trunc",
    "row_stack": "vstack", "ger": "outer",
}
_FUNCTIONS = {"abs": abs, "acos": acos, "asin": asin, "atan": atan, "acosh": acosh, "asinh": asinh,
              "atanh": atanh, "div": div, "mul": mul, "sub": sub, "neg": neg, "gt": gt, "ge": ge, "lt": lt,
              "le": le, "ne": ne, "swapaxes": swapaxes, "movedim": movedim, "trunc": trunc, "vstack": vstack,
              "outer": outer}
# aliases whose parameters torch names otherwise than their target's (torch.swapdims(input, dim0, dim1))
_OWN_NAMES = {"swapdims": swapdims}
ALIASES = {alias: _OWN_NAMES.get(alias) or _FUNCTIONS[target] for alias, target in TARGETS.items()}
# aliases torch has only as functions
_NOT_METHODS = ("row_stack",)


class _ComparedInPlace(Op):
    """A comparison or logical op written into its (float) tensor: a zero gradient, as torch's
    GtBackward0 for ``x.gt_(y)``."""

    @staticmethod
    def forward(ctx, *arrays, value):
        ctx.n_inputs = len(arrays)
        return value

    @staticmethod
    def backward(ctx, g):
        from ..creation import zeros_like
        zero = zeros_like(g)  # (the engine sums it down to a broadcast operand's shape)
        return zero if ctx.n_inputs == 1 else (zero, zero)


def _compared(fn, name):
    # torch names the node by the overload: ...Backward0 for a number, ...Backward1 for a tensor
    nodes = [type(name.capitalize(), (_ComparedInPlace,), {"node_name": f"{name.capitalize()}Backward{k}"})
             for k in (0, 1)]

    def op(x, other):
        value = fn(x, other)._data
        if not (x._requires_grad or getattr(other, "_requires_grad", False)):
            return Tensor._make(value, _dt.bool_, x._backend)
        value = x._backend.astype(value, x._dtype)
        if isinstance(other, Tensor):
            return nodes[1].apply(x, other, value=value)
        return nodes[0].apply(x, value=value)

    def method(self, other):
        return _inplace.inplace(self, op, other)
    method.__name__ = f"{name}_"
    method.__doc__ = f"In-place ``{name}`` (the result cast to self's dtype); returns self."
    return method


def _logical_in_place(fn, name):
    """``x.logical_and_(y)``: torch records no node for it, so ``x`` keeps its history (its gradient
    passes through unchanged); only the values are written."""
    def method(self, other):
        from ..autograd.grad_mode import no_grad
        _inplace.check_leaf(self)
        with no_grad():
            return _inplace.inplace(self, fn, other)
    method.__name__ = name
    method.__doc__ = f"In-place ``{name[:-1]}`` (the result cast to self's dtype); returns self."
    return method


def _reshaped_in_place(fn, name):
    """``x.squeeze_()`` and the like: ``x`` takes the shape, storage view and history of ``fn(x, ...)``."""
    def method(self, *args, **kwargs):
        _inplace.check_leaf(self)
        r = fn(self, *args, **kwargs)
        if r is self:
            return self
        self._data = r._data
        self.grad_fn = r.grad_fn
        self._output_nr = r._output_nr
        self._requires_grad = r._requires_grad
        if self._view is not None:  # still a view of the same root, through one more step
            self._view = r._view
        return self
    method.__name__ = name
    method.__doc__ = f"In-place ``{name[:-1]}`` (changes self's shape); returns self."
    return method


def fill_diagonal_(self, fill_value, wrap=False):
    """Fill the main diagonal (of a 2-D tensor, or of one whose dims are all equal) with ``fill_value``;
    ``wrap=True`` restarts it below a tall matrix's square part, as torch and NumPy."""
    from ..creation import arange
    from .arithmetic import where
    n = self._data.ndim
    if n < 2:
        raise RuntimeError(f"fill_diagonal_: dimensions must larger than 1, got a {n}-D tensor")
    shape = self._data.shape
    if n > 2 and len(set(shape)) != 1:
        raise RuntimeError(f"fill_diagonal_: all dimensions of input must be of equal length, got shape "
                           f"{list(shape)}")
    size = self.numel()
    # flat positions, as numpy.fill_diagonal: a step of one along every dim; a 2-D tensor stops after the
    # square part unless wrap (which then skips one row between blocks, by the same step)
    step = 1 + sum(_prod(shape[k + 1:]) for k in range(n - 1))
    end = shape[1] * shape[1] if n == 2 and not wrap else size
    places = arange(size, device=self._backend).reshape(shape)
    mask = ((places % step) == 0) & (places < end)
    return _inplace.inplace(self, lambda x, m: where(m, fill_value, x), mask)


def _prod(sizes):
    total = 1
    for s in sizes:
        total *= s
    return total


def sum_to_size(self, *size):
    """Sum ``self`` down to ``size``, which ``self`` must broadcast from (Tensor.sum_to_size)."""
    from ._util import sum_to_shape
    size = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
    from .shape import broadcast_shapes
    try:
        ok = broadcast_shapes(size, tuple(self.shape)) == tuple(self.shape)
    except RuntimeError:
        ok = False
    if not ok:
        raise RuntimeError(f"size {{{list(size)}}} is not expandable to size {{{list(self.shape)}}}: "
                           f"sum_to_size needs a size that the tensor broadcasts from")
    return sum_to_shape(self, size)


def _new_methods():
    """The Tensor methods this module adds (bound only where no other module bound the name)."""
    from .misc import logit, nan_to_num, sinc, xlogy
    from .complex_numbers import sgn
    from .reduction import cumprod, cumsum
    methods = {"acosh": acosh, "asinh": asinh, "atanh": atanh, "positive": positive, "deg2rad": deg2rad,
               "rad2deg": rad2deg, "frac": frac, "fill_diagonal_": fill_diagonal_, "sum_to_size": sum_to_size}
    for name, fn in (("acosh_", acosh), ("asinh_", asinh), ("atanh_", atanh), ("cumsum_", cumsum),
                     ("cumprod_", cumprod), ("nan_to_num_", nan_to_num), ("sgn_", sgn), ("sinc_", sinc),
                     ("logit_", logit), ("xlogy_", xlogy), ("deg2rad_", deg2rad), ("rad2deg_", rad2deg),
                     ("frac_", frac)):
        methods[name] = _inplace.make_inplace(fn, name)
    for name, fn in (("eq", eq), ("ne", ne), ("lt", lt), ("le", le), ("gt", gt), ("ge", ge)):
        methods[f"{name}_"] = _compared(fn, name)
    for name, fn in (("logical_and_", logical_and), ("logical_or_", logical_or), ("logical_xor_", logical_xor)):
        methods[name] = _logical_in_place(fn, name)
    for name, fn in (("squeeze_", _shape.squeeze), ("unsqueeze_", _shape.unsqueeze), ("t_", _shape.t),
                     ("transpose_", _shape.transpose)):
        methods[name] = _reshaped_in_place(fn, name)
    return methods


def _alias_methods():
    """Each alias as a method (the method it names, keywords included), and its in-place variant."""
    methods = {}
    for alias, name in TARGETS.items():
        if alias in _NOT_METHODS:
            continue
        methods[alias] = _OWN_NAMES[alias] if alias in _OWN_NAMES else getattr(Tensor, name, ALIASES[alias])
        in_place = getattr(Tensor, f"{name}_", None)
        if in_place is not None:
            methods[f"{alias}_"] = in_place
    methods["swapaxes_"] = methods["swapdims_"] = Tensor.transpose_
    methods["arctan2_"] = Tensor.atan2_
    return methods


def _bind_missing(methods):
    from . import bind
    bind({name: fn for name, fn in methods.items() if name not in Tensor.__dict__})


_bind_missing(_new_methods())
_bind_missing(_alias_methods())


def _top_level_in_place(name):
    def fn(input, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``input.{name}(...)``: the in-place op as torch's top-level function; returns input."
    return fn


# torch's top-level in-place functions (torch.relu_, torch.exp_ ...) over the Tensor methods
TOP_LEVEL_IN_PLACE = (
    "abs_", "acos_", "acosh_", "arccos_", "arccosh_", "arcsin_", "arcsinh_", "arctan_",
    "arctanh_", "asin_", "asinh_", "atan_", "atanh_", "ceil_", "clamp_", "clamp_max_", "clamp_min_", "clip_",
    "cos_", "cosh_", "deg2rad_", "erf_", "exp2_", "exp_", "expm1_", "fill_", "fix_", "floor_", "frac_",
    "log10_", "log1p_", "log2_", "log_", "logit_", "nan_to_num_", "neg_", "negative_", "rad2deg_",
    "reciprocal_", "relu_", "round_", "rsqrt_", "sigmoid_", "sin_", "sinc_", "sinh_", "sqrt_", "square_",
    "tan_", "tanh_", "trunc_", "xlogy_", "zero_")

globals().update(ALIASES)
globals().update({name: _top_level_in_place(name) for name in TOP_LEVEL_IN_PLACE})
__all__ = (["acosh", "asinh", "atanh", "positive", "deg2rad", "rad2deg", "frac"] + list(ALIASES)
           + list(TOP_LEVEL_IN_PLACE))
