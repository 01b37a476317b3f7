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

With ``--autocast`` it instead runs the nanoGPT-style decoder (benchmarks/transformer.py) under
``autocast(float16)`` on both sides from the same weights and tokens: every module's output dtype,
the loss and the gradients' dtypes must match torch's, the first losses must agree, and AdamW steps
with a GradScaler are timed beside the same steps in float32 (the tensor cores' speed-up per side).
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


# autocast: the decoder in float16 beside torch -------------------------------------------------------

def decoder_dtypes(lib, model, idx, targets):
    """``{module name: output dtype}`` of one forward under autocast float16, with the loss dtype and
    the set of gradient dtypes after backward (outside the region, as torch's recipe)."""
    seen = {}

    def record(name):
        def hook(module, args, out):  # returns None: the output stays
            seen.setdefault(name or "model", str((out[0] if isinstance(out, tuple) else out).dtype).split(".")[-1])
        return hook

    hooks = [m.register_forward_hook(record(name)) for name, m in model.named_modules()]
    with lib.autocast("cuda" if "cuda" in str(idx.device) else "cpu", dtype=lib.float16):
        _, loss = model(idx, targets)
    for h in hooks:
        h.remove()
    loss.backward()
    seen["loss"] = str(loss.dtype).split(".")[-1]
    seen["grads"] = ",".join(sorted({str(p.grad.dtype).split(".")[-1] for p in model.parameters()}))
    model.zero_grad(set_to_none=True)
    return seen, float(loss.item())


def decoder_step_ms(lib, model, idx, targets, steps, warmup, sync, amp):
    """Median ms of AdamW steps, under autocast float16 with a GradScaler when ``amp``."""
    from benchmarks.transformer import _adamw
    opt = _adamw(lib, model)
    where = "cuda" if "cuda" in str(idx.device) else "cpu"
    scaler = lib.amp.GradScaler(where, enabled=amp)
    times = []
    for i in range(warmup + steps):
        sync()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with lib.autocast(where, dtype=lib.float16, enabled=amp):
            _, loss = model(idx, targets)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        sync()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def autocast_check(backend, torch_device, steps, warmup):
    """The decoder under autocast on tensorplug[backend] and torch[torch_device]; the report's rows."""
    import torch
    import tensorplug
    from benchmarks.transformer import BATCH, BLOCK, VOCAB, _decoder_classes
    rng = np.random.default_rng(0)
    tokens = [rng.integers(0, VOCAB, (BATCH, BLOCK)).astype("int64") for _ in range(2)]
    b = tensorplug.get_backend(backend)
    sides = {}
    with torch.device(torch_device):
        torch.manual_seed(0)
        t_model = _decoder_classes(torch)()
        t_sync = torch.cuda.synchronize if torch_device.startswith("cuda") else (lambda: None)
        sides["torch"] = (torch, t_model, *(torch.tensor(t) for t in tokens), t_sync)
        with tensorplug.use_backend(backend):
            model = _decoder_classes(tensorplug)()
            with tensorplug.no_grad():
                for (name, p), (_, q) in zip(model.named_parameters(), t_model.named_parameters(), strict=True):
                    p.copy_(tensorplug.tensor(q.detach().cpu().numpy()))
            sides["tensorplug"] = (tensorplug, model, *(tensorplug.tensor(t) for t in tokens), b.synchronize)
            return _autocast_rows(sides, steps, warmup)


def _autocast_rows(sides, steps, warmup):
    out = {}
    for side, (lib, model, idx, targets, sync) in sides.items():
        dtypes, loss = decoder_dtypes(lib, model, idx, targets)
        out[side] = {"dtypes": dtypes, "first_loss": loss,
                     "ms_float32": decoder_step_ms(lib, model, idx, targets, steps, warmup, sync, amp=False),
                     "ms_autocast": decoder_step_ms(lib, model, idx, targets, steps, warmup, sync, amp=True)}
        print(f"autocast {side}: {out[side]}", flush=True)
    tp, th = out["tensorplug"], out["torch"]
    out["dtype_mismatches"] = {k: (tp["dtypes"].get(k), v) for k, v in th["dtypes"].items()
                               if tp["dtypes"].get(k) != v}
    out["first_loss_diff"] = abs(tp["first_loss"] - th["first_loss"])
    lines = ["| decoder under autocast float16 | tensorplug | torch |", "|---|---|---|"]
    for key in ("ms_float32", "ms_autocast"):
        lines.append(f"| {key} per AdamW step | {tp[key]:.2f} | {th[key]:.2f} |")
    lines.append(f"| float32 / autocast | {tp['ms_float32'] / tp['ms_autocast']:.2f}x | "
                 f"{th['ms_float32'] / th['ms_autocast']:.2f}x |")
    for key in ("model", "h.0.ln_1", "h.0.attn.c_attn", "h.0.attn", "h.0", "lm_head", "loss", "grads"):
        lines.append(f"| dtype {key} | {tp['dtypes'].get(key)} | {th['dtypes'].get(key)} |")
    lines.append(f"| first loss | {tp['first_loss']:.5f} | {th['first_loss']:.5f} |")
    lines.append(f"| dtype mismatches | {len(out['dtype_mismatches'])}: {out['dtype_mismatches']} | |")
    out["table"] = "\n".join(lines)
    print(out["table"])
    out["ok"] = not out["dtype_mismatches"] and out["first_loss_diff"] < 2e-2
    return out


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
    p.add_argument("--autocast", action="store_true",
                   help="the decoder under autocast float16 instead: dtypes vs torch, float32 vs autocast step times")
    args = p.parse_args(argv)
    if args.autocast:
        out = autocast_check(args.backend, args.torch_device, args.steps, args.warmup)
        if args.out:
            with open(args.out, "w") as f:
                json.dump(out, f, indent=2)
        return 0 if out["ok"] else 1
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
