"""Fill a ``torch.nn.modules.<x>`` look-alike with tensorplug.nn's objects of the same names."""
from __future__ import annotations

import sys


def reexport(namespace: dict, names: list) -> list:
    """Bind in ``namespace`` each of ``names`` that ``tensorplug.nn`` defines; return the bound names.

    Names tensorplug lacks stay unbound, so ``from torch.nn.modules.loss import CTCLoss`` fails with
    the runner's "tensorplug does not provide ..." message instead of a placeholder.
    """
    # read nn's namespace directly: its __getattr__ would load loss plugins for every missing name
    nn = vars(sys.modules["tensorplug.nn"])
    found = [name for name in names if name in nn]
    namespace.update({name: nn[name] for name in found})
    return found
