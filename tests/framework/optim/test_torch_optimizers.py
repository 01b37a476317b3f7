"""torch's optimizers beyond SGD/Adam/RMSprop, built into tensorplug.optim: trajectories, defaults,
state layout, checkpoints and errors against torch, and present with plugin autoload off."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import tensorplug
from optim_reference import assert_construction_errors_follow_torch, assert_resumes_bit_identically

torch = pytest.importorskip("torch")

NAMES = ["AdamW", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "Rprop", "ASGD", "Adafactor"]

CASES = [
    ("AdamW", dict(lr=0.1)),
    ("AdamW", dict(lr=0.1, weight_decay=0.3, amsgrad=True, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, weight_decay=0.1, initial_accumulator_value=0.5, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1, maximize=True)),
    ("Adamax", dict(lr=0.1)),
    ("Adamax", dict(lr=0.1, betas=(0.8, 0.99), weight_decay=0.1, maximize=True)),
    ("NAdam", dict(lr=0.1)),
    ("NAdam", dict(lr=0.1, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict(lr=0.1)),
    ("RAdam", dict(lr=0.1, weight_decay=0.1, maximize=True)),
    ("RAdam", dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True)),
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2), maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, lambd=1e-2, alpha=0.5, t0=10, weight_decay=0.1, maximize=True)),
    ("Adafactor", dict()),
    ("Adafactor", dict(lr=0.05, beta2_decay=-0.5, eps=(1e-20, 1e-2), d=1.5, weight_decay=0.1, maximize=True)),
]


@pytest.mark.parametrize("name, kwargs", CASES, ids=str)
def test_trajectory_matches_torch(backend, trajectory, name, kwargs):
    trajectory(getattr(tensorplug.optim, name), getattr(torch.optim, name), kwargs, steps=40)


# every optimizer, and the options that add state buffers
LAYOUTS = [(name, {}) for name in NAMES + ["SGD", "Adam", "RMSprop"]] + [
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("Adam", dict(amsgrad=True)),
    ("RMSprop", dict(momentum=0.9, centered=True)),
]


@pytest.mark.parametrize("name, kwargs", LAYOUTS, ids=str)
def test_defaults_and_state_layout_match_torch(name, kwargs):
    p = tensorplug.ones(2, requires_grad=True)
    t = torch.ones(2, requires_grad=True)
    ours, theirs = getattr(tensorplug.optim, name)([p], **kwargs), getattr(torch.optim, name)([t], **kwargs)
    assert repr(ours) == repr(theirs)
    p.grad = tensorplug.ones(2)
    t.grad = torch.ones(2)
    ours.step()
    theirs.step()
    ps, ts = ours.state_dict(), theirs.state_dict()
    assert ps["param_groups"] == ts["param_groups"]
    ours_state, theirs_state = ps["state"].get(0, {}), ts["state"].get(0, {})
    assert list(ours_state) == list(theirs_state)  # the same keys in the same order
    if "step" in theirs_state:
        assert float(ours_state["step"]) == 1.0
        assert ours_state["step"].dtype == tensorplug.float32


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_is_bit_identical(name):
    assert_resumes_bit_identically(getattr(tensorplug.optim, name))


@pytest.mark.parametrize("name", [n for n in NAMES if n != "Adafactor"])
def test_errors_follow_torch(name):
    assert_construction_errors_follow_torch(getattr(tensorplug.optim, name))


def test_adamw_runs_adams_update_function(monkeypatch):
    # one update function for both (decoupled decay is its `decay`), as torch's AdamW is its Adam
    from tensorplug.optim import adam
    seen = []
    real = adam.adam_update
    monkeypatch.setattr(adam, "adam_update", lambda *a, **kw: seen.append(kw) or real(*a, **kw))
    p = tensorplug.ones(3, requires_grad=True)
    p.grad = tensorplug.ones(3)
    tensorplug.optim.AdamW([p], lr=0.1, weight_decay=0.5).step()
    assert issubclass(tensorplug.optim.AdamW, tensorplug.optim.Adam)
    assert seen and seen[0]["decay"] == pytest.approx(1 - 0.1 * 0.5) and seen[0]["weight_decay"] == 0.0


def test_core_names_with_plugin_autoload_off():
    code = ("import sys, tensorplug\n"
            f"for name in {NAMES!r}:\n"
            "    assert issubclass(getattr(tensorplug.optim, name), tensorplug.optim.Optimizer), name\n"
            "assert 'tensorplug_extras' not in sys.modules\n")
    env = dict(os.environ, TENSORPLUG_DISABLE_PLUGIN_AUTOLOAD="1")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr


def test_every_torch_optimizer_is_here():
    # torch 2.13's optimizers tensorplug does not have yet, by name
    missing = {"Muon", "SparseAdam"}  # Muon iterates in bfloat16; SparseAdam needs sparse gradients
    theirs = {n for n in dir(torch.optim) if n[:1].isupper()}
    assert theirs - missing <= set(dir(tensorplug.optim)), sorted(theirs - missing - set(dir(tensorplug.optim)))


def test_rprop_and_asgd_errors_follow_torch():
    p = [tensorplug.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError, match="Invalid eta values: 1.5, 1.2"):
        tensorplug.optim.Rprop(p, etas=(1.5, 1.2))
    with pytest.raises(ValueError, match="Invalid weight_decay value: -1"):
        tensorplug.optim.ASGD(p, weight_decay=-1)


def _lbfgs_run(lib, steps=3, **kwargs):
    """LBFGS on a least-squares term plus a quartic and a coupling term, over two parameters."""
    rng = np.random.default_rng(0)
    a, b = lib.tensor(rng.standard_normal((6, 3))), lib.tensor(rng.standard_normal(6))
    w = lib.tensor(np.zeros(3), requires_grad=True)
    v = lib.tensor(np.ones(2), requires_grad=True)
    opt = lib.optim.LBFGS([w, v], **kwargs)

    def closure():
        opt.zero_grad()
        r = a @ w - b
        loss = (r * r).sum() + ((v - 3) ** 4).sum() + (w[0] * v[1]) ** 2
        loss.backward()
        return loss

    losses = [float(opt.step(closure).detach()) for _ in range(steps)]
    state = opt.state[w]
    return losses, w.detach().numpy(), v.detach().numpy(), state["func_evals"], state["n_iter"]


@pytest.mark.parametrize("kwargs", [dict(), dict(line_search_fn="strong_wolfe"),
                                    dict(lr=0.5, history_size=3, max_iter=7),
                                    dict(line_search_fn="strong_wolfe", history_size=2, max_iter=5, max_eval=9),
                                    dict(tolerance_change=1e-3)], ids=str)
def test_lbfgs_follows_torch(kwargs):
    ours, theirs = _lbfgs_run(tensorplug, **kwargs), _lbfgs_run(torch, **kwargs)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-10)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-9, atol=1e-12)
    assert ours[3:] == theirs[3:]  # the same closure evaluations and iterations


def test_lbfgs_repr_and_errors_follow_torch():
    p = tensorplug.zeros(2, requires_grad=True)
    assert repr(tensorplug.optim.LBFGS([p])) == repr(torch.optim.LBFGS([torch.zeros(2, requires_grad=True)]))
    with pytest.raises(ValueError, match="per-parameter options"):
        tensorplug.optim.LBFGS([{"params": [p]}, {"params": [tensorplug.zeros(1, requires_grad=True)]}])
    with pytest.raises(ValueError, match="Invalid learning rate"):
        tensorplug.optim.LBFGS([p], lr=-1)
    opt = tensorplug.optim.LBFGS([p], line_search_fn="backtracking")
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(lambda: (p - 1).pow(2).sum().backward() or (p - 1).pow(2).sum())


@pytest.mark.parametrize("kwargs, phrase", [(dict(lr=-0.1), "Learning rate should be >= 0 but is: -0.1"),
                                            (dict(beta2_decay=0.5), "beta2_decay should be <= 0"),
                                            (dict(eps=(-1.0, 1e-3)), "epsilon1 should be >= 0"),
                                            (dict(d=0.5), "Clipping threshold d should be >= 1"),
                                            (dict(weight_decay=-1.0), "weight_decay should be >= 0")])
def test_adafactor_errors_follow_torch(kwargs, phrase):
    with pytest.raises(ValueError, match=phrase):
        torch.optim.Adafactor([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError, match=phrase):
        tensorplug.optim.Adafactor([tensorplug.zeros(2, requires_grad=True)], **kwargs)


def test_torch_module_paths():
    # scripts import optimizers from torch's modules too (from torch.optim.adamw import AdamW)
    from tensorplug.optim.adamw import AdamW
    from tensorplug.optim.lbfgs import LBFGS
    from tensorplug.optim.rprop import Rprop
    assert (AdamW, LBFGS, Rprop) == (tensorplug.optim.AdamW, tensorplug.optim.LBFGS, tensorplug.optim.Rprop)
    for name in ("sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "radam", "rprop",
                 "asgd", "lbfgs"):
        assert hasattr(__import__(f"torch.optim.{name}", fromlist=["x"]), "__all__")
        __import__(f"tensorplug.optim.{name}")
