"""The ``aseancyberdocs`` command: build, search and describe an index.

The only module that prints. Exit codes: 0 success, 1 a library error (one ``error: ...`` line,
no traceback), 2 a usage error.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import textwrap
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from . import __version__
from .errors import AseanCyberDocsError

logger = logging.getLogger(__name__)

_FORMATTER = argparse.RawDescriptionHelpFormatter

_MAIN_EXAMPLE = """\
example:
  aseancyberdocs build
  aseancyberdocs search "protection of critical infrastructure" -k 5
"""
_BUILD_EXAMPLE = """\
With no PATH, the bundled reference corpus is indexed ($ASEANCYBERDOCS_CORPUS, or the corpus/
folder of the checkout).

example:
  aseancyberdocs build
  aseancyberdocs build corpus/un my-documents/ --index indexes/mine
  aseancyberdocs build --cluster local
  aseancyberdocs build /shared/corpus --cluster tcp://10.0.0.5:8786
"""
_SEARCH_EXAMPLE = """\
queries file (for --queries): one JSON object per line, e.g. {"qid": "q1", "query": "ransomware"}
A query in double quotes must occur word for word ('"knowingly allow their territory"'); a query
that is a document symbol (A/RES/73/27) lists that document's passages in order. The same text in
several documents (a draft and its resolution, a paragraph repeated each year) is shown once,
the other places listed under "also in" (--no-group to list each).

example:
  aseancyberdocs search "norms of responsible State behaviour in the use of ICTs" -k 3
  aseancyberdocs search "points of contact" --type resolution --since 2020-01-01 --body "First Committee"
  aseancyberdocs search --queries evaluation/queries.jsonl -k 10 --json > run.jsonl
  aseancyberdocs search "points of contact directory" -k 3 --format ris > citations.ris
"""
_INFO_EXAMPLE = """\
example:
  aseancyberdocs info --index indexes/default --json
