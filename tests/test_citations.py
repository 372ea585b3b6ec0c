"""describe(): where a passage stands, in words."""

from __future__ import annotations

from dataclasses import replace

from conftest import make_document

from aseancyberdocs.citations import describe


def test_a_convention_article_is_named_with_its_heading_paragraph_and_annex():
    document, passages = make_document(
        "A/RES/79/243", ["(i) A device, including a program;"], doc_type="convention",
        title="United Nations Convention against Cybercrime; Strengthening International Cooperation",
    )
    passage = replace(passages[0], label="annex, art. 11, para. 1 (a) (i)",
                      context="Article 11 Misuse of devices\n1. Each State Party shall adopt ...")
    assert describe(document, passage) == (
        "Article 11 (Misuse of devices), paragraph 1 (a) (i) of the United Nations Convention against "
        "Cybercrime (A/RES/79/243, annex)"
    )
    no_paragraph = replace(passage, label="annex, art. 3 (a)", context="Article 3 Scope of application")
    assert describe(document, no_paragraph).startswith("Article 3 (Scope of application), subparagraph (a) of")


def test_resolutions_drafts_and_statements_are_named_by_number_and_date():
    resolution, passages = make_document("A/RES/73/27", ["1.3. States should not ..."], date="2018-12-05")
    assert describe(resolution, replace(passages[0], label="para. 1.3")) == (
        "Paragraph 1.3 of General Assembly resolution 73/27 (2018)"
    )
    assert describe(resolution, replace(passages[0], label="preamble, para. 4")) == (
        "Preambular paragraph 4 of General Assembly resolution 73/27 (2018)"
    )
    draft, passages = make_document("A/C.1/80/L.20", ["2. Requests ..."], doc_type="draft resolution", date="2025-10-13")
    assert describe(draft, replace(passages[0], label="para. 2")) == "Paragraph 2 of draft resolution A/C.1/80/L.20 (2025)"
    statement, passages = make_document("quad-2023", ["We reaffirm ..."], doc_type="joint statement",
                                        title="Quad Leaders’ Joint Statement", date="2023-05-20")
    assert describe(statement, replace(passages[0], label="para. 25")) == (
        "Paragraph 25 of the Quad Leaders’ Joint Statement (2023-05-20)"
    )
