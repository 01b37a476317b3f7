"""Define-by-run reverse-mode autograd: backward, grad, grad modes, Function, Variable."""
from __future__ import annotations

from .function import Function, FunctionCtx, Node
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled,
                        GradMode)
from .anomaly import detect_anomaly, set_detect_anomaly
from .gradcheck import gradcheck, gradgradcheck
from .variable import Variable
from . import functional

__all__ = ["backward", "grad", "Function", "FunctionCtx", "Variable", "no_grad", "enable_grad",
           "set_grad_enabled", "inference_mode", "is_grad_enabled", "detect_anomaly",
           "set_detect_anomaly", "gradcheck", "gradgradcheck"]


def _make_grads(outputs, grad_outputs):
    from ..tensor import Tensor
    grads = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if g is None:
            if not out._requires_grad:
                raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
            if out.numel() != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs (this output has "
                                   f"shape {list(out.shape)}); pass gradient= with that shape, or reduce it "
                                   f"first, e.g. out.sum().backward()")
            g = Tensor._make(out._backend.ones(out._data.shape, out._dtype), out._dtype, out._backend)
        else:
            if not isinstance(g, Tensor):
                g = Tensor._make(out._backend.asarray(g, out._dtype), out._dtype, out._backend)
            if g._data.shape != out._data.shape:
                raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and output[{i}] "
                                   f"has a shape of {out.shape}.")
            if not out._requires_grad:
                raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        grads.append(g)
    return grads


def _seq(x):
    from ..tensor import Tensor
    if x is None:
        return None
    return [x] if isinstance(x, Tensor) else list(x)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate gradients of ``tensors`` into the ``.grad`` of the graph's leaves."""
    from .engine import run_backward
    tensors = _seq(tensors)
    grads = _seq(grad_tensors) or [None] * len(tensors)
    if len(grads) != len(tensors):
        raise RuntimeError(f"got {len(grads)} gradients for {len(tensors)} tensors")
    grads = _make_grads(tensors, grads)
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        inputs = _seq(inputs)
        found = run_backward(tensors, grads, retain_graph, create_graph, inputs=inputs)
        from .engine import owned_grad
        for t, g in zip(inputs, found):
            if g is not None:
                if create_graph:
                    t._grad = g if t._grad is None else t._grad + g
                else:
                    t._grad = owned_grad(g) if t._grad is None else t._grad.detach() + g.detach()
        return
    run_backward(tensors, grads, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """The gradients of ``outputs`` w.r.t. ``inputs``, returned (``.grad`` is left alone)."""
    from .engine import run_backward
    from ..tensor import Tensor
    outputs = _seq(outputs)
    single = isinstance(inputs, Tensor)
    inputs = _seq(inputs)
    for i, t in enumerate(inputs):
        if not t._requires_grad:
            raise RuntimeError(f"One of the differentiated Tensors does not require grad (input {i})")
    grads = _seq(grad_outputs) or [None] * len(outputs)
    grads = _make_grads(outputs, grads)
    if retain_graph is None:
        retain_graph = create_graph
    found = run_backward(outputs, grads, retain_graph, create_graph, inputs=inputs)
    result = []
    for i, (t, g) in enumerate(zip(inputs, found)):
        if g is None:
            if materialize_grads:
                g = Tensor._make(t._backend.zeros(t._data.shape, t._dtype), t._dtype, t._backend)
            elif not allow_unused:
                raise RuntimeError(f"One of the differentiated Tensors (input {i}) appears to not have been used "
                                   f"in the graph. Set allow_unused=True if this is the desired behavior.")
        elif not create_graph:
            g = g.detach()
        result.append(g)
    return tuple(result)
