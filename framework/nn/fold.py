"""``nn.Fold`` / ``nn.Unfold``: col2im and im2col as layers over ``F.fold`` / ``F.unfold``."""
from __future__ import annotations

from .module import Module
from . import functional_conv as _conv

__all__ = ["Fold", "Unfold"]


class _SlidingBlocks(Module):
    # the block geometry Fold and Unfold share: their arguments and repr after Fold's output_size
    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, stride={self.stride}"


class Fold(_SlidingBlocks):
    """Sum sliding blocks ``(N, C*kH*kW, L)`` back into ``(N, C, *output_size)`` (``F.fold``).

    Example:
        >>> fold = tensorplug.nn.Fold(output_size=(4, 5), kernel_size=2)
        >>> fold(tensorplug.ones(1, 3 * 2 * 2, 12)).shape
        tensorplug.Size([1, 3, 4, 5])
    """

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__(kernel_size, dilation, padding, stride)
        self.output_size = output_size

    def forward(self, input):
        return _conv.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return f"output_size={self.output_size}, " + super().extra_repr()


class Unfold(_SlidingBlocks):
    """Sliding local blocks of ``(N, C, H, W)`` as columns ``(N, C*kH*kW, L)`` (``F.unfold``, im2col).

    Example:
        >>> unfold = tensorplug.nn.Unfold(kernel_size=(2, 3))
        >>> unfold(tensorplug.ones(2, 5, 3, 4)).shape
        tensorplug.Size([2, 30, 4])
    """

    def forward(self, input):
        return _conv.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)
