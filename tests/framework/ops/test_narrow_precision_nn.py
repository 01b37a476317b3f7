"""Every nn.functional op in float16 and bfloat16 against torch: values within the dtype's default
torch.testing tolerance, same result dtype. Inputs are drawn in float32, rounded to the narrow dtype and
given to both libraries; values that make a narrow-dtype accumulation overflow or lose bits (sums of
hundreds of elements, magnitudes near the dtype's range) are chosen on purpose."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)


def _r(*shape, scale=1.0, offset=0.0):
    return (RNG.standard_normal(shape) * scale + offset).astype(np.float32)


X4 = _r(2, 3, 16, 16)
BIG4 = _r(2, 3, 16, 16, scale=2.0, offset=3000.0)  # float16 sums of 256 of these overflow
W4 = _r(4, 3, 3, 3, scale=0.3)
SEQ = _r(2, 64, 8)
LOGITS = _r(64, 10, scale=3.0)
TARGET = RNG.integers(0, 10, 64)
PROB = RNG.uniform(0.05, 0.95, (64, 10)).astype(np.float32)
EMB = _r(20, 6)
BAG = RNG.integers(0, 20, 400)
CASES = {
    # name: (fn(module, F, *tensors), arrays; the integer arrays stay int64)
    "linear": (lambda m, F, x, w: F.linear(x, w), (_r(8, 512), _r(16, 512, scale=0.1))),
    "conv2d": (lambda m, F, x, w: F.conv2d(x, w, padding=1), (X4, W4)),
    "conv1d": (lambda m, F, x, w: F.conv1d(x, w), (_r(2, 3, 50), _r(4, 3, 5, scale=0.3))),
    "conv_transpose2d": (lambda m, F, x, w: F.conv_transpose2d(x, w), (X4, _r(3, 4, 3, 3, scale=0.3))),
    "avg_pool2d": (lambda m, F, x: F.avg_pool2d(x, 4), (BIG4,)),
    "avg_pool2d_big": (lambda m, F, x: F.avg_pool2d(x, 16), (BIG4,)),
    "avg_pool1d": (lambda m, F, x: F.avg_pool1d(x, 8), (_r(2, 3, 64, scale=2.0, offset=3000.0),)),
    "max_pool2d": (lambda m, F, x: F.max_pool2d(x, 2), (X4,)),
    "adaptive_avg_pool2d": (lambda m, F, x: F.adaptive_avg_pool2d(x, 1), (BIG4,)),
    "adaptive_avg_pool2d_3": (lambda m, F, x: F.adaptive_avg_pool2d(x, 3), (BIG4,)),
    "adaptive_avg_pool1d": (lambda m, F, x: F.adaptive_avg_pool1d(x, 2), (_r(2, 3, 64, scale=2.0, offset=3000.0),)),
    "adaptive_max_pool2d": (lambda m, F, x: F.adaptive_max_pool2d(x, 3), (X4,)),
    "interpolate_bilinear": (lambda m, F, x: F.interpolate(x, scale_factor=2, mode="bilinear"), (X4,)),
    "interpolate_nearest": (lambda m, F, x: F.interpolate(x, size=(7, 9)), (X4,)),
    "batch_norm": (lambda m, F, x: F.batch_norm(x, None, None, training=True), (BIG4,)),
    "batch_norm_eval": (lambda m, F, x, mu, var: F.batch_norm(x, mu, var), (BIG4, np.full(3, 3000.0, np.float32),
                                                                          np.full(3, 4.0, np.float32))),
    "conv_transpose1d": (lambda m, F, x, w: F.conv_transpose1d(x, w, stride=2), (_r(2, 3, 50), _r(3, 4, 5))),
    "interpolate_linear": (lambda m, F, x: F.interpolate(x, scale_factor=1.7, mode="linear"), (_r(2, 3, 20),)),
    "layer_norm": (lambda m, F, x: F.layer_norm(x, (16, 16)), (BIG4,)),
    "group_norm": (lambda m, F, x: F.group_norm(x, 3), (BIG4,)),
    "instance_norm": (lambda m, F, x: F.instance_norm(x), (BIG4,)),
    "rms_norm": (lambda m, F, x: F.rms_norm(x, (16, 16)), (BIG4,)),
    "normalize": (lambda m, F, x: F.normalize(x, dim=1), (_r(4, 600, scale=10.0),)),
    "mse_loss": (lambda m, F, a, b: F.mse_loss(a, b), (_r(64, 64, scale=4.0), _r(64, 64))),
    "mse_loss_sum": (lambda m, F, a, b: F.mse_loss(a, b, reduction="sum"), (_r(16, 16), _r(16, 16))),
    "l1_loss": (lambda m, F, a, b: F.l1_loss(a, b), (_r(64, 64, scale=40.0), _r(64, 64))),
    "smooth_l1_loss": (lambda m, F, a, b: F.smooth_l1_loss(a, b), (_r(64, 64, scale=40.0), _r(64, 64))),
    "huber_loss": (lambda m, F, a, b: F.huber_loss(a, b, delta=2.0), (_r(64, 64, scale=40.0), _r(64, 64))),
    "cross_entropy": (lambda m, F, x, t: F.cross_entropy(x, t), (LOGITS, TARGET)),
    "cross_entropy_1000": (lambda m, F, x, t: F.cross_entropy(x, t), (_r(64, 1000, scale=3.0), TARGET)),
    "cross_entropy_none": (lambda m, F, x, t: F.cross_entropy(x, t, reduction="none"),
                           (_r(64, 1000, scale=3.0), TARGET)),
    "cross_entropy_sum": (lambda m, F, x, t: F.cross_entropy(x, t, reduction="sum"), (LOGITS, TARGET)),
    "cross_entropy_smooth": (lambda m, F, x, t: F.cross_entropy(x, t, label_smoothing=0.1), (LOGITS, TARGET)),
    "nll_loss": (lambda m, F, x, t: F.nll_loss(F.log_softmax(x, 1), t), (LOGITS, TARGET)),
    "binary_cross_entropy": (lambda m, F, p, q: F.binary_cross_entropy(p, q), (PROB, PROB[::-1].copy())),
    "bce_with_logits": (lambda m, F, x, q: F.binary_cross_entropy_with_logits(x, q), (LOGITS, PROB)),
    "kl_div": (lambda m, F, x, q: F.kl_div(F.log_softmax(x, 1), q, reduction="batchmean"), (LOGITS, PROB)),
    "attention": (lambda m, F, q, k, v: F.scaled_dot_product_attention(q, k, v), (SEQ, SEQ[::-1].copy(), SEQ)),
    "attention_causal": (lambda m, F, q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                         (SEQ, SEQ[::-1].copy(), SEQ)),
    "embedding_bag_mean": (lambda m, F, i, w, o: F.embedding_bag(i, w, o, mode="mean"),
                           (BAG, _r(20, 6, offset=3000.0), np.array([0, 300]))),
    "embedding_bag_sum": (lambda m, F, i, w, o: F.embedding_bag(i, w, o, mode="sum"),
                          (BAG, EMB, np.array([0, 300]))),
    "embedding": (lambda m, F, i, w: F.embedding(i, w), (BAG[:10], EMB)),
    "cosine_similarity": (lambda m, F, a, b: F.cosine_similarity(a, b), (_r(4, 600, scale=30.0), _r(4, 600))),
    "pairwise_distance": (lambda m, F, a, b: F.pairwise_distance(a, b), (_r(4, 600, scale=30.0), _r(4, 600))),
    "gelu": (lambda m, F, x: F.gelu(x), (_r(1000, scale=4.0),)),
    "gelu_tanh": (lambda m, F, x: F.gelu(x, approximate="tanh"), (_r(1000, scale=4.0),)),
    "silu": (lambda m, F, x: F.silu(x), (_r(1000, scale=4.0),)),
    "softplus": (lambda m, F, x: F.softplus(x), (_r(1000, scale=10.0),)),
    "mish": (lambda m, F, x: F.mish(x), (_r(1000, scale=4.0),)),
    "elu": (lambda m, F, x: F.elu(x), (_r(1000, scale=4.0),)),
    "log_softmax": (lambda m, F, x: F.log_softmax(x, 1), (_r(4, 3000, scale=3.0),)),
    "softmax": (lambda m, F, x: F.softmax(x, 1), (_r(4, 3000, scale=3.0),)),
    "logsigmoid": (lambda m, F, x: F.logsigmoid(x), (_r(1000, scale=10.0),)),
}


# torch.testing.assert_close's defaults for the dtype (compared after the cast to float32)
_TOL = {"float16": {"rtol": 1e-3, "atol": 1e-5}, "bfloat16": {"rtol": 1.6e-2, "atol": 1e-5}}
# torch normalises as x * a + b in float32 with |x * a| near 1500 (x near 3000): its result carries an
# absolute error near 1500 * 2**-23 that ours, (x - mean) * a, has not. Compared with that atol there.
_CANCELLING = {"rtol": 2 ** -9, "atol": 3e-4}
_LOOSER = {("layer_norm", "float16"): _CANCELLING, ("group_norm", "float16"): _CANCELLING,
           ("batch_norm_eval", "float16"): _CANCELLING, ("batch_norm_eval", "bfloat16"): _CANCELLING}
# torch's float16/bfloat16 linear and trilinear resizing by a non-integer scale rounds in a way not found
# yet (neither float32 rounded once, ours now, nor weights rounded to the dtype): a few values differ
_KNOWN = {("interpolate_linear", "float16"), ("interpolate_linear", "bfloat16")}


def _tensors(m, arrays, dtype):
    out = []
    for a in arrays:
        t = m.tensor(a)
        out.append(t.to(dtype) if a.dtype == np.float32 else t)
    return out


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("case", CASES)
def test_nn_functional_narrow_dtype_matches_torch(case, dtype):
    if (case, dtype) in _KNOWN:
        pytest.xfail("torch's rounding of linear resizing by a non-integer scale is not reproduced yet")
    fn, arrays = CASES[case]
    want = fn(torch, torch.nn.functional, *_tensors(torch, arrays, getattr(torch, dtype)))
    got = fn(tp, tp.nn.functional, *_tensors(tp, arrays, getattr(tp, dtype)))
    if isinstance(want, tuple):
        want, got = want[0], got[0]
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    got = torch.from_numpy(np.asarray(got.float().detach().numpy()))
    torch.testing.assert_close(got, want.float().detach(), equal_nan=True,
                               **_LOOSER.get((case, dtype), _TOL[dtype]))


