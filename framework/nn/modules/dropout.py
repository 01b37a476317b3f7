"""``torch.nn.modules.dropout``: the same classes as ``tensorplug.nn`` (for imports and annotations)."""
from __future__ import annotations

from ._reexport import reexport

__all__ = reexport(globals(), [
    "_DropoutNd", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout",
])
