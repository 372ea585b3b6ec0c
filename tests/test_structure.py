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


# --- Reports and chairman's statements -----------------------------------------------------
# The PDFs are SYNTHETIC fixtures (tests/synthetic_documents.py): the layout of a GGE report and
# of an ASEAN chairman's statement with placeholder words, never the real texts.


@pytest.fixture(scope="module")
def synthetic_report(tmp_path_factory):
    from aseancyberdocs.catalog import Catalog
    from synthetic_documents import write_report_pdf

    path = write_report_pdf(tmp_path_factory.mktemp("synthetic") / "A_70_174.pdf")
    return load_document(path, catalog=Catalog([]))  # what the reader finds, not what a catalog says


@pytest.fixture(scope="module")
def synthetic_statement(tmp_path_factory):
    from aseancyberdocs.catalog import Catalog
    from synthetic_documents import write_statement_pdf

    path = write_statement_pdf(tmp_path_factory.mktemp("synthetic") / "chairmans-statement.pdf")
    return load_document(path, catalog=Catalog([]))


def test_report_paragraphs_run_through_the_sections_with_lettered_norms(synthetic_report):
    numbered = [f"para. {n}" for n in range(1, 16)]
    norms = [f"para. 13 ({letter})" for letter in "abcdefghijk"]
    assert _labels(synthetic_report) == ["note, para. 1", *numbered[:13], *norms, *numbered[13:]]


def test_report_section_headings_are_context_never_paragraphs(synthetic_report):
    found = {paragraph.label: paragraph for paragraph in paragraphs(synthetic_report)}
    texts = [synthetic_report.text[p.start : p.end] for p in found.values()]
    for heading in ("I. Introduction", "A. Threats to synthetic infrastructure", "Contents", "Note by the Secretary-General"):
        assert not any(text.startswith(heading) or heading in text for text in texts), heading
    assert not any(". . ." in text for text in texts)  # the table of contents is dropped
    assert found["para. 1"].context == "I. Introduction"
    assert found["para. 4"].context == "II. Existing and emerging placeholder threats\nA. Threats to synthetic infrastructure"
    assert found["para. 7"].context.endswith("\nB. Threats to placeholder data")
    norm = found["para. 13 (a)"]
    heading, chapeau = norm.context.split("\n")
    assert heading == "III. Norms, rules and principles for the synthetic behaviour of States"  # two lines joined
    assert chapeau.startswith("13. Taking into account existing and emerging placeholder threats")
    assert synthetic_report.text[norm.start : norm.end].startswith("(a) Synthetic norm (a): States should consider")
    assert found["note, para. 1"].context == "Note by the Secretary-General"


def test_statement_themed_headings_are_context_and_items_hang_from_their_paragraph(synthetic_statement):
    found = paragraphs(synthetic_statement)
    labels = [paragraph.label for paragraph in found]
    assert labels == ["para. 1", "para. 2", "para. 3", "para. 3 (a)", "para. 3 (b)", "para. 3 (c)", *[f"para. {n}" for n in range(4, 9)]]
    context = {paragraph.label: paragraph.context for paragraph in found}
    assert context["para. 5"] == context["para. 6"] == "Cybersecurity"
    assert context["para. 7"] == "Regional and International Issues"
    assert context["para. 3 (b)"] == "Community Building\n3. We adopted the following synthetic documents at the summit:"
    texts = [synthetic_statement.text[p.start : p.end] for p in found]
    assert not any("Cybersecurity" == text or "Placeholder City, 28 April 2018" in text for text in texts)


