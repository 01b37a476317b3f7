"""``tensorplug.multiprocessing``: Python's multiprocessing, plus torch's ``spawn``.

As ``torch.multiprocessing`` does, this module re-exports everything of the standard library's
``multiprocessing`` (``Process``, ``Queue``, ``set_start_method``, ...), so ``import torch.multiprocessing
as mp`` works unchanged. ``spawn(fn, args, nprocs)`` starts ``nprocs`` processes running
``fn(i, *args)`` and joins them; the first that fails stops the others and raises
``ProcessRaisedException`` with its traceback (or ``ProcessExitedException`` for an exit code or a
signal).

Tensors travel between processes by pickling: a process gets a copy, never shared storage (there
is no ``share_memory_``). Distributed ranks are started by ``python -m tensorplug.distributed.run``
(docs/differences.md), not by ``spawn``.
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import signal
import sys
import traceback
from multiprocessing import *  # noqa: F401,F403  (torch.multiprocessing re-exports the standard module)

__all__ = list(getattr(multiprocessing, "__all__", [])) + [
    "spawn", "start_processes", "ProcessContext", "ProcessException", "ProcessRaisedException",
    "ProcessExitedException", "get_sharing_strategy", "set_sharing_strategy", "get_all_sharing_strategies"]

_STRATEGIES = {"file_descriptor", "file_system"}
_strategy = "file_descriptor"


def get_all_sharing_strategies():
    """torch's tensor-sharing strategies; tensors here are copied between processes under either."""
    return set(_STRATEGIES)


def get_sharing_strategy():
    return _strategy


def set_sharing_strategy(new_strategy):
    global _strategy
    if new_strategy not in _STRATEGIES:
        raise AssertionError(f"sharing strategy {new_strategy!r} is not one of {sorted(_STRATEGIES)}")
    _strategy = new_strategy


class ProcessException(Exception):
    """A spawned process failed; ``error_index`` is its index, ``error_pid`` its pid."""

    def __init__(self, msg, error_index, error_pid):
        super().__init__(msg)
        self.msg, self.error_index, self.error_pid = msg, error_index, error_pid

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.error_pid)


class ProcessRaisedException(ProcessException):
    """A spawned process raised an exception; the message holds its traceback."""


class ProcessExitedException(ProcessException):
    """A spawned process exited with a non-zero code or was killed by a signal."""

    def __init__(self, msg, error_index, error_pid, exit_code, signal_name=None):
        super().__init__(msg, error_index, error_pid)
        self.exit_code, self.signal_name = exit_code, signal_name

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.error_pid, self.exit_code, self.signal_name)


def _run(fn, i, args, errors):
    """A spawned process's body: ``fn(i, *args)``, its traceback sent to the parent if it raises."""
    try:
        fn(i, *args)
    except KeyboardInterrupt:
        pass  # stopped by the parent after another process failed
    except Exception:
        errors.put((i, traceback.format_exc()))
        sys.exit(1)


class ProcessContext:
    """The processes of one ``start_processes`` call; ``join()`` waits for them."""

    def __init__(self, processes, errors):
        self.processes = processes
        self.errors = errors
        self.sentinels = {p.sentinel: i for i, p in enumerate(processes)}

    def pids(self):
        return [p.pid for p in self.processes]

    def join(self, timeout=None, grace_period=None):
        """Wait for the processes (at most ``timeout`` seconds): True once all have ended, False while
        some run. The first that fails has the others terminated (after ``grace_period`` seconds, if
        given) and its failure raised."""
        if not self.sentinels:
            return True
        failed = None
        for sentinel in multiprocessing.connection.wait(list(self.sentinels), timeout=timeout):
            index = self.sentinels.pop(sentinel)
            self.processes[index].join()
            if self.processes[index].exitcode != 0:
                failed = index
                break
        if failed is None:
            return not self.sentinels
        self._stop_the_rest(grace_period)
        raise self._failure(failed)

    def _stop_the_rest(self, grace_period):
        if grace_period is not None:
            for p in self.processes:
                p.join(grace_period)
        for p in self.processes:
            if p.is_alive():
                p.terminate()
        for p in self.processes:
            p.join(30 if grace_period is None else grace_period)
            if p.is_alive():
                p.kill()
                p.join()
        self.sentinels.clear()

    def _failure(self, index):
        process = self.processes[index]
        traces = {}
        while not self.errors.empty():
            i, trace = self.errors.get()
            traces[i] = trace
        if index in traces:
            return ProcessRaisedException(f"\n\n-- Process {index:d} terminated with the following error:\n"
                                          f"{traces[index]}", index, process.pid)
        code = process.exitcode
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"<Unknown signal {-code}>"
            return ProcessExitedException(f"process {index:d} terminated with signal {name}", index, process.pid,
                                          code, name)
        return ProcessExitedException(f"process {index:d} terminated with exit code {code:d}", index, process.pid,
                                      code)


def start_processes(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """Start ``nprocs`` processes running ``fn(i, *args)`` with ``start_method``; join them (and return
    None) when ``join``, else return their :class:`ProcessContext`."""
    context = multiprocessing.get_context(start_method)
    errors = context.SimpleQueue()
    processes = []
    for i in range(nprocs):
        process = context.Process(target=_run, args=(fn, i, args, errors), daemon=daemon)
        process.start()
        processes.append(process)
    spawned = ProcessContext(processes, errors)
    if not join:
        return spawned
    while not spawned.join():
        pass
    return None


def spawn(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """``start_processes`` with the "spawn" start method: ``fn`` must be importable (defined at a
    module's top level), as in torch."""
    return start_processes(fn, args, nprocs, join, daemon, start_method)
