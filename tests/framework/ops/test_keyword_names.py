"""torch's keyword names for shape, join, reduction, extreme, product, in-place and old linalg functions
(``x.flip(dims=[1])``, ``torch.reshape(x, shape=...)``, ``x.view(size=...)``, ``torch.max(x, other=y)``,
``torch.sum(x, 1, out=...)`` ...): each call runs under tensorplug and torch with the same values, dtypes and
gradients; misuse raises torch's TypeError."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

from ._compare import same

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:torch.* is deprecated:UserWarning")

RNG = np.random.default_rng(0)
A23 = RNG.standard_normal((2, 3))
B23 = RNG.standard_normal((2, 3))
A13 = RNG.standard_normal((1, 3))
A234 = RNG.standard_normal((2, 3, 4))
SQ = RNG.standard_normal((3, 3)) + 3 * np.eye(3)
IDX = np.array([[0, 2, 1], [1, 0, 0]])

# (id, fn(module, *tensors), arrays)
CASES = [
    # views and reshapes
    ("flip_method_dims", lambda m, x: x.flip(dims=[1]), (A23,)),
    ("flip_function_dims", lambda m, x: m.flip(x, dims=(1,)), (A23,)),
    ("flip_all_keywords", lambda m, x: m.flip(input=x, dims=(0, 1)), (A23,)),
    ("flip_positional_ints", lambda m, x: x.flip(0, 1), (A23,)),
    ("permute_method_dims", lambda m, x: x.permute(dims=(1, 0)), (A23,)),
    ("permute_function_dims", lambda m, x: m.permute(x, dims=(2, 0, 1)), (A234,)),
    ("permute_all_keywords", lambda m, x: m.permute(input=x, dims=[1, 0]), (A23,)),
    ("reshape_function_shape", lambda m, x: m.reshape(x, shape=(3, 2)), (A23,)),
    ("reshape_all_keywords", lambda m, x: m.reshape(input=x, shape=(-1,)), (A23,)),
    ("reshape_method_shape", lambda m, x: x.reshape(shape=[3, -1]), (A23,)),
    ("view_size", lambda m, x: x.view(size=(3, 2)), (A23,)),
    ("view_size_list", lambda m, x: x.view(size=[6]), (A23,)),
    ("expand_size", lambda m, x: x.expand(size=(4, 3)), (A13,)),
    ("expand_size_minus_one", lambda m, x: x.expand(size=[2, -1, -1]), (A13,)),
    ("repeat_repeats", lambda m, x: x.repeat(repeats=(2, 1)), (A23,)),
    ("transpose_all_keywords", lambda m, x: m.transpose(input=x, dim0=0, dim1=1), (A23,)),
    ("swapdims_dim_keywords", lambda m, x: m.swapdims(x, dim0=0, dim1=2), (A234,)),
    ("swapdims_method_dim_keywords", lambda m, x: x.swapdims(dim0=1, dim1=0), (A23,)),
    ("swapaxes_axis_keywords", lambda m, x: m.swapaxes(x, axis0=0, axis1=1), (A23,)),
    ("squeeze_input", lambda m, x: m.squeeze(input=x, dim=0), (A13,)),
    ("unsqueeze_input", lambda m, x: m.unsqueeze(input=x, dim=1), (A23,)),
    ("flatten_input", lambda m, x: m.flatten(input=x, start_dim=1, end_dim=2), (A234,)),
    # splits and joins
    ("split_method_split_size", lambda m, x: x.split(split_size=1, dim=1), (A23,)),
    ("split_method_split_size_list", lambda m, x: x.split(split_size=[1, 2], dim=1), (A23,)),
    ("split_function_positional", lambda m, x: m.split(x, [2, 1], 1), (A23,)),
    ("tensor_split_sections", lambda m, x: m.tensor_split(x, sections=2, dim=1), (A23,)),
    ("tensor_split_method_sections", lambda m, x: x.tensor_split(sections=3, dim=1), (A23,)),
    ("tensor_split_indices", lambda m, x: m.tensor_split(x, indices=[1], dim=1), (A23,)),
    ("hsplit_sections", lambda m, x: m.hsplit(x, sections=3), (A23,)),
    ("hsplit_method_indices", lambda m, x: x.hsplit(indices=[1, 2]), (A23,)),
    ("concatenate_axis", lambda m, x, y: m.concatenate([x, y], axis=1), (A23, B23)),
    ("concatenate_all_keywords", lambda m, x, y: m.concatenate(tensors=(x, y), axis=0), (A23, B23)),
    ("cat_axis", lambda m, x, y: m.cat([x, y], axis=1), (A23, B23)),
    # extremes and reductions
    ("max_other", lambda m, x, y: m.max(x, other=y), (A23, B23)),
    ("max_method_other", lambda m, x, y: x.max(other=y), (A23, B23)),
    ("min_all_keywords", lambda m, x, y: m.min(input=x, other=y), (A23, B23)),
    ("aminmax_dim_keepdim", lambda m, x: tuple(m.aminmax(x, dim=1, keepdim=True)), (A23,)),
    ("aminmax_all", lambda m, x: tuple(m.aminmax(x)), (A23,)),
    ("aminmax_method", lambda m, x: tuple(x.aminmax(dim=0)), (A23,)),
    # products and in-place
    ("dot_tensor", lambda m, x, y: m.dot(x[0], tensor=y[0]), (A23, B23)),
    ("dot_method_tensor", lambda m, x, y: x[1].dot(tensor=y[1]), (A23, B23)),
    ("addmm_method", lambda m, c, a, b: c.addmm(a, b.mT, beta=0.5, alpha=2), (SQ[:2, :2], A23, B23)),
    ("addmm_method_keywords", lambda m, c, a, b: c.addmm(mat1=a, mat2=b.mT), (SQ[:2, :2], A23, B23)),
    ("copy_other", lambda m, x, y: (x * 1).copy_(other=y), (A23, B23)),
    ("mm_mat2", lambda m, x, y: m.mm(x, mat2=y.mT), (A23, B23)),
    # torch's numpy-style aliases (Karpathy's makemore lectures: counts.sum(1, keepdims=True))
    ("sum_keepdims", lambda m, x: x.sum(1, keepdims=True), (A23,)),
    ("sum_axis", lambda m, x: m.sum(x, axis=0), (A23,)),
    ("mean_axis_keepdims", lambda m, x: x.mean(axis=1, keepdims=True), (A23,)),
    ("max_axis", lambda m, x: tuple(x.max(axis=1, keepdims=True)), (A23,)),
    ("min_axis", lambda m, x: tuple(m.min(x, axis=0)), (A23,)),
    ("amax_axis", lambda m, x: x.amax(axis=1, keepdims=True), (A23,)),
    ("std_var_axis", lambda m, x: (x.std(axis=1), m.var(x, axis=0, keepdims=True)), (A23,)),
    ("prod_logsumexp_axis", lambda m, x: (x.prod(axis=1), x.logsumexp(axis=0, keepdims=True)), (A23,)),
    ("matmul_other", lambda m, x, y: m.matmul(x, other=y.mT), (A23, B23)),
    # torch's old linalg names take input=
    ("det_input", lambda m, a: m.det(input=a), (SQ,)),
    ("inverse_input", lambda m, a: m.inverse(input=a), (SQ,)),
    ("logdet_input", lambda m, a: m.logdet(input=a @ a.mT), (SQ,)),
    ("slogdet_input", lambda m, a: tuple(m.slogdet(input=a)), (SQ,)),
    ("cholesky_input", lambda m, a: m.cholesky(input=a @ a.mT, upper=True), (SQ,)),
    ("qr_input", lambda m, a: tuple(m.qr(input=a, some=False)), (SQ,)),
    ("svd_input", lambda m, a: m.svd(input=a, some=True).S, (SQ,)),
    ("pinverse_rcond", lambda m, a: m.pinverse(a, rcond=1e-3), (SQ,)),
    ("pinverse_positional_rcond", lambda m, a: a.pinverse(1e-3), (SQ,)),
]


@pytest.mark.parametrize("fn,arrays", [pytest.param(fn, arrays, id=name) for name, fn, arrays in CASES])
def test_torch_keyword_names(fn, arrays):
    same(fn, *arrays, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("call", [
    "torch.sum(x, 1, out=o2)", "torch.sum(x, dim=1, keepdim=True, out=o21)", "torch.mean(x, 1, out=o2)",
    "torch.prod(x, dim=1, out=o2)", "torch.norm(x, 2, 1, out=o2)", "torch.max(x, other=y, out=o23)",
    "torch.max(x, 1, out=(o2, i2))", "torch.min(x, 1, out=(o2, i2))", "torch.median(x, 1, out=(o2, i2))",
    "torch.kthvalue(x, 2, 1, out=(o2, i2))", "torch.max(x, out=o0)",
])
def test_reduction_out_keyword(call):
    results = []
    for m in (tp, torch):
        env = {"torch": m, "x": m.tensor(A23), "y": m.tensor(B23), "o2": m.zeros(2, dtype=m.float64),
               "o21": m.zeros(2, 1, dtype=m.float64), "o23": m.zeros(2, 3, dtype=m.float64),
               "o0": m.zeros((), dtype=m.float64), "i2": m.zeros(2, dtype=m.int64)}
        out = eval(call, env)
        # the out tensors hold the result, and the call returns them
        outs = out if isinstance(out, tuple) else (out,)
        assert all(any(o is v for v in env.values()) for o in outs)
        results.append([o.numpy() for o in outs])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("call", [
    "x.flip(1, dims=(1,))", "x.flip()", "torch.flip(x)", "torch.flip(x, dims=1)", "x.reshape()",
    "x.reshape(3, 2, shape=(3, 2))", "x.reshape(shape=6)", "torch.reshape(x)", "x.permute()",
    "x.permute(1, 0, dims=(1, 0))", "x.permute(dims=1)", "torch.permute(x)", "x.expand()",
    "x.expand(2, 3, size=(2, 3))", "x.expand(size=3)", "x.repeat()", "x.repeat(1, 1, repeats=(1, 1))",
    "x.view()", "x.view(3, 2, size=(6,))", "x.split(1, split_size=1)", "x.new_zeros()",
    "x.new_zeros(2, size=(2,))",
])
def test_keyword_misuse_raises_torchs_type_error(call):
    messages = []
    for m in (tp, torch):
        with pytest.raises(TypeError) as info:
            eval(call, {"torch": m, "x": m.ones(2, 3)})
        messages.append(str(info.value).splitlines()[0])
    assert messages[0] == messages[1]


def test_view_dtype_keyword():
    for m in (tp, torch):
        x = m.tensor([1.0, 2.0])
        assert x.view(dtype=m.int32).tolist() == x.view(m.int32).tolist()
    with pytest.raises(TypeError, match="invalid combination"):
        tp.ones(2).view((2,), dtype=tp.int32)
