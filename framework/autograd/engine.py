"""The reverse-mode engine: a queue of the nodes holding gradients, newest first."""
from __future__ import annotations

import threading
from heapq import heappop, heappush

from .. import dtypes as _dt
from .function import Node, leaf_hooks, node_hooks, grad_accumulators
from .grad_mode import GradMode

__all__ = ["run_backward", "ExecutionEngine"]

# per thread, one list of queued callbacks per running backward (a hook may start a nested one)
_running = threading.local()


def _topological_order(roots):
    """Nodes reachable from ``roots``, each after every node that consumes it (autograd.grad's pruning)."""
    order = []
    seen = set()
    for root in roots:
        if root is None or root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(root._edges))]
        while stack:
            node, edges = stack[-1]
            for edge in edges:
                # nodes hash by identity; leaves (Tensors, whose == is elementwise) never enter the set
                if isinstance(edge, Node) and edge not in seen:
                    seen.add(edge)
                    stack.append((edge, iter(edge._edges)))
                    break
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def run_backward(roots, grads, retain_graph=False, create_graph=False, inputs=None, keys=None, boundary=False):
    """Propagate ``grads`` from ``roots`` back through the graph.

    With ``inputs=None`` gradients accumulate into every leaf's ``.grad``.
    Otherwise nothing accumulates and the gradients of ``inputs`` (leaf or
    not) are returned in order, ``None`` where an input was not reached.
    ``keys`` instead of ``inputs`` names graph edges directly (``_capture_key``'s
    form: a leaf's id, or (id(node), output_nr)). ``boundary``: the keys are where this pass
    stops: their gradients are taken before any hook and their nodes never run (a checkpoint's
    recomputed graph, whose gradients continue in the pass that called it).
    """
    if inputs is not None:
        keys = [_capture_key(t) for t in inputs]
    capture = None if keys is None else (_Boundary if boundary else dict).fromkeys(keys)
    # arrays the caller owns (gradient=, the seed) must not become a leaf's .grad as they are
    delivered = {id(g._data) for g in grads}
    prev_mode = GradMode.enabled
    GradMode.enabled = create_graph
    callbacks = _open_callbacks(capture is not None)
    try:
        pending, queue, leaves, root_nodes = _seed(roots, grads, create_graph)
        # checked once: with no hooks anywhere and nothing captured, skip the per-node lookups
        hooked = capture is not None or node_hooks[0]
        needed = targets = uses = consumers = None
        if hooked or leaf_hooks[0]:
            needed, targets, uses, consumers = _plan(root_nodes, capture)
        anomaly = GradMode.anomaly
        # nodes that hold gradients, newest first: every consumer of a node is newer than it, so
        # a node leaves the queue after all its gradients arrived (torch's order; no graph sort)
        while queue:
            node = heappop(queue)[1]
            node_grads = pending.pop(node)
            if hooked:
                node_grads = _before_backward(node, node_grads, capture, needed, targets)
                if node_grads is None:
                    continue  # autograd.grad runs only what leads to its inputs (torch does too)
            if node._saved is None:
                node.saved_tensors_list()  # raises the freed-graph error
            in_grads = node.run_backward(node_grads)
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
            if hooked and node._post_hooks:
                in_grads = _run_post_hooks(node, in_grads, node_grads)
            if not retain_graph:
                node.release()
            shapes = node._shapes
            nrs = node._input_nrs
            for i, (edge, g) in enumerate(zip(node._edges, in_grads)):
                if edge is None or g is None:
                    continue
                if g._data.shape != shapes[i]:
                    g = _reduce_to_shape(g, shapes[i], create_graph)
                if anomaly:
                    _check_nan(node, i, g)
                if isinstance(edge, Node):
                    slot = pending.get(edge)
                    if slot is None:
                        heappush(queue, (-edge._seq, edge))
                        if edge._n_outputs == 1:
                            # single-output consumer: the first gradient needs no accumulation
                            pending[edge] = [g]
                            continue
                        slot = pending[edge] = [None] * edge._n_outputs
                    nr = nrs[i] if nrs else 0
                    old = slot[nr]
                    slot[nr] = g if old is None else _accumulate(old, g, create_graph)
                else:
                    _gather_leaf(leaves, edge, g, create_graph)
            if consumers is not None and node in consumers:
                _deliver_finished_leaves(consumers[node], leaves, uses, capture, create_graph, delivered)
        # the leaves no hook could watch, and those whose consumers did not all run
        for leaf, g in leaves.values():
            _deliver_leaf(leaf, g, capture, create_graph, delivered)
        _run_callbacks(callbacks)
    finally:
        GradMode.enabled = prev_mode
        _running.stack.pop()
    if capture is not None:
        return [capture[k] for k in keys]
    return None


