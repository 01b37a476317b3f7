"""Run the benchmark suite: tensorplug vs PyTorch CPU vs hand-written NumPy, interleaved.

    python -m benchmarks                 # full run, both BLAS settings
    python -m benchmarks --quick         # under a minute
    python -m benchmarks --write-docs    # also regenerate docs/benchmarks.md and its plot
    python benchmarks/run.py --only add_nograd,mlp_sgd_b64 --blas-env env

Every workload's three implementations run in one process, round-robin per
repeat (the start rotates), and the table reports medians. Only ratios from one
interleaved run mean anything on machines whose cores migrate.

The suite runs twice: once with the environment as it is, then re-executes
itself in a subprocess with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed
(for that subprocess only), and reports the BLAS kernel threadpoolctl sees in
each.
"""
from __future__ import annotations

import argparse
import datetime as _datetime
import gc
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Idle OpenBLAS workers spin for 2**28 cycles after every call by default; on two cores that
# starves torch's OpenMP threads when the implementations are interleaved in one process
# (torch's MLP step runs 2-3x slower). 2**4 makes them sleep at once; set before numpy loads.
# It does not change which BLAS kernel runs (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are left alone).
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

if __package__ in (None, ""):  # ``python benchmarks/run.py``: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "benchmarks"

from benchmarks import report  # noqa: E402
from benchmarks.workloads import WORKLOADS, BY_NAME  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
RSS_WARMUP, RSS_STEPS = 20, 200


def _short(exc):
    text = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return text if len(text) <= 90 else text[:87] + "..."


def _import_impls(compare):
    """{name: lib or None} for tensorplug, torch (when compared) and numpy, plus n/a reasons."""
    import tensorplug
    libs = {"tensorplug": tensorplug}
    reasons = {}
    if compare == "torch":
        try:
            import torch
            libs["torch"] = torch
        except ImportError as exc:
            reasons["torch"] = f"torch not importable ({exc})"
    libs["numpy"] = None
    return libs, reasons


def _blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    import numpy  # noqa: F401 - load numpy's BLAS so threadpoolctl sees it
    return [{k: d.get(k) for k in ("internal_api", "prefix", "version", "architecture", "num_threads",
                                   "threading_layer")}
            for d in threadpool_info() if d.get("user_api") == "blas"]


def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine_info(threads, libs):
    import numpy
    import tensorplug
    info = {
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": numpy.__version__,
        "tensorplug": tensorplug.__version__,
        "threads": threads,
        "loadavg_at_start": _loadavg(),
        "blas_env": {v: os.environ.get(v) for v in BLAS_VARS},
        "openblas_thread_timeout": os.environ.get("OPENBLAS_THREAD_TIMEOUT"),
        "numpy_blas": _blas_info(),
    }
    torch = libs.get("torch")
    if torch is not None:
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["torch_blas"] = "mkl" if torch.backends.mkl.is_available() else "other"
    return info


def _set_threads(threads, libs):
    if libs.get("torch") is not None:
        libs["torch"].set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(threads, user_api="blas")
    except ImportError:
        pass


def _default_threads():
    blas = _blas_info()
    if blas and blas[0].get("num_threads"):
        return int(blas[0]["num_threads"])
    return os.cpu_count() or 1


def _build(workload, name, lib):
    step = workload.np() if name == "numpy" else workload.fw(lib)
    step()  # warm-up; also where a missing feature shows up
    return step


def time_workload(workload, libs, na, repeats, budget_s):
    """Median seconds per unit of work for each implementation, interleaved round-robin."""
    steps, rows = {}, {}
    for name, lib in libs.items():
        if name in na:
            rows[name] = {"na": na[name]}
            continue
        try:
            steps[name] = _build(workload, name, lib)
        except Exception as exc:  # a missing feature of the library under test
            rows[name] = {"na": _short(exc)}
    inner = {}
    for name, step in steps.items():
        t0 = time.perf_counter()
        step()
        dt = max(time.perf_counter() - t0, 1e-7)
        inner[name] = max(1, min(100_000, math.ceil(budget_s / dt)))
    samples = {name: [] for name in steps}
    order = list(steps)
    for r in range(repeats):
        k = r % len(order) if order else 0
        for name in order[k:] + order[:k]:
            step, n = steps[name], inner[name]
            t0 = time.perf_counter()
            for _ in range(n):
                step()
            samples[name].append((time.perf_counter() - t0) / (n * workload.per_step))
    scale = 1e6 if workload.unit == "us" else 1e3
    for name, vals in samples.items():
        vals = sorted(v * scale for v in vals)
        rows[name] = {"median": _median(vals), "min": vals[0], "max": vals[-1],
                      "samples": vals, "inner": inner[name]}
    del steps
    gc.collect()
    return rows


def rss_workload(workload, libs, na, steps_n=RSS_STEPS):
    """RSS growth (MB) over ``steps_n`` training steps after a warm-up, one implementation at a time."""
    import psutil
    proc = psutil.Process()
    rows = {}
    for name, lib in libs.items():
        if name in na:
            rows[name] = {"na": na[name]}
            continue
        try:
            step = _build(workload, name, lib)
            for _ in range(min(RSS_WARMUP, steps_n)):
                step()
            gc.collect()
            before = proc.memory_info().rss
            for _ in range(steps_n):
                step()
            gc.collect()
            after = proc.memory_info().rss
        except Exception as exc:
            rows[name] = {"na": _short(exc)}
            continue
        rows[name] = {"median": (after - before) / 2 ** 20, "steps": steps_n}
        del step
        gc.collect()
    return rows


