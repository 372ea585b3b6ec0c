"""Real model, real documents: language recurring in a draft and its resolution shows once."""

from __future__ import annotations

import pytest

from aseancyberdocs import build_index, open_index

pytestmark = [pytest.mark.model, pytest.mark.corpus]

SOURCES = ["un/pdf/A_C.1_80_L.20.pdf", "un/pdf/A_RES_80_16.pdf", "un/text/A_RES_73_27.txt"]


@pytest.fixture(scope="module")
def library(corpus_dir, tmp_path_factory):
    paths = [corpus_dir / source for source in SOURCES]
    index_dir = tmp_path_factory.mktemp("grouping") / "index"
    build_index(paths, index_dir)
    return open_index(index_dir)


def test_draft_and_resolution_language_shows_once(library):
    hits = library.search("permanent global mechanism on ICTs in the context of international security", k=10)
    recurring = [hit for hit in hits if {hit.passage.doc_id, *(o.doc_id for o in hit.also_in)} >= {"A/C.1/80/L.20", "A/RES/80/16"}]
    assert recurring, "no hit lists both the draft and the resolution"
    for hit in hits:
        texts = [" ".join(other.text.split()) for other in hits if other is not hit]
        assert " ".join(hit.text.split()) not in texts
    first = recurring[0]
    other = next(o for o in first.also_in if o.doc_id in {"A/C.1/80/L.20", "A/RES/80/16"} - {first.passage.doc_id})
    assert other.date and other.label


def test_without_grouping_both_occurrences_are_listed(library):
    grouped = library.search("permanent global mechanism on ICTs in the context of international security", k=10)
    first = next(hit for hit in grouped if hit.also_in)
    ungrouped = library.search(first.text, k=10, group=False, mode="bm25")
    docs = {hit.passage.doc_id for hit in ungrouped if " ".join(hit.text.split()) == " ".join(first.text.split())}
    assert len(docs) >= 2
