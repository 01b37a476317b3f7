"""Tables, ratios and the generated part of docs/benchmarks.md (with its bar plot)."""
from __future__ import annotations

from pathlib import Path

IMPLS = ("tensorplug", "torch", "numpy")
RSS_FLAT_MB = 2.0  # growth over 200 steps below this counts as flat (allocator noise)
BEGIN, END = "<!-- BEGIN GENERATED (python -m benchmarks --write-docs) -->", "<!-- END GENERATED -->"


def ratios(entry):
    """tensorplug / torch and tensorplug / numpy, None where one side is n/a."""
    rows = entry["impls"]
    tp = rows.get("tensorplug", {}).get("median")
    out = {}
    for other in ("torch", "numpy"):
        ref = rows.get(other, {}).get("median")
        ok = tp is not None and ref is not None and entry["kind"] == "time" and ref > 0
        out[other] = tp / ref if ok else None
    return out


def verdict(entry):
    """'ok', 'MISSED' or '' (no target / not measured) against the workload's targets."""
    if entry["kind"] == "rss":
        growth = entry["impls"].get("tensorplug", {}).get("median")
        if growth is None:
            return ""
        return "ok" if growth < RSS_FLAT_MB else "MISSED"
    checks = []
    for other, limit in entry["targets"].items():
        r = entry["ratios"].get(other)
        if r is None:
            return ""
        checks.append(r <= limit)
    if not checks:
        return ""
    return "ok" if all(checks) else "MISSED"


def target_text(entry):
    if entry["kind"] == "rss":
        return f"flat (< {RSS_FLAT_MB:g} MB)"
    return ", ".join(f"/{k} <= {v:g}" for k, v in entry["targets"].items()) or "-"


def _cell(row):
    if "na" in row:
        return "n/a"
    v = row["median"]
    return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"


def _ratio(r):
    return "-" if r is None else f"{r:.2f}"


def _rows(result):
    header = ["workload", "unit", *IMPLS, "tp/torch", "tp/numpy", "target", "met"]
    rows = []
    notes = []
    for e in result["workloads"]:
        unit = e["unit"] + ("/op" if e["name"].startswith("add_") else "" if e["kind"] == "rss" else "/step")
        cells = [e["name"], unit]
        for impl in IMPLS:
            row = e["impls"].get(impl)
            cells.append("-" if row is None else _cell(row))
            if row is not None and "na" in row:
                notes.append(f"{e['name']} / {impl}: n/a: {row['na']}")
        cells += [_ratio(e["ratios"].get("torch")), _ratio(e["ratios"].get("numpy")), target_text(e),
                  verdict(e)]
        rows.append(cells)
    return header, rows, notes


def describe(result):
    m = result["machine"]
    blas = "; ".join(f"{b.get('internal_api')} {b.get('version')} kernel={b.get('architecture')} "
                     f"threads={b.get('num_threads')}" for b in m.get("numpy_blas", [])) or "unknown"
    env = ", ".join(f"{k}={v if v is not None else '(unset)'}" for k, v in m["blas_env"].items())
    torch = f"torch {m['torch']} ({m.get('torch_blas')}, {m.get('torch_threads')} threads)" if "torch" in m else \
        "torch not compared"
    timeout = m.get("openblas_thread_timeout")
    env += f" (OPENBLAS_THREAD_TIMEOUT={timeout})" if timeout else ""
    return (f"[{result['config']}] {env}\n"
            f"  numpy BLAS: {blas}\n"
            f"  {m['cpu']}, {m['logical_cpus']} logical CPUs, {m['threads']} threads; python {m['python']}, "
            f"numpy {m['numpy']}, {torch}; {'quick, ' if result['quick'] else ''}"
            f"{result['repeats']} repeats x {result['budget_ms']:g} ms, medians; "
            f"load average {m.get('loadavg_at_start')} -> {m.get('loadavg_at_end')}")


def format_table(result):
    """A fixed-width text table of one run."""
    header, rows, notes = _rows(result)
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = lambda cells: "  ".join(str(c).rjust(w) if i > 1 else str(c).ljust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    out = [describe(result), line(header), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    out += ["  " + n for n in notes]
    return "\n".join(out) + "\n"


def markdown_table(result):
    header, rows, notes = _rows(result)
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    if notes:
        out.append("")
        out += [f"- {n}" for n in notes]
    return "\n".join(out)


def plot(runs, path):
    """Bars of tensorplug/torch and tensorplug/numpy per workload, one panel per BLAS setting."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(runs), figsize=(6.5 * len(runs), 5.5), squeeze=False, sharey=True)
    for ax, result in zip(axes[0], runs):
        entries = [e for e in result["workloads"] if e["kind"] == "time"]
        names = [e["name"] for e in entries]
        ys = range(len(entries))
        for k, (other, color) in enumerate((("torch", "#d9534f"), ("numpy", "#337ab7"))):
            vals = [e["ratios"].get(other) or 0 for e in entries]
            ax.barh([y + (k - 0.5) * 0.38 for y in ys], vals, height=0.38, color=color,
                    label=f"tensorplug / {other}")
            for y, v in zip(ys, vals):
                if v:
                    ax.text(v, y + (k - 0.5) * 0.38, f" {v:.2f}", va="center", fontsize=7)
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_yticks(list(ys), names)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_xlabel("time ratio (lower is better; 1 = parity)")
        env = result["machine"]["blas_env"]
        ax.set_title(f"{result['config']}\nOPENBLAS_CORETYPE={env.get('OPENBLAS_CORETYPE') or '(unset)'}",
                     fontsize=9)
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def generated_block(runs, png_name):
    parts = [BEGIN, ""]
    for result in runs:
        parts.append(f"### {result['config']}")
        parts.append("")
        parts.append("```")
        parts.append(describe(result))
        parts.append("```")
        parts.append("")
        parts.append(markdown_table(result))
        parts.append("")
    parts.append(f"![tensorplug time ratios per workload]({png_name})")
    parts.append("")
    parts.append(END)
    return "\n".join(parts)


def write_docs(runs, docs_dir):
    """Regenerate the table block of docs/benchmarks.md and docs/benchmarks_ratios.png."""
    docs_dir = Path(docs_dir)
    docs_dir.mkdir(exist_ok=True)
    png = docs_dir / "benchmarks_ratios.png"
    md = docs_dir / "benchmarks.md"
    plot(runs, png)
    block = generated_block(runs, png.name)
    if md.exists() and BEGIN in md.read_text():
        text = md.read_text()
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1] if END in rest else ""
        md.write_text(head + block + tail)
    else:
        md.write_text("# Benchmarks\n\n" + block + "\n")
    return md, png
