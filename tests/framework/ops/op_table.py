"""The op table: one declaration per op drives the generic tests in test_op_table.py.

Each ``OpInfo`` names a public function (``tensorplug.<name>``), the extra
arguments it takes after its tensor inputs, a NumPy reference, the input
shapes and value domain, and which checks apply: Tensor method, in-place
variant, gradgradcheck, 0-d and empty inputs.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

_erf = np.vectorize(math.erf, otypes=[float])


@dataclass(eq=False)  # compared by identity: ops are pytest parameters and dict values
class OpInfo:
    name: str
    ref: Callable
    shapes: tuple = ((2, 3),)
    args: tuple = ()
    kwargs: dict | None = None
    domain: str = "real"
    method: bool = True
    inplace: bool = False
    grad: bool = True
    gradgrad: bool = True
    zero_dim: bool = True
    empty: bool = True
    func: Callable | None = None
    id: str | None = None
    promote: bool = False  # binary elementwise op: result dtype follows torch's promotion
    ints: bool = False  # accepts integer inputs

    def __post_init__(self):
        self.kwargs = self.kwargs or {}
        self.id = self.id or self.name

    def __repr__(self):
        return self.id

    def arrays(self, rng, shapes=None):
        out = []
        for shape in shapes or self.shapes:
            if self.domain == "pos":
                a = rng.uniform(0.5, 2.0, shape)
            elif self.domain == "unit":
                a = rng.uniform(-0.9, 0.9, shape)
            elif self.domain == "distinct":
                # no ties and well apart: max/min/sort-like ops are differentiable there
                n = int(np.prod(shape))
                a = (rng.permutation(n).reshape(shape) + rng.uniform(0.1, 0.4, shape)) * 0.5
            elif self.domain == "away":
                # away from the kinks of abs/clamp/floor
                a = rng.uniform(0.2, 0.8, shape) * rng.choice([-1.0, 1.0], shape) + rng.integers(-2, 3, shape)
            else:
                a = rng.standard_normal(shape)
            out.append(np.asarray(a, dtype=np.float64))
        return out


def _i(*values):
    """A constant int64 index tensor, made when the op runs (so the default backend is used)."""
    return _Index(np.array(values, dtype=np.int64))


class _Index:
    def __init__(self, array):
        self.array = array


def resolve(args, module):
    """Replace ``_Index`` placeholders by tensors of ``module`` (tensorplug or torch)."""
    out = []
    for a in args:
        if isinstance(a, _Index):
            out.append(module.tensor(a.array))
        else:
            out.append(a)
    return tuple(out)



def run_with_backward(op, module, arrays, dtype, weights=None):
    """``(output, inputs)`` of ``op`` on ``arrays`` as ``module`` tensors of ``dtype`` (module: tensorplug or
    torch), warnings silenced. Where ``op.grad``, backward has run from ``output.sum()`` or, given
    ``weights(module, output)``, from ``(output * weights).sum()``. What the call raises propagates."""
    dt = getattr(module, dtype)
    xs = [module.tensor(a, dtype=dt, requires_grad=op.grad) for a in arrays]
    fn = op.func(module) if op.func else getattr(module, op.name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(*xs, *resolve(op.args, module), **op.kwargs)
        if op.grad and out.requires_grad:
            (out if weights is None else out * weights(module, out)).sum().backward()
    return out, xs

def _softmax(a, axis):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _gather(a, axis, idx):
    return np.take_along_axis(a[tuple(slice(0, s) if d != axis else slice(None)
                                      for d, s in enumerate(idx.shape))], idx, axis)


def _scatter_add(a, axis, idx, src):
    out = a.copy()
    grids = list(np.indices(idx.shape, sparse=True))
    grids[axis] = idx
    np.add.at(out, tuple(grids), src[tuple(slice(0, s) for s in idx.shape)])
    return out


def _scatter(a, axis, idx, src):
    out = a.copy()
    grids = list(np.indices(idx.shape, sparse=True))
    grids[axis] = idx
    out[tuple(grids)] = src[tuple(slice(0, s) for s in idx.shape)]
    return out


GATHER_IDX = np.array([[0, 1, 0], [1, 1, 0]])
SCATTER_IDX = np.array([[0, 1, 2], [2, 0, 1]])  # a permutation per column: scatter is well defined
CLAMP_LO, CLAMP_HI = -0.5, 0.6

OPS = [
    # unary elementwise
    OpInfo("abs", np.abs, domain="away", inplace=True, ints=True),
    OpInfo("neg", np.negative, inplace=True, ints=True),
    OpInfo("exp", np.exp, inplace=True),
    OpInfo("log", np.log, domain="pos", inplace=True),
    OpInfo("log1p", np.log1p, domain="pos", inplace=True),
    OpInfo("expm1", np.expm1, inplace=True),
    OpInfo("sqrt", np.sqrt, domain="pos", inplace=True),
    OpInfo("rsqrt", lambda a: 1 / np.sqrt(a), domain="pos", inplace=True),
    OpInfo("sin", np.sin, inplace=True),
    OpInfo("cos", np.cos, inplace=True),
    OpInfo("tan", np.tan, domain="unit", inplace=True),
    OpInfo("tanh", np.tanh, inplace=True),
    OpInfo("sigmoid", lambda a: 1 / (1 + np.exp(-a)), inplace=True),
    OpInfo("relu", lambda a: np.maximum(a, 0), domain="away", inplace=True),
    OpInfo("sign", np.sign, domain="away", inplace=True, gradgrad=False),
    OpInfo("floor", np.floor, domain="away", inplace=True, gradgrad=False),
    OpInfo("ceil", np.ceil, domain="away", inplace=True, gradgrad=False),
    OpInfo("round", np.round, domain="away", inplace=True, gradgrad=False),
    OpInfo("trunc", np.trunc, domain="away", inplace=True, gradgrad=False),
    OpInfo("reciprocal", np.reciprocal, domain="pos", inplace=True),
    OpInfo("square", np.square, inplace=True),
    OpInfo("erf", _erf, inplace=True),
    OpInfo("clamp", lambda a: np.clip(a, CLAMP_LO, CLAMP_HI), args=(CLAMP_LO, CLAMP_HI), domain="away",
           inplace=True),
    OpInfo("clip", lambda a: np.maximum(a, 0.1), kwargs={"min": 0.1}, domain="away", inplace=True, id="clip_min"),
    OpInfo("pow", lambda a: a ** 3, args=(3,), inplace=True, id="pow_scalar"),
    # binary elementwise (broadcasting second operand)
    OpInfo("add", np.add, shapes=((2, 3), (3,)), inplace=True, promote=True, ints=True),
    OpInfo("sub", np.subtract, shapes=((2, 3), (2, 1)), inplace=True, promote=True, ints=True, empty=False),
    OpInfo("mul", np.multiply, shapes=((2, 3), (2, 3)), inplace=True, promote=True, ints=True),
    OpInfo("div", np.divide, shapes=((2, 3), (3,)), domain="pos", inplace=True, promote=True),
    OpInfo("pow", np.power, shapes=((2, 3), (2, 3)), domain="pos", id="pow_tensor", inplace=True),
    OpInfo("maximum", np.maximum, shapes=((2, 3), (2, 3)), domain="distinct", promote=True, ints=True),
    OpInfo("minimum", np.minimum, shapes=((2, 3), (3,)), domain="distinct", promote=True, ints=True),
    OpInfo("where", lambda c, a: np.where(c > 0, c, a), shapes=((2, 3), (2, 3)), method=False,
           func=lambda m: (lambda c, a: m.where(c > 0, c, a)), domain="away"),
    # reductions
    OpInfo("sum", np.sum, ints=True),
    OpInfo("sum", lambda a: a.sum(axis=1, keepdims=True), args=(1, True), id="sum_dim_keepdim", ints=True, zero_dim=False),
    OpInfo("mean", np.mean),
    OpInfo("mean", lambda a: a.mean(axis=(0, 1)), args=((0, 1),), id="mean_dims", zero_dim=False),
    OpInfo("prod", np.prod, domain="pos", empty=False),
    OpInfo("prod", lambda a: a.prod(axis=1), args=(1,), id="prod_dim", zero_dim=False),
    OpInfo("var", lambda a: a.var(ddof=1), zero_dim=False, empty=False),
    OpInfo("var", lambda a: a.var(axis=1), args=(1,), kwargs={"correction": 0}, id="var_dim_corr0",
           zero_dim=False),
    OpInfo("std", lambda a: a.std(axis=0, ddof=1), args=(0,), id="std_dim", zero_dim=False, empty=False),
    OpInfo("logsumexp", lambda a: np.log(np.exp(a).sum(axis=1)), args=(1,), zero_dim=False),
    OpInfo("norm", lambda a: np.sqrt((a * a).sum()), empty=False),
    OpInfo("norm", lambda a: np.abs(a).sum(axis=1), args=(1,), kwargs={"dim": 1}, id="norm_p1",
           func=lambda m: (lambda a, p, dim: m.norm(a, p, dim=dim)), zero_dim=False, domain="away"),
    OpInfo("norm", lambda a: (np.abs(a) ** 3).sum(axis=0) ** (1 / 3), args=(3,), kwargs={"dim": 0},
           id="norm_p3", zero_dim=False, domain="away"),
    OpInfo("cumsum", lambda a: np.cumsum(a, axis=1), args=(1,), zero_dim=False, inplace=False, ints=True),
    OpInfo("cumprod", lambda a: np.cumprod(a, axis=1), args=(1,), zero_dim=False, inplace=False, ints=True),
    OpInfo("amax", lambda a: a.max(axis=1), args=(1,), domain="distinct", zero_dim=False, empty=False),
    OpInfo("max", np.max, domain="distinct", empty=False, id="max_all"),
    OpInfo("min", np.min, domain="distinct", empty=False, id="min_all"),
    OpInfo("max", lambda a: a.max(axis=1), args=(1,), func=lambda m: (lambda a, d: m.max(a, d).values),
           method=False, domain="distinct", zero_dim=False, empty=False, id="max_dim"),
    OpInfo("min", lambda a: a.min(axis=0, keepdims=True), args=(0, True),
           func=lambda m: (lambda a, d, k: m.min(a, d, k)[0]), method=False, domain="distinct",
           zero_dim=False, empty=False, id="min_dim_keepdim"),
    # softmax family
    OpInfo("softmax", lambda a: _softmax(a, 1), args=(1,), zero_dim=False),
    OpInfo("log_softmax", lambda a: np.log(_softmax(a, 0)), args=(0,), zero_dim=False, empty=False),
    # shape
    OpInfo("reshape", lambda a: a.reshape(3, 2), args=((3, 2),), zero_dim=False, empty=False),
    OpInfo("flatten", lambda a: a.reshape(-1), zero_dim=False),
    OpInfo("permute", lambda a: a.transpose(1, 0), args=((1, 0),), zero_dim=False),
    OpInfo("transpose", lambda a: a.T, args=(0, 1), zero_dim=False),
    OpInfo("unsqueeze", lambda a: a[:, None], args=(1,), zero_dim=False),
    OpInfo("squeeze", lambda a: a.reshape(2, 3), shapes=((2, 1, 3),), args=(1,), zero_dim=False,
           empty=False),
    OpInfo("flip", lambda a: a[::-1, ::-1], args=((0, 1),), zero_dim=False),
    OpInfo("broadcast_to", lambda a: np.broadcast_to(a, (4, 2, 3)), args=((4, 2, 3),), zero_dim=False,
           empty=False),
    OpInfo("repeat", lambda a: np.tile(a, (2, 1, 2)), args=(2, 1, 2), func=lambda m: (
        lambda a, *r: a.repeat(*r)), zero_dim=False, empty=False),
    OpInfo("cat", lambda a, b: np.concatenate([a, b], 1), shapes=((2, 3), (2, 2)), args=(1,), method=False,
           func=lambda m: (lambda a, b, d: m.cat([a, b], d)), zero_dim=False, empty=False),
    OpInfo("stack", lambda a, b: np.stack([a, b], 1), shapes=((2, 3), (2, 3)), args=(1,), method=False,
           func=lambda m: (lambda a, b, d: m.stack([a, b], d)), zero_dim=False, empty=False),
    OpInfo("split", lambda a: a[:, 2:], args=(2, 1), func=lambda m: (lambda a, s, d: m.split(a, s, d)[1]),
           method=False, zero_dim=False, empty=False),
    OpInfo("chunk", lambda a: a[1:], args=(2,), func=lambda m: (lambda a, c: m.chunk(a, c)[1]),
           method=False, zero_dim=False, empty=False),
    OpInfo("unbind", lambda a: a[:, 1], args=(1,), func=lambda m: (lambda a, d: m.unbind(a, d)[1]),
           method=False, zero_dim=False, empty=False),
    # indexing family
    OpInfo("gather", lambda a: _gather(a, 0, GATHER_IDX), args=(0, _i(*GATHER_IDX.tolist())),
           zero_dim=False, empty=False),
    OpInfo("scatter", lambda a, s: _scatter(a, 0, SCATTER_IDX, s), shapes=((3, 3), (2, 3)),
           args=(), func=lambda m: (lambda a, s: m.scatter(a, 0, m.tensor(SCATTER_IDX[:2]), s)),
           method=False, zero_dim=False, empty=False),
    OpInfo("scatter_add", lambda a, s: _scatter_add(a, 0, GATHER_IDX, s), shapes=((2, 3), (2, 3)),
           func=lambda m: (lambda a, s: m.scatter_add(a, 0, m.tensor(GATHER_IDX), s)), method=False,
           zero_dim=False, empty=False),
    OpInfo("index_select", lambda a: a[:, [2, 0, 2]], args=(1, _i(2, 0, 2)), zero_dim=False, empty=False),
    OpInfo("masked_fill", lambda a: np.where(a > 0, -1.0, a), func=lambda m: (
        lambda a: m.masked_fill(a, a.detach() > 0, -1.0)), method=False, zero_dim=True),
    OpInfo("take_along_dim", lambda a: np.take_along_axis(a, np.array([[2], [0]]), 1),
           args=(_i([2], [0]), 1), zero_dim=False, empty=False),
    OpInfo("getitem", lambda a: a[1, ::2], func=lambda m: (lambda a: a[1, ::2]), method=False,
           zero_dim=False, empty=False),
    OpInfo("getitem", lambda a: a[[0, 1, 1], [2, 0, 2]], func=lambda m: (lambda a: a[[0, 1, 1], [2, 0, 2]]),
           method=False, zero_dim=False, empty=False, id="getitem_advanced"),
    # more math
    OpInfo("sinh", np.sinh, inplace=True),
    OpInfo("cosh", np.cosh, inplace=True),
    OpInfo("asin", np.arcsin, domain="unit", inplace=True),
    OpInfo("acos", np.arccos, domain="unit", inplace=True),
    OpInfo("atan", np.arctan, inplace=True),
    OpInfo("atan2", np.arctan2, shapes=((2, 3), (3,)), domain="pos", inplace=True),
    OpInfo("log2", np.log2, domain="pos", inplace=True),
    OpInfo("log10", np.log10, domain="pos", inplace=True),
    OpInfo("exp2", np.exp2, inplace=True),
    OpInfo("lerp", lambda a, b: a + 0.3 * (b - a), shapes=((2, 3), (2, 3)), args=(0.3,), inplace=True),
    OpInfo("addcmul", lambda a, b, c: a + 0.5 * b * c, shapes=((2, 3), (2, 3), (3,)), kwargs={"value": 0.5},
           inplace=True),
    OpInfo("addcdiv", lambda a, b, c: a - 2 * b / c, shapes=((2, 3), (2, 3), (2, 3)), kwargs={"value": -2},
           domain="pos", inplace=True),
    OpInfo("logaddexp", np.logaddexp, shapes=((2, 3), (2, 3)), domain="distinct"),
    OpInfo("sort", lambda a: np.sort(a, axis=1), args=(1,), func=lambda m: (lambda a, d: m.sort(a, d).values),
           method=False, domain="distinct", zero_dim=False, empty=False),
    OpInfo("sort", lambda a: -np.sort(-a, axis=0), func=lambda m: (lambda a: m.sort(a, 0, descending=True)[0]),
           method=False, domain="distinct", zero_dim=False, empty=False, id="sort_descending"),
    OpInfo("topk", lambda a: -np.sort(-a, axis=1)[:, :2], args=(2,), func=lambda m: (lambda a, k: m.topk(a, k)[0]),
           method=False, domain="distinct", zero_dim=False, empty=False),
    OpInfo("diagonal", lambda a: np.diagonal(a, 1), kwargs={"offset": 1}, zero_dim=False, empty=False),
    OpInfo("diag", lambda a: np.diag(a, -1), shapes=((3,),), args=(-1,), zero_dim=False, empty=False),
    OpInfo("tril", np.tril, zero_dim=False),
    OpInfo("triu", lambda a: np.triu(a, 1), args=(1,), zero_dim=False, inplace=True),
    OpInfo("narrow", lambda a: a[:, 1:3], args=(1, 1, 2), zero_dim=False, empty=False),
    OpInfo("masked_select", lambda a: a[a > 0], func=lambda m: (lambda a: m.masked_select(a, a.detach() > 0)),
           method=False, zero_dim=False, domain="away"),
    # linear algebra
    OpInfo("matmul", np.matmul, shapes=((2, 3), (3, 4)), zero_dim=False),
    OpInfo("matmul", np.matmul, shapes=((2, 2, 3), (3,)), zero_dim=False, id="matmul_batched_vec",
           empty=False),
    OpInfo("mm", np.matmul, shapes=((2, 3), (3, 2)), zero_dim=False),
    OpInfo("bmm", np.matmul, shapes=((2, 2, 3), (2, 3, 2)), zero_dim=False, empty=False),
    OpInfo("mv", np.matmul, shapes=((2, 3), (3,)), zero_dim=False),
    OpInfo("dot", np.dot, shapes=((3,), (3,)), zero_dim=False),
    OpInfo("outer", np.outer, shapes=((3,), (2,)), zero_dim=False),
    OpInfo("addmm", lambda c, a, b: c + a @ b, shapes=((2, 2), (2, 3), (3, 2)), method=False, zero_dim=False,
           empty=False),
    OpInfo("einsum", lambda a, b: np.einsum("ij,kj->ik", a, b), shapes=((2, 3), (4, 3)),
           func=lambda m: (lambda a, b: m.einsum("ij,kj->ik", a, b)), method=False, zero_dim=False),
    OpInfo("einsum", lambda a, b: np.einsum("bij,bj->bi", a, b), shapes=((2, 2, 3), (2, 3)),
           func=lambda m: (lambda a, b: m.einsum("...ij,...j", a, b)), method=False, zero_dim=False,
           id="einsum_ellipsis", empty=False),
    # sparse COO (random normal inputs: every entry is non-zero, so to_sparse keeps the whole pattern)
    OpInfo("sparse_mm", np.matmul, shapes=((2, 3), (3, 2)), func=lambda m: (lambda a, b: m.sparse.mm(
        a.to_sparse(), b)), method=False, zero_dim=False, empty=False),
    OpInfo("sparse_matmul_vec", np.matmul, shapes=((2, 3), (3,)), func=lambda m: (lambda a, b: m.matmul(
        a.to_sparse(), b)), method=False, zero_dim=False, empty=False),
    OpInfo("dense_mm_sparse", np.matmul, shapes=((2, 3), (3, 2)), func=lambda m: (lambda a, b: m.mm(
        a, b.to_sparse())), method=False, zero_dim=False, empty=False),
    OpInfo("sparse_to_dense", lambda a: a, shapes=((2, 3, 2),), func=lambda m: (lambda a: a.to_sparse(
        2).coalesce().to_dense()), method=False, zero_dim=False, empty=False),
    OpInfo("sparse_sum", lambda a: a.sum(axis=(0, 2)), shapes=((2, 3, 2),), func=lambda m: (
        lambda a: m.sparse.sum(a.to_sparse(), (0, 2)).to_dense()), method=False, zero_dim=False, empty=False),
    OpInfo("sparse_softmax", lambda a: _softmax(a, 0), shapes=((3, 2),), func=lambda m: (
        lambda a: m.sparse.softmax(a.to_sparse(), 0).to_dense()), method=False, zero_dim=False, empty=False),
]

BY_ID = {op.id: op for op in OPS}


# nn ops of issue 13 item 9: 3-D pooling, transposed 3-D convolution, fold/unfold, grid sampling, CTC -----------
def _windows(a, size, step):
    """(N, C, *out, *window) sliding windows over the trailing len(size) axes with ``step``."""
    k = len(size)
    view = np.lib.stride_tricks.sliding_window_view(a, size, axis=tuple(range(a.ndim - k, a.ndim)))
    return view[(Ellipsis,) + tuple(slice(None, None, s) for s in step) + (slice(None),) * k]


def _adaptive_avg3d(a, outs):
    out = np.zeros(a.shape[:2] + tuple(outs))
    spans = [[((i * n) // o, -(-((i + 1) * n) // o)) for i in range(o)] for n, o in zip(a.shape[2:], outs)]
    for i, (d0, d1) in enumerate(spans[0]):
        for j, (h0, h1) in enumerate(spans[1]):
            for k, (w0, w1) in enumerate(spans[2]):
                out[:, :, i, j, k] = a[:, :, d0:d1, h0:h1, w0:w1].mean(axis=(2, 3, 4))
    return out


def _conv_transpose3d(x, w, stride):
    n, _, *spatial = x.shape
    kernel = w.shape[2:]
    out = np.zeros((n, w.shape[1]) + tuple((i - 1) * stride + k for i, k in zip(spatial, kernel)))
    for d, h, v in np.ndindex(*spatial):
        block = np.einsum("nc,cokij->nokij", x[:, :, d, h, v], w)
        out[:, :, d * stride:d * stride + kernel[0], h * stride:h * stride + kernel[1],
            v * stride:v * stride + kernel[2]] += block
    return out


def _unfold(a, k):
    cols = _windows(a, (k, k), (1, 1))  # (N, C, oh, ow, k, k)
    n, c, oh, ow = cols.shape[:4]
    return cols.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * k * k, oh * ow)


def _fold(cols, size, k):
    n = cols.shape[0]
    oh, ow = size[0] - k + 1, size[1] - k + 1
    blocks = cols.reshape(n, -1, k, k, oh, ow)
    out = np.zeros((n, blocks.shape[1]) + tuple(size))
    for i, j in np.ndindex(k, k):
        out[:, :, i:i + oh, j:j + ow] += blocks[:, :, i, j]
    return out


def _grid_sample_bilinear(x, grid):
    """align_corners=True, zeros padding."""
    n, c, h, w = x.shape
    out = np.zeros((n, c) + grid.shape[1:3])
    px = (grid[..., 0] + 1) / 2 * (w - 1)
    py = (grid[..., 1] + 1) / 2 * (h - 1)
    for b, i, j in np.ndindex(n, *grid.shape[1:3]):
        x0, y0 = int(np.floor(px[b, i, j])), int(np.floor(py[b, i, j]))
        for dx, dy in np.ndindex(2, 2):
            xx, yy = x0 + dx, y0 + dy
            if 0 <= xx < w and 0 <= yy < h:
                weight = (1 - abs(px[b, i, j] - xx)) * (1 - abs(py[b, i, j] - yy))
                out[b, :, i, j] += weight * x[b, :, yy, xx]
    return out


def _affine_grid(theta, size):
    n, _, h, w = size
    xs = np.linspace(-1, 1, w) * (w - 1) / w
    ys = np.linspace(-1, 1, h) * (h - 1) / h
    base = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None], np.ones((h, w))), -1)
    return np.einsum("hwk,nik->nhwi", base, theta)


_CTC_TARGETS = np.array([[1, 2, 2], [3, 1, 0]])
_CTC_LENGTHS = ([5, 4], [3, 2])


def _ctc_nll(logits, labels, t_len):
    lp = logits[:t_len] - np.log(np.exp(logits[:t_len]).sum(-1, keepdims=True))
    ext = [0]
    for label in labels:
        ext += [label, 0]
    alpha = np.full(len(ext), -np.inf)
    alpha[:2] = lp[0, ext[:2]]
    for t in range(1, t_len):
        prev = alpha.copy()
        for s in range(len(ext)):
            terms = [prev[s]] + ([prev[s - 1]] if s else []) + \
                ([prev[s - 2]] if s > 1 and ext[s] != 0 and ext[s] != ext[s - 2] else [])
            alpha[s] = np.logaddexp.reduce(terms) + lp[t, ext[s]]
    return -np.logaddexp(alpha[-1], alpha[-2])


def _ctc_ref(logits):
    return np.array([_ctc_nll(logits[:, b], _CTC_TARGETS[b, :n], t)
                     for b, (t, n) in enumerate(zip(*_CTC_LENGTHS))])


_NN_OPS = [
    OpInfo("max_pool3d", lambda a: _windows(a, (2, 2, 2), (2, 2, 2)).max(axis=(-3, -2, -1)),
           shapes=((1, 2, 4, 4, 4),), func=lambda m: (lambda a: m.nn.functional.max_pool3d(a, 2)), method=False,
           domain="distinct", zero_dim=False, empty=False),
    OpInfo("avg_pool3d", lambda a: _windows(a, (2, 3, 2), (1, 2, 2)).mean(axis=(-3, -2, -1)),
           shapes=((1, 2, 3, 5, 4),), func=lambda m: (lambda a: m.nn.functional.avg_pool3d(a, (2, 3, 2), (1, 2, 2))),
           method=False, zero_dim=False, empty=False),
    OpInfo("adaptive_avg_pool3d", lambda a: _adaptive_avg3d(a, (2, 3, 2)), shapes=((1, 2, 3, 5, 4),),
           func=lambda m: (lambda a: m.nn.functional.adaptive_avg_pool3d(a, (2, 3, 2))), method=False,
           zero_dim=False, empty=False),
    OpInfo("conv_transpose3d", lambda x, w: _conv_transpose3d(x, w, 2), shapes=((1, 2, 2, 2, 2), (2, 3, 2, 2, 2)),
           func=lambda m: (lambda x, w: m.nn.functional.conv_transpose3d(x, w, stride=2)), method=False,
           zero_dim=False, empty=False),
    OpInfo("unfold", lambda a: _unfold(a, 2), shapes=((1, 2, 3, 4),),
           func=lambda m: (lambda a: m.nn.functional.unfold(a, 2)), method=False, zero_dim=False, empty=False,
           id="nn_unfold"),
    OpInfo("fold", lambda a: _fold(a, (3, 4), 2), shapes=((1, 8, 6),),
           func=lambda m: (lambda a: m.nn.functional.fold(a, (3, 4), 2)), method=False, zero_dim=False,
           empty=False, id="nn_fold"),
    OpInfo("grid_sample", _grid_sample_bilinear, shapes=((1, 2, 3, 4), (1, 2, 3, 2)), domain="unit",
           func=lambda m: (lambda x, g: m.nn.functional.grid_sample(x, g, align_corners=True)), method=False,
           zero_dim=False, empty=False),
    OpInfo("affine_grid", lambda t: _affine_grid(t, (2, 1, 3, 4)), shapes=((2, 2, 3),),
           func=lambda m: (lambda t: m.nn.functional.affine_grid(t, (2, 1, 3, 4), align_corners=False)),
           method=False, zero_dim=False, empty=False),
    # torch's CTC gradient assumes log_softmax inputs: the op is declared through log_softmax
    OpInfo("ctc_loss", _ctc_ref, shapes=((5, 2, 4),), gradgrad=False,
           func=lambda m: (lambda a: m.nn.functional.ctc_loss(a.log_softmax(-1), m.tensor(_CTC_TARGETS),
                                                              *_CTC_LENGTHS, reduction="none")),
           method=False, zero_dim=False, empty=False),
]
OPS += _NN_OPS
BY_ID.update({op.id: op for op in _NN_OPS})


# linalg and torch.func of issue 13 item 9 ---------------------------------------------------------------------
# Inputs are random matrices (invertible with probability 1; the seeds give condition numbers below 100).
# Decompositions whose factors have a sign freedom are declared through sign-free functions of them (U*U,
# eigenvalues) or through a product that undoes the freedom; positive-definite inputs are made as A A^T + D
# inside the op, so that every perturbation gradcheck makes stays valid. Every entry runs on every backend:
# the strict Array API backend has the linalg extension (inv, solve, det, slogdet, cholesky, qr, eigh, svd).
# A A^T + D, D = diag(3, 6, 9, ...) of A A^T's size: distinct steps keep the eigenvalues apart when A A^T is
# rank-deficient (a drawn A of shape (2, 3, 1) or (2, 1, 3)); with 3I a repeated eigenvalue left eigh's
# eigenvectors free, and the libraries pick different ones
def _spd(m, a):
    n = a.shape[-2]
    return a @ a.transpose(-2, -1) + m.diag(3 * m.arange(1, n + 1, dtype=a.dtype))


def _np_spd(a):
    n = a.shape[-2]
    return a @ np.swapaxes(a, -1, -2) + np.diag(3.0 * np.arange(1, n + 1))


def _np_expm(a, terms=40):
    term = total = np.broadcast_to(np.eye(a.shape[-1]), a.shape)
    for k in range(1, terms):
        term = term @ a / k
        total = total + term
    return total


def _np_nuclear(a):
    return np.linalg.svd(a, compute_uv=False).sum(-1)


def _np_cond(a):
    s = np.linalg.svd(a, compute_uv=False)
    return s[..., 0] / s[..., -1]


def _linalg(name, ref, shapes=((2, 3, 3),), call=None, **kw):
    """An entry for ``tensorplug.linalg.<name>`` (or ``call(m)`` of the module): functions, no methods."""
    func = call or (lambda m: getattr(m.linalg, name))
    return OpInfo(name, ref, shapes=shapes, func=func, method=False, zero_dim=False, **kw)


def _finite_input(func):
    """``func`` with inf/nan in its first input zeroed. For SVD and eigh of non-finite input torch's answer is
    MKL's (svdvals of inf: a NaN row, svd of the same: error code 2; eigh: NaN or an error by case), raised as
    torch._C._LinAlgError, which no tensorplug error can be an instance of."""
    return lambda m: (lambda a, *rest: func(m)(m.nan_to_num(a, 0.0, 0.0, 0.0), *rest))


def _reduced_qr(m, a):
    q, r = m.linalg.qr(a)
    return m.cat([q.flatten(-2), r.flatten(-2)], -1)


def _np_reduced_qr(a):
    q, r = np.linalg.qr(a)
    return np.concatenate([x.reshape(x.shape[:-2] + (x.shape[-2] * x.shape[-1],)) for x in (q, r)], -1)


_LINALG_OPS = [
    _linalg("inv", np.linalg.inv),
    # (empty=False where the operands' shapes are tied: an empty first operand alone cannot match the others)
    _linalg("solve", np.linalg.solve, shapes=((2, 3, 3), (2, 3, 2)), empty=False),
    _linalg("solve", lambda a, b: np.linalg.solve(a, b[..., None])[..., 0], shapes=((3, 3), (3,)),
            id="solve_vector", empty=False),
    _linalg("det", np.linalg.det),
    _linalg("slogdet", lambda a: np.linalg.slogdet(a)[1], call=lambda m: lambda a: m.linalg.slogdet(a).logabsdet),
    _linalg("cholesky", lambda a: np.linalg.cholesky(_np_spd(a)), call=lambda m: lambda a: m.linalg.cholesky(
        _spd(m, a))),
    _linalg("qr", _np_reduced_qr, shapes=((2, 4, 3),), call=lambda m: lambda a: _reduced_qr(m, a)),
    _linalg("eigvalsh", lambda a: np.linalg.eigvalsh(_np_spd(a)), call=lambda m: lambda a: m.linalg.eigvalsh(
        _spd(m, a))),
    _linalg("eigh", lambda a: np.linalg.eigh(_np_spd(a))[1] ** 2, id="eigh_vectors_squared",
            call=lambda m: lambda a: m.linalg.eigh(_spd(m, a)).eigenvectors ** 2),
    _linalg("svdvals", lambda a: np.linalg.svd(a, compute_uv=False), shapes=((2, 4, 3),)),
    _linalg("svd", lambda a: np.linalg.svd(a, full_matrices=False)[0] ** 2, shapes=((2, 4, 3),),
            id="svd_u_squared", call=lambda m: lambda a: m.linalg.svd(a, full_matrices=False).U ** 2),
    _linalg("svd", lambda a: np.linalg.svd(a, full_matrices=False)[2] ** 2, shapes=((3, 4),),
            id="svd_vh_squared", call=lambda m: lambda a: m.linalg.svd(a, full_matrices=False).Vh ** 2),
    _linalg("pinv", np.linalg.pinv, shapes=((2, 4, 3),)),
    _linalg("lstsq", lambda a, b: np.linalg.lstsq(a, b, rcond=None)[0], shapes=((4, 3), (4, 2)), empty=False,
            call=lambda m: lambda a, b: m.linalg.lstsq(a, b).solution),
    # half / bfloat16 through float32 for both: torch's own half kernel overflows its polynomial's constants
    # (0.3 I gives -21072); test_linalg_solvers checks ours against torch's float32 result rounded
    _linalg("matrix_exp", _np_expm, domain="unit", call=lambda m: lambda a: m.linalg.matrix_exp(
        a.float()).to(a.dtype) if a.dtype in (m.float16, m.bfloat16) else m.linalg.matrix_exp(a)),
    _linalg("matrix_norm", _np_nuclear, shapes=((2, 4, 3),), call=lambda m: lambda a: m.linalg.matrix_norm(
        a, "nuc"), id="matrix_norm_nuc"),
    _linalg("matrix_norm", lambda a: np.linalg.norm(a, 2, axis=(-2, -1)), shapes=((2, 4, 3),),
            call=lambda m: lambda a: m.linalg.matrix_norm(a, 2), id="matrix_norm_2"),
    _linalg("matrix_norm", lambda a: np.linalg.norm(a, -np.inf, axis=(-2, -1)), domain="distinct",
            call=lambda m: lambda a: m.linalg.matrix_norm(a, -math.inf), id="matrix_norm_neg_inf"),
    # (torch's cond of empty matrices is a constant 0 without a grad_fn: no gradient to check)
    _linalg("cond", _np_cond, shapes=((2, 3, 4),), empty=False),
    OpInfo("dist", lambda a, b: (np.abs(a - b) ** 3).sum() ** (1 / 3), shapes=((2, 3), (3,)), args=(3,),
           domain="distinct", zero_dim=False),
    # torch.func transforms of small functions, checked like any op (their backward is the tape's)
    OpInfo("func.grad", lambda a: np.sin(a) + a * np.cos(a), method=False, zero_dim=False,
           func=lambda m: m.func.grad(lambda x: (x * x.sin()).sum())),
    OpInfo("func.vmap", lambda a, b: np.einsum("bij,bj->bi", a, b), shapes=((3, 2, 4), (3, 4)), method=False,
           zero_dim=False, empty=False, func=lambda m: m.func.vmap(lambda a, b: a @ b)),
    OpInfo("func.functional_call", lambda x, w, b: x @ w.T + b, shapes=((4, 3), (2, 3), (2,)), method=False,
           zero_dim=False, func=lambda m: lambda x, w, b: m.func.functional_call(
               m.nn.Linear(3, 2, dtype=x.dtype), {"weight": w, "bias": b}, (x,))),
]
def _finite_inputs(func):
    """``func`` with inf/nan zeroed in every input. lstsq's right-hand side: torch's MKL gelsy fails an internal
    assert on a NaN in B ('Argument 6 has illegal value') and scales an inf into an all-NaN solution."""
    return lambda m: (lambda *xs: func(m)(*(m.nan_to_num(x, 0.0, 0.0, 0.0) for x in xs)))


for _op in _LINALG_OPS:
    if _op.id == "lstsq":
        _op.func = _finite_inputs(_op.func)
    # qr: where inf/nan meet in a Householder norm, R gets inf with NumPy's LAPACK and NaN with torch's MKL
    elif _op.id in ("svdvals", "svd_u_squared", "svd_vh_squared", "pinv", "matrix_norm_nuc", "matrix_norm_2",
                    "cond", "eigvalsh", "eigh_vectors_squared", "qr"):
        _op.func = _finite_input(_op.func)
OPS += _LINALG_OPS
BY_ID.update({op.id: op for op in _LINALG_OPS})


# torch.fft and complex numbers, declared on real tensors: complex inputs come in as (..., 2) pairs through
# view_as_complex and results go out through view_as_real, so every check of the table applies
def _np_pairs(z):
    return np.stack([z.real, z.imag], -1)


def _np_complex(p):
    return p[..., 0] + 1j * p[..., 1]


def _spectral(name, ref, call, shapes=((3, 6),)):
    """An FFT entry: ``call(m, x)`` on the input (pairs when it ends in 2 and the transform wants complex)."""
    return OpInfo(name, ref, shapes=shapes, method=False, zero_dim=False, empty=False,
                  func=lambda m: (lambda x: call(m, x)), id=name.replace(".", "_"))


def _c(m, p):
    return m.view_as_complex(p.contiguous())


_FFT_OPS = [
    _spectral("fft.fft", lambda a: _np_pairs(np.fft.fft(a, n=7)), lambda m, a: m.view_as_real(m.fft.fft(a, n=7))),
    _spectral("fft.ifft", lambda p: _np_pairs(np.fft.ifft(_np_complex(p), norm="ortho", axis=0)),
              lambda m, p: m.view_as_real(m.fft.ifft(_c(m, p), norm="ortho", dim=0)), shapes=((4, 3, 2),)),
    _spectral("fft.rfft", lambda a: _np_pairs(np.fft.rfft(a, n=5)), lambda m, a: m.view_as_real(m.fft.rfft(a, n=5))),
    _spectral("fft.irfft", lambda p: np.fft.irfft(_np_complex(p), n=7, norm="forward"),
              lambda m, p: m.fft.irfft(_c(m, p), n=7, norm="forward"), shapes=((3, 4, 2),)),
    _spectral("fft.hfft", lambda p: np.fft.hfft(_np_complex(p)), lambda m, p: m.fft.hfft(_c(m, p)),
              shapes=((3, 4, 2),)),
    _spectral("fft.ihfft", lambda a: _np_pairs(np.fft.ihfft(a)),
              lambda m, a: m.view_as_real(m.fft.ihfft(a).resolve_conj())),
    _spectral("fft.fft2", lambda p: _np_pairs(np.fft.fft2(_np_complex(p), s=(4, 3))),
              lambda m, p: m.view_as_real(m.fft.fft2(_c(m, p), s=(4, 3))), shapes=((2, 3, 5, 2),)),
    _spectral("fft.rfftn", lambda a: _np_pairs(np.fft.rfftn(a, axes=(0, 2))),
              lambda m, a: m.view_as_real(m.fft.rfftn(a, dim=(0, 2))), shapes=((3, 2, 4),)),
    _spectral("fft.irfftn", lambda p: np.fft.irfftn(_np_complex(p), s=(3, 5)),
              lambda m, p: m.fft.irfftn(_c(m, p), s=(3, 5)), shapes=((2, 3, 3, 2),)),
    _spectral("fft.fftshift", np.fft.fftshift, lambda m, a: m.fft.fftshift(a), shapes=((3, 5),)),
    # the complex arithmetic with torch's gradients, through real pairs
    _spectral("complex_mul_exp", lambda p: _np_pairs(_np_complex(p) * np.exp(_np_complex(p))),
              lambda m, p: m.view_as_real(_c(m, p) * _c(m, p).exp()), shapes=((3, 2),)),
    _spectral("complex_abs_angle", lambda p: np.abs(_np_complex(p)) * np.angle(_np_complex(p)),
              lambda m, p: _c(m, p).abs() * _c(m, p).angle(), shapes=((3, 4, 2),)),
]
OPS += _FFT_OPS
BY_ID.update({op.id: op for op in _FFT_OPS})


# special functions (torch.special, issue 13): references from math, statistics and (lazily) mpmath --------------
def _mp(name, *lead):
    """An elementwise float64 reference from mpmath's ``name`` (imported when the test runs)."""
    def ref(*arrays):
        import mpmath
        fn = getattr(mpmath, name)
        return np.vectorize(lambda *v: float(fn(*lead, *v)), otypes=[float])(*arrays)
    return ref


