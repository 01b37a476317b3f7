"""``type(t.grad_fn).__name__`` is torch's node name (AddBackward0, SumBackward1, MmBackward0, ...):
scripts and tutorials print and compare these. Each row is compared with torch itself."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug

torch = pytest.importorskip("torch")


def _cases(m):
    F = m.nn.functional
    x = m.tensor(np.arange(1.0, 7.0).reshape(2, 3) / 7, requires_grad=True)
    w = m.tensor(np.arange(12.0).reshape(3, 4) / 5, requires_grad=True)
    v = m.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    b3 = m.tensor(np.ones((2, 3, 3)), requires_grad=True)
    labels = m.tensor([0, 2])
    target = m.tensor(np.full((2, 3), 0.5))

    def written_slice():
        y = x.clone()
        y[0] = 5.0
        return y

    def written_view():
        y = x * 1
        y[:, 1:].mul_(2)
        return y

    def written_index():
        y = x.clone()
        y[m.tensor([0])] = 5.0
        return y

    return {
        # arithmetic and elementwise
        "add": lambda: x + x, "add_scalar": lambda: x + 1, "sub": lambda: x - x, "rsub": lambda: 1 - x,
        "mul": lambda: x * x, "div": lambda: x / 2, "neg": lambda: -x, "pow_scalar": lambda: x ** 2,
        "pow_tensor": lambda: x ** x, "rpow": lambda: 2 ** x, "exp": lambda: x.exp(), "log": lambda: x.log(),
        "sqrt": lambda: x.sqrt(), "abs": lambda: x.abs(), "relu": lambda: x.relu(),
        "sigmoid": lambda: x.sigmoid(), "tanh": lambda: x.tanh(), "clamp": lambda: x.clamp(0.2, 0.5),
        "where": lambda: m.where(x > 0.3, x, x * 2), "masked_fill": lambda: x.masked_fill(x > 0.3, 0.0),
        "gelu": lambda: F.gelu(x), "leaky_relu": lambda: F.leaky_relu(x), "dropout": lambda: F.dropout(x, 0.5),
        # reductions
        "sum": lambda: x.sum(), "sum_dim": lambda: x.sum(0), "mean": lambda: x.mean(),
        "mean_dim": lambda: x.mean(1), "prod": lambda: x.prod(), "prod_dim": lambda: x.prod(1),
        "max_all": lambda: x.max(), "min_all": lambda: x.min(), "amax": lambda: x.amax(0),
        "aminmax_min": lambda: m.aminmax(x).min, "aminmax_max_dim": lambda: m.aminmax(x, dim=1).max,
        "median_all": lambda: x.median(), "median_dim": lambda: x.median(1).values,
        "median_keepdim": lambda: m.median(x, 0, keepdim=True).values,
        "cumsum": lambda: x.cumsum(1), "cumprod": lambda: x.cumprod(1), "logsumexp": lambda: x.logsumexp(1),
        "norm": lambda: x.norm(), "softmax": lambda: x.softmax(1), "log_softmax": lambda: x.log_softmax(1),
        # matrix products
        "mm": lambda: x @ w, "torch.mm": lambda: m.mm(x, w), "mv": lambda: x @ v, "dot": lambda: v @ v,
        "linear": lambda: F.linear(x, w.t(), w[0]), "linear_no_bias": lambda: F.linear(x, w.t()),
        "linear_batched": lambda: F.linear(b3, w.t(), w[0]), "linear_batched_no_bias": lambda: F.linear(b3, w.t()),
        "linear_vector": lambda: F.linear(v, w.t(), w[0]), "linear_vector_no_bias": lambda: F.linear(v, w.t()),
        # shapes and views
        "t": lambda: x.t(), "transpose": lambda: x.transpose(0, 1), "permute": lambda: x.permute(1, 0),
        "view": lambda: x.view(3, 2), "reshape": lambda: x.reshape(3, 2), "flatten": lambda: x.flatten(),
        "expand": lambda: v.expand(2, 3), "unsqueeze": lambda: x.unsqueeze(0),
        "squeeze": lambda: x.unsqueeze(0).squeeze(), "squeeze_dim": lambda: x.unsqueeze(0).squeeze(0),
        "clone": lambda: x.clone(), "to_dtype": lambda: x.to(m.float32), "float": lambda: x.float(),
        "cat": lambda: m.cat([x, x]), "stack": lambda: m.stack([x, x]), "split": lambda: x.split(1)[0],
        "unbind": lambda: x.unbind(0)[0], "flip": lambda: x.flip(0), "tril": lambda: x.tril(),
        "triu": lambda: x.triu(1),
        # indexing
        "select": lambda: x[0], "slice": lambda: x[:, 1:], "narrow": lambda: x.narrow(1, 0, 2),
        "index": lambda: x[m.tensor([0, 1])], "gather": lambda: x.gather(1, m.tensor([[0], [1]])),
        "index_select": lambda: x.index_select(0, m.tensor([1])), "copy_slices": written_slice,
        "copy_slices_view": written_view, "index_put": written_index,
        # layers and losses
        "conv2d": lambda: F.conv2d(x.reshape(1, 1, 2, 3), w[:2, :2].reshape(1, 1, 2, 2)),
        "embedding": lambda: F.embedding(labels, w),
        "mse_loss": lambda: F.mse_loss(x, target), "mse_loss_sum": lambda: F.mse_loss(x, target, reduction="sum"),
        "mse_loss_none": lambda: F.mse_loss(x, target, reduction="none"),
        "MSELoss": lambda: m.nn.MSELoss()(x, target), "l1_loss": lambda: F.l1_loss(x, target),
        "l1_loss_sum": lambda: F.l1_loss(x, target, reduction="sum"),
        "nll_loss": lambda: F.nll_loss(x.log_softmax(1), labels), "cross_entropy": lambda: F.cross_entropy(x, labels),
        "CrossEntropyLoss": lambda: m.nn.CrossEntropyLoss()(x, labels),
        "binary_cross_entropy": lambda: F.binary_cross_entropy(x.sigmoid(), target),
        "binary_cross_entropy_with_logits": lambda: F.binary_cross_entropy_with_logits(x, target),
        "BCEWithLogitsLoss": lambda: m.nn.BCEWithLogitsLoss()(x, target),
        # composite layers show torch's node
        "bilinear": lambda: F.bilinear(x, x, b3, w[0, :2]), "bilinear_vector": lambda: F.bilinear(v, v, b3, w[0, :2]),
        "bilinear_no_bias": lambda: F.bilinear(x, x, b3),
        "group_norm": lambda: F.group_norm(b3, 3, w[0, :3], w[1, :3]), "group_norm_plain": lambda: F.group_norm(b3, 1),
        "mha": lambda: _attention(m, b3, batch_first=False), "mha_batch_first": lambda: _attention(m, b3, batch_first=True),
        "mha_unbatched": lambda: _attention(m, b3[0], batch_first=False),
    }


def _attention(m, x, batch_first):
    m.manual_seed(0)
    return m.nn.MultiheadAttention(3, 1, batch_first=batch_first).double()(x, x, x)[0]


# still named for their last op (composites): var/std, layer_norm/batch_norm, avg/max pooling;
# smooth_l1_loss is not implemented yet
NAMES = list(_cases(tensorplug))


@pytest.mark.parametrize("name", NAMES)
def test_node_type_name_is_torchs(name):
    ours = _cases(tensorplug)[name]().grad_fn
    theirs = _cases(torch)[name]().grad_fn
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.name() == theirs.name().replace("torch::autograd::", "")


def _class_loss(m, loss, ndim, reduction, smoothing=0.0, weighted=False, soft=False):
    """A class loss of an ``ndim``-dimensional input: torch names it by the input's rank (nll_loss up
    to 2-d, nll_loss2d beyond) and by the form (label smoothing adds last, soft targets divide)."""
    shape = (4,) if ndim == 1 else (3, 4) + (2,) * (ndim - 2)
    x = m.tensor(np.linspace(-1.0, 1.0, int(np.prod(shape))).reshape(shape), requires_grad=True)
    if soft:
        target = m.tensor(np.full(shape, 0.25))
    else:
        target = m.tensor(np.arange(int(np.prod(shape)) // 4).reshape(shape[:1] + shape[2:] if ndim > 1 else ()) % 4)
    kwargs = {"reduction": reduction}
    if weighted:
        kwargs["weight"] = m.tensor(np.array([1.0, 2.0, 0.5, 1.5]))
    if loss == "cross_entropy":
        return m.nn.functional.cross_entropy(x, target, label_smoothing=smoothing, **kwargs)
    return m.nn.functional.nll_loss(x.log_softmax(0 if ndim == 1 else 1), target, **kwargs)


CLASS_LOSSES = [(loss, ndim, reduction, smoothing, weighted, soft)
                for loss in ("cross_entropy", "nll_loss") for ndim in (1, 2, 3, 4, 5)
                for reduction in ("mean", "sum", "none") for smoothing in (0.0, 0.1) for weighted in (False, True)
                for soft in (False, True) if loss == "cross_entropy" or not (smoothing or soft)
                if not (soft and weighted)]


@pytest.mark.parametrize("case", CLASS_LOSSES, ids=str)
def test_class_loss_node_is_torchs(case):
    ours = _class_loss(tensorplug, *case).grad_fn.name()
    assert ours == _class_loss(torch, *case).grad_fn.name()


def test_loss_nodes_pass_gradients_through_to_any_order():
    for m in (tensorplug, torch):
        x = m.tensor(np.array([[0.2, 0.7], [0.4, 0.9]]), requires_grad=True)
        t = m.tensor(np.array([[0.0, 1.0], [1.0, 0.0]]))
        loss = m.nn.functional.binary_cross_entropy_with_logits(x, t) + m.nn.functional.mse_loss(x, t)
        (g,) = m.autograd.grad(loss, x, create_graph=True)
        (gg,) = m.autograd.grad(g.sum(), x)
        if m is tensorplug:
            ours = (g.detach().numpy(), gg.numpy())
        else:
            np.testing.assert_allclose(ours[0], g.detach().numpy(), rtol=1e-12)
            np.testing.assert_allclose(ours[1], gg.numpy(), rtol=1e-12)


def test_leaves_show_accumulate_grad():
    for m in (tensorplug, torch):
        x = m.ones(2, requires_grad=True)
        (node, _), = (x * 2).grad_fn.next_functions[:1]
        assert type(node).__name__ == "AccumulateGrad" and node.variable is x


def test_op_classes_keep_their_own_qualified_name():
    from tensorplug.ops.arithmetic import Add
    assert Add.__name__ == "AddBackward0" and Add.__qualname__ == "Add"
