"""dtypes and torch's promotion rules, checked against torch and against NumPy where they agree."""
from __future__ import annotations

import itertools
import pickle
import re

import pytest

import tensorplug
from tensorplug import dtypes as dt

torch = pytest.importorskip("torch")

REAL = [dt.bool_, dt.uint8, dt.int8, dt.int16, dt.int32, dt.int64, dt.float16, dt.bfloat16, dt.float32, dt.float64]
ALL = REAL + [dt.complex64, dt.complex128]


def tt(d):
    return getattr(torch, "bool" if d is dt.bool_ else d.name)


def test_names_sizes_and_flags_match_torch():
    for d in ALL:
        t = tt(d)
        assert d.itemsize == t.itemsize, d
        assert d.is_floating_point == t.is_floating_point, d
        assert d.is_complex == t.is_complex, d
        assert d.is_signed == t.is_signed, d
        assert repr(d) == repr(t).replace("torch.", "tensorplug."), d


def test_aliases_are_the_same_objects():
    assert tensorplug.float is tensorplug.float32 and tensorplug.double is tensorplug.float64
    assert tensorplug.long is tensorplug.int64 and tensorplug.int is tensorplug.int32
    assert tensorplug.half is tensorplug.float16 and tensorplug.short is tensorplug.int16
    assert tensorplug.bool is dt.bool_


def test_dtypes_pickle_to_the_same_object():
    for d in ALL:
        assert pickle.loads(pickle.dumps(d)) is d


@pytest.mark.parametrize("a, b", list(itertools.product(ALL, ALL)))
def test_promote_types_matches_torch(a, b):
    assert repr(dt.promote_types(a, b)) == repr(torch.promote_types(tt(a), tt(b))).replace("torch.", "tensorplug.")


def _torch_operand(d, kind):
    if kind == "dim":
        return torch.ones(2, dtype=tt(d))
    return torch.ones((), dtype=tt(d))


@pytest.mark.parametrize("a, b", list(itertools.product(REAL, REAL)))
def test_result_type_with_zero_dim_tensors_matches_torch(a, b):
    for ka, kb in (("dim", "dim"), ("dim", "zero"), ("zero", "dim"), ("zero", "zero")):
        expected = torch.result_type(_torch_operand(a, ka), _torch_operand(b, kb))
        got = dt.result_type(a, ka == "dim", b, kb == "dim")
        assert repr(got) == repr(expected).replace("torch.", "tensorplug."), (a, ka, b, kb)


@pytest.mark.parametrize("d", REAL)
@pytest.mark.parametrize("scalar", [True, 3, -5, 2.5])
def test_result_type_with_python_scalars_matches_torch(d, scalar):
    expected = torch.result_type(torch.ones(2, dtype=tt(d)), scalar)
    got = dt.result_type(d, True, dt.scalar_dtype(scalar), False)
    assert repr(got) == repr(expected).replace("torch.", "tensorplug.")


def test_seed_examples_of_promotion_through_real_ops():
    i64 = tensorplug.tensor([1, 2])
    f32 = tensorplug.tensor([1.0, 2.0])
    f64 = tensorplug.tensor([1.0, 2.0], dtype=tensorplug.float64)
    assert (i64 + f32).dtype is tensorplug.float32  # numpy would give float64
    assert (i64 + 2.5).dtype is tensorplug.float32
    assert (f32 + tensorplug.tensor(1.0, dtype=tensorplug.float64)).dtype is tensorplug.float32
    assert (f32 + f64).dtype is tensorplug.float64
    assert (tensorplug.tensor([1], dtype=tensorplug.uint8) + tensorplug.tensor([1], dtype=tensorplug.int8)).dtype \
        is tensorplug.int16
    assert (tensorplug.tensor([True]) + 1).dtype is tensorplug.int64


def test_scalar_dtype_follows_the_default_dtype():
    assert dt.scalar_dtype(1.5) is tensorplug.float32
    assert dt.scalar_dtype(True) is dt.bool_ and dt.scalar_dtype(7) is tensorplug.int64
    assert dt.scalar_dtype(1j) is tensorplug.complex64
    tensorplug.set_default_dtype(tensorplug.float64)
    try:
        assert dt.scalar_dtype(1.5) is tensorplug.float64
        assert tensorplug.tensor([1.5]).dtype is tensorplug.float64
        assert dt.scalar_dtype(1j) is tensorplug.complex128
    finally:
        tensorplug.set_default_dtype(tensorplug.float32)
    assert tensorplug.get_default_dtype() is tensorplug.float32


