"""Adam, AdamW and SGD on float16/bfloat16 parameters update them as torch's single-tensor optimizers do
on the CPU, op by op, each op rounded to the parameter's dtype: the folded update tensorplug runs for
float32 rounded at other places (a bfloat16 ulp apart for a quarter of the elements after a few steps,
which a discontinuous op downstream turns into a different output: the differential test's seed 3869)."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")

rng = np.random.default_rng(0)
START = rng.standard_normal(300).astype(np.float32)
GRADS = [rng.standard_normal(300).astype(np.float32) * scale for scale in (1, 1, 0.1, 3, 0.01, 1)]
CONFIGS = {"Adam": ("Adam", dict(lr=0.01)), "AdamW": ("AdamW", dict(lr=0.01, weight_decay=0.1)),
           "Adam amsgrad": ("Adam", dict(lr=0.01, amsgrad=True)),
           "Adam L2 maximize": ("Adam", dict(lr=0.01, weight_decay=0.1, maximize=True)),
           "SGD": ("SGD", dict(lr=0.1)), "SGD momentum": ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
           "SGD nesterov": ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, dampening=0.0))}


def _train(m, name, options, dtype):
    p = m.tensor(START).to(getattr(m, dtype)).requires_grad_()
    opt = getattr(m.optim, name)([p], **options)
    for g in GRADS:
        p.grad = m.tensor(g).to(getattr(m, dtype))
        opt.step()
    return p.detach().double().numpy(), {k: v.double().numpy() for k, v in opt.state[p].items() if k != "step"}


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("config", CONFIGS)
def test_narrow_parameters_update_as_torchs(config, dtype):
    name, options = CONFIGS[config]
    (ours, our_state), (theirs, their_state) = _train(tp, name, options, dtype), _train(torch, name, options, dtype)
    ulp = 2.0 ** (-7 if dtype == "bfloat16" else -10)
    if "L2" not in config and name != "SGD":
        np.testing.assert_array_equal(ours, theirs)
        for key in their_state:
            np.testing.assert_array_equal(our_state[key], their_state[key])
    else:
        # torch's add with alpha (the L2 term, SGD's step) computes in float32, except for the elements
        # its vectorised loop leaves to a scalar tail at the end of each thread's chunk, where it rounds
        # alpha * b to the narrow dtype first: those few may stay an ulp apart after the steps
        np.testing.assert_allclose(ours, theirs, rtol=2 * ulp, atol=ulp * np.abs(theirs).max())
        assert (ours != theirs).mean() < 0.1
