"""A NCCL communicator as a tensorplug ProcessGroup (CuPy's ``cupy.cuda.nccl`` bindings)."""
from __future__ import annotations

import os

import cupy
import numpy as np
from cupy.cuda import nccl
from mpi4py import MPI

from tensorplug.distributed import DistBackendError, ProcessGroup, ReduceOp, Work

_OPS = {ReduceOp.SUM: nccl.NCCL_SUM, ReduceOp.PRODUCT: nccl.NCCL_PROD, ReduceOp.MIN: nccl.NCCL_MIN,
        ReduceOp.MAX: nccl.NCCL_MAX}
_TYPES = {np.dtype("float32"): nccl.NCCL_FLOAT32, np.dtype("float64"): nccl.NCCL_FLOAT64,
          np.dtype("float16"): nccl.NCCL_FLOAT16, np.dtype("int32"): nccl.NCCL_INT32,
          np.dtype("int64"): nccl.NCCL_INT64, np.dtype("int8"): nccl.NCCL_INT8, np.dtype("uint8"): nccl.NCCL_UINT8,
          np.dtype("bool"): nccl.NCCL_UINT8}


def _nccl_type(array):
    found = _TYPES.get(array.dtype)
    if found is None and array.dtype.name == "bfloat16" and hasattr(nccl, "NCCL_BFLOAT16"):
        found = nccl.NCCL_BFLOAT16
    if found is None:
        raise TypeError(f"NCCL cannot reduce {array.dtype} arrays; convert the tensor (e.g. .float()) first")
    return found


def _op(array, op):
    if array.dtype == np.bool_ and op not in (ReduceOp.MAX, ReduceOp.MIN, ReduceOp.SUM):
        raise TypeError(f"NCCL has no {op.name} on bool tensors")
    if op not in _OPS:
        raise ValueError(f"NCCL does not support ReduceOp.{op.name}")
    return _OPS[ReduceOp.MAX if array.dtype == np.bool_ and op is ReduceOp.SUM else op]


class NcclProcessGroup(ProcessGroup):
    name = "nccl"

    def __init__(self, mpi_comm, timeout):
        super().__init__(mpi_comm.Get_rank(), mpi_comm.Get_size(), timeout)
        self.mpi = mpi_comm
        raw = np.asarray(nccl.get_unique_id() if self._rank == 0 else [0] * 128, dtype=np.int64)
        self.mpi.Bcast(raw, root=0)  # a buffer, never a pickle
        self.comm = nccl.NcclCommunicator(self._size, tuple(int(v) for v in raw), self._rank)
        self.stream = cupy.cuda.Stream(non_blocking=True)

    @classmethod
    def from_world(cls, rank, world_size, timeout):
        world = MPI.COMM_WORLD
        if world_size >= 0 and world_size != world.Get_size():
            raise ValueError(f"init_process_group(): world_size is {world_size} but the launcher started "
                             f"{world.Get_size()} ranks (python -m tensorplug.distributed.run --nproc-per-node N)")
        local = int(os.environ.get("LOCAL_RANK", world.Get_rank()))
        cupy.cuda.Device(local % cupy.cuda.runtime.getDeviceCount()).use()
        return cls(world.Dup(), timeout)

    def _run(self, what, launch, after=None, keep=()):
        """Queue ``launch(stream_ptr)`` after the current stream's work; a Work that polls its event."""
        self.stream.wait_event(cupy.cuda.get_current_stream().record())
        launch(self.stream.ptr)
        done = self.stream.record()

        def test():
            return done.done

        def finish():
            cupy.cuda.get_current_stream().wait_event(done)
            if after is not None:
                after()
        work = _WatchedWork(self, test, what, finish)
        work._keep = keep
        return work

    def all_reduce(self, array, op):
        return self._run("all_reduce", lambda s: self.comm.allReduce(
            array.data.ptr, array.data.ptr, array.size, _nccl_type(array), _op(array, op), s), keep=array)

    def broadcast(self, array, src):
        return self._run("broadcast", lambda s: self.comm.broadcast(
            array.data.ptr, array.data.ptr, array.size, _nccl_type(array), src, s), keep=array)

    def all_gather(self, output, array):
        return self._run("all_gather", lambda s: self.comm.allGather(
            array.data.ptr, output.data.ptr, array.size, _nccl_type(array), s), keep=(array, output))

    def reduce_scatter(self, output, array, op):
        return self._run("reduce_scatter_tensor", lambda s: self.comm.reduceScatter(
            array.data.ptr, output.data.ptr, output.size, _nccl_type(array), _op(array, op), s),
            keep=(array, output))

    def reduce(self, array, dst, op):
        return self._run("reduce", lambda s: self.comm.reduce(
            array.data.ptr, array.data.ptr, array.size, _nccl_type(array), _op(array, op), dst, s), keep=array)

    def gather(self, output, array, dst):
        def launch(s):
            nccl.groupStart()
            if self._rank == dst:
                n = array.size
                for peer in range(self._size):
                    if peer == dst:
                        cupy.cuda.runtime.memcpyAsync(output.data.ptr + peer * array.nbytes, array.data.ptr,
                                                      array.nbytes, cupy.cuda.runtime.memcpyDeviceToDevice, s)
                    else:
                        self.comm.recv(output.data.ptr + peer * array.nbytes, n, _nccl_type(array), peer, s)
            else:
                self.comm.send(array.data.ptr, array.size, _nccl_type(array), dst, s)
            nccl.groupEnd()
        return self._run("gather", launch, keep=(array, output))

    def scatter(self, output, array, src):
        def launch(s):
            nccl.groupStart()
            if self._rank == src:
                for peer in range(self._size):
                    ptr = array.data.ptr + peer * output.nbytes
                    if peer == src:
                        cupy.cuda.runtime.memcpyAsync(output.data.ptr, ptr, output.nbytes,
                                                      cupy.cuda.runtime.memcpyDeviceToDevice, s)
                    else:
                        self.comm.send(ptr, output.size, _nccl_type(output), peer, s)
            else:
                self.comm.recv(output.data.ptr, output.size, _nccl_type(output), src, s)
            nccl.groupEnd()
        return self._run("scatter", launch, keep=(array, output))

    def send(self, array, dst, tag):
        return self._run(f"send to rank {dst}", lambda s: self.comm.send(
            array.data.ptr, array.size, _nccl_type(array), dst, s), keep=array)

    def recv(self, array, src, tag):
        if src is None:
            raise ValueError("NCCL cannot receive from any source: pass src")
        work = self._run(f"recv from rank {src}", lambda s: self.comm.recv(
            array.data.ptr, array.size, _nccl_type(array), src, s), keep=array)
        work.source = src
        return work

    def barrier(self):
        token = cupy.zeros(1, dtype=cupy.float32)
        return self.all_reduce(token, ReduceOp.SUM)

    def new_group(self, ranks):
        member = self._rank in ranks
        sub = self.mpi.Split(0 if member else MPI.UNDEFINED, ranks.index(self._rank) if member else 0)
        return NcclProcessGroup(sub, self.timeout) if member else None

    def close(self):
        self.stream.synchronize()
        self.comm.destroy()
        self.mpi.Free()


class _WatchedWork(Work):
    """A Work whose timeout aborts the communicator, so no rank stays stuck in NCCL (torch's watchdog)."""

    def __init__(self, group, test, what, finish):
        super().__init__(test, what, group.timeout, finish)
        self._group = group

    def wait(self, timeout=None):
        try:
            return super().wait(timeout)
        except DistBackendError:
            self._group.comm.abort()
            raise
