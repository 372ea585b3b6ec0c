"""Benchmarks: build, rebuild, query latency, CLI cold start, and FAISS index types at scale.

One command, from the repository root:

    python3 benchmarks/run.py --corpus corpus

prints the figures and writes benchmarks/RESULTS.md and benchmarks/results.json.
``ASEANCYBERDOCS_BACKEND`` (onnx, onnx-int8, torch) applies to every stage. Builds run in
fresh subprocesses so that each peak RSS (ru_maxrss) is its own. Timings on a shared machine are
noisy: compare the ratios measured in the same run, not absolute seconds across runs.

Stages (each can be left out with --skip): build (library vs the LangChain recipe, same files,
--build-runs pairs, the median ratio reported),
rebuild (unchanged, then one added document: how many texts were embedded), latency (median and
p95 per search mode, ask, precedents), cli (`aseancyberdocs search`, `ask`, `precedents` and
`--help` from the shell: wall time and peak RSS of each fresh process), scale (FAISS exact vs
HNSW vs IVF up to --max-vectors).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
STAGES = ("latency", "cli", "rebuild", "scale", "build")

EXTRA_DOCUMENT = """\
---
title: "Benchmark joint statement on cyber resilience"
date: 2025-01-01
---

1. We commit to strengthen the resilience of undersea cables and satellite ground stations against malicious ICT activity.

2. We will exchange threat information between our national computer emergency response teams within 24 hours.

3. We will fund regional training in digital forensics for small island developing States.
"""


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB.

    VmHWM, where /proc has it: Linux keeps ru_maxrss across fork and exec, so a child started by
    a parent that once held the 1M-vector scale test would report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its finished children: with the wall time,
    how many cores a build kept busy."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def load_average() -> float:
    """The machine's 1-minute load average (other work sharing the CPUs shows here)."""
    try:
        return os.getloadavg()[0]
    except OSError:  # pragma: no cover - no load average on this platform
        return float("nan")


def percentile(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q))


