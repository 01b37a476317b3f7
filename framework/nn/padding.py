"""Padding layers, distance layers and PReLU: thin modules over ``F.pad``, ``F.cosine_similarity``,
``F.pairwise_distance`` and ``F.prelu``, with torch's constructors and reprs."""
from __future__ import annotations

from .. import creation
from . import functional as F
from .module import Module
from .parameter import Parameter

__all__ = ["ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d",
           "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
           "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d", "CosineSimilarity",
           "PairwiseDistance", "PReLU"]


class _Pad(Module):
    _mode = "constant"
    _dims = 1

    def __init__(self, padding, value=0.0):
        super().__init__()
        self.padding = tuple(padding) if isinstance(padding, (tuple, list)) else (padding,) * (2 * self._dims)
        if len(self.padding) != 2 * self._dims:
            raise ValueError(f"{type(self).__name__}: padding must be an int or a {2 * self._dims}-tuple")
        self.value = value

    def forward(self, input):
        if self._mode == "constant":
            return F.pad(input, self.padding, "constant", self.value)
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self):
        return f"{self.padding}"


def _pad_class(name, mode, dims, constant=False, zero=False):
    if constant:
        def init(self, padding, value):
            _Pad.__init__(self, padding, value)

        def extra(self):
            return f"padding={self.padding}, value={self.value}"

        body = {"__init__": init, "extra_repr": extra}
    elif zero:
        def init(self, padding):
            _Pad.__init__(self, padding, 0.0)

        body = {"__init__": init}
    else:
        body = {}
    cls = type(name, (_Pad,), {"_mode": mode, "_dims": dims, "__doc__": f"{mode.capitalize()} padding of the last "
                                                                       f"{dims} dim(s).", **body})
    cls.__module__ = __name__
    return cls


ConstantPad1d = _pad_class("ConstantPad1d", "constant", 1, constant=True)
ConstantPad2d = _pad_class("ConstantPad2d", "constant", 2, constant=True)
ConstantPad3d = _pad_class("ConstantPad3d", "constant", 3, constant=True)
ZeroPad1d = _pad_class("ZeroPad1d", "constant", 1, zero=True)
ZeroPad2d = _pad_class("ZeroPad2d", "constant", 2, zero=True)
ZeroPad3d = _pad_class("ZeroPad3d", "constant", 3, zero=True)
ReflectionPad1d = _pad_class("ReflectionPad1d", "reflect", 1)
ReflectionPad2d = _pad_class("ReflectionPad2d", "reflect", 2)
ReflectionPad3d = _pad_class("ReflectionPad3d", "reflect", 3)
ReplicationPad1d = _pad_class("ReplicationPad1d", "replicate", 1)
ReplicationPad2d = _pad_class("ReplicationPad2d", "replicate", 2)
ReplicationPad3d = _pad_class("ReplicationPad3d", "replicate", 3)
CircularPad1d = _pad_class("CircularPad1d", "circular", 1)
CircularPad2d = _pad_class("CircularPad2d", "circular", 2)
CircularPad3d = _pad_class("CircularPad3d", "circular", 3)


class CosineSimilarity(Module):
    """Cosine similarity of ``x1`` and ``x2`` along ``dim``."""

    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """The ``p``-norm distance between the rows of ``x1`` and ``x2``."""

    def __init__(self, p=2.0, eps=1e-6, keepdim=False):
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1, x2):
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class PReLU(Module):
    """``max(0, x) + a * min(0, x)`` with a learned slope ``a`` (one, or one per channel)."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(creation.full((num_parameters,), init, device=device, dtype=dtype))

    def reset_parameters(self):
        from ..autograd.grad_mode import no_grad
        with no_grad():
            self.weight.fill_(self.init)

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"
