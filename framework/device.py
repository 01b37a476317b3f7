"""``tensorplug.device``: where a tensor lives, as a (type, index) pair."""
from __future__ import annotations

import threading

__all__ = ["device"]

_entered = threading.local()  # per thread, the stack of use_backend blocks that ``with device(...)`` opened


class device:
    """A device such as ``device("cpu")``, ``device("cuda:1")`` or ``device("cuda", 1)``.

    Example:
        >>> device("cuda:1").index
        1
    """

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        elif not isinstance(type, str):
            raise TypeError(f"device() expected a string like 'cpu' or 'cuda:0', got {type!r}")
        elif not type:
            raise RuntimeError("Device string must not be empty: use 'cpu', 'cuda' or 'cuda:0'")
        elif ":" in type:
            if index is not None:
                raise RuntimeError(f"type (string) must not include an index because index was passed explicitly: {type}")
            type, _, text = type.partition(":")
            if not text.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}:{text}': the index must be a non-negative integer")
            index = int(text)
        if index is not None and (not isinstance(index, int) or index < 0):
            raise RuntimeError(f"Device index must not be negative, got {index}")
        if not type or not type.isidentifier():
            raise RuntimeError(f"Invalid device string: '{type}': expected a device type like 'cpu' or "
                               f"'cuda', optionally with ':<index>'")
        self.type = type
        self.index = index

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (self.type, self.index))

    def __enter__(self):
        """``with device("cuda"):``: new tensors go to this device inside the block (torch's device mode)."""
        from .registry import use_backend
        block = use_backend(str(self))
        block.__enter__()
        stack = _entered.__dict__.setdefault("stack", [])
        stack.append(block)
        return self

    def __exit__(self, *exc):
        return _entered.stack.pop().__exit__(*exc)
