"""torch.stft / torch.istft (missing; the public-program sweep listed them): spectra, gradients and the
round trip against torch's, in float64 and float32, real and complex signals, every option; torch's
errors (its messages describe the call first; the part after it is compared)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")

rng = np.random.default_rng(0)
SIGNAL = rng.standard_normal((2, 400))
CASES = [dict(n_fft=64), dict(n_fft=64, hop_length=16, win_length=48, window="hann"), dict(n_fft=64, center=False),
         dict(n_fft=64, normalized=True), dict(n_fft=64, onesided=False), dict(n_fft=32, pad_mode="constant"),
         dict(n_fft=64, window="hann", hop_length=10)]


def _spectrum_grad_inverse(m, case):
    options = dict(case)
    if options.get("window") == "hann":
        options["window"] = m.hann_window(options.get("win_length", options["n_fft"]), dtype=m.float64)
    x = m.tensor(SIGNAL, requires_grad=True)
    spectrum = m.stft(x, return_complex=True, **options)
    (spectrum.abs() ** 2).sum().backward()
    options.pop("pad_mode", None)
    inverse = m.istft(spectrum.detach(), length=400, **options)
    return spectrum.detach().numpy(), x.grad.numpy(), inverse.numpy()


@pytest.mark.filterwarnings("ignore:A window was not provided")
@pytest.mark.parametrize("case", CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_stft_istft_and_the_gradient_are_torchs(case):
    for ours, theirs in zip(_spectrum_grad_inverse(tp, case), _spectrum_grad_inverse(torch, case)):
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(_spectrum_grad_inverse(tp, case)[2], SIGNAL, atol=1e-10)  # the round trip


def _more(m):
    x = m.tensor(SIGNAL[0].astype(np.float32))
    z = m.tensor((SIGNAL[0] + 1j * SIGNAL[1]).astype(np.complex64))
    hann = m.hann_window(64)
    spectrum = m.stft(x, 64, window=hann, return_complex=True)
    leaf = spectrum.clone().requires_grad_()
    (m.istft(leaf, 64, window=hann) ** 2).sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        real_pairs = m.stft(x, 64, return_complex=False)
    return [m.stft(x, 64, return_complex=True), real_pairs, m.stft(z, 64), m.istft(spectrum, 64, window=hann), leaf.grad,
            m.istft(m.stft(z, 64, window=hann), 64, window=hann, onesided=False, return_complex=True),
            x.stft(32, return_complex=True)]


@pytest.mark.filterwarnings("ignore:A window was not provided")
def test_one_signal_float32_complex_input_and_methods():
    for ours, theirs in zip(_more(tp), _more(torch)):
        ours, theirs = ours.detach().numpy(), theirs.detach().numpy()
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_a_missing_window_warns_as_torch():
    # torch's own warning is issued once per process (whichever test asked first), so only its text is checked
    with pytest.warns(UserWarning, match="A window was not provided. A rectangular window will be applied"):
        tp.stft(tp.randn(100), 16, return_complex=True)


@pytest.mark.filterwarnings("ignore:A window was not provided")
@pytest.mark.parametrize("call", [
    lambda m: m.stft(m.randn(100), 64),
    lambda m: m.stft(m.randn(2, 2, 100), 16, return_complex=True),
    lambda m: m.stft(m.randn(100), 16, hop_length=0, return_complex=True),
    lambda m: m.stft(m.randn(100), 16, win_length=20, return_complex=True),
    lambda m: m.stft(m.randn(10), 64, return_complex=True, center=False),
    lambda m: m.istft(m.randn(33, 5), 64),
    lambda m: m.istft(m.randn(20, 5, dtype=m.complex64), 64),
    lambda m: m.istft(m.randn(33, 5, dtype=m.complex64), 64, window=m.hann_window(64), center=False),
])
def test_errors_are_torchs(call):
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)) as ours:
        call(tp)
    tail = str(theirs.value).split(") : ")[-1].split(") window ")[-1].split(" min:")[0].split(" matching")[0]
    assert tail in str(ours.value)