def run_child(stage: str, **kwargs: Any) -> dict[str, Any]:
    """Run ``stage`` in a fresh interpreter and return its JSON result."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", stage, "--child-args", json.dumps(kwargs)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise RuntimeError(f"stage {stage} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------
# Child stages (each in its own process)


def child_library_build(paths: list[str], index: str) -> dict[str, Any]:
    from aseancyberdocs.index import build_index

    load_before = load_average()
    started = time.perf_counter()
    report = build_index(paths, index)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds(),
        "load_before": load_before,
        "load_after": load_average(),
        "documents": report.documents,
        "passages": report.passages,
        "embedded": report.embedded,
        "reused": report.reused,
        "workers": report.workers,
        "peak_rss_mb": peak_rss_mb(),
    }


def child_langchain_build(corpus: str) -> dict[str, Any]:
    sys.path.insert(0, str(REPO / "evaluation"))
    from compare import build_langchain, langchain_files

    files = langchain_files(Path(corpus))
    load_before = load_average()
    _, info = build_langchain(files)
    info["seconds"] = info.pop("build_seconds")
    info.update(cpu_seconds=cpu_seconds(), load_before=load_before, load_after=load_average())
    info["peak_rss_mb"] = peak_rss_mb()
    return info


CHILDREN = {"library_build": child_library_build, "langchain_build": child_langchain_build}


# --------------------------------------------------------------------------------------------
# Stages


def stage_build(args: argparse.Namespace, work: Path, results: dict[str, Any]) -> None:
    """``--build-runs`` pairs of cold builds, library then recipe, each pair's wall-time ratio; the
    median ratio is the figure (one pair moves by a few hundredths from run to run)."""
    pairs = []
    for run in range(max(1, args.build_runs)):
        index = work / f"fresh-{run}"  # an empty folder: no vector cache to reuse
        library = run_child("library_build", paths=[str(args.corpus)], index=str(index))
        shutil.rmtree(index, ignore_errors=True)
        library["documents_per_s"] = library["documents"] / library["seconds"]
        library["passages_per_s"] = library["passages"] / library["seconds"]
        print(f"library build {run + 1}: {library['documents']} documents, {library['passages']} passages in "
              f"{library['seconds']:.1f} s; peak RSS {library['peak_rss_mb']:.0f} MB", file=sys.stderr)
        langchain = None
        if not args.no_langchain:
            langchain = run_child("langchain_build", corpus=str(args.corpus))
            print(f"langchain build {run + 1}: {langchain['chunks']} chunks in {langchain['seconds']:.1f} s; "
                  f"peak RSS {langchain['peak_rss_mb']:.0f} MB", file=sys.stderr)
        pairs.append((library, langchain))
    # The pair with the median library time stands for all in the table; the ratio is the median
    # of the pairs' own ratios.
    library, langchain = sorted(pairs, key=lambda pair: pair[0]["seconds"])[(len(pairs) - 1) // 2]
    results["build"] = {"library": library}
    results["build"]["runs"] = [
        {"library_seconds": lib["seconds"], "library_cpu_seconds": lib["cpu_seconds"],
         **({"langchain_seconds": lc["seconds"], "langchain_cpu_seconds": lc["cpu_seconds"],
             "ratio": lib["seconds"] / lc["seconds"]} if lc else {})}
        for lib, lc in pairs
    ]
    if langchain is None:
        return
    results["build"]["langchain"] = langchain
    results["build"]["time_ratio_library_over_langchain"] = statistics.median(run["ratio"] for run in results["build"]["runs"])
    print("build time ratios, library / recipe: " + ", ".join(f"{run['ratio']:.3f}" for run in results["build"]["runs"])
          + f"; median {results['build']['time_ratio_library_over_langchain']:.3f}", file=sys.stderr)


def _ratio_basis(build: dict[str, Any]) -> str:
    """What the build ratio is taken over: one pair, or the median of several."""
    pairs = len(build.get("runs", []))
    return f"median of {pairs} same-run pairs" if pairs > 1 else "same run"


def stage_rebuild(args: argparse.Namespace, work: Path, results: dict[str, Any]) -> None:
    index = work / "library"
    if not (index / "manifest.json").is_file():
        shutil.copytree(args.index, index)
    unchanged = run_child("library_build", paths=[str(args.corpus)], index=str(index))
    extra = work / "extra" / "benchmark-extra-statement.md"
    extra.parent.mkdir(exist_ok=True)
    extra.write_text(EXTRA_DOCUMENT, encoding="utf-8")
    added = run_child("library_build", paths=[str(args.corpus), str(extra)], index=str(index))
    results["rebuild"] = {"unchanged": unchanged, "one_document_added": added}
    print(f"unchanged rebuild: {unchanged['seconds']:.1f} s, embedded {unchanged['embedded']} texts; "
          f"+1 document: {added['seconds']:.1f} s, embedded {added['embedded']}", file=sys.stderr)


def stage_latency(args: argparse.Namespace, work: Path, results: dict[str, Any]) -> None:
    import inspect

    from aseancyberdocs.evaluation import load_queries
    from aseancyberdocs.index import open_index

    library = open_index(args.index)
    queries = [query.query for query in load_queries()][: args.latency_queries]
    library.search(queries[0], k=10)  # load the model and the indexes
    parameters = inspect.signature(library.search).parameters
    modes: list[str | None] = [None]
    if "mode" in parameters:
        modes = []
        for mode in ("dense", "bm25", "hybrid"):
            try:
                library.search(queries[0], k=10, mode=mode)
                modes.append(mode)
            except (ValueError, NotImplementedError):
                pass
    timings: dict[str, list[float]] = {}
    for mode in modes:
        options = {"mode": mode} if mode else {}
        name = f"search ({mode or 'dense'})"
        timings[name] = []
        for query in queries:
            started = time.perf_counter()
            library.search(query, k=10, **options)
            timings[name].append(time.perf_counter() - started)
    few = queries[: args.latency_queries // 4 or 1]
    if hasattr(library, "ask"):
        library.ask(few[0])
        timings["ask"] = []
        for query in few:
            started = time.perf_counter()
            library.ask(query)
            timings["ask"].append(time.perf_counter() - started)
    if hasattr(library, "precedents"):
        texts = [library.passages[i * 97 % len(library.passages)].text for i in range(len(few))]
        library.precedents(texts[0])
        timings["precedents"] = []
        for text in texts:
            started = time.perf_counter()
            library.precedents(text)
            timings["precedents"].append(time.perf_counter() - started)
    results["latency"] = {
        name: {"n": len(values), "median_ms": statistics.median(values) * 1000, "p95_ms": percentile(values, 95) * 1000}
        for name, values in timings.items()
    }
    for name, row in results["latency"].items():
        print(f"{name:<20} median {row['median_ms']:.1f} ms  p95 {row['p95_ms']:.1f} ms (n={row['n']})", file=sys.stderr)


CLI_COMMANDS = {
    "search": ["search", "norms of responsible State behaviour", "-k", "5"],
    "ask": ["ask", "Which norm protects critical infrastructure?"],
    "precedents": ["precedents", "Noting that considerable progress has been achieved in developing and applying"],
    "--help": ["--help"],
}


# `python -m aseancyberdocs ARGS`, then the process's own peak RSS (VmHWM) written to a file: Linux
# keeps ru_maxrss across fork and exec, so wait4 would report this (large) parent's peak.
_CLI_WRAPPER = """
import os, runpy, sys
sys.argv = ["aseancyberdocs", *sys.argv[1:]]
try:
    runpy.run_module("aseancyberdocs", run_name="__main__", alter_sys=True)
