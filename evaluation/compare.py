"""Compare the library's search modes with the standard LangChain recipe on the labelled queries.

Every configuration answers the same queries (evaluation/queries.jsonl) over the same corpus files
and is judged the same way: a hit is relevant when it comes from the right document and holds the
relevant paragraph's quoted span (see aseancyberdocs.evaluation). Writes evaluation/RESULTS.md,
evaluation/results.json and evaluation/results.png.

The library configurations are whatever ``Library.search`` offers when this runs: every mode
among dense, bm25 and hybrid it accepts, each with and without agreed-language grouping if it
can group. The baseline is the recipe of the LangChain tutorials: PyPDFLoader / TextLoader ->
RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200) -> HuggingFaceEmbeddings with
the same all-MiniLM-L6-v2 folder -> FAISS -> similarity_search(k=10).

Queries: the held-out ``test`` split by default (``--split dev|test|all``); settings are chosen on
``dev`` (evaluation/README.md). ``--before FILE`` adds the per-query results of an earlier run
(``results.json`` of the previous release, or ``evaluation/results-before.json``: the previous
release's code over its own index, same split), the rows named "... (before)".

Usage (from the repository root; builds the index first if it is missing):

    python3 evaluation/compare.py --corpus corpus --index indexes/full --before evaluation/results-before.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from aseancyberdocs.evaluation import (  # noqa: E402
    EvalReport,
    Metrics,
    Retrieved,
    format_table,
    gold_pages,
    judge_run,
    load_queries,
    run_library,
    search_options,
)

HERE = Path(__file__).resolve().parent
MODES = ("dense", "bm25", "hybrid")
GROUP_OPTIONS = ("group", "group_agreed", "agreed")  # whichever name search() gives the option
LANGCHAIN = "langchain (1000/200 chunks, FAISS)"

logger = logging.getLogger("compare")


# --------------------------------------------------------------------------------------------
# The library's configurations


def library_configurations(library: Any) -> list[tuple[str, dict[str, Any]]]:
    """(name, search options) for every mode and grouping the library's search accepts."""
    options = search_options(library)
    modes: list[str | None] = [None]
    if "mode" in options:
        modes = []
        for mode in MODES:
            try:
                library.search("test", k=1, mode=mode)
            except (ValueError, NotImplementedError) as exc:
                logger.info("mode %s not available: %s", mode, exc)
                continue
            modes.append(mode)
    group = next((name for name in GROUP_OPTIONS if name in options), None)
    configurations = []
    for mode in modes:
        base = {"mode": mode} if mode else {}
        name = mode or "dense"
        # search() may group by default: ask for ungrouped hits explicitly
        configurations.append((name, {**base, group: False} if group else base))
        if group:
            configurations.append((f"{name} + grouping", {**base, group: True}))
    return configurations


def reports_from_file(path: Path, suffix: str = " (before)") -> list[EvalReport]:
    """Reports saved by an earlier run (``report.to_dict(per_query=True)`` under "reports"), rebuilt
    from their per-query results, their names followed by ``suffix``."""
    from collections import defaultdict

    from aseancyberdocs.evaluation import QueryResult

    data = json.loads(path.read_text(encoding="utf-8"))
    reports = []
    for saved in data["reports"]:
        results = []
        for row in saved["queries"]:
            row = dict(row)
            row["recall"] = {int(cut): value for cut, value in row["recall"].items()}
            results.append(QueryResult(**row))
        by_kind: dict[str, list[Any]] = defaultdict(list)
        for result in results:
            by_kind[result.kind].append(result)
        reports.append(EvalReport(
            system=f"{saved['system']}{suffix}",
            k=saved["k"],
            overall=Metrics.of(results),
            by_kind={kind: Metrics.of(items) for kind, items in sorted(by_kind.items())},
            queries=tuple(results),
            seconds=saved.get("seconds", 0.0),
        ))
    return reports


