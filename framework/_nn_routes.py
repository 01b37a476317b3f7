"""The neural-network functions torch also exposes at top level (``torch.conv2d``, ``torch.layer_norm``,
``torch.embedding``, ``torch.kl_div`` ...), routed to ``tensorplug.nn.functional`` on first call (the nn
package is not imported with tensorplug). Where torch's top-level signature differs from F's (argument
order, an integer ``reduction``, trailing cudnn flags), an adapter takes torch's."""
from __future__ import annotations

import importlib

# the same signature as F's: passed straight through
SAME = ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
        "pixel_shuffle", "pixel_unshuffle", "cosine_similarity", "pairwise_distance", "pdist", "prelu", "selu",
        "celu", "threshold", "bilinear", "selu_", "celu_", "threshold_", "rrelu", "rrelu_", "channel_shuffle",
        "native_channel_shuffle", "alpha_dropout", "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d",
        "adaptive_avg_pool1d", "adaptive_max_pool1d", "max_pool1d_with_indices", "hardshrink", "rms_norm")
# torch's integer reduction codes (at::Reduction)
_REDUCTION = {0: "none", 1: "mean", 2: "sum"}


def _F():
    return importlib.import_module("tensorplug.nn.functional")


def _passed_through(name):
    def fn(*args, **kwargs):
        return getattr(_F(), name)(*args, **kwargs)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``tensorplug.nn.functional.{name}``, as torch.{name}."
    return fn


def _reduction(value):
    if isinstance(value, str):
        return value
    if value not in _REDUCTION:
        raise ValueError(f"reduction: expected 0 (none), 1 (mean) or 2 (sum), got {value!r}")
    return _REDUCTION[value]


def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """torch.embedding: ``F.embedding`` with the weight first (``padding_idx=-1``: none)."""
    return _F().embedding(indices, weight, None if padding_idx == -1 else padding_idx,
                          scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5, cudnn_enable=True):
    return _F().layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5, cudnn_enabled=True):
    return _F().group_norm(input, num_groups, weight, bias, eps)


def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled=True):
    """torch.batch_norm: weight and bias come before the running statistics (F's order is the reverse)."""
    return _F().batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps,
                  cudnn_enabled=True):
    return _F().instance_norm(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps)


def dropout(input, p, train):
    return _F().dropout(input, p, train)


def dropout_(input, p, train):
    return _F().dropout(input, p, train, inplace=True)


def feature_dropout(input, p, train):
    return _F().dropout2d(input, p, train)


def kl_div(input, target, reduction=1, *, log_target=False):
    """torch.kl_div: F's, without F's warning about 'mean' (torch's top-level op gives none)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return _F().kl_div(input, target, reduction=_reduction(reduction), log_target=log_target)


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=1):
    return _F().margin_ranking_loss(input1, input2, target, margin=margin, reduction=_reduction(reduction))


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction=1):
    return _F().triplet_margin_loss(anchor, positive, negative, margin=margin, p=p, eps=eps, swap=swap,
                                    reduction=_reduction(reduction))


def hinge_embedding_loss(input, target, margin=1.0, reduction=1):
    return _F().hinge_embedding_loss(input, target, margin=margin, reduction=_reduction(reduction))


def poisson_nll_loss(input, target, log_input, full, eps, reduction):
    return _F().poisson_nll_loss(input, target, log_input=log_input, full=full, eps=eps,
                                 reduction=_reduction(reduction))


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=1):
    return _F().cosine_embedding_loss(input1, input2, target, margin=margin, reduction=_reduction(reduction))


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction=1):
    return _F().binary_cross_entropy_with_logits(input, target, weight, reduction=_reduction(reduction),
                                                 pos_weight=pos_weight)


def _bind_methods():
    """Tensor.hardshrink / Tensor.prelu, torch's two nn methods on Tensor (F loads on first call)."""
    from .ops import bind

    def hardshrink(self, lambd=0.5):
        return _F().hardshrink(self, lambd)

    def prelu(self, weight):
        return _F().prelu(self, weight)
    bind({"hardshrink": hardshrink, "prelu": prelu})


_bind_methods()
globals().update({name: _passed_through(name) for name in SAME})
__all__ = list(SAME) + ["embedding", "layer_norm", "group_norm", "batch_norm", "instance_norm", "dropout",
                        "dropout_", "feature_dropout", "kl_div", "margin_ranking_loss", "triplet_margin_loss",
                        "hinge_embedding_loss", "poisson_nll_loss", "cosine_embedding_loss",
                        "binary_cross_entropy_with_logits"]
