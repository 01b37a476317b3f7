"""Differential test against PyTorch: seeded random compositions of ops, forward values and
gradients compared in float64 (rtol 1e-5). Each case builds the same program for both libraries.

The extended programs (``ExtendedProgram``) also draw what hides silent wrong answers: index
arguments with negative and out-of-range values (torch's error class expected), 0-d operands,
float16/bfloat16, inf/nan inputs and optimizer steps. CI runs 25; a long run:
``TENSORPLUG_DIFFERENTIAL_CASES=1000 python -m pytest -q tests/framework/test_differential.py -k extended``."""
from __future__ import annotations

import os
import random

import numpy as np
import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")

N_CASES = 400
N_EXTENDED = int(os.environ.get("TENSORPLUG_DIFFERENTIAL_CASES", "25"))
RTOL = 1e-5
ATOL = 1e-8


class Program:
    """A random op chain; ``run(module)`` executes it with that module's tensors."""

    def __init__(self, seed):
        self.rnd = random.Random(seed)
        self.np = np.random.default_rng(seed)
        self.leaves = []  # numpy arrays; each becomes a leaf requiring grad
        self.steps = []
        ndim = self.rnd.randint(1, 3)
        self.shape = tuple(self.rnd.randint(1, 4) for _ in range(ndim))
        self.x0 = self._leaf(self.shape)
        for _ in range(self.rnd.randint(2, 6)):
            self._add_step()
        self.weight = self.np.standard_normal(self.shape)

    def _leaf(self, shape):
        self.leaves.append(self.np.standard_normal(shape))
        return len(self.leaves) - 1

    def _dim(self):
        return self.rnd.randrange(-len(self.shape), len(self.shape)) if self.shape else None

    def _add_step(self):
        r = self.rnd
        shape = self.shape
        nd = len(shape)
        kinds = ["unary"] * 6 + ["binary"] * 4 + ["inplace"] * 2
        if nd >= 1:
            kinds += ["reduce"] * 2 + ["shape"] * 3 + ["index"] * 2 + ["softmax"]
        if nd >= 1 and shape[-1] >= 1:
            kinds += ["matmul"]
        kind = r.choice(kinds)
        if kind == "unary":
            name = r.choice(["tanh", "sigmoid", "sin", "cos", "exp_tanh", "log_sq", "sqrt_sq", "abs", "relu",
                             "erf", "clamp", "square", "expm1", "log1p_abs", "rsqrt_sq", "recip_sq", "neg",
                             "pow_int", "cumsum", "flip", "sinh", "atan", "log2_sq", "sort", "lerp_self",
                             "logaddexp_neg", "tril", "sub_scalar_r"])
            dim = self._dim()
            if name in ("cumsum", "flip", "sort") and dim is None:
                name = "tanh"
            if name == "tril" and nd < 2:
                name = "atan"
            self.steps.append(("unary", name, dim))
        elif kind == "binary":
            other_shape = shape if r.random() < 0.6 else tuple(1 if r.random() < 0.5 else s for s in shape)
            if nd and r.random() < 0.2:
                other_shape = shape[1:]
            leaf = self._leaf(other_shape)
            name = r.choice(["add", "sub", "mul", "div", "maximum", "minimum", "where", "pow", "lerp_like",
                             "addcmul", "atan2"])
            self.steps.append(("binary", name, leaf))
        elif kind == "inplace":
            leaf = self._leaf(shape)
            name = r.choice(["add_", "mul_", "tanh_", "setitem", "clamp_", "masked_fill_"])
            if name == "setitem" and not nd:
                name = "add_"
            self.steps.append(("inplace", name, leaf))
        elif kind == "reduce":
            dim = self._dim()
            keep = r.random() < 0.5
            name = r.choice(["sum", "mean", "amax", "logsumexp", "var", "std", "prod", "norm", "max_values",
                             "min_values"])
            if name in ("var", "std") and shape[dim] < 2:
                name = "sum"
            self.steps.append(("reduce", name, (dim, keep)))
            d = dim % nd
            self.shape = tuple((1 if keep else None) if i == d else s for i, s in enumerate(shape))
            self.shape = tuple(s for s in self.shape if s is not None)
        elif kind == "softmax":
            self.steps.append(("softmax", r.choice(["softmax", "log_softmax"]), self._dim()))
        elif kind == "matmul":
            k = r.randint(1, 3)
            leaf = self._leaf((shape[-1], k))
            self.steps.append(("matmul", None, leaf))
            self.shape = shape[:-1] + (k,)
        elif kind == "shape":
            name = r.choice(["flatten", "unsqueeze", "transpose", "cat", "stack", "repeat", "expand", "split"])
            if name == "flatten":
                self.steps.append(("shape", name, None))
                n = 1
                for s in shape:
                    n *= s
                self.shape = (n,)
            elif name == "unsqueeze":
                d = r.randint(0, nd)
                self.steps.append(("shape", name, d))
                self.shape = shape[:d] + (1,) + shape[d:]
            elif name == "transpose":
                a, b = r.randrange(nd), r.randrange(nd)
                self.steps.append(("shape", name, (a, b)))
                s = list(shape)
                s[a], s[b] = s[b], s[a]
                self.shape = tuple(s)
            elif name == "cat":
                d = r.randrange(nd)
                extra = r.randint(1, 2)
                leaf = self._leaf(shape[:d] + (extra,) + shape[d + 1:])
                self.steps.append(("shape", name, (d, leaf)))
                self.shape = shape[:d] + (shape[d] + extra,) + shape[d + 1:]
            elif name == "stack":
                d = r.randint(0, nd)
                leaf = self._leaf(shape)
                self.steps.append(("shape", name, (d, leaf)))
                self.shape = shape[:d] + (2,) + shape[d:]
            elif name == "repeat":
                reps = tuple(r.randint(1, 2) for _ in range(nd))
                self.steps.append(("shape", name, reps))
                self.shape = tuple(a * b for a, b in zip(shape, reps))
            elif name == "expand":
                self.steps.append(("shape", name, 2))
                self.shape = (2,) + shape
            else:
                d = r.randrange(nd)
                if shape[d] < 2:
                    self.steps.append(("shape", "flatten", None))
                    n = 1
                    for s in shape:
                        n *= s
                    self.shape = (n,)
                else:
                    self.steps.append(("shape", name, d))
                    self.shape = shape[:d] + (shape[d] - 1,) + shape[d + 1:]
        elif kind == "index":
            d = r.randrange(nd)
            name = r.choice(["gather", "index_select", "slice", "int_index", "bool_mask"])
            if name == "gather":
                idx = self.np.integers(0, shape[d], shape)
                self.steps.append(("index", name, (d, idx)))
            elif name == "index_select":
                idx = self.np.integers(0, shape[d], r.randint(1, 4))
                self.steps.append(("index", name, (d, idx)))
                self.shape = shape[:d] + (len(idx),) + shape[d + 1:]
            elif name == "slice":
                start = r.randrange(shape[d])
                key = (slice(None),) * d + (slice(start, None, r.randint(1, 2)),)
                n = len(range(start, shape[d], key[-1].step))
                self.steps.append(("index", name, key))
                self.shape = shape[:d] + (n,) + shape[d + 1:]
            elif name == "int_index":
                i = r.randrange(-shape[d], shape[d])
                self.steps.append(("index", name, (slice(None),) * d + (i,)))
                self.shape = shape[:d] + shape[d + 1:]
            else:
                self.steps.append(("index", "bool_mask", None))
                self.shape = shape  # masked_fill-like via where keeps the shape

    def run(self, m):
        dt = m.float64
        leaves = [m.tensor(a, dtype=dt, requires_grad=True) for a in self.leaves]
        x = leaves[self.x0]
        for kind, name, arg in self.steps:
            x = _apply(m, x, kind, name, arg, leaves)
        out = x
        loss = (out * m.tensor(self.weight, dtype=dt)).sum()
        loss.backward()
        return out, leaves


