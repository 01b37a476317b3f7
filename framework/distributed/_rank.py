"""One rank of a launched job: torchrun's environment from MPI, then the user's script as __main__.

Run by the launcher as ``python -m mpi4py -m tensorplug.distributed._rank script.py args``;
mpi4py aborts the whole job if the script raises.
"""
from __future__ import annotations

import os
import runpy
import sys


def main():
    from mpi4py import MPI
    world = MPI.COMM_WORLD
    local = world.Split_type(MPI.COMM_TYPE_SHARED)
    os.environ.update(RANK=str(world.Get_rank()), LOCAL_RANK=str(local.Get_rank()),
                      WORLD_SIZE=str(world.Get_size()), LOCAL_WORLD_SIZE=str(local.Get_size()),
                      GROUP_RANK=str(world.Get_rank() // max(local.Get_size(), 1)))
    local.Free()
    args = sys.argv[1:]
    module = args[:1] == ["-m"]
    if module:
        args = args[1:]
    if not args:
        sys.exit("tensorplug.distributed._rank: no script given")
    target, sys.argv = args[0], list(args)
    if os.environ.get("TENSORPLUG_RUN_TORCH_ALIAS") == "1":
        from tensorplug.runner import torch_alias
        with torch_alias():
            _run(target, module)
    else:
        _run(target, module)


def _run(target, module):
    if module:
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
        runpy.run_path(target, run_name="__main__")


if __name__ == "__main__":
    main()
