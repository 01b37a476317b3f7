"""Record calls to real backend methods, so a test can see that a fused path was taken."""
from __future__ import annotations


def record_calls(monkeypatch, backend, names):
    """Wrap ``backend``'s methods ``names``; returns the list of ``(name, handled)`` they append as they run
    (``handled`` is False where the method declined with NotImplemented)."""
    seen = []
    for name in names:
        real = getattr(backend, name)

        def spy(*args, real=real, name=name):
            out = real(*args)
            seen.append((name, out is not NotImplemented))
            return out

        monkeypatch.setattr(backend, name, spy)
    return seen
