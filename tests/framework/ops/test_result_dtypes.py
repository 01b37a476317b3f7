"""Every op of the op table on float16 and bfloat16 inputs returns torch's dtype, and so do its input
gradients (a NumPy routine that upcasts, or a float32 accumulator left in the result, shows up here)."""
from __future__ import annotations


import numpy as np
import pytest

import tensorplug as tp

from .op_table import OPS, run_with_backward

torch = pytest.importorskip("torch")

HALF_DTYPES = ["float16"] + (["bfloat16"] if hasattr(tp, "bfloat16") else [])


def _run(op, module, arrays, dtype):
    """(output dtype, input gradient dtypes) of ``op``, or None where the call raises."""
    try:
        out, xs = run_with_backward(op, module, arrays, dtype)
    except (RuntimeError, NotImplementedError, TypeError, ValueError, IndexError):
        return None
    name = lambda d: str(d).split(".")[-1]  # noqa: E731
    return name(out.dtype), [None if x.grad is None else name(x.grad.dtype) for x in xs]


@pytest.mark.parametrize("dtype", HALF_DTYPES)
@pytest.mark.parametrize("op", OPS, ids=[o.id for o in OPS])
def test_half_precision_result_dtype_matches_torch(op, dtype):
    arrays = op.arrays(np.random.default_rng(0))
    expected = _run(op, torch, arrays, dtype)
    if expected is None:
        pytest.skip(f"torch refuses {op.id} on {dtype}")
    got = _run(op, tp, arrays, dtype)
    assert got is not None, f"{op.id} on {dtype}: tensorplug raised, torch returned {expected}"
    assert got[0] == expected[0], f"{op.id} on {dtype}: result dtype {got[0]}, torch {expected[0]}"
    assert got[1] == expected[1], f"{op.id} on {dtype}: gradient dtypes {got[1]}, torch {expected[1]}"


F = lambda m: m.nn.functional  # noqa: E731
# ops outside the table whose half results came back float32 (NumPy upcasts bfloat16 in matmul, in clip
# with two bounds and in where with a Python number first), with the arguments that reach those paths
MORE = {
    "conv_transpose1d_stride2": (lambda m, x, w: F(m).conv_transpose1d(x, w, stride=2), [(1, 2, 4), (2, 3, 3)]),
    "conv_transpose2d_stride2": (lambda m, x, w: F(m).conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
                                 [(1, 2, 4, 4), (2, 3, 3, 3)]),
    "conv2d_stride2": (lambda m, x, w: F(m).conv2d(x, w, stride=2, padding=1, dilation=2), [(1, 2, 7, 7), (3, 2, 3, 3)]),
    "clip": (lambda m, x: m.clip(x, -0.5, 0.5), [(3, 4)]),
    "hardtanh": (lambda m, x: F(m).hardtanh(x), [(3, 4)]),
    "relu6": (lambda m, x: F(m).relu6(x), [(3, 4)]),
    "hardsigmoid": (lambda m, x: F(m).hardsigmoid(x), [(3, 4)]),
    "hardswish": (lambda m, x: F(m).hardswish(x), [(3, 4)]),
    "sinc": (lambda m, x: m.sinc(x), [(3, 4)]),
    "nan_to_num": (lambda m, x: m.nan_to_num(x / 0), [(3, 4)]),
    "where_number_first": (lambda m, x: m.where(x > 0, 1.5, x), [(3, 4)]),
    "scaled_dot_product_attention": (lambda m, q, k, v: F(m).scaled_dot_product_attention(q, k, v),
                                     [(1, 2, 3, 4), (1, 2, 3, 4), (1, 2, 3, 4)]),
    "abs": (lambda m, x: x.abs(), [(3, 4)]),
    "smooth_l1_loss": (lambda m, x, y: F(m).smooth_l1_loss(x, y), [(3, 4), (3, 4)]),
    "pairwise_distance": (lambda m, x, y: F(m).pairwise_distance(x, y), [(3, 4), (3, 4)]),
}


def _run_more(module, dtype, fn, shapes):
    rng = np.random.default_rng(0)
    xs = [module.tensor(rng.standard_normal(s), dtype=getattr(module, dtype), requires_grad=True) for s in shapes]
    out = fn(module, *xs)
    out.float().sum().backward()
    name = lambda d: str(d).split(".")[-1]  # noqa: E731
    return name(out.dtype), [name(x.grad.dtype) for x in xs]


@pytest.mark.parametrize("dtype", HALF_DTYPES)
@pytest.mark.parametrize("case", sorted(MORE))
def test_half_precision_result_dtype_matches_torch_beyond_the_table(case, dtype):
    fn, shapes = MORE[case]
    assert _run_more(tp, dtype, fn, shapes) == _run_more(torch, dtype, fn, shapes)


def test_nan_to_num_of_bfloat16_uses_its_own_largest_value():
    x = [float("inf"), -float("inf"), float("nan")]
    got = tp.nan_to_num(tp.tensor(x, dtype=tp.bfloat16)).float().tolist()
    assert got == torch.nan_to_num(torch.tensor(x, dtype=torch.bfloat16)).float().tolist()


@pytest.mark.parametrize("input_dtype, target_dtype", [("float64", "float32"), ("float32", "float64"),
                                                       ("float32", "float16"), ("float16", "float32"),
                                                       ("float32", "bfloat16")])
def test_bce_with_logits_result_has_the_targets_dtype_as_torch(input_dtype, target_dtype):
    results = []
    for m in (torch, tp):
        x = m.ones(3, dtype=getattr(m, input_dtype), requires_grad=True)
        out = m.nn.functional.binary_cross_entropy_with_logits(x, m.ones(3, dtype=getattr(m, target_dtype)) * 0.5)
        out.backward()
        results.append((str(out.dtype).split(".")[-1], str(x.grad.dtype).split(".")[-1]))
    assert results[1] == results[0]
