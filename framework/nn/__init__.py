"""Neural-network layers, losses and functional API (``tensorplug.nn``).

Losses that plugins add (``tensorplug_add_losses``) appear here too:
``tensorplug.nn.<Name>`` looks them up in ``tensorplug.registry.losses()``.
"""
from __future__ import annotations

from .parameter import Parameter, Buffer
from .module import Module
from .container import Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict
from .linear import Identity, Linear, Bilinear, LazyLinear
from .activation import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .sparse import Embedding, EmbeddingBag
from .flatten import Flatten, Unflatten
from .loss import *  # noqa: F401,F403
from .loss import _Loss, _WeightedLoss
from .loss import _Loss as Loss  # the public base class for plugin losses (torch's is private)
from . import attention, functional, init, utils
from .conv import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .pooling3d import *  # noqa: F401,F403
from .fold import Fold, Unfold
from .ctc import CTCLoss
from .rnn import *  # noqa: F401,F403
from .transformer import *  # noqa: F401,F403
from .transformer_decoder import *  # noqa: F401,F403
from .upsampling import *  # noqa: F401,F403
from .padding import *  # noqa: F401,F403
from .syncbatchnorm import SyncBatchNorm
from .layers_extra import *  # noqa: F401,F403
from . import parallel
from . import modules  # torch's module paths (torch.nn.modules.linear.Linear), last: it reads the names above



def __getattr__(name):
    # losses that plugins provide, discovered on first access
    hint = ""
    if not name.startswith("_"):
        from .. import registry
        found = registry.losses().get(name)
        if found is not None:
            globals()[name] = found
            return found
        # a plugin's rejected value, close matches, installed plugins that are not loaded
        names = [n for n in globals() if not n.startswith("_")] + list(registry.losses())
        hint = registry.missing_hint("loss", name, choices=names)
    raise AttributeError(f"module 'tensorplug.nn' has no attribute '{name}'" + (f"; {hint}" if hint else ""))
