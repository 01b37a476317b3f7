"""``python -m tensorplug.distributed.run``: start the ranks of a job, with torchrun's interface.

    python -m tensorplug.distributed.run --nproc-per-node 2 train.py --lr 0.1

Each rank gets torchrun's environment (RANK, LOCAL_RANK, WORLD_SIZE,
LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, TORCHELASTIC_RUN_ID) and one BLAS
thread unless OMP_NUM_THREADS is set. The ranks are MPI processes: the
launcher becomes ``mpiexec -n N python -m mpi4py ...``, so an uncaught
exception on any rank aborts the whole job with that rank's traceback shown.
Several machines: list them in an MPI hostfile and pass ``--hostfile FILE``
with ``--nnodes``; run the launcher once, on one machine.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import uuid

__all__ = ["main", "parse_args"]


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m tensorplug.distributed.run",
        description="Start N ranks of a training script (torchrun's options). The ranks communicate over MPI "
                    "(pip install -e \".[distributed]\"); init_process_group('gloo') or ('mpi') in the script.")
    parser.add_argument("--nproc-per-node", "--nproc_per_node", default="1",
                        help="ranks on this machine (a number; 'cpu' or 'auto': one per core)")
    parser.add_argument("--nnodes", default="1", help="machines in the job (with --hostfile); 'M:N' takes N")
    parser.add_argument("--node-rank", "--node_rank", type=int, default=0, help="accepted for torchrun "
                        "compatibility: with MPI one launcher starts every node's ranks")
    parser.add_argument("--master-addr", "--master_addr", default="127.0.0.1")
    parser.add_argument("--master-port", "--master_port", type=int, default=29500)
    parser.add_argument("--standalone", action="store_true", help="one machine (the default)")
    parser.add_argument("--hostfile", help="an MPI hostfile naming the machines (for --nnodes > 1)")
    parser.add_argument("--rdzv-backend", "--rdzv_backend", help=argparse.SUPPRESS)
    parser.add_argument("--rdzv-endpoint", "--rdzv_endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--rdzv-id", "--rdzv_id", help=argparse.SUPPRESS)
    parser.add_argument("--max-restarts", "--max_restarts", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("-m", "--module", action="store_true", help="run the script argument as a module")
    parser.add_argument("--no-python", "--no_python", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("script", help="the training script (or module with -m)")
    parser.add_argument("script_args", nargs=argparse.REMAINDER)
    ns = parser.parse_args(argv)
    if ns.nproc_per_node in ("cpu", "auto"):
        ns.nproc_per_node = os.cpu_count() or 1
    try:
        ns.nproc_per_node = int(ns.nproc_per_node)
        ns.nnodes = int(str(ns.nnodes).split(":")[-1])
    except ValueError:
        parser.error(f"--nproc-per-node and --nnodes take numbers, got {ns.nproc_per_node!r} / {ns.nnodes!r}")
    if ns.nproc_per_node < 1 or ns.nnodes < 1:
        parser.error("--nproc-per-node and --nnodes must be at least 1")
    if ns.nnodes > 1 and not ns.hostfile:
        parser.error("--nnodes > 1 needs --hostfile FILE (an MPI hostfile naming the machines); tensorplug "
                     "starts every node's ranks from this one launcher through mpiexec")
    if ns.no_python:
        parser.error("--no-python is not supported: the ranks run Python scripts")
    return ns


def _mpiexec():
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    found = here if os.access(here, os.X_OK) else shutil.which("mpiexec")
    if found is None:
        sys.exit("tensorplug.distributed.run: mpiexec not found; pip install -e \".[distributed]\" "
                 "(the mpich wheel provides it) or install an MPI")
    return found


def _alias_active():
    runner = sys.modules.get("tensorplug.runner")
    return runner is not None and runner.alias_active()


def command(ns):
    """The mpiexec command line and the environment the ranks start with."""
    world = ns.nproc_per_node * ns.nnodes
    env = dict(os.environ)
    env.update(WORLD_SIZE=str(world), LOCAL_WORLD_SIZE=str(ns.nproc_per_node), MASTER_ADDR=ns.master_addr,
               MASTER_PORT=str(ns.master_port), GROUP_WORLD_SIZE=str(ns.nnodes),
               TORCHELASTIC_RUN_ID=env.get("TORCHELASTIC_RUN_ID", uuid.uuid4().hex[:12]))
    if world > 1 and "OMP_NUM_THREADS" not in env:
        # torchrun's default: ranks sharing cores would oversubscribe them with BLAS threads
        env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if _alias_active():
        env["TENSORPLUG_RUN_TORCH_ALIAS"] = "1"
    cmd = [_mpiexec(), "-n", str(world)]
    if ns.hostfile:
        cmd += ["-f", ns.hostfile]
    cmd += [sys.executable, "-m", "mpi4py", "-m", "tensorplug.distributed._rank"]
    cmd += (["-m"] if ns.module else []) + [ns.script, *ns.script_args]
    return cmd, env


def main(argv=None) -> int:
    ns = parse_args(sys.argv[1:] if argv is None else argv)
    cmd, env = command(ns)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(cmd[0], cmd, env)  # mpiexec takes over this process: its exit code is the job's


if __name__ == "__main__":
    sys.exit(main())
