"""Paragraph labels: preamble, operative paragraphs and sub-paragraphs, treaty articles, statements."""

from __future__ import annotations

import pytest

from aseancyberdocs.passages import make_passages
from aseancyberdocs.sources import document_from_text, load_document
from aseancyberdocs.structure import paragraphs


def _labels(document):
    return [paragraph.label for paragraph in paragraphs(document)]


def test_statement_numbering_with_a_preamble():
    text = "WE, the Leaders;\n\nRECOGNISING the need;\n\n1. Support the norms;\n\n2. Cooperate on cyber.\n\nClosing words."
    document = document_from_text(text, doc_id="s")
    assert _labels(document) == ["preamble, para. 1", "preamble, para. 2", "para. 1", "para. 2", "para. 2, text 2"]


def test_statement_without_numbers_is_cited_by_order_and_headings_are_context():
    text = "We met today.\n\nCyber Security\n\nWe condemn ransomware.\n\nWe will share information."
    found = paragraphs(document_from_text(text, doc_id="s"))
    assert [p.label for p in found] == ["para. 1", "para. 2", "para. 3"]
    assert found[1].context == "Cyber Security"


def test_restarting_lists_fall_back_to_order():
    text = "Intro.\n\n1. One;\n\n2. Two;\n\n1. Again one;"
    assert _labels(document_from_text(text, doc_id="s")) == ["para. 1", "para. 2", "para. 3", "para. 4"]


@pytest.fixture(scope="module")
def res_73_27(corpus_dir):
    return load_document(corpus_dir / "un/text/A_RES_73_27.txt")


def test_norms_of_73_27_are_labelled_1_1_to_1_13(res_73_27):
    labels = _labels(res_73_27)
    assert [label for label in labels if label.startswith("para. 1.")] == [f"para. 1.{n}" for n in range(1, 14)]
    assert labels[:2] == ["preamble, para. 1", "preamble, para. 2"]
    assert "preamble, para. 21" in labels and "preamble, para. 22" not in labels
    assert labels[-1] == "para. 7"
    assert "para. 4 (a)" in labels and "para. 4 (d)" in labels


def test_sub_paragraph_keeps_its_chapeau_as_context(res_73_27):
    found = {p.label: p for p in paragraphs(res_73_27)}
    norm = found["para. 1.3"]
    assert "Welcomes the following set of international rules" in norm.context
    assert not res_73_27.text[norm.start : norm.end].startswith("1. Welcomes")


def test_convention_articles_are_labelled(corpus_dir):
    document = load_document(corpus_dir / "un/pdf/A_RES_79_243.pdf")
    found = {p.label: p for p in paragraphs(document)}
    assert document.doc_type == "convention"
    for label in ("para. 2", "annex, preamble, para. 1", "annex, art. 1 (a)", "annex, art. 2 (e) (ii)",
                  "annex, art. 15, para. 1", "annex, art. 14, para. 2 (c)", "annex, art. 68, para. 1",
                  "annex, annex, para. 1"):
        assert label in found, label
    article = found["annex, art. 15, para. 1"]
    assert article.context.startswith("Article 15")
    assert "Each State Party shall adopt" in document.text[article.start : article.end]
    assert all(not label.startswith("annex 1") for label in found)


def test_pact_for_the_future_numbers_actions_and_compact(corpus_dir):
    found = {p.label for p in paragraphs(load_document(corpus_dir / "un/pdf/A_RES_79_1.pdf"))}
    assert {"para. 1", "para. 20 (a)", "action 1", "annex I, para. 7 (1)", "annex I, para. 8"} <= found


def test_paragraph_split_across_pages_is_one_passage_on_both_pages(corpus_dir):
    document = load_document(corpus_dir / "un/pdf/A_RES_80_16.pdf")
    passage = next(p for p in make_passages(document) if p.label == "para. 2")
    assert passage.pages == (1, 2) and passage.page_labels == ("1", "2")
    assert passage.text.startswith("2. Requests the Secretary-General to provide the necessary support")
    assert "as endorsed by the General Assembly in its resolution 79/237, and the additional elements" in passage.text
    assert passage.text.endswith("from the open-ended working group to the Global Mechanism;")
    assert document.text[passage.start : passage.end] == passage.text
