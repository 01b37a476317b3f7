"""Graph nodes.

Every differentiable op is one ``Op`` subclass: ``forward(ctx, *arrays)``
computes on backend arrays; ``backward(ctx, g)`` returns the input gradients
written with tensorplug ops, so ``create_graph=True`` differentiates them
again. The op instance *is* the graph node (``tensor.grad_fn``), named as
torch names it (``AddBackward0``).

``Function`` is torch's ``torch.autograd.Function`` for user-defined ops: its
forward and backward see Tensors.
"""
from __future__ import annotations

import itertools
import weakref

from ..dtypes import COMPLEX as _COMPLEX
from .grad_mode import GradMode

__all__ = ["Node", "Op", "Function", "FunctionCtx", "AccumulateGrad", "once_differentiable"]

_tensor_cls = None  # set by tensorplug.tensor to break the import cycle
_make = None  # Tensor._make, set with it: a global read, not a class attribute lookup per op
_new = object.__new__


# True once any hook was put on a graph node (tensor hooks of non-leaves, retain_grad,
# node pre/post hooks): until then the engine skips every per-node hook lookup
node_hooks = [False]

# True once a leaf got a post-accumulate-grad hook (a hook on its AccumulateGrad node): from then
# on the engine counts each leaf's uses to deliver it as soon as its last consumer ran
leaf_hooks = [False]


# id(leaf) -> weakref to its AccumulateGrad node, so every next_functions shows the same node
# (hooks put on it stay there); the node holds its leaf, so the id is not reused while it lives
grad_accumulators = {}


def grad_accumulator(leaf):
    """``leaf``'s AccumulateGrad node (one per leaf while anything holds it, as torch's)."""
    ref = grad_accumulators.get(id(leaf))
    node = None if ref is None else ref()
    if node is None or node.variable is not leaf:
        node = AccumulateGrad(leaf)
        key = id(leaf)
        grad_accumulators[key] = weakref.ref(node, lambda r, key=key: grad_accumulators.get(key) is r
                                             and grad_accumulators.pop(key))
    return node


# numbers nodes in creation order (Tensor._make and _set_history): a node is always numbered
# after the nodes it consumes, so the engine runs the highest number first, as torch does
next_seq = itertools.count(1).__next__


def note_node_hook():
    """Tell the engine that some node now carries a hook (checked once per backward)."""
    node_hooks[0] = True


class Node:
    """A recorded operation: edges to its inputs' nodes and what backward needs.

    ``_edges[i]`` is the input's grad_fn (a Node), a leaf Tensor that
    requires grad, or None. ``_shapes[i]`` is that input's shape, used to sum
    broadcast gradients back.
    """

    node_name = "Node"
    # a plain class attribute: ops leave it, nodes that save override it
    _saved = ()
    # a class default, so the engine reads it as a plain attribute (no getattr fallback)
    _n_outputs = 1
    # creation number, set when the node gets its first output (see next_seq)
    _seq = 0
    # class defaults the engine reads when hooks exist (instances set their own); the
    # engine never touches the instance __dict__, which CPython would have to materialise
    _input_nrs = None
    _tensor_hooks = None
    _pre_hooks = None
    _post_hooks = None

    def name(self):
        return self.node_name

    def __repr__(self):
        return f"<{self.node_name} object at {hex(id(self))}>"

    @property
    def next_functions(self):
        out = []
        nrs = self._input_nrs
        for i, edge in enumerate(self._edges):
            if edge is None:
                out.append((None, 0))
            elif isinstance(edge, Node):
                out.append((edge, nrs[i] if nrs else 0))
            else:
                out.append((grad_accumulator(edge), 0))
        return tuple(out)

    def register_hook(self, hook):
        """``hook(grad_inputs, grad_outputs)`` after this node's backward (may return new grad_inputs)."""
        hooks = self.__dict__.setdefault("_post_hooks", [])
        hooks.append(hook)
        note_node_hook()
        return _RemovableHandle(hooks, hook)

    def register_prehook(self, hook):
        """``hook(grad_outputs)`` before this node's backward (may return new grad_outputs)."""
        hooks = self.__dict__.setdefault("_pre_hooks", [])
        hooks.append(hook)
        note_node_hook()
        return _RemovableHandle(hooks, hook)

    # set by save(); read by the engine
    def saved_tensors_list(self):
        if self._saved is None:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved tensors "
                "after they have already been freed). Saved intermediate values of the graph are freed "
                "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
                "backward through the graph a second time or if you need to access saved tensors after "
                "calling backward.")
        out = []
        for tensor, version in self._saved:
            if version is not None and tensor._version[0] != version:
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: [{tensor.type()} {list(tensor.shape)}], which is output 0 of "
                    f"{self.node_name}, is at version {tensor._version[0]}; expected version {version} "
                    f"instead. Hint: replace the in-place operation (a method ending in '_', or "
                    f"`x[...] = v`, `+=`) with its out-of-place form, or clone the tensor before it.")
            out.append(tensor)
        return out


