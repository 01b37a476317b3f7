"""Shuffling randomness shared by the samplers and random_split."""
from __future__ import annotations

import random
import weakref

import tensorplug as _tp

# randomness ------------------------------------------------------------------------
# Shuffling is bookkeeping, not math, so it runs on Python's ``random``. Each
# generator object owns one Python RNG seeded from ``generator.initial_seed()``
# that advances from epoch to epoch (as a torch.Generator would); with no
# generator a seed is drawn from tensorplug's global RNG, so
# ``tensorplug.manual_seed`` makes shuffling reproducible.

_RNGS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_RNGS_BY_ID: dict = {}


def _rng(generator):
    if generator is None:
        seed = int(_tp.randint(0, 2 ** 62, (1,)).item())
        return random.Random(seed)
    if not hasattr(generator, "initial_seed"):
        raise TypeError(f"generator must be a Generator (with initial_seed()), got {type(generator).__name__}")
    seed = int(generator.initial_seed())
    try:
        entry = _RNGS.get(generator)
        store = _RNGS
    except TypeError:
        entry = _RNGS_BY_ID.get(id(generator))
        store = _RNGS_BY_ID
        generator = id(generator)
    if entry is None or entry[0] != seed:
        # a new generator, or manual_seed() gave it a new seed: start over
        entry = (seed, random.Random(seed))
        store[generator] = entry
    return entry[1]


def _permutation(n, generator):
    order = list(range(n))
    _rng(generator).shuffle(order)
    return order
