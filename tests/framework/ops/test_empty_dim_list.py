"""An empty dim list reduces over every dim in torch's reductions (x.sum([]) is the total), except any
and all, which reduce nothing; tensorplug returned the input unreduced (variances of nan). torch's
var and std give that total a gradient of infinities (their backward counts one element per
reduction): the gradient compared there is torch's for dim=None, the same forward."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")

EXPRESSIONS = ["x.sum([])", "x.sum(())", "x.sum(dim=[])", "x.sum([], keepdim=True)", "x.mean([])", "x.mean(())",
               "x.mean([], keepdim=True)", "x.var([])", "x.std([])", "x.var((), keepdim=True)", "x.amax([])",
               "x.amin([])", "x.nansum([])", "x.nanmean([])", "x.norm(dim=[])", "m.linalg.vector_norm(x, dim=[])",
               "x.count_nonzero([])", "m.var_mean(x, [])", "m.std_mean(x, dim=[])", "x.any([])", "x.all(())"]


@pytest.mark.parametrize("shape", [(2, 3), (4,), ()])
@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_an_empty_dim_list_is_torchs(expression, shape):
    data = np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape)
    results = []
    for m in (torch, tp):
        x = m.tensor(data, requires_grad=not expression.startswith(("x.any", "x.all", "x.count")))
        written = expression
        if m is torch and ("var" in expression or "std" in expression):
            written = expression.replace("[]", "None").replace("()", "None")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = eval(written, {"x": x, "m": m})
        outs = out if isinstance(out, tuple) else (out,)
        if x.requires_grad:
            sum(o.sum() for o in outs).backward()
        results.append(([o.detach().double().numpy() for o in outs], None if x.grad is None else x.grad.numpy()))
    (theirs, their_grad), (ours, our_grad) = results
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, equal_nan=True, err_msg=expression)
        assert a.shape == b.shape, expression
    if their_grad is not None:
        np.testing.assert_allclose(our_grad, their_grad, rtol=1e-12, equal_nan=True, err_msg=expression)
