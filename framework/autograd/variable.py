"""``Variable``: the pre-0.4 wrapper, now just a Tensor (as in torch)."""
from __future__ import annotations

from .engine import ExecutionEngine


class _VariableMeta(type):
    def __instancecheck__(cls, obj):
        from ..tensor import Tensor
        return isinstance(obj, Tensor)


class Variable(metaclass=_VariableMeta):
    """``Variable(tensor, requires_grad=False)`` returns the tensor itself (torch's behaviour).

    Example:
        >>> x = Variable(tensorplug.Tensor([1, 2, 3]), requires_grad=True)
    """

    # torch's handle on the engine: ``Variable._execution_engine.queue_callback(fn)``
    _execution_engine = ExecutionEngine()

    def __new__(cls, data=None, requires_grad=False, volatile=False):
        from ..tensor import Tensor, tensor
        if data is None:
            data = Tensor()
        if not isinstance(data, Tensor):
            data = tensor(data)
        if requires_grad:
            data.requires_grad_(True)
        return data