def test_set_default_dtype_refuses_non_floats():
    with pytest.raises(TypeError, match="only floating-point types are supported as the default type"):
        tensorplug.set_default_dtype(tensorplug.int64)


def test_numpy_agrees_where_torch_and_numpy_agree():
    np = pytest.importorskip("numpy")
    # among same-kind dtypes torch and numpy promote alike
    for a, b in itertools.product([dt.int8, dt.int16, dt.int32, dt.int64, dt.uint8], repeat=2):
        if dt.uint8 in (a, b) and a is not b:
            continue  # numpy 2: uint8 + int8 -> int16 as well, but uint8 + int64 -> int64; checked below
        assert dt.promote_types(a, b).name == np.promote_types(a.name, b.name).name
    for a, b in itertools.product([dt.float16, dt.float32, dt.float64], repeat=2):
        assert dt.promote_types(a, b).name == np.promote_types(a.name, b.name).name
    assert dt.promote_types(dt.uint8, dt.int8).name == np.promote_types("uint8", "int8").name


@pytest.mark.parametrize("d", ALL)
def test_finfo_and_iinfo_match_torch_fields_reprs_and_errors(d):
    for ours, theirs in ((tensorplug.finfo, torch.finfo), (tensorplug.iinfo, torch.iinfo)):
        try:
            expected = theirs(tt(d))
        except TypeError as exc:
            with pytest.raises(TypeError, match=re.escape(str(exc))):
                ours(d)
            continue
        got = ours(d)
        assert repr(got) == repr(expected)
        for field in got.__slots__:
            assert getattr(got, field) == getattr(expected, field), (d, field)
    assert repr(tensorplug.finfo()) == repr(torch.finfo())


def test_bfloat16_prints_and_computes_as_torch():
    values = [1.5, 2.25, 3.0001, -7.3]
    from tensorplug.runner import torch_alias
    ours = tensorplug.tensor(values, dtype=tensorplug.bfloat16)
    theirs = torch.tensor(values, dtype=torch.bfloat16)
    expected = [repr(theirs)]
    ops = (lambda t: t * 2, lambda t: t + 1.5, lambda t: t.exp(), lambda t: t.float() + 1, lambda t: t.sum())
    expected += [repr(op(theirs)) for op in ops]
    with torch_alias():  # torch's names in the text, so its lines wrap where torch's do
        assert [repr(ours)] + [repr(op(ours)) for op in ops] == expected
    assert ours.tolist() == theirs.tolist()
    assert repr(tensorplug.tensor(3.14159, dtype=tensorplug.bfloat16)).endswith("dtype=tensorplug.bfloat16)")
    assert tensorplug.ones(2).bfloat16().dtype is tensorplug.bfloat16


def test_bfloat16_linear_forward_and_backward_match_torch():
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((5, 3), (4, 3), (4,))]
    results = []
    for lib in (tensorplug, torch):
        x, w, b = (lib.tensor(a).to(lib.bfloat16).requires_grad_() for a in arrays)
        y = lib.nn.functional.linear(x, w, b)
        (y * y).sum().backward()
        results.append([y, x.grad, w.grad, b.grad])
    for got, expected in zip(*results):
        assert str(got.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1] == "bfloat16"
        # bfloat16 keeps 8 bits: the sums may round differently by an ulp or two
        np.testing.assert_allclose(got.float().detach().numpy(), expected.float().detach().numpy(),
                                   rtol=2 ** -6, atol=0.07)


@pytest.mark.parametrize("python_type", [float, int, bool, complex])
def test_python_types_name_torchs_dtypes(python_type):
    # the class float is float64 (the name 'float' is float32): .to(float) gave float32 once
    want = str(getattr(torch.ones(2).to(python_type), "dtype")).split(".")[-1]
    x = tensorplug.ones(2)
    assert str(x.to(python_type).dtype).split(".")[-1] == want
    assert str(x.to(dtype=python_type).dtype).split(".")[-1] == want
    assert str(tensorplug.zeros(2, dtype=python_type).dtype).split(".")[-1] == want
    assert str(tensorplug.tensor([1, 0], dtype=python_type).dtype).split(".")[-1] == want
