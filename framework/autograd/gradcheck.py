"""gradcheck / gradgradcheck: analytical gradients against float64 central differences."""
from __future__ import annotations

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Analytical and numerical gradients disagree."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _outputs(func, inputs):
    from ..tensor import Tensor
    return tuple(o for o in _as_tuple(func(*inputs)) if isinstance(o, Tensor))


def _numerical(func, inputs, i, eps):
    """d(outputs)/d(inputs[i]) by central differences, as rows per input element."""
    from .grad_mode import no_grad
    x = inputs[i]
    flat = x.detach().reshape(-1)
    rows = []

    def write(j, value):
        with no_grad():
            flat[j] = value

    # func runs with grad enabled: gradgradcheck's func itself calls autograd.grad
    for j in range(flat.numel()):
        orig = flat[j].item()
        write(j, orig + eps)
        plus = [o.detach().double().reshape(-1).tolist() for o in _outputs(func, inputs)]
        write(j, orig - eps)
        minus = [o.detach().double().reshape(-1).tolist() for o in _outputs(func, inputs)]
        write(j, orig)
        rows.append([[(p - m) / (2 * eps) for p, m in zip(po, mo)] for po, mo in zip(plus, minus)])
    return rows  # rows[j][k][l]: d out_k[l] / d x[j]


def _analytical(func, inputs, i):
    from . import grad
    outs = _outputs(func, inputs)
    x = inputs[i]
    n = x.numel()
    cols = []
    for k, out in enumerate(outs):
        col = []
        for l in range(out.numel()):
            g = out.detach().reshape(-1) * 0
            g[l] = 1
            if not out.requires_grad:
                col.append([0.0] * n)
                continue
            (gx,) = grad(out, x, g.reshape(out.shape), retain_graph=True, allow_unused=True)
            col.append([0.0] * n if gx is None else gx.double().reshape(-1).tolist())
        cols.append(col)
    return cols  # cols[k][l][j]


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **_ignored):
    """True when ``func``'s gradients match finite differences for every input that requires grad.

    Use float64 inputs; the check perturbs each element by ``eps``.
    """
    from ..tensor import Tensor
    inputs = _as_tuple(inputs)
    for i, x in enumerate(inputs):
        if not (isinstance(x, Tensor) and x.requires_grad):
            continue
        if x.dtype.name != "float64":
            import warnings
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating point; "
                          f"gradcheck may fail for precision reasons", UserWarning, stacklevel=2)
        num = _numerical(func, inputs, i, eps)
        ana = _analytical(func, inputs, i)
        for j, row in enumerate(num):
            for k, per_out in enumerate(row):
                for l, n_val in enumerate(per_out):
                    a_val = ana[k][l][j]
                    if abs(a_val - n_val) > atol + rtol * abs(n_val):
                        msg = (f"Jacobian mismatch for output {k} with respect to input {i}: element "
                               f"d out[{l}] / d in[{j}] numerical {n_val!r} vs analytical {a_val!r}")
                        if raise_exception:
                            raise GradcheckError(msg)
                        return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
                  **_ignored):
    """gradcheck of the first derivative (checks ``create_graph=True`` backward formulas)."""
    from . import grad
    from ..tensor import Tensor
    inputs = _as_tuple(inputs)
    outs = _outputs(func, inputs)
    if grad_outputs is None:
        from ..creation import randn
        grad_outputs = tuple(randn(*o.shape, dtype=o.dtype).requires_grad_() for o in outs)
    grad_outputs = _as_tuple(grad_outputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    n = len(inputs)

    def first_derivative(*args):
        xs, gs = args[:n], args[n:]
        ys = _outputs(func, xs)
        wrt = [xs[i] for i in diff]
        found = grad(ys, wrt, gs, create_graph=True, allow_unused=True)
        return tuple(f for f in found if f is not None)

    return gradcheck(first_derivative, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
