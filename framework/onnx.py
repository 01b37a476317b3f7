"""``tensorplug.onnx``: importable, so scripts that import it but train without it run.

tensorplug has no graph exporter: ``export`` and ``dynamo_export`` raise
NotImplementedError naming the function; ``is_in_onnx_export()`` is False.
"""
from __future__ import annotations

__all__ = ["export", "dynamo_export", "is_in_onnx_export", "OnnxExporterError"]


class OnnxExporterError(RuntimeError):
    pass


def _unsupported(name):
    def unsupported(*args, **kwargs):
        raise NotImplementedError(
            f"torch.onnx.{name}: tensorplug cannot export ONNX graphs; save the weights with "
            f"tensorplug.save(model.state_dict(), path) and export with PyTorch")
    unsupported.__name__ = name
    unsupported.__qualname__ = name
    return unsupported


export = _unsupported("export")
dynamo_export = _unsupported("dynamo_export")


def is_in_onnx_export() -> bool:
    """False: nothing is ever being exported here."""
    return False
