"""More of torch.nn's layers: LPPool, GLU, Hardshrink/Softshrink, RReLU, Softmax2d, Dropout3d,
InstanceNorm3d, ChannelShuffle, and the Lazy modules, which read their input size on the first call."""
from __future__ import annotations

from . import functional as F
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d
from .pooling3d import ConvTranspose3d
from .dropout import _DropoutNd
from .module import Module
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d, InstanceNorm2d, _InstanceNorm

__all__ = ["LPPool1d", "LPPool2d", "LPPool3d", "GLU", "Hardshrink", "Softshrink", "RReLU", "Softmax2d",
           "Dropout3d", "InstanceNorm3d", "ChannelShuffle", "LazyConv1d", "LazyConv2d", "LazyConv3d",
           "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d", "LazyBatchNorm1d",
           "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d"]


class _LPPoolNd(Module):
    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def extra_repr(self):
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")

    def forward(self, input):
        return self._pool(input, float(self.norm_type), self.kernel_size, self.stride, self.ceil_mode)


class LPPool1d(_LPPoolNd):
    """Power-average pooling over ``(N, C, L)`` input: each window's ``norm_type``-norm."""
    _pool = staticmethod(F.lp_pool1d)


class LPPool2d(_LPPoolNd):
    """Power-average pooling over the last two dims."""
    _pool = staticmethod(F.lp_pool2d)


class LPPool3d(_LPPoolNd):
    """Power-average pooling over the last three dims."""
    _pool = staticmethod(F.lp_pool3d)


class _OneOption(Module):
    """A layer over one F function with one option (named by ``_option``), shown in its repr."""

    _option = ""

    def __init__(self, value):
        super().__init__()
        setattr(self, self._option, value)

    def extra_repr(self):
        return f"{self._option}={getattr(self, self._option)}"


class GLU(_OneOption):
    """The gated linear unit: the first half of ``dim`` times the sigmoid of the second."""
    _option = "dim"

    def __init__(self, dim=-1):
        super().__init__(dim)

    def forward(self, input):
        return F.glu(input, self.dim)


class _Shrink(Module):
    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def extra_repr(self):
        return f"{self.lambd}"


class Hardshrink(_Shrink):
    """``x`` where ``|x| > lambd``, else 0."""

    def forward(self, input):
        return F.hardshrink(input, self.lambd)


class Softshrink(_Shrink):
    """``x`` moved ``lambd`` towards 0, and 0 within ``lambd`` of it."""

    def forward(self, input):
        return F.softshrink(input, self.lambd)


class RReLU(Module):
    """Randomized leaky ReLU: random slopes in ``[lower, upper]`` in training, their mean in eval."""

    def __init__(self, lower=1.0 / 8, upper=1.0 / 3, inplace=False):
        super().__init__()
        self.lower = lower
        self.upper = upper
        self.inplace = inplace

    def forward(self, input):
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self):
        return f"lower={self.lower}, upper={self.upper}" + (", inplace=True" if self.inplace else "")


class Softmax2d(Module):
    """Softmax over the channels of ``(N, C, H, W)`` or ``(C, H, W)`` input, at every position."""

    def forward(self, input):
        if input.dim() not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.dim()}D instead")
        return F.softmax(input, -3)


class Dropout3d(_DropoutNd):
    """Zero whole channels of 3-D feature maps with probability ``p`` during training."""

    def forward(self, input):
        return F.dropout3d(input, self.p, self.training, self.inplace)


class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation over ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input."""
    _ndim = 5


class ChannelShuffle(_OneOption):
    """Interleave the channels of ``(N, C, *)`` input across ``groups`` groups."""
    _option = "groups"

    def forward(self, input):
        return F.channel_shuffle(input, self.groups)


class _Lazy(Module):
    """A module whose first argument (in_channels / num_features) is read from its first input: the first
    call builds the real module (``_target``) and this object becomes it, as torch's lazy modules do."""

    _target = None
    _spatial = 1  # the number of dims after the channel dim in a batched input
    _defaults = ()  # (position after the first argument, keyword, torch's lazy default) where it differs

    def __init__(self, *args, **kwargs):
        super().__init__()
        for position, keyword, value in self._defaults:
            if len(args) <= position:
                kwargs.setdefault(keyword, value)
        self._lazy_args = (args, kwargs)

    def forward(self, input, *rest, **kwargs):
        batched = input.dim() > self._spatial + 1 or self._spatial == 0
        features = input.shape[1 if batched else 0]
        args, options = self.__dict__.pop("_lazy_args")
        real = self._target(features, *args, **options)
        real.train(self.training)
        for name, value in vars(real).items():
            if "hook" not in name:
                self.__dict__[name] = value
        self.__class__ = self._target
        return self.forward(input, *rest, **kwargs)

    def extra_repr(self):
        args, options = self._lazy_args
        return ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in options.items()])


def _lazy(target, spatial):
    name = f"Lazy{target.__name__}"
    doc = f"{target.__name__} whose first argument (in_channels / num_features) is read from the first input."
    body = {"_target": target, "_spatial": spatial, "__doc__": doc, "__module__": __name__, "__qualname__": name}
    if issubclass(target, _InstanceNorm):  # torch's lazy instance norms default to affine and running stats
        body["_defaults"] = ((2, "affine", True), (3, "track_running_stats", True))
    return type(name, (_Lazy,), body)


# spatial dims after the channel dim (0 for batch norm: its input is always batched, features at dim 1)
for _target, _spatial in ((Conv1d, 1), (Conv2d, 2), (Conv3d, 3), (ConvTranspose1d, 1), (ConvTranspose2d, 2),
                          (ConvTranspose3d, 3), (BatchNorm1d, 0), (BatchNorm2d, 0), (BatchNorm3d, 0),
                          (InstanceNorm1d, 1), (InstanceNorm2d, 2), (InstanceNorm3d, 3)):
    globals()[f"Lazy{_target.__name__}"] = _lazy(_target, _spatial)
