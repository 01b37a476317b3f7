"""``tensorplug.onnx``: importable, so scripts that import it but train without it run.

tensorplug has no graph exporter: ``export`` and ``dynamo_export`` raise
NotImplementedError naming the function; ``is_in_onnx_export()`` is False.
"""
from __future__ import annotations

from ._stubs import unsupported

__all__ = ["export", "dynamo_export", "is_in_onnx_export", "OnnxExporterError"]


class OnnxExporterError(RuntimeError):
    pass


_NO_EXPORTER = ("tensorplug cannot export ONNX graphs; save the weights with tensorplug.save(model.state_dict(), "
                "path) and export with PyTorch")

export = unsupported("torch.onnx.export", _NO_EXPORTER)
dynamo_export = unsupported("torch.onnx.dynamo_export", _NO_EXPORTER)


def is_in_onnx_export() -> bool:
    """False: nothing is ever being exported here."""
    return False
