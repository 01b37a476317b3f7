"""DistributedDataParallel: gradients averaged across ranks in buckets, overlapping backward.

At construction rank 0's parameters and buffers are broadcast. Parameters are
grouped into buckets in reverse registration order (the order backward
produces their gradients; the first bucket small so communication starts
early). Each parameter's post-accumulate-grad hook marks it ready; a full
bucket's all-reduce starts at once, while backward goes on; the end-of-
backward callback waits for them all and writes the averaged gradients back,
so ``optimizer.step()`` reads reduced gradients, as with torch.
"""
from __future__ import annotations

import contextlib

from ... import distributed as dist
from ...autograd.grad_mode import is_grad_enabled, no_grad
from ..module import Module

__all__ = ["DistributedDataParallel"]

_FIRST_BUCKET_BYTES = 1024 * 1024  # torch's dist._DEFAULT_FIRST_BUCKET_BYTES

_UNFINISHED = (
    "Expected to have finished reduction in the prior iteration before starting a new one. This error indicates "
    "that your module has parameters that were not used in producing loss. You can enable unused parameter "
    "detection by passing the keyword argument `find_unused_parameters=True` to "
    "`torch.nn.parallel.DistributedDataParallel`, and by making sure all `forward` function outputs participate "
    "in calculating loss. Parameter indices which did not receive grad for rank {rank}: {missing}")


class _Bucket:
    """Parameters whose gradients travel in one all-reduce, packed into one flat array."""

    def __init__(self, params):
        self.params = params
        self.sizes = [p.numel() for p in params]
        self.ready = set()
        self.work = None
        self.buffer = None

    def pack(self):
        first = self.params[0]
        xp = first._backend.xp
        self.buffer = xp.empty((sum(self.sizes),), dtype=first._data.dtype)
        offset = 0
        for p, n in zip(self.params, self.sizes):
            if p.grad is None:  # unused here (find_unused_parameters): contributes zeros
                self.buffer[offset:offset + n] = 0
            else:
                self.buffer[offset:offset + n] = xp.reshape(p.grad.contiguous()._data, (n,))
            offset += n

    def unpack(self, world, used):
        self.buffer /= world
        offset = 0
        for p, n in zip(self.params, self.sizes):
            flat = self.buffer[offset:offset + n]
            offset += n
            if p.grad is None and not used(p):
                continue  # unused on every rank: torch leaves .grad as it was
            value = p._make(p._backend.xp.reshape(flat, tuple(p.shape)), p._dtype, p._backend)
            with no_grad():
                if p.grad is None:
                    p.grad = value.clone()
                else:
                    p.grad.copy_(value)


