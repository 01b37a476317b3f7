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


# the optimizer updates: a fused kernel that is wrong in any one option is caught ------------------

def _sgd_update(*args, **kw):
    from tensorplug.optim.sgd import sgd_update
    return sgd_update(*args, **kw)


def _adam_update(*args, **kw):
    from tensorplug.optim.adam import adam_update
    return adam_update(*args, **kw)


def _rmsprop_update(*args, **kw):
    from tensorplug.optim.rmsprop import rmsprop_update
    return rmsprop_update(*args, **kw)


def _fused(update, wrong=None):
    """A fused method that runs ``update`` after ``wrong(arrays, options)`` altered its arguments."""
    def method(self, *arrays, **options):
        arrays = list(arrays)
        if wrong is not None:
            wrong(arrays, options)
        return update(self, *arrays, **options)
    return method


def _set(**changes):
    return lambda arrays, options: options.update(changes)


def _set_if(condition, **changes):
    return lambda arrays, options: options.update(changes) if condition(arrays, options) else None


def _drop(index):
    return lambda arrays, options: arrays.__setitem__(index, None)


_WRONG_FUSED = {
    # the bug issue 12 reported: weight decay lost where there is no momentum buffer
    "sgd drops weight_decay without momentum": ("fused_sgd", _sgd_update,
                                                _set_if(lambda a, o: o["momentum"] == 0, weight_decay=0.0)),
    "sgd ignores weight_decay": ("fused_sgd", _sgd_update, _set(weight_decay=0.0)),
    "sgd ignores nesterov": ("fused_sgd", _sgd_update, _set(nesterov=False)),
    "sgd ignores dampening": ("fused_sgd", _sgd_update, _set(dampening=0.0)),
    "sgd ignores maximize": ("fused_sgd", _sgd_update, _set(sign=1.0)),
    "sgd keeps the old buffer on the first step": ("fused_sgd", _sgd_update, _set(first=False)),
    "sgd ignores maximize with nesterov": ("fused_sgd", _sgd_update,
                                           _set_if(lambda a, o: o["nesterov"], sign=1.0)),
    "adam ignores amsgrad": ("fused_adam", _adam_update, _drop(4)),
    "adam ignores weight_decay": ("fused_adam", _adam_update, _set(weight_decay=0.0)),
    "adam ignores decoupled decay": ("fused_adam", _adam_update, _set(decay=1.0)),
    "adam ignores maximize": ("fused_adam", _adam_update, _set(sign=1.0)),
    "adam ignores maximize with amsgrad": ("fused_adam", _adam_update,
                                           _set_if(lambda a, o: a[4] is not None, sign=1.0)),
    "rmsprop ignores centered": ("fused_rmsprop", _rmsprop_update, _drop(4)),
    "rmsprop ignores momentum": ("fused_rmsprop", _rmsprop_update, _drop(3)),
    "rmsprop ignores weight_decay": ("fused_rmsprop", _rmsprop_update, _set(weight_decay=0.0)),
    "rmsprop ignores maximize": ("fused_rmsprop", _rmsprop_update, _set(sign=1.0)),
    "rmsprop drops weight_decay when centered": ("fused_rmsprop", _rmsprop_update,
                                                 _set_if(lambda a, o: a[4] is not None, weight_decay=0.0)),
}


@pytest.mark.parametrize("case", sorted(_WRONG_FUSED))
def test_the_kit_catches_a_fused_update_wrong_in_one_option(case):
    method, update, wrong = _WRONG_FUSED[case]
    with pytest.raises(tpt.ConformanceError, match=method):
        tpt.run_check("fused_updates", _broken_backend(**{method: _fused(update, wrong)}))


def test_fused_updates_equal_to_the_update_functions_pass():
    # every option combination is accepted (at a size the NumPy backend's own kernels decline)
    calls = []

    def counted(update):
        def method(self, *arrays, **options):
            calls.append(options)
            return update(self, *arrays, **options)
        return method

    b = _broken_backend(fused_sgd=counted(_sgd_update), fused_adam=counted(_adam_update),
                        fused_rmsprop=counted(_rmsprop_update))
    tpt.run_check("fused_updates", b)
    sgd = [o for o in calls if "nesterov" in o]
    assert {(o["momentum"], o["dampening"], o["nesterov"], o["weight_decay"], o["sign"], o["first"])
            for o in sgd} >= {(0.0, 0.0, False, 0.01, -1.0, False), (0.9, 0.0, True, 0.01, -1.0, True),
                              (0.9, 0.2, False, 0.0, 1.0, False)}
    assert len(calls) >= 28 + 16 + 16
