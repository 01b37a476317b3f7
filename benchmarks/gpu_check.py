"""Training-step benchmarks for benchmarks/gpu_check.sh: tensorplug on a backend beside torch.

    python benchmarks/gpu_check.py --backend cupy --torch-device cuda --out report.json
    python benchmarks/gpu_check.py --backend numpy --torch-device cpu --steps 3   # a smoke run anywhere

Workloads (batch 512, SGD lr 0.01, cross-entropy):
  mlp: 784-256-256-10 with ReLU
  cnn: conv 1->16 3x3, ReLU, maxpool 2, conv 16->32 3x3, ReLU, maxpool 2, flatten, linear 800->10 on 28x28

Each side runs a few warm-up steps, then timed steps with a device synchronize
after each; the report gives the median ms per step and tensorplug / torch.
Both sides start from the same weights and data, so the first losses must agree.
Then a few steps timed phase by phase (zero_grad+forward / backward / step,
synchronized between phases) show where the time goes. On a backend with fast
paths (cupy: ``fastpath_status``) the report says which convolution / pooling
path ran (cudnn, kernels or default, and why a faster one did not), prints the
tracebacks of any that failed, and with ``--compare-default`` times the CNN
again on the default (im2col) path.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

if __name__ == "__main__" and not __package__:
    # run as a file: this folder's modules (profile.py...) must not shadow the standard library
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

BATCH = 512
PHASE_STEPS = 5
_PRINTED = set()  # fast-path failures already printed


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, 1, 28, 28)).astype("float32")
    y = rng.integers(0, 10, BATCH).astype("int64")
    return x, y


def build(lib, kind):
    nn = lib.nn
    lib.manual_seed(0)
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                             nn.Linear(256, 10))
    return nn.Sequential(nn.Conv2d(1, 16, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(800, 10))


def shared_weights(kind):
    """Initial weights as NumPy arrays (from torch-shaped init on the host), so both sides start equal."""
    rng = np.random.default_rng(1)
    shapes = {"mlp": [(256, 784), (256,), (256, 256), (256,), (10, 256), (10,)],
              "cnn": [(16, 1, 3, 3), (16,), (32, 16, 3, 3), (32,), (10, 800), (10,)]}[kind]
    out = []
    for s in shapes:
        fan_in = int(np.prod(s[1:])) if len(s) > 1 else s[0]
        out.append((rng.uniform(-1, 1, s) / np.sqrt(fan_in)).astype("float32"))
    return out


def load(model, weights, lib, device):
    params = list(model.parameters())
    with lib.no_grad():
        for p, w in zip(params, weights):
            p.copy_(lib.tensor(w).to(device))


def run_side(lib, device, kind, steps, warmup, sync):
    model = build(lib, kind).to(device)
    load(model, shared_weights(kind), lib, device)
    x_np, y_np = make_data()
    x = lib.tensor(x_np).to(device)
    y = lib.tensor(y_np).to(device)
    opt = lib.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = lib.nn.CrossEntropyLoss()
    losses, times = [], []
    phases = {"forward": [], "backward": [], "step": []}
    for i in range(warmup + steps + PHASE_STEPS):
        if i >= warmup + steps:  # phase by phase, synchronized between phases
            sync()
            t0 = time.perf_counter()
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            sync()
            t1 = time.perf_counter()
            loss.backward()
            sync()
            t2 = time.perf_counter()
            opt.step()
            sync()
            t3 = time.perf_counter()
            for k, v in zip(phases, (t1 - t0, t2 - t1, t3 - t2)):
                phases[k].append(v)
            continue
        sync()
        start = time.perf_counter()
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        sync()
        elapsed = time.perf_counter() - start
        losses.append(float(loss.item()))
        if i >= warmup:
            times.append(elapsed)
    return {"ms_per_step": 1000 * statistics.median(times), "ms_min": 1000 * min(times),
            "first_loss": losses[0], "last_loss": losses[-1], "steps": steps,
            "phases_ms": {k: round(1000 * statistics.median(v), 3) for k, v in phases.items() if v}}


def tensorplug_side(backend, kind, steps, warmup):
    import tensorplug
    b = tensorplug.get_backend(backend)
    out = run_side(tensorplug, b.device if b.device_type != "cpu" else backend, kind, steps, warmup, b.synchronize)
    report_fastpaths(b, out)
    return out


def report_fastpaths(b, out):
    """Put the backend's fast-path status in ``out`` and print the tracebacks of fast paths that failed."""
    try:
        status = getattr(b, "fastpath_status", None)
        errors = getattr(b, "fastpath_errors", None) or {}
    except Exception as exc:  # the report must come out whatever happened
        import traceback
        traceback.print_exc()
        status, errors = {"error": f"fastpath_status raised {type(exc).__name__}: {exc}"}, {}
    if status is not None:
        out["fastpath"] = dict(status)
    for key, tb in errors.items():
        if key not in _PRINTED:
            _PRINTED.add(key)
            print(f"--- fast path {key} failed:\n{tb}", flush=True)