class DistributedDataParallel(Module):
    """Data parallelism across processes: wrap the model, train as usual.

    Args:
        module: the model; every rank builds the same one.
        device_ids, output_device, dim: accepted for torch compatibility (one device per process).
        broadcast_buffers: broadcast rank 0's buffers (BatchNorm statistics) at every forward.
        process_group: the group to average over (default: the default group).
        bucket_cap_mb: bucket size in MiB (default 25).
        find_unused_parameters: detect, at each forward, parameters the output does not depend on.
        gradient_as_bucket_view, static_graph, check_reduction: accepted for torch compatibility.

    Example:
        >>> model = DistributedDataParallel(net)
        >>> loss_fn(model(x), y).backward()      # gradients averaged across ranks here
        >>> optimizer.step()
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 init_sync=True, process_group=None, bucket_cap_mb=None, find_unused_parameters=False,
                 check_reduction=False, gradient_as_bucket_view=False, static_graph=False, **kwargs):
        super().__init__()
        self.process_group = dist._state.resolve(process_group)
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel expects an nn.Module, got {type(module).__name__}")
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter "
                               "that requires a gradient.")
        self.module = module
        self.broadcast_buffers = broadcast_buffers if broadcast_buffers is not None else True
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self._params = params
        self._buckets = self._make_buckets(params, 25 if bucket_cap_mb is None else bucket_cap_mb)
        self._bucket_of = {id(p): b for b in self._buckets for p in b.params}
        self._index = {id(p): i for i, p in enumerate(params)}
        self._used = set()
        self._started = False
        if init_sync:
            self._broadcast(list(module.parameters()) + list(module.buffers()))
        self._handles = [p.register_post_accumulate_grad_hook(self._on_grad) for p in params]

    # construction -------------------------------------------------------------------------------
    @staticmethod
    def _make_buckets(params, cap_mb):
        cap = int(cap_mb * 1024 * 1024)
        buckets, current, size, limit = [], [], 0, _FIRST_BUCKET_BYTES
        for p in reversed(params):  # backward produces the last layers' gradients first
            nbytes = p.numel() * p.element_size()
            if current and (size + nbytes > limit or p.dtype != current[0].dtype):
                buckets.append(_Bucket(current))
                current, size, limit = [], 0, cap
            current.append(p)
            size += nbytes
        if current:
            buckets.append(_Bucket(current))
        return buckets

    def _broadcast(self, tensors):
        with no_grad():
            for t in tensors:
                dist.broadcast(t.data if t.requires_grad else t, src=dist.get_process_group_ranks(
                    self.process_group)[0], group=self.process_group)

    # forward ------------------------------------------------------------------------------------
    def forward(self, *inputs, **kwargs):
        self._check_previous_iteration()
        if self.broadcast_buffers and self.require_forward_param_sync:
            buffers = list(self.module.buffers())
            if buffers:
                self._broadcast(buffers)
        output = self.module(*inputs, **kwargs)
        if self.find_unused_parameters and is_grad_enabled() and self.require_backward_grad_sync:
            self._mark_unused(output)
        return output

    def _check_previous_iteration(self):
        if not self._started:
            return
        missing = sorted(self._index[id(p)] for b in self._buckets for p in b.params if id(p) not in b.ready)
        self._reset()
        if missing:
            raise RuntimeError(_UNFINISHED.format(rank=dist.get_rank(self.process_group), missing=missing))

    def _reset(self):
        for bucket in self._buckets:
            bucket.ready.clear()
            bucket.work = None
            bucket.buffer = None
        self._used.clear()
        self._started = False

    def _mark_unused(self, output):
        """Parameters ``output`` does not depend on are ready now (they contribute zeros)."""
        reachable = _reachable_leaves(output)
        self._reset()
        for p in self._params:
            if id(p) in reachable:
                self._used.add(id(p))
            else:
                self._bucket_of[id(p)].ready.add(id(p))

    # backward -----------------------------------------------------------------------------------
    def _on_grad(self, param):
        if not self.require_backward_grad_sync:
            return
        if not self._started:
            self._started = True
            from ...autograd import Variable
            Variable._execution_engine.queue_callback(self._finish_backward)
        self._used.add(id(param))
        bucket = self._bucket_of[id(param)]
        bucket.ready.add(id(param))
        self._launch_if_full(bucket)

    def _launch_if_full(self, bucket):
        if len(bucket.ready) == len(bucket.params) and bucket.work is None:
            bucket.pack()
            first = bucket.params[0]
            flat = first._make(bucket.buffer, first._dtype, first._backend)
            bucket.work = dist.all_reduce(flat, group=self.process_group, async_op=True)

    def _finish_backward(self):
        for bucket in self._buckets:  # buckets of locally unused parameters only
            self._launch_if_full(bucket)
        if any(b.work is None for b in self._buckets):
            return  # some parameter got no gradient: the next forward raises torch's error
        used = self._globally_used()
        world = dist.get_world_size(self.process_group)
        for bucket in self._buckets:
            bucket.work.wait()
            bucket.unpack(world, used)
        self._reset()

    def _globally_used(self):
        if not self.find_unused_parameters:
            return lambda p: True
        flags = self._params[0].new_tensor([1.0 if id(p) in self._used else 0.0 for p in self._params])
        dist.all_reduce(flags, op=dist.ReduceOp.MAX, group=self.process_group)
        used = {id(p) for p, f in zip(self._params, flags.tolist()) if f > 0}
        return lambda p: id(p) in used

    @contextlib.contextmanager
    def no_sync(self):
        """Inside, backward accumulates gradients locally; the first backward after it averages them."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def join(self, *args, **kwargs):
        raise NotImplementedError("DistributedDataParallel.join (uneven inputs) is not provided by tensorplug: give "
                                  "every rank the same number of batches (DistributedSampler(drop_last=True) does)")


def _reachable_leaves(output):
    """ids of the leaf tensors the autograd graph of ``output`` (tensors in any nesting) reaches."""
    from ...tensor import Tensor
    stack, seen, leaves = [], set(), set()

    def collect(obj):
        if isinstance(obj, Tensor):
            if obj.grad_fn is not None:
                stack.append(obj.grad_fn)
            elif obj.requires_grad:
                leaves.add(id(obj))
        elif isinstance(obj, (list, tuple)):
            for o in obj:
                collect(o)
        elif isinstance(obj, dict):
            for o in obj.values():
                collect(o)
    collect(output)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            variable = getattr(nxt, "variable", None)
            if variable is not None:
                leaves.add(id(variable))
            else:
                stack.append(nxt)
    return leaves
