"""``Parameter``: a Tensor that a Module registers as learnable when assigned as an attribute."""
from __future__ import annotations

from ..tensor import Tensor

__all__ = ["Parameter", "Buffer"]

_new = object.__new__


def _share(cls, data, requires_grad):
    """A ``cls`` instance aliasing ``data``'s storage and version counter."""
    from ..tensor import _shared_data  # a 0-d result's scalar becomes an array both can write
    p = _new(cls)
    p._data = _shared_data(data)
    p._dtype = data._dtype
    p._backend = data._backend
    p._requires_grad = False
    p.grad_fn = None
    p._grad = None
    p._version = data._version
    p._output_nr = 0
    p._hooks = None
    p._retains_grad = False
    p._view = None
    p._views = None
    if requires_grad:
        p.requires_grad_(True)
    return p


class Parameter(Tensor):
    """A Tensor that is a module parameter: assigning it to a Module attribute registers it.

    ``Parameter(t)`` shares ``t``'s data and requires grad by default.

    Example:
        >>> w = nn.Parameter(tensorplug.zeros(3))
        >>> w.requires_grad
        True
    """

    __slots__ = ()

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            from ..creation import empty
            data = empty(0)
        elif not isinstance(data, Tensor):
            raise TypeError(f"Parameter(): data must be a Tensor, got {type(data).__name__}; "
                            f"wrap it first, e.g. Parameter(tensorplug.tensor(values))")
        return _share(cls, data, requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        # as torch's: the copy has the data and requires_grad, not the gradient
        p = _share(type(self), Tensor._make(self._backend.copy(self._data), self._dtype, self._backend),
                   self._requires_grad)
        memo[id(self)] = p
        return p

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (self.detach(), self._requires_grad))


class Buffer(Tensor):
    """A Tensor that a Module registers as a buffer when assigned as an attribute (torch.nn.Buffer);
    ``persistent=False`` keeps it out of the state_dict. The module stores a plain Tensor sharing its data.

    Example:
        >>> m = nn.Module(); m.steps = nn.Buffer(tensorplug.zeros(()))
        >>> list(m.state_dict())
        ['steps']
    """

    __slots__ = ("persistent",)

    def __new__(cls, data=None, *, persistent=True):
        if data is None:
            from ..creation import empty
            data = empty(0)
        elif not isinstance(data, Tensor):
            raise TypeError(f"Buffer(): data must be a Tensor, got {type(data).__name__}; wrap it first, e.g. "
                            f"Buffer(tensorplug.tensor(values))")
        b = _share(cls, data, data.requires_grad)
        b.persistent = persistent
        return b

    def as_tensor(self):
        """A plain Tensor sharing this buffer's data (what the module registers)."""
        return _share(Tensor, self, self._requires_grad)


def _rebuild_parameter(data, requires_grad):
    return Parameter(data, requires_grad)
