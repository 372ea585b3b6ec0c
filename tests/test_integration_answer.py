"""ask() and precedents() with the real model over a handful of real documents of the reference corpus.

The ICT security resolutions re-use their preambles session after session, and the draft
A/C.1/80/L.20 was adopted as A/RES/80/16: both are lineages precedents() must find in date order.
"""

from __future__ import annotations

import dataclasses

import pytest

from aseancyberdocs import QuoteVerificationError, build_index, open_index

pytestmark = [pytest.mark.model, pytest.mark.corpus]

SOURCES = [
    "un/text/A_RES_73_27.txt",
    "un/text/A_RES_75_240.txt",
    "un/text/A_RES_77_37.txt",
    "un/pdf/A_C.1_80_L.20.pdf",
    "un/pdf/A_RES_80_16.pdf",
]

CRITICAL_INFRASTRUCTURE = (
    "Is there UN language telling States not to damage another country's critical infrastructure "
    "through ICT operations?"
)
PROGRESS = (
    "Noting that considerable progress has been achieved in developing and applying the latest "
    "information technologies and means of telecommunication"
)


@pytest.fixture(scope="module")
def index_dir(corpus_dir, tmp_path_factory):
    index_dir = tmp_path_factory.mktemp("answer") / "index"
    report = build_index([corpus_dir / source for source in SOURCES], index_dir)
    assert report.documents == len(SOURCES) and not report.skipped
    return index_dir


@pytest.fixture(scope="module")
def library(index_dir):
    return open_index(index_dir)


def test_answer_cites_the_critical_infrastructure_norm(library):
    answer = library.ask(CRITICAL_INFRASTRUCTURE)
    assert answer.answered
    first = answer.citations[0]
    assert (first.doc_id, first.label) == ("A/RES/73/27", "para. 1.6")
    assert first.quote.startswith("A State should not conduct or knowingly support ICT activity")
    assert first.citation == "A/RES/73/27, para. 1.6 (p. 4)"
    # Where the quote stands, then the quote itself, then its marker: ready to paste into a note.
    assert answer.text.startswith(
        f"Paragraph 1.6 of General Assembly resolution 73/27 (2018) reads: \u201c{first.quote}\u201d [1]"
    )
    assert len(answer.citations) <= 5 and sum(len(c.quote) for c in answer.citations) <= 1200
    for citation in answer.citations:
        assert library.documents[citation.doc_id].text[citation.start : citation.end] == citation.quote
        assert f"[{citation.n}]" in answer.text


@pytest.mark.parametrize(
    "question",
    ["What is the recipe for chocolate chip cookies?", "purple elephant quantum sandwich telescope"],
)
def test_nonsense_question_is_not_answered(library, question):
    answer = library.ask(question)
    assert not answer.answered
    assert answer.citations == ()
    assert "No passage" in answer.text


def test_tampered_document_makes_verification_raise(index_dir):
    library = open_index(index_dir)
    question = "Which resolution established the 2021-2025 open-ended working group on ICT security?"
    cited = library.ask(question).citations[0]
    document = library.documents[cited.doc_id]
    forged = document.text[: cited.start] + cited.quote[::-1] + document.text[cited.end :]
    library.documents[cited.doc_id] = dataclasses.replace(document, text=forged)
    with pytest.raises(QuoteVerificationError, match=cited.doc_id):
        library.ask(question)


def test_generator_with_a_bad_marker_is_rejected(library):
    question = CRITICAL_INFRASTRUCTURE
    with pytest.raises(ValueError, match=r"\[42\]"):
        library.ask(question, generator=lambda q, evidence: f"See {len(evidence)} sources [1] [42].")
    written = library.ask(question, generator=lambda q, evidence: "It is the norm quoted in [1].")
    assert written.text == "It is the norm quoted in [1]."
    assert written.citations == library.ask(question).citations


def test_recurring_preambular_paragraph_in_date_order(library):
    found = library.precedents(PROGRESS)
    documents = [item.citation.doc_id for item in found]
    assert documents[:3] == ["A/RES/73/27", "A/RES/75/240", "A/RES/77/37"]
    assert found[0].first and not any(item.first for item in found[1:])
    dates = [item.citation.date for item in found]
    assert dates == sorted(dates)
    assert all(item.shared == 1.0 and item.diff == () for item in found[:3])


def test_draft_text_finds_the_adopted_resolution(library):
    draft = next(p for p in library.passages if p.doc_id == "A/C.1/80/L.20" and p.label == "para. 2")
    found = library.precedents(draft.text)
    documents = [item.citation.doc_id for item in found]
    assert documents.index("A/C.1/80/L.20") < documents.index("A/RES/80/16")
    adopted = found[documents.index("A/RES/80/16")]
    assert not adopted.first and adopted.shared >= 0.9
    assert adopted.citation.date > found[documents.index("A/C.1/80/L.20")].citation.date


def test_as_of_filters_later_documents(library):
    found = library.precedents(PROGRESS, as_of="2021-01-01")
    assert [item.citation.doc_id for item in found] == ["A/RES/73/27", "A/RES/75/240"]
    draft = next(p for p in library.passages if p.doc_id == "A/C.1/80/L.20" and p.label == "para. 2")
    before_adoption = library.precedents(draft.passage_id, as_of="2025-11-30")
    assert "A/RES/80/16" not in {item.citation.doc_id for item in before_adoption}
