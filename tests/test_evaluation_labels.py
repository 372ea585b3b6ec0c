"""Every relevance label of evaluation/queries.jsonl names a passage of the parsed corpus that holds its quote.

Parsing only (load_document + make_passages, no embedding): the ~60 referenced documents take ~20 s.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from aseancyberdocs.evaluation import load_queries, normalise

pytestmark = pytest.mark.corpus


def _source_of(corpus_dir, doc_id):
    """The corpus file of a doc_id: symbols write "/" as "_"; statements are named by their stem."""
    stem = doc_id.replace("/", "_")
    for path in corpus_dir.rglob(f"{stem}.*"):
        if path.suffix in (".pdf", ".txt", ".md"):
            return path
    return None


_PARSED: dict[str, object] = {}  # source path -> its document, parsed once for every labelled file


def _parsed(path):
    from aseancyberdocs.sources import load_document

    key = str(path)
    if key not in _PARSED:
        _PARSED[key] = load_document(path)
    return _PARSED[key]


@pytest.mark.parametrize("queries_file", ["queries.jsonl", "citations.jsonl", "latest_earliest.jsonl"])
def test_every_label_holds_its_quote(corpus_dir, queries_file):
    from aseancyberdocs.passages import make_passages

    queries = load_queries(Path(__file__).resolve().parents[1] / "evaluation" / queries_file)
    wanted = defaultdict(list)
    for query in queries:
        for rel in query.relevant:
            wanted[rel.doc_id].append((query.qid, rel))

    problems = []
    for doc_id, items in sorted(wanted.items()):
        path = _source_of(corpus_dir, doc_id)
        if path is None:
            problems.append(f"{doc_id}: no file in the corpus")
            continue
        document = _parsed(path)
        if document.doc_id != doc_id:
            problems.append(f"{path.name}: read as {document.doc_id!r}, the queries say {doc_id!r}")
            continue
        by_label = defaultdict(list)
        for passage in make_passages(document):
            by_label[passage.label].append(normalise(passage.text))
        for qid, rel in items:
            texts = by_label.get(rel.label)
            if not texts:
                problems.append(f"{qid} {doc_id} {rel.label!r}: no passage has this label")
            elif not any(rel.quote in text for text in texts):
                problems.append(f"{qid} {doc_id} {rel.label!r}: quote not in the passage: {rel.quote[:60]!r}")

    assert not problems, f"{len(problems)} bad labels:\n" + "\n".join(problems)
