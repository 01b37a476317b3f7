"""Profile tensorplug's side of a workload: ``python -m benchmarks.profile add_grad [--steps N]``.

Uses pyinstrument when installed (``--pyinstrument``), else cProfile sorted
by own time, which is what shows per-op overhead (Tensor creation, dispatch,
promotion, graph recording, the engine).
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import sys

import tensorplug

from benchmarks.workloads import BY_NAME


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__.splitlines()[0])
    p.add_argument("workload", choices=sorted(BY_NAME))
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--sort", default="tottime", help="pstats sort key (tottime, cumtime, ncalls)")
    p.add_argument("--pyinstrument", action="store_true")
    args = p.parse_args(argv)
    step = BY_NAME[args.workload].fw(tensorplug)
    step()
    if args.pyinstrument:
        from pyinstrument import Profiler
        with Profiler() as prof:
            for _ in range(args.steps):
                step()
        prof.print()
        return 0
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(args.steps):
        step()
    prof.disable()
    pstats.Stats(prof, stream=sys.stdout).strip_dirs().sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
