"""``torch.nn.modules.pooling``: the same classes as ``tensorplug.nn`` (for imports and annotations)."""
from __future__ import annotations

from ._reexport import reexport

__all__ = reexport(globals(), [
    "_MaxPoolNd", "MaxPool1d", "MaxPool2d", "MaxPool3d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d",
    "_AvgPoolNd", "AvgPool1d", "AvgPool2d", "AvgPool3d", "FractionalMaxPool2d", "FractionalMaxPool3d",
    "LPPool1d", "LPPool2d", "LPPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
])