def _apply(m, x, kind, name, arg, leaves):
    if kind == "unary":
        fns = {
            "tanh": lambda: x.tanh(), "sigmoid": lambda: m.sigmoid(x), "sin": lambda: x.sin(),
            "cos": lambda: m.cos(x), "exp_tanh": lambda: x.tanh().exp(), "log_sq": lambda: (x * x + 1).log(),
            "sqrt_sq": lambda: (x * x + 0.5).sqrt(), "abs": lambda: x.abs(), "relu": lambda: m.relu(x),
            "erf": lambda: m.erf(x), "clamp": lambda: x.clamp(-0.7, 0.8), "square": lambda: x.square(),
            "expm1": lambda: x.tanh().expm1(), "log1p_abs": lambda: m.log1p(x.abs()),
            "rsqrt_sq": lambda: (x * x + 1).rsqrt(), "recip_sq": lambda: (x * x + 1).reciprocal(),
            "neg": lambda: -x, "pow_int": lambda: x ** 2, "cumsum": lambda: x.cumsum(arg),
            "flip": lambda: x.flip(arg), "sinh": lambda: m.sinh(x.tanh()), "atan": lambda: x.atan(),
            "log2_sq": lambda: m.log2(x * x + 1), "sort": lambda: x.sort(arg).values,
            "lerp_self": lambda: m.lerp(x, x.tanh(), 0.3), "logaddexp_neg": lambda: m.logaddexp(x, -x),
            "tril": lambda: m.tril(x, 0), "sub_scalar_r": lambda: 1.5 - x,
        }
        return fns[name]()
    if kind == "binary":
        y = leaves[arg]
        fns = {
            "add": lambda: x + y, "sub": lambda: x - 2 * y, "mul": lambda: x * y, "div": lambda: x / (y * y + 1),
            "maximum": lambda: m.maximum(x, y), "minimum": lambda: m.minimum(x, y),
            "where": lambda: m.where(x > y, x, y * 3), "pow": lambda: (x * x + 1) ** y.tanh(),
            "lerp_like": lambda: x + 0.3 * (y - x), "addcmul": lambda: m.addcmul(x, y, x, value=0.5),
            "atan2": lambda: m.atan2(x, y * y + 1),
        }
        return fns[name]()
    if kind == "inplace":
        y = leaves[arg]
        z = x * 1  # a non-leaf we may write into
        if name == "add_":
            return z.add_(y, alpha=0.5)
        if name == "mul_":
            return z.mul_(y)
        if name == "tanh_":
            return z.tanh_()
        if name == "clamp_":
            return z.clamp_(min=-0.5)
        if name == "masked_fill_":
            return z.masked_fill_(y.detach() > 0.5, 0.25)
        z[0] = y[0] * 2
        return z
    if kind == "reduce":
        dim, keep = arg
        if name == "max_values":
            return x.max(dim, keepdim=keep).values
        if name == "min_values":
            return m.min(x, dim, keep)[0]
        if name == "norm":
            return x.norm(dim=dim, keepdim=keep)
        if name == "prod":
            return x.prod(dim, keepdim=keep)
        return getattr(x, name)(dim, keepdim=keep)
    if kind == "softmax":
        return getattr(m, name)(x, arg) if name == "softmax" else getattr(x, name)(arg)
    if kind == "matmul":
        return x @ leaves[arg]
    if kind == "shape":
        if name == "flatten":
            return x.flatten()
        if name == "unsqueeze":
            return x.unsqueeze(arg)
        if name == "transpose":
            return x.transpose(*arg)
        if name == "cat":
            return m.cat([x, leaves[arg[1]]], arg[0])
        if name == "stack":
            return m.stack([x, leaves[arg[1]] * 1], arg[0])
        if name == "repeat":
            return x.repeat(*arg)
        if name == "expand":
            return x.expand(arg, *x.shape)
        if name == "split":
            return x.split([1, x.shape[arg] - 1], arg)[1]
    if kind == "index":
        if name == "gather":
            return x.gather(arg[0], m.tensor(arg[1]))
        if name == "index_select":
            return m.index_select(x, arg[0], m.tensor(arg[1]))
        if name in ("slice", "int_index"):
            return x[arg]
        return x.masked_fill(x.detach() < -1, -1.0)
    raise AssertionError((kind, name))


