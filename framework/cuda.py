"""``tensorplug.cuda``: what torch.cuda offers, answered by the backend that serves ``cuda``.

Nothing here names a backend library: the answers come from the registered
backend spec of device type ``cuda`` (its probe says whether and why not) and,
once CUDA is known to be available, from that backend's instance. Asking
whether CUDA is available never imports CuPy.

Example:
    >>> import tensorplug
    >>> tensorplug.cuda.is_available()   # False here, and unavailable_reason() says why
    False
"""
from __future__ import annotations

import warnings

from .errors import BackendUnavailableError
from .registry import REGISTRY, backend_specs

__all__ = ["is_available", "unavailable_reason", "device_count", "current_device", "set_device",
           "synchronize", "manual_seed", "manual_seed_all", "seed", "initial_seed", "memory_allocated",
           "max_memory_allocated", "memory_reserved", "memory_stats", "empty_cache", "get_device_name",
           "is_initialized", "device", "max_memory_reserved", "reset_peak_memory_stats",
           "reset_max_memory_allocated", "is_bf16_supported"]

_state = {"current": 0, "seed": None}


def _spec():
    specs = [s for s in backend_specs().values() if s.device_type == "cuda"]
    if not specs:
        return None
    return max(specs, key=lambda s: s.priority)


def unavailable_reason():
    """``None`` when CUDA is usable, else why not (no backend, no cupy, no driver, no device)."""
    spec = _spec()
    if spec is None:
        return ("no installed backend serves device type 'cuda' (the cupy backend plugin, "
                "tensorplug_cupy, is not registered)")
    try:
        return spec.probe()
    except Exception as exc:  # a broken probe means unavailable, never a crash
        return f"backend '{spec.name}' probe failed: {type(exc).__name__}: {exc}"


def is_available() -> bool:
    """True when a CUDA backend can run here. Cheap: does not import the backend's library."""
    return unavailable_reason() is None


def _backend(device=None):
    """The CUDA backend for ``device`` (None: the current device); raises with the reason if unavailable."""
    spec = _spec()
    reason = unavailable_reason()
    if reason:
        name = spec.name if spec is not None else "cuda"
        raise BackendUnavailableError(
            f"CUDA is unavailable (backend '{name}'): {reason}. TENSORPLUG_BACKEND=numpy (the CPU) works everywhere")
    index = _index(device)
    return REGISTRY.instance(spec, index)


def _index(device):
    if device is None:
        return _state["current"]
    if isinstance(device, int):
        return device
    if hasattr(device, "xp"):  # a backend
        return device.index or 0
    text = str(device)
    kind, _, idx = text.partition(":")
    if kind != "cuda":
        raise ValueError(f"Expected a cuda device, but got: {text}")
    if idx:
        return int(idx)
    return getattr(device, "index", None) or _state["current"]


def device_count() -> int:
    """How many CUDA devices there are (0 when CUDA is unavailable)."""
    if not is_available():
        return 0
    return int(getattr(_backend(0), "device_count", lambda: 1)())


def is_initialized() -> bool:
    spec = _spec()
    return spec is not None and any(name == spec.name for name, _ in REGISTRY._instances)


def current_device() -> int:
    """The index of the current CUDA device."""
    _backend()
    return _state["current"]


def set_device(device) -> None:
    """Make ``device`` (an int or ``'cuda:N'``) the current CUDA device."""
    index = _index(device)
    if index < 0:
        return  # torch ignores negative indices
    backend = _backend(index)
    use = getattr(backend, "set_device", None)
    if use is not None:
        use()
    _state["current"] = index


class device:
    """Context manager that makes ``device`` current inside a ``with`` block."""

    def __init__(self, device):
        self.index = _index(device) if device is not None else -1
        self.previous = None

    def __enter__(self):
        if self.index >= 0:
            self.previous = _state["current"]
            set_device(self.index)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            set_device(self.previous)
        return False


