"""``tensorplug.func``: torch.func's transforms over the tape.

``grad``, ``vjp`` and ``jacrev`` differentiate through an alias of each input (``x.view_as(x)``), so a
transform nested in another, or one run on tensors that already require grad, keeps its result attached to
the outer graph; a result that reaches no outer tensor comes back detached, as torch.func's does.
``vmap`` calls the function once per index of the mapped dimension and stacks the results: the same
values and gradients as torch's batching rules, one call per batch element.
"""
from __future__ import annotations

import functools
import weakref

from .tensor import Tensor
from .utils._pytree import broadcast_prefix, tree_flatten, tree_unflatten

__all__ = ["functional_call", "grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "vmap",
           "stack_module_state", "functionalize"]

_MISSING = object()


# functional_call -----------------------------------------------------------------------------------------
def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True,
                    strict=False):
    """Call ``module(*args, **kwargs)`` with its parameters and buffers replaced by the given tensors.

    Args:
        module: the module to call; it is left as it was afterwards.
        parameter_and_buffer_dicts: ``{dotted_name: tensor}`` (or a list/tuple of such dicts).
        args: the positional arguments (a single non-tuple value is one argument).
        kwargs: the keyword arguments.
        tie_weights: a value given for one of several names sharing a tensor is used for all of them.
        strict: every parameter and buffer must be given, and no other name.

    Example:
        >>> m = tensorplug.nn.Linear(3, 2)
        >>> params = {k: tensorplug.zeros_like(v) for k, v in m.named_parameters()}
        >>> tensorplug.func.functional_call(m, params, tensorplug.ones(1, 3))
        tensor([[0., 0.]])
    """
    values = _merge_dicts(parameter_and_buffer_dicts)
    if tie_weights:
        values = _untie(module, values)
    if strict:
        _check_keys(module, values)
    args = () if args is None else (args if isinstance(args, tuple) else (args,))
    originals = {}
    try:
        for name, value in values.items():
            originals[name] = _swap(module, name, value)
        return module(*args, **(kwargs or {}))
    finally:
        for name, value in originals.items():
            _swap(module, name, value)


def _merge_dicts(dicts):
    if isinstance(dicts, dict):
        return dict(dicts)
    if not isinstance(dicts, (list, tuple)):
        raise ValueError(f"Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of dicts, "
                         f"but got {type(dicts)}")
    if not all(isinstance(d, dict) for d in dicts):
        raise ValueError("Expected all elements of parameter_and_buffer_dicts to be dictionaries")
    keys = [k for d in dicts for k in d]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ValueError(f"{repeated} appeared in multiple dictionaries; behavior of functional call is "
                         f"ambiguous")
    return {k: v for d in dicts for k, v in d.items()}


def _named_tensors(module):
    yield from module.named_parameters(remove_duplicate=False)
    yield from module.named_buffers(remove_duplicate=False)


def _untie(module, values):
    groups = {}
    for name, tensor in _named_tensors(module):
        groups.setdefault(id(tensor), []).append(name)
    out = dict(values)
    for names in groups.values():
        given = [n for n in names if n in values]
        if len(names) < 2 or not given:
            continue
        if len({id(values[n]) for n in given}) > 1:
            raise ValueError(f"functional_call got multiple values for keys {sorted(given)}, which are tied. "
                             f"Consider using tie_weights=False")
        out.update({n: values[given[0]] for n in names})
    return out


def _check_keys(module, values):
    names = {name for name, _ in _named_tensors(module)}
    unexpected = sorted(k for k in values if k not in names)
    missing = sorted(k for k in names if k not in values)
    errors = []
    if unexpected:
        errors.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
    if missing:
        errors.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
    if errors:
        raise RuntimeError("Error(s) in reparametrizing for {}:\n\t{}".format(module._get_name(),
                                                                              "\n\t".join(errors)))


def _swap(module, name, value):
    """Put ``value`` at dotted ``name`` (as a parameter, buffer or attribute); return what was there."""
    path, _, leaf = name.rpartition(".")
    owner = module.get_submodule(path)
    for store in (owner._parameters, owner._buffers):
        if leaf in store:
            old = store[leaf]
            store[leaf] = value
            return old
    old = getattr(owner, leaf, _MISSING)
    if value is _MISSING:
        delattr(owner, leaf)
    else:
        object.__setattr__(owner, leaf, value)
    return old


