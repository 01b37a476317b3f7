"""Optimizer step and state-dict hooks, compared with torch's behaviour event by event."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import tensorplug
from tensorplug.optim import optimizer as tp_optimizer

torch = pytest.importorskip("torch")
from torch.optim import optimizer as torch_optimizer  # noqa: E402


def _param(lib):
    p = lib.tensor([1.0, 2.0], requires_grad=True)
    p.grad = lib.tensor([0.5, -1.0])
    return p


def _events(lib, module):
    """Register every kind of hook, run steps and state-dict round trips; return what happened."""
    log = []
    p = _param(lib)
    opt = lib.optim.SGD([p], lr=0.1)
    handles = [
        module.register_optimizer_step_pre_hook(lambda o, a, k: log.append(("global pre", len(a), sorted(k)))),
        module.register_optimizer_step_post_hook(lambda o, a, k: log.append(("global post",))),
        opt.register_step_pre_hook(lambda o, a, k: log.append(("pre", len(a), sorted(k)))),
        opt.register_step_post_hook(lambda o, a, k: log.append(("post", type(o).__name__))),
        opt.register_state_dict_pre_hook(lambda o: log.append(("sd pre",))),
        opt.register_state_dict_post_hook(lambda o, sd: {**sd, "extra": 1}),
        opt.register_state_dict_post_hook(lambda o, sd: log.append(("sd post first", sorted(sd))), prepend=True),
        opt.register_load_state_dict_pre_hook(lambda o, sd: log.append(("load pre", sorted(sd)))),
        opt.register_load_state_dict_post_hook(lambda o: log.append(("load post",))),
    ]
    opt.step()
    opt.step(closure=None)
    sd = opt.state_dict()
    log.append(("state_dict keys", sorted(sd)))
    del sd["extra"]
    opt.load_state_dict(sd)
    for h in handles:
        h.remove()
    opt.step()
    log.append(("param", [round(float(v), 6) for v in p.detach().tolist()]))
    return log


def test_hooks_fire_in_torchs_order_with_torchs_arguments():
    assert _events(tensorplug, tp_optimizer) == _events(torch, torch_optimizer)


def test_pre_hook_can_replace_the_arguments_and_must_return_a_pair():
    for lib in (tensorplug, torch):
        p = _param(lib)
        opt = lib.optim.SGD([p], lr=0.1)
        calls = []

        def closure():
            calls.append(1)
            return lib.tensor(3.0)

        opt.register_step_pre_hook(lambda o, a, k: ((o,), {"closure": closure}))  # args hold the optimizer
        assert float(opt.step()) == 3.0 and calls == [1]
        opt.register_step_pre_hook(lambda o, a, k: "nonsense")
        with pytest.raises(RuntimeError, match="must return None or a tuple of"):
            opt.step()


def test_load_state_dict_pre_hook_may_return_the_dict_to_load():
    p = _param(tensorplug)
    opt = tensorplug.optim.SGD([p], lr=0.1, momentum=0.9)
    sd = opt.state_dict()

    def halve_lr(o, state_dict):
        groups = [dict(g, lr=g["lr"] / 2) for g in state_dict["param_groups"]]
        return {"state": state_dict["state"], "param_groups": groups}

    opt.register_load_state_dict_pre_hook(halve_lr)
    opt.load_state_dict(sd)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)
    assert sd["param_groups"][0]["lr"] == pytest.approx(0.1)  # the caller's dict is left alone


class Halved(tensorplug.optim.Adam):
    """An optimizer subclass with its own step (module level: pickled below)."""

    def step(self, closure=None):
        for group in self.param_groups:
            group["lr"] = 0.5 * group["lr"]
        return super().step(closure)


def test_hooks_survive_subclasses_and_are_not_pickled():
    seen = []
    p = _param(tensorplug)
    opt = Halved([p], lr=0.2)
    opt.register_step_post_hook(lambda o, a, k: seen.append(o.param_groups[0]["lr"]))
    opt.step()
    assert seen[-1] == pytest.approx(0.1)
    seen.clear()
    clone = pickle.loads(pickle.dumps(opt))
    clone.step()
    assert seen == []  # the copy has no hooks
    np.testing.assert_allclose(clone.param_groups[0]["lr"], 0.05)


def _nested_hook_count(lib):
    class Doubled(lib.optim.Adam):
        def step(self, closure=None):
            return super().step(closure)

    lib.optim.Adam([_param(lib)])  # the base class's step is hooked too, as in any program that built an Adam
    seen = []
    opt = Doubled([_param(lib)], lr=0.1)
    opt.register_step_post_hook(lambda o, a, k: seen.append(1))
    opt.step()
    return len(seen)


def test_a_subclass_calling_super_step_fires_hooks_as_often_as_torch():
    assert _nested_hook_count(tensorplug) == _nested_hook_count(torch)
