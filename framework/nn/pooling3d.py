"""3-D pooling layers and ConvTranspose3d over (N, C, D, H, W) input."""
from __future__ import annotations

from . import functional_pool3d as F3
from .conv import _ConvTransposeNd
from .pooling import _AdaptiveMaxNd, _AdaptiveNd, _MaxPoolNd, _MaxUnpoolNd, AvgPool2d

__all__ = ["MaxPool3d", "AvgPool3d", "AdaptiveAvgPool3d", "AdaptiveMaxPool3d", "MaxUnpool3d", "ConvTranspose3d"]


class MaxPool3d(_MaxPoolNd):
    """Max over sliding windows of (N, C, D, H, W) input (stride defaults to kernel_size).

    Example:
        >>> nn.MaxPool3d(2)(tensorplug.randn(1, 2, 4, 4, 4)).shape
        tensorplug.Size([1, 2, 2, 2, 2])
    """

    def forward(self, input):
        return F3.max_pool3d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                             ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class AvgPool3d(AvgPool2d):
    """Average over sliding windows of (N, C, D, H, W) input."""

    def forward(self, input):
        return F3.avg_pool3d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                             self.count_include_pad, self.divisor_override)


class AdaptiveAvgPool3d(_AdaptiveNd):
    """Average pooling of (N, C, D, H, W) input to a fixed size (``None`` keeps that input size)."""

    def forward(self, input):
        return F3.adaptive_avg_pool3d(input, self.output_size)


class AdaptiveMaxPool3d(_AdaptiveMaxNd):
    """Max pooling of (N, C, D, H, W) input to a fixed size."""

    def forward(self, input):
        return F3.adaptive_max_pool3d(input, self.output_size, self.return_indices)


class MaxUnpool3d(_MaxUnpoolNd):
    """The partial inverse of MaxPool3d: ``forward(input, indices, output_size=None)``."""

    _k = 3

    def forward(self, input, indices, output_size=None):
        return F3.max_unpool3d(input, indices, self.kernel_size, self.stride, self.padding, output_size)


class ConvTranspose3d(_ConvTransposeNd):
    """3-D transposed convolution; ``forward(input, output_size=None)`` picks output_padding for a size.

    Example:
        >>> m = nn.ConvTranspose3d(4, 2, 3, stride=2, padding=1, output_padding=1)
        >>> m(tensorplug.randn(1, 4, 3, 3, 3)).shape
        tensorplug.Size([1, 2, 6, 6, 6])
    """

    _k = 3

    def forward(self, input, output_size=None):
        opad = self._output_padding(input, output_size)
        return F3.conv_transpose3d(input, self.weight, self.bias, self.stride, self.padding, opad, self.groups,
                                   self.dilation)
