"""Readers: UN PDFs and text layers, Markdown statements, plain text; cleaning and metadata."""

from __future__ import annotations

import re

import pytest

from aseancyberdocs.errors import DocumentParseError, EmptyDocumentError
from aseancyberdocs.sources import document_from_text, find_sources, load_document
from aseancyberdocs.sources.blocks import join_lines

pytestmark = []


def test_line_end_hyphen_kept_for_compounds_and_dropped_inside_words():
    vocabulary = ({"implementation", "capacity", "building"}, {"capacity-building"})
    assert join_lines(["support capacity-", "building measures"], vocabulary) == "support capacity-building measures"
    assert join_lines(["full implementa-", "tion of"], ({"implementation"}, set())) == "full implementation of"
    # Unknown: keep the hyphen (UN texts hyphenate compounds far more often than they break words).
    assert join_lines(["far-", "reaching"], (set(), set())) == "far-reaching"
    # A capital after the hyphen is a compound such as Secretary-General.
    assert join_lines(["the Secretary-", "General"], (set(), set())) == "the Secretary-General"
    assert join_lines(["Nuclear-Weapon-", "Free World"], (set(), set())) == "Nuclear-Weapon-Free World"
    # A spaced dash is punctuation, not a hyphen.
    assert join_lines(["peace -", "Security"], (set(), set())) == "peace - Security"


def test_unicode_spaces_are_plain_spaces():
    from aseancyberdocs.sources.blocks import normalize_spaces

    assert normalize_spaces("arms race in\u202fouter\u2007space") == "arms race in outer space"


def test_markdown_front_matter_and_markup(tmp_path):
    path = tmp_path / "statement.md"
    path.write_text(
        '---\ntitle: "Quad Leaders\\u2019 Joint\\_Statement"\ndate: \'2023-05-20\'\n'
        "source_url: https://example.org/s\n---\n\n**WE,** the Leaders, met<sup>1</sup>;\n\n"
        "1.  We commit to cyber\n    security;\n2.  We welcome the <!-- -->Initiative.\n",
        encoding="utf-8",
    )
    document = load_document(path)
    assert document.title == "Quad Leaders’ Joint Statement"  # YAML's \_ is a no-break space
    assert document.date == "2023-05-20"
    assert document.source_url == "https://example.org/s"
    assert document.doc_type == "joint statement"
    assert document.text == "WE, the Leaders, met1;\n\n1. We commit to cyber security;\n\n2. We welcome the Initiative."


def test_markdown_with_broken_front_matter_names_the_file(tmp_path):
    path = tmp_path / "broken.md"
    path.write_text("---\ntitle: [unclosed\n---\nBody.\n", encoding="utf-8")
    with pytest.raises(DocumentParseError, match="broken.md: invalid YAML front matter"):
        load_document(path)


def test_plain_text_paragraphs_and_errors(tmp_path):
    path = tmp_path / "note.txt"
    path.write_text("First paragraph\ncontinues here.\n\nSecond one.\n", encoding="utf-8")
    document = load_document(path)
    assert document.text == "First paragraph continues here.\n\nSecond one."
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(EmptyDocumentError, match="empty.txt"):
        load_document(empty)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Résolution".encode("latin-1"))
    with pytest.raises(DocumentParseError, match="latin.txt: not valid UTF-8"):
        load_document(latin)


def test_find_sources_walks_folders_and_skips_hidden(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "a" / ".hidden.md").write_text("x")
    (tmp_path / "b.md").write_text("x")
    (tmp_path / "c.docx").write_text("x")
    (tmp_path / "README.md").write_text("what this folder holds")
    assert [p.name for p in find_sources([tmp_path])] == ["x.pdf", "b.md"]
    assert find_sources([tmp_path / "README.md"]) == [tmp_path / "README.md"]  # named, it is read
    with pytest.raises(FileNotFoundError):
        find_sources([tmp_path / "missing"])


def test_document_from_text_pages_cover_the_text():
    document = document_from_text("One.\n\nTwo.", doc_id="x")
    assert document.pages[0].start == 0 and document.pages[-1].end == len(document.text)


# --- the reference corpus -------------------------------------------------------------------


def test_un_pdf_front_page_metadata_and_clean_text(corpus_dir):
    document = load_document(corpus_dir / "un/pdf/A_RES_80_16.pdf")
    assert document.doc_id == document.symbol == "A/RES/80/16"
    assert document.date == "2025-12-01"  # adoption, not the distribution date of 5 December
    assert document.body == "UN General Assembly, First Committee"
    assert document.doc_type == "resolution"
    assert document.title.startswith("Open-ended working group on security of and in the use of")
    # Running heads, job numbers, page counters and the barcode are gone.
    body = document.text[document.text.index("The General Assembly") :]
    for artefact in ("25-19974", "*2519974*"):
        assert artefact not in body
    assert not re.search(r"(?<![\w/.])2/2(?![\w/])", body)
    assert [page.number for page in document.pages] == [1, 2]


