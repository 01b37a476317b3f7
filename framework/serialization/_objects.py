"""Values beyond plain JSON in tensorplug checkpoints: complex numbers, dtypes, devices, sizes."""
from __future__ import annotations

from .. import dtypes as _dt
from ..device import device as _device
from ..tensor import Size

__all__ = ["ObjectEncoder", "Policy"]


class ObjectEncoder:
    """Encodes what is not a tensor or a plain container; ``owner`` is the file's Encoder."""

    def __init__(self, owner):
        self.owner = owner

    def encode(self, obj, where, depth):
        if isinstance(obj, complex):
            real, imag = self.owner.encode(obj.real, where), self.owner.encode(obj.imag, where)
            return {"$": "complex", "real": real, "imag": imag}
        if isinstance(obj, _dt.dtype):
            return {"$": "dtype", "name": obj.name}
        if isinstance(obj, _device):
            return {"$": "device", "name": str(obj)}
        if isinstance(obj, Size):
            return {"$": "size", "items": [int(n) for n in obj]}
        # numpy scalars and other number-likes that say what they are
        item = getattr(obj, "item", None)
        if callable(item) and getattr(obj, "shape", None) == ():
            return self.owner.encode(item(), where, depth)
        raise TypeError(
            f"cannot save {where}: objects of type {type(obj).__name__} are not supported; tensorplug.save "
            f"takes nested dicts, lists and tuples of tensors, numbers, strings, bools and None (a module's or "
            f"optimizer's state_dict(), not the module itself)")


# loading --------------------------------------------------------------------------

class Policy:
    """What a load may rebuild beyond JSON data."""

    def __init__(self, weights_only):
        self.weights_only = weights_only

    def decode(self, decoder, node, kind, depth):
        field = _Fields(decoder, node)
        if kind == "complex":
            return complex(decoder.decode(node.get("real"), depth + 1), decoder.decode(node.get("imag"), depth + 1))
        if kind == "dtype":
            name = field.get("name", str)
            if name not in _dt.BY_NAME:
                raise decoder.bad(f"unknown dtype {name!r} in the header")
            return _dt.BY_NAME[name]
        if kind == "device":
            try:
                return _device(field.get("name", str))
            except RuntimeError as exc:
                raise decoder.bad(f"bad device in the header: {exc}") from None
        if kind == "size":
            items = field.get("items", list)
            if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in items):
                raise decoder.bad(f"bad size {items!r} in the header")
            return Size(items)
        raise decoder.bad(f"unknown node kind {kind!r} in the header")


class _Fields:
    def __init__(self, decoder, node):
        self.decoder = decoder
        self.node = node

    def get(self, key, kind):
        value = self.node.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.decoder.bad(f"a {self.node.get('$')} node's {key!r} is {value!r}, expected a {kind.__name__}")
        return value