def _np_ndtri(p):
    from statistics import NormalDist
    return np.vectorize(NormalDist().inv_cdf, otypes=[float])(p)


def _np_xlog1py(a, b):
    return np.where(a == 0, 0.0, a * np.log1p(b))


_SPECIAL_OPS = [
    OpInfo("lgamma", np.vectorize(math.lgamma, otypes=[float]), inplace=True),
    OpInfo("digamma", _mp("digamma"), inplace=True),
    OpInfo("polygamma", _mp("psi", 2), args=(2,), domain="pos", method=False, func=lambda m: (
        lambda a, n: m.polygamma(n, a))),
    OpInfo("mvlgamma", lambda a: sum(np.vectorize(math.lgamma, otypes=[float])(a + 1 - i / 2) for i in range(3)) + 1.5 * math.log(
        math.pi), args=(3,), domain="pos", method=False, func=lambda m: (lambda a, p: m.mvlgamma(a + 1, p))),
    OpInfo("erfc", np.vectorize(math.erfc, otypes=[float]), inplace=True),
    OpInfo("erfinv", lambda y: _np_ndtri((y + 1) / 2) / math.sqrt(2), domain="unit", inplace=True),
    OpInfo("i0", np.i0, inplace=True),
    OpInfo("special.i0e", lambda a: np.i0(a) * np.exp(-np.abs(a)), method=False, func=lambda m: m.special.i0e,
           id="special_i0e"),
    OpInfo("special.i1", _mp("besseli", 1), method=False, func=lambda m: m.special.i1, id="special_i1"),
    OpInfo("special.i1e", lambda a: _mp("besseli", 1)(a) * np.exp(-np.abs(a)), method=False,
           func=lambda m: m.special.i1e, id="special_i1e"),
    OpInfo("special.erfcx", lambda a: _mp("erfc")(a) * np.exp(a * a), method=False, func=lambda m: m.special.erfcx,
           id="special_erfcx"),
    OpInfo("special.ndtr", lambda a: 0.5 * np.vectorize(math.erfc, otypes=[float])(-a / math.sqrt(2)), method=False,
           func=lambda m: m.special.ndtr, id="special_ndtr"),
    OpInfo("special.ndtri", lambda a: _np_ndtri(1 / (1 + np.exp(-a))), method=False,
           func=lambda m: (lambda a: m.special.ndtri(a.sigmoid())), id="special_ndtri"),
    OpInfo("special.log_ndtr", lambda a: np.log(0.5 * np.vectorize(math.erfc, otypes=[float])(-a / math.sqrt(2))), method=False,
           func=lambda m: m.special.log_ndtr, id="special_log_ndtr"),
    OpInfo("special.entr", lambda a: -a * np.log(a), domain="pos", method=False, func=lambda m: m.special.entr,
           id="special_entr"),
    OpInfo("special.xlog1py", _np_xlog1py, shapes=((2, 3), (3,)), domain="pos", method=False,
           func=lambda m: m.special.xlog1py, id="special_xlog1py"),
    OpInfo("xlogy", lambda a, b: a * np.log(b), shapes=((2, 3), (2, 1)), domain="pos", empty=False),
    OpInfo("logit", lambda a: np.log(a / (3 - a)), domain="pos", func=lambda m: (lambda a: m.logit(a / 3)),
           method=False),
    OpInfo("sinc", np.sinc),
]
OPS += _SPECIAL_OPS
BY_ID.update({op.id: op for op in _SPECIAL_OPS})