class _Boundary(dict):
    """The capture of a pass that stops at its keys (run_backward's ``boundary``)."""


def _capture_key(t):
    """How autograd.grad finds an input's gradient: a leaf by identity, a non-leaf by (node, output)."""
    return id(t) if t.grad_fn is None else (id(t.grad_fn), t._output_nr)


def _seed(roots, grads, create_graph):
    """The queue, pending gradients and leaf gradients before the first node runs."""
    pending = {}
    queue = []
    # each leaf's gradients are summed first and delivered once (torch's AccumulateGrad node):
    # its hooks see the total, not one call per use of the leaf
    leaves = {}
    root_nodes = []
    for tensor, g in zip(roots, grads):
        node = tensor.grad_fn
        if node is None:
            _gather_leaf(leaves, tensor, g, create_graph)
            continue
        slot = pending.get(node)
        if slot is None:
            slot = pending[node] = [None] * node._n_outputs
            heappush(queue, (-node._seq, node))
        nr = tensor._output_nr
        slot[nr] = g if slot[nr] is None else slot[nr] + g
        root_nodes.append(node)
    return pending, queue, leaves, root_nodes


def _plan(root_nodes, capture):
    """For the hooked path: the nodes autograd.grad must run (None: all), each leaf's number of
    uses (by id) and each node's leaf inputs.

    A leaf's gradient is delivered once its last consumer ran (torch's AccumulateGrad order):
    only hooks can observe when, so a backward without hooks skips this graph walk.
    """
    needed = targets = None
    if capture is not None:
        targets = {k[0] for k in capture if isinstance(k, tuple)}
        needed = _needed(_topological_order(root_nodes), capture, targets)
    uses = {}
    consumers = {}
    seen = set(root_nodes)
    stack = list(seen)
    while stack:  # one walk, in any order: only the counts matter
        node = stack.pop()
        inputs = None
        for edge in node._edges:
            if edge is None:
                continue
            if isinstance(edge, Node):
                if edge not in seen:
                    seen.add(edge)
                    stack.append(edge)
                continue
            if inputs is None:
                inputs = consumers[node] = []
            inputs.append(edge)
            uses[id(edge)] = uses.get(id(edge), 0) + 1
    return needed, targets, uses, consumers


def _deliver_finished_leaves(inputs, leaves, uses, capture, create_graph, delivered):
    """Deliver the leaves among ``inputs`` (a node's, after it ran) that have no use left."""
    for leaf in inputs:
        left = uses[id(leaf)] - 1
        uses[id(leaf)] = left
        if left == 0:
            entry = leaves.pop(id(leaf), None)
            if entry is not None:  # None: its consumers sent no gradient
                _deliver_leaf(entry[0], entry[1], capture, create_graph, delivered)


def _accumulate(old, g, create_graph):
    """``old + g``; without a graph to build (and one dtype) on arrays, skipping the op layer."""
    if create_graph or old._dtype is not g._dtype:
        return old + g
    return old._make(old._data + g._data, old._dtype, old._backend)


def _reduce_to_shape(g, shape, create_graph):
    """A broadcast input's gradient summed back to the input's shape."""
    if create_graph:
        from ..ops import sum_to_shape
        return sum_to_shape(g, shape)
    return _sum_to_shape_array(g, shape)


