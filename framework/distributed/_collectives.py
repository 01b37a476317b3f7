"""torch.distributed's collectives over a ProcessGroup: tensors in, the plugin's arrays through."""
from __future__ import annotations

from . import _debug
from ._state import group_rank, resolve
from .process_group import ReduceOp, Work

__all__ = ["all_reduce", "broadcast", "all_gather", "all_gather_into_tensor", "reduce_scatter_tensor", "reduce",
           "gather", "scatter", "barrier", "send", "recv", "isend", "irecv"]


def _check(tensor, name, param="tensor"):
    from ..tensor import Tensor
    if not isinstance(tensor, Tensor):
        raise TypeError(f"Invalid function argument. Expected parameter `{param}` of type torch.Tensor "
                        f"but got {type(tensor)} instead. ({name})")


def _check_device(pg, tensor, name):
    spec_types = getattr(pg, "device_types", None)
    device_type = tensor.device.type
    if spec_types and device_type not in spec_types:
        raise RuntimeError(f"No backend type associated with device type {device_type}: {name} on the "
                           f"'{pg.name}' process group takes {'/'.join(spec_types)} tensors; move the tensor "
                           f"with .to(...) or initialize a backend for {device_type} ('nccl' for cuda)")


def _check_op(op, name):
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{name}(): op must be a tensorplug.distributed.ReduceOp, got {op!r}")


def _array_of(tensor):
    """``tensor``'s array for the plugin to read or write, and what to do once it has."""
    if tensor.is_contiguous():
        def bump():
            tensor._version[0] += 1
        return tensor._data, bump
    buffer = tensor.contiguous()

    def write_back():
        from ..autograd.grad_mode import no_grad
        with no_grad():
            tensor.copy_(buffer)
    return buffer._data, write_back


def _finish(pg, work, what, after, async_op):
    """The user's Work (async) or None after waiting: ``after`` runs once the plugin's work completes."""
    result = Work(work.is_completed, what, pg.timeout, after)
    if async_op:
        return result
    result.wait()
    return None


def _avg(op):
    return ReduceOp.SUM if op is ReduceOp.AVG else op


def _divide(array, n):
    array /= n


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine ``tensor`` across the group's ranks, in place on every rank."""
    _check(tensor, "all_reduce")
    _check_op(op, "all_reduce")
    pg = resolve(group)
    _check_device(pg, tensor, "all_reduce")
    _debug.check(pg, "all_reduce", tensor, op=op)
    array, done = _array_of(tensor)
    work = pg.all_reduce(array, _avg(op))

    def after():
        if op is ReduceOp.AVG:
            _divide(array, pg.size())
        done()
    return _finish(pg, work, "all_reduce", after, async_op)


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """Copy rank ``src``'s ``tensor`` into every rank's."""
    _check(tensor, "broadcast")
    pg = resolve(group)
    _check_device(pg, tensor, "broadcast")
    root = _root(pg, src, group_src, "src")
    _debug.check(pg, "broadcast", tensor, root=root)
    array, done = _array_of(tensor)
    return _finish(pg, pg.broadcast(array, root), "broadcast", done, async_op)


def _root(pg, global_rank, group_rank_, what):
    if group_rank_ is not None:
        if not 0 <= group_rank_ < pg.size():
            raise ValueError(f"group_{what} {group_rank_} is out of range for a group of {pg.size()} ranks")
        return group_rank_
    return group_rank(pg, 0 if global_rank is None else int(global_rank), what)


def _stacked_buffer(tensor, n):
    """An empty contiguous array of ``n`` copies of ``tensor``'s shape, on its backend."""
    backend = tensor._backend
    return backend.xp.empty((n, *tensor.shape), dtype=tensor._data.dtype)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Every rank's ``tensor`` into ``tensor_list[rank]``, on every rank."""
    _check(tensor, "all_gather")
    pg = resolve(group)
    _check_device(pg, tensor, "all_gather")
    _check_list(tensor_list, pg, tensor, "all_gather", "tensor_list")
    _debug.check(pg, "all_gather", tensor)
    source, _ = _array_of(tensor)
    out = _stacked_buffer(tensor, pg.size())
    work = pg.all_gather(out, source)
    return _finish(pg, work, "all_gather", lambda: _unstack(out, tensor_list), async_op)


def _check_list(tensors, pg, like, name, param):
    if not isinstance(tensors, (list, tuple)) or len(tensors) != pg.size():
        got = len(tensors) if isinstance(tensors, (list, tuple)) else type(tensors).__name__
        raise ValueError(f"{name}(): {param} must be a list of {pg.size()} tensors (the group's size), got {got}")
    for t in tensors:
        _check(t, name, param)
        if tuple(t.shape) != tuple(like.shape) or t.dtype != like.dtype:
            raise ValueError(f"{name}(): every tensor in {param} must have the input's shape "
                             f"{list(like.shape)} and dtype {like.dtype}; got {list(t.shape)} {t.dtype}")


def _unstack(out, tensors):
    from ..autograd.grad_mode import no_grad
    with no_grad():
        for i, t in enumerate(tensors):
            t.copy_(t._make(out[i], t._dtype, t._backend))