# binary math, scans, products and linalg's LU family (issue 13) ------------------------------------------------
def _np_cummax(a, axis):
    return np.maximum.accumulate(a, axis=axis)


def _np_logcumsumexp(a, axis):
    return np.logaddexp.accumulate(a, axis=axis)


def _np_lu(a):
    """Doolittle with partial pivoting: ``(perm, L, U)`` with ``a[perm] = L @ U`` (square ``a``)."""
    n = a.shape[-1]
    u = a.copy()
    low = np.eye(n)
    perm = np.arange(n)
    for j in range(n):
        p = j + int(np.argmax(np.abs(u[j:, j])))
        u[[j, p]], perm[[j, p]], low[[j, p], :j] = u[[p, j]], perm[[p, j]], low[[p, j], :j]
        low[j + 1:, j] = u[j + 1:, j] / u[j, j]
        u[j + 1:] -= np.outer(low[j + 1:, j], u[j])
    return perm, low, np.triu(u)


def _np_lu_packed(a):
    return np.stack([np.tril(low, -1) + u for _, low, u in map(_np_lu, a.reshape(-1, *a.shape[-2:]))]).reshape(a.shape)


def _addmv_input(i, a):
    # torch 2.13, a matrix with no elements and a one-element input of another size: its CPU kernel resizes the
    # output to the input's shape (deprecated, with a warning) and the backward then fails; no value to match,
    # so that input is expanded to the rows first
    if a.dim() == 2 and a.numel() == 0 and i.numel() == 1 and a.shape[0] != 1:
        return i.expand(a.shape[0])
    return i