def _before_backward(node, grads, capture, needed, targets):
    """Tensor hooks, autograd.grad's capture and pre-hooks of ``node``; None when it need not run.

    As torch's engine: autograd.grad skips a node that leads to none of its inputs (its hooks
    do not fire); an input's gradient is captured after its tensor hooks when its node need
    not run, and before them when it must (the hooks then run with the node).
    """
    if capture is not None:
        nid = id(node)
        run = nid in needed
        if type(capture) is _Boundary and nid in targets:
            run = False
        if not run and nid not in targets:
            return None
        hooks = node._tensor_hooks
        if hooks and not run and type(capture) is not _Boundary:
            grads = _run_tensor_hooks(node, hooks, grads)
        if nid in targets:
            for nr, g in enumerate(grads):
                key = (nid, nr)
                if key in capture:
                    capture[key] = g
        if not run:
            return None
        if hooks:
            grads = _run_tensor_hooks(node, hooks, grads)
    else:
        hooks = node._tensor_hooks
        if hooks:
            grads = _run_tensor_hooks(node, hooks, grads)
    pre = node._pre_hooks
    if pre:
        for hook in pre:
            new = hook(tuple(grads))
            if new is not None:
                grads = list(new)
    return grads


def _run_post_hooks(node, in_grads, grads):
    for hook in node._post_hooks:
        new = hook(in_grads, tuple(grads))
        if new is not None:
            in_grads = tuple(new)
    return in_grads


def _sum_to_shape_array(g, shape):
    """``sum_to_shape`` on arrays (no graph is being built)."""
    data = g._data
    xp = g._backend.xp
    gshape = data.shape
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape) if s == 1 and gshape[i + lead] != 1)
    if axes:
        if g._dtype in _dt.NARROW_FLOATS:
            # float16/bfloat16 summed in float32 and rounded once, as torch's sum (and ops.sum_to_shape)
            wide = g._backend.native_dtype(_dt.float32)
            data = xp.astype(xp.sum(xp.astype(data, wide), axis=axes, keepdims=True), data.dtype)
        else:
            data = xp.sum(data, axis=axes, keepdims=True)
    if data.shape != tuple(shape):
        data = xp.reshape(data, tuple(shape))
    return g._make(data, g._dtype, g._backend)


def _needed(order, capture, targets):
    """Ids of the nodes whose backward leads to a captured input."""
    needed = set()
    for node in reversed(order):  # producers before consumers
        for edge in node._edges:
            if edge is None:
                continue
            if isinstance(edge, Node):
                if id(edge) in needed or id(edge) in targets:
                    needed.add(id(node))
                    break
            elif id(edge) in capture:
                needed.add(id(node))
                break
    return needed


def _run_tensor_hooks(node, hooks, grads):
    grads = list(grads)
    for nr, fns in hooks.items():
        for fn in fns:
            if grads[nr] is None:
                continue
            out = fn(grads[nr])
            if out is not None:
                grads[nr] = _checked_hook_result(fn, grads[nr], out)
    return grads


def _checked_hook_result(fn, g, out):
    """A tensor hook's replacement gradient, with torch's errors for a different size or a non-tensor."""
    shape = getattr(getattr(out, "_data", None), "shape", None)
    if shape is None:
        raise TypeError(f"expected Tensor or None (got {type(out).__name__})")
    if shape != g._data.shape:
        raise RuntimeError(f"hook '{getattr(fn, '__name__', type(fn).__name__)}' has changed the size of value")
    return out


def _gather_leaf(leaves, leaf, g, create_graph):
    entry = leaves.get(id(leaf))
    if entry is None:
        leaves[id(leaf)] = [leaf, g]
        return
    entry[1] = _accumulate(entry[1], g, create_graph)


def _deliver_leaf(leaf, g, capture, create_graph, delivered):
    """Run ``leaf``'s hooks on its summed gradient ``g`` and accumulate it (torch's AccumulateGrad),
    or, under autograd.grad, capture it when ``leaf`` is an input (nothing runs for other leaves)."""
    if capture is not None and (id(leaf) not in capture or type(capture) is _Boundary):
        if id(leaf) in capture:
            old = capture[id(leaf)]
            capture[id(leaf)] = g if old is None else old + g
        return
    hooks = leaf._hooks
    post = None
    if hooks:
        for hook in hooks:
            if getattr(hook, "_post_accumulate", False):
                post = hooks
                continue
            out = hook(g)
            if out is not None:
                g = _checked_hook_result(hook, g, out)
    if capture is not None:
        old = capture[id(leaf)]
        capture[id(leaf)] = g if old is None else old + g
        return
    node = grad_accumulators.get(id(leaf)) if node_hooks[0] else None
    if node is not None:
        node = node()
        if node is not None and node._pre_hooks:
            for hook in node._pre_hooks:
                out = hook((g,))
                if out is not None:
                    g = out[0]
    if g._dtype is not leaf._dtype:
        g = g.to(leaf._dtype)
    old = leaf._grad
    if create_graph:
        leaf._grad = g if old is None else old + g
    elif old is None:
        # a gradient a hook saw may be kept by it: the leaf gets its own copy (torch steals only
        # a gradient nothing else holds)
        leaf._grad = owned_grad(g, delivered) if not hooks else g.detach().clone()
    else:
        leaf._grad = _accumulate_into(old, g)
    if post:
        for hook in post:
            if getattr(hook, "_post_accumulate", False):
                hook.fn(leaf)
    if node is not None and node._post_hooks:
        for hook in node._post_hooks:
            hook((), (g,))