def test_report_annexes_number_afresh(tmp_path):
    # A SYNTHETIC text layer shaped like an OEWG report: a note, then annexed reports.
    path = tmp_path / "A_75_999.txt"
    path.write_text(
        "United Nations A/75/999\nGeneral Assembly\nDistr.: General\n18 March 2021\n\n"
        "Seventy-fifth session\nAgenda item 99\nSynthetic placeholder developments\n\n"
        "Note by the Secretary-General\n\nThe Secretary-General has the honour to transmit a synthetic fixture.\n\n"
        "Annex I\n\nFinal substantive report (synthetic)\n\nA. Introduction\n\n"
        "1. Placeholder paragraph one.\n\n2. Placeholder paragraph two:\n\n(a) a first item;\n\n(b) a second item.\n\n"
        "Annex II\n\nChair's summary (synthetic)\n\n1. Placeholder summary paragraph.\n",
        encoding="utf-8",
    )
    from aseancyberdocs.catalog import Catalog

    document = load_document(path, catalog=Catalog([]))
    assert (document.doc_type, document.date) == ("report", "2021-03-18")
    found = paragraphs(document)
    assert [p.label for p in found] == [
        "note, para. 1", "annex I, para. 1", "annex I, para. 2", "annex I, para. 2 (a)", "annex I, para. 2 (b)", "annex II, para. 1",
    ]
    assert found[1].context == "A. Introduction"


def _blocks(lines):
    """(kind, text) of each block a UN text's lines are cut into, the front matter left out."""
    from aseancyberdocs.sources import un

    blocks = un.segment([lines], indent_starts=True)
    return [(block.kind, " ".join(line.text for line in block.lines)) for block in blocks if block.kind != "front"]


def test_a_sub_heading_between_numbered_paragraphs_is_not_the_end_of_the_first():
    lines = [
        "The General Assembly,",
        "",
        "1. We commit to pursue meaningful and measurable actions to achieve our objectives.",
        "Connectivity",
        "2. We acknowledge the pivotal role of universal and meaningful connectivity.",
        "3. We recognize the need to act.",
        "Objective 5. Enhance international governance of artificial intelligence for the",
        "benefit of humanity",
        "4. We recognize the need for a balanced approach.",
        "5. We commit to act, as set out in resolution",
        "6. of the Assembly.",
    ]
    texts = _blocks(lines)
    assert ("heading", "Connectivity") in texts
    assert ("heading", lines[6] + " " + lines[7]) in texts
    paragraphs_ = [text for kind, text in texts if kind == "paragraph"]
    assert [text.split(".")[0] for text in paragraphs_] == ["1", "2", "3", "4", "5"]
    assert paragraphs_[0].endswith("objectives.") and paragraphs_[-1].endswith("6. of the Assembly.")


def test_a_numbered_objective_after_a_finished_paragraph_is_a_heading_not_a_paragraph():
    lines = [
        "The General Assembly,",
        "",
        "9. We commit to pursue meaningful and measurable actions to achieve our",
        "objectives.",
        "",
        "Objective 1. Close all digital divides and accelerate progress across the",
        "Sustainable Development Goals",
        "",
        "Connectivity",
        "",
        "10. We acknowledge the pivotal role of universal and meaningful connectivity.",
        "",
        "Objective 2. Expand inclusion in and benefits from the digital economy for all",
        "",
        "11. We recognize that equitable access can unlock the digital economy.",
    ]
    texts = _blocks(lines)
    assert ("heading", lines[5] + " " + lines[6]) in texts
    assert ("heading", lines[12]) in texts
    assert [text.split(".")[0] for kind, text in texts if kind == "paragraph"] == ["9", "10", "11"]


def test_the_global_digital_compact_keeps_every_numbered_paragraph(corpus_dir):
    import re

    passages = make_passages(load_document(corpus_dir / "un" / "pdf" / "A_RES_79_1.pdf"))
    numbers = {int(m.group(1)) for p in passages if (m := re.fullmatch(r"annex I, para\. (\d+)", p.label))}
    assert numbers == set(range(1, 75))
    by_label = {p.label: p.text for p in passages}
    assert by_label["annex I, para. 10"].startswith("10. We acknowledge")
    assert "Connectivity" not in by_label["annex I, para. 9"]
    assert by_label["annex I, para. 55 (b)"].startswith("(b) Support interoperability")
    # Its five "Objective N." chapter titles are headings, never quoted as paragraphs.
    assert not [p.label for p in passages if p.text.startswith("Objective")]
    assert by_label["annex I, para. 18"] and next(
        p.context for p in passages if p.label == "annex I, para. 18"
    ).startswith("Objective 2. Expand inclusion")
