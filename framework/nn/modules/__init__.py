"""``torch.nn.modules``: the layer classes under torch's module paths.

Scripts import layers from here (``from torch.nn.modules.loss import _Loss``) or
name them in annotations (``torch.nn.modules.module.Module``). Every name is the
very object ``tensorplug.nn`` exports, so ``isinstance`` and subclassing work
whichever path a script uses.
"""
from __future__ import annotations

import sys

from . import (activation, adaptive, batchnorm, channelshuffle, container, conv, distance, dropout, flatten,
               fold, instancenorm, linear, loss, module, normalization, padding, pixelshuffle, pooling, rnn,
               sparse, transformer, upsampling, utils)

_nn = vars(sys.modules["tensorplug.nn"])
__all__ = sorted(name for name, value in _nn.items()
                 if isinstance(value, type) and not name.startswith("_") and name != "Parameter")
globals().update({name: _nn[name] for name in __all__})
del _nn
