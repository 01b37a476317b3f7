"""tensorplug.fft against torch.fft: values, result dtypes, gradients (real and complex inputs, random
upstream gradients through .real / .abs() / view_as_real losses), frequencies, shifts and errors."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp
from torch_compare import assert_matches_numpy_backend, assert_same_as_torch, assert_same_error, second_order_grads

torch = pytest.importorskip("torch")

R = np.random.default_rng(7)
REAL = R.standard_normal((4, 6))
CPLX = R.standard_normal((4, 6)) + 1j * R.standard_normal((4, 6))
CUBE = R.standard_normal((3, 4, 5))
CCUBE = R.standard_normal((3, 4, 5)) + 1j * R.standard_normal((3, 4, 5))

# each case returns a real tensor: the loss weights it with cosines (a random upstream gradient)
_AS_REAL = lambda m, z: m.view_as_real(z.resolve_conj())  # noqa: E731 - torch's ihfft returns a lazy conj
CASES = {
    "fft": (lambda m, x: _AS_REAL(m, m.fft.fft(x)), [REAL]),
    "fft_complex": (lambda m, x: _AS_REAL(m, m.fft.fft(x)), [CPLX]),
    "fft_n_pad_dim0": (lambda m, x: _AS_REAL(m, m.fft.fft(x, n=7, dim=0)), [CPLX]),
    "fft_n_trim_ortho": (lambda m, x: m.fft.fft(x, n=4, norm="ortho").abs(), [CPLX]),
    "ifft_forward": (lambda m, x: m.fft.ifft(x, norm="forward").real, [CPLX]),
    "ifft_real": (lambda m, x: m.fft.ifft(x).imag.resolve_neg(), [REAL]),
    "rfft": (lambda m, x: _AS_REAL(m, m.fft.rfft(x)), [REAL]),
    "rfft_odd_n_ortho": (lambda m, x: m.fft.rfft(x, n=5, norm="ortho").abs(), [REAL]),
    "rfft_dim0_forward": (lambda m, x: _AS_REAL(m, m.fft.rfft(x, dim=0, norm="forward")), [REAL]),
    "irfft": (lambda m, x: m.fft.irfft(x), [CPLX]),
    "irfft_odd_n": (lambda m, x: m.fft.irfft(x, n=9), [CPLX]),
    "irfft_trim_ortho": (lambda m, x: m.fft.irfft(x, n=4, norm="ortho"), [CPLX]),
    "irfft_forward_dim0": (lambda m, x: m.fft.irfft(x, dim=0, norm="forward"), [CPLX]),
    "irfft_of_rfft": (lambda m, x: m.fft.irfft(m.fft.rfft(x), n=6), [REAL]),
    "hfft": (lambda m, x: m.fft.hfft(x), [CPLX]),
    "hfft_n_ortho": (lambda m, x: m.fft.hfft(x, n=7, norm="ortho"), [CPLX]),
    "ihfft": (lambda m, x: _AS_REAL(m, m.fft.ihfft(x)), [REAL]),
    "ihfft_forward": (lambda m, x: _AS_REAL(m, m.fft.ihfft(x, n=5, norm="forward")), [REAL]),
    "fft2": (lambda m, x: _AS_REAL(m, m.fft.fft2(x)), [CUBE]),
    "ifft2_s": (lambda m, x: _AS_REAL(m, m.fft.ifft2(x, s=(3, 7))), [CCUBE]),
    "fftn_s_dim": (lambda m, x: m.fft.fftn(x, s=(5, -1), dim=(0, 2), norm="ortho").abs(), [CCUBE]),
    "ifftn": (lambda m, x: _AS_REAL(m, m.fft.ifftn(x)), [CCUBE]),
    "rfft2": (lambda m, x: _AS_REAL(m, m.fft.rfft2(x)), [CUBE]),
    "rfftn_dims": (lambda m, x: _AS_REAL(m, m.fft.rfftn(x, dim=(2, 0), norm="forward")), [CUBE]),
    "irfft2": (lambda m, x: m.fft.irfft2(x), [CCUBE]),
    "irfftn_s_odd": (lambda m, x: m.fft.irfftn(x, s=(3, 4, 7)), [CCUBE]),
    "hfft2": (lambda m, x: m.fft.hfft2(x, norm="ortho"), [CCUBE]),
    "ihfftn": (lambda m, x: _AS_REAL(m, m.fft.ihfftn(x, s=(4, 5))), [CUBE]),
    # a spectral convolution (FNO-style): rfft, complex weights, irfft
    "spectral_conv": (lambda m, x, w: m.fft.irfft(m.fft.rfft(x) * m.view_as_complex(w), n=6),
                      [REAL, R.standard_normal((4, 4, 2))]),
    "fftshift": (lambda m, x: m.fft.fftshift(x), [CUBE]),
    "ifftshift_dim": (lambda m, x: m.fft.ifftshift(x, dim=(0, -1)), [CUBE]),
}


@pytest.mark.parametrize("name", CASES)
def test_values_and_gradients_match_torch(name):
    assert_same_as_torch(*CASES[name])



@pytest.mark.parametrize("name", ["fft_complex", "rfft", "irfft", "hfft", "ihfft", "fftn_s_dim", "irfftn_s_odd",
                                  "spectral_conv"])
def test_double_backward_matches_torch(name):
    fn, arrays = CASES[name]
    for got, want in zip(second_order_grads(tp, fn, arrays), second_order_grads(torch, fn, arrays)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)



DTYPE_CASES = [("fft", "float32"), ("fft", "float64"), ("fft", "int64"), ("fft", "bool"), ("fft", "complex64"),
               ("ifft", "int32"), ("rfft", "float32"), ("rfft", "int64"), ("irfft", "complex64"), ("irfft", "float64"),
               ("irfft", "int64"), ("hfft", "float32"), ("ihfft", "float64"), ("fftn", "int16"), ("irfftn", "complex128")]


@pytest.mark.parametrize("fn,dtype", DTYPE_CASES)
def test_result_dtypes_match_torch(fn, dtype):
    got = getattr(tp.fft, fn)(tp.ones(3, 4, dtype=getattr(tp, dtype)))
    want = getattr(torch.fft, fn)(torch.ones(3, 4, dtype=getattr(torch, dtype)))
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    np.testing.assert_allclose(got.numpy(), want.resolve_conj().numpy(), atol=1e-6)


def test_integer_input_follows_the_default_dtype():
    previous = tp.get_default_dtype()
    tp.set_default_dtype(tp.float64)
    try:
        assert tp.fft.fft(tp.arange(4)).dtype == tp.complex128
        assert tp.fft.rfftfreq(4).dtype == tp.float64
    finally:
        tp.set_default_dtype(previous)


@pytest.mark.parametrize("call", [
    lambda m: m.fft.fftfreq(5), lambda m: m.fft.fftfreq(6, d=0.1), lambda m: m.fft.rfftfreq(5, 2.0),
    lambda m: m.fft.rfftfreq(8), lambda m: m.fft.fftfreq(4, dtype=m.float64), lambda m: m.fft.fftfreq(1),
    lambda m: m.fft.fftshift(m.arange(7)), lambda m: m.fft.ifftshift(m.arange(12).reshape(3, 4)),
    lambda m: m.fft.fftshift(m.fft.fftfreq(6)), lambda m: m.fft.ifftshift(m.arange(6).reshape(2, 3), dim=1),
])
def test_frequencies_and_shifts_match_torch(call):
    got, want = call(tp), call(torch)
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_fftfreq_requires_grad():
    assert tp.fft.fftfreq(4, requires_grad=True).requires_grad


ERRORS = {
    "rfft_complex": lambda m: m.fft.rfft(m.ones(4, dtype=m.complex64)),
    "rfftn_complex": lambda m: m.fft.rfftn(m.ones(2, 4, dtype=m.complex64)),
    "ihfftn_complex": lambda m: m.fft.ihfftn(m.ones(2, 4, dtype=m.complex64)),
    "half": lambda m: m.fft.fft(m.ones(4, dtype=m.float16)),
    "bfloat16": lambda m: m.fft.rfft(m.ones(4, dtype=m.bfloat16)),
    "n_zero": lambda m: m.fft.fft(m.ones(4), n=0),
    "irfft_of_one_bin": lambda m: m.fft.irfft(m.ones(1, dtype=m.complex64)),
    "bad_norm": lambda m: m.fft.fft(m.ones(4), norm="bad"),
    "dim_out_of_range": lambda m: m.fft.fft(m.ones(4), dim=3),
    "zero_dim": lambda m: m.fft.fft(m.tensor(3.0)),
    "s_longer_than_ndim": lambda m: m.fft.fftn(m.ones(4, 4), s=(2, 2, 2)),
    "repeated_dims": lambda m: m.fft.fftn(m.ones(4, 4), dim=(0, 0)),
    "s_dim_lengths": lambda m: m.fft.fftn(m.ones(4, 4), s=(2, 2), dim=(0,)),
    "fftfreq_int": lambda m: m.fft.fftfreq(4, dtype=m.int64),
}


@pytest.mark.parametrize("name", ERRORS)
def test_errors_match_torch(name):
    assert_same_error(ERRORS[name])


def test_torch_fft_under_the_alias():
    from tensorplug.runner import torch_alias
    with torch_alias():
        import torch as aliased
        import torch.fft as aliased_fft
        assert aliased_fft.rfft is tp.fft.rfft
        assert aliased.fft.fftfreq is tp.fft.fftfreq


@pytest.mark.parametrize("name", ["fft_complex", "rfft_odd_n_ortho", "irfft_odd_n", "hfft", "ihfft_forward",
                                  "fftn_s_dim", "irfftn_s_odd", "spectral_conv", "ifftshift_dim"])
def test_every_backend_matches_numpy(name, backend):
    """The transforms use only the backend's fft method and the standard (array_api_strict included)."""
    assert_matches_numpy_backend(*CASES[name])


def test_out_keyword_as_torch():
    results = []
    for m in (tp, torch):
        out = m.empty(0, dtype=m.complex64)
        returned = m.fft.rfft(m.arange(6.0), out=out)
        freq = m.empty(4)
        m.fft.fftfreq(4, out=freq)
        two_d = m.fft.fft2(m.ones(2, 3), out=m.empty(2, 3, dtype=m.complex64))
        assert returned is out
        results.append([out.numpy(), freq.numpy(), two_d.numpy()])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, atol=1e-6)
