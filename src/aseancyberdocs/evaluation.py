"""Measure retrieval and citation quality against labelled queries.

The labelled queries (``evaluation/queries.jsonl``) name, for each query, every relevant paragraph
as ``{doc_id, label, quote}``. A retrieved item is judged by its text, not by its label, so any
system can be scored, including one whose chunks carry no labels:

    an item *covers* a relevant paragraph when its ``doc_id`` equals the paragraph's and the
    paragraph's quote (white space normalised) is contained in the item's text.

Metrics, for one query with relevant paragraphs R and a ranked list cut at k (averaged over queries):

- ``recall@k`` = |paragraphs of R covered by the top k| / |R| (the standard, not "any hit in top k");
- ``mrr@10`` = 1 / rank of the first item covering any paragraph of R (0 when none in the top 10);
- ``ndcg@10`` with binary gains: an item gains 1 when it covers a paragraph not covered by an
  earlier item, else 0 (a paragraph found twice counts once, as in trec_eval); the ideal ranking
  puts min(|R|, 10) relevant items first;
- ``citation accuracy`` (library hits only): among the hits in the top k that cover a relevant
  paragraph, the share whose label and pages equal the gold ones (the label of the paragraph and
  the pages of the index passage holding that label and the quote). Micro-averaged over hits.

Example:
    >>> from aseancyberdocs import open_index
    >>> from aseancyberdocs.evaluation import evaluate
    >>> report = evaluate(open_index("indexes/full"))  # doctest: +SKIP
    >>> round(report.overall.recall[5], 3)  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import json
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .library import Library
    from .types import Hit

DEFAULT_QUERIES = Path("evaluation") / "queries.jsonl"
CUTOFFS = (1, 5, 10)
RANK_CUTOFF = 10  # MRR and nDCG are reported at 10, whatever k the run was cut at


def normalise(text: str) -> str:
    """White space collapsed to single spaces, ends stripped: how quotes are compared."""
    return " ".join(text.split())


# --------------------------------------------------------------------------------------------
# Queries and runs


@dataclass(frozen=True, slots=True)
class Relevant:
    """One relevant paragraph of a query: where it is and a span quoted from it."""

    doc_id: str
    label: str
    quote: str


@dataclass(frozen=True, slots=True)
class Query:
    """A labelled query."""

    qid: str
    query: str
    kind: str
    relevant: tuple[Relevant, ...]
    split: str = ""  # "dev" (for choosing settings) or "test" (held out for reporting)


@dataclass(frozen=True, slots=True)
class Retrieved:
    """One ranked item of a run, from any system; ``label``/``pages`` only for library hits."""

    doc_id: str
    text: str
    label: str | None = None
    pages: tuple[int, int] | None = None
    also_in: tuple[tuple[str, str], ...] = ()  # (doc_id, label) of the same words elsewhere


Run = dict[str, list[Retrieved]]
"""qid -> the ranked items retrieved for that query, best first."""


def default_queries_path() -> Path:
    """``evaluation/queries.jsonl`` of the source tree, else of the working directory."""
    in_tree = Path(__file__).resolve().parents[2] / DEFAULT_QUERIES
    return in_tree if in_tree.is_file() else DEFAULT_QUERIES


SPLITS = ("dev", "test")


def load_queries(path: str | Path | None = None, *, split: str | None = None) -> list[Query]:
    """The labelled queries of a JSONL file (default ``evaluation/queries.jsonl``).

    Args:
        path: the JSONL file.
        split: keep only the queries of this split ("dev" or "test"); None keeps all.

    Raises:
        ValueError: a line that is not a labelled query (names the file and line), or an unknown split.

    Example:
        >>> queries = load_queries()  # doctest: +SKIP
        >>> queries[0].relevant[0].label  # doctest: +SKIP
        'para. 1.3'
    """
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    path = Path(path) if path is not None else default_queries_path()
    queries = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                relevant = tuple(
                    Relevant(str(item["doc_id"]), str(item["label"]), normalise(str(item["quote"])))
                    for item in record["relevant"]
                )
                query = Query(
                    str(record["qid"]),
                    str(record["query"]),
                    str(record.get("kind", "")),
                    relevant,
                    str(record.get("split", "")),
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a labelled query: {exc!r}") from None
            if split is None or query.split == split:
                queries.append(query)
    return queries


def from_hits(hits: Iterable[Hit]) -> list[Retrieved]:
    """Library hits as run items, keeping label, pages and agreed-language duplicates."""
    return [
        Retrieved(
            doc_id=hit.passage.doc_id,
            text=hit.passage.text,
            label=hit.citation.label,
            pages=tuple(hit.citation.pages),
            also_in=tuple((other.doc_id, other.label) for other in hit.also_in),
        )
        for hit in hits
    ]


# --------------------------------------------------------------------------------------------
# Judging and metrics


def covered(item: Retrieved, relevant: Sequence[Relevant]) -> set[int]:
    """Indices of the ``relevant`` paragraphs that ``item`` covers.

    Its own text must hold the quote; an agreed-language duplicate listed in ``also_in`` covers
    the paragraph it names (same doc_id and label), its words being the item's own.
    """
    text = normalise(item.text)
    found = {i for i, rel in enumerate(relevant) if rel.doc_id == item.doc_id and rel.quote in text}
    if item.also_in:
        others = set(item.also_in)
        found.update(i for i, rel in enumerate(relevant) if (rel.doc_id, rel.label) in others)
    return found


@dataclass(frozen=True, slots=True)
class QueryResult:
    """The metrics of one query."""

    qid: str
    kind: str
    relevant: int
    recall: dict[int, float]
    mrr: float
    ndcg: float
    first_rank: int | None  # rank of the first relevant item, None if none in the run
    cited: int  # relevant library hits in the top k
    cited_correctly: int  # ...whose label and pages equal the gold ones


def judge_query(
    query: Query,
    items: Sequence[Retrieved],
    *,
    gold_pages: Mapping[tuple[str, str, str], tuple[int, int]] | None = None,
    k: int = RANK_CUTOFF,
) -> QueryResult:
    """Recall@1/5/10, MRR@10, nDCG@10 and citation counts of one ranked list.

    Args:
        query: the labelled query.
        items: the ranked items, best first (only the first ``k`` are judged).
        gold_pages: (doc_id, label, quote) -> pages of the index passage holding it; None to
            skip citation accuracy (systems without labels).
        k: the cut-off of the run.
    """
    relevant = query.relevant
    items = list(items)[:k]
    coverage = [covered(item, relevant) for item in items]
    seen: set[int] = set()
    gains = []
    found_by_rank = []
    for cover in coverage:
        new = cover - seen
        gains.append(1.0 if new else 0.0)
        seen |= cover
        found_by_rank.append(len(seen))
    total = len(relevant)
    recall = {cut: (found_by_rank[min(cut, len(items)) - 1] / total if items and total else 0.0) for cut in CUTOFFS}
    first = next((rank for rank, cover in enumerate(coverage, start=1) if cover), None)
    mrr = 1.0 / first if first is not None and first <= RANK_CUTOFF else 0.0
    ndcg = ndcg_at(gains, total, RANK_CUTOFF)
    cited = cited_correctly = 0
    if gold_pages is not None:
        for item, cover in zip(items, coverage):
            direct = {i for i in cover if relevant[i].doc_id == item.doc_id and relevant[i].quote in normalise(item.text)}
            if not direct or item.label is None:
                continue
            cited += 1
            if any(
                item.label == relevant[i].label
                and gold_pages.get((relevant[i].doc_id, relevant[i].label, relevant[i].quote)) == item.pages
                for i in direct
            ):
                cited_correctly += 1
    return QueryResult(query.qid, query.kind, total, recall, mrr, ndcg, first, cited, cited_correctly)


def ndcg_at(gains: Sequence[float], relevant: int, k: int) -> float:
    """nDCG@k of binary ``gains`` in rank order, with ``relevant`` relevant items in all."""
    dcg = sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains[:k], start=1))
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(relevant, k) + 1))
    return dcg / ideal if ideal else 0.0


@dataclass(frozen=True, slots=True)
class Metrics:
    """Metrics averaged over a set of queries (citation accuracy over hits)."""

    queries: int
    recall: dict[int, float]
    mrr: float
    ndcg: float
    citation_accuracy: float | None  # None when no hit carried a label or none was relevant
    cited: int

    @classmethod
    def of(cls, results: Sequence[QueryResult]) -> Metrics:
        """The mean of per-query results."""
        if not results:
            return cls(0, {cut: 0.0 for cut in CUTOFFS}, 0.0, 0.0, None, 0)
        cited = sum(result.cited for result in results)
        correct = sum(result.cited_correctly for result in results)
        return cls(
            queries=len(results),
            recall={cut: statistics.fmean(result.recall[cut] for result in results) for cut in CUTOFFS},
            mrr=statistics.fmean(result.mrr for result in results),
            ndcg=statistics.fmean(result.ndcg for result in results),
            citation_accuracy=correct / cited if cited else None,
            cited=cited,
        )

    def row(self) -> dict[str, Any]:
        """Flat JSON form: ``recall@1`` ..., ``mrr@10``, ``ndcg@10``, ``citation_accuracy``."""
        data: dict[str, Any] = {"queries": self.queries}
        data.update({f"recall@{cut}": round(value, 4) for cut, value in self.recall.items()})
        data["mrr@10"] = round(self.mrr, 4)
        data["ndcg@10"] = round(self.ndcg, 4)
        data["citation_accuracy"] = None if self.citation_accuracy is None else round(self.citation_accuracy, 4)
        data["cited_hits"] = self.cited
        return data


@dataclass(frozen=True, slots=True)
class EvalReport:
    """Overall and per-kind metrics of one system on the labelled queries."""

    system: str
    k: int
    overall: Metrics
    by_kind: dict[str, Metrics]
    queries: tuple[QueryResult, ...] = field(repr=False, default=())
    seconds: float = 0.0

    def to_dict(self, *, per_query: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "system": self.system,
            "k": self.k,
            "seconds": round(self.seconds, 3),
            "overall": self.overall.row(),
            "by_kind": {kind: metrics.row() for kind, metrics in self.by_kind.items()},
        }
        if per_query:
            data["queries"] = [asdict(result) for result in self.queries]
        return data


def judge_run(
    queries: Sequence[Query],
    run: Mapping[str, Sequence[Retrieved]],
    *,
    system: str = "run",
    gold_pages: Mapping[tuple[str, str, str], tuple[int, int]] | None = None,
    k: int = RANK_CUTOFF,
    seconds: float = 0.0,
) -> EvalReport:
    """Score a run (qid -> ranked items) on ``queries``; a query missing from the run scores 0."""
    results = tuple(judge_query(query, run.get(query.qid, ()), gold_pages=gold_pages, k=k) for query in queries)
    by_kind: dict[str, list[QueryResult]] = defaultdict(list)
    for result in results:
        by_kind[result.kind].append(result)
    return EvalReport(
        system=system,
        k=k,
        overall=Metrics.of(results),
        by_kind={kind: Metrics.of(items) for kind, items in sorted(by_kind.items())},
        queries=results,
        seconds=seconds,
    )


def gold_pages(library: Library, queries: Iterable[Query]) -> dict[tuple[str, str, str], tuple[int, int]]:
    """(doc_id, label, quote) -> pages of the library passage with that doc_id and label holding the quote."""
    wanted = {(rel.doc_id, rel.label, rel.quote) for query in queries for rel in query.relevant}
    by_place: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for passage in library.passages:
        by_place[(passage.doc_id, passage.label)].append(passage)
    pages = {}
    for doc_id, label, quote in wanted:
        for passage in by_place.get((doc_id, label), ()):
            if quote in normalise(passage.text):
                pages[(doc_id, label, quote)] = tuple(passage.pages)
                break
    return pages


# --------------------------------------------------------------------------------------------
# Running the library


def search_options(library: Library) -> set[str]:
    """The keyword arguments ``library.search`` accepts besides ``query`` and ``k``."""
    parameters = inspect.signature(library.search).parameters
    return {name for name in parameters if name not in ("query", "k")}


def run_library(
    library: Library,
    queries: Sequence[Query],
    *,
    k: int = RANK_CUTOFF,
    **options: Any,
) -> Run:
    """Search every query; ``options`` (``mode=``, ``group=``...) go to ``library.search``.

    Raises:
        ValueError: an option ``library.search`` does not take.
    """
    accepted = search_options(library)
    unknown = sorted(name for name, value in options.items() if value is not None and name not in accepted)
    if unknown:
        raise ValueError(f"this version of search() takes no {', '.join(unknown)} option")
    options = {name: value for name, value in options.items() if value is not None}
    return {query.qid: from_hits(library.search(query.query, k=k, **options)) for query in queries}


def evaluate(
    library: Library,
    queries_path: str | Path | None = None,
    *,
    mode: str | None = None,
    k: int = RANK_CUTOFF,
    group: bool | None = None,
    split: str | None = None,
) -> EvalReport:
    """Run the labelled queries against ``library`` and score the hits.

    Args:
        library: an opened index.
        queries_path: the labelled queries (default ``evaluation/queries.jsonl``).
        mode: search mode ("dense", "bm25", "hybrid"), when ``search`` takes one.
        k: hits per query (>= 10 for recall@10, MRR@10 and nDCG@10 to mean what they say).
        group: group agreed language (the same words in several documents), when ``search`` can.
        split: score only the "dev" or the "test" queries (evaluation/README.md); None scores all.

    Returns:
        An EvalReport with overall and per-kind metrics.

    Raises:
        ValueError: ``k < 1``, or an option the library's search does not take.

    Example:
        >>> report = evaluate(open_index("indexes/full"), mode="hybrid")  # doctest: +SKIP
        >>> report.overall.row()["recall@5"]  # doctest: +SKIP
    """
    import time

    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    queries = load_queries(queries_path, split=split)
    started = time.perf_counter()
    run = run_library(library, queries, k=k, mode=mode, group=group)
    seconds = time.perf_counter() - started
    name = mode or "default"
    if split is not None:
        name += f" ({split})"
    if group is not None:
        name += " + grouping" if group else " ungrouped"
    return judge_run(queries, run, system=name, gold_pages=gold_pages(library, queries), k=k, seconds=seconds)


# --------------------------------------------------------------------------------------------
# Tables


METRIC_COLUMNS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "citation_accuracy")


def format_table(rows: Sequence[tuple[str, Metrics]], *, markdown: bool = False) -> str:
    """A table of metrics, one row per (name, Metrics)."""
    header = ["", "queries", "R@1", "R@5", "R@10", "MRR@10", "nDCG@10", "cite acc."]
    body = []
    for name, metrics in rows:
        row = metrics.row()
        cite = "-" if row["citation_accuracy"] is None else f"{row['citation_accuracy']:.3f}"
        body.append(
            [name, str(row["queries"])]
            + [f"{row[column]:.3f}" for column in METRIC_COLUMNS[:-1]]
            + [cite]
        )
    if markdown:
        lines = ["| " + " | ".join(["system", *header[1:]]) + " |"]
        lines.append("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join(lines)
    widths = [max(len(str(cells[i])) for cells in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(cells))
        for cells in [header, *body]
    ]
    return "\n".join(lines)


def report_table(report: EvalReport, *, markdown: bool = False) -> str:
    """The overall row, then one row per query kind."""
    rows = [("all", report.overall), *report.by_kind.items()]
    return format_table(rows, markdown=markdown)
