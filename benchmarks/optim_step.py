"""Optimizer step on a 1M-parameter model: tensorplug (in place on NumPy arrays) vs torch's single-tensor step.

    python benchmarks/optim_step.py                 # torch with 1 thread and with its default threads
    python benchmarks/optim_step.py --repeat 200 --json out.json

The model is an MLP's parameters, 784-1024-200 (1,008,840 float32 values in
four tensors), with fixed random gradients. Each optimizer takes warm-up steps,
then the fastest of several timed blocks of steps is reported in microseconds per
step, for tensorplug and for ``torch.optim.<Name>(..., foreach=False)``.
NumPy runs each elementwise pass on one thread, so the fair reference is torch
with ``torch.set_num_threads(1)``; torch's default thread count is shown too.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

if __name__ == "__main__" and not __package__:
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

SHAPES = [(1024, 784), (1024,), (200, 1024), (200,)]
CASES = [
    ("SGD", dict(lr=0.01)),
    ("SGD", dict(lr=0.01, momentum=0.9)),
    ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)),
    ("Adam", dict(lr=1e-3)),
    ("Adam", dict(lr=1e-3, weight_decay=1e-2, decoupled_weight_decay=True)),
    ("RMSprop", dict(lr=1e-3)),
    ("RMSprop", dict(lr=1e-3, momentum=0.9, centered=True)),
]


def _params(lib, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    ps = []
    for shape in SHAPES:
        p = lib.tensor(rng.standard_normal(shape).astype(np.float32) * 0.05, requires_grad=True)
        p.grad = lib.tensor(rng.standard_normal(shape).astype(np.float32) * 0.01)
        ps.append(p)
    return ps


def _time(step, repeat, blocks=5, warmup=5):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(blocks):
        t0 = time.perf_counter()
        for _ in range(repeat):
            step()
        times.append((time.perf_counter() - t0) / repeat * 1e6)
    return min(times)  # the least-disturbed block: the machine this runs on is often shared


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50, help="steps per timed block")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)

    import tensorplug
    import torch

    default_threads = torch.get_num_threads()
    n = sum(int(np.prod(s)) for s in SHAPES)
    print(f"optimizer step, {n:,} float32 parameters in {len(SHAPES)} tensors; times in us per step")
    print(f"{'optimizer':58s} {'tensorplug':>10s} {'torch 1T':>9s} {'ratio':>6s} "
          f"{'torch ' + str(default_threads) + 'T':>9s} {'ratio':>6s}")
    rows = []
    for name, kwargs in CASES:
        tp_opt = getattr(tensorplug.optim, name)(_params(tensorplug), **kwargs)
        ours = _time(tp_opt.step, args.repeat)
        th_opt = getattr(torch.optim, name)(_params(torch), foreach=False, **kwargs)
        torch.set_num_threads(1)
        theirs_1 = _time(th_opt.step, args.repeat)
        torch.set_num_threads(default_threads)
        theirs_n = _time(th_opt.step, args.repeat)
        label = f"{name}({', '.join(f'{k}={v}' for k, v in kwargs.items())})"
        rows.append(dict(optimizer=label, tensorplug_us=ours, torch_1thread_us=theirs_1,
                         torch_default_us=theirs_n, torch_threads=default_threads,
                         ratio_1thread=ours / theirs_1, ratio_default=ours / theirs_n))
        print(f"{label:58s} {ours:10.0f} {theirs_1:9.0f} {ours / theirs_1:6.2f} {theirs_n:9.0f} "
              f"{ours / theirs_n:6.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
