"""An MPI communicator as a tensorplug ProcessGroup: nonblocking buffer collectives, polled by Work."""
from __future__ import annotations

import numpy as np
from mpi4py import MPI

from tensorplug.distributed import ProcessGroup, ReduceOp, Work

_OPS = {ReduceOp.SUM: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD, ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX,
        ReduceOp.BAND: MPI.BAND, ReduceOp.BOR: MPI.BOR, ReduceOp.BXOR: MPI.BXOR}
# MPI has no arithmetic on booleans: torch's bool SUM/MAX is "any", MIN/PRODUCT "all"
_BOOL_OPS = {ReduceOp.SUM: MPI.LOR, ReduceOp.MAX: MPI.LOR, ReduceOp.BOR: MPI.LOR, ReduceOp.MIN: MPI.LAND,
             ReduceOp.PRODUCT: MPI.LAND, ReduceOp.BAND: MPI.LAND, ReduceOp.BXOR: MPI.LXOR}
# dtypes MPICH moves natively (float16 as MPIX_C_FLOAT16); others (bfloat16) go through float32
_NATIVE = {np.dtype(t) for t in ("float16", "float32", "float64", "complex64", "complex128", "int8", "int16",
                                 "int32", "int64", "uint8", "bool")}


def _mpi_op(array, op):
    return (_BOOL_OPS if array.dtype == np.bool_ else _OPS)[op]


def _wide(array):
    """A buffer MPI can reduce for ``array`` and how to write the result back."""
    if array.dtype in _NATIVE:
        return array, None
    wide = array.astype(np.float32)

    def narrow():
        array[...] = wide.astype(array.dtype)
    return wide, narrow


class MpiProcessGroup(ProcessGroup):
    name = "mpi"

    def __init__(self, comm, timeout):
        super().__init__(comm.Get_rank(), comm.Get_size(), timeout)
        self.comm = comm

    @classmethod
    def from_world(cls, rank, world_size, timeout):
        world = MPI.COMM_WORLD
        if world_size >= 0 and world_size != world.Get_size():
            raise ValueError(
                f"init_process_group(): world_size is {world_size} but this process was started in an MPI "
                f"world of {world.Get_size()}; start the ranks with python -m tensorplug.distributed.run "
                f"--nproc-per-node {world_size} script.py (or mpiexec -n {world_size})")
        if rank >= 0 and rank != world.Get_rank():
            raise ValueError(f"init_process_group(): rank is {rank} but MPI started this process as rank "
                             f"{world.Get_rank()}; leave rank out (the launcher sets RANK)")
        # a private communicator: the user's own MPI traffic cannot match ours
        return cls(world.Dup(), timeout)

    def _work(self, request, what, after=None, keep=()):
        def finish():
            if after is not None:
                after()
        work = Work(request.Test, what, self.timeout, finish)
        work._keep = keep  # the buffers must outlive the request
        return work

    def all_reduce(self, array, op):
        buf, narrow = _wide(array)
        return self._work(self.comm.Iallreduce(MPI.IN_PLACE, buf, _mpi_op(buf, op)), "all_reduce", narrow, buf)

    def broadcast(self, array, src):
        buf, narrow = _wide(array)
        return self._work(self.comm.Ibcast(buf, root=src), "broadcast", narrow, buf)

    def all_gather(self, output, array):
        out, narrow = _wide(output)
        src = array if out is output else array.astype(out.dtype)
        return self._work(self.comm.Iallgather(src, out), "all_gather", narrow, (src, out))

    def reduce_scatter(self, output, array, op):
        out, narrow = _wide(output)
        src = array if out is output else array.astype(out.dtype)
        request = self.comm.Ireduce_scatter_block(src, out, _mpi_op(src, op))
        return self._work(request, "reduce_scatter_tensor", narrow, (src, out))

    def reduce(self, array, dst, op):
        buf, narrow = _wide(array)
        if self._rank == dst:
            request = self.comm.Ireduce(MPI.IN_PLACE, buf, _mpi_op(buf, op), root=dst)
        else:
            request = self.comm.Ireduce(buf, None, _mpi_op(buf, op), root=dst)
            narrow = None
        return self._work(request, "reduce", narrow, buf)

    def gather(self, output, array, dst):
        if output is None:
            src = array if array.dtype in _NATIVE else array.astype(np.float32)
            return self._work(self.comm.Igather(src, None, root=dst), "gather", None, src)
        out, narrow = _wide(output)
        src = array if out is output else array.astype(out.dtype)
        return self._work(self.comm.Igather(src, out, root=dst), "gather", narrow, (src, out))

    def scatter(self, output, array, src):
        out, narrow = _wide(output)
        source = None if array is None else (array if out is output else array.astype(out.dtype))
        return self._work(self.comm.Iscatter(source, out, root=src), "scatter", narrow, (source, out))

    def send(self, array, dst, tag):
        buf, _ = _wide(array)
        return self._work(self.comm.Isend(buf, dest=dst, tag=tag), f"send to rank {dst}", None, buf)

    def recv(self, array, src, tag):
        buf, narrow = _wide(array)
        status = MPI.Status()
        source = MPI.ANY_SOURCE if src is None else src
        request = self.comm.Irecv(buf, source=source, tag=tag)
        work = Work(lambda: request.Test(status), f"recv from rank {'any' if src is None else src}",
                    self.timeout, narrow)
        work._keep = buf
        work.source = None

        def sender():
            work.source = status.Get_source()
            if narrow is not None:
                narrow()
        work._finish = sender
        return work

    def barrier(self):
        return self._work(self.comm.Ibarrier(), "barrier")

    def new_group(self, ranks):
        member = self._rank in ranks
        comm = self.comm.Split(0 if member else MPI.UNDEFINED, ranks.index(self._rank) if member else 0)
        return MpiProcessGroup(comm, self.timeout) if member else None

    def close(self):
        if self.comm != MPI.COMM_NULL:
            self.comm.Free()