class AccumulateGrad(Node):
    """The node torch shows for a leaf in ``next_functions``; its pre-hooks see the leaf's gradient
    before it is accumulated, its hooks ``hook((), (grad,))`` after."""

    node_name = "AccumulateGrad"

    def __init__(self, variable):
        self.variable = variable
        self._edges = ()

    def __eq__(self, other):
        return isinstance(other, AccumulateGrad) and other.variable is self.variable

    def __hash__(self):
        return id(self.variable)


class _RemovableHandle:
    def __init__(self, hooks, hook):
        self._hooks = weakref.ref(hooks) if hasattr(hooks, "__weakref__") else (lambda: hooks)
        self._hook = hook

    def remove(self):
        hooks = self._hooks()
        if hooks is not None and self._hook in hooks:
            hooks.remove(self._hook)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class Op(Node):
    """Base of the built-in ops. Subclasses define::

        @staticmethod
        def forward(ctx, *arrays, **params) -> array
        @staticmethod
        def backward(ctx, g) -> Tensor or tuple of Tensors (None where no grad)

    Class attributes: ``save_inputs`` (indices of inputs whose Tensors
    backward needs, version-checked) and ``save_output`` (backward reads
    ``ctx.output()``, the result as a Tensor).
    """

    save_inputs = ()
    save_output = False
    # True when forward reads nothing from ctx and keeps its inputs' dtype when they share one:
    # ops.arithmetic.binary's no-grad fast path calls it without a ctx and without a dtype lookup
    array_forward = False
    # {saved input index: indices of the inputs whose gradient needs it}; an input
    # saved only for gradients nobody needs is kept without a version check (torch
    # does not save it at all), so an in-place write to it is not an error
    save_needed_by = None

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        # torch's node names (AddBackward0); an op class that serves another overload of a torch
        # function sets its own (``node_name = "SumBackward1"``)
        if "node_name" not in cls.__dict__:
            cls.node_name = f"{cls.__name__}Backward0"
        # scripts print and compare type(t.grad_fn).__name__; __qualname__ keeps the class's own name
        cls.__name__ = cls.node_name

    @classmethod
    def renamed(cls, node_name):
        """This op under another of torch's node names (an overload's, ``SliceBackward0``), as a subclass."""
        return type(node_name, (cls,), {"node_name": node_name, "__module__": cls.__module__})

    @classmethod
    def without_derivative(cls, aten_name, hint=""):
        """This op as torch records it where it has no derivative (``floor_divide``): a
        ``NotImplemented`` node whose backward raises."""
        def backward(ctx, g):
            raise RuntimeError(f"derivative for aten::{aten_name} is not implemented{hint}")
        return type("NotImplemented", (cls,), {"node_name": "NotImplemented", "__module__": cls.__module__,
                                               "backward": staticmethod(backward), "fast_backward": None})

    @classmethod
    def apply(cls, *inputs, **params):
        Tensor = _tensor_cls
        arrays = []
        # edges and shapes are gathered in the same pass; a shape is only read where the edge is set
        edges = []
        shapes = []
        grad = False
        backend = None
        multi = False
        for x in inputs:
            if type(x) is Tensor or isinstance(x, Tensor):
                data = x._data
                arrays.append(data)
                if x._requires_grad:
                    grad = True
                    fn = x.grad_fn
                    edges.append(x if fn is None else fn)
                    shapes.append(data.shape)
                    if x._output_nr:
                        multi = True
                else:
                    edges.append(None)
                    shapes.append(None)
                if backend is None:
                    backend = x._backend
                elif x._backend is not backend:
                    _device_mismatch(backend, x._backend)
            else:
                arrays.append(x)
                edges.append(None)
                shapes.append(None)
        ctx = _new(cls)
        ctx.backend = backend
        out = cls.forward(ctx, *arrays, **params) if params else cls.forward(ctx, *arrays)
        backend = ctx.backend  # a move between devices (ToBackend) sets its target here
        dtype = backend.dtype_of(out)
        if not (grad and GradMode.enabled):
            return _make(out, dtype, backend)
        result = _make(out, dtype, backend, ctx)
        ctx._edges = edges
        ctx._shapes = shapes
        if multi:
            ctx._input_nrs = tuple(getattr(x, "_output_nr", 0) for x in inputs)
        if cls.save_inputs or cls.save_output:
            cls._save(ctx, inputs, edges, out, result, dtype)
        return result

    @classmethod
    def apply2(cls, a, b):
        """``apply(a, b)`` for two Tensors on one backend, at least one requiring grad.

        The same node as ``apply`` builds, without its loop over ``*inputs``:
        binary arithmetic records through here (the per-op path of every graph).
        """
        ctx = _new(cls)
        backend = ctx.backend = a._backend
        out = cls.forward(ctx, a._data, b._data)
        dtype = backend.dtype_of(out)
        if not GradMode.enabled:
            return _make(out, dtype, backend)
        result = _make(out, dtype, backend, ctx)
        if a._requires_grad:
            fn = a.grad_fn
            ea = a if fn is None else fn
            sa = a._data.shape
        else:
            ea = sa = None
        if b._requires_grad:
            fn = b.grad_fn
            eb = b if fn is None else fn
            sb = b._data.shape
        else:
            eb = sb = None
        edges = ctx._edges = [ea, eb]
        ctx._shapes = [sa, sb]
        if a._output_nr or b._output_nr:
            ctx._input_nrs = (a._output_nr, b._output_nr)
        if cls.save_inputs or cls.save_output:
            cls._save(ctx, (a, b), edges, out, result, dtype)
        return result

    @classmethod
    def _save(cls, ctx, inputs, edges, out, result, dtype):
        if cls.save_inputs:
            # numbers are saved as themselves (version None): backward formulas take either
            Tensor = _tensor_cls
            need = cls.save_needed_by
            saved = []
            for i in cls.save_inputs:
                x = inputs[i]
                keep = type(x) is Tensor or isinstance(x, Tensor)
                if keep and need is not None:
                    keep = False
                    for j in need[i]:
                        if edges[j] is not None:
                            keep = True
                            break
                saved.append((x, x._version[0]) if keep else (x, None))
            ctx._saved = saved
        if cls.save_output:
            ctx._out = (out, result._version, result._version[0], dtype)

    @property
    def saved_tensors(self):
        return tuple(self.saved_tensors_list())

    @property
    def needs_input_grad(self):
        return tuple(e is not None for e in self._edges)

    def needs_grad(self, i):
        """Whether input ``i`` wants a gradient (backward may return None for it otherwise)."""
        return self._edges[i] is not None

    def output(self):
        """The op's result as a Tensor whose grad_fn is this node (torch's saved output)."""
        if self._saved is None:
            self.saved_tensors_list()  # raises the freed-graph error
        out, version, saved_version, dtype = self._out
        if version[0] != saved_version:
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been modified by an inplace "
                f"operation: output 0 of {self.node_name} is at version {version[0]}; expected version "
                f"{saved_version} instead. Hint: replace the in-place operation with its out-of-place form.")
        t = _make(out, dtype, self.backend)
        if GradMode.enabled:
            # set by hand: _make would renumber this node, which its consumers already follow
            t.grad_fn = self
            t._requires_grad = True
        return t

    def tensor(self, array):
        """Wrap a constant array saved in forward (a mask, indices) as a Tensor."""
        return _tensor_cls._make(array, self.backend.dtype_of(array), self.backend)

    # Optional ``fast_backward(ctx, g_array)``: the same formula as ``backward`` on backend
    # arrays, used when no graph of the backward is being built (create_graph=False); it
    # skips the per-op Python layers of tensorplug ops. Returns an array, or a tuple with
    # None where an input needs no gradient; results take g's dtype.
    fast_backward = None
    # torch's gradient for a complex tensor is the conjugate Wirtinger derivative. A backward written as
    # the real formula (J^T g) gives it as conj(J^T conj(g)) for holomorphic ops (mul, div, matmul, exp)
    # and for real-linear ones (add, sum, views); ops whose backward follows the convention itself
    # (real, imag, view_as_complex, conj, the FFTs) set this False.
    holomorphic = True

    def run_backward(self, grads):
        if grads[0]._dtype.category == _COMPLEX and self.holomorphic:
            return _conjugated_backward(self, grads[0])
        fast = self.fast_backward
        if fast is not None and not GradMode.enabled:
            g = grads[0]
            out = fast(self, g._data)
            make = _make
            dtype = g._dtype
            backend = g._backend
            if type(out) is tuple:
                # wrap only the gradients an edge will receive (Add returns g for both inputs);
                # a plain loop: a comprehension would cost a frame per node
                grads = []
                for a, e in zip(out, self._edges):
                    grads.append(None if a is None or e is None else make(a, dtype, backend))
                return tuple(grads)
            return make(out, dtype, backend)
        return self.backward(self, grads[0])

    def saved_arrays(self):
        """The saved inputs' arrays (numbers as themselves), version-checked like ``saved_tensors_list``."""
        return [x._data if type(x) is _tensor_cls or isinstance(x, _tensor_cls) else x
                for x in self.saved_tensors_list()]

    def output_array(self):
        """The saved output's array, version-checked like ``output``."""
        if self._saved is None:
            self.saved_tensors_list()  # raises the freed-graph error
        out, version, saved_version, _ = self._out
        if version[0] != saved_version:
            self.output()  # raises the in-place error
        return out

    def release(self):
        # ops that saved nothing may run backward again (torch allows it too)
        if self.save_inputs or self.save_output:
            self._saved = None
            self._out = None


