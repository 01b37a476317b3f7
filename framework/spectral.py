"""``stft`` and ``istft``: the short-time Fourier transform and its inverse, as torch's.

Both are compositions of differentiable ops (padding, ``unfold`` into frames, the window, ``fft.rfft`` /
``fft.fft`` and back, ``fold`` for the overlap-add), so their gradients are those ops' gradients.
"""
from __future__ import annotations

import warnings

from .tensor import Tensor

__all__ = ["stft", "istft"]


def _window(window, win_length, n_fft, like):
    """The analysis window as ``n_fft`` values: ``window`` (ones by default) centred in zeros."""
    from . import creation
    if window is None:
        window = creation.ones(win_length, dtype=like.real.dtype if like.is_complex() else like.dtype,
                               device=like.device)
    if window.dim() != 1 or window.shape[0] != win_length:
        raise RuntimeError(f"stft: expected a 1D window tensor of size equal to win_length={win_length}, but got "
                           f"window with size {list(window.shape)}")
    if win_length < n_fft:
        left = (n_fft - win_length) // 2
        from .nn import functional as F
        window = F.pad(window, (left, n_fft - win_length - left))
    return window


def _lengths(n_fft, hop_length, win_length, name):
    hop_length = n_fft // 4 if hop_length is None else hop_length
    win_length = n_fft if win_length is None else win_length
    if hop_length <= 0:
        raise RuntimeError(f"{name}: expected hop_length > 0, but got hop_length={hop_length}")
    if not 0 < win_length <= n_fft:
        raise RuntimeError(f"{name}: expected 0 < win_length <= n_fft, but got win_length={win_length}")
    return hop_length, win_length


