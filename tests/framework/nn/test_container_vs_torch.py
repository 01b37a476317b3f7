"""Sequential, ModuleList, ModuleDict, ParameterList and ParameterDict against torch: same calls, same
children, keys and errors."""
from collections import OrderedDict

import pytest

import tensorplug

torch = pytest.importorskip("torch")


def _both(fn):
    return fn(torch), fn(tensorplug)


def _names(m):
    return [(n, type(c).__name__) for n, c in m.named_children()]


def _seq(L):
    return L.nn.Sequential(OrderedDict([("fc", L.nn.Linear(2, 3)), ("act", L.nn.ReLU()), ("out", L.nn.Linear(3, 1))]))


def test_del_renumbers_named_children_and_state_dict_keys():
    def run(L):
        s = _seq(L)
        del s[0]
        t = L.nn.Sequential(L.nn.Linear(1, 1), L.nn.ReLU())
        t.add_module("named", L.nn.Linear(1, 1))
        del t[1]
        return _names(s), list(s.state_dict()), _names(t), list(t.state_dict())
    ours, theirs = _both(run)
    assert ours == theirs


def test_sequential_iadd_is_in_place_and_mul_repeats():
    def run(L):
        s = L.nn.Sequential(L.nn.Linear(2, 2), L.nn.ReLU())
        parent = L.nn.Module()
        parent.body = s
        alias = parent.body
        alias += L.nn.Sequential(L.nn.Tanh())
        doubled = s * 2
        tripled = 3 * L.nn.Sequential(L.nn.ReLU())
        s *= 2
        errors = []
        for call in (lambda: s * 0, lambda: s * 1.5):
            with pytest.raises((ValueError, TypeError)) as err:
                call()
            errors.append(type(err.value).__name__)
        return (alias is s, _names(parent.body), len(doubled), doubled[0] is doubled[3], len(tripled),
                len(s), errors)
    ours, theirs = _both(run)
    assert ours == theirs


def test_module_dict_update_from_module_dict_and_errors():
    def run(L):
        d = L.nn.ModuleDict({"b": L.nn.ReLU()})
        d.update(L.nn.ModuleDict({"q": L.nn.ReLU(), "p": L.nn.Tanh()}))
        errors = []
        for call in (lambda: d.update(3), lambda: d.update([("a", L.nn.ReLU(), 3)]),
                     lambda: L.nn.ParameterDict().update(3),
                     lambda: L.nn.ParameterDict().update([("a", L.ones(1), 3)])):
            with pytest.raises((TypeError, ValueError)) as err:
                call()
            errors.append((type(err.value).__name__, str(err.value)))
        return list(d.keys()), errors
    ours, theirs = _both(run)
    assert ours == theirs


def test_parameter_dict_methods():
    def run(L):
        p = L.nn.ParameterDict({"b": L.ones(1), "a": L.ones(2)})
        got = [type(p.setdefault("c", L.zeros(1))).__name__, list(p.keys())]
        copied = p.copy()
        got += [type(copied).__name__, list(copied.keys()), copied["a"] is p["a"]]
        got += [list((p | L.nn.ParameterDict({"z": L.ones(1)})).keys())]
        p |= {"y": L.ones(1)}
        got += [list(p.keys()), list(reversed(p)), list(p.fromkeys(["u", "v"]).keys())]
        key, value = p.popitem()
        got += [key, type(value).__name__, list(p.keys())]
        return got
    ours, theirs = _both(run)
    assert ours == theirs


def test_calling_containers_raises_as_torch():
    def run(L):
        out = []
        for container in (L.nn.ModuleList(), L.nn.ModuleDict(), L.nn.ParameterList(), L.nn.ParameterDict()):
            with pytest.raises((NotImplementedError, RuntimeError)) as err:
                container(L.ones(1))
            out.append((type(err.value).__name__, str(err.value)))
        return out
    ours, theirs = _both(run)
    assert ours == theirs


def test_lazy_linear_repr_shows_its_bias():
    ours, theirs = _both(lambda L: repr(L.nn.LazyLinear(4)))
    assert ours == theirs
