"""Creation, legacy constructors, conversion basics, printing and the creation error rows, against torch."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tensorplug

torch = pytest.importorskip("torch")


def same(ours, theirs):
    """Same dtype, shape and values as a torch tensor."""
    assert repr(ours.dtype) == repr(theirs.dtype).replace("torch.", "tensorplug."), (ours.dtype, theirs.dtype)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy().astype(float), theirs.numpy().astype(float), rtol=1e-6, atol=1e-7)


# factories ------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    "zeros(2, 3)", "zeros((2, 3))", "zeros([4])", "zeros(M.Size([2, 1]))", "zeros(())", "zeros(0, 3)",
    "ones(3, dtype=M.int32)", "ones(2, 2, dtype=M.float64)", "ones(2, dtype=M.bool)", "ones(1, dtype=M.uint8)",
    "full((2, 2), 7)", "full((2,), 2.5)", "full((3,), True)", "full((2,), 3, dtype=M.float16)",
    "eye(3)", "eye(2, 4)", "eye(3, dtype=M.int64)",
    "arange(5)", "arange(2, 9, 3)", "arange(5, 0, -1)", "arange(0, 1, 0.1)", "arange(1, 2.5, 0.5)",
    "arange(5.0)", "arange(0, 10, 3, dtype=M.float64)", "arange(-1.5, 1.5, 0.25)", "arange(0)",
    "linspace(0, 1, 5)", "linspace(-2, 3, 11)", "linspace(0, 1, 1)", "linspace(1, 0, 0)",
    "linspace(0, 10, 4, dtype=M.float64)",
    "tensor([1, 2, 3])", "tensor([1, 2.5])", "tensor([True, 1])", "tensor([True, False])", "tensor(3.5)",
    "tensor([[1, 2], [3, 4]])", "tensor([])", "tensor([[]])", "tensor([1, 2], dtype=M.float64)",
    "tensor([1.7, -2.7], dtype=M.int64)", "tensor(np.arange(3, dtype=np.int32))",
    "tensor(np.ones((2, 2), dtype=np.float64))", "tensor(np.array(2.5, dtype=np.float32))",
    "FloatTensor([1, 2])", "LongTensor([1.7, 2])", "DoubleTensor([[1], [2]])", "IntTensor([3])",
    "ByteTensor([1, 255])", "BoolTensor([1, 0])", "Tensor([1, 2])", "Tensor([[1.5]])",
])
def test_factory_matches_torch(call):
    env = {"np": np}
    theirs = eval("M." + call, {**env, "M": torch})
    ours = eval("M." + call, {**env, "M": tensorplug})
    same(ours, theirs)


@pytest.mark.parametrize("sizes", [(4, 6), (3,), (2, 0, 1)])
@pytest.mark.parametrize("name", ["Tensor", "FloatTensor", "DoubleTensor", "LongTensor", "IntTensor",
                                  "ByteTensor", "BoolTensor", "HalfTensor", "ShortTensor", "CharTensor"])
def test_legacy_constructors_from_sizes(name, sizes):
    ours, theirs = getattr(tensorplug, name)(*sizes), getattr(torch, name)(*sizes)
    assert tuple(ours.shape) == tuple(theirs.shape) == sizes
    assert ours.type() == theirs.type()
    repr(ours)  # uninitialised memory prints without crashing


def test_legacy_empty_constructor():
    assert tuple(tensorplug.Tensor().shape) == (0,)
    assert repr(tensorplug.Tensor()) == repr(torch.Tensor())


def test_legacy_classes_answer_isinstance():
    f = tensorplug.zeros(2)
    lng = tensorplug.tensor([1, 2])
    assert isinstance(f, tensorplug.FloatTensor) and isinstance(f, tensorplug.Tensor)
    assert not isinstance(f, tensorplug.LongTensor) and isinstance(lng, tensorplug.LongTensor)
    assert isinstance(tensorplug.DoubleTensor(2), tensorplug.DoubleTensor)
    assert isinstance(tensorplug.BoolTensor([True]), tensorplug.BoolTensor)
    assert not isinstance([1.0], tensorplug.FloatTensor)
    assert repr(tensorplug.FloatTensor) == "<class 'tensorplug.FloatTensor'>"


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32",
                                   "float64"])
def test_type_names_match_torch(dtype):
    ours = tensorplug.zeros(2, dtype=getattr(tensorplug, dtype))
    theirs = torch.zeros(2, dtype=getattr(torch, dtype))
    assert ours.type() == theirs.type()


def test_type_converts():
    x = tensorplug.tensor([1.5, -2.5])
    assert x.type(tensorplug.DoubleTensor).dtype is tensorplug.float64
    assert x.type("torch.IntTensor").tolist() == torch.tensor([1.5, -2.5]).type("torch.IntTensor").tolist()
    assert x.type(tensorplug.int64).dtype is tensorplug.int64
    with pytest.raises(ValueError, match="invalid type"):
        x.type("torch.NopeTensor")


def test_full_infers_dtype_like_torch():
    for value in (2, 2.5, True):
        assert repr(tensorplug.full((1,), value).dtype).split(".")[1] == repr(torch.full((1,), value).dtype).split(".")[1]


def test_empty_is_the_right_shape_and_dtype():
    x = tensorplug.empty(3, 2, dtype=tensorplug.float64)
    assert x.shape == (3, 2) and x.dtype is tensorplug.float64
    repr(tensorplug.empty(50, 50))


def test_like_factories_keep_shape_dtype_and_device():
    base = tensorplug.zeros(2, 3, dtype=tensorplug.float64)
    for fn in (tensorplug.zeros_like, tensorplug.ones_like, tensorplug.empty_like, tensorplug.rand_like,
               tensorplug.randn_like):
        out = fn(base)
        assert out.shape == (2, 3) and out.dtype is tensorplug.float64 and out.device == base.device
    assert tensorplug.ones_like(base, dtype=tensorplug.int32).dtype is tensorplug.int32
    assert tensorplug.full_like(base, 4).tolist() == [[4.0] * 3] * 2
    ints = tensorplug.randint_like(tensorplug.zeros(50, dtype=tensorplug.int64), 3)
    assert ints.dtype is tensorplug.int64 and 0 <= ints.min().item() and ints.max().item() < 3
    r = tensorplug.zeros_like(base, requires_grad=True)
    assert r.requires_grad and r.is_leaf


# random ------------------------------------------------------------------------------------

def test_random_factories_ranges_and_dtypes():
    u = tensorplug.rand(1000)
    assert u.dtype is tensorplug.float32 and 0 <= u.min().item() and u.max().item() < 1
    n = tensorplug.randn(20000, dtype=tensorplug.float64)
    assert abs(n.mean().item()) < 0.05 and abs(n.std().item() - 1) < 0.05
    r = tensorplug.randint(3, 7, (500,))
    assert r.dtype is tensorplug.int64 and set(r.tolist()) == {3, 4, 5, 6}
    assert tensorplug.randint(5, (2, 3)).shape == (2, 3)
    p = tensorplug.randperm(50)
    assert p.dtype is tensorplug.int64 and sorted(p.tolist()) == list(range(50))
    assert tensorplug.rand(2, 3, requires_grad=True).requires_grad


def test_manual_seed_reproduces_every_generator():
    def draw():
        return (tensorplug.rand(5).tolist(), tensorplug.randn(3).tolist(), tensorplug.randint(0, 100, (4,)).tolist(),
                tensorplug.randperm(6).tolist())
    tensorplug.manual_seed(1234)
    first = draw()
    tensorplug.manual_seed(1234)
    assert draw() == first
    tensorplug.manual_seed(4321)
    assert draw() != first


def test_random_errors():
    with pytest.raises(RuntimeError, match="expects 'from' to be less than 'to'"):
        tensorplug.randint(5, 5, (2,))
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        tensorplug.rand(2, dtype=tensorplug.int64)


# numpy interop ---------------------------------------------------------------------------

def test_from_numpy_shares_memory_both_ways():
    a = np.zeros(3, dtype=np.float64)
    t = tensorplug.from_numpy(a)
    assert t.dtype is tensorplug.float64
    a[0] = 5
    assert t.tolist() == [5.0, 0.0, 0.0]
    t.numpy()[1] = 7
    assert a[1] == 7 and np.shares_memory(t.numpy(), a)
    copy = tensorplug.tensor(a)
    a[2] = 9
    assert copy.tolist() == [5.0, 7.0, 0.0]


def test_from_numpy_refuses_what_torch_refuses():
    with pytest.raises(TypeError, match="expected np.ndarray"):
        tensorplug.from_numpy([1, 2])
    with pytest.raises(TypeError, match="can't convert np.ndarray of type"):
        tensorplug.from_numpy(np.array(["a"]))


def test_numpy_of_a_tensor_shares_memory():
    t = tensorplug.zeros(3)
    view = t.numpy()
    view[0] = 2
    assert t.tolist() == [2.0, 0.0, 0.0]
    assert np.asarray(t).dtype == np.float32


# printing ---------------------------------------------------------------------------------

PRINT_CASES = [
    "tensor([1, 2, 3])", "tensor(-5)", "tensor(3)", "tensor([10**12, 1])",
    "tensor([1.0, 2.0, 3.0])", "tensor([1.5, 2.25, -3.0])", "tensor(3.5)", "tensor([1.0]) / 3",
    "tensor([[1.0, 2.5], [3.0, 4.0]])", "arange(24.0).reshape(2, 3, 4)", "arange(8.0).reshape(2, 2, 2) / 3",
    "tensor([1e-5, 1.0])", "tensor([1e10, 1.0])", "tensor([123456789.0])", "tensor([1e-3, 1e3])",
    "tensor([[1e-8, 1.0]])", "tensor([100000.0, 1.0])", "tensor([12345.678])", "tensor([0.1, 0.2, 0.3]) * 1000",
    "tensor([1.0, -1.0, 0.0]) * 1e9", "tensor([0.0, 1e-5])", "tensor([-1e-5, 100.0])",
    "tensor([])", "zeros(2, 0)", "tensor([[[]]])", "zeros(0, dtype=M.int64)", "zeros(0, dtype=M.float64)",
    "tensor([True, False])", "zeros(3, 2, dtype=M.bool)",
    "tensor([1, 2], dtype=M.int32)", "tensor([1.0, 2.0], dtype=M.float64)", "tensor([1.5], dtype=M.float16)",
    "tensor([1, 2], dtype=M.uint8)", "tensor([1, 2], dtype=M.float64).sum()",
    "tensor(2.0, requires_grad=True)", "tensor([1.0, 2.0], requires_grad=True) * 2",
    "tensor([float('nan'), float('inf'), 1.5])", "tensor([0.0, 12.5, float('nan')])",
    "tensor([float('inf'), -1.0, 0.0])", "tensor([0.0, 0.0, 0.0])", "tensor([float('nan')])",
    "ones(3, 40)", "linspace(0, 1, 30)", "tensor([1+2j, 3-1j])", "arange(30).reshape(3, 10) * 1000000",
    "tensor([0.0, 1234.5])", "arange(1001.0).reshape(1001, 1)",
]
# torch pads a row-level ellipsis to " ..." and sizes float columns by the nonzero finite values only;
# tensorplug/_format.py does neither yet (reported to its owner)
PRINT_KNOWN_BAD = {
    "arange(2000.0)": "summarised row: torch writes ',  ...,' (' ...'), tensorplug ', ...,'",
    "arange(1001)": "summarised row: torch writes ',  ...,' (' ...'), tensorplug ', ...,'",
    "arange(3000).reshape(3, 1000)": "summarised row ellipsis width",
    "arange(2000.0).reshape(40, 50)": "summarised row ellipsis width",
    "tensor([float('nan'), 1.0])": "width from nonzero finite values only: torch 'tensor([nan, 1.])'",
    "tensor([-0.0, 1.0])": "width from nonzero finite values only: torch 'tensor([-0., 1.])'",
}


def _reprs(case):
    theirs = repr(eval("M." + case, {"M": torch}))
    ours = repr(eval("M." + case, {"M": tensorplug})).replace("tensorplug.", "torch.")
    return ours, theirs


@pytest.mark.parametrize("case", PRINT_CASES)
def test_printing_matches_torch(case):
    ours, theirs = _reprs(case)
    assert ours == theirs


@pytest.mark.parametrize("case", sorted(PRINT_KNOWN_BAD))
def test_printing_known_differences(case):
    ours, theirs = _reprs(case)
    if ours != theirs:
        pytest.xfail(PRINT_KNOWN_BAD[case])
    assert ours == theirs


def test_summarised_printing_shows_edges_only():
    text = repr(tensorplug.arange(5000))
    assert "..." in text and text.count(",") < 20
    assert repr(tensorplug.arange(1000)).count("...") == 0


def test_uninitialised_memory_prints():
    weird = tensorplug.from_numpy(np.array([np.nan, np.inf, -np.inf, 1e300, -1e-300, 0.0]))
    text = repr(weird)
    assert text.startswith("tensor([") and "inf" in text and "nan" in text


def test_size_repr_and_methods():
    s = tensorplug.zeros(2, 3).shape
    assert repr(s) == repr(torch.Size([2, 3])).replace("torch.", "tensorplug.")
    assert s == (2, 3) and s.numel() == 6 and isinstance(s[1:], tensorplug.Size)
    assert tensorplug.zeros(2, 3).size(1) == 3 and tensorplug.zeros(2, 3).size(-2) == 2


# errors (ERRORS.md rows that belong to creation) ---------------------------------------------

def test_negative_dimension():
    for call in (lambda: tensorplug.zeros(2, -2), lambda: tensorplug.empty(-1), lambda: tensorplug.Tensor(3, -2),
                 lambda: tensorplug.ones((-5,)), lambda: tensorplug.rand(-1)):
        with pytest.raises(RuntimeError, match="negative dimension -?[0-9]"):
            call()


def test_ragged_list():
    with pytest.raises(ValueError, match=r"expected sequence of length 2 at dim 1 \(got 1\)"):
        tensorplug.tensor([[1, 2], [3]])
    with pytest.raises(ValueError) as theirs:
        torch.tensor([[1, 2], [3]])
    with pytest.raises(ValueError) as ours:
        tensorplug.tensor([[1, 2], [3]])
    assert str(ours.value).startswith(str(theirs.value))


def test_string_data():
    with pytest.raises(TypeError, match="invalid data type 'str'"):
        tensorplug.tensor("abc")
    with pytest.raises(TypeError, match="invalid data type 'str'"):
        tensorplug.tensor(["a", "b"])


def test_huge_allocation_is_out_of_memory_error():
    for call in (lambda: tensorplug.empty(2 ** 47), lambda: tensorplug.zeros(2 ** 24, 2 ** 24),
                 lambda: tensorplug.full((2 ** 46,), 1.0)):
        with pytest.raises(tensorplug.OutOfMemoryError) as exc:
            call()
        assert isinstance(exc.value, RuntimeError) and isinstance(exc.value, MemoryError)
        assert "can't allocate memory" in str(exc.value) and "bytes" in str(exc.value)
    with pytest.raises(MemoryError, match=str(2 ** 47 * 4)):
        tensorplug.empty(2 ** 47)


def test_item_on_many_elements():
    with pytest.raises(RuntimeError, match="a Tensor with 3 elements cannot be converted to Scalar"):
        tensorplug.zeros(3).item()
    assert tensorplug.tensor([[2.5]]).item() == 2.5
    assert isinstance(tensorplug.tensor(3).item(), int)


def test_len_and_iter_of_zero_dim():
    x = tensorplug.tensor(1.0)
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(x)
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(x)
    assert len(tensorplug.zeros(4, 2)) == 4
    assert [row.tolist() for row in tensorplug.tensor([[1, 2], [3, 4]])] == [[1, 2], [3, 4]]


def test_bool_of_many():
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value is ambiguous"):
        bool(tensorplug.zeros(2))
    assert bool(tensorplug.tensor([1])) is True and bool(tensorplug.tensor(0.0)) is False


def test_step_and_steps_errors():
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        tensorplug.arange(0, 5, 0)
    with pytest.raises(RuntimeError, match="upper bound and larger bound inconsistent with step sign"):
        tensorplug.arange(0, 5, -1)
    with pytest.raises(RuntimeError, match="number of steps must be non-negative"):
        tensorplug.linspace(0, 1, -1)


def test_scalar_conversions():
    x = tensorplug.tensor([2.75])
    assert float(x) == 2.75 and int(x) == 2 and math.isclose(complex(x).real, 2.75)
    assert [10, 20, 30][tensorplug.tensor(1)] == 20
    with pytest.raises(TypeError, match="only integer tensors of a single element"):
        [1, 2][tensorplug.tensor(1.0)]


@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "rand", "randn"])
def test_size_keyword_as_torch(name):
    # pyGAT's layers: nn.Parameter(torch.empty(size=(in_features, out_features)))
    for lib in (tensorplug, torch):
        assert tuple(getattr(lib, name)(size=(2, 3)).shape) == (2, 3)
        assert tuple(getattr(lib, name)(size=[4]).shape) == (4,)
        with pytest.raises(TypeError, match="size"):
            getattr(lib, name)(2, size=(2,))


@pytest.mark.parametrize("call", [
    "arange(end=5)", "arange(start=1, end=5)", "arange(1, end=5)", "arange(start=0.5, end=3, step=0.5)",
    "arange(end=4, dtype=M.float64)", "arange(5)", "arange(1, 5, 2)",
])
def test_arange_keywords_as_torch(call):
    same(eval(call, {"M": tensorplug}, {"arange": tensorplug.arange}),
         eval(call, {"M": torch}, {"arange": torch.arange}))


@pytest.mark.parametrize("call", [
    "randint(high=5, size=(2, 3))", "randint(0, high=5, size=(4,))", "randint(5, size=(3,))",
    "randint(low=2, high=5, size=(2, 2), generator=g)", "randint(5, (3,), dtype=M.int32)",
])
def test_randint_keywords_as_torch(call):
    for lib in (tensorplug, torch):
        g = lib.Generator()
        g.manual_seed(0)
        out = eval(call, {"M": lib, "g": g}, {"randint": lib.randint})
        assert out.dtype == (lib.int32 if "int32" in call else lib.int64)
        low = 2 if "low=2" in call else 0
        assert out.min() >= low and out.max() < 5
    shapes = [tuple(eval(call, {"M": lib, "g": lib.Generator()}, {"randint": lib.randint}).shape)
              for lib in (tensorplug, torch)]
    assert shapes[0] == shapes[1]


@pytest.mark.parametrize("name", ["new_zeros", "new_ones", "new_empty"])
def test_new_factories_size_keyword_as_torch(name):
    for lib in (tensorplug, torch):
        x = lib.ones(2, dtype=lib.float64)
        out = getattr(x, name)(size=(2, 3))
        assert tuple(out.shape) == (2, 3) and out.dtype == lib.float64
        with pytest.raises(TypeError, match="got multiple values for argument 'size'"):
            getattr(x, name)(2, size=(2,))
