"""``checkpoint``: trade compute for memory by recomputing a block's forward in backward (torch's API).

``use_reentrant=True`` (torch's old default): the block runs under ``no_grad`` inside a
Function whose backward reruns it with grad enabled on the saved inputs and backpropagates
through that copy with a nested ``backward``. As torch's, it gives gradients only when an input
requires grad, and cannot serve ``autograd.grad`` or ``backward(inputs=...)``.

``use_reentrant=False``: the block runs recording its graph, whose edges leaving the block (the
inputs, the parameters and any outer tensor it used) become the edges of one node; the block's
own graph is then dropped. That node's backward reruns the block and backpropagates to those
edges, so ``autograd.grad``, double backward and parameters reached only inside the block work
as torch's.

Both restore the generator state the forward saw before recomputing (``preserve_rng_state``),
so dropout draws the same mask.
"""
from __future__ import annotations

import warnings

from ..autograd.function import Function, Node, next_seq
from ..autograd.grad_mode import GradMode, enable_grad, no_grad
from ..tensor import Tensor
from ._pytree import tree_flatten, tree_unflatten

__all__ = ["checkpoint", "checkpoint_sequential"]


def _rng_states(args):
    backends = {a._backend for a in args if isinstance(a, Tensor)}
    from ..registry import get_backend
    backends.add(get_backend())
    return [(b, b.get_rng_state()) for b in backends if hasattr(b, "get_rng_state")]


def _rerun(rng, fn):
    """``fn()`` with the generators as ``rng`` recorded them, restored afterwards."""
    if not rng:
        return fn()
    current = [(b, b.get_rng_state()) for b, _ in rng]
    for b, state in rng:
        b.set_rng_state(state)
    try:
        return fn()
    finally:
        for b, state in current:
            b.set_rng_state(state)


class _Checkpoint(Function):
    @staticmethod
    def forward(ctx, run_function, preserve_rng_state, *args):
        ctx.run_function = run_function
        ctx.inputs = args
        ctx.rng = _rng_states(args) if preserve_rng_state else None
        ctx.save_for_backward(*(a for a in args if isinstance(a, Tensor)))
        with no_grad():
            return run_function(*args)

    @staticmethod
    def backward(ctx, *grads):
        from ..autograd import backward as _backward
        from ..autograd.engine import is_capturing
        if is_capturing():
            raise RuntimeError("When use_reentrant=True, torch.utils.checkpoint is incompatible with .grad() or "
                               "passing an `inputs` parameter to .backward(). To resolve this error, you can either "
                               "set use_reentrant=False, or call .backward() without passing the `inputs` argument.")
        saved = iter(ctx.saved_tensors)
        inputs = []
        for a in ctx.inputs:
            if isinstance(a, Tensor):
                t = next(saved)
                inputs.append(t.detach().requires_grad_(t.requires_grad))
            else:
                inputs.append(a)

        def run():
            with enable_grad():
                return ctx.run_function(*inputs)
        outputs = _rerun(ctx.rng, run)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        pairs = [(o, g) for o, g in zip(outputs, grads)
                 if isinstance(o, Tensor) and o.requires_grad and g is not None]
        if pairs:
            _backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None) + tuple(t.grad if isinstance(t, Tensor) and t.requires_grad else None for t in inputs)


class _CheckpointBackward(Node):
    """A non-reentrant checkpoint's node: its edges are where the block's graph left the block."""

    node_name = "_CheckpointBackward"

    def __init__(self, run, rng, positions, keys):
        self._run = run
        self._rng = rng
        self._positions = positions  # where in the block's flattened output each of this node's outputs is
        self._keys = keys

    def run_backward(self, grads):
        from ..autograd.engine import run_backward
        create_graph = GradMode.enabled  # the engine runs backward with grad mode = create_graph

        def run():
            with enable_grad():
                return self._run()
        flat = tree_flatten(_rerun(self._rng, run))[0]
        roots, seeds = [], []
        for pos, g in zip(self._positions, grads):
            out = flat[pos]
            if g is not None and isinstance(out, Tensor) and out.requires_grad:
                roots.append(out)
                seeds.append(g)
        if not roots:
            return (None,) * len(self._keys)
        return tuple(run_backward(roots, seeds, True, create_graph, keys=self._keys, boundary=True))

    def release(self):
        self._saved = None


