"""``tensorplug.Generator``: a seed holder for code that passes ``generator=`` (DataLoader, random_split)."""
from __future__ import annotations

import random

from .device import device as _device

__all__ = ["Generator", "default_generator"]

_DEFAULT_SEED = 67280421310721  # torch's initial seed, so seeds print the same


class Generator:
    """A pseudo-random generator state, as ``torch.Generator``.

    The data utilities (samplers, ``random_split``) draw from it; tensor
    factories draw from their backend's generator (``tensorplug.manual_seed``).

    Example:
        >>> g = Generator().manual_seed(0)
        >>> g.initial_seed()
        0
    """

    def __init__(self, device="cpu"):
        self.device = _device(device)
        self._seed = _DEFAULT_SEED

    def manual_seed(self, seed):
        seed = int(seed)
        if not -2 ** 63 <= seed < 2 ** 64:
            raise RuntimeError(f"Overflow when unpacking long: seed {seed} does not fit in 64 bits")
        self._seed = seed % 2 ** 64
        return self

    def initial_seed(self) -> int:
        return self._seed

    def seed(self) -> int:
        self._seed = random.randrange(2 ** 63)
        return self._seed

    def get_state(self):
        from .creation import tensor
        from . import dtypes
        return tensor(list(self._seed.to_bytes(8, "little")), dtype=dtypes.uint8)

    def set_state(self, state):
        self._seed = int.from_bytes(bytes(state.tolist()), "little")
        return self

    def __repr__(self):
        return f"<tensorplug.Generator object at {hex(id(self))}>"


default_generator = Generator()