def synchronize(device=None) -> None:
    """Wait for all queued work on ``device`` to finish."""
    _backend(device).synchronize()


def manual_seed(seed) -> None:
    """Seed the generator of the current CUDA device (silently deferred when CUDA is unavailable, as torch does)."""
    seed = int(seed)
    _state["seed"] = seed
    if is_available():
        _backend().manual_seed(seed)


def manual_seed_all(seed) -> None:
    """Seed the generators of every CUDA device."""
    seed = int(seed)
    _state["seed"] = seed
    for i in range(device_count()):
        _backend(i).manual_seed(seed)


def seed() -> None:
    """Seed the current device with a random number."""
    import random
    manual_seed(random.randrange(2 ** 63))


def initial_seed() -> int:
    """The last seed given to ``manual_seed`` (None if never seeded)."""
    return _state["seed"]


def memory_stats(device=None) -> dict:
    """The backend's memory statistics (``allocated_bytes``, ``reserved_bytes``...); {} when unavailable."""
    if not is_available():
        return {}
    return dict(_backend(device).memory_stats())


def memory_allocated(device=None) -> int:
    """Bytes held by live tensors on ``device`` (0 when CUDA is unavailable)."""
    return int(memory_stats(device).get("allocated_bytes", 0))


def max_memory_allocated(device=None) -> int:
    stats = memory_stats(device)
    return int(stats.get("max_allocated_bytes", stats.get("allocated_bytes", 0)))


def memory_reserved(device=None) -> int:
    """Bytes the backend's allocator holds from the driver (0 when CUDA is unavailable)."""
    return int(memory_stats(device).get("reserved_bytes", 0))


def empty_cache() -> None:
    """Give cached, unused device memory back to the driver."""
    if is_available():
        fn = getattr(_backend(), "empty_cache", None)
        if fn is not None:
            fn()


def max_memory_reserved(device=None) -> int:
    stats = memory_stats(device)
    return int(stats.get("max_reserved_bytes", stats.get("reserved_bytes", 0)))


def reset_peak_memory_stats(device=None) -> None:
    """Start the peak counters (``max_memory_allocated``) afresh; nothing to reset without CUDA."""
    if is_available():
        fn = getattr(_backend(device), "reset_peak_memory_stats", None)
        if fn is not None:
            fn()


def reset_max_memory_allocated(device=None) -> None:
    reset_peak_memory_stats(device)


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """Whether CUDA can run bfloat16 here: False without CUDA, as torch answers on a CPU-only machine."""
    return is_available()


def get_device_name(device=None) -> str:
    """The GPU's name, e.g. ``'NVIDIA H100 80GB HBM3'``."""
    backend = _backend(device)
    fn = getattr(backend, "device_name", None)
    return fn() if fn is not None else str(backend.device)



def _amp_module():
    """``tensorplug.cuda.amp``: the deprecated spellings of tensorplug.amp's autocast and GradScaler
    (registered in sys.modules, so ``from tensorplug.cuda.amp import GradScaler`` works too)."""
    import sys
    import types
    from . import amp as _amp

    def autocast(enabled=True, dtype=None, cache_enabled=True):
        warnings.warn("`torch.cuda.amp.autocast(args...)` is deprecated. Please use "
                      "`torch.amp.autocast('cuda', args...)` instead.", FutureWarning, stacklevel=2)
        return _amp.autocast("cuda", dtype, enabled, cache_enabled)

    def GradScaler(init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                   enabled=True):
        warnings.warn("`torch.cuda.amp.GradScaler(args...)` is deprecated. Please use "
                      "`torch.amp.GradScaler('cuda', args...)` instead.", FutureWarning, stacklevel=2)
        return _amp.GradScaler("cuda", init_scale, growth_factor, backoff_factor, growth_interval, enabled)

    module = types.ModuleType(__name__ + ".amp", _amp_module.__doc__)
    module.autocast, module.GradScaler = autocast, GradScaler
    sys.modules[module.__name__] = module
    return module


amp = _amp_module()