def evaluate_library(library: Any, queries: list[Any], k: int) -> list[EvalReport]:
    gold = gold_pages(library, queries)
    reports = []
    for name, options in library_configurations(library):
        started = time.perf_counter()
        run = run_library(library, queries, k=k, **options)
        seconds = time.perf_counter() - started
        reports.append(judge_run(queries, run, system=name, gold_pages=gold, k=k, seconds=seconds))
        print(f"{name:<28} R@5 {reports[-1].overall.recall[5]:.3f}  MRR@10 {reports[-1].overall.mrr:.3f}  "
              f"({seconds:.1f} s)", file=sys.stderr)
    return reports


# --------------------------------------------------------------------------------------------
# The LangChain recipe


def langchain_files(corpus: Path) -> list[Path]:
    """The corpus files the library indexes, in the same order."""
    from aseancyberdocs.sources import find_sources

    return find_sources([corpus])


def build_langchain(files: list[Path]) -> tuple[Any, dict[str, float]]:
    """The tutorial recipe over ``files``: load, split 1000/200, embed with MiniLM, FAISS.

    Returns the vector store and timings (load+split, embed+index) in seconds.
    """
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*deprecated.*")
    from langchain_community.document_loaders import PyPDFLoader, TextLoader
    from langchain_community.embeddings import HuggingFaceEmbeddings
    from langchain_community.vectorstores import FAISS
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from aseancyberdocs.embedding import bundled_model_path

    started = time.perf_counter()
    pages = []
    for path in files:
        loader = PyPDFLoader(str(path)) if path.suffix == ".pdf" else TextLoader(str(path), encoding="utf-8")
        pages.extend(loader.load())
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    chunks = splitter.split_documents(pages)
    loaded = time.perf_counter()
    embeddings = HuggingFaceEmbeddings(model_name=str(bundled_model_path()))
    store = FAISS.from_documents(chunks, embeddings)
    done = time.perf_counter()
    return store, {
        "files": len(files),
        "pages": len(pages),
        "chunks": len(chunks),
        "load_split_seconds": loaded - started,
        "embed_index_seconds": done - loaded,
        "build_seconds": done - started,
    }


def doc_ids_by_source(library: Any) -> dict[str, str]:
    """Resolved source path -> doc_id, from the library's documents (symbols are not file names)."""
    mapping = {}
    for document in library.documents.values():
        mapping[str(Path(document.source).resolve())] = document.doc_id
        mapping.setdefault(Path(document.source).name, document.doc_id)
    return mapping


def langchain_run(store: Any, queries: list[Any], doc_ids: dict[str, str], k: int) -> dict[str, list[Retrieved]]:
    """Top-k chunks per query, each named by the doc_id of its source file."""

    def doc_id(source: str) -> str:
        path = Path(source)
        return doc_ids.get(str(path.resolve())) or doc_ids.get(path.name) or path.stem

    run = {}
    for query in queries:
        chunks = store.similarity_search(query.query, k=k)
        run[query.qid] = [Retrieved(doc_id(chunk.metadata["source"]), chunk.page_content) for chunk in chunks]
    return run


# --------------------------------------------------------------------------------------------
# Results


