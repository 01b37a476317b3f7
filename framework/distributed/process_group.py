"""The communication-backend protocol: what a process-group plugin implements.

A communication backend (MPI, NCCL, a third party's) is a plugin whose
``tensorplug_add_process_groups`` hook returns :class:`ProcessGroupSpec`s.
Its factory builds a :class:`ProcessGroup`: collectives on the tensor
backend's own arrays, in place, each returning a :class:`Work`. The frontend
(:mod:`tensorplug.distributed`) turns tensors into contiguous arrays, checks
arguments with torch's errors, averages, and waits with the group's timeout;
a plugin only moves bytes.
"""
from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable, Optional, Sequence

__all__ = ["ReduceOp", "Work", "CompletedWork", "ProcessGroup", "ProcessGroupSpec", "DistError",
           "DistBackendError", "wait_until"]


class DistError(RuntimeError):
    """A distributed operation failed (torch.distributed.DistError)."""


class DistBackendError(DistError):
    """The communication backend failed or timed out (torch.distributed.DistBackendError)."""


class ReduceOp(enum.Enum):
    """How ``all_reduce``/``reduce``/``reduce_scatter_tensor`` combine the ranks' values."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"

    def __repr__(self):
        return f"<RedOpType.{self.name}: {list(ReduceOp).index(self)}>"


def wait_until(test, timeout, what):
    """Poll ``test()`` until it returns True: spin for a millisecond, then back off to 1 ms sleeps.

    Spinning keeps a small collective's latency at the library's (MPI makes
    progress only inside its calls); the sleeps give a busy machine's cores
    back during long waits. Raises DistBackendError naming ``what`` when
    ``timeout`` (a timedelta or seconds, None for no limit) passes first: a
    rank that never joins makes the others fail, never hang.
    """
    if test():
        return
    seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
    start = time.monotonic()
    deadline = None if seconds is None else start + seconds
    spin_until = start + 0.001
    pause = 0.0
    while not test():
        now = time.monotonic()
        if now > spin_until:
            pause = min(0.001, pause * 2 or 5e-5)
            time.sleep(pause)
        if deadline is not None and now > deadline:
            raise DistBackendError(
                f"Timed out after {seconds:g} s waiting for {what} to complete: another rank has not "
                f"joined it (it may have failed, finished early, or be running a different collective); "
                f"set TENSORPLUG_DISTRIBUTED_DEBUG=DETAIL to check that ranks issue the same collectives")


class Work:
    """A collective in flight (torch.distributed.Work): ``wait()`` before reading its tensors."""

    def __init__(self, test: Callable[[], bool], what: str, timeout=None, finish: Optional[Callable] = None):
        self._test = test
        self._what = what
        self._timeout = timeout
        self._finish = finish
        self._done = False

    def is_completed(self) -> bool:
        if not self._done and self._test():
            self._complete()
        return self._done

    def wait(self, timeout=None) -> bool:
        """Block until the collective is done (DistBackendError naming it after ``timeout``)."""
        if not self._done:
            wait_until(self._test, self._timeout if timeout is None else timeout, self._what)
            self._complete()
        return True

    def _complete(self):
        self._done = True
        finish, self._finish = self._finish, None
        if finish is not None:
            finish()

    def __repr__(self):
        return f"Work({self._what}, completed={self._done})"


class CompletedWork(Work):
    """A Work that finished when it was made (blocking backends, world size 1)."""

    def __init__(self, what="collective", finish=None):
        super().__init__(lambda: True, what, None, finish)
        self._complete()


class ProcessGroup:
    """A group of ranks and its collectives; a plugin subclasses this.

    Every method takes the tensor backend's arrays (C-contiguous, the
    tensor's dtype; the frontend makes them so) and returns a :class:`Work`.
    ``op`` is a :class:`ReduceOp` other than AVG (the frontend sums and
    divides). Ranks are ranks in this group.
    """

    #: the name ``init_process_group(backend=...)`` selected
    name = "base"

    def __init__(self, rank: int, size: int, timeout=timedelta(minutes=30)):
        self._rank = rank
        self._size = size
        self.timeout = timeout

    def rank(self) -> int:
        return self._rank

    def size(self) -> int:
        return self._size

    def all_reduce(self, array, op: ReduceOp) -> Work:
        raise NotImplementedError(f"the {self.name!r} process group does not implement all_reduce")

    def broadcast(self, array, src: int) -> Work:
        raise NotImplementedError(f"the {self.name!r} process group does not implement broadcast")

    def all_gather(self, output, array) -> Work:
        """``output`` holds ``size()`` copies of ``array``'s shape, rank by rank, along its first axis."""
        raise NotImplementedError(f"the {self.name!r} process group does not implement all_gather")

    def reduce_scatter(self, output, array, op: ReduceOp) -> Work:
        """``array`` holds ``size()`` blocks of ``output``'s size; block r, reduced, lands on rank r."""
        raise NotImplementedError(f"the {self.name!r} process group does not implement reduce_scatter")

    def reduce(self, array, dst: int, op: ReduceOp) -> Work:
        raise NotImplementedError(f"the {self.name!r} process group does not implement reduce")

    def gather(self, output, array, dst: int) -> Work:
        """``output`` (None off ``dst``) as in :meth:`all_gather`."""
        raise NotImplementedError(f"the {self.name!r} process group does not implement gather")

    def scatter(self, output, array, src: int) -> Work:
        """``array`` (None off ``src``) holds ``size()`` blocks of ``output``'s shape."""
        raise NotImplementedError(f"the {self.name!r} process group does not implement scatter")

    def send(self, array, dst: int, tag: int) -> Work:
        raise NotImplementedError(f"the {self.name!r} process group does not implement send")

    def recv(self, array, src: int, tag: int) -> Work:
        raise NotImplementedError(f"the {self.name!r} process group does not implement recv")

    def barrier(self) -> Work:
        raise NotImplementedError(f"the {self.name!r} process group does not implement barrier")

    def new_group(self, ranks: Sequence[int]) -> "Optional[ProcessGroup]":
        """A group of these ranks (of this group), or None on a rank outside it; every rank calls it."""
        raise NotImplementedError(f"the {self.name!r} process group does not implement new_group")

    def close(self) -> None:
        """Release the group's resources (destroy_process_group)."""

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r} rank {self._rank} of {self._size}>"


@dataclass
class ProcessGroupSpec:
    """A communication backend, as a plugin declares it.

    Args:
        name: what ``init_process_group(backend=name)`` selects ("mpi", "nccl").
        device_types: the tensor device types its collectives take (("cpu",), ("cuda",)).
        factory: ``factory(rank, world_size, timeout, init_method)`` -> :class:`ProcessGroup`;
            ``rank``/``world_size`` are -1 where the launcher or environment says.
            Imports its library when called, never at plugin import.
        probe: ``probe()`` -> None when it can run here, else a sentence saying why not and how to fix it.
        aliases: other names that select it ("gloo" selects the CPU backend, as CPU scripts write).
    """

    name: str
    device_types: tuple
    factory: Callable
    probe: Optional[Callable[[], Optional[str]]] = None
    aliases: tuple = field(default_factory=tuple)
    plugin: object = None

    def why_unavailable(self) -> Optional[str]:
        if self.probe is None:
            return None
        try:
            return self.probe()
        except Exception as exc:  # a probe must never take the registry down
            return f"its probe failed: {type(exc).__name__}: {exc}"
