"""``Variable``: the pre-0.4 wrapper, now a function making a Tensor (as in torch)."""
from __future__ import annotations

import warnings

from .engine import ExecutionEngine


class _VariableMeta(type):
    def __instancecheck__(cls, obj):
        from ..tensor import Tensor
        return isinstance(obj, Tensor)


class Variable(metaclass=_VariableMeta):
    """``Variable(tensor, requires_grad=False)``: a new leaf tensor sharing ``tensor``'s storage, which
    requires grad as asked (torch's behaviour; ``tensor`` itself is left as it was).

    Example:
        >>> x = Variable(tensorplug.Tensor([1, 2, 3]), requires_grad=True)
    """

    # torch's handle on the engine: ``Variable._execution_engine.queue_callback(fn)``
    _execution_engine = ExecutionEngine()

    def __new__(cls, data=None, requires_grad=False, volatile=False):
        from ..tensor import Tensor
        if volatile:
            warnings.warn("volatile was removed and now has no effect. Use `with torch.no_grad():` instead.",
                          UserWarning, stacklevel=2)
        if data is None:
            data = Tensor()
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        out = data.detach()
        return out.requires_grad_(True) if requires_grad else out