finally:
    peak = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")]
    with open(os.environ["BENCHMARK_PEAK_FILE"], "w") as handle:
        handle.write(peak[0].split()[1] if peak else "nan")
"""


def run_timed(arguments: list[str], source: Path | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one fresh process running ``aseancyberdocs ARGUMENTS``.

    ``source``: the ``src`` folder of another checkout to run instead of this one (a baseline).
    """
    with tempfile.NamedTemporaryFile(prefix="aseancyberdocs-peak-") as peak_file:
        env = dict(os.environ, PYTHONPATH=str(source or REPO / "src"), BENCHMARK_PEAK_FILE=peak_file.name)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", _CLI_WRAPPER, *arguments], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, cwd=REPO, env=env)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"aseancyberdocs {' '.join(arguments)} failed: {done.stderr.decode()[-2000:]}")
        return seconds, float(Path(peak_file.name).read_text() or "nan") / 1024


def stage_cli(args: argparse.Namespace, work: Path, results: dict[str, Any]) -> None:
    """Each command from the shell in a fresh process (nothing cached in it), the index built."""
    rows = {}
    for name, arguments in CLI_COMMANDS.items():
        command = [*arguments, "--index", str(args.index)] if name != "--help" else list(arguments)
        run_timed(command)  # once untimed: the ONNX export on first use, the page cache
        times, peaks, base_times, base_peaks = [], [], [], []
        for _ in range(args.cli_runs):
            seconds, peak = run_timed(command)
            times.append(seconds)
            peaks.append(peak)
            if args.baseline and name != "--help":  # interleaved, so both see the same load
                seconds, peak = run_timed(command, args.baseline)
                base_times.append(seconds)
                base_peaks.append(peak)
        rows[name] = {"runs": len(times), "median_s": statistics.median(times), "min_s": min(times),
                      "peak_rss_mb": max(peaks)}
        if base_times:
            rows[name]["baseline"] = {"median_s": statistics.median(base_times), "peak_rss_mb": max(base_peaks)}
        print(f"CLI `{name}`: median {rows[name]['median_s']:.2f} s over {len(times)} runs, "
              f"peak RSS {rows[name]['peak_rss_mb']:.0f} MB"
              + (f"; baseline {statistics.median(base_times):.2f} s, {max(base_peaks):.0f} MB" if base_times else ""),
              file=sys.stderr)
    results["cli"] = rows
    results["cli_backend"] = os.environ.get("ASEANCYBERDOCS_BACKEND", "onnx")
    results["cli_baseline"] = str(args.baseline) if args.baseline else None


