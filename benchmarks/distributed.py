"""``python -m benchmarks.distributed``: collectives and DDP scaling, tensorplug (MPI) vs torch (gloo).

Both sides start 2 ranks on this machine (tensorplug's launcher; torch's
torchrun), alternating, twice each. Each rank measures: the all-reduce of one
float32 (latency: median of 2,000), of 40 MB (median of 10), and a
DistributedDataParallel step of an MLP; a single process (same thread count)
measures the same step for the scaling efficiency:
throughput(2 ranks) / (2 x throughput(1 process)).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROUNDS = 2
HIDDEN = 1024
BATCH = 256


def _median_time(fn, n):
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _mlp_step(torch, model, opt, x, y):
    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def _model(torch):
    torch.manual_seed(0)
    nn = torch.nn
    return nn.Sequential(nn.Linear(784, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 10))


def rank_main(lib, out):
    """One rank of the measurement (run under a launcher)."""
    if lib == "torch":
        import torch
        from torch.nn.parallel import DistributedDataParallel as DDP
    else:
        import tensorplug as torch
        from tensorplug.nn.parallel import DistributedDataParallel as DDP
    dist = torch.distributed
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    small, big = torch.ones(1), torch.ones(10 * 1024 * 1024)
    for _ in range(50):
        dist.all_reduce(small)
    latency = _median_time(lambda: dist.all_reduce(small), 2000)
    dist.all_reduce(big)
    bandwidth = _median_time(lambda: dist.all_reduce(big), 10)
    model = DDP(_model(torch))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(BATCH, 784), torch.randint(0, 10, (BATCH,))
    step = _mlp_step(torch, model, opt, x, y)
    for _ in range(3):
        step()
    ddp = _median_time(step, 20)
    if dist.get_rank() == 0:
        with open(out, "w") as f:
            json.dump({"latency": latency, "bandwidth": bandwidth, "ddp_step": ddp}, f)
    dist.destroy_process_group()


def single_step(lib):
    """One process, one thread, the same step (the scaling baseline)."""
    torch = __import__("torch" if lib == "torch" else "tensorplug")
    torch.set_num_threads(1)
    model = _model(torch)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(BATCH, 784), torch.randint(0, 10, (BATCH,))
    step = _mlp_step(torch, model, opt, x, y)
    for _ in range(3):
        step()
    return _median_time(step, 20)


def _launch(lib, out):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    launcher = "tensorplug.distributed.run" if lib == "tensorplug" else "torch.distributed.run"
    cmd = [sys.executable, "-m", launcher, "--nproc-per-node", "2", "-m", "benchmarks.distributed",
           "--rank-of", lib, "--out", out]
    subprocess.run(cmd, env=env, check=True, timeout=600, capture_output=True)
    with open(out) as f:
        return json.load(f)


def measure(libs):
    results = {lib: [] for lib in libs}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(ROUNDS):
            for lib in libs:  # interleaved: the machine's noise falls on both
                r = _launch(lib, os.path.join(tmp, f"{lib}-{round_}.json"))
                r["single_step"] = single_step(lib)
                results[lib].append(r)
    return {lib: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for lib, rs in results.items()}


def table(summary):
    lines = [f"2 ranks on one machine of {os.cpu_count()} cores, 1 BLAS thread per rank; MLP 784-{HIDDEN}-{HIDDEN}-10, "
             f"batch {BATCH} per rank, SGD",
             "",
             "| measure | " + " | ".join(summary) + (" | tensorplug/torch |" if len(summary) == 2 else " |"),
             "|---|" + "---|" * (len(summary) + (1 if len(summary) == 2 else 0))]
    rows = [("all_reduce 4 bytes (latency)", "latency", 1e6, "us"),
            ("all_reduce 40 MB", "bandwidth", 1e3, "ms"),
            ("DDP step, 2 ranks", "ddp_step", 1e3, "ms"),
            ("same step, 1 process", "single_step", 1e3, "ms")]
    for label, key, scale, unit in rows:
        cells = [f"{summary[lib][key] * scale:.1f} {unit}" for lib in summary]
        ratio = [f"{summary['tensorplug'][key] / summary['torch'][key]:.2f}"] if len(summary) == 2 else []
        lines.append(f"| {label} | " + " | ".join(cells + ratio) + " |")
    eff = [f"{s['single_step'] / s['ddp_step']:.2f}" for s in summary.values()]
    lines.append("| scaling efficiency | " + " | ".join(eff) + (" | |" if len(summary) == 2 else " |"))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.distributed")
    parser.add_argument("--rank-of", choices=["tensorplug", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    ns = parser.parse_args(argv)
    if ns.rank_of:
        rank_main(ns.rank_of, ns.out)
        return 0
    import importlib.util
    libs = ["tensorplug"] + (["torch"] if importlib.util.find_spec("torch") else [])
    print(table(measure(libs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
