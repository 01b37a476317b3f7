"""``tensorplug.autograd.functional``: vjp, jvp, jacobian, hessian, hvp, vhp (torch's API, by reverse mode)."""
from __future__ import annotations

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _tuple(x):
    return (tuple(x), True) if isinstance(x, (tuple, list)) else ((x,), False)


def _prepare(inputs, create_graph):
    from .grad_mode import enable_grad
    xs, is_tuple = _tuple(inputs)
    xs = tuple(x.detach().requires_grad_(True) if not (create_graph and x.requires_grad) else x for x in xs)
    return xs, is_tuple, enable_grad


def _grads(outputs, inputs, grad_outputs, create_graph):
    from . import grad
    from ..creation import zeros_like
    found = grad(outputs, inputs, grad_outputs, create_graph=True, allow_unused=True)
    out = tuple(zeros_like(x) if g is None else g for g, x in zip(found, inputs))
    return out if create_graph else tuple(g.detach() for g in out)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T J)``."""
    xs, is_tuple, enable_grad = _prepare(inputs, create_graph)
    with enable_grad():
        out = func(*xs)
        outs, out_tuple = _tuple(out)
        vs = _tuple(v)[0] if v is not None else None
        if vs is None:
            for o in outs:
                if o.numel() != 1:
                    raise RuntimeError("The vector v can only be None if the user-provided function returns a "
                                       "single Tensor with a single element.")
        g = _grads(outs, xs, vs, create_graph)
    outs = outs if create_graph else tuple(o.detach() for o in outs)
    return (outs if out_tuple else outs[0]), (g if is_tuple else g[0])


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J v)`` by the double-vjp trick."""
    from . import grad
    from ..creation import zeros_like
    xs, is_tuple, enable_grad = _prepare(inputs, True)
    vs = _tuple(v)[0] if v is not None else tuple(x.new_ones(x.shape) for x in xs)
    with enable_grad():
        outs, out_tuple = _tuple(func(*xs))
        us = tuple(zeros_like(o).requires_grad_(True) for o in outs)
        gx = grad(outs, xs, us, create_graph=True, allow_unused=True)
        pairs = [(g, v_) for g, v_ in zip(gx, vs) if g is not None]
        found = grad([g for g, _ in pairs], us, [v_ for _, v_ in pairs], create_graph=create_graph,
                     allow_unused=True)
    jv = tuple(zeros_like(o) if f is None else (f if create_graph else f.detach()) for f, o in zip(found, outs))
    outs = outs if create_graph else tuple(o.detach() for o in outs)
    return (outs if out_tuple else outs[0]), (jv if out_tuple else jv[0])


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """d func(inputs) / d inputs, one reverse pass per output element; shape ``out.shape + in.shape``."""
    from ..ops.join import stack
    xs, is_tuple, enable_grad = _prepare(inputs, create_graph)
    with enable_grad():
        outs, out_tuple = _tuple(func(*xs))
        rows = []
        for o in outs:
            flat = o.reshape(-1)
            per_input = [[] for _ in xs]
            for i in range(flat.numel()):
                g = _grads(flat[i], xs, None, create_graph)
                for k, gk in enumerate(g):
                    per_input[k].append(gk)
            jac = []
            for k, x in enumerate(xs):
                if per_input[k]:
                    jac.append(stack(per_input[k]).reshape(tuple(o.shape) + tuple(x.shape)))
                else:
                    jac.append(x.new_zeros(tuple(o.shape) + tuple(x.shape)))
            rows.append(tuple(jac) if is_tuple else jac[0])
    return tuple(rows) if out_tuple else rows[0]


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar ``func`` at ``inputs``."""
    xs, is_tuple, _ = _prepare(inputs, True)

    def gradient(*args):
        from . import grad
        out = func(*args)
        found = grad(out, args, create_graph=True, allow_unused=True)
        from ..creation import zeros_like
        g = tuple(zeros_like(a) if f is None else f for f, a in zip(found, args))
        return g if is_tuple else g[0]

    return jacobian(gradient, xs if is_tuple else xs[0], create_graph=create_graph)


def hvp(func, inputs, v, create_graph=False, strict=False):
    """``(func(inputs), H v)`` for a scalar ``func``."""
    from . import grad
    xs, is_tuple, enable_grad = _prepare(inputs, True)
    vs = _tuple(v)[0]
    with enable_grad():
        out = func(*xs)
        g = grad(out, xs, create_graph=True, allow_unused=True)
        dot = sum(((gi * vi).sum() for gi, vi in zip(g, vs) if gi is not None), out * 0)
        h = _grads(dot, xs, None, create_graph)
    out = out if create_graph else out.detach()
    return out, (h if is_tuple else h[0])


def vhp(func, inputs, v, create_graph=False, strict=False):
    """``(func(inputs), v^T H)`` (equal to ``hvp`` for the symmetric Hessian of a smooth function)."""
    return hvp(func, inputs, v, create_graph, strict)
