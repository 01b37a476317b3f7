"""float16 and bfloat16 as torch's CPU kernels compute them: in float32 ("opmath"), rounded once.

A chain of NumPy calls on narrow arrays rounds after every step, and rounds Python-number constants to
the narrow dtype first: bfloat16 sigmoid, rsqrt and exp2 came out an ulp off for a quarter to a third of
the elements. ``opmath(Op)`` is the op that widens its narrow array inputs to float32, runs the op's
forward and rounds the result once; with ``backward=True`` its gradient too (torch's ``*_backward``
kernels: ``sigmoid_backward``, ``gelu_backward``...; where torch's gradient is a formula of ops, each
rounding, the op's own Tensor-op backward already is that formula).
"""
from __future__ import annotations

from .. import dtypes as _dt

_NARROW = _dt.NARROW_FLOATS


def is_narrow(t):
    """Whether tensor ``t`` is float16 or bfloat16 (two identity tests: the float32 path's only cost)."""
    dtype = t._dtype
    return dtype is _NARROW[0] or dtype is _NARROW[1]


def _widen(backend, x, wide=_dt.float32):
    """``x`` in ``wide`` when it is an array (numbers as they are)."""
    return backend.xp.astype(x, backend.native_dtype(wide)) if hasattr(x, "dtype") else x


def opmath(op, *, backward=(), forward=True, wide=_dt.float32):
    """``op`` computed in float32 for float16/bfloat16 inputs and rounded once (see the module's doc);
    its gradient too where the gradient's dtype is in ``backward`` (True: both), from the widened incoming
    gradient and saved values (torch's float16 ``sigmoid_backward`` rounds per step, its bfloat16 one once).
    ``forward=False`` keeps ``op``'s forward (one array call, already rounded once); ``wide``: float64
    where the backend's float32 function is less accurate than torch's (NumPy's float32 log10 is not
    correctly rounded: 22 of 100000 float16 results were an ulp off), the forward's only: it is rounded
    to float32 first (the gradients stay float32: there float64 put as many elements off as it fixed).
    The forward sees the narrow dtype as ``ctx.narrow`` (torch rounds some saved buffers to it)."""

    def widened_forward(ctx, *arrays, **params):
        narrow = next(a.dtype for a in arrays if hasattr(a, "dtype"))
        backend = ctx.backend
        ctx.narrow = narrow
        out = op.forward(ctx, *(_widen(backend, a, wide) for a in arrays), **params)
        if wide is not _dt.float32:  # torch's float32 result, correctly rounded, then rounded to the dtype
            out = _widen(backend, out)
        return backend.xp.astype(out, narrow)

    body = {"node_name": op.node_name, "__module__": op.__module__,
            "__qualname__": op.__qualname__, "__doc__": op.__doc__}
    if forward:
        body["forward"] = staticmethod(widened_forward)
    if backward:
        body.update(_widened_backward(op, _NARROW if backward is True else tuple(backward)))
    return type(op.__name__, (op,), body)


def _widened_backward(op, dtypes):
    """The backward methods of ``opmath(op, backward=dtypes)``: ``op``'s formulas on float32 ``g``, saved
    inputs and output, each gradient rounded once to ``g``'s dtype, where ``g``'s dtype is in ``dtypes``."""
    def widens(t):
        return hasattr(t, "_dtype") and t._dtype in dtypes

    def backward(ctx, g):
        if not widens(g):
            return op.backward(ctx, g)
        ctx.widened = True
        grads = op.backward(ctx, g.float())
        if type(grads) is not tuple:
            return grads.to(g._dtype)
        return tuple(None if x is None else x.to(g._dtype) for x in grads)

    def fast_backward(ctx, g):
        backend = ctx.backend
        if backend.dtype_of(g) not in dtypes:
            return op.fast_backward(ctx, g)
        ctx.widened = True
        grads = op.fast_backward(ctx, _widen(backend, g))
        if type(grads) is not tuple:
            return backend.xp.astype(grads, g.dtype)
        return tuple(None if x is None else backend.xp.astype(x, g.dtype) for x in grads)

    def saved_tensors_list(self):
        saved = op.saved_tensors_list(self)
        if not self.__dict__.get("widened"):
            return saved
        return [x.float() if widens(x) else x for x in saved]

    def output(self):
        out = op.output(self)
        return out.float() if self.__dict__.get("widened") else out

    def output_array(self):
        out = op.output_array(self)
        return _widen(self.backend, out) if self.__dict__.get("widened") else out

    return {"backward": staticmethod(backward), "saved_tensors_list": saved_tensors_list, "output": output,
            "output_array": output_array,
            "fast_backward": None if op.fast_backward is None else staticmethod(fast_backward)}