def _well_conditioned(m, a):
    return a + 3 * m.eye(a.shape[-1], dtype=a.dtype)


def _finite_well_conditioned(m, a):
    # the factors of a matrix holding inf/nan depend on LAPACK's pivot search over nan (i?amax skips it) and on
    # its blocked update order, neither of them torch's contract: the LU entries draw finite values only
    return _well_conditioned(m, m.nan_to_num(a, 0.0, 0.0, 0.0))


_MATH_OPS = [
    OpInfo("hypot", np.hypot, shapes=((2, 3), (3,))),
    OpInfo("copysign", np.copysign, shapes=((2, 3), (2, 1)), domain="away", empty=False),
    OpInfo("fmax", np.fmax, shapes=((2, 3), (3,)), domain="distinct"),
    OpInfo("fmin", np.fmin, shapes=((2, 3), (2, 3)), domain="distinct"),
    OpInfo("nextafter", np.nextafter, shapes=((2, 3), (2, 3)), gradgrad=False),
    OpInfo("ldexp", lambda a, b: a * 2.0 ** b, shapes=((2, 3), (3,))),
    OpInfo("frexp", lambda a: np.frexp(a)[0], domain="away", method=False, func=lambda m: (
        lambda a: m.frexp(a).mantissa)),
    # (float_power computes in float64 whatever the input: cast back so the table's dtype checks apply)
    OpInfo("float_power", lambda a, b: a ** b, shapes=((2, 3), (3,)), domain="pos", method=False,
           func=lambda m: (lambda a, b: m.float_power(a, b).to(a.dtype))),
    OpInfo("logaddexp2", np.logaddexp2, shapes=((2, 3), (2, 3)), domain="distinct", method=False),
    OpInfo("cummax", lambda a: _np_cummax(a, 1), args=(1,), domain="distinct", method=False, zero_dim=False,
           func=lambda m: (lambda a, d: m.cummax(a, d).values)),
    OpInfo("cummin", lambda a: -_np_cummax(-a, 0), args=(0,), domain="distinct", method=False, zero_dim=False,
           func=lambda m: (lambda a, d: m.cummin(a, d)[0])),
    OpInfo("logcumsumexp", lambda a: _np_logcumsumexp(a, 1), args=(1,), zero_dim=False),
    OpInfo("cross", lambda a, b: np.cross(a, b, axis=0), shapes=((3, 2), (3, 2)), kwargs={"dim": 0},
           zero_dim=False, empty=False),
    OpInfo("linalg.cross", lambda a, b: np.cross(a, b), shapes=((2, 3), (1, 3)), method=False, zero_dim=False,
           func=lambda m: m.linalg.cross, id="linalg_cross"),
    OpInfo("tensordot", lambda a, b: np.tensordot(a, b, axes=([1], [0])), shapes=((2, 3), (3, 4)),
           kwargs={"dims": ([1], [0])}, method=False, zero_dim=False),
    OpInfo("inner", np.inner, shapes=((2, 3), (4, 3)), zero_dim=False),
    OpInfo("vdot", np.vdot, shapes=((3,), (3,)), zero_dim=False),
    OpInfo("addmv", lambda i, a, b: 0.5 * i + a @ b, shapes=((2,), (2, 3), (3,)), kwargs={"beta": 0.5},
           zero_dim=False, empty=False,
           func=lambda m: (lambda i, a, b, **kw: m.addmv(_addmv_input(i, a), a, b, **kw))),
    OpInfo("addr", lambda i, a, b: i + 2 * np.outer(a, b), shapes=((2, 3), (2,), (3,)), kwargs={"alpha": 2},
           zero_dim=False, empty=False),
    OpInfo("baddbmm", lambda i, a, b: i + a @ b, shapes=((2, 4), (3, 2, 5), (3, 5, 4)), zero_dim=False,
           empty=False),
    OpInfo("addbmm", lambda i, a, b: i + (a @ b).sum(0), shapes=((2, 4), (3, 2, 5), (3, 5, 4)), zero_dim=False,
           empty=False),
    OpInfo("linalg.multi_dot", lambda a, b, c: a @ b @ c, shapes=((3,), (3, 4), (4, 2)), method=False,
           zero_dim=False, empty=False, func=lambda m: (lambda *ts: m.linalg.multi_dot(ts)), id="multi_dot"),
    OpInfo("matrix_power", lambda a: np.linalg.matrix_power(a, 3), shapes=((2, 3, 3),), args=(3,),
           zero_dim=False),
    OpInfo("linalg.solve_triangular", lambda a, b: np.linalg.solve(np.triu(a) + 3 * np.eye(3), b),
           shapes=((3, 3), (3, 2)), method=False, zero_dim=False, empty=False, id="solve_triangular",
           func=lambda m: (lambda a, b: m.linalg.solve_triangular(_well_conditioned(m, a), b, upper=True))),
    OpInfo("linalg.lu_factor", lambda a: _np_lu_packed(a + 3 * np.eye(3)), shapes=((2, 3, 3),), method=False,
           zero_dim=False, empty=False, id="lu_factor",
           func=lambda m: (lambda a: m.linalg.lu_factor(_finite_well_conditioned(m, a)).LU)),
    OpInfo("linalg.lu", lambda a: _np_lu(a + 3 * np.eye(3))[1] + _np_lu(a + 3 * np.eye(3))[2], shapes=((3, 3),),
           method=False, zero_dim=False, empty=False, id="lu",
           func=lambda m: (lambda a: sum(m.linalg.lu(_finite_well_conditioned(m, a))[1:]))),
    OpInfo("linalg.lu_solve", lambda a, b: np.linalg.solve(a + 3 * np.eye(3), b), shapes=((3, 3), (3, 2)),
           method=False, zero_dim=False, empty=False, id="lu_solve",
           func=lambda m: (lambda a, b: m.linalg.lu_solve(*m.linalg.lu_factor(_well_conditioned(m, a)), b))),
    OpInfo("linalg.vander", lambda a: np.vander(a, 4, increasing=True), shapes=((3,),), kwargs={"N": 4},
           method=False, zero_dim=False, func=lambda m: m.linalg.vander, id="vander"),
    OpInfo("linalg.diagonal", lambda a: np.diagonal(a, 1, -2, -1), shapes=((2, 3, 4),), kwargs={"offset": 1},
           method=False, zero_dim=False, func=lambda m: m.linalg.diagonal, id="linalg_diagonal"),
]
OPS += _MATH_OPS
BY_ID.update({op.id: op for op in _MATH_OPS})