def stack_module_state(models):
    """``(params, buffers)``: each name's tensors from ``models`` stacked on a new leading dimension."""
    from .ops.join import stack
    models = list(models)
    if not models:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if len({m.training for m in models}) > 1:
        raise RuntimeError("stack_module_state: Expected all models to have the same training/eval mode.")
    if len({type(m) for m in models}) > 1:
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")
    params = {name: stack([dict(m.named_parameters())[name] for m in models]).detach()
              .requires_grad_(p.requires_grad) for name, p in models[0].named_parameters()}
    buffers = {name: stack([dict(m.named_buffers())[name] for m in models]) for name, _ in models[0].named_buffers()}
    return params, buffers


# differentiation -----------------------------------------------------------------------------------------
def _differentiable(x):
    if not isinstance(x, Tensor):
        raise ValueError(f"Thing passed to transform API must be Tensor, got {type(x)}")
    # an alias keeps the way back to an outer graph; a plain tensor becomes a fresh leaf
    return x.view_as(x) if x.requires_grad else x.detach().requires_grad_(True)


def _reaches_outside(tensors, own):
    """Whether any of ``tensors`` depends on a tensor requiring grad other than the leaves in ``own``."""
    seen = set()
    stack = [t.grad_fn if t.grad_fn is not None else t for t in tensors if isinstance(t, Tensor) and t.requires_grad]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, Tensor):
            if id(item) not in own:
                return True
            continue
        stack.extend(e for e in item._edges if e is not None)
    return False


def _undo(tree, own):
    """Detach the tensors of ``tree`` unless they reach an outer graph (a nested transform, outer autograd)."""
    leaves, spec = tree_flatten(tree)
    keep = [_reaches_outside([t], own) for t in leaves]
    return tree_unflatten([t.detach() if isinstance(t, Tensor) and not k else t for t, k in zip(leaves, keep)], spec)


def _wrap_argnums(args, argnums, api):
    """``(args with the differentiated ones wrapped, the differentiated tree, its flat leaves)``."""
    if isinstance(argnums, int):
        index = _check_argnum(argnums, len(args))
        picked = [index]
    elif isinstance(argnums, tuple):
        if not argnums:
            raise RuntimeError("argnums must be non-empty")
        if len(set(argnums)) != len(argnums):
            raise RuntimeError(f"argnums elements must be unique, got {argnums}")
        picked = [_check_argnum(a, len(args)) for a in argnums]
    else:
        raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")
    args = list(args)
    for i in picked:
        leaves, spec = tree_flatten(args[i])
        args[i] = tree_unflatten([_differentiable(x) for x in leaves], spec)
    diff = args[picked[0]] if isinstance(argnums, int) else tuple(args[i] for i in picked)
    return tuple(args), diff


def _check_argnum(argnum, n):
    if not isinstance(argnum, int):
        raise RuntimeError(f"argnum must be int, got: {type(argnum)}")
    if -n <= argnum < n:
        return argnum % n
    raise RuntimeError(f"Got argnum={argnum}, but only {n} positional inputs")


def _split_aux(output, has_aux, api):
    if not has_aux:
        return output, None
    if not (isinstance(output, tuple) and len(output) == 2):
        raise RuntimeError(f"{api}: output of function f should be a tuple: (output, aux) if has_aux is True")
    return output


def _grads(outputs, inputs, cotangents, create_graph=True):
    from .autograd import grad as autograd_grad
    from .creation import zeros_like
    cotangents = cotangents or [None] * len(outputs)
    # an output that depends on no input contributes nothing (torch's transforms give zeros, not an error)
    pairs = [(o, c) for o, c in zip(outputs, cotangents) if o.requires_grad]
    if not pairs:
        return [zeros_like(x) for x in inputs]
    found = autograd_grad([o for o, _ in pairs], inputs, [c for _, c in pairs], retain_graph=True,
                          create_graph=create_graph, allow_unused=True)
    return [zeros_like(x) if g is None else g for g, x in zip(found, inputs)]


