"""``tensorplug.Generator``: a seed holder for code that passes ``generator=`` (DataLoader, random_split)."""
from __future__ import annotations

import contextlib
import random

from .device import device as _device

__all__ = ["Generator", "default_generator", "drawing_from"]

_DEFAULT_SEED = 67280421310721  # torch's initial seed, so seeds print the same


class Generator:
    """A pseudo-random generator, as ``torch.Generator``: ``generator=`` draws come from its own stream.

    The data utilities (samplers, ``random_split``) and every factory or
    sampling op that takes ``generator=`` draw from it; without one they
    draw from their backend's global stream (``tensorplug.manual_seed``).

    Example:
        >>> g = Generator().manual_seed(0)
        >>> g.initial_seed()
        0
    """

    def __init__(self, device="cpu"):
        self.device = _device(device)
        self._seed = _DEFAULT_SEED
        self._streams = {}  # backend name -> that backend's generator state for this Generator

    def manual_seed(self, seed):
        seed = int(seed)
        if not -2 ** 63 <= seed < 2 ** 64:
            raise RuntimeError(f"Overflow when unpacking long: seed {seed} does not fit in 64 bits")
        self._seed = seed % 2 ** 64
        self._streams = {}
        return self

    def initial_seed(self) -> int:
        return self._seed

    def seed(self) -> int:
        self._seed = random.randrange(2 ** 63)
        self._streams = {}
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


@contextlib.contextmanager
def drawing_from(generator, backend, what="this function"):
    """Inside, ``backend``'s random draws come from ``generator``'s own stream, which then moves on.

    None (or the default generator) leaves the backend's global stream in use,
    as torch's default generator is the global one.
    """
    if generator is None or generator is default_generator:
        yield
        return
    if not isinstance(generator, Generator):
        raise TypeError(f"{what}: argument 'generator' must be torch.Generator, not {type(generator).__name__}")
    outer_state, outer_seed = backend.get_rng_state(), getattr(backend, "_seed", None)
    if outer_state is None:
        raise NotImplementedError(f"the {backend.name} backend cannot switch random streams, so {what} cannot "
                                  f"draw from a Generator; leave generator= out")
    state = generator._streams.get(backend.name)
    if state is None:
        backend.manual_seed(generator.initial_seed())
    else:
        backend.set_rng_state(state)
    try:
        yield
    finally:
        generator._streams[backend.name] = backend.get_rng_state()
        backend.set_rng_state(outer_state)
        backend._seed = outer_seed