def _conjugated_backward(node, g):
    """``conj(backward(conj(g)))``: a real-formula backward under torch's complex gradient convention."""
    grads = node.backward(node, g.conj())
    if type(grads) is not tuple:
        return grads.conj()
    return tuple(None if x is None else x.conj() for x in grads)


def _edge(x):
    if type(x) is not _tensor_cls and not isinstance(x, _tensor_cls):
        return None
    if x.grad_fn is not None:
        return x.grad_fn
    return x if x._requires_grad else None


def _device_mismatch(a, b):
    raise RuntimeError(
        f"Expected all tensors to be on the same device, but found at least two devices, "
        f"{a.device} and {b.device} (backends '{a.name}' and '{b.name}'); move one to the other's backend "
        f"first, e.g. t.to('{b.name}') or t.to(tensorplug.registry.backend_of(other)) (which names a tensor's "
        f"backend) — tensorplug never copies between backends implicitly")


class FunctionCtx:
    """The ``ctx`` of a user-defined Function."""

    def save_for_backward(self, *tensors):
        self.to_save = tensors

    def mark_non_differentiable(self, *tensors):
        self.non_differentiable = tensors

    def mark_dirty(self, *tensors):
        self.dirty = tensors

    def set_materialize_grads(self, value):
        self.materialize_grads = value


