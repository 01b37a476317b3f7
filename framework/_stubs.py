"""Stand-ins for torch functions tensorplug does not provide: importable, so scripts that only name them
run, and raising NotImplementedError with the way out when called."""
from __future__ import annotations


def unsupported(qualified_name: str, way_out: str):
    """A function that raises ``NotImplementedError("<qualified_name>: <way_out>")`` on any call.

    Example:
        >>> export = unsupported("torch.onnx.export", "save the weights and export with PyTorch")
    """
    def stub(*args, **kwargs):
        raise NotImplementedError(f"{qualified_name}: {way_out}")
    stub.__name__ = stub.__qualname__ = qualified_name.rpartition(".")[2]
    return stub