@pytest.mark.parametrize("seed", range(N_CASES))
def test_random_composition_matches_torch(seed):
    program = Program(seed)
    out_tp, leaves_tp = program.run(tp)
    out_t, leaves_t = program.run(torch)
    assert tuple(out_tp.shape) == tuple(out_t.shape)
    np.testing.assert_allclose(out_tp.detach().numpy(), out_t.detach().numpy(), rtol=RTOL, atol=ATOL)
    for i, (a, b) in enumerate(zip(leaves_tp, leaves_t)):
        if b.grad is None:
            assert a.grad is None or not a.grad.numpy().any(), f"leaf {i}: torch has no grad"
            continue
        assert a.grad is not None, f"leaf {i} got no gradient"
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=RTOL, atol=ATOL,
                                   err_msg=f"gradient of leaf {i}; steps {program.steps}")


# extended programs ------------------------------------------------------------------------------

DTYPES = ["float64", "float32", "float16"] + (["bfloat16"] if hasattr(tp, "bfloat16") else [])
# per dtype: tolerance relative to the largest magnitude torch produced (a chain of rounded ops)
TOL = {"float64": 1e-5, "float32": 1e-4, "float16": 2e-2, "bfloat16": 1e-1}
SPECIALS = (np.inf, -np.inf, np.nan)
# index ops: those that read a negative index from the end (as torch does) and those that refuse it
FROM_THE_END = ("getitem_tensor", "setitem_tensor", "index_fill", "take_along_dim", "int_index", "select",
                "index_put", "take")