def grad_and_value(func, argnums=0, has_aux=False):
    """Like ``grad``, returning ``(gradient, value)`` (``(gradient, (value, aux))`` with ``has_aux``)."""
    from .autograd.grad_mode import enable_grad

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with enable_grad():
            args, diff = _wrap_argnums(args, argnums, "grad_and_value")
            output, aux = _split_aux(func(*args, **kwargs), has_aux, "grad_and_value(f)(*args)")
            if not isinstance(output, Tensor):
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a Tensor, got "
                                   f"{type(output)}")
            if output.dim() != 0:
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got "
                                   f"tensor with {output.dim()} dims. Maybe you wanted to use the vjp or jacrev "
                                   f"APIs instead?")
            flat, spec = tree_flatten(diff)
            own = {id(x) for x in flat}
            # a graph for the gradient only where something outside (an outer transform, outer autograd, a
            # closed-over tensor that requires grad) can differentiate it
            outer = _reaches_outside([output], own)
            gradient = tree_unflatten(_grads([output], flat, None, create_graph=outer), spec)
        value = _undo(output, own)
        return _undo(gradient, own), ((value, _undo(aux, own)) if has_aux else value)
    return wrapper


def grad(func, argnums=0, has_aux=False):
    """The function computing the gradient of scalar-valued ``func`` w.r.t. its ``argnums`` arguments.

    Args:
        func: returns a 0-d tensor (or ``(tensor, aux)`` with ``has_aux``).
        argnums: which positional argument(s) to differentiate (an int or a tuple of ints); an argument may
            be a tuple/list/dict of tensors, and its gradient has the same structure.
        has_aux: ``func`` returns ``(output, aux)``; the transform returns ``(gradient, aux)``.

    Example:
        >>> tensorplug.func.grad(lambda x: (x ** 2).sum())(tensorplug.tensor([1., 2.]))
        tensor([2., 4.])
    """
    inner = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        gradient, value = inner(*args, **kwargs)
        return (gradient, value[1]) if has_aux else gradient
    return wrapper


def vjp(func, *primals, has_aux=False):
    """``(func(*primals), vjp_fn)`` (and ``aux``): ``vjp_fn(cotangents)`` is the tuple of vector-Jacobian
    products, one per primal.

    Example:
        >>> out, vjp_fn = tensorplug.func.vjp(tensorplug.sin, tensorplug.zeros(2))
        >>> vjp_fn(tensorplug.ones(2))
        (tensor([1., 1.]),)
    """
    from .autograd.grad_mode import enable_grad
    with enable_grad():
        diff = tuple(tree_unflatten([_differentiable(x) for x in tree_flatten(p)[0]], tree_flatten(p)[1])
                     for p in primals)
        output, aux = _split_aux(func(*diff), has_aux, "vjp(f, *primals)")
    flat_out, out_spec = tree_flatten(output)
    _check_outputs(flat_out)
    flat_in, in_spec = tree_flatten(diff)
    own = {id(x) for x in flat_in}

    def vjp_fn(cotangents, retain_graph=True, create_graph=None):
        flat_cot, cot_spec = tree_flatten(cotangents)
        if cot_spec != out_spec:
            raise RuntimeError(f"Expected pytree structure of cotangents to be the same as pytree structure of "
                               f"outputs to the function. cotangents: {cot_spec}, primal output: {out_spec}")
        with enable_grad():
            found = _grads(flat_out, flat_in, flat_cot)
        return _undo(tree_unflatten(found, in_spec), own)
    result = (_undo(output, own), vjp_fn)
    return result + (_undo(aux, own),) if has_aux else result


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """``(func(*primals), J @ tangents)`` (and ``aux``): the Jacobian-vector product, here by two reverse
    passes (the gradient of a vjp with respect to its cotangent).

    Example:
        >>> tensorplug.func.jvp(tensorplug.sin, (tensorplug.zeros(2),), (tensorplug.ones(2),))
        (tensor([0., 0.]), tensor([1., 1.]))
    """
    from .autograd.grad_mode import enable_grad
    from .creation import zeros_like
    api = "jvp(f, primals, tangents)"
    if not isinstance(primals, tuple):
        raise RuntimeError(f"{api}: Expected primals to be a tuple. E.g. it should be valid to call f(*primals).")
    flat_primals, primals_spec = tree_flatten(primals)
    flat_tangents, tangents_spec = tree_flatten(tangents)
    if primals_spec != tangents_spec:
        raise RuntimeError(f"{api}: Expected primals and tangents to have the same python structure. For example, "
                           f"if primals is a tuple of 3 tensors, tangents also must be. Got primals with structure "
                           f"{primals_spec} and tangents with structure {tangents_spec}")
    for p, t in zip(flat_primals, flat_tangents):
        if isinstance(p, Tensor) and isinstance(t, Tensor) and tuple(p.shape) != tuple(t.shape):
            raise RuntimeError(f"{api}: Expected primals and tangents to have the same shape; got a primal of shape "
                               f"{list(p.shape)} and its tangent of shape {list(t.shape)}")
    with enable_grad():
        flat_in = [_differentiable(p) for p in flat_primals]
        output, aux = _split_aux(func(*tree_unflatten(flat_in, primals_spec)), has_aux, api)
        flat_out, out_spec = tree_flatten(output)
        _check_outputs(flat_out)
        cotangents = [zeros_like(o).requires_grad_(True) for o in flat_out]
        if _builtin_graph(flat_out):
            pulled = _grads(flat_out, flat_in, cotangents)
            pushed = _grads(pulled, cotangents, list(flat_tangents))
        else:  # a user's Function may not differentiate its backward: the Jacobian's rows times the tangents
            pushed = [_rows_times(o, flat_in, flat_tangents) for o in flat_out]
    own = {id(x) for x in flat_in + cotangents}
    result = (_undo(output, own), _undo(tree_unflatten(pushed, out_spec), own))
    return result + (_undo(aux, own),) if has_aux else result


