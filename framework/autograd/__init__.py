"""Define-by-run reverse-mode autograd: backward, grad, grad modes, Function, Variable."""
from __future__ import annotations

from .function import Function, FunctionCtx, Node
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled,
                        GradMode)
from .anomaly import detect_anomaly, set_detect_anomaly, is_anomaly_enabled, is_anomaly_check_nan_enabled
from .gradcheck import gradcheck, gradgradcheck
from .variable import Variable
from . import functional

__all__ = ["backward", "grad", "Function", "FunctionCtx", "Variable", "no_grad", "enable_grad",
           "set_grad_enabled", "inference_mode", "is_grad_enabled", "detect_anomaly",
           "set_detect_anomaly", "is_anomaly_enabled", "is_anomaly_check_nan_enabled", "gradcheck", "gradgradcheck"]


def _make_grads(outputs, grad_outputs, is_grads_batched=False):
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
            if is_grads_batched:
                if g._data.shape[1:] != out._data.shape:
                    raise RuntimeError(f"If `is_grads_batched=True`, we interpret the first dimension of each "
                                       f"grad_output as the batch dimension. The sizes of the remaining "
                                       f"dimensions are expected to match the shape of corresponding output, but "
                                       f"a mismatch was detected: grad_output[{i}] has a shape of {g.shape} and "
                                       f"output[{i}] has a shape of {out.shape}. If you only want some tensors in "
                                       f"`grad_output` to be considered batched, consider using vmap.")
            elif g._data.shape != out._data.shape:
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
        if not inputs:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
        found = run_backward(tensors, grads, retain_graph, create_graph, inputs=inputs)
        from .engine import owned_grad, _accumulate_into
        for t, g in zip(inputs, found):
            if g is not None:
                if create_graph:
                    t._grad = g if t._grad is None else t._grad + g
                else:
                    t._grad = owned_grad(g) if t._grad is None else _accumulate_into(t._grad, g)
        return
    run_backward(tensors, grads, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """The gradients of ``outputs`` w.r.t. ``inputs``, returned (``.grad`` is left alone).

    ``inputs`` may be a dict: the gradients come back as a dict with its keys. With
    ``is_grads_batched`` the first dimension of each ``grad_outputs`` entry indexes vectors, each
    backpropagated on its own; the results are stacked along a new first dimension.
    """
    from .engine import run_backward
    from ..tensor import Tensor
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, "
                         "but got: allow_unused=False.")
    if allow_unused is None:
        allow_unused = materialize_grads
    outputs = _seq(outputs)
    keys = list(inputs) if type(inputs) is dict else None
    inputs = list(inputs.values()) if keys is not None else _seq(inputs)
    if not inputs:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    for i, t in enumerate(inputs):
        if not t._requires_grad:
            raise RuntimeError(f"One of the differentiated Tensors does not require grad (input {i})")
    grads = _seq(grad_outputs) or [None] * len(outputs)
    grads = _make_grads(outputs, grads, is_grads_batched)
    if retain_graph is None:
        retain_graph = create_graph
    if is_grads_batched:
        found = _batched_grad(outputs, grads, inputs, retain_graph, create_graph)
    else:
        found = run_backward(outputs, grads, retain_graph, create_graph, inputs=inputs)
    result = []
    for i, (t, g) in enumerate(zip(inputs, found)):
        if g is None:
            if materialize_grads:
                g = Tensor._make(t._backend.zeros(t._data.shape, t._dtype), t._dtype, t._backend)
                if create_graph:
                    g.requires_grad_()
            elif not allow_unused:
                raise RuntimeError(f"One of the differentiated Tensors (input {i}) appears to not have been used "
                                   f"in the graph. Set allow_unused=True if this is the desired behavior.")
        elif not create_graph:
            g = g.detach()
        result.append(g)
    if keys is not None:
        return dict(zip(keys, result))
    return tuple(result)


def _batched_grad(outputs, grads, inputs, retain_graph, create_graph):
    """``is_grads_batched``: one backward per vector of the batch, stacked (torch vmaps it)."""
    from .engine import run_backward
    from ..ops.join import stack
    n = grads[0].shape[0] if grads else 0
    per_input = [[] for _ in inputs]
    for b in range(n):
        found = run_backward(outputs, [g[b] for g in grads], retain_graph or b < n - 1, create_graph,
                             inputs=inputs)
        for k, g in enumerate(found):
            per_input[k].append(g)
    out = []
    for k, gs in enumerate(per_input):
        if all(g is None for g in gs):
            out.append(None)
            continue
        t = inputs[k]
        out.append(stack([t.new_zeros(t.shape) if g is None else g for g in gs]))
    return out
