"""torch's aliases, acosh/asinh/atanh, the generated in-place variants, torch's top-level in-place functions
and the tensor/dtype questions of ops/info.py -- against torch (values, dtypes, gradients, errors)."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp
from tensorplug.ops.aliases import ALIASES, TOP_LEVEL_IN_PLACE

from ._compare import same

X = np.array([[-0.7, 0.2, 0.5], [0.9, -0.4, 0.1]])
POS = np.array([[1.5, 2.0, 3.5], [1.2, 4.0, 1.1]])


def _errors_alike(fn, phrase):
    """``fn(module)`` raises the same exception type under both libraries, with ``phrase`` in each message."""
    torch = pytest.importorskip("torch")
    caught = []
    for m in (tp, torch):
        with pytest.raises(Exception) as info:
            fn(m)
        assert phrase in str(info.value), (m.__name__, info.value)
        caught.append(type(info.value))
    assert issubclass(caught[0], caught[1]), caught


@pytest.mark.parametrize("name,domain", [("acosh", POS), ("asinh", X), ("atanh", X), ("arccosh", POS),
                                         ("arcsinh", X), ("arctanh", X), ("arccos", X), ("arcsin", X),
                                         ("arctan", X), ("absolute", X), ("fix", X * 3), ("negative", X)])
def test_unary_aliases(name, domain):
    same(lambda m, x: (getattr(m, name)(x), getattr(x, name)()), domain)
    # (torch has no derivative for acosh_ / asinh_ / atanh_; tensorplug's in-place ops all have one)
    same(lambda m, x: getattr(x * 1, f"{name}_")(), domain, grad=name not in ("acosh", "asinh", "atanh",
                                                                              "arccosh", "arcsinh", "arctanh"))
    same(lambda m, x: getattr(m, name)(x), np.array([1, 2, 3]), grad=False)  # ints give floats (abs: ints)


@pytest.mark.parametrize("name", ["divide", "multiply", "subtract", "true_divide", "greater", "greater_equal",
                                  "less", "less_equal", "not_equal"])
def test_binary_aliases(name):
    same(lambda m, x, y: (getattr(m, name)(x, y), getattr(x, name)(y), getattr(x * 1, f"{name}_")(y)), X, POS)


def test_alias_keywords_and_shapes():
    same(lambda m, x, y: (m.divide(x, y, rounding_mode="floor"), x.divide(2, rounding_mode="trunc"),
                          m.subtract(x, y, alpha=2), m.swapdims(x, 0, 1), x.moveaxis(0, -1),
                          m.row_stack([x, y]), m.ger(x[0], y[1]), x[1].ger(y[0])), X, POS)


def test_comparison_in_place_has_a_zero_gradient():
    same(lambda m, x, y: ((x * 2).gt_(y), (x * 2).le_(0.1), (x + 0).eq_(x), (x * 1).logical_and_(y),
                          (x * 1).logical_xor_(y > 2)), X, POS)
    torch = pytest.importorskip("torch")
    for m in (tp, torch):
        x = m.tensor(X, requires_grad=True)
        names = [(x * 2).gt_(0).grad_fn.name(), (x * 2).eq_(x).grad_fn.name(), (x * 2).logical_or_(x).grad_fn.name()]
        assert names == ["GtBackward0", "EqBackward1", "MulBackward0"], (m.__name__, names)


def test_more_in_place_variants():
    same(lambda m, x: ((x * 1).cumsum_(1), (x * 1).cumprod_(0), (x * 1).sinc_(), (x.abs() / 2).logit_(),
                       (x * 1).xlogy_(2.0), (x * 1).sgn_(), (x * 1).nan_to_num_(), (x * 1).deg2rad_(),
                       (x * 1).rad2deg_(), (x * 3).frac_(), x.frac(), m.deg2rad(x), x.positive()), X)


def test_shape_changing_in_place_keeps_the_graph():
    same(lambda m, x: ((x * 1).unsqueeze_(1), (x * 1).t_(), (x * 1).transpose_(0, 1), (x * 1).swapdims_(0, 1),
                       (x * 1).swapaxes_(1, 0), (x * 1).reshape(2, 1, 3).squeeze_(1),
                       (x * 1).reshape(1, 6).squeeze_()), X)
    _errors_alike(lambda m: m.tensor(X, requires_grad=True).squeeze_(), "a leaf Variable that requires grad")


def test_fill_diagonal_():
    same(lambda m, x: ((x * 1).fill_diagonal_(5.0), (x.t() * 1).fill_diagonal_(-1.0)), X)
    for shape, wrap in (((7, 3), True), ((7, 3), False), ((3, 5), True), ((3, 3, 3), False)):
        torch = pytest.importorskip("torch")
        a = tp.zeros(shape).fill_diagonal_(2.0, wrap=wrap)
        b = torch.zeros(shape).fill_diagonal_(2.0, wrap=wrap)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    _errors_alike(lambda m: m.zeros(2, 3, 4).fill_diagonal_(1.0), "all dimensions of input must be of equal length")


def test_sum_to_size():
    same(lambda m, x: (x.sum_to_size(1, 3), x.sum_to_size((2, 1)), x.sum_to_size(2, 3)), X)
    _errors_alike(lambda m: m.ones(2, 3).sum_to_size(3, 3), "is not expandable to size")


@pytest.mark.parametrize("name", TOP_LEVEL_IN_PLACE)
def test_top_level_in_place_functions(name):
    torch = pytest.importorskip("torch")
    args = {"clamp_": (-0.2, 0.3), "clamp_max_": (0.1,), "clamp_min_": (0.1,), "clip_": (-0.2, 0.3),
            "fill_": (2.0,), "xlogy_": (2.0,)}.get(name, ())
    data = np.abs(X) / 2 + 0.1
    a, b = tp.tensor(data), torch.tensor(data)
    assert getattr(tp, name)(a, *args) is a
    getattr(torch, name)(b, *args)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


def test_every_alias_names_what_torch_names():
    torch = pytest.importorskip("torch")
    for alias in ALIASES:
        assert hasattr(torch, alias)
        if hasattr(torch.Tensor, alias):
            assert hasattr(tp.Tensor, alias), alias


def test_predicates():
    torch = pytest.importorskip("torch")
    v = np.array([-np.inf, -0.0, 0.0, -1.5, np.nan, np.inf])
    same(lambda m, x: (m.isneginf(x), x.isposinf(), m.signbit(x), x.signbit(), m.isreal(x)), v, grad=False)
    same(lambda m, x: (m.isneginf(x), m.signbit(x), x.isreal()), np.array([-2, 0, 3]), grad=False)
    same(lambda m, z: (m.isreal(z), z.isreal()), np.array([1 + 0j, 2 - 1j]), grad=False)
    for m in (tp, torch):
        assert m.is_nonzero(m.tensor([2.0])) and not m.tensor(0).is_nonzero()
        assert m.is_signed(m.ones(1)) and not m.ones(1, dtype=m.uint8).is_signed()
        assert m.is_inference(m.ones(1)) is False
        assert m.is_same_size(m.ones(2, 3), m.zeros(2, 3)) and not m.ones(2).is_same_size(m.ones(3))
    _errors_alike(lambda m: m.ones(2).is_nonzero(), "more than one value is ambiguous")
    _errors_alike(lambda m: m.ones(0).is_nonzero(), "with no values is ambiguous")


def test_dtype_questions():
    torch = pytest.importorskip("torch")
    names = ["bool", "uint8", "int32", "int64", "float16", "float32", "float64", "complex64"]
    for a in names:
        for b in names:
            assert tp.can_cast(getattr(tp, a), getattr(tp, b)) == torch.can_cast(getattr(torch, a),
                                                                                 getattr(torch, b)), (a, b)
    cases = [(lambda m: m.ones(2, dtype=m.int32), lambda m: 2.5), (lambda m: m.ones(2), lambda m: m.ones(2).double()),
             (lambda m: m.ones(2), lambda m: m.tensor(1.0, dtype=m.float64)), (lambda m: 1, lambda m: m.ones(1, dtype=m.int8))]
    for a, b in cases:
        assert str(tp.result_type(a(tp), b(tp))).split(".")[-1] == str(torch.result_type(a(torch), b(torch))).split(".")[-1]
    assert tp.typename(tp.ones(2)) == torch.typename(torch.ones(2)) == "torch.FloatTensor"
    assert tp.typename(3) == torch.typename(3) == "int"
    assert tp.is_storage(tp.ones(1)) is False


def test_tensor_attributes():
    torch = pytest.importorskip("torch")
    for m in (tp, torch):
        t = m.arange(12.0).reshape(3, 4)
        assert (t.nbytes, t.itemsize, t.is_cpu, t.is_meta, t.get_device()) == (48, 4, True, False, -1)
        assert (t[1:].storage_offset(), t[:, 2].storage_offset(), t.storage_offset()) == (4, 2, 0)
        assert t[1].data_ptr() - t.data_ptr() == 16 and t.data_ptr() != 0
        x = m.ones(2, requires_grad=True)
        y = x * 2
        assert not y.retains_grad
        y.retain_grad()
        assert y.retains_grad and y.output_nr == 0 and m.ones(2).new(3, 2).shape == (3, 2)
        assert t.new([1, 2]).dtype == t.dtype and t.new().shape == (0,)


def test_global_switches():
    torch = pytest.importorskip("torch")
    try:
        tp.use_deterministic_algorithms(True, warn_only=True)
        assert tp.are_deterministic_algorithms_enabled() and tp.is_deterministic_algorithms_warn_only_enabled()
    finally:
        tp.use_deterministic_algorithms(False)
    assert not tp.are_deterministic_algorithms_enabled()
    _errors_alike(lambda m: m.use_deterministic_algorithms(1), "must be bool")
    _errors_alike(lambda m: m.set_num_interop_threads(0), "expects a positive integer")
    assert tp.get_num_interop_threads() >= 1 and tp.set_flush_denormal(True) in (True, False)
    tp.manual_seed(123)
    assert tp.initial_seed() == 123
    torch.manual_seed(123)
    assert torch.initial_seed() == 123