def _median(vals):
    vals = sorted(vals)
    n = len(vals)
    return vals[n // 2] if n % 2 else 0.5 * (vals[n // 2 - 1] + vals[n // 2])


def run_suite(args, config):
    """Run the selected workloads in this process; return the result dict."""
    libs, na = _import_impls(args.compare)
    threads = args.threads or _default_threads()
    _set_threads(threads, libs)
    names = args.only.split(",") if args.only else [w.name for w in WORKLOADS]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise SystemExit(f"unknown workload(s) {unknown}; expected some of {list(BY_NAME)}")
    repeats = args.repeat or (3 if args.quick else 9)
    budget_s = (args.budget_ms or (15 if args.quick else 120)) / 1e3
    result = {"config": config, "quick": args.quick, "repeats": repeats, "budget_ms": budget_s * 1e3,
              "when": _datetime.datetime.now(_datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": machine_info(threads, libs), "workloads": []}
    for name in names:
        w = BY_NAME[name]
        t0 = time.perf_counter()
        if w.kind == "rss":
            rows = rss_workload(w, libs, na, args.rss_steps)
        else:
            rows = time_workload(w, libs, na, repeats, budget_s)
        entry = {"name": w.name, "desc": w.desc, "unit": w.unit, "kind": w.kind, "targets": w.targets,
                 "impls": rows, "seconds": time.perf_counter() - t0}
        entry["ratios"] = report.ratios(entry)
        result["workloads"].append(entry)
        if args.verbose:
            print(f"  {name}: {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    result["machine"]["loadavg_at_end"] = _loadavg()
    return result


def _child_env():
    env = {k: v for k, v in os.environ.items() if k not in BLAS_VARS}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return env


def _run_child(argv, out_path):
    """Re-run this suite with the two OpenBLAS variables removed from the environment."""
    cmd = [sys.executable, "-m", "benchmarks", *argv, "--blas-env", "env", "--json-out", str(out_path),
           "--config-name", "blas-vars-unset", "--no-save"]
    proc = subprocess.run(cmd, env=_child_env(), cwd=str(ROOT), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"the run with {' and '.join(BLAS_VARS)} unset failed:\n{proc.stderr[-3000:]}")
    return json.loads(Path(out_path).read_text())


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats and a short time per sample (< 1 min)")
    p.add_argument("--compare", choices=("torch", "none"), default="torch",
                   help="compare against PyTorch CPU (default) or NumPy only")
    p.add_argument("--only", default="", help="comma-separated workload names (see --list)")
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    p.add_argument("--repeat", type=int, default=0, help="repeats per implementation (default 9, quick 3)")
    p.add_argument("--budget-ms", type=float, default=0, help="time per sample (default 120 ms, quick 15)")
    p.add_argument("--threads", type=int, default=0, help="BLAS / torch threads (default: numpy's BLAS count)")
    p.add_argument("--rss-steps", type=int, default=RSS_STEPS, help="training steps of the RSS workload")
    p.add_argument("--blas-env", choices=("both", "env", "unset"), default="both",
                   help="run with the environment as is, with the OpenBLAS variables unset, or both (default)")
    p.add_argument("--json-out", default="", help="write the JSON here (default: benchmarks/results/)")
    p.add_argument("--no-save", action="store_true", help="do not write benchmarks/results/")
    p.add_argument("--write-docs", action="store_true", help="regenerate docs/benchmarks.md and its PNG plot")
    p.add_argument("--config-name", default="", help=argparse.SUPPRESS)
    p.add_argument("-v", "--verbose", action="store_true", help="print per-workload progress to stderr")
    return p.parse_args(argv)


def _passthrough(argv):
    """The arguments a child run inherits (everything but output and BLAS selection)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in ("--blas-env", "--json-out", "--config-name"):
            skip = True
            continue
        if a.startswith(("--blas-env=", "--json-out=", "--config-name=")) or a in ("--write-docs", "--no-save"):
            continue
        out.append(a)
    return out


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.list:
        for w in WORKLOADS:
            print(f"{w.name:16s} {w.desc}")
        return 0
    runs = []
    if args.blas_env in ("both", "env"):
        runs.append(run_suite(args, args.config_name or "environment as is"))
        print(report.format_table(runs[-1]), flush=True)
    if args.blas_env in ("both", "unset"):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(_run_child(_passthrough(argv), Path(tmp) / "unset.json"))
        print(report.format_table(runs[-1]), flush=True)
    payload = runs[0] if len(runs) == 1 and args.config_name else {"runs": runs}
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(payload, indent=1))
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = RESULTS / f"bench-{stamp}{'-quick' if args.quick else ''}.json"
        path.write_text(json.dumps(payload, indent=1))
        print(f"results: {path.relative_to(ROOT)}")
    if args.write_docs:
        md, png = report.write_docs(runs, ROOT / "docs")
        print(f"docs: {md.relative_to(ROOT)}, {png.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