def stage_scale(args: argparse.Namespace, work: Path, results: dict[str, Any]) -> None:
    """Exact (IndexFlatIP) vs HNSW (M=32) vs IVF on real vectors replicated with noise."""
    import faiss
    import numpy as np

    from aseancyberdocs.index import open_index

    base = open_index(args.index).vectors()
    rng = np.random.default_rng(0)
    sizes = [size for size in (10_000, 100_000, 300_000, 1_000_000) if size <= args.max_vectors]
    nq = 200

    def replicate(n: int) -> np.ndarray:
        rows = base[rng.integers(0, len(base), n)]
        rows = rows + rng.normal(0, 0.02, rows.shape).astype(np.float32)  # near-duplicates, as agreed language is
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        return np.ascontiguousarray(rows, dtype=np.float32)

    queries = replicate(nq)
    table = []
    hnsw_budget = args.hnsw_budget
    for size in sizes:
        data = replicate(size)
        dim = data.shape[1]
        exact = faiss.IndexFlatIP(dim)
        started = time.perf_counter()
        exact.add(data)
        flat_build = time.perf_counter() - started
        started = time.perf_counter()
        _, truth = exact.search(queries, 10)
        flat_query = (time.perf_counter() - started) / nq
        row = {"vectors": size, "flat": {"build_s": flat_build, "query_ms": flat_query * 1000, "recall@10": 1.0}}
        # single queries, as the library searches one at a time
        singles = []
        for i in range(min(nq, 50)):
            started = time.perf_counter()
            exact.search(queries[i : i + 1], 10)
            singles.append(time.perf_counter() - started)
        row["flat"]["single_query_ms"] = statistics.median(singles) * 1000

        def measure(index: Any, name: str) -> None:
            started = time.perf_counter()
            if not index.is_trained:
                index.train(data[: min(size, 100_000)])
            index.add(data)
            build = time.perf_counter() - started
            singles = []
            found = []
            for i in range(nq):
                started = time.perf_counter()
                _, ids = index.search(queries[i : i + 1], 10)
                singles.append(time.perf_counter() - started)
                found.append(len(set(ids[0]) & set(truth[i])) / 10)
            row[name] = {"build_s": build, "single_query_ms": statistics.median(singles) * 1000,
                         "p95_query_ms": percentile(singles, 95) * 1000, "recall@10": float(np.mean(found))}

        # HNSW build grows ~ n log n: skip sizes whose build would overrun the budget
        previous = table[-1].get("hnsw", {}) if table else {}
        if table and "build_s" not in previous:
            predicted = float("inf")  # the smaller size was already over budget
        else:
            predicted = previous["build_s"] * size / table[-1]["vectors"] * 1.2 if previous else 0
        if predicted <= hnsw_budget:
            hnsw = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efConstruction = 40
            hnsw.hnsw.efSearch = 64
            measure(hnsw, "hnsw")
        else:
            row["hnsw"] = {"skipped": f"predicted build > budget {hnsw_budget:.0f} s"}
        nlist = int(4 * np.sqrt(size))
        quantizer = faiss.IndexFlatIP(dim)
        ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.nprobe = 16
        measure(ivf, "ivf")
        row["ivf"]["nlist"], row["ivf"]["nprobe"] = nlist, 16
        table.append(row)
        summary = "  ".join(
            f"{name} {row[name].get('single_query_ms', float('nan')):.2f} ms r={row[name].get('recall@10', float('nan')):.3f}"
            for name in ("flat", "hnsw", "ivf")
        )
        print(f"{size:>9,} vectors: {summary}", file=sys.stderr)
        del data, exact
    results["scale"] = table


# --------------------------------------------------------------------------------------------
# Report


TARGETS_HEADER = ["| figure | measured | target | |", "|---|---:|---:|---|"]


def target_rows(results: dict[str, Any]) -> list[str]:
    """The "Against the targets" table's rows (Markdown) for the stages in ``results``."""
    cli, build = results.get("cli"), results.get("build")
    targets: list[str] = []
    if cli:
        for name, limit in (("search", 1.0), ("precedents", 1.0), ("ask", 1.5)):
            if name in cli:
                value = cli[name]["median_s"]
                targets.append(f"| `aseancyberdocs {name}` wall time | {value:.2f} s | <= {limit} s | "
                               f"{'met' if value <= limit else 'missed'} |")
        peak = max(row.get("peak_rss_mb", 0) for name, row in cli.items() if name != "--help")
        targets.append(f"| peak RSS of a query process | {peak:.0f} MB | <= 300 MB | {'met' if peak <= 300 else 'missed'} |")
    if build and "time_ratio_library_over_langchain" in build:
        ratio = build["time_ratio_library_over_langchain"]
        targets.append(f"| cold build / LangChain recipe, {_ratio_basis(build)} | {ratio:.2f} | <= 0.35 | "
                       f"{'met' if ratio <= 0.35 else 'missed'} |")
    return targets


