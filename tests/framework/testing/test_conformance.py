"""The conformance kit over every usable backend (numpy, array_api_strict; cupy on a GPU),
and proof that the kit catches a wrong backend."""
from __future__ import annotations

import pytest

import tensorplug
import tensorplug.testing as tpt


@pytest.mark.parametrize("check", sorted(tpt.CHECKS))
def test_conformance(backend, check):
    tpt.run_check(check, backend)


def test_run_conformance_reports_every_check():
    results = tpt.run_conformance("numpy")
    assert set(results) == set(tpt.CHECKS) and all(v is None for v in results.values())
    for must in ("scatter_add", "sliding_windows", "random", "erf", "frontend_autograd_mlp", "xp_reductions"):
        assert must in results


def _broken_backend(**overrides):
    """The NumPy backend with some methods replaced by wrong ones."""
    base = type(tensorplug.get_backend("numpy"))
    cls = type("BrokenBackend", (base,), {"name": "broken", **overrides})
    return cls()


@pytest.mark.parametrize("method, wrong, check", [
    ("scatter_add", lambda self, t, i, v: self.setitem(t, i, v), "scatter_add"),  # repeats do not accumulate
    ("erf", lambda self, x: self.xp.tanh(x), "erf"),
    ("copy", lambda self, a: a, "copy_and_view"),  # shares memory
    ("manual_seed", lambda self, seed: None, "random"),  # not reproducible
    ("view", lambda self, a, shape: self.xp.reshape(a, shape), "copy_and_view"),  # never says a copy is needed
])
def test_the_kit_catches_a_wrong_backend(method, wrong, check):
    b = _broken_backend(**{method: wrong})
    with pytest.raises(tpt.ConformanceError, match=check):
        tpt.run_conformance(b, checks=[check])
    results = tpt.run_conformance(b, checks=[check], raise_on_failure=False)
    assert results[check] is not None


def test_unknown_check_name():
    with pytest.raises(KeyError, match="unknown conformance check"):
        tpt.run_check("nope", "numpy")


def test_command_line(capsys):
    from tensorplug.testing.__main__ import main
    assert main(["numpy"]) == 0
    out = capsys.readouterr().out
    assert f"{len(tpt.CHECKS)} passed, 0 failed" in out


def test_conformance_catches_a_wrong_conv_bias():
    from tensorplug.testing.conformance import CHECKS, ConformanceError
    base = type(tensorplug.get_backend("numpy"))

    class BiasTwice(base):
        def conv_bias(self, x, w, b, *params):
            y = super().conv_bias(x, w, b, *params)
            return y if b is None else y + b.reshape(-1, 1, 1)  # (conv itself calls conv_bias with None)

    CHECKS["fused_conv_bias"](tensorplug.get_backend("numpy"))
    with pytest.raises(ConformanceError, match="conv_bias"):
        CHECKS["fused_conv_bias"](BiasTwice())