def _check_blocks(pg, whole, block, name, message):
    """``whole`` must hold the group's size times ``block``, in ``block``'s dtype (the ``*_tensor`` collectives)."""
    if whole.numel() != pg.size() * block.numel() or whole.dtype != block.dtype:
        raise ValueError(f"{message} ({name}: {pg.size()} x {list(block.shape)} {block.dtype} and "
                         f"{list(whole.shape)} {whole.dtype})")


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Every rank's ``input_tensor``, concatenated (or stacked) in rank order, into ``output_tensor``."""
    _check(output_tensor, "all_gather_into_tensor", "output_tensor")
    _check(input_tensor, "all_gather_into_tensor", "input_tensor")
    pg = resolve(group)
    _check_device(pg, input_tensor, "all_gather_into_tensor")
    _check_blocks(pg, output_tensor, input_tensor, "all_gather_into_tensor",
                  "output tensor size must be equal to world_size times input tensor size")
    _debug.check(pg, "all_gather_into_tensor", input_tensor)
    source, _ = _array_of(input_tensor)
    target, done = _array_of(output_tensor)
    backend = output_tensor._backend
    flat = backend.xp.reshape(target, (pg.size(), *input_tensor.shape))
    work = pg.all_gather(flat, source)
    return _finish(pg, work, "all_gather_into_tensor", done, async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input`` (the group's size times ``output``) across ranks; rank r keeps block r."""
    _check(output, "reduce_scatter_tensor", "output")
    _check(input, "reduce_scatter_tensor", "input")
    _check_op(op, "reduce_scatter_tensor")
    pg = resolve(group)
    _check_device(pg, input, "reduce_scatter_tensor")
    _check_blocks(pg, input, output, "reduce_scatter_tensor",
                  "input tensor must be the same size as output size times world size")
    _debug.check(pg, "reduce_scatter_tensor", input, op=op)
    source, _ = _array_of(input)
    target, done = _array_of(output)
    work = pg.reduce_scatter(target, source, _avg(op))

    def after():
        if op is ReduceOp.AVG:
            _divide(target, pg.size())
        done()
    return _finish(pg, work, "reduce_scatter_tensor", after, async_op)


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """Combine ``tensor`` across ranks into rank ``dst``'s (the others' are left as they were)."""
    _check(tensor, "reduce")
    _check_op(op, "reduce")
    pg = resolve(group)
    _check_device(pg, tensor, "reduce")
    root = _root(pg, dst, group_dst, "dst")
    _debug.check(pg, "reduce", tensor, op=op, root=root)
    array, done = _array_of(tensor)
    work = pg.reduce(array, root, _avg(op))

    def after():
        if pg.rank() == root:
            if op is ReduceOp.AVG:
                _divide(array, pg.size())
            done()
    return _finish(pg, work, "reduce", after, async_op)


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    """Every rank's ``tensor`` into ``gather_list`` on rank ``dst`` (None elsewhere)."""
    _check(tensor, "gather")
    pg = resolve(group)
    _check_device(pg, tensor, "gather")
    root = _root(pg, dst, group_dst, "dst")
    here = pg.rank() == root
    if here:
        _check_list(gather_list, pg, tensor, "gather", "gather_list")
    elif gather_list:
        raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination ranks.")
    _debug.check(pg, "gather", tensor, root=root)
    source, _ = _array_of(tensor)
    out = _stacked_buffer(tensor, pg.size()) if here else None
    work = pg.gather(out, source, root)
    return _finish(pg, work, "gather", (lambda: _unstack(out, gather_list)) if here else None, async_op)


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    """Rank ``src``'s ``scatter_list[r]`` into rank r's ``tensor``."""
    _check(tensor, "scatter")
    pg = resolve(group)
    _check_device(pg, tensor, "scatter")
    root = _root(pg, src, group_src, "src")
    source = None
    if pg.rank() == root:
        _check_list(scatter_list, pg, tensor, "scatter", "scatter_list")
        xp = tensor._backend.xp
        source = xp.stack([t.contiguous()._data for t in scatter_list])
    elif scatter_list:
        raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source ranks.")
    _debug.check(pg, "scatter", tensor, root=root)
    array, done = _array_of(tensor)
    return _finish(pg, pg.scatter(array, source, root), "scatter", done, async_op)


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank of the group reaches this call."""
    pg = resolve(group)
    _debug.check(pg, "barrier", None)
    return _finish(pg, pg.barrier(), "barrier", None, async_op)


def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Send ``tensor`` to rank ``dst``; returns a Work."""
    _check(tensor, "isend")
    pg = resolve(group)
    _check_device(pg, tensor, "isend")
    peer = _root(pg, dst, group_dst, "dst")
    if peer == pg.rank():
        raise ValueError("Invalid destination rank: destination rank should not be the same as the rank "
                         "of the current process.")
    array, _ = _array_of(tensor)
    return _finish(pg, pg.send(array, peer, int(tag)), f"send to rank {peer}", None, True)


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receive into ``tensor`` from rank ``src`` (any rank if None); returns a Work."""
    _check(tensor, "irecv")
    pg = resolve(group)
    _check_device(pg, tensor, "irecv")
    peer = None if src is None and group_src is None else _root(pg, src, group_src, "src")
    if peer is not None and peer == pg.rank():
        raise ValueError("Invalid source rank: source rank should not be the same as the rank of the "
                         "current process.")
    array, done = _array_of(tensor)
    inner = pg.recv(array, peer, int(tag))
    work = _finish(pg, inner, f"recv from rank {'any' if peer is None else peer}", done, True)
    work.source = inner
    return work


def send(tensor, dst=None, group=None, tag=0, group_dst=None):
    isend(tensor, dst, group, tag, group_dst).wait()


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receive into ``tensor``; returns the sender's global rank."""
    work = irecv(tensor, src, group, tag, group_src)
    work.wait()
    pg = resolve(group)
    from ._state import get_process_group_ranks
    sender = getattr(work.source, "source", None)
    return get_process_group_ranks(pg)[sender] if sender is not None else src