# torch names of issue 13 (aliases, shape_extra, statistics_extra, functional_extra) -----------------------------
# (no pdist here: torch 2.13's pdist backward crashes the process on some of the shapes the hypothesis test draws;
# tests/framework/nn/test_functional_extra.py compares it with torch on safe shapes)
def _diagonal_scatter(a, s):
    out = a.copy()
    np.fill_diagonal(out, s)
    return out


def _slice_scatter(a, s):
    out = a.copy()
    out[:, 1:3] = s
    return out


def _trapezoid(a):
    return ((a[..., 1:] + a[..., :-1]) / 2).sum(-1)


def _renorm(a, maxnorm):
    norms = np.sqrt((a * a).sum(axis=1, keepdims=True))
    return a * np.where(norms > maxnorm, maxnorm / (norms + 1e-7), 1.0)


def _lp_pool2d(a, p):
    return (_windows(a, (2, 2), (2, 2)) ** p).sum(axis=(-2, -1)) ** (1 / p)


def _f(name, *args):
    return lambda m: (lambda *t: getattr(m.nn.functional, name)(*t, *args))


_ISSUE13_OPS = [
    OpInfo("acosh", lambda a: np.arccosh(a + 1.5), func=lambda m: (lambda a: m.acosh(a + 1.5)), method=False,
           domain="pos"),
    OpInfo("asinh", np.arcsinh, inplace=True),
    OpInfo("atanh", np.arctanh, domain="unit", inplace=True),
    OpInfo("arctanh", np.arctanh, domain="unit", inplace=True),
    OpInfo("frac", lambda a: a - np.trunc(a), domain="away", inplace=True),
    OpInfo("deg2rad", np.deg2rad, inplace=True),
    OpInfo("rot90", lambda a: np.rot90(a, 1, (0, 1)), zero_dim=False, empty=False),
    OpInfo("ravel", lambda a: a.reshape(-1), zero_dim=False),
    OpInfo("diagflat", lambda a: np.diagflat(a, 1), shapes=((3,),), args=(1,), zero_dim=False, empty=False),
    OpInfo("block_diag", lambda a, b: np.block([[a, np.zeros((2, 2))], [np.zeros((1, 3)), b]]),
           shapes=((2, 3), (1, 2)), method=False, zero_dim=False, empty=False),
    OpInfo("column_stack", lambda a, b: np.column_stack([a, b]), shapes=((3,), (3, 2)), method=False,
           func=lambda m: (lambda a, b: m.column_stack([a, b])), zero_dim=False, empty=False),
    OpInfo("dstack", lambda a, b: np.dstack([a, b]), shapes=((2, 3), (2, 3)), method=False,
           func=lambda m: (lambda a, b: m.dstack([a, b])), zero_dim=False, empty=False),
    OpInfo("tensor_split", lambda a: a[:, 1:3], func=lambda m: (lambda a: m.tensor_split(a, [1, 3], 1)[1]),
           shapes=((2, 4),), method=False, zero_dim=False, empty=False),
    OpInfo("diagonal_scatter", _diagonal_scatter, shapes=((3, 3), (3,)), zero_dim=False, empty=False),
    OpInfo("slice_scatter", _slice_scatter, shapes=((2, 4), (2, 2)), args=(1, 1, 3), zero_dim=False, empty=False),
    OpInfo("select_scatter", lambda a, s: np.concatenate([a[:1], s[None], a[2:]]), shapes=((3, 3), (3,)),
           args=(0, 1), zero_dim=False, empty=False),
    OpInfo("cov", np.cov, shapes=((3, 5),), zero_dim=False, empty=False),
    OpInfo("corrcoef", np.corrcoef, shapes=((3, 5),), zero_dim=False, empty=False),
    OpInfo("trapezoid", _trapezoid, method=False, zero_dim=False, empty=False),
    OpInfo("cumulative_trapezoid", lambda a: np.cumsum((a[..., 1:] + a[..., :-1]) / 2, -1), method=False,
           zero_dim=False, empty=False),
    OpInfo("renorm", lambda a: _renorm(a, 1.0), args=(2, 0, 1.0), inplace=True, zero_dim=False, empty=False),
    OpInfo("nanmedian", lambda a: np.median(a, axis=1), func=lambda m: (lambda a: m.nanmedian(a, 1).values),
           method=False, domain="distinct", zero_dim=False, empty=False),
    OpInfo("glu", lambda a: a[:, :2] / (1 + np.exp(-a[:, 2:])), shapes=((3, 4),), func=_f("glu", 1),
           method=False, zero_dim=False, empty=False),
    OpInfo("hardshrink", lambda a: np.where(np.abs(a) > 0.5, a, 0.0), domain="away", func=_f("hardshrink"),
           method=False, gradgrad=False),
    OpInfo("softshrink", lambda a: np.sign(a) * np.maximum(np.abs(a) - 0.5, 0.0), domain="away",
           func=_f("softshrink"), method=False),
    OpInfo("lp_pool2d", lambda a: _lp_pool2d(a, 3.0), shapes=((1, 2, 4, 4),), domain="pos",
           func=_f("lp_pool2d", 3.0, 2), method=False, zero_dim=False, empty=False),
    OpInfo("channel_shuffle", lambda a: a.reshape(1, 2, 2, 3).transpose(0, 2, 1, 3).reshape(1, 4, 3),
           shapes=((1, 4, 3),), func=_f("channel_shuffle", 2), method=False, zero_dim=False, empty=False),
]
OPS += _ISSUE13_OPS
BY_ID.update({op.id: op for op in _ISSUE13_OPS})