def functionalize(func, *, remove="mutations"):
    """torch.func.functionalize: the same function (eager tensorplug has no mutation-removing graph pass;
    the values are the same)."""
    if remove not in ("mutations", "mutations_and_views"):
        raise RuntimeError(f"functionalize(f, remove='mutations'): received invalid argument for remove={remove}. "
                           f"Valid options are:\n     remove='mutations': all inplace and out= operators will be "
                           f"removed from the program, and replaced with their out-of-place equivalents.\n     "
                           f"remove='mutations_and_views': In addition to the above, all aliasing operators "
                           f"{{view}} will be replaced with their non-aliasing counterparts, {{view}}_copy.\n")
    return func


def _check_outputs(flat_out):
    if not flat_out or not all(isinstance(o, Tensor) for o in flat_out):
        bad = next((o for o in flat_out if not isinstance(o, Tensor)), flat_out)
        raise RuntimeError(f"vjp(f, *primals): Expected f to be a function that has non-empty output (got "
                           f"output = {bad})" if not flat_out else
                           f"vjp(f, *primals): expected f(*primals) to return only tensors, got unsupported "
                           f"type {type(bad)}")
    for o in flat_out:
        if not (o.is_floating_point() or o.is_complex()):
            raise RuntimeError(f"vjp(f, ...): All outputs of f must be floating-point or complex Tensors, got "
                               f"Tensor with dtype {o.dtype}")


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None, _preallocate_and_copy=False):
    """The Jacobian of ``func`` w.r.t. its ``argnums`` arguments, by reverse mode (one row per output element).

    Each output's Jacobian has shape ``output.shape + input.shape``; tuple outputs and tuple ``argnums``
    give nested tuples as torch's.

    Example:
        >>> tensorplug.func.jacrev(tensorplug.sin)(tensorplug.zeros(2))
        tensor([[1., 0.],
                [0., 1.]])
    """
    if chunk_size is not None and chunk_size <= 0:
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")
    return _jacobian_transform(func, argnums, has_aux, "jacrev", by_columns=False)


def _jacobian_transform(func, argnums, has_aux, api, by_columns):
    """jacrev's and jacfwd's wrapper; ``by_columns``: by columns where the inputs have fewer elements."""
    from .autograd.grad_mode import enable_grad

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with enable_grad():
            args, diff = _wrap_argnums(args, argnums, api)
            output, aux = _split_aux(func(*args, **kwargs), has_aux, f"{api}(f, ...)(*args)")
            flat_out, out_spec = tree_flatten(output)
            _check_outputs(flat_out)
            flat_in, in_spec = tree_flatten(diff)
            own = {id(x) for x in flat_in}
            outer = _reaches_outside(flat_out, own)
            if by_columns and sum(x.numel() for x in flat_in) < sum(o.numel() for o in flat_out) and \
                    _builtin_graph(flat_out):
                per_out, cotangents = _jacobian_by_columns(flat_out, flat_in, outer)
                own.update(id(u) for u in cotangents)
            else:
                per_out = [_jacobian_of(o, flat_in, outer) for o in flat_out]
            jac = tree_unflatten([tree_unflatten(j, in_spec) for j in per_out], out_spec)
        jac = _undo(jac, own)
        return (jac, _undo(aux, own)) if has_aux else jac
    return wrapper