"""


class InputError(Exception):
    """A malformed input file given on the command line."""


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``aseancyberdocs`` command."""
    parser = argparse.ArgumentParser(
        prog="aseancyberdocs",
        description="Search cyber-diplomacy texts (UN resolutions, ASEAN and leaders' statements) "
        "and cite them to the paragraph.",
        epilog=_MAIN_EXAMPLE,
        formatter_class=_FORMATTER,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the library does on stderr")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    index_help = ("index folder (default: $ASEANCYBERDOCS_INDEX or indexes/default, "
                  "built from the bundled corpus on first use)")

    build = commands.add_parser(
        "build",
        help="index PDF, text and Markdown files",
        description="Read the source files (.pdf, .txt, .md, .html; folders are searched recursively), split them "
        "into labelled passages, embed them and write the index. Unreadable files are skipped and listed. "
        "Texts embedded by the previous build are not embedded again.",
        epilog=_BUILD_EXAMPLE,
        formatter_class=_FORMATTER,
    )
    build.add_argument("paths", nargs="*", metavar="PATH",
                       help="source files or folders (default: the bundled corpus)")
    build.add_argument("--index", metavar="DIR", help=index_help)
    build.add_argument("--model", metavar="NAME", help="sentence-transformers model name or folder "
                       "(default: the bundled all-MiniLM-L6-v2)")
    build.add_argument("--max-tokens", type=positive_int, metavar="N",
                       help="passage size limit in model tokens (default: the model's window)")
    build.add_argument("--json", action="store_true", help="print the build report as one JSON object")
    build.add_argument("--index-type", choices=("auto", "flat", "hnsw", "ivfpq", "ivfsq"), default="auto",
                       help="FAISS index: exact, HNSW, IVF-PQ or IVF with 8-bit codes (both re-scored exactly), or "
                       "by corpus size (default: auto, exact up to 300,000 passages, HNSW up to 2,000,000, then IVF "
                       "with 8-bit codes)")
    build.add_argument("--strict", action="store_true",
                       help="fail (exit 1, index left as it was) if any file cannot be read")
    build.add_argument("--cluster", metavar="ADDRESS",
                       help="read and embed as tasks of a Dask.distributed cluster: its scheduler's address "
                       "(tcp://host:8786), or 'local' to start one on this machine's cores "
                       "(needs the [cluster] extra; every worker needs the files at the same path)")
    build.set_defaults(run=run_build)

    search = commands.add_parser(
        "search",
        help="find the passages closest in meaning to a query",
        description="Find the passages closest in meaning to QUERY and print them with their citations. "
        "With --queries, run every query of a JSONL file with one model load.",
        epilog=_SEARCH_EXAMPLE,
        formatter_class=_FORMATTER,
    )
    search.add_argument("query", nargs="?", metavar="QUERY", help="free-text query")
    search.add_argument("--queries", metavar="FILE", help="JSONL file of {\"qid\", \"query\"} objects ('-': stdin)")
    search.add_argument("--index", metavar="DIR", help=index_help)
    search.add_argument("-k", type=positive_int, default=10, metavar="N", help="number of hits (default: 10)")
    search.add_argument("--json", action="store_true", help="one JSON object per hit and line")
    search.add_argument("--mode", choices=("hybrid", "dense", "bm25"), default="hybrid",
                        help="hybrid (meaning and words fused, default), dense (meaning) or bm25 (words)")
    search.add_argument("--no-group", dest="group", action="store_false",
                        help="list every occurrence of repeated language as its own hit")
    search.add_argument("--type", dest="doc_type", action="append", metavar="TYPE",
                        help="only this document type, e.g. resolution, 'draft resolution' (repeatable)")
    search.add_argument("--body", metavar="TEXT", help="only documents whose body contains TEXT, e.g. 'First Committee'")
    search.add_argument("--since", metavar="DATE", help="only documents dated on or after DATE (YYYY-MM-DD)")
    search.add_argument("--until", metavar="DATE", help="only documents dated on or before DATE (YYYY-MM-DD)")
    search.add_argument("--doc", action="append", metavar="ID", help="only this document, by symbol or id (repeatable)")
    search.add_argument("--where", action="append", metavar="KEY=VALUE", type=_key_value,
                        help="only documents whose field or metadata KEY equals VALUE (repeatable)")
    add_export_option(search)
    search.set_defaults(run=run_search, parser=search)

    add_answer_commands(commands, index_help)

    info = commands.add_parser(
        "info",
        help="describe an index",
        description="Show what an index holds (documents and passages per type) and how it was built.",
        epilog=_INFO_EXAMPLE,
        formatter_class=_FORMATTER,
    )
    info.add_argument("--index", metavar="DIR", help=index_help)
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(run=run_info)
    _add_eval_command(commands, index_help)
    add_corpus_commands(commands)
    add_serve_command(commands, index_help)
    add_mcp_command(commands, index_help)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.command == "search" and (args.query is None) == (args.queries is None):
        args.parser.error("give either QUERY or --queries FILE")
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR,
        format="%(name)s: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    # The one-time ONNX export of a model (seconds, on first use) is announced even when quiet.
    logging.getLogger("aseancyberdocs.embedding").setLevel(logging.INFO if args.verbose else logging.WARNING)
    try:
        code = args.run(args)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python from failing at exit
        # when it flushes stdout again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except (AseanCyberDocsError, InputError, OSError) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# --------------------------------------------------------------------------------------------
# build


class _Progress:
    """tqdm bars on stderr, one per build stage; silent when stderr is not a terminal."""

    _LABELS = {"read": ("reading", "file"), "embed": ("embedding", "text")}

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.bars: dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if stage == "model":
            print("loading the embedding model...", file=sys.stderr)
            return
        bar = self.bars.get(stage)
        if bar is None:
            from tqdm import tqdm

            label, unit = self._LABELS.get(stage, (stage, "it"))
            bar = self.bars[stage] = tqdm(total=total, desc=label, unit=unit, file=sys.stderr)
        if bar.total != total:  # texts to embed are counted as files are read
            bar.total = total
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def run_build(args: argparse.Namespace) -> int:
    from .index import build_index

    paths = args.paths or [_default_corpus()]
    progress = _Progress()
    try:
        report = build_index(
            paths,
            args.index,
            model=args.model,
            max_tokens=args.max_tokens,
            progress=progress,
            strict=args.strict,
            index_type=args.index_type,
            cluster=args.cluster,
        )
    finally:
        progress.close()
    if args.json:
        _print_json(report.to_dict())
        return 0
    _print_build_report(report, sys.stdout)
    return 0


def _print_build_report(report: Any, out: TextIO) -> None:
    print(
        f"indexed {report.documents} documents, {report.passages} passages in {report.seconds:.1f} s "
        f"-> {report.index_dir}",
        file=out,
    )
    print(f"model {report.model}: embedded {report.embedded} new texts, reused {report.reused}", file=out)
    if report.cluster:
        print(f"read and embedded on the cluster {report.cluster} ({report.workers} workers)", file=out)
    if report.documents_reused:
        print(f"reused {report.documents_reused} unchanged documents from the previous build", file=out)
    for doc_type, count in report.doc_types.items():
        print(f"  {doc_type:<22} {count:>5} documents", file=out)
    if report.skipped:
        print(f"skipped {len(report.skipped)} files:", file=out)
        for item in report.skipped:
            print(f"  {item.path}: {item.reason}", file=out)


def _default_corpus() -> Any:
    """The bundled corpus folder, or a usage error saying how to name one."""
    from .corpus import CORPUS_ENV, bundled_corpus_dir

    corpus = bundled_corpus_dir()
    if corpus is None:
        raise ValueError(f"no PATH given and no bundled corpus found: name files or folders to index, "
                         f"or set ${CORPUS_ENV} to a corpus folder")
    return corpus


def open_library(args: argparse.Namespace, corpus: Any = None, preload_model: bool = False) -> Any:
    """Open the index of ``args.index``, building it first when it is missing and may be built.

    The default index (no ``--index``, no ``$ASEANCYBERDOCS_INDEX``) is built from the bundled
    corpus; an index folder named by the user is built only from a corpus the user named too
    (``corpus``, e.g. ``serve --corpus DIR``), so that a typo never starts a build somewhere
    unexpected: otherwise a missing folder stays an error. ``preload_model`` loads the query
    encoder in the background while the index is read.
    """
    from pathlib import Path

    from .corpus import bundled_corpus_dir, estimated_build_seconds
    from .index import INDEX_ENV, build_index, default_index_dir, open_index

    index_dir = Path(args.index) if args.index else default_index_dir()
    if corpus is not None:
        source, what = Path(corpus), "the corpus named by --corpus"
    elif args.index is None and not os.environ.get(INDEX_ENV):
        source, what = bundled_corpus_dir(), "the bundled corpus"
    else:
        source = None
    if source is not None and source.is_dir() and not (index_dir / "manifest.json").exists():
        from .sources import find_sources

        count = len(find_sources([source]))
        minutes = max(1, round(estimated_build_seconds(count) / 60))
        print(
            f"no index at {index_dir} yet: building it from {what} ({source}, {count} documents) so that "
            f"this {args.command} can run; this happens once and takes about {minutes} "
            f"minute{'s' if minutes != 1 else ''} on a 2-core machine",
            file=sys.stderr,
        )
        progress = _Progress()
        try:
            report = build_index([source], index_dir, progress=progress)
        finally:
            progress.close()
        _print_build_report(report, sys.stderr)
    return open_index(index_dir, preload_model=preload_model)


# --------------------------------------------------------------------------------------------
# search


def _key_value(text: str) -> tuple[str, str]:
    """argparse type: KEY=VALUE."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def run_search(args: argparse.Namespace) -> int:
    if args.format and (args.json or args.queries is not None):
        args.parser.error("--format prints the citations of one QUERY: not with --json or --queries")
    # The model loads in the background while the index is read (BM25 alone needs none).
    library = open_library(args, preload_model=args.mode != "bm25")
    options = {
        "mode": args.mode, "group": args.group, "doc_type": args.doc_type, "body": args.body,
        "since": args.since, "until": args.until, "doc": args.doc, "where": dict(args.where or ()),
    }
    if args.query is not None:
        hits = library.search(args.query, k=args.k, **options)
        if args.format:
            print_export(library, hits, args.format)
        elif args.json:
            for hit in hits:
                _print_json({**hit.to_dict(), "mode": args.mode})
        else:
            _print_hits(hits)
        return 0

    for number, (qid, query) in enumerate(_read_queries(args.queries)):
        try:
            hits = library.search(query, k=args.k, **options)
        except AseanCyberDocsError:
            raise
        except ValueError as exc:
            raise InputError(f"{args.queries}: query {qid!r}: {exc}") from exc
        if args.json:
            for hit in hits:
                _print_json({"qid": qid, **hit.to_dict(), "mode": args.mode})
        else:
            if number:
                print()
            print(f"# {qid}: {query}")
            _print_hits(hits)
    return 0


def _read_queries(path: str) -> Iterator[tuple[Any, str]]:
    """(qid, query) pairs from a JSONL file; a missing qid is the line number."""
    handle: TextIO
    handle = sys.stdin if path == "-" else open(path, encoding="utf-8")  # noqa: SIM115
    try:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise InputError(f"{path}:{number}: not a JSON object: {exc}") from None
            if not isinstance(record, dict) or not isinstance(record.get("query"), str):
                raise InputError(f"{path}:{number}: expected an object with a \"query\" string")
            yield record.get("qid", number), record["query"]
    finally:
        if handle is not sys.stdin:
            handle.close()


def _print_hits(hits: Sequence[Any]) -> None:
    if not hits:
        print("no hits")
        return
    for hit in hits:
        print(f"{hit.rank:>3}. {hit.score:.3f}  {hit.citation}")
        wrapped = textwrap.fill(
            " ".join(hit.passage.text.split()), width=100, initial_indent="     ", subsequent_indent="     "
        )
        print(wrapped)
        if hit.also_in or hit.also_in_more:
            places = ", ".join(f"{other} ({other.date or 'undated'})" for other in hit.also_in)
            if hit.also_in_more:
                more = f"{hit.also_in_more:,} more"
                places = f"{places} and {more}" if places else more
            print(textwrap.fill(f"also in: {places}", width=100, initial_indent="     ", subsequent_indent="       "))


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False))


# --------------------------------------------------------------------------------------------
# info


def run_info(args: argparse.Namespace) -> int:
    from .index import open_index

    info = open_index(args.index).info()
    if args.json:
        _print_json(info)
        return 0
    model = info.get("model") or {}
    settings = info.get("settings") or {}
    print(f"index       {info['index_dir']}")
    print(f"built       {info.get('built')} in {info.get('build_seconds')} s "
          f"(aseancyberdocs {info.get('library_version')}, format {info.get('format_version')})")
    print(f"model       {model.get('name')} ({model.get('dimension')} dimensions, "
          f"window {model.get('max_tokens')} tokens)")
    print(f"passages    at most {settings.get('max_tokens')} tokens; embedded as {settings.get('embed_text')}")
    print(f"settings    {str(info.get('settings_fingerprint'))[:16]}")
    print(f"documents   {info['documents']}, passages {info['passages']}")
    for doc_type, counts in (info.get("by_doc_type") or {}).items():
        print(f"  {doc_type:<22} {counts['documents']:>5} documents {counts['passages']:>7} passages")
    skipped = info.get("skipped") or []
    if skipped:
        print(f"skipped     {len(skipped)} files")
        for item in skipped:
            print(f"  {item['path']}: {item['reason']}")
    return 0


# --------------------------------------------------------------------------------------------
# ask and precedents

_ASK_EXAMPLE = """\
The answer quotes retrieved sentences word for word, each followed by [n]; every quote is checked
against the document text before it is printed. A question nothing in the index answers gets
"no answer" (exit 0).

evaluation file (for --eval): JSONL of {"qid", "question", "expected": [{"doc_id", "label"}]};
"expected": [] marks a question the corpus cannot answer.

example:
  aseancyberdocs ask "Which norm protects critical infrastructure from ICT attacks?" --markdown
  aseancyberdocs ask --eval evaluation/ask.jsonl --index indexes/full
  aseancyberdocs ask "Which norm protects critical infrastructure?" --format csl-json > sources.json
"""
_PRECEDENTS_EXAMPLE = """\
TEXT is a phrase, a whole paragraph, a passage id from `search --json`, or '-' to read stdin.
Each occurrence shows the share of the query's words it holds in common word sequences and what it
[-dropped-] and {+added+}.

evaluation file (for --eval): JSONL of {"qid", "text", "expected_first", "expected_occurrences"}.

example:
  aseancyberdocs precedents "considerable progress has been achieved in developing and applying the latest information technologies"
  aseancyberdocs precedents "A/RES/80/16#para. 2" --as-of 2024-12-31 --json
"""


def add_answer_commands(commands: Any, index_help: str) -> None:
    """The ``ask`` and ``precedents`` sub-commands."""
    ask = commands.add_parser(
        "ask",
        help="answer a question with quoted, cited sentences",
        description="Answer QUESTION with sentences quoted from the indexed documents, each cited to its paragraph.",
        epilog=_ASK_EXAMPLE,
        formatter_class=_FORMATTER,
    )
    ask.add_argument("question", nargs="?", metavar="QUESTION", help="the question")
    ask.add_argument("--index", metavar="DIR", help=index_help)
    ask.add_argument("-k", type=positive_int, default=8, metavar="N", help="passages to draw sentences from (default: 8)")
    output = ask.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON object")
    output.add_argument("--markdown", action="store_true", help="print Markdown to paste into a document")
    ask.add_argument("--eval", metavar="FILE", help="score ask on a labelled JSONL file instead")
    add_export_option(ask, group=output)
    ask.set_defaults(run=run_ask, parser=ask)

    lineage = commands.add_parser(
        "precedents",
        help="trace where a piece of language first appeared and where it recurs",
        description="List every passage holding the same words as TEXT (exactly or nearly), earliest first.",
        epilog=_PRECEDENTS_EXAMPLE,
        formatter_class=_FORMATTER,
    )
    lineage.add_argument("text", nargs="?", metavar="TEXT", help="phrase, paragraph, passage id, or '-' for stdin")
    lineage.add_argument("--index", metavar="DIR", help=index_help)
    lineage.add_argument("--as-of", metavar="DATE", help="only documents dated on or before DATE (YYYY-MM-DD)")
    from .lineage import DEFAULT_MIN_SHARED

    lineage.add_argument("--min-shared", type=float, metavar="F",
                         help=f"share of the text's words an occurrence must hold (default: {DEFAULT_MIN_SHARED})")
    lineage.add_argument("--json", action="store_true", help="one JSON object per occurrence and line")
    lineage.add_argument("--eval", metavar="FILE", help="score precedents on a labelled JSONL file instead")
    lineage.set_defaults(run=run_precedents, parser=lineage)


def _read_jsonl(path: str) -> list[dict[str, Any]]:
    records = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise InputError(f"{path}:{number}: not a JSON object: {exc}") from None
            if not isinstance(record, dict):
                raise InputError(f"{path}:{number}: not a JSON object")
            records.append(record)
    return records


def _print_evaluation(report: dict[str, Any], rows_key: str, as_json: bool) -> None:
    if as_json:
        _print_json(report)
        return
    for name, value in report.items():
        if name != rows_key:
            print(f"{name:<24} {value}")
    for row in report[rows_key]:
        print("  " + json.dumps(row, ensure_ascii=False))


def run_ask(args: argparse.Namespace) -> int:
    from .answer import evaluate, to_markdown

    if (args.question is None) == (args.eval is None):
        args.parser.error("give either QUESTION or --eval FILE")
    if args.format and args.eval is not None:
        args.parser.error("--format prints the citations of one QUESTION: not with --eval")
    library = open_library(args, preload_model=True)
    if args.eval is not None:
        _print_evaluation(evaluate(library, _read_jsonl(args.eval), k=args.k), "per_question", args.json)
        return 0
    answer = library.ask(args.question, k=args.k)
    if args.format:
        print_export(library, answer, args.format)
    elif args.json:
        _print_json(answer.to_dict())
    elif args.markdown:
        sys.stdout.write(to_markdown(answer))
    else:
        # One paragraph of the brief for each place quoted, wrapped apart.
        print("\n\n".join(textwrap.fill(" ".join(part.split()), width=100) for part in answer.paragraphs))
        for citation in answer.citations:
            print(f"\n[{citation.n}] {citation.citation} ({citation.date or 'undated'})")
            print(textwrap.fill(citation.title, width=100, initial_indent="    ", subsequent_indent="    "))
    return 0


def run_precedents(args: argparse.Namespace) -> int:
    from .lineage import DEFAULT_MIN_SHARED, evaluate, render_diff

    if (args.text is None) == (args.eval is None):
        args.parser.error("give either TEXT or --eval FILE")
    library = open_library(args)
    min_shared = DEFAULT_MIN_SHARED if args.min_shared is None else args.min_shared
    if args.eval is not None:
        report = evaluate(library, _read_jsonl(args.eval), as_of=args.as_of, min_shared=min_shared)
        _print_evaluation(report, "per_case", args.json)
        return 0
    text = sys.stdin.read() if args.text == "-" else args.text
    found = library.precedents(text, as_of=args.as_of, min_shared=min_shared)
    if args.json:
        for item in found:
            _print_json(item.to_dict())
        return 0
    if not found:
        print("no passage shares this language")
        return 0
    for number, item in enumerate(found, start=1):
        mark = "  (first)" if item.first else ""
        print(f"{number:>3}. {item.citation.date or 'undated':<10}  {item.citation}  shared {item.shared:.2f}{mark}")
        changes = render_diff(item.diff)
        print(textwrap.fill(changes or "(same words)", width=100, initial_indent="     ", subsequent_indent="     "))
    return 0


# --------------------------------------------------------------------------------------------
# citation exports (search and ask --format)

def add_export_option(parser: argparse.ArgumentParser, group: Any = None) -> None:
    """``--format csl-json|ris|markdown``: the cited documents for a reference manager or a brief."""
    from .exports import FORMATS

    (group or parser).add_argument(
        "--format", choices=FORMATS, metavar="FORMAT",
        help="print what is cited, one record per document with the paragraph as locator: csl-json (Zotero, "
        "pandoc), ris (reference managers) or markdown (citations with quotes to paste into a brief)",
    )


def print_export(library: Any, results: Any, format: str) -> None:
    from .exports import export, references

    sys.stdout.write(export(references(library, results), format))


# --------------------------------------------------------------------------------------------
# corpus fetch and verify

_CORPUS_EXAMPLE = """\
example:
  aseancyberdocs corpus fetch --dest corpus --only A/70/174 A/RES/79/243
  aseancyberdocs corpus verify corpus
"""


def add_corpus_commands(commands: Any) -> None:
    """The ``corpus fetch`` and ``corpus verify`` sub-commands."""
    corpus = commands.add_parser(
        "corpus",
        help="download the reference corpus, or check a folder against its catalog",
        description="Download the catalogued documents from their official URLs, or check a folder against "
        "the catalog (missing, changed and extra files).",
        epilog=_CORPUS_EXAMPLE,
        formatter_class=_FORMATTER,
    )
    actions = corpus.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)
    fetch = actions.add_parser(
        "fetch",
        help="download what is missing",
        description="Download the catalogued documents missing from DIR, including those the corpus does not "
        "bundle (the GGE and OEWG reports): size-limited, with timeouts, type and sha256 checks, written "
        "atomically. A file is saved under the folder and extension of what was served: a statement's web "
        "page as .html beside its Markdown name, a text extract's PDF under un/pdf/. Exit 1, listing them, "
        "if any document failed.",
        epilog=_CORPUS_EXAMPLE,
        formatter_class=_FORMATTER,
    )
    fetch.add_argument("--dest", metavar="DIR", default="corpus", help="corpus folder (default: corpus)")
    fetch.add_argument("--only", nargs="+", metavar="ID", help="doc_ids or catalog paths to fetch")
    fetch.add_argument("--timeout", type=float, default=30.0, metavar="S", help="seconds to wait for a server")
    fetch.add_argument("--catalog", metavar="CSV", help="another catalog with the same columns (default: the shipped one)")
    fetch.add_argument("--json", action="store_true", help="one JSON object per document")
    fetch.set_defaults(run=run_corpus_fetch)
    verify = actions.add_parser(
        "verify",
        help="check a folder against the catalog",
        description="Compare DIR with the catalog: files unchanged (sha256), missing, changed and extra. "
        "Exit 1 if a file is missing or changed.",
        epilog=_CORPUS_EXAMPLE,
        formatter_class=_FORMATTER,
    )
    verify.add_argument("folder", nargs="?", default="corpus", metavar="DIR", help="corpus folder (default: corpus)")
    verify.add_argument("--json", action="store_true", help="print one JSON object")
    verify.add_argument("--catalog", metavar="CSV", help="another catalog with the same columns (default: the shipped one)")
    verify.set_defaults(run=run_corpus_verify)


def run_corpus_fetch(args: argparse.Namespace) -> int:
    from .fetch import fetch_corpus

    from .catalog import Catalog

    results = fetch_corpus(args.dest, only=args.only, timeout=args.timeout, catalog=Catalog.load(args.catalog))
    for result in results:
        if args.json:
            _print_json(result.to_dict())
        elif result.status not in ("present", "skipped"):
            print(f"{result.status:<8} {result.path}" + (f": {result.message}" if result.message else ""))
    statuses = ("fetched", "present", "failed", "skipped")
    counts = {status: sum(result.status == status for result in results) for status in statuses}
    if not args.json:
        print(
            f"{counts['fetched']} fetched, {counts['present']} already present, {counts['failed']} failed"
            + (f", {counts['skipped']} skipped (no official URL in the catalog)" if counts["skipped"] else "")
        )
    failed = [result.doc_id for result in results if result.status == "failed"]
    if failed:
        # On stderr as well, so that a script reading --json output still sees what went wrong.
        print(f"error: {len(failed)} of {len(results)} documents not fetched: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def run_corpus_verify(args: argparse.Namespace) -> int:
    from .fetch import verify_corpus

    from .catalog import Catalog

    report = verify_corpus(args.folder, catalog=Catalog.load(args.catalog))
    if args.json:
        _print_json(report.to_dict())
    else:
        for name in ("missing", "changed", "extra", "unpinned"):
            for path in getattr(report, name):
                print(f"{name:<8} {path}")
        print(f"{len(report.ok)} ok, {len(report.missing)} missing, {len(report.changed)} changed, "
              f"{len(report.extra)} extra, {len(report.unpinned)} unpinned in {report.folder}"
              + (f"; {len(report.not_fetched)} catalogued documents not bundled (corpus fetch gets them)"
                 if report.not_fetched else ""))
    return 0 if report.complete else 1


# --------------------------------------------------------------------------------------------
# mcp

_MCP_EXAMPLE = """\
Tools: search, ask, precedents, get_passage. Each returns the passages or quotes as structured
content with the exact source text (checked against the document) and the citation to give.
Register it with an assistant (Claude Desktop's claude_desktop_config.json, or any client's
"mcpServers" block):

  {"mcpServers": {"aseancyberdocs": {"command": "aseancyberdocs",
                                     "args": ["mcp", "--index", "/path/to/indexes/full"]}}}

example:
  aseancyberdocs mcp --index indexes/full
"""


def add_mcp_command(commands: Any, index_help: str) -> None:
    """The ``mcp`` sub-command: a Model Context Protocol server over stdio."""
    server = commands.add_parser(
        "mcp",
        help="serve search, ask, precedents and get_passage to AI assistants (MCP, stdio)",
        description="Run a Model Context Protocol server on stdin/stdout for an AI assistant: it can search, "
        "ask, trace precedents and fetch passages, and gets each quote with its citation. Needs the MCP SDK "
        "(pip install 'aseancyberdocs[mcp]').",
        epilog=_MCP_EXAMPLE,
        formatter_class=_FORMATTER,
    )
    server.add_argument("--index", metavar="DIR", help=index_help)
    server.set_defaults(run=run_mcp)


def run_mcp(args: argparse.Namespace) -> int:
    # Open (and check) the index before speaking the protocol: a bad index is one error line.
    library = open_library(args)
    try:
        from .mcp_server import create_server
    except ImportError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 1
    create_server(library).run("stdio")
    return 0


# --------------------------------------------------------------------------------------------
# eval

_EVAL_EXAMPLE = """\
metrics: recall@k = relevant paragraphs found in the top k / relevant paragraphs; a hit is relevant
when it is from the right document and holds the paragraph's quoted span (evaluation/README.md).

example:
  aseancyberdocs eval --index indexes/full --split dev
  aseancyberdocs eval --queries evaluation/queries.jsonl --json
"""


def _add_eval_command(commands: Any, index_help: str) -> None:
    evaluate = commands.add_parser(
        "eval",
        help="measure retrieval and citation quality on labelled queries",
        description="Run the labelled queries against an index and print Recall@1/5/10, MRR@10, nDCG@10 "
        "and citation accuracy, overall and per query kind.",
        epilog=_EVAL_EXAMPLE,
        formatter_class=_FORMATTER,
    )
    evaluate.add_argument("--queries", metavar="FILE", help="labelled queries (default: evaluation/queries.jsonl)")
    evaluate.add_argument("--index", metavar="DIR", help=index_help)
    evaluate.add_argument("--mode", metavar="MODE", help="search mode, when search has modes (dense, bm25, hybrid)")
    evaluate.add_argument("--group", action=argparse.BooleanOptionalAction, default=None,
                          help="group agreed language or not (default: search's own default)")
    evaluate.add_argument("--split", choices=("dev", "test"),
                          help="score only the dev queries (for tuning) or the held-out test queries (default: all)")
    evaluate.add_argument("-k", type=positive_int, default=10, metavar="N", help="hits per query (default: 10)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.set_defaults(run=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    from .evaluation import evaluate, report_table

    library = open_library(args)
    report = evaluate(library, args.queries, mode=args.mode, k=args.k, group=args.group, split=args.split)
    if args.json:
        _print_json(report.to_dict())
        return 0
    print(f"{report.system} search, {report.overall.queries} queries, k={report.k}, {library.index_dir}")
    print(report_table(report))
    return 0


# --------------------------------------------------------------------------------------------
# serve

_SERVE_EXAMPLE = """\
Pages: / (search), /doc/ID (a document, paragraphs anchored), /precedents, /ask.
JSON API: /api/search, /api/ask, /api/precedents, /api/documents/ID, /api/info;
its OpenAPI description at /api/openapi.json. Needs the web extra: pip install "aseancyberdocs[web]".

example:
  aseancyberdocs serve
  aseancyberdocs serve --index indexes/full --port 8080
"""
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def add_serve_command(commands: Any, index_help: str) -> None:
    """The ``serve`` sub-command."""
    serve = commands.add_parser(
        "serve",
        help="run the local web app and JSON API",
        description="Serve the search, document, precedents and ask pages and a read-only JSON API "
        "over one index, loaded once. Binds 127.0.0.1 unless another host is asked for.",
        epilog=_SERVE_EXAMPLE,
        formatter_class=_FORMATTER,
    )
    serve.add_argument("--index", metavar="DIR", help=index_help)
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to bind (default: 127.0.0.1; any other is reachable from the network)")
    serve.add_argument("--port", type=positive_int, default=8000, help="port (default: 8000)")
    serve.add_argument("--corpus", metavar="DIR",
                       help="when the index is missing, build it from DIR first (the default index is built "
                       "from the bundled corpus without it)")
    serve.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    try:
        from .web import run
    except ImportError as exc:
        raise InputError(f"the web app needs the web extra ({exc.name} is missing): "
                         'pip install "aseancyberdocs[web]"') from exc
    if args.host not in LOOPBACK_HOSTS:
        print(f"warning: binding {args.host}: the app will be reachable by other machines on the network, "
              "without authentication", file=sys.stderr)
    library = open_library(args, corpus=args.corpus)
    print(f"loading the model and serving {library.index_dir} at http://{_url_host(args.host)}:{args.port}/",
          file=sys.stderr)
    run(library, host=args.host, port=args.port)
    return 0


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