def _block_edges(roots, start):
    """The edges by which the graph recorded after node number ``start`` (the block's) reaches
    anything older: ``(edge, output_nr, shape, capture_key)``, each once."""
    found = {}
    seen = set()
    stack = [r.grad_fn for r in roots]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        nrs = node._input_nrs
        for i, edge in enumerate(node._edges):
            if edge is None:
                continue
            if isinstance(edge, Node):
                if edge._seq > start:
                    stack.append(edge)
                    continue
                nr = nrs[i] if nrs else 0
                key = (id(edge), nr)
            else:
                nr, key = 0, id(edge)
            if key not in found:
                found[key] = (edge, nr, node._shapes[i], key)
    return list(found.values())


def _checkpoint_without_reentrant(function, args, kwargs, preserve_rng_state, context_fn):
    rng = _rng_states(args) if preserve_rng_state else None
    forward_ctx, recompute_ctx = context_fn() if context_fn is not None else (None, None)
    start = next_seq()
    with enable_grad():
        if forward_ctx is not None:
            with forward_ctx:
                out = function(*args, **kwargs)
        else:
            out = function(*args, **kwargs)
    flat, spec = tree_flatten(out)
    positions = [i for i, t in enumerate(flat)
                 if isinstance(t, Tensor) and t.grad_fn is not None and t.grad_fn._seq > start]
    edges = _block_edges([flat[i] for i in positions], start)
    if not edges:
        return out

    def rerun():
        if recompute_ctx is not None:
            with recompute_ctx:
                return function(*args, **kwargs)
        return function(*args, **kwargs)
    node = _CheckpointBackward(rerun, rng, positions, [e[3] for e in edges])
    node._edges = [e[0] for e in edges]
    node._input_nrs = tuple(e[1] for e in edges)
    node._shapes = [e[2] for e in edges]
    node._n_outputs = len(positions)
    for k, i in enumerate(positions):
        t = flat[i]
        detached = Tensor._make(t._data, t._dtype, t._backend)
        detached._set_history(node, k)
        flat[i] = detached  # the block's own graph goes with the tensors that held it
    return tree_unflatten(flat, spec)


def checkpoint(function, *args, use_reentrant=None, context_fn=None, determinism_check="default", debug=False,
               **kwargs):
    """``function(*args, **kwargs)`` without keeping its intermediate tensors; they are recomputed in backward.

    Example:
        >>> y = checkpoint(block, x, use_reentrant=False)
    """
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. "
                      "use_reentrant=False is recommended, but if you need to preserve the current default "
                      "behavior, you can pass use_reentrant=True. Refer to docs for more details on the "
                      "differences between the two variants.", UserWarning, stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    if use_reentrant:
        if context_fn is not None or debug is not False:
            raise ValueError("Passing `context_fn` or `debug` is only supported when use_reentrant=False.")
        if GradMode.enabled and not any(isinstance(a, Tensor) and a.requires_grad for a in args):
            warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", UserWarning,
                          stacklevel=2)
        return _Checkpoint.apply(function, preserve, *args)
    if not GradMode.enabled:
        return function(*args, **kwargs)
    return _checkpoint_without_reentrant(function, args, kwargs, preserve, context_fn)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run a Sequential (or a list of modules) in ``segments`` checkpointed chunks; the last runs normally."""
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should be passed "
                      "explicitly.", UserWarning, stacklevel=2)
        use_reentrant = True
    functions = list(functions.children()) if hasattr(functions, "children") else list(functions)
    size = len(functions) // segments
    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        chunk = functions[start:end + 1]

        def run(x, chunk=chunk):
            for f in chunk:
                x = f(x)
            return x

        input = checkpoint(run, input, use_reentrant=use_reentrant, **kwargs)
    for f in functions[end + 1:]:
        input = f(input)
    return input
