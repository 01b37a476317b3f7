"""Run a corpus of unmodified public PyTorch programs with torch and with ``python -m tensorplug run``.

The programs are not part of this repository: fetch each from the repository
and commit its manifest entry names, into one folder, then::

    python -m benchmarks.corpus --corpus /tmp/corpus --manifest benchmarks/corpus.json

Each manifest entry says where the program came from and how to run it::

    {"name": "regression", "repository": "pytorch/examples", "commit": "<sha>",
     "folder": "pytorch-examples/regression",        # under --corpus; copied fresh for every run
     "script": "main.py", "args": [],                 # run from the copy of the folder
     "setup": [["generate_sine_wave.py"]],            # programs run before it, same interpreter mode
     "data": {"input.txt": "ng-video-lecture/input.txt"},  # files from the corpus it reads
     "loss": "loss[^0-9-]*([-+0-9.eE]+)",              # regex; the last match in stdout is the final loss
                                                      # (null: the program prints none; it must run to the end)
     "rtol": 0.1, "timeout": 300, "skip": "why it cannot run here (data it would download)",
     "torch_runs": 5}                                  # more torch runs where one run's init decides the loss

A program matches when it exits 0 under both and tensorplug's final loss lies
within the spread of torch's own runs (``--torch-runs``, default 2), widened
by ``rtol`` of its size: unseeded programs and tensorplug's different random
streams move the loss, a wrong gradient moves it far more. The report is a
Markdown table (``--markdown``) for docs/pytorch-scripts.md.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

DEFAULT_LOSS = r"loss[^0-9+\-]{0,12}([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"


def _command(mode, script, args):
    if mode == "torch":
        return [sys.executable, script, *args]
    return [sys.executable, "-m", "tensorplug", "run", script, *args]


def _prepare(entry, corpus, work):
    """A fresh copy of the program's folder (and the data files it reads) under ``work``."""
    source = os.path.join(corpus, entry["folder"])
    shutil.copytree(source, work, dirs_exist_ok=False)
    for target, origin in entry.get("data", {}).items():
        destination = os.path.join(work, target)
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        shutil.copyfile(os.path.join(corpus, origin), destination)