def stft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, pad_mode="reflect",
         normalized=False, onesided=None, return_complex=None):
    """The STFT of a 1-D ``(L,)`` or batched ``(B, L)`` signal: ``(B?, n_fft // 2 + 1, frames)`` complex
    frequencies (all ``n_fft`` when ``onesided=False`` or for complex input), frames ``hop_length`` apart.

    Example:
        >>> tensorplug.stft(tensorplug.randn(400), 64, return_complex=True).shape
        tensorplug.Size([33, 26])
    """
    from . import fft
    from .nn import functional as F
    if not isinstance(input, Tensor):
        raise TypeError(f"stft(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    complex_input = input.is_complex() or (window is not None and window.is_complex())
    if return_complex is None:
        if not complex_input:
            raise RuntimeError("stft requires the return_complex parameter be given for real inputs, and will "
                               "further require that return_complex=True in a future PyTorch release.")
        return_complex = True
    if not return_complex:
        warnings.warn("stft with return_complex=False is deprecated. In a future pytorch release, stft will "
                      "return complex tensors for all inputs, and return_complex=False will raise an error.\n"
                      "Note: you can still call torch.view_as_real on the complex output to recover the old "
                      "return format.", UserWarning, stacklevel=2)
    if input.dim() not in (1, 2):
        raise RuntimeError(f"stft: expected a 1D or 2D tensor, but got {input.dim()}D tensor")
    hop_length, win_length = _lengths(n_fft, hop_length, win_length, "stft")
    if window is None:
        warnings.warn("A window was not provided. A rectangular window will be applied,which is known to cause "
                      "spectral leakage. Other windows such as torch.hann_window or torch.hamming_window are "
                      "recommended to reduce spectral leakage.To suppress this warning and use a rectangular "
                      "window, explicitly set `window=torch.ones(n_fft, device=<device>)`.", UserWarning,
                      stacklevel=2)
    x = input if input.dim() == 2 else input.unsqueeze(0)
    if center:
        pad = n_fft // 2
        x = F.pad(x.unsqueeze(1), (pad, pad), mode=pad_mode).squeeze(1)
    if not 0 < n_fft <= x.shape[-1]:
        raise RuntimeError(f"stft: expected 0 < n_fft < {x.shape[-1]}, but got n_fft={n_fft}")
    frames = x.unfold(-1, n_fft, hop_length) * _window(window, win_length, n_fft, input)
    onesided = not complex_input if onesided is None else onesided
    if onesided and complex_input:
        raise RuntimeError("Cannot have onesided output if window or input is complex")
    spectrum = fft.rfft(frames, dim=-1) if onesided else fft.fft(frames, dim=-1)
    if normalized:
        spectrum = spectrum * n_fft ** -0.5
    out = spectrum.transpose(-1, -2)
    out = out if input.dim() == 2 else out.squeeze(0)
    if return_complex:
        return out
    from .ops.complex_numbers import view_as_real
    return view_as_real(out)


def istft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, normalized=False,
          onesided=None, length=None, return_complex=False):
    """The inverse of :func:`stft`: frames back from ``(B?, freq, frames)`` complex input, windowed and
    overlap-added, divided by the summed squared window (which must not vanish anywhere kept)."""
    from . import fft
    from .nn import functional as F
    if not isinstance(input, Tensor) or not input.is_complex():
        raise RuntimeError("istft requires a complex-valued input tensor; use torch.view_as_complex on a real "
                           "(..., 2) input")
    if input.dim() not in (2, 3):
        raise RuntimeError(f"istft: expected a tensor with 2 or 3 dimensions of complex dtype, but got "
                           f"{input.dim()}D")
    hop_length, win_length = _lengths(n_fft, hop_length, win_length, "istft")
    spec = input if input.dim() == 3 else input.unsqueeze(0)
    onesided = spec.shape[-2] != n_fft if onesided is None else onesided
    expected = n_fft // 2 + 1 if onesided else n_fft
    if spec.shape[-2] != expected:
        raise RuntimeError(f"istft: expected the frequency dimension (3rd to the last) of the input tensor to "
                           f"match n_fft / 2 + 1 when onesided=True, but got {spec.shape[-2]}" if onesided else
                           f"istft: expected the frequency dimension (3rd to the last) of the input tensor to "
                           f"match n_fft when onesided=False, but got {spec.shape[-2]}")
    if normalized:
        spec = spec * n_fft ** 0.5
    columns = spec.transpose(-1, -2)
    if onesided:
        frames = fft.irfft(columns, n=n_fft, dim=-1)
    else:
        frames = fft.ifft(columns, dim=-1)
        frames = frames if return_complex else frames.real
    win = _window(window, win_length, n_fft, frames)
    frames = frames * win
    count = frames.shape[-2]
    total = n_fft + hop_length * (count - 1)
    signal = F.fold(frames.transpose(-1, -2), (1, total), (1, n_fft), stride=(1, hop_length)).flatten(1)
    squared = (win * win).reshape(1, n_fft, 1).expand(1, n_fft, count)
    envelope = F.fold(squared, (1, total), (1, n_fft), stride=(1, hop_length)).flatten()
    start = n_fft // 2 if center else 0
    end = total - (n_fft // 2 if center else 0) if length is None else min(start + length, total)
    kept = envelope[start:end]
    if kept.numel() and float(kept.abs().min()) < 1e-11:
        raise RuntimeError("istft(...): window overlap add min: 0; the window must not vanish where frames "
                           "overlap (a hann window needs hop_length <= n_fft // 2, or center=True)")
    out = signal[:, start:end] / kept
    if length is not None and out.shape[-1] < length:
        out = F.pad(out, (0, length - out.shape[-1]))
    if not out.is_complex() and out.dtype is not input.real.dtype:  # a wider window's promotion undone
        out = out.to(input.real.dtype)
    return out if input.dim() == 3 else out.squeeze(0)


def _bind():
    from .ops import bind

    def method_istft(self, n_fft, hop_length=None, win_length=None, window=None, center=True, normalized=False,
                     onesided=None, length=None, return_complex=False):
        return istft(self, n_fft, hop_length, win_length, window, center, normalized, onesided, length,
                     return_complex)
    bind({"stft": stft, "istft": method_istft})


_bind()
