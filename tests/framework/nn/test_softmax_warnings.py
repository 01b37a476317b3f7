"""The implicit-dim warning of softmax, log_softmax and softmin (functions and modules) names the user's
line, as torch's _stacklevel intends: it named tensorplug's own file, where Python shows a warning once
per location, so the user never learned which call it was."""
from __future__ import annotations

import warnings

import tensorplug as tp
import tensorplug.nn.functional as F


def test_the_warning_points_at_the_callers_line():
    x = tp.randn(2, 3)
    calls = [lambda: F.softmax(x), lambda: F.log_softmax(x), lambda: F.softmin(x),
             lambda: tp.nn.Softmax()(x), lambda: tp.nn.LogSoftmax()(x), lambda: tp.nn.Softmin()(x)]
    for call, name in zip(calls, ["softmax", "log_softmax", "softmin"] * 2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        assert len(caught) == 1 and caught[0].filename == __file__, (name, caught[0].filename)
        assert str(caught[0].message).startswith(f"Implicit dimension choice for {name} has been deprecated")
