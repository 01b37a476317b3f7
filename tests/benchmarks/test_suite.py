"""Smoke test of the benchmark suite: --quick runs end to end on a tiny budget.

Timings are never asserted: only that every workload produced a number or a
stated reason, that the BLAS re-run really drops the two OpenBLAS variables,
and that the docs block and plot are generated.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = ["add_nograd", "add_grad", "mlp_sgd_b64", "rss_200"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "out.json"
    cmd = [sys.executable, "-m", "benchmarks", "--quick", "--only", ",".join(WORKLOADS), "--repeat", "1",
           "--budget-ms", "0.1", "--rss-steps", "3", "--json-out", str(out), "--no-save"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, json.loads(out.read_text())


def test_runs_both_blas_settings_and_prints_tables(quick_run):
    stdout, data = quick_run
    runs = data["runs"]
    assert [r["config"] for r in runs] == ["environment as is", "blas-vars-unset"]
    assert runs[1]["machine"]["blas_env"] == {"OPENBLAS_CORETYPE": None, "OPENBLAS_L2_SIZE": None}
    for name in WORKLOADS:
        assert stdout.count(name) >= 2  # one row per table


def test_every_workload_has_a_number_or_a_reason(quick_run):
    _, data = quick_run
    for run in data["runs"]:
        assert [w["name"] for w in run["workloads"]] == WORKLOADS
        for w in run["workloads"]:
            impls = w["impls"]
            assert set(impls) >= {"tensorplug", "numpy"}
            for row in impls.values():
                assert ("median" in row) != ("na" in row), row
                if "na" in row:
                    assert row["na"].strip()
            if w["kind"] == "time":
                assert impls["numpy"]["median"] > 0
                assert impls["tensorplug"].get("median", 1) > 0


def test_ratios_are_medians_divided(quick_run):
    _, data = quick_run
    w = data["runs"][0]["workloads"][0]
    tp = w["impls"]["tensorplug"]["median"]
    assert w["ratios"]["numpy"] == pytest.approx(tp / w["impls"]["numpy"]["median"])
    if "median" in w["impls"].get("torch", {}):
        assert w["ratios"]["torch"] == pytest.approx(tp / w["impls"]["torch"]["median"])


def test_write_docs_makes_markdown_and_png(quick_run, tmp_path):
    from benchmarks import report
    _, data = quick_run
    (tmp_path / "benchmarks.md").write_text(f"# Benchmarks\n\nprose\n\n{report.BEGIN}\nold\n{report.END}\n\nmore prose\n")
    md, png = report.write_docs(data["runs"], tmp_path)
    text = md.read_text()
    assert "prose" in text and "more prose" in text and "old" not in text
    assert "| add_nograd |" in text and "blas-vars-unset" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_script_entry_point_lists_workloads():
    proc = subprocess.run([sys.executable, "benchmarks/run.py", "--list"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "mlp_infer_b4096" in proc.stdout and "lstm_b32" in proc.stdout
