"""Passages: one per paragraph, long ones split at sentences, offsets exact on the whole corpus."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aseancyberdocs.citations import cite, format_citation
from aseancyberdocs.passages import default_token_counter, make_passages
from aseancyberdocs.sources import document_from_text, find_sources, load_document


def _count_words(text: str) -> int:
    return len(text.split())


def test_long_paragraph_is_split_at_sentences_keeping_its_label():
    sentence = "States should cooperate to prevent harmful practices in the use of ICTs. "
    text = "1. " + sentence * 12 + "\n\n2. Short one."
    document = document_from_text(text, doc_id="d")
    passages = make_passages(document, max_tokens=40, count_tokens=_count_words)
    parts = [p for p in passages if p.label == "para. 1"]
    assert len(parts) > 1
    assert [p.part for p in parts] == list(range(1, len(parts) + 1))
    assert all(p.parts == len(parts) for p in parts)
    assert all(p.text.endswith("ICTs.") for p in parts)
    assert len({p.passage_id for p in passages}) == len(passages)
    for passage in passages:
        assert document.text[passage.start : passage.end] == passage.text


def test_repeated_text_gets_its_own_offsets():
    text = "1. Same words here.\n\n2. Same words here.\n\n3. Same words here."
    document = document_from_text(text, doc_id="d")
    passages = make_passages(document, count_tokens=_count_words)
    assert [p.start for p in passages] == [0, 21, 42]


def test_default_counter_uses_the_model_tokenizer():
    count = default_token_counter()
    assert count("cybersecurity") > 1  # word pieces, not words


def test_citation_format():
    assert format_citation("A/RES/73/27", "para. 1.3", ("3", "3")) == "A/RES/73/27, para. 1.3 (p. 3)"
    assert format_citation("A/RES/79/243", "annex, art. 15, para. 1", ("15", "16")) == (
        "A/RES/79/243, annex, art. 15, para. 1 (pp. 15–16)"
    )
    assert format_citation("Statement (2023-05-20)", "para. 4", ("1", "1"), single_page=True) == (
        "Statement (2023-05-20), para. 4"
    )


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=600))
def test_any_text_gives_passages_whose_offsets_hold(text):
    try:
        document = document_from_text(text, doc_id="h")
    except ValueError:
        return
    passages = make_passages(document, max_tokens=32, count_tokens=_count_words)
    previous_end = 0
    for passage in passages:
        assert passage.text and passage.text.strip()
        assert document.text[passage.start : passage.end] == passage.text
        assert passage.start >= previous_end
        previous_end = passage.end
        assert cite(document, passage).formatted.startswith("h, ")


class _NoCatalog:
    """A catalog that knows nothing: the documents keep what their readers found."""

    def lookup(self, path, sha256=None):
        return None


@pytest.fixture(scope="module")
def corpus_passages(corpus_dir):
    # Read without the catalog, so that what the readers extract can be checked against it.
    result = []
    for path in find_sources([corpus_dir]):
        document = load_document(path, catalog=_NoCatalog())
        result.append((document, make_passages(document)))
    return result


def test_readers_find_the_catalogued_id_symbol_date_and_title(corpus_passages, corpus_dir):
    from aseancyberdocs.catalog import Catalog

    catalog = Catalog.load()
    for document, _ in corpus_passages:
        entry = catalog.lookup(Path(document.source), document.sha256)
        assert entry is not None, document.source
        assert (document.doc_id, document.symbol or None, document.date) == (
            entry.doc_id, entry.symbol or None, entry.date
        ), document.source
        if entry.doc_id != "A/C.2/80/L.58":  # prints no title line, only "Draft resolution submitted by ..."
            assert document.title == entry.title, document.source


def test_every_document_of_the_corpus_loads_with_metadata(corpus_passages):
    assert len(corpus_passages) == 293
    for document, passages in corpus_passages:
        assert document.title and document.date and document.doc_type and document.doc_id
        assert passages, document.doc_id


def test_every_passage_offset_holds_on_the_whole_corpus(corpus_passages):
    total = 0
    for document, passages in corpus_passages:
        ids = set()
        for passage in passages:
            assert document.text[passage.start : passage.end] == passage.text
            assert document.pages[passage.pages[0] - 1].start <= passage.start
            assert passage.passage_id not in ids
            ids.add(passage.passage_id)
            total += 1
    assert total > 9000


def test_no_running_head_survives_in_any_passage(corpus_passages):
    import re

    job = re.compile(r"\b\d{2}-\d{5}\b")
    for document, passages in corpus_passages:
        for passage in passages:
            assert not job.search(passage.text), (document.doc_id, passage.label)


def test_report_passages_cite_section_paragraph_and_page(tmp_path):
    # A SYNTHETIC report-shaped PDF (tests/synthetic_documents.py): placeholder words laid out
    # like A/70/174, whose norms are para. 13 (a)-(k) on page 7.
    from aseancyberdocs.catalog import Catalog
    from synthetic_documents import write_report_pdf

    document = load_document(write_report_pdf(tmp_path / "A_70_174.pdf"), catalog=Catalog([]))
    passages = {passage.label: passage for passage in make_passages(document)}
    for passage in passages.values():
        assert document.text[passage.start : passage.end] == passage.text
        assert not passage.text.startswith(("I.", "II.", "III.", "IV.", "A.", "B."))  # headings are context
    assert cite(document, passages["para. 13 (a)"]).formatted == "A/70/174, para. 13 (a) (p. 7)"
    assert cite(document, passages["para. 13 (k)"]).formatted == "A/70/174, para. 13 (k) (p. 7)"
    assert cite(document, passages["para. 9"]).formatted == "A/70/174, para. 9 (pp. 5–6)"
    assert cite(document, passages["note, para. 1"]).formatted == "A/70/174, note, para. 1 (p. 1)"
    assert passages["para. 13 (a)"].context.startswith("III. Norms, rules and principles")


@pytest.mark.parametrize("number", ["3.", "12)", "(b)", "(iv)", "1.3."])
def test_a_paragraph_number_stays_with_its_first_words_when_the_paragraph_is_split(number):
    # A first sentence nearly the size of the window: split at its ". ", the number would be a part alone.
    first = "Decides to convene " + "a working group on the security of information and communications " * 3 + "technologies. "
    text = f"{number} {first}" + "It shall report to the General Assembly at its next session. " * 3
    document = document_from_text(text, doc_id="d")
    passages = make_passages(document, max_tokens=36, count_tokens=_count_words)
    assert len(passages) > 1
    assert passages[0].text.startswith(f"{number} Decides to convene")
    assert all(any(ch.isalpha() for ch in passage.text.replace(number, "")) for passage in passages)
    for passage in passages:
        assert document.text[passage.start : passage.end] == passage.text
        assert _count_words(passage.text) <= 36 - 2