class _UserNode(Node, FunctionCtx):
    _n_outputs = 1

    def __init__(self):
        self.materialize_grads = True

    @property
    def node_name(self):
        return type(self).__name__

    @property
    def saved_tensors(self):
        return tuple(self.saved_tensors_list())

    def run_backward(self, grads):
        if self.materialize_grads:
            Tensor = _tensor_cls
            grads = [g if g is not None or meta is None else
                     Tensor._make(meta[2].zeros(meta[0], meta[1]), meta[1], meta[2])
                     for g, meta in zip(grads, self._out_meta)]
        result = self._forward_cls.backward(self, *grads)
        if not isinstance(result, tuple):
            result = (result,)
        edges = self._edges
        if len(result) != len(edges):
            # torch allows extra trailing Nones
            if len(result) > len(edges) and all(r is None for r in result[len(edges):]):
                return result[:len(edges)]
            raise RuntimeError(f"function {self.node_name} returned an incorrect number of gradients "
                               f"(expected {len(edges)}, got {len(result)})")
        for i, (g, shape) in enumerate(zip(result, self._shapes)):
            if g is None:
                continue
            if shape is None:  # not a tensor (tensors always have their shape here)
                raise RuntimeError(f"function {self.node_name} returned a gradient different than None at "
                                   f"position {i + 1}, but the corresponding forward input was not a Variable")
            gshape = g._data.shape
            if gshape != shape and not _expandable_to(shape, gshape):
                raise RuntimeError(f"Function {self.node_name} returned an invalid gradient at index {i} - "
                                   f"got {list(gshape)} but expected shape compatible with {list(shape)}")
        return result

    def release(self):
        if self._saved:
            self._saved = None