def _jacobian_of(output, inputs, create_graph=True):
    """One Jacobian per input, ``output.shape + input.shape``, from one backward pass per output element.

    An ``output`` that is itself a Jacobian made here (a nested ``jacrev``) is differentiated row by row:
    each pass then runs through the graph of one row rather than through all of them, the same products
    (the other rows only added zeros). ``jacrev(jacrev(f))`` of tanh(linear) with a (32,) output over a
    (512,) input: 16384 passes of 7 nodes, not of 130 (22.3 s -> 1.7 s).
    """
    from .ops.join import stack
    parts = _rows_of(output)
    if parts is not None:
        per_part = [_jacobian_of(p, inputs, create_graph) for p in parts]
        rows = [[j[k] for j in per_part] for k in range(len(inputs))]
    else:
        found = [_grads([output], inputs, [e.reshape(output.shape)], create_graph) for e in _basis(output)]
        rows = [[r[k] for r in found] for k in range(len(inputs))]
    out = []
    for k, x in enumerate(inputs):
        shape = tuple(output.shape) + tuple(x.shape)
        if not rows[k]:
            out.append(x.new_zeros(shape))
            continue
        jac = stack(rows[k]).reshape(shape)
        _remember_rows(jac, _flat_rows(rows[k], tuple(x.shape)))
        out.append(jac)
    return out


# a Jacobian made by _jacobian_of -> its rows (each of the input's shape, in row-major order), so a
# Jacobian of it can run per row; an entry lives as long as its Jacobian tensor and holds only while
# that tensor is unchanged (same grad_fn, no in-place write since)
_ROWS = {}


def _remember_rows(jac, rows):
    if jac.requires_grad:
        key = id(jac)
        _ROWS[key] = (weakref.ref(jac, lambda _, key=key: _ROWS.pop(key, None)), jac.grad_fn, jac._version[0], rows)


def _rows_of(output):
    entry = _ROWS.get(id(output))
    if entry is None:
        return None
    ref, grad_fn, version, rows = entry
    if ref() is not output or output.grad_fn is not grad_fn or output._version[0] != version:
        return None
    return rows


def _flat_rows(parts, shape):
    """The rows of shape ``shape`` of ``stack(parts)``: the parts, or their own rows where remembered."""
    out = []
    for p in parts:
        if tuple(p.shape) == shape:
            out.append(p)
            continue
        sub = _rows_of(p)
        if sub is None:
            out.extend(p.reshape((-1,) + shape).unbind(0))
        else:
            out.extend(sub)
    return out


def _basis(output, chunk=1024):
    """The rows of the identity of ``output``'s size and dtype, flat (the cotangents of reverse mode).

    Made ``chunk`` rows at a time and handed out as views: 5 us a row, where a fresh zeros tensor with one
    element set took 20 (a fifth of a small reverse pass)."""
    n = output.numel()
    for lo in range(0, n, chunk):
        m = min(chunk, n - lo)
        rows = output.new_zeros((m, n))
        rows.diagonal(lo).fill_(1)
        yield from rows.unbind(0)


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """The Jacobian of ``func`` w.r.t. its ``argnums`` arguments, one column per input element (as torch's
    forward mode) where the inputs have fewer elements than the outputs, else one row per output element.

    A column ``J @ e`` is the gradient, w.r.t. a cotangent ``u``, of the vector-Jacobian product
    ``J^T u`` (``jvp``'s two reverse passes), so a Jacobian with fewer columns than rows takes fewer
    passes. ``hessian`` of tanh(linear), (32,) over (512,): 512 column passes instead of 16384 row passes
    (1.47 s -> 0.78 s).

    Example:
        >>> tensorplug.func.jacfwd(tensorplug.sin)(tensorplug.zeros(2))
        tensor([[1., 0.],
                [0., 1.]])
    """
    _check_randomness(randomness)
    return _jacobian_transform(func, argnums, has_aux, "jacfwd", by_columns=True)


def _rows_times(output, inputs, tangents):
    """``J @ tangents`` for one output, from its Jacobian's rows (one reverse pass per output element)."""
    total = None
    for jac, t in zip(_jacobian_of(output, inputs), tangents):
        part = (jac.reshape(output.numel(), -1) @ t.reshape(-1)).reshape(output.shape)
        total = part if total is None else total + part
    return total