def tensorplug_default_side(backend, kind, steps, warmup):
    """The tensorplug side again with the fast convolution / pooling paths off (the default im2col path)."""
    import tensorplug
    b = tensorplug.get_backend(backend)
    if not hasattr(b, "_dispatcher"):
        raise RuntimeError(f"backend {backend!r} has no fast paths to turn off")
    saved = b._fast
    b._fast = None
    disp = b._dispatcher()
    for fam in disp.tiers:
        disp.tiers[fam] = []
    try:
        return run_side(tensorplug, b.device, kind, steps, warmup, b.synchronize)
    finally:
        b._fast = saved


def torch_side(device, kind, steps, warmup):
    import torch
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("torch sees no CUDA device")
    torch.backends.cudnn.benchmark = True
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    return run_side(torch, device, kind, steps, warmup, sync)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", default="cupy")
    p.add_argument("--torch-device", default="cuda")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--workloads", default="mlp,cnn")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    p.add_argument("--compare-default", action="store_true",
                   help="also time the CNN on tensorplug with the fast conv/pool paths off")
    args = p.parse_args(argv)
    results = {}
    for kind in args.workloads.split(","):
        row = {}
        for side, fn, where in (("tensorplug", tensorplug_side, args.backend), ("torch", torch_side, args.torch_device)):
            try:
                row[side] = fn(where, kind, args.steps, args.warmup)
            except Exception as exc:  # report and go on
                row[side] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
            print(f"{kind:4s} {side:10s} on {where}: {row[side]}", flush=True)
        if args.compare_default and kind == "cnn":
            try:
                row["tensorplug_default_path"] = tensorplug_default_side(args.backend, kind, args.steps, args.warmup)
            except Exception as exc:
                row["tensorplug_default_path"] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
            print(f"{kind:4s} tensorplug with fast paths off: {row['tensorplug_default_path']}", flush=True)
        tp, th = row["tensorplug"], row["torch"]
        if "ms_per_step" in tp and "ms_per_step" in th:
            row["ratio"] = tp["ms_per_step"] / th["ms_per_step"]
            row["first_loss_diff"] = abs(tp["first_loss"] - th["first_loss"])
        results[kind] = row
    lines = [f"| workload (batch {BATCH}) | tensorplug[{args.backend}] ms/step | torch[{args.torch_device}] ms/step "
             f"| ratio | first loss tp / torch | last loss tp |", "|---|---|---|---|---|---|"]
    for kind, row in results.items():
        tp, th = row["tensorplug"], row["torch"]
        fmt = lambda r, k: f"{r[k]:.2f}" if k in r else r.get("error", "?")[:60]
        lines.append(f"| {kind} | {fmt(tp, 'ms_per_step')} | {fmt(th, 'ms_per_step')} | "
                     f"{row.get('ratio', float('nan')):.2f}x | {fmt(tp, 'first_loss')} / {fmt(th, 'first_loss')} | "
                     f"{fmt(tp, 'last_loss')} |")
    for kind, row in results.items():
        for side in ("tensorplug", "tensorplug_default_path", "torch"):
            ph = row.get(side, {}).get("phases_ms")
            if ph:
                lines.append(f"| {kind} phases {side} | " + " / ".join(f"{k} {v:.2f}" for k, v in ph.items())
                             + " ms | | | | |")
        dp = row.get("tensorplug_default_path", {})
        if "ms_per_step" in dp:
            lines.append(f"| {kind} tensorplug, fast paths off | {dp['ms_per_step']:.2f} | | | "
                         f"{dp['first_loss']:.5f} | |")
    fast = None  # the status after the last workload (the CNN is the one that convolves)
    for r in results.values():
        fast = r["tensorplug"].get("fastpath", fast)
    if fast:
        lines.append("")
        lines.append("| fast path | which ran (and why others did not) |")
        lines.append("|---|---|")
        lines.extend(f"| {fam} | {text.replace('|', '/')[:600]} |" for fam, text in fast.items())
    table = "\n".join(lines)
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"results": results, "table": table}, f, indent=2)
    ok = all("ms_per_step" in r["tensorplug"] for r in results.values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
