"""Where a GPU training step's host time goes (a stage of benchmarks/gpu_check.sh).

    python benchmarks/gpu_profile.py [--backend cupy] [--steps 100]

Prints, for tensorplug on the backend: the per-op cost of a small add (no grad,
and recorded with grad) beside raw CuPy and torch CUDA where present, then
the MLP training step of gpu_check.py under cProfile (the functions with the
most own time, and the most cumulative time). At batch 512 a step is bound by
the host: this says which Python layers to thin.
"""
from __future__ import annotations

import os
import sys

if __name__ == "__main__" and not __package__:
    # run as a file: this folder's profile.py must not shadow the standard library's (cProfile imports it)
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import argparse  # noqa: E402
import cProfile  # noqa: E402
import io  # noqa: E402
import pstats  # noqa: E402
import timeit  # noqa: E402

from benchmarks.gpu_check import build, load, make_data, shared_weights  # noqa: E402
from benchmarks.workloads import train_step  # noqa: E402


def per_op(backend):
    import tensorplug
    b = tensorplug.get_backend(backend)
    dev = b.device
    a = tensorplug.ones(4, 4, device=dev)
    c = tensorplug.ones(4, 4, device=dev, requires_grad=True)
    rows = {"tensorplug add (no grad)": lambda: a + a, "tensorplug add (recorded)": lambda: c + c,
            "tensorplug relu (no grad)": lambda: tensorplug.relu(a)}
    raw = a._data
    rows["raw backend add"] = lambda: raw + raw
    try:
        import torch
        ta = torch.ones(4, 4, device="cuda")
        tc = torch.ones(4, 4, device="cuda", requires_grad=True)
        rows["torch add (no grad)"] = lambda: ta + ta
        rows["torch add (recorded)"] = lambda: tc + tc
        rows["torch relu (no grad)"] = lambda: torch.relu(ta)
    except Exception as exc:  # torch absent or without CUDA: the rest still says something
        print(f"torch: {type(exc).__name__}: {exc}")
    for name, fn in rows.items():
        fn()
        us = min(timeit.repeat(fn, number=2000, repeat=5)) / 2000 * 1e6
        print(f"{name:28s} {us:7.2f} us/op")
    b.synchronize()


def per_module(model, step, steps):
    """Host time of each top-level module's forward (no synchronize: what the host spends launching)."""
    import time
    spent = {}
    hooks = []
    for name, module in model.named_children():
        key = f"{name}:{type(module).__name__}"

        def pre(mod, args, key=key):
            spent.setdefault(key, []).append(-time.perf_counter())

        def post(mod, args, out, key=key):
            spent[key][-1] += time.perf_counter()

        hooks += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
    for _ in range(steps):
        step()
    for h in hooks:
        h.remove()
    print("host time per module forward (us, median over steps):")
    for key, times in spent.items():
        times.sort()
        print(f"  {key:24s} {times[len(times) // 2] * 1e6:8.1f}")


def profile_step(backend, kind, steps, rows=32):
    import tensorplug
    b = tensorplug.get_backend(backend)
    model = build(tensorplug, kind).to(b.device)
    load(model, shared_weights(kind), tensorplug, b.device)
    x_np, y_np = make_data()
    x, y = tensorplug.tensor(x_np).to(b.device), tensorplug.tensor(y_np).to(b.device)
    opt = tensorplug.optim.SGD(model.parameters(), lr=0.01)
    step = train_step(tensorplug, model, opt, x, y)
    for _ in range(5):
        step()
    b.synchronize()
    per_module(model, step, steps)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(steps):
        step()
    b.synchronize()
    prof.disable()
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(prof, stream=out).strip_dirs().sort_stats(order).print_stats(rows)
        text = out.getvalue()
        print(f"=== {kind}: {steps} steps, by {order}\n" + text[text.find("ncalls") - 50:])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", default="cupy")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--workloads", default="mlp")
    p.add_argument("--rows", type=int, default=32, help="functions listed per table")
    args = p.parse_args(argv)
    per_op(args.backend)
    for kind in args.workloads.split(","):
        profile_step(args.backend, kind, args.steps, args.rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