def _builtin_graph(outputs):
    """Whether every node behind ``outputs`` is one of tensorplug's own (their backwards are differentiable
    in the incoming gradient, which the op table checks). A user's ``autograd.Function`` may compute its
    backward outside the graph, where the column method would read zero columns: rows then (torch's
    forward mode refuses such a Function without a jvp)."""
    from .autograd.function import _UserNode
    seen, stack = set(), [o.grad_fn for o in outputs if o.grad_fn is not None]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, _UserNode) and not type(node)._forward_cls.__module__.startswith(__package__ + "."):
            return False
        stack.extend(edge for edge in getattr(node, "_edges", ()) if edge is not None and not hasattr(edge, "_data"))
    return True


def _jacobian_by_columns(outputs, inputs, create_graph):
    """``(Jacobians per output, one per input; the cotangents)``: column ``j`` of input ``k`` is the
    gradient w.r.t. the cotangents ``u`` of ``(J^T u)[k]`` with cotangent ``e_j`` (linear in ``u``)."""
    from .creation import zeros_like
    from .ops.join import stack
    cotangents = [zeros_like(o).requires_grad_(True) for o in outputs]
    pulled = _grads(outputs, inputs, cotangents)
    per_out = [[] for _ in outputs]
    for k, x in enumerate(inputs):
        columns = [_grads([pulled[k]], cotangents, [e.reshape(x.shape)], create_graph) for e in _basis(x)]
        for o, out in enumerate(outputs):
            shape = tuple(out.shape) + tuple(x.shape)
            if not columns:
                per_out[o].append(out.new_zeros(shape))
                continue
            per_out[o].append(stack([c[o] for c in columns], out.dim()).reshape(shape))
    return per_out, cotangents


def hessian(func, argnums=0):
    """The Hessian of scalar ``func`` w.r.t. its ``argnums`` arguments (``jacfwd(jacrev(func))``)."""
    return jacfwd(jacrev(func, argnums), argnums)


# vmap -----------------------------------------------------------------------------------------------------
def _name(func):
    if isinstance(func, functools.partial):
        return f"functools.partial({_name(func.func)}, ...)"
    return getattr(func, "__name__", repr(func))


def _check_randomness(randomness):
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or 'same'. Got "
                           f"{randomness}")


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """``func`` mapped over a dimension of its inputs: the results are stacked along ``out_dims``.

    Args:
        func: the per-example function.
        in_dims: the mapped dimension of each positional argument (an int, None for "not mapped", or a
            nested tuple matching the arguments). Keyword arguments are not mapped.
        out_dims: where the mapped dimension goes in each output (an int, None, or a tuple per output).
        randomness: 'error' (random draws inside ``func`` are an error), 'different' (each example draws
            its own) or 'same' (every example draws the same values).

    Example:
        >>> tensorplug.vmap(tensorplug.dot)(tensorplug.ones(3, 2), tensorplug.ones(3, 2))
        tensor([2., 2., 2.])
    """
    _check_randomness(randomness)
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size <= 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        size, flat_dims, flat_args, spec = _batched_inputs(func, in_dims, args)
        if size == 0:
            return _empty_batch(func, flat_args, flat_dims, spec, kwargs, out_dims)
        results = []
        draws = _RandomDraws(randomness)
        for i in range(size):
            flat = [a if d is None else a.select(d, i) for a, d in zip(flat_args, flat_dims)]
            draws.before(i)
            results.append(func(*tree_unflatten(flat, spec), **kwargs))
            draws.after(i)
        return _stack_outputs(func, results, out_dims)
    return wrapper


def _empty_batch(func, flat_args, flat_dims, spec, kwargs, out_dims):
    """A mapped dimension of size 0: ``func`` runs once on zero examples to learn the output shapes."""
    examples = [a if d is None else a.new_zeros(a.shape[:d] + a.shape[d + 1:]) for a, d in zip(flat_args, flat_dims)]
    result = func(*tree_unflatten(examples, spec), **kwargs)
    stacked = _stack_outputs(func, [result], out_dims)
    leaves, out_spec = tree_flatten(stacked)
    dims = broadcast_prefix(out_dims[0] if isinstance(result, Tensor) and isinstance(out_dims, tuple) else out_dims,
                            out_spec)
    return tree_unflatten([t if d is None else t.narrow(d, 0, 0) for t, d in zip(leaves, dims)], out_spec)