# masked_scatter, conjugate transposes, matrix_exp at the top level, and the torch.linalg additions --------------
def _np_masked_scatter(a, s):
    out = a.copy()
    mask = a > 0
    out[mask] = s.reshape(-1)[:int(mask.sum())]
    return out


def _np_householder_product(a, tau):
    m, n = a.shape[-2:]
    q = np.broadcast_to(np.eye(m)[:, :n], a.shape).copy()
    for i in reversed(range(tau.shape[-1])):
        v = np.concatenate([np.zeros(a.shape[:-2] + (i,)), np.ones(a.shape[:-2] + (1,)), a[..., i + 1:, i]], -1)
        q = q - tau[..., i, None, None] * v[..., :, None] * (v[..., None, :] @ q)
    return q


def _via_float32(m, p, fn):
    """``fn`` of the complex tensor whose (re, im) pairs are ``p``, as pairs; half pairs through complex64 (torch's
    complex32 has few ops, tensorplug has none)."""
    narrow = p.dtype in (m.float16, m.bfloat16)
    out = m.view_as_real(fn(_c(m, p.float() if narrow else p)).resolve_conj())
    return out.to(p.dtype) if narrow else out


_MORE_OPS = [
    OpInfo("masked_scatter", _np_masked_scatter, shapes=((2, 3), (2, 3)), method=False,
           func=lambda m: (lambda a, s: m.masked_scatter(a, a.detach() > 0, s))),
    OpInfo("masked_scatter", _np_masked_scatter, shapes=((2, 3), (7,)), method=False, id="masked_scatter_method",
           func=lambda m: (lambda a, s: a.masked_scatter(a.detach() > 0, s)), zero_dim=False),
    OpInfo("adjoint", lambda a: np.swapaxes(a, -1, -2), shapes=((2, 3, 4),), zero_dim=False),
    OpInfo("mH", lambda a: np.swapaxes(a, -1, -2), shapes=((3, 4),), method=False, zero_dim=False,
           func=lambda m: (lambda a: a.mH)),
    _spectral("adjoint_complex", lambda p: _np_pairs(np.conj(np.swapaxes(_np_complex(p), -1, -2))),
              lambda m, p: _via_float32(m, p, lambda z: m.adjoint(z)), shapes=((2, 3, 4, 2),)),
    _spectral("H_complex", lambda p: _np_pairs(np.conj(_np_complex(p).T)),
              lambda m, p: _via_float32(m, p, lambda z: z.H), shapes=((3, 4, 2),)),
    # torch.matrix_exp and the method; half through float32 as the linalg row above
    OpInfo("matrix_exp", _np_expm, shapes=((2, 3, 3),), domain="unit", method=False, zero_dim=False,
           func=lambda m: lambda a: (a.float().matrix_exp().to(a.dtype) if a.dtype in (m.float16, m.bfloat16)
                                     else m.matrix_exp(a))),
    _spectral("matrix_exp_complex", lambda p: _np_pairs(_np_expm(_np_complex(p))),
              lambda m, p: _via_float32(m, p, lambda z: z.matrix_exp()), shapes=((2, 3, 3, 2),)),
    # the composites of torch.linalg (each differentiable as its parts)
    _linalg("householder_product", lambda a, t: _np_householder_product(a, t), shapes=((2, 4, 3), (2, 2)),
            empty=False),
    _linalg("tensorinv", lambda a: np.linalg.tensorinv(a, ind=1), shapes=((6, 2, 3),), empty=False,
            call=lambda m: lambda a: m.linalg.tensorinv(a, ind=1)),
    _linalg("tensorsolve", np.linalg.tensorsolve, shapes=((2, 3, 6), (2, 3)), empty=False),
]
for _op in _MORE_OPS:
    # inf / nan: where NaN spreads follows LAPACK's loops (orgqr's reflector by reflector, matrix_exp's Pade
    # terms of complex input), not a formula
    if _op.id == "householder_product":
        _op.func = _finite_inputs(_op.func)
    elif _op.id == "matrix_exp_complex":
        _op.func = _finite_input(_op.func)
OPS += _MORE_OPS
BY_ID.update({op.id: op for op in _MORE_OPS})
