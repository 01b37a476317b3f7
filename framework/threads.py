"""``set_num_threads`` / ``get_num_threads``: the CPU thread count the backends compute with."""
from __future__ import annotations

from .registry import REGISTRY, default_backend

__all__ = ["set_num_threads", "get_num_threads"]


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for CPU compute (the BLAS behind the NumPy backend), as ``torch.set_num_threads``."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise RuntimeError(f"set_num_threads expects an int, but got {type(n).__name__}")
    if n < 1:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {n}")
    REGISTRY.num_threads = n
    for backend in list(REGISTRY._instances.values()):
        apply = getattr(backend, "set_num_threads", None)
        if apply is not None:
            apply(n)


def get_num_threads() -> int:
    """The CPU thread count: what ``set_num_threads`` set, else what the default backend reports."""
    n = getattr(REGISTRY, "num_threads", None)
    if n is not None:
        return n
    ask = getattr(default_backend(), "get_num_threads", None)
    if ask is not None:
        return ask()
    import os
    return os.cpu_count() or 1