NO_NEGATIVES = ("gather", "index_select", "index_add", "scatter_add", "scatter_value", "embedding", "index_copy",
                "scatter_reduce")


class ExtendedProgram(Program):
    """A Program whose inputs and arguments go where the first one never did (see the module doc)."""

    def __init__(self, seed):
        self.rnd = random.Random(seed)
        self.np = np.random.default_rng(seed)
        r = self.rnd
        self.dtype = r.choice(DTYPES)
        self.specials = r.random() < 0.3
        self.leaves = []
        self.steps = []
        self.past_the_end = False
        ndim = r.choice([0, 0, 1, 2, 2, 3])
        self.shape = tuple(r.randint(1, 4) for _ in range(ndim))
        self.x0 = self._leaf(self.shape)
        for _ in range(r.randint(1, 5)):
            self._add_step()
        self.weight = self.np.standard_normal(self.shape)
        self.optimizer = r.choice([None, None, "SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])

    def _leaf(self, shape):
        a = self.np.standard_normal(shape)
        if self.specials:
            a = np.where(self.np.random(shape) < 0.2, self.np.choice(SPECIALS, shape), a)
        self.leaves.append(a)
        return len(self.leaves) - 1

    def _add_step(self):
        r = self.rnd
        if r.random() < 0.15:
            leaf = self._leaf(())
            self.steps.append(("binary", r.choice(["add", "mul", "div", "maximum", "where", "atan2"]), leaf))
        elif self.shape and r.random() < 0.35:
            self._add_index_step()
        else:
            super()._add_step()

    def _bad(self, size, negative_ok):
        """An index for a dim of ``size``: mostly valid, sometimes just past an end."""
        r = self.rnd
        choice = r.random()
        if choice < 0.5:
            return r.randrange(-size, size) if negative_ok else r.randrange(size)
        return r.choice([-1, -size, size, -size - 1, size + r.randint(1, 5), -size - r.randint(2, 5)])

    def _index(self, shape, size, negative_ok):
        idx = self.np.integers(0, size, shape)
        if idx.size and self.rnd.random() < 0.6:
            idx.flat[self.rnd.randrange(idx.size)] = self._bad(size, negative_ok)
        return idx

    def _add_index_step(self):
        r = self.rnd
        shape = self.shape
        d = r.randrange(len(shape))
        size = shape[d]
        names = list(FROM_THE_END + NO_NEGATIVES)
        if len(shape) != 2:
            names.remove("embedding")
        name = r.choice(names)
        negative_ok = name in FROM_THE_END
        k = r.randint(1, 3)
        if name in ("int_index", "select"):
            arg = self._bad(size, True)
            self.shape = shape[:d] + shape[d + 1:]
        elif name == "take":
            numel = int(np.prod(shape))
            arg = self._index((k,), numel, negative_ok)
            self.shape = (k,)
        elif name in ("gather", "scatter_add", "scatter_value"):
            arg = self._index(shape, size, negative_ok)
        elif name == "scatter_reduce":
            arg = (self._index(shape, size, negative_ok), r.choice(["sum", "prod", "mean", "amax", "amin"]),
                   r.random() < 0.5)
        elif name == "take_along_dim":
            arg = self._index(shape[:d] + (k,) + shape[d + 1:], size, negative_ok)
            self.shape = shape[:d] + (k,) + shape[d + 1:]
            # torch wraps these modulo the size, we raise: a deliberate difference (docs/differences.md)
            self.past_the_end |= bool(((arg < -size) | (arg >= size)).any())
        elif name == "embedding":
            arg = self._index((k,), shape[0], negative_ok)
            self.shape = (k, shape[1])
        elif name == "index_add":
            arg = self._index((size,), size, negative_ok)
        elif name == "index_copy":
            # a permutation: with a repeated index, which source row lands is unspecified in torch
            arg = self.np.permutation(size)
            if r.random() < 0.6:
                arg[r.randrange(size)] = self._bad(size, negative_ok)
        else:
            arg = self._index((k,), size, negative_ok)
            if name == "index_select" or name == "getitem_tensor":
                self.shape = shape[:d] + (k,) + shape[d + 1:]
        leaf = self._leaf(shape) if name in ("index_add", "scatter_add", "index_copy", "scatter_reduce") else \
            self._leaf(())
        self.steps.append(("bad_index", name, (d, arg, leaf)))

    def run(self, m):
        dt = getattr(m, self.dtype)
        leaves = [m.tensor(a, dtype=dt, requires_grad=True) for a in self.leaves]
        if self.optimizer is None:
            return self._forward_backward(m, leaves, dt)
        opt = getattr(m.optim, self.optimizer)(leaves, lr=0.1, **OPTIMIZER_OPTIONS[self.optimizer])
        for _ in range(3):
            opt.zero_grad()
            out, _ = self._forward_backward(m, leaves, dt)
            opt.step()
        return out, leaves

    def _forward_backward(self, m, leaves, dt):
        x = leaves[self.x0]
        for kind, name, arg in self.steps:
            x = _apply_extended(m, x, kind, name, arg, leaves)
        loss = (x * m.tensor(self.weight, dtype=dt)).sum()
        loss.backward()
        return x, leaves


# a large eps: adaptive steps scale a gradient of 1e-9 (round-off where torch has 0) up to a full lr step
OPTIMIZER_OPTIONS = {"SGD": {"momentum": 0.9, "weight_decay": 0.01}, "Adam": {"eps": 1e-2},
                     "AdamW": {"weight_decay": 0.1, "eps": 1e-2}, "RMSprop": {"momentum": 0.5, "eps": 1e-2},
                     "Adagrad": {"eps": 1e-2}}


def _apply_extended(m, x, kind, name, arg, leaves):
    if kind != "bad_index":
        return _apply(m, x, kind, name, arg, leaves)
    d, idx, leaf = arg
    other = leaves[leaf]
    if name == "scatter_reduce":
        idx, reduce, include_self = idx
        return x.scatter_reduce(d, m.tensor(idx), other, reduce, include_self=include_self)
    index = m.tensor(idx)
    before = (slice(None),) * d
    if name == "int_index":
        return x[before + (idx,)]
    if name == "select":
        return x.select(d, idx)
    if name == "take":
        return m.take(x, index)
    if name == "index_put":
        zeros = tuple(m.tensor(np.zeros_like(idx)) for _ in range(d))
        return x.index_put(zeros + (index,), other, accumulate=True)
    if name == "getitem_tensor":
        return x[before + (index,)]
    if name == "setitem_tensor":
        z = x * 1
        z[before + (index,)] = other
        return z
    if name == "index_fill":
        return x.index_fill(d, index, 0.5)
    if name == "take_along_dim":
        return m.take_along_dim(x, index, d)
    if name in ("gather", "index_select"):  # the methods of torch's (dim, index) signature
        return getattr(x, name)(d, index)
    if name in ("index_copy", "index_add", "scatter_add"):  # (dim, index, source)
        return getattr(x, name)(d, index, other)
    if name == "scatter_value":
        return x.scatter(d, index, 0.5)
    return m.nn.functional.embedding(index, x)


def _outcome(program, m):
    try:
        return program.run(m)
    except (RuntimeError, IndexError, ValueError, TypeError) as exc:
        return exc


def _numpy(t):
    return t.detach().double().numpy()


def _assert_close(got, expected, tol, what):
    got, expected = _numpy(got), _numpy(expected)
    assert got.shape == expected.shape, f"{what}: shape {got.shape}, torch {expected.shape}"
    finite = np.isfinite(expected)
    scale = max(1.0, float(np.abs(expected[finite]).max())) if finite.any() else 1.0
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * scale, equal_nan=True, err_msg=what)


def check_extended(seed):
    program = ExtendedProgram(seed)
    expected = _outcome(program, torch)
    got = _outcome(program, tp)
    what = f"seed {seed}: {program.dtype}, steps {program.steps}, optimizer {program.optimizer}"
    if program.past_the_end and "take_along_dim reads" in str(got):
        return  # raised at take_along_dim, where torch wrapped the index (and may have failed later)
    if isinstance(expected, Exception):
        if "not implemented for" in str(expected):
            pytest.skip(f"torch lacks this op for {program.dtype}: {expected}")
        assert isinstance(got, Exception), f"{what}: torch raised {expected!r}, tensorplug returned a value"
        assert isinstance(got, type(expected)), f"{what}: {type(got).__name__}: {got}; torch: {expected!r}"
        return
    if isinstance(got, Exception):
        raise AssertionError(f"{what}: tensorplug raised {got!r}, torch returned a value") from got
    (out_tp, leaves_tp), (out_t, leaves_t) = got, expected
    assert out_tp.dtype.name == str(out_t.dtype).split(".")[-1], what
    tol = TOL[program.dtype]
    _assert_close(out_tp, out_t, tol, f"{what}: output")
    for i, (a, b) in enumerate(zip(leaves_tp, leaves_t)):
        if program.optimizer:
            _assert_close(a, b, tol, f"{what}: leaf {i} after the optimizer steps")
        elif b.grad is None:
            assert a.grad is None or not a.grad.double().numpy().any(), f"{what}: leaf {i}: torch has no grad"
        else:
            assert a.grad is not None, f"{what}: leaf {i} got no gradient"
            _assert_close(a.grad, b.grad, tol, f"{what}: gradient of leaf {i}")


# seeds whose mismatch is a known bug outside this test's reach, reported to its owner (remove on the fix)
KNOWN_SEEDS = {}


@pytest.mark.parametrize("seed", range(N_EXTENDED))
def test_extended_composition_matches_torch(seed):
    try:
        check_extended(seed)
    except AssertionError:
        if seed in KNOWN_SEEDS:
            pytest.xfail(KNOWN_SEEDS[seed])
        raise