def _batched_inputs(func, in_dims, args):
    name = _name(func)
    if not isinstance(in_dims, (int, tuple)):
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): expected `in_dims` to be int or a "
                         f"(potentially nested) tuple matching the structure of inputs, got: {type(in_dims)}.")
    if not args:
        raise ValueError(f"vmap({name})(<inputs>): got no inputs. Maybe you forgot to add inputs, or you are "
                         f"trying to vmap over a function with no inputs. The latter is unsupported.")
    flat_args, spec = tree_flatten(args)
    flat_dims = broadcast_prefix(in_dims, spec)
    if flat_dims is None:
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): in_dims is not compatible with the "
                         f"structure of `inputs`. in_dims has structure {tree_flatten(in_dims)[1]} but inputs "
                         f"has structure {spec}.")
    prefix = f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim="
    for i, (arg, dim) in enumerate(zip(flat_args, flat_dims)):
        if dim is None:
            continue
        if not isinstance(dim, int) or isinstance(dim, bool):
            raise ValueError(f"{prefix}{dim} for an input but in_dim must be either an integer dimension or None.")
        if not isinstance(arg, Tensor):
            raise ValueError(f"{prefix}{dim} for an input but the input is of type {type(arg)}. We cannot vmap "
                             f"over non-Tensor arguments, please use None as the respective in_dim")
        if not -arg.dim() <= dim < arg.dim():
            raise ValueError(f"{prefix}{dim} for some input, but that input is a Tensor of dimensionality "
                             f"{arg.dim()} so expected in_dim to satisfy -{arg.dim()} <= in_dim < {arg.dim()}.")
        flat_dims[i] = dim % arg.dim()
    sizes = [arg.shape[d] for arg, d in zip(flat_args, flat_dims) if d is not None]
    if not sizes:
        raise ValueError("vmap: Expected at least one Tensor to vmap over")
    if any(s != sizes[0] for s in sizes):
        raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped dimension, got sizes "
                         f"{sizes} for the mapped dimension")
    return sizes[0], flat_dims, flat_args, spec


class _RandomDraws:
    """randomness='same' replays one stream for every example; 'error' refuses any draw."""

    def __init__(self, randomness):
        from .registry import get_backend
        self.randomness = randomness
        self.backend = get_backend()
        self.start = self.backend.get_rng_state() if randomness != "different" else None

    def before(self, i):
        if self.randomness == "same":
            self.backend.set_rng_state(self.start)

    def after(self, i):
        # the first example shows whether the function draws (a state copy per example would cost more)
        if self.randomness == "error" and i == 0 and not _same_state(self.start, self.backend.get_rng_state()):
            raise RuntimeError("vmap: called random operation while in randomness error mode. Please either use "
                               "the 'same' or 'different' randomness flags on vmap or perform the randomness "
                               "operation out of vmap")


def _same_state(a, b):
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same_state(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same_state(x, y) for x, y in zip(a, b))
    if hasattr(a, "tolist"):
        return a.tolist() == b.tolist()
    return a == b


def _stack_outputs(func, results, out_dims):
    from .ops.join import stack
    name = _name(func)
    spec = tree_flatten(results[0])[1]
    if isinstance(results[0], Tensor) and isinstance(out_dims, tuple) and len(out_dims) == 1:
        out_dims = out_dims[0]
    flat_dims = broadcast_prefix(out_dims, spec)
    if flat_dims is None:
        raise ValueError(f"vmap({name}, ..., out_dims={out_dims})(<inputs>): out_dims is not compatible with "
                         f"the structure of `outputs`. out_dims has structure {tree_flatten(out_dims)[1]} but "
                         f"outputs has structure {spec}.")
    columns = zip(*(tree_flatten(r)[0] for r in results))
    out = []
    for column, dim in zip(columns, flat_dims):
        if dim is not None and not isinstance(dim, int):
            raise ValueError(f"vmap({name}, ..., out_dims={out_dims}): `out_dims` must be an int, None or a "
                             f"python collection of ints representing where in the outputs the vmapped "
                             f"dimension should appear.")
        if dim is None:
            out.append(column[0])
            continue
        if not isinstance(column[0], Tensor):
            raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got type "
                             f"{type(column[0])}. Did you mean to set out_dims= to None for output?")
        out.append(stack(column, dim))
    return tree_unflatten(out, spec)
