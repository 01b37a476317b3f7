"""SyncBatchNorm: batch normalisation whose statistics are taken over every rank's batch."""
from __future__ import annotations

from .. import distributed as dist
from ..autograd.function import Function
from .normalization import _BatchNorm

__all__ = ["SyncBatchNorm"]


def _channel_sum(x):
    """Per-channel sums of ``(N, C, *)`` input, as a ``(C,)`` tensor."""
    dims = [0] + list(range(2, x.dim()))
    return x.sum(dim=dims)


def _per_channel(v, x):
    return v.reshape([1, -1] + [1] * (x.dim() - 2))


class _SyncBatchNormFunction(Function):
    """Normalise with global statistics; backward all-reduces the two per-channel sums it needs."""

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, eps, momentum, group):
        local_count = x.numel() // x.shape[1]
        stats = x.new_zeros((2 * x.shape[1] + 1,))
        stats[: x.shape[1]] = _channel_sum(x)
        stats[x.shape[1]: -1] = _channel_sum(x * x)
        stats[-1] = local_count
        dist.all_reduce(stats, group=group)
        c = x.shape[1]
        count = float(stats[-1])
        mean = stats[:c] / count
        var = (stats[c:-1] / count - mean * mean).clamp(min=0)
        if running_mean is not None:
            running_mean.mul_(1 - momentum).add_(mean, alpha=momentum)
            running_var.mul_(1 - momentum).add_(var * (count / max(count - 1, 1)), alpha=momentum)
        invstd = (var + eps).rsqrt()
        xhat = (x - _per_channel(mean, x)) * _per_channel(invstd, x)
        ctx.save_for_backward(xhat, invstd, weight)
        ctx.count, ctx.group = count, group
        out = xhat
        if weight is not None:
            out = out * _per_channel(weight, x)
        if bias is not None:
            out = out + _per_channel(bias, x)
        return out

    @staticmethod
    def backward(ctx, g):
        xhat, invstd, weight = ctx.saved_tensors
        c = xhat.shape[1]
        sums = g.new_zeros((2 * c,))
        grad_bias = _channel_sum(g)
        grad_weight = _channel_sum(g * xhat)
        sums[:c] = grad_bias
        sums[c:] = grad_weight
        dist.all_reduce(sums, group=ctx.group)
        scale = invstd if weight is None else invstd * weight
        gx = _per_channel(scale, g) * (g - _per_channel(sums[:c] / ctx.count, g)
                                       - xhat * _per_channel(sums[c:] / ctx.count, g))
        return (gx, grad_weight if weight is not None else None, grad_bias if weight is not None else None,
                None, None, None, None, None)


class SyncBatchNorm(_BatchNorm):
    """BatchNorm over ``(N, C, *)`` input whose training statistics cover every rank's batch.

    With one process (or before ``init_process_group``) it is BatchNorm. CPU
    tensors are supported (torch's is GPU-only). Convert a model's BatchNorm
    layers with :meth:`convert_sync_batchnorm`.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, input):
        self._check_input_dim(input)
        sync = (self.training and dist.is_initialized()
                and dist.get_world_size(self.process_group) > 1)
        if not sync:
            return super().forward(input)
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                momentum = 1.0 / float(self.num_batches_tracked)
        running = self.track_running_stats
        return _SyncBatchNormFunction.apply(input, self.weight, self.bias,
                                            self.running_mean if running else None,
                                            self.running_var if running else None,
                                            self.eps, momentum, self.process_group)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every BatchNorm*d replaced by a SyncBatchNorm holding the same state."""
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group)
            if module.affine:
                out.weight = module.weight
                out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out