def _expandable_to(shape, gshape):
    """Whether a gradient of ``gshape`` sums back to ``shape`` (torch's is_expandable_to)."""
    if len(shape) > len(gshape):
        return False
    for s, g in zip(reversed(shape), reversed(gshape)):
        if s != g and s != 1:
            return False
    return True


class _FunctionMeta(type):
    def __init__(cls, name, bases, ns):
        super().__init__(name, bases, ns)
        cls._backward_cls = type(f"{name}Backward", (_UserNode,), {"_forward_cls": cls})


class Function(metaclass=_FunctionMeta):
    """Define a differentiable op with Tensor-level forward and backward (torch's API).

    Example:
        >>> class Square(Function):
        ...     @staticmethod
        ...     def forward(ctx, x):
        ...         ctx.save_for_backward(x)
        ...         return x * x
        ...     @staticmethod
        ...     def backward(ctx, g):
        ...         (x,) = ctx.saved_tensors
        ...         return 2 * x * g
        >>> y = Square.apply(x)
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("a Function subclass must define forward(ctx, *args) as a staticmethod")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("a Function subclass must define backward(ctx, *grads) as a staticmethod")

    # torch 2's other style: forward(*args) without ctx, then setup_context(ctx, inputs, output)
    setup_context = None

    @classmethod
    def apply(cls, *args, **kwargs):
        Tensor = _tensor_cls
        node = cls._backward_cls()
        tensors = [a for a in args if isinstance(a, Tensor)]
        node.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        record = GradMode.enabled and any(node.needs_input_grad)
        prev = GradMode.enabled
        GradMode.enabled = False
        try:
            if cls.setup_context is None:
                out = cls.forward(node, *args, **kwargs)
            else:
                out = cls.forward(*args, **kwargs)
                cls.setup_context(node, args, out)
        finally:
            GradMode.enabled = prev
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        if not record:
            return out
        non_diff = {id(t) for t in getattr(node, "non_differentiable", ())}
        dirty = {id(t) for t in getattr(node, "dirty", ())}
        for t in tensors:
            if t.is_leaf and t.requires_grad and id(t) in dirty:
                raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        node._edges = tuple(_edge(a) for a in args)
        node._shapes = tuple(a._data.shape if isinstance(a, Tensor) else None for a in args)
        node._input_nrs = tuple(getattr(a, "_output_nr", 0) for a in args)
        # None keeps its place, as in torch: backward unpacks saved_tensors positionally
        node._saved = tuple((t, t._version[0]) if t is not None else (None, None)
                            for t in getattr(node, "to_save", ()))
        node._n_outputs = len(outs)
        node._out_meta = []
        wrapped = []
        for i, o in enumerate(outs):
            if not isinstance(o, Tensor):
                wrapped.append(o)
                node._out_meta.append(None)
                continue
            if id(o) in dirty:
                o._version[0] += 1
                o._set_history(node, i)
            elif id(o) in non_diff:
                pass
            else:
                # a fresh Tensor object so an input returned as-is is not rewired
                if any(o is t for t in tensors):
                    o = Tensor._make(o._data, o._dtype, o._backend)
                o._set_history(node, i)
            node._out_meta.append((o.shape, o._dtype, o._backend))
            wrapped.append(o)
        return wrapped[0] if single else tuple(wrapped)


def once_differentiable(backward):
    """Mark a Function's backward as not itself differentiable: it runs with grad mode off."""
    import functools

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        prev = GradMode.enabled
        GradMode.enabled = False
        try:
            return backward(ctx, *grads)
        finally:
            GradMode.enabled = prev
    return wrapper