def test_paragraph_across_a_page_break_is_rejoined(corpus_dir):
    document = load_document(corpus_dir / "un/pdf/A_RES_80_16.pdf")
    sentence = "as endorsed by the General Assembly in its resolution 79/237, and the additional elements"
    start = document.text.index(sentence)
    assert document.page_at(start).number == 1
    assert document.page_at(start + len(sentence) - 1).number == 2


def test_text_layer_pages_come_from_the_running_heads(corpus_dir):
    document = load_document(corpus_dir / "un/text/A_RES_73_27.txt")
    assert document.symbol == "A/RES/73/27" and document.date == "2018-12-05"
    assert [page.label for page in document.pages] == ["1", "2", "3", "4", "5"]
    norm = document.text.index("1.3. States should not knowingly allow their territory")
    assert document.page_at(norm).number == 3
    assert "18-21207" not in document.text[400:]
    # Footnotes are dropped: they are not part of the paragraph they interrupt.
    assert "A/65/201, A/68/98 and A/70/174" not in document.text


def test_statement_from_the_corpus(corpus_dir):
    path = corpus_dir / "statements/2021-03-12-quad-leaders-joint-statement-the-spirit-of-the-quad.md"
    document = load_document(path)
    assert document.title == "Quad Leaders’ Joint Statement: “The Spirit of the Quad”"
    assert document.date == "2021-03-12"
    assert document.doc_id == path.stem
    assert not re.search(r"\*\*|<sup>|\\_", document.text)


# --- Reports and chairman's statements: SYNTHETIC PDFs (tests/synthetic_documents.py) --------


def test_report_pdf_front_page_running_heads_and_page_break(tmp_path):
    from aseancyberdocs.catalog import Catalog
    from synthetic_documents import write_report_pdf

    document = load_document(write_report_pdf(tmp_path / "A_70_999.pdf", symbol="A/70/999"), catalog=Catalog([]))
    assert (document.doc_id, document.symbol, document.doc_type, document.date) == ("A/70/999", "A/70/999", "report", "2015-07-22")
    assert document.title == "Report of the synthetic group of experts on placeholder developments"
    assert document.body == "UN General Assembly"
    assert [page.label for page in document.pages] == [str(n) for n in range(1, 9)]
    for furniture in ("15-12404", "/8", "*1512404*", "Synthetic developments in the field", "Seventieth session"):
        assert furniture not in document.text.split("\n\n", 1)[1], furniture
    # Paragraph 9 runs from page 5 on to page 6: one paragraph, no running head inside it.
    assert "into one paragraph whose quoted text holds no running head" in document.text


def test_statement_pdf_loses_running_title_and_page_counters(tmp_path):
    from aseancyberdocs.catalog import Catalog
    from synthetic_documents import write_statement_pdf

    document = load_document(write_statement_pdf(tmp_path / "statement.pdf"), catalog=Catalog([]))
    assert document.title == "CHAIRMAN'S STATEMENT OF THE 99TH SYNTHETIC SUMMIT"
    assert document.doc_type == "chairman's statement"
    assert "Page 1 of 2" not in document.text and "Chairman's Statement of the 99th" not in document.text
    assert "whether the plan should be extended to placeholder matters" in document.text


def test_a_statement_saved_at_its_catalog_path_gets_the_catalogued_metadata(tmp_path):
    # The ASEAN rows carry no URL: a user saves the PDF at the row's path. A SYNTHETIC PDF stands
    # in for it here; the point is that the row is found by file name and labels follow the layout.
    from aseancyberdocs.catalog import Catalog
    from aseancyberdocs.citations import cite
    from aseancyberdocs.passages import make_passages
    from synthetic_documents import write_statement_pdf

    entry = Catalog.load().get("2018-04-28-chairmans-statement-of-the-32nd-asean-summit")
    assert entry is not None and not entry.bundled and entry.source_url is None
    document = load_document(write_statement_pdf(tmp_path / entry.path))
    assert (document.doc_id, document.title, document.date, document.doc_type, document.body) == (
        entry.doc_id, "Chairman’s Statement of the 32nd ASEAN Summit", "2018-04-28", "chairman's statement", "ASEAN Summit"
    )
    passages = {passage.label: passage for passage in make_passages(document)}
    assert cite(document, passages["para. 5"]).formatted == "Chairman’s Statement of the 32nd ASEAN Summit (2018-04-28), para. 5 (p. 2)"
    assert passages["para. 5"].context == "Cybersecurity"