def write_report(path: Path, results: dict[str, Any]) -> None:
    lines = ["# Benchmarks", "", f"Generated by `{results['command']}` on {results['date']}; {results['machine']}.",
             "Timings are from a shared machine: read the ratios measured in the same stage.", ""]
    if results.get("stage_dates"):
        lines += ["Stages run: " + ", ".join(f"{name} {day}" for name, day in results["stage_dates"].items()) + ".", ""]
    build = results.get("build")
    if build:
        lib = build["library"]
        lines += ["## Full-corpus build", "", "| | library | LangChain recipe |", "|---|---:|---:|"]
        lc = build.get("langchain", {})
        lines += [
            f"| wall time (s) | {lib['seconds']:.1f} | {lc.get('seconds', float('nan')):.1f} |",
            f"| documents | {lib['documents']} | {lc.get('files', '-')} files |",
            f"| texts embedded | {lib['embedded']} (distinct passage texts and document lines; "
            f"{lib['passages']} passages) | {lc.get('chunks', '-')} chunks |",
            f"| documents/s | {lib['documents_per_s']:.2f} | "
            f"{(lc['files'] / lc['seconds']) if lc else float('nan'):.2f} |",
            f"| passages (chunks)/s | {lib['passages_per_s']:.1f} | "
            f"{(lc['chunks'] / lc['seconds']) if lc else float('nan'):.1f} |",
            f"| peak RSS (MB) | {lib['peak_rss_mb']:.0f} | {lc.get('peak_rss_mb', float('nan')):.0f} |",
        ]
        if "cpu_seconds" in lib:
            lines += [
                f"| CPU time (s), all processes | {lib['cpu_seconds']:.1f} | {lc.get('cpu_seconds', float('nan')):.1f} |",
                f"| cores kept busy (CPU time / wall time) | {lib['cpu_seconds'] / lib['seconds']:.2f} | "
                f"{(lc['cpu_seconds'] / lc['seconds']) if 'cpu_seconds' in lc else float('nan'):.2f} |",
                f"| load average before / after | {lib['load_before']:.1f} / {lib['load_after']:.1f} | "
                f"{lc.get('load_before', float('nan')):.1f} / {lc.get('load_after', float('nan')):.1f} |",
            ]
        lines += [""]
        runs = build.get("runs", [])
        if len(runs) > 1:
            lines += [(f"{len(runs)} pairs of cold builds, the library's then the recipe's; the table shows the pair "
                       "with the median library time."), "", "| pair | library (s) | recipe (s) | ratio |",
                      "|---:|---:|---:|---:|"]
            lines += [(f"| {i} | {run['library_seconds']:.1f} | {run.get('langchain_seconds', float('nan')):.1f} | "
                       f"{run.get('ratio', float('nan')):.3f} |") for i, run in enumerate(runs, start=1)]
            lines += [""]
        if "time_ratio_library_over_langchain" in build:
            lines += [f"Build time ratio library / LangChain ({_ratio_basis(build)}): "
                      f"**{build['time_ratio_library_over_langchain']:.2f}**.", ""]
            if "cpu_seconds" in lib and "cpu_seconds" in lc:
                lines += [
                    f"CPU time ratio library / LangChain: {lib['cpu_seconds'] / lc['cpu_seconds']:.2f}. The wall-time "
                    "ratio also depends on how many cores each build could get while it ran (the load "
                    "averages above): the library reads in worker processes and embeds at the same time, "
                    "the recipe reads on one core and then embeds.", ""]
    rebuild = results.get("rebuild")
    if rebuild:
        unchanged, added = rebuild["unchanged"], rebuild["one_document_added"]
        lines += [
            "## Rebuilds (the vector cache)", "", "| | wall time (s) | texts embedded | reused |", "|---|---:|---:|---:|",
            f"| unchanged corpus | {unchanged['seconds']:.1f} | {unchanged['embedded']} | {unchanged['reused']} |",
            f"| one document added | {added['seconds']:.1f} | {added['embedded']} | {added['reused']} |", "",
        ]
    latency = results.get("latency")
    if latency:
        lines += ["## Query latency (model loaded, k=10)", "", "| operation | n | median (ms) | p95 (ms) |",
                  "|---|---:|---:|---:|"]
        lines += [f"| {name} | {row['n']} | {row['median_ms']:.1f} | {row['p95_ms']:.1f} |" for name, row in latency.items()]
        lines.append("")
    cli = results.get("cli")
    if cli:
        lines += ["## From the shell (fresh process, index built)", "",
                  f"Embedding backend: {results.get('cli_backend', 'onnx')}.", "",
                  "| command | runs | median (s) | min (s) | peak RSS (MB) |", "|---|---:|---:|---:|---:|"]
        lines += [f"| aseancyberdocs {name} | {row['runs']} | {row['median_s']:.2f} | {row['min_s']:.2f} | "
                  f"{row.get('peak_rss_mb', float('nan')):.0f} |" for name, row in cli.items()]
        lines.append("")
        compared = {name: row for name, row in cli.items() if "baseline" in row}
        if compared:
            lines += [f"Against the baseline `{results.get('cli_baseline')}`, runs interleaved in the same stage:", "",
                      "| command | this (s) | baseline (s) | ratio | this RSS (MB) | baseline RSS (MB) |",
                      "|---|---:|---:|---:|---:|---:|"]
            lines += [f"| aseancyberdocs {name} | {row['median_s']:.2f} | {row['baseline']['median_s']:.2f} | "
                      f"{row['median_s'] / row['baseline']['median_s']:.2f} | {row['peak_rss_mb']:.0f} | "
                      f"{row['baseline']['peak_rss_mb']:.0f} |" for name, row in compared.items()]
            lines.append("")
    targets = target_rows(results)
    if targets:
        lines += ["## Against the targets", "", *TARGETS_HEADER, *targets, ""]
    scale = results.get("scale")
    if scale:
        lines += [
            "## FAISS index types at scale", "",
            "Real passage vectors replicated with small noise (near-duplicates, like agreed language), 384-dim "
            "float32; 200 queries; recall@10 against exact search; single-query latency (median).", "",
            "| vectors | flat build (s) | flat query (ms) | HNSW build (s) | HNSW query (ms) | HNSW recall@10 | "
            "IVF build (s) | IVF query (ms) | IVF recall@10 |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in scale:
            hnsw, ivf = row.get("hnsw", {}), row.get("ivf", {})

            def cell(part: dict[str, Any], key: str, fmt: str) -> str:
                return format(part[key], fmt) if key in part else "skipped"

            lines.append(
                f"| {row['vectors']:,} | {row['flat']['build_s']:.2f} | {row['flat']['single_query_ms']:.2f} | "
                f"{cell(hnsw, 'build_s', '.1f')} | {cell(hnsw, 'single_query_ms', '.2f')} | {cell(hnsw, 'recall@10', '.3f')} | "
                f"{cell(ivf, 'build_s', '.1f')} | {cell(ivf, 'single_query_ms', '.2f')} | {cell(ivf, 'recall@10', '.3f')} |"
            )
        lines += ["", "HNSW: M=32, efConstruction=40, efSearch=64. IVF: nlist=4*sqrt(n), nprobe=16.", ""]
    # Sections other scripts write between <!-- NAME:begin --> and <!-- NAME:end --> are kept.
    previous = path.read_text(encoding="utf-8") if path.is_file() else ""
    kept = re.findall(r"<!-- ([\w-]+):begin -->.*?<!-- \1:end -->", previous, flags=re.DOTALL)
    for name in kept:
        start, end = previous.index(f"<!-- {name}:begin -->"), previous.index(f"<!-- {name}:end -->")
        lines += [previous[start : end + len(f"<!-- {name}:end -->")], ""]
    path.write_text("\n".join(lines), encoding="utf-8")


README_BEGIN, README_END = "<!-- benchmark-targets:begin -->", "<!-- benchmark-targets:end -->"


def write_readme_targets(path: Path, results: dict[str, Any]) -> bool:
    """Put the "Against the targets" table in ``path`` (the README) between its markers; False
    when the file has no such markers (nothing is written then)."""
    from sections import write_section

    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    rows = target_rows(results)
    if README_BEGIN not in text or README_END not in text or not rows:
        return False
    dates = results.get("stage_dates", {})
    when = ", ".join(f"{name} {dates[name]}" for name in ("cli", "build") if name in dates)
    block = "\n".join([
        README_BEGIN,
        f"Written by `benchmarks/run.py` ({when}; {results['machine']}; `benchmarks/RESULTS.md` has the rest):",
        "",
        *TARGETS_HEADER,
        *rows,
        README_END,
    ])
    write_section(path, README_BEGIN, README_END, block)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="aseancyberdocs benchmarks",
                                     epilog="example:\n  python3 benchmarks/run.py --corpus corpus",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=REPO / "corpus")
    parser.add_argument("--index", type=Path, default=Path("indexes/full"),
                        help="a built full-corpus index for the latency, CLI and scale stages")
    parser.add_argument("--skip", nargs="*", default=[], choices=STAGES)
    parser.add_argument("--no-langchain", action="store_true")
    parser.add_argument("--build-runs", type=int, default=3,
                        help="pairs of cold builds (library, then the recipe); the median ratio is reported")
    parser.add_argument("--latency-queries", type=int, default=100)
    parser.add_argument("--cli-runs", type=int, default=5)
    parser.add_argument("--baseline", type=Path, metavar="SRC",
                        help="the src folder of another checkout: its CLI runs interleaved with this one's")
    parser.add_argument("--max-vectors", type=int, default=1_000_000)
    parser.add_argument("--hnsw-budget", type=float, default=300.0, help="seconds one HNSW build may take")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--readme", type=Path, default=REPO / "README.md",
                        help="the README whose targets table (between its markers) is rewritten")
    parser.add_argument("--keep", action="store_true",
                        help="keep the previous results.json figures of the stages skipped in this run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-args", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(CHILDREN[args.child](**json.loads(args.child_args))))
        return 0

    args.corpus, args.index = args.corpus.resolve(), args.index.resolve()
    args.baseline = args.baseline.resolve() if args.baseline else None
    results: dict[str, Any] = {}
    previous = args.out / "results.json"
    if args.keep and previous.is_file():
        kept = json.loads(previous.read_text(encoding="utf-8"))
        results = {name: kept[name] for name in (*STAGES, "cli_backend", "cli_baseline", "stage_dates") if name in kept}
    results.update({
        "command": "python3 benchmarks/run.py --corpus corpus" + "".join(
            f" --skip {' '.join(args.skip)}" for _ in [0] if args.skip) + (" --keep" if args.keep else "")
        + (f" --build-runs {args.build_runs}" if args.build_runs != 3 and "build" not in args.skip else ""),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
    })
    # The quick stages first, so that a run cut short still reports them.
    stages = {"latency": stage_latency, "cli": stage_cli, "rebuild": stage_rebuild, "scale": stage_scale,
              "build": stage_build}
    with tempfile.TemporaryDirectory(prefix="aseancyberdocs-bench-") as folder:
        for name, stage in stages.items():
            if name in args.skip:
                continue
            started = time.perf_counter()
            stage(args, Path(folder), results)
            results.setdefault("stage_seconds", {})[name] = time.perf_counter() - started
            results.setdefault("stage_dates", {})[name] = time.strftime("%Y-%m-%d %H:%M")
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
            write_report(args.out / "RESULTS.md", results)
    # Also when every stage was skipped: --keep then rewrites the report from results.json.
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    write_report(args.out / "RESULTS.md", results)
    if args.out.resolve() == HERE.resolve():  # the figures of record, not a run written elsewhere
        write_readme_targets(args.readme, results)
    print((args.out / "RESULTS.md").read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
