"""The HTML reader: a statement's web page -> the same kind of Document as its Markdown."""

from __future__ import annotations

import pytest

from aseancyberdocs.errors import DocumentParseError, EmptyDocumentError
from aseancyberdocs.passages import make_passages
from aseancyberdocs.sources import find_sources, load_document

PARAGRAPHS = [
    "We, the Leaders of Australia, India, Japan and the United States, reaffirm our shared vision for a "
    "free and open Indo-Pacific, anchored by democratic values and unconstrained by coercion.",
    "We commit to promote an open, accessible and secure technology ecosystem, and to work together to "
    "strengthen the resilience of critical infrastructure against malicious cyber activity.",
    "We will cooperate on countering ransomware, including through the International Counter Ransomware "
    "Initiative, and on building the cyber capacity of partners across the region.",
]

PAGE = f"""<!DOCTYPE html>
<html lang="en"><head>
<meta charset="utf-8">
<title>Quad Leaders’ Joint Statement | The White House</title>
<meta property="og:title" content="Quad Leaders’ Joint Statement: “The Spirit of the Quad”">
<meta property="article:published_time" content="2021-03-12T17:04:31-05:00">
<meta property="og:url" content="https://example.org/briefing-room/2021/03/12/quad/">
<script>var tracking = "not text";</script>
</head><body>
<header><nav><a href="/">Home</a> <a href="/briefing-room">Briefing Room</a> <a href="/search">Search</a></nav></header>
<main><article>
<h1>Quad Leaders’ Joint Statement: “The Spirit of the Quad”</h1>
<time datetime="2021-03-12">March 12, 2021</time>
<p>{PARAGRAPHS[0]}</p>
<p>{PARAGRAPHS[1].replace("critical infrastructure", "<strong>critical</strong>&nbsp;infrastructure")}</p>
<p>{PARAGRAPHS[2]}</p>
</article></main>
<footer><p>Share this page on social media. Privacy policy. Copyright.</p></footer>
</body></html>
"""


def test_statement_page_reads_like_its_markdown(tmp_path):
    path = tmp_path / "2021-03-12-quad.html"
    path.write_text(PAGE, encoding="utf-8")
    document = load_document(path)
    assert document.text == "\n\n".join(PARAGRAPHS)
    assert document.title == "Quad Leaders’ Joint Statement: “The Spirit of the Quad”"
    assert document.date == "2021-03-12"
    assert document.doc_type == "joint statement"
    assert document.source_url == "https://example.org/briefing-room/2021/03/12/quad/"
    assert [(page.number, page.start, page.end) for page in document.pages] == [(1, 0, len(document.text))]
    passages = make_passages(document)
    assert [passage.label for passage in passages] == ["para. 1", "para. 2", "para. 3"]
    assert all(document.text[p.start : p.end] == p.text for p in passages)


def test_title_and_date_fall_back_to_title_tag_and_time(tmp_path):
    page = PAGE.replace('<meta property="og:title"', '<meta property="x"').replace(
        '<meta property="article:published_time"', '<meta property="y"'
    )
    path = tmp_path / "page.htm"
    path.write_text(page, encoding="utf-8")
    document = load_document(path)
    assert document.title == "Quad Leaders’ Joint Statement"
    assert document.date == "2021-03-12"


def test_html_files_are_found(tmp_path):
    (tmp_path / "a.html").write_text(PAGE, encoding="utf-8")
    (tmp_path / "b.htm").write_text(PAGE, encoding="utf-8")
    assert [path.name for path in find_sources([tmp_path])] == ["a.html", "b.htm"]


@pytest.mark.parametrize(
    ("content", "error", "words"),
    [
        ("<html><body><nav><a href='/'>Home</a></nav><script>x()</script></body></html>", EmptyDocumentError, "no main text"),
        ("", EmptyDocumentError, "empty (0 bytes)"),
    ],
)
def test_page_without_text(tmp_path, content, error, words):
    path = tmp_path / "empty.html"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(error) as caught:
        load_document(path)
    assert str(path) in str(caught.value) and words in caught.value.reason


def test_binary_named_html_is_a_clear_error(tmp_path):
    path = tmp_path / "image.html"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    with pytest.raises((DocumentParseError, EmptyDocumentError)) as caught:
        load_document(path)
    assert str(path) in str(caught.value)
