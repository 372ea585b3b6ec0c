"""Citation exports: what search and ask cite, as CSL-JSON, RIS and Markdown, read back by other tools.

CSL-JSON is read and rendered by citeproc-py (a CSL processor), RIS parsed back by rispy and by a
strict line check, Markdown rendered by markdown-it-py: each must give back the documents, the
paragraph locators and the exact quotes. Real model, real documents (conftest.adapter_index).
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
import warnings

import pytest

from aseancyberdocs import QuoteVerificationError, open_index
from aseancyberdocs.cli import main
from aseancyberdocs.exports import CitedPassage, Reference, export, references, to_csl_json, to_markdown, to_ris

pytestmark = [pytest.mark.model, pytest.mark.corpus]

NORM_QUERY = "states should not allow their territory to be used for wrongful ICT acts"
CRITICAL_INFRASTRUCTURE = (
    "Is there UN language telling States not to damage another country's critical infrastructure "
    "through ICT operations?"
)
RIS_LINE = re.compile(r"^(?:[A-Z][A-Z0-9]  - .*|ER  - )$")


@pytest.fixture(scope="module")
def library(adapter_index):
    return open_index(adapter_index)


@pytest.fixture(scope="module")
def hits(library):
    """Three norms of A/RES/73/27, then two paragraphs of a statement without a symbol."""
    return library.search(NORM_QUERY, k=3) + library.search("ransomware payments", k=2, doc_type="joint statement")


@pytest.fixture(scope="module")
def refs(library, hits):
    return references(library, hits)


def test_references_are_one_per_document_in_cited_order(refs, hits, library):
    assert [ref.doc_id for ref in refs] == [
        "A/RES/73/27", "2023-11-01-international-counter-ransomware-initiative-2023-joint-statement"
    ]
    assert [p.citation for ref in refs for p in ref.cited] == [hit.citation.formatted for hit in hits]
    norms = refs[0]
    assert norms.cited[0].label == "para. 1.3" and norms.cited[0].locator == ("paragraph", "1.3")
    assert (norms.symbol, norms.date, norms.body, norms.source_url) == (
        "A/RES/73/27", "2018-12-05", "UN General Assembly, First Committee", "https://docs.un.org/en/A/RES/73/27"
    )
    for ref in refs:
        for passage in ref.cited:
            assert library.documents[ref.doc_id].text[passage.start : passage.end] == passage.quote


def test_csl_json_is_read_and_rendered_by_a_csl_processor(refs):
    from citeproc import Citation, CitationItem, CitationStylesBibliography, CitationStylesStyle, formatter
    from citeproc.source import Locator
    from citeproc.source.json import CiteProcJSON

    items = json.loads(export(refs, "csl-json"))
    assert items == to_csl_json(refs)
    norms = items[0]
    assert {key: norms[key] for key in ("id", "type", "number", "authority", "URL", "issued")} == {
        "id": "A/RES/73/27", "type": "document", "number": "A/RES/73/27",
        "authority": "UN General Assembly, First Committee", "URL": "https://docs.un.org/en/A/RES/73/27",
        "issued": {"date-parts": [[2018, 12, 5]]},
    }
    assert norms["note"].startswith("Cited: para. 1.3 (p. 3); ")
    assert "number" not in items[1] and items[1]["type"] == "document"

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        source = CiteProcJSON(items)
    # citeproc-py implements CSL 1.0.1: every field is a variable it knows but `custom`
    # (CSL-JSON's place for extra data, newer than citeproc-py).
    assert {str(w.message) for w in caught} <= {"The following arguments for Reference are unsupported: custom"}

    style = CitationStylesStyle("harvard-cite-them-right", validate=False)
    bibliography = CitationStylesBibliography(style, source, formatter.plain)
    citations = []
    for item in items:
        for cite in item["custom"]["locators"]:
            citation = Citation([CitationItem(item["id"], locator=Locator(cite["label"], cite["locator"]))])
            bibliography.register(citation)
            citations.append(citation)
    missing = []
    rendered = [str(bibliography.cite(citation, missing.append)) for citation in citations]
    assert not missing
    assert rendered[0] == "(“Developments in the field of information and telecommunications in the context of international security”, 2018, para. 1.3)"
    assert all(", para. " in text for text in rendered)
    entries = [str(entry) for entry in bibliography.bibliography()]
    assert len(entries) == 2 and "Available at: https://docs.un.org/en/A/RES/73/27." in entries[0]


def test_ris_parses_back(refs):
    import rispy

    text = to_ris(refs)
    assert all(RIS_LINE.match(line) for line in text.splitlines() if line), text
    records = rispy.loads(text)
    assert len(records) == len(refs)
    for record, ref in zip(records, refs):
        assert record["type_of_reference"] == "GOVDOC"
        assert (record["id"], record["title"], record["type_of_work"]) == (ref.doc_id, ref.title, ref.doc_type)
        assert record["date"] == ref.date.replace("-", "/") + "/" and record["year"] == ref.date[:4]
        assert record["urls"] == [ref.source_url]
        assert record["notes"] == [f"{p.citation}: “{p.quote}”" for p in ref.cited]
    assert records[0]["note"] == "A/RES/73/27" and "note" not in records[1]  # M1: the symbol
    assert records[0]["publisher"] == "UN General Assembly, First Committee"


def _rendered_quotes(markdown: str) -> list[str]:
    from markdown_it import MarkdownIt

    rendered = MarkdownIt().render(markdown)
    return [html.unescape(text) for text in re.findall(r"<blockquote>\s*<p>(.*?)</p>\s*</blockquote>", rendered, re.S)]


def test_markdown_lists_citations_whose_quotes_render_as_the_source_text(refs):
    text = export(refs, "markdown")
    assert text == to_markdown(refs)
    assert text.startswith(
        "- **A/RES/73/27, para. 1.3 (p. 3)**. *Developments in the field of information and telecommunications "
        "in the context of international security*, 2018-12-05. <https://docs.un.org/en/A/RES/73/27>\n\n"
        "  > 1.3. States should not knowingly allow their territory"
    )
    assert _rendered_quotes(text) == [p.quote for ref in refs for p in ref.cited]


def test_markdown_escapes_what_would_change_the_quote():
    quotes = [
        "2. Requests the Secretary-General to report <annex> on *norms* and [measures] under_score,",
        "# not a heading\n- not a list\n+ nor this\n10) nor this | nor a table `code`",
    ]
    ref = Reference(
        doc_id="X", symbol="X", title="A *title*", date=None, doc_type="resolution", body=None, source_url=None,
        cited=tuple(CitedPassage(f"X, para. {n}", f"para. {n}", (1, 1), quote, 0, len(quote)) for n, quote in enumerate(quotes)),
    )
    rendered = _rendered_quotes(to_markdown([ref]))
    assert rendered == quotes


def test_an_answer_exports_its_quoted_sentences(library):
    answer = library.ask(CRITICAL_INFRASTRUCTURE)
    refs = references(library, answer)
    assert refs[0].doc_id == "A/RES/73/27"
    assert [p.quote for ref in refs for p in ref.cited] == [c.quote for c in answer.citations]
    assert _rendered_quotes(to_markdown(refs)) == [c.quote for c in answer.citations]
    unanswered = dataclasses.replace(answer, answered=False, citations=())
    assert references(library, unanswered) == [] and export([], "markdown") == ""

    wrong = dataclasses.replace(answer.citations[0], quote=answer.citations[0].quote + " (sic)")
    with pytest.raises(QuoteVerificationError, match="A/RES/73/27, para. 1.6"):
        references(library, dataclasses.replace(answer, citations=(wrong,)))


def test_bad_input_is_refused(library):
    with pytest.raises(ValueError, match="unknown export format 'bibtex'"):
        export([], "bibtex")
    with pytest.raises(TypeError, match="expected search hits or an Answer"):
        references(library, ["A/RES/73/27"])


def test_locators():
    def locator(label):
        return CitedPassage("c", label, (1, 1), "q", 0, 1).locator

    assert locator("para. 2 (a) (ii)") == ("paragraph", "2 (a) (ii)")
    assert locator("preamble, para. 4") == ("section", "preamble, para. 4")
    assert locator("annex, art. 15, para. 1") == ("section", "annex, art. 15, para. 1")


# -- the command line ------------------------------------------------------------------------


def test_search_and_ask_print_exports(adapter_index, capsys):
    assert main(["search", NORM_QUERY, "-k", "2", "--index", str(adapter_index), "--format", "ris"]) == 0
    records = __import__("rispy").loads(capsys.readouterr().out)
    assert [r["id"] for r in records] == ["A/RES/73/27"] and records[0]["notes"][0].startswith("A/RES/73/27, para. 1.3 (p. 3): ")

    assert main(["ask", CRITICAL_INFRASTRUCTURE, "--index", str(adapter_index), "--format", "csl-json"]) == 0
    items = json.loads(capsys.readouterr().out)
    assert items[0]["id"] == "A/RES/73/27"
    assert items[0]["custom"]["locators"][0]["citation"] == "A/RES/73/27, para. 1.6 (p. 4)"

    assert main(["ask", CRITICAL_INFRASTRUCTURE, "--index", str(adapter_index), "--format", "markdown"]) == 0
    assert capsys.readouterr().out.startswith("- **A/RES/73/27, para. 1.6 (p. 4)**. ")


@pytest.mark.parametrize(
    "args",
    [
        ["search", "norms", "--format", "ris", "--json"],
        ["search", "--queries", "q.jsonl", "--format", "ris"],
        ["search", "norms", "--format", "bibtex"],
        ["ask", "norms?", "--format", "ris", "--json"],
        ["ask", "--eval", "e.jsonl", "--format", "ris"],
    ],
)
def test_format_usage_errors(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert "--format" in capsys.readouterr().err
