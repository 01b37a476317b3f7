"""Learning-rate schedulers against torch beyond the lr sequences: the warnings torch gives (scheduler stepped
first, optimizer.step replaced, the deprecated epoch argument, get_lr() called directly), the state_dict keys,
and a tensor lr kept as the same tensor."""
from __future__ import annotations

import warnings

import pytest

import tensorplug

torch = pytest.importorskip("torch")


def _optimizer(lib):
    return lib.optim.SGD([{"params": [lib.ones(2, requires_grad=True)], "lr": 0.1},
                          {"params": [lib.ones(2, requires_grad=True)], "lr": 0.05}], lr=0.1, momentum=0.9)


def _warnings(lib, script):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = script(lib)
    return result, [(w.category, str(w.message)[:60]) for w in caught]


def _same(script):
    (ours, our_warnings), (theirs, their_warnings) = _warnings(tensorplug, script), _warnings(torch, script)
    assert our_warnings == their_warnings
    assert ours == pytest.approx(theirs, rel=1e-12)
    return their_warnings


def test_scheduler_stepped_before_optimizer_warns():
    def script(lib):
        opt = _optimizer(lib)
        s = lib.optim.lr_scheduler.StepLR(opt, 2)
        s.step()
        opt.step()
        s.step()
        return s.get_last_lr()

    assert _same(script)


def test_replaced_optimizer_step_warns_as_torch():
    # before: the 'scheduler stepped first' warning, not torch's 'optimizer.step() has been overridden'
    def script(lib):
        opt = _optimizer(lib)
        s = lib.optim.lr_scheduler.StepLR(opt, 2)
        opt.step = lambda *args, **kwargs: None
        s.step()
        return s.get_last_lr()

    assert "overridden" in _same(script)[0][1]


@pytest.mark.parametrize("name, kwargs", [("StepLR", dict(step_size=3)), ("ExponentialLR", dict(gamma=0.9)),
                                          ("CosineAnnealingLR", dict(T_max=10)), ("LinearLR", dict()),
                                          ("PolynomialLR", dict(total_iters=8))])
def test_epoch_argument_warns_deprecation_as_torch(name, kwargs):
    def script(lib):
        opt = _optimizer(lib)
        s = getattr(lib.optim.lr_scheduler, name)(opt, **kwargs)
        lrs = []
        for epoch in [1, 2, 7, 3, 0]:
            opt.step()
            s.step(epoch)
            lrs += s.get_last_lr()
        return lrs

    assert len(_same(script)) == 5


def test_plateau_epoch_argument_warns_deprecation_as_torch():
    def script(lib):
        opt = _optimizer(lib)
        s = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0)
        for epoch, metric in enumerate([1.0, 2.0, 3.0]):
            s.step(metric, epoch)
        return s.get_last_lr() + [s.last_epoch]

    assert len(_same(script)) == 3


@pytest.mark.parametrize("name, kwargs", [("ExponentialLR", dict(gamma=0.5)), ("StepLR", dict(step_size=1)),
                                          ("CosineAnnealingWarmRestarts", dict(T_0=3)),
                                          ("CyclicLR", dict(base_lr=0.01, max_lr=0.1))])
def test_get_lr_outside_step_warns_as_torch(name, kwargs):
    def script(lib):
        opt = _optimizer(lib)
        s = getattr(lib.optim.lr_scheduler, name)(opt, **kwargs)
        opt.step()
        s.step()
        return s.get_lr()

    assert _same(script)[0][1].startswith("To get the last learning rate")


@pytest.mark.parametrize("make", [
    lambda S, o: S.ExponentialLR(o, 0.9),
    lambda S, o: S.OneCycleLR(o, max_lr=1.0, total_steps=20),
    lambda S, o: S.CyclicLR(o, 0.01, 0.1, step_size_up=3),
    lambda S, o: S.SequentialLR(o, [S.ConstantLR(o, 0.5, 2), S.ExponentialLR(o, 0.9)], milestones=[2]),
    lambda S, o: S.ChainedScheduler([S.ConstantLR(o, 0.5, 2), S.ExponentialLR(o, 0.9)]),
], ids=["ExponentialLR", "OneCycleLR", "CyclicLR", "SequentialLR", "ChainedScheduler"])
def test_state_dict_keys_follow_torch(make):
    # before: no '_get_lr_called_within_step'; OneCycleLR kept base_momentums/max_momentums that torch keeps
    # in the parameter groups only
    def keys(lib):
        opt = _optimizer(lib)
        s = make(lib.optim.lr_scheduler, opt)
        for _ in range(4):
            opt.step()
            s.step()
        sd = s.state_dict()
        return sorted(sd), [sorted(inner) for inner in sd.get("_schedulers", [])]

    assert keys(tensorplug) == keys(torch)


def test_tensor_lr_is_filled_in_place_as_torch():
    def run(lib):
        lr = lib.tensor(0.1)
        opt = lib.optim.SGD([lib.ones(2, requires_grad=True)], lr=lr)
        s = lib.optim.lr_scheduler.ExponentialLR(opt, 0.5)
        for _ in range(3):
            opt.step()
            s.step()
        group = opt.param_groups[0]
        return group["lr"] is lr, group["initial_lr"] is lr, float(lr), float(group["initial_lr"])

    assert run(tensorplug) == run(torch)