def write_markdown(path: Path, reports: list[EvalReport], context: dict[str, Any]) -> None:
    kinds = sorted({kind for report in reports for kind in report.by_kind})
    lines = [
        "# Retrieval quality: library search modes vs the LangChain recipe",
        "",
        f"Queries: the **{context['split']}** split of `evaluation/queries.jsonl` "
        "(settings were chosen on the dev split; see evaluation/README.md). Rows marked \"(before)\" are",
        "the previous release's retrieval (its code and its index, the same queries), from `results-before.json`.",
        "",
        f"Generated by `{context['command']}` on {context['date']} "
        f"({context['queries']} labelled queries, {context['documents']} documents, "
        f"{context['passages']} library passages, {context['langchain']['chunks']} LangChain chunks).",
        "",
        "A hit is relevant when it comes from the right document and contains the relevant paragraph's quoted",
        "span (white space normalised), so chunks without labels are judged like the library's passages.",
        "Recall@k = relevant paragraphs found in the top k / relevant paragraphs (mean over queries);",
        "MRR@10 and nDCG@10 (binary gains, a paragraph found twice counts once) are standard.",
        "Citation accuracy: among the library's relevant hits, the share whose label and pages equal the",
        "gold label's (LangChain chunks carry no paragraph label, hence `-`).",
        "",
        f"## All queries of the {context['split']} split",
        "",
        format_table([(report.system, report.overall) for report in reports], markdown=True),
        "",
        "## Recall@5 by query kind",
        "",
    ]
    header = "| system | " + " | ".join(f"{kind} ({reports[0].by_kind[kind].queries})" for kind in kinds) + " |"
    lines += [header, "|---|" + "---:|" * len(kinds)]
    for report in reports:
        cells = [f"{report.by_kind[kind].recall[5]:.3f}" if kind in report.by_kind else "-" for kind in kinds]
        lines.append(f"| {report.system} | " + " | ".join(cells) + " |")
    lines += ["", "## Per configuration and query kind", ""]
    for report in reports:
        lines += [
            f"### {report.system}",
            "",
            format_table([("all", report.overall), *report.by_kind.items()], markdown=True),
            "",
        ]
    lc = context["langchain"]
    lines += [
        "## Setup",
        "",
        f"- LangChain baseline: {lc['files']} files -> {lc['pages']} loader pages -> {lc['chunks']} chunks; "
        f"built in {lc['build_seconds']:.0f} s ({lc['embed_index_seconds']:.0f} s embedding) on the shared machine.",
        f"- Library index: `{context['index']}` ({context['passages']} passages, model {context['model']}).",
        f"- Machine: {context['machine']}.",
        "- Chart: `results.png`; raw numbers: `results.json`.",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


CHARTED = ("dense", "bm25", "hybrid + grouping", LANGCHAIN)  # each retriever, the default mode, the baseline


def write_chart(path: Path, reports: list[EvalReport]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    charted = [report for report in reports if report.system.removesuffix(" (before)") in CHARTED]
    # Each configuration's "before" next to it, in a lighter shade of the same colour.
    charted.sort(key=lambda r: (CHARTED.index(r.system.removesuffix(" (before)")), not r.system.endswith("(before)")))
    reports = charted or reports
    kinds = sorted({kind for report in reports for kind in report.by_kind})
    figure, (left, right) = plt.subplots(1, 2, figsize=(14, 5.5), gridspec_kw={"width_ratios": [1, 1.6]})
    pairs = plt.get_cmap("tab20")
    bases = list(dict.fromkeys(report.system.removesuffix(" (before)") for report in reports))
    colours = [
        pairs(2 * bases.index(report.system.removesuffix(" (before)")) + report.system.endswith("(before)"))
        for report in reports
    ]

    metrics = [("Recall@5", lambda m: m.recall[5]), ("Recall@10", lambda m: m.recall[10]),
               ("MRR@10", lambda m: m.mrr), ("nDCG@10", lambda m: m.ndcg)]
    width = 0.8 / len(reports)
    x = np.arange(len(metrics))
    for i, report in enumerate(reports):
        values = [get(report.overall) for _, get in metrics]
        bars = left.bar(x + i * width - 0.4 + width / 2, values, width, label=report.system, color=colours[i])
        left.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
    left.set_xticks(x, [name for name, _ in metrics])
    left.set_ylim(0, 1.05)
    left.set_title(f"All queries (n={reports[0].overall.queries})")

    x = np.arange(len(kinds))
    for i, report in enumerate(reports):
        values = [report.by_kind[kind].recall[5] if kind in report.by_kind else 0 for kind in kinds]
        right.bar(x + i * width - 0.4 + width / 2, values, width, label=report.system, color=colours[i])
    right.set_xticks(x, [f"{kind}\n(n={reports[0].by_kind[kind].queries})" for kind in kinds])
    right.set_ylim(0, 1.05)
    right.set_title("Recall@5 by query kind")
    for axis in (left, right):
        axis.grid(axis="y", alpha=0.3)
        axis.set_axisbelow(True)
    figure.suptitle("aseancyberdocs search, before and after, vs the LangChain recipe "
                    "(same corpus, same MiniLM model, held-out queries)")
    # One legend under both panels, so that no bar is hidden behind it.
    handles, labels = left.get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=len(reports), fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.07, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="example:\n  " + __doc__.strip().splitlines()[-1].strip(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=HERE.parent / "corpus")
    parser.add_argument("--index", type=Path, default=Path("indexes/full"), help="library index (built if missing)")
    parser.add_argument("--queries", type=Path, default=HERE / "queries.jsonl")
    parser.add_argument("--out", type=Path, default=HERE, help="folder for RESULTS.md, results.json, results.png")
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--no-langchain", action="store_true", help="skip the LangChain baseline")
    parser.add_argument("--reuse", type=Path, metavar="FILE",
                        help="take the library's reports from an earlier run's results.json instead of searching")
    parser.add_argument("--langchain-results", type=Path, metavar="FILE",
                        help="reuse the LangChain baseline's results saved by --langchain-only (it takes minutes)")
    parser.add_argument("--langchain-only", type=Path, metavar="FILE",
                        help="only build and score the LangChain baseline and save its results to FILE")
    parser.add_argument("--split", choices=("dev", "test", "all"), default="test",
                        help="which labelled queries to score (default: the held-out test split)")
    parser.add_argument("--before", type=Path, metavar="FILE",
                        help="per-query results of an earlier run (JSON with 'reports'), shown as '(before)'")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")

    from aseancyberdocs.index import build_index, open_index

    if not (args.index / "manifest.json").is_file():
        print(f"building {args.index} from {args.corpus}...", file=sys.stderr)
        build_index([args.corpus], args.index)
    library = open_index(args.index)
    queries = load_queries(args.queries, split=None if args.split == "all" else args.split)
    reports = reports_from_file(args.before) if args.before is not None else []
    if args.reuse is not None:
        reports += [report for report in reports_from_file(args.reuse, suffix="") if report.system != LANGCHAIN]
    elif args.langchain_only is None:
        reports += evaluate_library(library, queries, args.k)

    langchain_info: dict[str, Any] = {"files": 0, "pages": 0, "chunks": 0, "build_seconds": 0, "embed_index_seconds": 0}
    if args.langchain_results is not None:
        saved = json.loads(args.langchain_results.read_text(encoding="utf-8"))
        langchain_info = saved["langchain"]
        reports += reports_from_file(args.langchain_results, suffix="")
    elif not args.no_langchain:
        print("building the LangChain baseline...", file=sys.stderr)
        store, langchain_info = build_langchain(langchain_files(args.corpus))
        started = time.perf_counter()
        run = langchain_run(store, queries, doc_ids_by_source(library), args.k)
        report = judge_run(queries, run, system=LANGCHAIN, k=args.k, seconds=time.perf_counter() - started)
        reports.append(report)
        print(f"{LANGCHAIN:<28} R@5 {report.overall.recall[5]:.3f}  MRR@10 {report.overall.mrr:.3f}", file=sys.stderr)
        if args.langchain_only is not None:
            data = {"langchain": langchain_info, "split": args.split, "reports": [report.to_dict(per_query=True)]}
            args.langchain_only.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
            return 0

    context = {
        "command": "python3 evaluation/compare.py --corpus corpus --index indexes/full"
        + (" --before evaluation/results-before.json" if args.before or args.reuse else "")
        + f" --split {args.split}",
        "split": args.split,
        "date": time.strftime("%Y-%m-%d"),
        "queries": len(queries),
        "documents": len(library.documents),
        "passages": len(library.passages),
        "index": str(args.index),
        "model": library.model_name,
        "langchain": langchain_info,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_markdown(args.out / "RESULTS.md", reports, context)
    write_chart(args.out / "results.png", reports)
    data = {"context": context, "reports": [report.to_dict(per_query=True) for report in reports]}
    (args.out / "results.json").write_text(json.dumps(data, indent=1, default=str) + "\n", encoding="utf-8")
    print(format_table([(report.system, report.overall) for report in reports]))
    print(f"wrote {args.out / 'RESULTS.md'}, {args.out / 'results.png'}, {args.out / 'results.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