def _run_once(entry, corpus, mode, scratch):
    """(returncode, final loss or None, seconds, last stderr line) of one run in ``mode``."""
    work = tempfile.mkdtemp(prefix=f"{entry['name']}-{mode}-", dir=scratch)
    os.rmdir(work)
    _prepare(entry, corpus, work)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENSORPLUG_")}
    env.update({"PYTHONHASHSEED": "0", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"})
    # entry paths (PYTHONPATH=".") are relative to the copy
    env.update({k: os.pathsep.join(os.path.join(work, p) for p in v.split(os.pathsep))
                for k, v in entry.get("env", {}).items()})
    timeout = entry.get("timeout", 300)
    start = time.perf_counter()
    steps = [*entry.get("setup", []), [entry["script"], *entry.get("args", [])]]
    proc = None
    for step in steps:
        try:
            proc = subprocess.run(_command(mode, step[0], step[1:]), cwd=os.path.join(work, entry.get("cwd", "")),
                                  capture_output=True, text=True, env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            return 124, None, time.perf_counter() - start, f"timed out after {timeout}s"
        if proc.returncode != 0:
            break
    seconds = time.perf_counter() - start
    shutil.rmtree(work, ignore_errors=True)
    pattern = entry.get("loss", DEFAULT_LOSS)
    found = re.findall(pattern, proc.stdout, flags=re.I | re.M) if pattern else []
    loss = float(found[-1]) if found and proc.returncode == 0 else None
    tail = proc.stderr.strip().splitlines()[-1] if proc.returncode and proc.stderr.strip() else ""
    return proc.returncode, loss, seconds, tail


def run_entry(entry, corpus, scratch, torch_runs=2):
    """One manifest entry run with torch and tensorplug: a dict for the report."""
    result = {"name": entry["name"], "repository": entry["repository"], "path": entry["path"]}
    if entry.get("skip"):
        return {**result, "status": "skipped", "why": entry["skip"]}
    missing = [p for p in [entry["folder"], *entry.get("data", {}).values()]
               if not os.path.exists(os.path.join(corpus, p))]
    if missing:  # not fetched into this corpus folder: reported, and the other entries still run
        return {**result, "status": "not fetched", "why": f"{', '.join(missing)} is not in the corpus folder"}
    # an unseeded program whose loss depends on its random init needs more runs to show torch's spread
    theirs = [_run_once(entry, corpus, "torch", scratch) for _ in range(entry.get("torch_runs", torch_runs))]
    ours = _run_once(entry, corpus, "tensorplug", scratch)
    result.update(torch_losses=[t[1] for t in theirs], torch_seconds=theirs[0][2], loss=ours[1],
                  seconds=ours[2])
    compares = entry.get("loss", DEFAULT_LOSS) is not None
    if any(t[0] != 0 for t in theirs) or (compares and any(t[1] is None for t in theirs)):
        return {**result, "status": "torch failed", "why": next((t[3] for t in theirs if t[3]), "no loss printed")}
    if ours[0] != 0:
        return {**result, "status": "failed", "why": ours[3]}
    if not compares:
        return {**result, "status": "match", "why": "prints no loss; runs to the end under both"}
    if ours[1] is None:
        return {**result, "status": "no loss", "why": "ran, but printed no final loss"}
    losses = [t[1] for t in theirs]
    slack = entry.get("rtol", 0.1) * max(abs(v) for v in losses) + entry.get("atol", 1e-6)
    matched = min(losses) - slack <= ours[1] <= max(losses) + slack
    return {**result, "status": "match" if matched else "differs", "why": ""}


def _markdown(results):
    lines = ["| program | source | torch final loss | tensorplug final loss | result |",
             "| --- | --- | --- | --- | --- |"]
    for r in results:
        torch_losses = ", ".join(f"{v:.4g}" for v in r.get("torch_losses", []) if v is not None)
        ours = f"{r['loss']:.4g}" if r.get("loss") is not None else ""
        status = r["status"] + (f": {r['why']}" if r.get("why") else "")
        # the path stays plain text: the docs' file check reads backquoted paths as this repository's files
        lines.append(f"| {r['name']} | {r['repository']}: {r['path']} | {torch_losses} | {ours} | "
                     f"{status.replace('|', '/')} |")
    counts = {s: sum(r["status"] == s for r in results) for s in {r["status"] for r in results}}
    lines.append("")
    lines.append(f"{counts.get('match', 0)} of {len(results)} match; " +
                 ", ".join(f"{n} {s}" for s, n in sorted(counts.items()) if s != "match"))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.corpus", description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", required=True, help="folder holding the fetched programs")
    parser.add_argument("--manifest", default=os.path.join(os.path.dirname(__file__), "corpus.json"))
    parser.add_argument("--only", nargs="*", help="names of entries to run (default: all)")
    parser.add_argument("--torch-runs", type=int, default=2, help="torch runs giving the spread (default 2)")
    parser.add_argument("--markdown", help="write the result table here")
    parser.add_argument("--json", help="write the results here")
    ns = parser.parse_args(argv)
    with open(ns.manifest) as f:
        entries = json.load(f)["programs"]
    if ns.only:
        entries = [e for e in entries if e["name"] in ns.only]
    scratch = tempfile.mkdtemp(prefix="tensorplug-corpus-")
    results = []
    for entry in entries:
        r = run_entry(entry, ns.corpus, scratch, ns.torch_runs)
        results.append(r)
        print(f"{r['name']:32s} {r['status']:12s} torch={r.get('torch_losses')} tensorplug={r.get('loss')} "
              f"{r.get('why', '')}", flush=True)
    shutil.rmtree(scratch, ignore_errors=True)
    table = _markdown(results)
    print(table.splitlines()[-1])
    if ns.markdown:
        with open(ns.markdown, "w") as f:
            f.write(table + "\n")
    if ns.json:
        with open(ns.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0 if all(r["status"] in ("match", "skipped") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