def _accumulate_into(old, g):
    """``old += g`` in place, as torch's AccumulateGrad outside create_graph (``.grad`` stays the
    same tensor, and one that requires grad keeps doing so); a copy where ``old`` can't be written."""
    data = old._data
    gdata = g._data
    flags = getattr(data, "flags", None)
    if (flags is not None and getattr(flags, "writeable", True) and old._dtype is g._dtype
            and data.shape == gdata.shape and gdata is not data):
        data += gdata
        old._version[0] += 1
        return old
    return old.detach() + g.detach()


class PostAccumulateHook:
    """A ``register_post_accumulate_grad_hook`` hook in a leaf's hook list: run after ``.grad`` is set."""

    __slots__ = ("fn",)
    _post_accumulate = True

    def __init__(self, fn):
        self.fn = fn
        leaf_hooks[0] = True  # from now on the engine delivers leaves as soon as they are final


class _Callbacks(list):
    """The callbacks queued during one backward; ``capturing``: it is an autograd.grad (or
    backward(inputs=...)), which reentrant checkpoints cannot serve."""

    __slots__ = ("capturing",)


def _open_callbacks(capturing=False):
    stack = getattr(_running, "stack", None)
    if stack is None:
        stack = _running.stack = []
    callbacks = _Callbacks()
    callbacks.capturing = capturing
    stack.append(callbacks)
    return callbacks


def is_capturing():
    """Whether the innermost backward now running returns gradients instead of accumulating them."""
    stack = getattr(_running, "stack", None)
    return bool(stack) and stack[-1].capturing


def _run_callbacks(callbacks):
    # a callback may queue another: it runs too (torch's loop over a growing list)
    i = 0
    while i < len(callbacks):
        callbacks[i]()
        i += 1


class ExecutionEngine:
    """The engine as torch exposes it (``autograd.Variable._execution_engine``)."""

    def queue_callback(self, callback):
        """Run ``callback()`` when the backward pass now running ends, after every leaf got its gradient.

        Only callable during backward (from a hook or a Function's backward).

        Example:
            >>> def hook(grad):
            ...     Variable._execution_engine.queue_callback(lambda: print("backward done"))
        """
        stack = getattr(_running, "stack", None)
        if not stack:
            raise RuntimeError("Final callbacks can only be installed during backward pass. Call "
                               "queue_callback from a hook or a Function's backward, while backward runs.")
        stack[-1].append(callback)


def owned_grad(g, delivered=None):
    """``g`` detached, as a tensor whose storage optimizers may write in place.

    A gradient may be a broadcast view (read-only, or aliasing one element
    many times), a view of another array, or the same array another leaf
    just received: those are copied, as torch copies a gradient it cannot steal.
    """
    data = g._data
    flags = getattr(data, "flags", None)
    # cupy's flags have no 'writeable' (its arrays always are); owndata rules out views there
    if (flags is None or not (getattr(flags, "writeable", True) and flags.owndata)
            or (delivered is not None and id(data) in delivered)):
        g = g.clone()
    if delivered is not None:
        delivered.add(id(g._data))
    return g.detach()


def _check_nan(node, i, g):
    if g._dtype.category < 2:
        return
    xp = g._backend.xp
    if bool(xp.any(xp.isnan(g._data))):
        raise RuntimeError(f"Function '{node.node_name}' returned nan values in its {i}th output. "
                           f"The forward op that produced it is the one named without 'Backward'; "
                           f"check its inputs (a sqrt or log of a negative number, 0/0)")
