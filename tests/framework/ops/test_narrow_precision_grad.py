"""Gradients in float16 and bfloat16 against torch, where the backward sums many values: a broadcast
operand's gradient (summed over the broadcast rows), a bias, a norm's weight, an embedding row taken many
times. torch accumulates those sums in float32 and rounds once; summed in the narrow dtype, 1000 bfloat16
ones stop at 256 and float16 sums of a few thousand overflow. Inputs are drawn in float32 and rounded to
the narrow dtype for both libraries; the upstream gradient is one array for both."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)


def _r(*shape, scale=1.0, offset=0.0):
    return (RNG.standard_normal(shape) * scale + offset).astype(np.float32)


ROWS = _r(1000, 8, scale=0.5, offset=1.0)  # 1000 rows summed into one: stalls or overflows if summed narrow
IDX = RNG.integers(0, 5, 2000)
CASES = {
    # name: (fn(module, F, *tensors), arrays); every float array is a leaf whose gradient is compared
    "add_broadcast": (lambda m, F, x, y: x + y, (ROWS, _r(1, 8))),
    "sub_broadcast": (lambda m, F, x, y: x - y, (ROWS, _r(8))),
    "mul_broadcast": (lambda m, F, x, y: x * y, (ROWS, _r(1, 8))),
    "div_broadcast": (lambda m, F, x, y: x / y, (ROWS, _r(8, offset=4.0))),
    "mul_scalar_tensor": (lambda m, F, x, y: x * y, (ROWS, np.float32(0.7))),
    "where_broadcast": (lambda m, F, x, y: m.where(x > 1, x, y), (ROWS, _r(1, 8))),
    "maximum_broadcast": (lambda m, F, x, y: m.maximum(x, y), (ROWS, _r(8))),
    "addcmul_broadcast": (lambda m, F, x, y, z: m.addcmul(x, y, z), (ROWS, _r(8), _r(1, 8))),
    "lerp_broadcast": (lambda m, F, x, y: m.lerp(x, y, 0.3), (ROWS, _r(8))),
    "pow_broadcast": (lambda m, F, x, y: x.abs() ** y, (ROWS, _r(8, scale=0.2, offset=1.0))),
    "sum": (lambda m, F, x: x.sum(0), (ROWS,)),
    "mean": (lambda m, F, x: x.mean(0, keepdim=True), (ROWS,)),
    "expand": (lambda m, F, x: x.expand(1000, 8), (_r(1, 8),)),
    "linear_bias": (lambda m, F, x, w, b: F.linear(x, w, b), (ROWS, _r(4, 8, scale=0.3), _r(4))),
    "conv2d_bias": (lambda m, F, x, w, b: F.conv2d(x, w, b, padding=1),
                    (_r(4, 3, 16, 16, offset=1.0), _r(2, 3, 3, 3, scale=0.3), _r(2))),
    "conv1d_bias": (lambda m, F, x, w, b: F.conv1d(x, w, b), (_r(8, 3, 300, offset=1.0), _r(2, 3, 3), _r(2))),
    "layer_norm_affine": (lambda m, F, x, w, b: F.layer_norm(x, (8,), w, b), (ROWS, _r(8), _r(8))),
    "batch_norm_affine": (lambda m, F, x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                          (ROWS, _r(8), _r(8))),
    "group_norm_affine": (lambda m, F, x, w, b: F.group_norm(x, 2, w, b), (_r(8, 4, 300), _r(4), _r(4))),
    "embedding": (lambda m, F, w, i: F.embedding(i, w), (_r(5, 8), IDX)),
    "matmul_broadcast": (lambda m, F, x, w: x @ w, (_r(250, 4, 8), _r(8, 3))),
    "softmax": (lambda m, F, x: F.softmax(x, -1), (_r(4, 1000),)),
    "prelu": (lambda m, F, x, w: F.prelu(x, w), (_r(1000, 3, scale=1.0), _r(3, scale=0.2, offset=0.3))),
    "mse_loss": (lambda m, F, a, b: F.mse_loss(a, b.expand(1000, 8)), (ROWS, _r(1, 8))),
}
# one unit in the last place at 1
_ULP = {"float16": 2.0 ** -10, "bfloat16": 2.0 ** -7}


def _leaves(m, arrays, dtype):
    out = []
    for a in arrays:
        if a.dtype.kind == "f":
            out.append(m.tensor(a).to(dtype).requires_grad_())
        else:
            out.append(m.tensor(a))
    return out


def _grads(m, fn, arrays, dtype, g):
    leaves = _leaves(m, arrays, dtype)
    out = fn(m, m.nn.functional, *leaves)
    out.backward(m.tensor(g).to(out.dtype))
    return [None if not t.requires_grad else t.grad for t in leaves]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("case", CASES)
def test_narrow_dtype_gradients_are_as_accurate_as_torchs(case, dtype):
    """Each gradient element within torch's own error (against float64 on the same rounded inputs) plus
    an ulp of it and half an ulp of the largest: torch's kernels round at places of their own (its
    LayerNorm sums bfloat16 bias gradients in bfloat16), so equality is not the bar; a sum that
    stalls or a product rounded per batch is far outside."""
    fn, arrays = CASES[case]
    probe = fn(torch, torch.nn.functional, *_leaves(torch, arrays, torch.float64))
    g = np.random.default_rng(1).uniform(0.5, 1.5, tuple(probe.shape)).astype(np.float32)
    # float64 on the inputs and upstream gradient rounded to the narrow dtype, as both libraries see them
    rounded = [torch.tensor(a).to(getattr(torch, dtype)).double().numpy() if a.dtype.kind == "f" else a
               for a in arrays]
    g_rounded = torch.tensor(g).to(getattr(torch, dtype)).double().numpy()
    exact = _grads(torch, fn, rounded, torch.float64, g_rounded)
    theirs = _grads(torch, fn, arrays, getattr(torch, dtype), g)
    ours = _grads(tp, fn, arrays, getattr(tp, dtype), g)
    ulp = _ULP[dtype]
    for i, (a, b, e) in enumerate(zip(ours, theirs, exact)):
        if e is None:
            continue
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
        e = e.numpy()
        our_err = np.abs(a.double().numpy() - e)
        allowed = np.abs(b.double().numpy() - e) + ulp * np.abs(e) + 0.5 * ulp * np.abs(e).max()
        worst = np.unravel_index(np.argmax(our_err - allowed), e.shape)
        assert (our_err <= allowed).all(), (f"{case} {dtype}: gradient of input {i} at {worst}: ours "
                                            f"{float(a[worst])}, torch {float(b[worst])}, exact {e[worst]}")


ROWS_OF = RNG.integers(0, 5, 4000)
INDEX_2D = np.repeat(ROWS_OF[:, None], 8, axis=1)
ACCUMULATING = {
    # name: fn(module, values) -> result; values: (4000, 8) ones in the dtype, summed 800 to a row
    "index_select_backward": lambda m, v: _leaf_grad(m, v, lambda x: x.index_select(0, m.tensor(ROWS_OF))),
    "gather_backward": lambda m, v: _leaf_grad(m, v, lambda x: x.gather(0, m.tensor(INDEX_2D))),
    "index_add": lambda m, v: m.zeros(5, 8, dtype=v.dtype).index_add(0, m.tensor(ROWS_OF), v),
    "scatter_add": lambda m, v: m.zeros(5, 8, dtype=v.dtype).scatter_add(0, m.tensor(INDEX_2D), v),
    "scatter_reduce_sum": lambda m, v: m.ones(5, 8, dtype=v.dtype).scatter_reduce(0, m.tensor(INDEX_2D), v, "sum"),
    "scatter_reduce_mean": lambda m, v: m.ones(5, 8, dtype=v.dtype).scatter_reduce(0, m.tensor(INDEX_2D), v * 3,
                                                                                  "mean"),
    "scatter_reduce_prod": lambda m, v: m.ones(5, 8, dtype=v.dtype).scatter_reduce(0, m.tensor(INDEX_2D),
                                                                                  v * 1.001, "prod"),
    "bincount": lambda m, v: m.bincount(m.tensor(ROWS_OF), weights=v[:, 0]),
    # torch adds these one row at a time in the narrow dtype (bfloat16 ones stop at 256): the same here
    "embedding_backward": lambda m, v: _leaf_grad(m, v, lambda x: m.nn.functional.embedding(m.tensor(ROWS_OF), x)),
    "index_backward": lambda m, v: _leaf_grad(m, v, lambda x: x[m.tensor(ROWS_OF)]),
    "index_put_accumulate": lambda m, v: m.zeros(5, 8, dtype=v.dtype).index_put((m.tensor(ROWS_OF),), v,
                                                                               accumulate=True),
}


def _leaf_grad(m, v, fn):
    x = m.zeros(5, 8, dtype=v.dtype, requires_grad=True)
    fn(x).backward(v)
    return x.grad


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("case", ACCUMULATING)
def test_narrow_dtype_accumulation_is_torchs(case, dtype):
    values = RNG.uniform(0.5, 1.5, (4000, 8)).astype(np.float32)
    theirs = ACCUMULATING[case](torch, torch.tensor(values).to(getattr(torch, dtype)))
    ours = ACCUMULATING[case](tp, tp.tensor(values).to(getattr(tp, dtype)))
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_array_equal(ours.double().numpy(), theirs.double().numpy(), err_msg=f"{case} {dtype}")
