"""Learning-rate schedulers: the lr sequence of every scheduler against torch's."""
from __future__ import annotations

import math
import warnings

import pytest

import tensorplug
from tensorplug.optim import SGD, Adam, lr_scheduler as S

torch = pytest.importorskip("torch")
T = torch.optim.lr_scheduler


def _pair(opt_name="SGD", groups=1, **kwargs):
    ps = [{"params": [tensorplug.zeros(2, requires_grad=True)], "lr": 0.1 * (i + 1)} for i in range(groups)]
    ts = [{"params": [torch.zeros(2, requires_grad=True)], "lr": 0.1 * (i + 1)} for i in range(groups)]
    kwargs.setdefault("lr", 0.1)
    if opt_name == "SGD":
        kwargs.setdefault("momentum", 0.9)
        return SGD(ps, **kwargs), torch.optim.SGD(ts, **kwargs)
    return Adam(ps, **kwargs), torch.optim.Adam(ts, **kwargs)


def _half(epoch):
    return 0.5 ** epoch


SCHEDULES = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=3, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=7, eta_min=0.001),
    "LambdaLR": lambda m, o: m.LambdaLR(o, lr_lambda=_half),
    "LinearLR": lambda m, o: m.LinearLR(o, start_factor=0.25, total_iters=6),
    "OneCycleLR": lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=25),
    "OneCycleLR3": lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=25, three_phase=True,
                                             anneal_strategy="linear"),
    "MultiplicativeLR": lambda m, o: m.MultiplicativeLR(o, lr_lambda=lambda e: 0.9 if e % 2 else 0.95),
    "ConstantLR": lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=4),
    "PolynomialLR": lambda m, o: m.PolynomialLR(o, total_iters=10, power=2.0),
    "CosineAnnealingWarmRestarts": lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01),
    "ChainedScheduler": lambda m, o: m.ChainedScheduler([m.ConstantLR(o, factor=0.2, total_iters=3),
                                                         m.ExponentialLR(o, gamma=0.9)]),
    "SequentialLR": lambda m, o: m.SequentialLR(o, [m.LinearLR(o, start_factor=0.1, total_iters=4),
                                                    m.ExponentialLR(o, gamma=0.8)], milestones=[4]),
    "CyclicLR": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=[0.1, 0.2], step_size_up=4),
    "CyclicLR2": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3, step_size_down=5,
                                         mode="triangular2"),
    "CyclicLRexp": lambda m, o: m.CyclicLR(o, base_lr=0.001, max_lr=0.01, step_size_up=5, mode="exp_range",
                                           gamma=0.9, base_momentum=0.7, max_momentum=0.95),
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
def test_lr_sequence_matches_torch(name, opt_name):
    opt, topt = _pair(opt_name, groups=2)
    sched, tsched = SCHEDULES[name](S, opt), SCHEDULES[name](T, topt)
    assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12)
    for epoch in range(24):
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12), epoch
        for g, tg in zip(opt.param_groups, topt.param_groups):
            assert g["lr"] == pytest.approx(tg["lr"], rel=1e-12)
            if "betas" in g:
                assert g["betas"] == pytest.approx(tg["betas"], rel=1e-12)
            else:
                assert g["momentum"] == pytest.approx(tg["momentum"], rel=1e-12)


def test_reduce_lr_on_plateau_matches_torch():
    opt, topt = _pair(groups=2)
    sched = S.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=2, cooldown=1, min_lr=[0.01, 0.02])
    tsched = T.ReduceLROnPlateau(topt, mode="min", factor=0.5, patience=2, cooldown=1, min_lr=[0.01, 0.02])
    losses = [1.0, 0.9, 0.9, 0.95, 0.91, 0.9, 0.89, 0.9, 0.9, 0.9, 0.9, 0.9, 0.7, 0.8, 0.8, 0.8, 0.8, 0.8]
    for loss in losses:
        sched.step(loss)
        tsched.step(loss)
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12)
    assert sched.num_bad_epochs == tsched.num_bad_epochs


def test_reduce_lr_on_plateau_max_abs():
    opt, topt = _pair()
    sched = S.ReduceLROnPlateau(opt, mode="max", threshold=0.1, threshold_mode="abs", patience=0)
    tsched = T.ReduceLROnPlateau(topt, mode="max", threshold=0.1, threshold_mode="abs", patience=0)
    for acc in [0.5, 0.55, 0.7, 0.75, 0.9, 0.9]:
        sched.step(tensorplug.tensor(acc))
        tsched.step(acc)
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr())


@pytest.mark.parametrize("name", ["StepLR", "CosineAnnealingLR", "LambdaLR", "OneCycleLR", "SequentialLR"])
def test_state_dict_resumes_the_sequence(name):
    opt, _ = _pair()
    sched = SCHEDULES[name](S, opt)
    for _ in range(5):
        opt.step()
        sched.step()
    saved_opt, saved = opt.state_dict(), sched.state_dict()
    assert "optimizer" not in saved
    expected = []
    for _ in range(6):
        opt.step()
        sched.step()
        expected.append(sched.get_last_lr())
    opt2, _ = _pair()
    sched2 = SCHEDULES[name](S, opt2)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved)
    got = []
    for _ in range(6):
        opt2.step()
        sched2.step()
        got.append(sched2.get_last_lr())
    assert got == expected


def test_scheduler_step_before_optimizer_step_warns():
    opt, _ = _pair()
    sched = S.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    opt2, _ = _pair()
    sched2 = S.StepLR(opt2, step_size=2)
    opt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched2.step()


def test_errors():
    opt, _ = _pair()
    with pytest.raises(TypeError, match="is not an Optimizer"):
        S.StepLR(object(), step_size=2)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        S.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="total_steps"):
        S.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(SGD([tensorplug.zeros(1, requires_grad=True)], lr=0.1), step_size=2, last_epoch=3)
    sched = S.OneCycleLR(opt, max_lr=1.0, total_steps=2)
    opt.step()
    sched.step()
    sched.step()
    with pytest.raises(ValueError, match="Tried to step 3 times"):
        sched.step()
    assert math.isfinite(opt.param_groups[0]["lr"])
