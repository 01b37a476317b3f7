"""The NumPy backend's compiled loops (backends/tensorplug_numpy/_loops.py, through numba where installed): GELU's
give bit for bit what the NumPy code they stand in for gives, LayerNorm's and softmax's the same to rounding
and row by row, the float32 exp within an ulp of the exact one; without numba, or with TENSORPLUG_JIT=0, the
NumPy code runs."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

_special = pytest.importorskip("tensorplug_numpy._special")
_jit = pytest.importorskip("tensorplug_numpy._jit")
_norm = pytest.importorskip("tensorplug_numpy._norm")
_softmax = pytest.importorskip("tensorplug_numpy._softmax")


def _numba_importable():
    try:
        import numba  # noqa: F401
    except Exception:
        return False
    return True


needs_numba = pytest.mark.skipif(not _numba_importable() or os.environ.get("TENSORPLUG_JIT") == "0",
                                 reason="numba is not installed (the jit extra), or TENSORPLUG_JIT=0")
# the row kernels sum in another order than the NumPy code: equal to rounding
row_dtypes = pytest.mark.parametrize("dtype, rtol", [(np.float32, 2e-6), (np.float64, 1e-14)])
# the NumPy path warns on inf * 0 (gelu(-inf) is nan in both, as torch's)
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _inputs():
    rng = np.random.default_rng(0)
    edge = np.float32(2.4748738)  # where the float32 polynomial's argument reaches 1 (t >= 1: the float64 path)
    parts = [
        rng.standard_normal(1 << 17) * 3,
        np.linspace(-30, 30, 20001),
        np.nextafter(np.full(64, edge), np.float32(np.inf)) + np.arange(64) * np.float32(2e-7),
        -np.nextafter(np.full(64, edge), np.float32(0)) - np.arange(64) * np.float32(2e-7),
        [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-38, -1e-45, 3.4e38, -3.4e38, 8.48, -8.48, 5.43, -5.43, 13.2, -13.2],
    ]
    return np.concatenate([np.asarray(p, np.float64) for p in parts]).astype(np.float32)


def _with_jit(jit, fn, *args):
    saved = _jit._enabled
    _jit._enabled = None if jit else False
    try:
        return fn(*args)
    finally:
        _jit._enabled = saved


def _gelu(x, jit):
    return _with_jit(jit, _special.gelu, x, "none")


@needs_numba
@pytest.mark.parametrize("size", [_special.JIT_MIN, (1 << 18) + 7, 3 * (1 << 18) + 1000])
def test_compiled_gelu_is_bit_identical_to_the_numpy_code(size):
    x = np.resize(_inputs(), size)  # whole and partial blocks, every remainder of the 8-flag words
    y_jit, cdf_jit = _gelu(x, jit=True)
    assert _jit.enabled() and "gelu32" in _jit._compiled  # the compiled path did run
    y_np, cdf_np = _gelu(x, jit=False)
    np.testing.assert_array_equal(cdf_jit, cdf_np)
    np.testing.assert_array_equal(y_jit, y_np)  # nan where nan, same sign of zero
    assert np.array_equal(np.signbit(y_jit), np.signbit(y_np))


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_gelu_gradient_is_bit_identical_to_the_numpy_code(dtype):
    x = np.resize(_inputs(), 3 * (1 << 18) + 1000).astype(dtype)
    g = np.random.default_rng(1).standard_normal(x.size).astype(dtype)
    _, cdf = _gelu(x, jit=False)
    got = _with_jit(True, _special.gelu_backward, x, cdf, g, "none")
    assert "gelu_grad_post" in _jit._compiled
    np.testing.assert_array_equal(got, _with_jit(False, _special.gelu_backward, x, cdf, g, "none"))


def test_small_arrays_never_import_numba():
    code = ("import sys, tensorplug, tensorplug.nn.functional as F\n"
            "F.gelu(tensorplug.randn(64, 64))\n"
            "print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False"], out.stderr


@pytest.mark.parametrize("env, numba_blocked, expected", [("1", False, None), ("0", False, False),
                                                          ("1", True, False)])
def test_switched_off_by_the_environment_or_without_numba(env, numba_blocked, expected):
    if expected is None:
        expected = _numba_importable()
    code = ("import sys\n"
            + ("sys.modules['numba'] = None\n" if numba_blocked else "")  # import numba then raises ImportError
            + "import numpy as np\n"
              "from tensorplug_numpy import _jit, _special\n"
              "x = np.linspace(-9, 9, 1 << 16, dtype=np.float32)\n"
              "_special.gelu(x, 'none')\n"
              "print(_jit.enabled(), 'gelu32' in _jit._compiled)")
    env_vars = dict(os.environ, TENSORPLUG_JIT=env)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env_vars)
    assert out.stdout.split() == [str(expected), str(expected)], out.stderr


@needs_numba
@row_dtypes
@pytest.mark.parametrize("affine", [True, False])
def test_compiled_layer_norm_agrees_with_the_numpy_passes_row_by_row(dtype, rtol, affine):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((300, 77)) * 5 + 3).astype(dtype)  # 77: a row length no vector width divides
    g = rng.standard_normal(x.shape).astype(dtype)
    w, b = (rng.standard_normal(77).astype(dtype), rng.standard_normal(77).astype(dtype)) if affine else (None, None)
    got = _with_jit(True, _norm.layer_norm, x, w, b, 1e-5)
    assert "layer_norm" in _jit._compiled
    want = _with_jit(False, _norm.layer_norm, x, w, b, 1e-5)
    for a, e in zip(got, want):
        np.testing.assert_allclose(a, e, rtol=rtol, atol=rtol * np.abs(e).max())
    # a row's values do not depend on the rows beside it (one loop per row, whatever the batch)
    one = _with_jit(True, _norm.layer_norm, x[5:6], w, b, 1e-5)
    for a, e in zip(one, got):
        np.testing.assert_array_equal(a[0], e[5])
    grads = _with_jit(True, _norm.layer_norm_backward, g, w, got[1], got[2], True, affine, affine)
    want = _with_jit(False, _norm.layer_norm_backward, g, w, got[1], got[2], True, affine, affine)
    for a, e in zip(grads, want):
        if e is not None:
            np.testing.assert_allclose(a, e, rtol=rtol * 10, atol=rtol * 10 * np.abs(e).max())


@needs_numba
@row_dtypes
@pytest.mark.parametrize("log", [False, True])
def test_compiled_softmax_agrees_with_the_array_code_row_by_row(dtype, rtol, log):
    import tensorplug
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((6, 5, 77)) * 6).astype(dtype)
    x[0, 0, 3], x[0, 1, :], x[1, 2, 9], x[2, 0, 0] = np.inf, -np.inf, np.nan, np.nan  # rows nan throughout
    fn = tensorplug.nn.functional.log_softmax if log else tensorplug.nn.functional.softmax
    got = _with_jit(True, lambda: fn(tensorplug.tensor(x), dim=-1).numpy())
    assert ("softmax32" if dtype == np.float32 else "softmax_scale") in _jit._compiled
    want = _with_jit(False, lambda: fn(tensorplug.tensor(x), dim=-1).numpy())
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)
    assert np.isnan(got[0, :2]).all() and np.isnan(got[1, 2]).all() and np.isnan(got[2, 0]).all()
    one = _with_jit(True, _softmax.softmax, x[3:4, 1:2], log)
    np.testing.assert_array_equal(one[0, 0], got[3, 1])  # a row's values do not depend on the batch
    assert _with_jit(False, _softmax.softmax, x, log) is NotImplemented  # declined: the frontend's code runs

    x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    g = rng.standard_normal(x.shape).astype(dtype)
    grads = []
    for jit in (True, False):
        t = tensorplug.tensor(x, requires_grad=True)
        _with_jit(jit, lambda: fn(t, dim=-1).backward(tensorplug.tensor(g)))
        grads.append(t.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=rtol * 10, atol=rtol * 10)


@needs_numba
def test_compiled_float32_exp_is_within_an_ulp_of_the_exact_one_over_its_whole_range():
    import numba
    from tensorplug_numpy._loops import _exp32

    @numba.njit("void(float32[::1], float32[::1])")
    def exp32(x, out):
        for i in range(x.size):
            out[i] = _exp32(x[i])

    rng = np.random.default_rng(5)
    x = np.concatenate([np.linspace(-88, 89, 1 << 22, dtype=np.float32),
                        rng.uniform(-1, 1, 1 << 16).astype(np.float32) * np.float32(1e-3),
                        np.float32([0.0, -0.0, 0.5 * np.log(2), -87.33654, -87.33655, 88.7228317, 88.722832])])
    got = np.empty_like(x)
    exp32(x, got)
    with np.errstate(over="ignore"):
        exact = np.exp(x.astype(np.float64))
        rounded = exact.astype(np.float32)
    normal = (rounded >= np.finfo(np.float32).tiny) & np.isfinite(rounded)
    assert np.all(np.abs(got[normal] - exact[normal]) <= np.spacing(rounded[normal]))  # an ulp of the result
    assert np.all(got[~normal] == np.where(rounded[~normal] == np.inf, np.inf, 0))  # subnormals flushed to 0
    assert (~normal).sum() > 1000
    specials = np.float32([-100, -np.inf, 100, np.inf, np.nan, -np.nan])
    out = np.empty_like(specials)
    exp32(specials, out)
    np.testing.assert_array_equal(out, [0, 0, np.inf, np.inf, np.nan, np.nan])


@needs_numba
def test_compiled_float32_tanh_and_sigmoid_are_within_a_few_ulp():
    import numba
    from tensorplug_numpy._loops import _sigmoid32, _tanh32

    @numba.njit("void(float32[::1], float32[::1], float32[::1])", error_model="numpy")
    def both(x, tanh, sigmoid):
        for i in range(x.size):
            tanh[i] = _tanh32(x[i])
            sigmoid[i] = _sigmoid32(x[i])

    rng = np.random.default_rng(6)
    x = np.concatenate([np.linspace(-20, 20, 1 << 20, dtype=np.float32),
                        rng.standard_normal(1 << 16).astype(np.float32) * np.float32(1e-4),  # tanh(x) ~ x
                        np.float32([0.625, -0.625, np.nextafter(np.float32(0.625), np.float32(0)), 1e-30, -1e-30])])
    tanh, sigmoid = np.empty_like(x), np.empty_like(x)
    both(x, tanh, sigmoid)
    x64 = x.astype(np.float64)
    # tanh within 2 ulp; sigmoid within 3 where small (exp's error, then a division: NumPy's float32
    # 1 / (1 + exp(-x)) is 3.7 ulp off there)
    for got, exact, ulps in ((tanh, np.tanh(x64), 2), (sigmoid, 1 / (1 + np.exp(-x64)), 3)):
        assert np.all(np.abs(got - exact) <= ulps * np.spacing(np.abs(exact).astype(np.float32)))
    specials = np.float32([np.inf, -np.inf, 100, -100, np.nan, 0.0, -0.0])
    tanh, sigmoid = np.empty_like(specials), np.empty_like(specials)
    both(specials, tanh, sigmoid)
    np.testing.assert_array_equal(tanh, [1, -1, 1, -1, np.nan, 0, 0])
    np.testing.assert_array_equal(sigmoid, [1, 0, 1, 0, np.nan, 0.5, 0.5])
    assert np.signbit(tanh[-1])  # tanh(-0) is -0


@needs_numba
def test_compiled_lstm_cell_agrees_with_the_array_code():
    import tensorplug
    from tensorplug_numpy import _fused
    rng = np.random.default_rng(7)
    x = rng.standard_normal((12, 6, 10)).astype(np.float32)
    runs = []
    for jit in (True, False):
        tensorplug.manual_seed(0)
        lstm = tensorplug.nn.LSTM(10, 16, num_layers=2)
        inp = tensorplug.tensor(x, requires_grad=True)

        def run():
            out, (h, c) = lstm(inp)
            (out.square().sum() + h.sum() + c.sum()).backward()
            return [t.detach().numpy() for t in (out, h, c, inp.grad, *(p.grad for p in lstm.parameters()))]
        runs.append(_with_jit(jit, run))
    assert "lstm_cell32" in _jit._compiled and "lstm_cell_grad" in _jit._compiled
    for a, e in zip(*runs):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)
    z = np.zeros((2, 8))  # float64: declined (the compiled functions are float32's)
    assert _with_jit(True, _fused.lstm_cell, z, z, z[:, :2], z[:, :2], z[:, :2], z[:, :2]) is NotImplemented


def test_read_only_arrays_pass_through_the_compiled_kernels():
    # a tensor sharing a read-only NumPy array (the differential test found softmax refusing one)
    import tensorplug
    F = tensorplug.nn.functional
    rng = np.random.default_rng(4)
    for shape, fn in (((64, 600), lambda t: F.gelu(t)), ((6, 40), lambda t: F.softmax(t, -1)),
                      ((6, 40), lambda t: F.log_softmax(t, -1)), ((6, 40), lambda t: F.layer_norm(t, (40,)))):
        data = rng.standard_normal(shape).astype(np.float32)
        data.flags.writeable = False
        out = fn(tensorplug.from_numpy(data))
        np.testing.assert_allclose(out.numpy(), fn(tensorplug.tensor(data.copy())).numpy(), rtol=1e-6, atol=1e-7)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_unpooling_gives_the_numpy_codes_scatter(dtype):
    # max pooling's backward without overlapping windows: each gradient stored at its argmax
    backend = __import__("tensorplug").get_backend("numpy")
    rng = np.random.default_rng(5)
    x = rng.integers(-3, 3, (3, 4, 10, 12)).astype(dtype)  # ties: the first of equal elements is kept
    x[0, 0, 1, 2], x[1, 2, 3, 3], x[1, 2, 3, 4] = np.nan, np.nan, np.nan
    values, index = backend.max_pool(x, (2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1))
    g = rng.standard_normal(values.shape).astype(dtype)
    got = _with_jit(True, backend.max_unpool, g, index, x.shape, True)
    assert "unpool_unique" in _jit._compiled
    np.testing.assert_array_equal(got, _with_jit(False, backend.max_unpool, g, index, x.shape, True))


@needs_numba
def test_compiled_relu_gradient_is_torchs_threshold_backward():
    import tensorplug
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    x = rng.standard_normal((64, 16, 40)).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    x[0, 0, :3], g[0, 1, :4] = np.nan, (np.nan, np.inf, -np.inf, 5.0)
    grads = []
    for lib in (tensorplug, torch):
        t = lib.tensor(x, requires_grad=True)
        lib.relu(t).backward(lib.tensor(g))
        grads.append(t.grad.numpy())
    assert "relu_grad" in _jit._compiled
    np.testing.assert_array_equal(grads[0], grads[1])
    assert not np.signbit(grads[0][x <= 0]).any()  # +0 where cut, as torch (a product gave -0 for g < 0)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_row_scatter_adds_in_np_add_at_order(dtype):
    # the embedding and index_select backward: repeated indices accumulate first row to last
    _fused = pytest.importorskip("tensorplug_numpy._fused")
    rng = np.random.default_rng(7)
    index = rng.integers(0, 50, 3000)
    index[:40] = 3
    values = rng.standard_normal((3000, 4, 5)).astype(dtype)
    target = rng.standard_normal((50, 4, 5)).astype(dtype)
    want = target.copy()
    np.add.at(want, index, values)
    assert _with_jit(True, _fused.add_rows, target, index, values)
    assert "add_rows" in _jit._compiled
    np.testing.assert_array_equal(target, want)
    for bad in (index - 1, index + 1):  # -1 or one past the end: the NumPy code's (wrap or IndexError)
        assert not _fused._compiled_add_rows(target, bad, values)
    strided_index, strided_values = index[::2], values[::2]  # views that are not contiguous
    want = target.copy()
    np.add.at(want, strided_index, strided_values)
    assert _with_jit(True, _fused.add_rows, target, strided_index, strided_values)
    np.testing.assert_array_equal(target, want)
