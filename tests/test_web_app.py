"""The JSON API and the server-rendered pages, over a small real index with the real model."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from web_index import HOSTILE_SCRIPT, HOSTILE_TITLE, web_index

from aseancyberdocs import open_index
from aseancyberdocs.web import MAX_K, MAX_QUERY_CHARS, MAX_TEXT_CHARS, create_app
from aseancyberdocs.web.app import CONTENT_SECURITY_POLICY

pytestmark = [pytest.mark.model, pytest.mark.corpus]

TERRITORY = "states should not allow their territory to be used for wrongful ICT acts"
CRITICAL_INFRASTRUCTURE = (
    "Is there UN language telling States not to damage another country's critical infrastructure "
    "through ICT operations?"
)


@pytest.fixture(scope="module")
def library(corpus_dir, tmp_path_factory):
    return open_index(web_index(corpus_dir, tmp_path_factory.getbasetemp()))


@pytest.fixture(scope="module")
def client(library):
    with TestClient(create_app(library), raise_server_exceptions=False) as client:
        yield client


# --------------------------------------------------------------------------------------------
# the JSON API mirrors the library's to_dict() (the CLI's --json)


def test_search_returns_the_cli_fields_of_each_hit(client, library):
    response = client.get("/api/search", params={"q": TERRITORY, "k": 3})
    assert response.status_code == 200
    body = response.json()
    assert (body["query"], body["mode"], body["k"]) == (TERRITORY, "hybrid", 3)
    expected = [{**hit.to_dict(), "mode": "hybrid"} for hit in library.search(TERRITORY, k=3)]
    assert body["hits"] == expected
    first = body["hits"][0]
    assert first["citation"] == "A/RES/73/27, para. 1.3 (p. 3)"
    assert library.documents[first["doc_id"]].text[first["start"] : first["end"]] == first["text"]


def test_search_filters_and_modes_pass_through(client, library):
    response = client.get("/api/search", params={"q": "open-ended working group", "k": 5, "mode": "bm25",
                                                 "type": "draft resolution", "since": "2025-01-01"})
    assert response.status_code == 200
    hits = response.json()["hits"]
    assert hits and {hit["doc_type"] for hit in hits} == {"draft resolution"}
    assert all(hit["mode"] == "bm25" and hit["date"] >= "2025-01-01" for hit in hits)
    only = client.get("/api/search", params={"q": "critical infrastructure", "doc": "A/RES/73/27"}).json()["hits"]
    assert only and {hit["doc_id"] for hit in only} == {"A/RES/73/27"}


def test_ask_quotes_verified_sentences(client, library):
    body = client.get("/api/ask", params={"q": CRITICAL_INFRASTRUCTURE}).json()
    assert body == library.ask(CRITICAL_INFRASTRUCTURE).to_dict()
    assert body["answered"] and body["citations"][0]["citation"] == "A/RES/73/27, para. 1.6 (p. 4)"
    for citation in body["citations"]:
        assert library.documents[citation["doc_id"]].text[citation["start"] : citation["end"]] == citation["quote"]


def test_ask_says_no_answer_honestly(client):
    body = client.get("/api/ask", params={"q": "What is the capital gains tax rate on cryptocurrency in Singapore?"}).json()
    assert body["answered"] is False and body["citations"] == []
    assert body["answer"].startswith("No passage in the index answers this question")


def test_precedents_of_a_passage_id_lists_the_draft_then_the_resolution(client, library):
    body = client.get("/api/precedents", params={"text": "A/C.1/80/L.20#para. 2"}).json()
    assert body["precedents"] == [item.to_dict() for item in library.precedents("A/C.1/80/L.20#para. 2")]
    assert [(p["citation"], p["first"]) for p in body["precedents"]] == [
        ("A/C.1/80/L.20, para. 2 (p. 1)", True), ("A/RES/80/16, para. 2 (pp. 1–2)", False)]


def test_document_by_id_has_text_pages_and_anchored_passages(client, library):
    body = client.get("/api/documents/A/RES/73/27").json()
    document = library.documents["A/RES/73/27"]
    assert body["text"] == document.text and len(body["pages"]) == len(document.pages)
    by_label = {passage["label"]: passage for passage in body["passages"]}
    assert by_label["para. 1.3"]["anchor"] == "para-1.3"
    assert by_label["para. 1.3"]["citation"] == "A/RES/73/27, para. 1.3 (p. 3)"
    assert len({passage["anchor"] for passage in body["passages"]}) == len(body["passages"])
    listing = client.get("/api/documents").json()["documents"]
    assert {item["doc_id"] for item in listing} == set(library.documents)


def test_info_and_openapi(client, library):
    assert client.get("/api/info").json() == library.info()
    schema = client.get("/api/openapi.json").json()
    assert {"/api/search", "/api/ask", "/api/precedents", "/api/documents/{doc_id}", "/api/info"} <= set(schema["paths"])
    assert "/" not in schema["paths"]  # pages are not API
    assert client.get("/docs").status_code == 404  # Swagger UI would load scripts from a CDN


# --------------------------------------------------------------------------------------------
# limits and errors: JSON with a status, never a 500


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"q": ""}, 400, "the query is empty"),
        ({"q": "   "}, 400, "the query is empty"),
        ({}, 422, "q: Field required"),
        ({"q": "x" * (MAX_QUERY_CHARS + 1)}, 422, f"at most {MAX_QUERY_CHARS} characters"),
        ({"q": "norms", "k": 0}, 422, "k: Input should be greater than or equal to 1"),
        ({"q": "norms", "k": MAX_K + 1}, 422, f"less than or equal to {MAX_K}"),
        ({"q": "norms", "k": "ten"}, 422, "k: Input should be a valid integer"),
        ({"q": "norms", "mode": "magic"}, 422, "mode: String should match pattern"),
        ({"q": "norms", "since": "2020-13-01"}, 400, "since must be an ISO date"),
        ({"q": "norms", "type": "poem"}, 400, "unknown doc_type 'poem'"),
        ({"q": "norms", "doc": "A/RES/1/1"}, 400, "no passage matches the filters"),
    ],
)
def test_bad_search_requests_get_a_clear_4xx(client, params, status, message):
    response = client.get("/api/search", params=params)
    assert response.status_code == status
    body = response.json()
    assert body["status"] == status and message in body["error"]


def test_other_api_errors(client):
    assert client.get("/api/precedents", params={"text": "x" * (MAX_TEXT_CHARS + 1)}).status_code == 422
    as_of = client.get("/api/precedents", params={"text": "ICTs", "as_of": "yesterday"})
    assert as_of.status_code == 400 and as_of.json()["error"] == "as_of must be a date YYYY-MM-DD, got 'yesterday'"
    assert client.get("/api/ask", params={"q": "  "}).json() == {"error": "the question is empty: '  '", "status": 400}
    missing = client.get("/api/documents/A/RES/1/1")
    assert missing.status_code == 404 and missing.json()["error"] == "no document 'A/RES/1/1' in this index"
    assert client.get("/api/nothing").json() == {"error": "nothing at /api/nothing", "status": 404}


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_the_app_is_read_only(client, method):
    response = client.request(method, "/api/search", params={"q": "norms"})
    assert response.status_code == 405 and "read-only" in response.json()["error"]


def test_hostile_queries_never_give_a_500(client):
    for query in ["\x00\x01", "'; DROP TABLE passages; --", "ไซเบอร์", "../../etc/passwd", "%s%n", "<script>"]:
        for path in ("/api/search", "/api/ask"):
            response = client.get(path, params={"q": query})
            assert response.status_code in (200, 400), (path, query, response.text)
        assert client.get("/", params={"q": query}).status_code in (200, 400)


# --------------------------------------------------------------------------------------------
# nothing from a request reaches the file system outside the index; headers


@pytest.mark.parametrize(
    "path",
    [
        "/static/../../../../etc/passwd",
        "/static/%2e%2e/%2e%2e/app.py",
        "/static/..%2f..%2fapp.py",
        "/doc/..%2f..%2f..%2fetc%2fpasswd",
        "/api/documents/%2e%2e%2f%2e%2e%2fpyproject.toml",
        "/api/documents//etc/passwd",
        "/doc/" + quote("/etc/passwd", safe=""),
    ],
)
def test_paths_do_not_reach_the_file_system(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "root:" not in response.text and "import " not in response.text


def test_static_files_are_served(client):
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/style.css").headers["content-type"].startswith("text/css")


def test_every_response_carries_the_security_headers(client):
    for path in ("/", "/api/info", "/static/app.js", "/api/nothing", "/doc/A/RES/73/27"):
        headers = client.get(path).headers
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY


def test_unknown_host_headers_are_refused(library):
    with TestClient(create_app(library, allowed_hosts=["127.0.0.1"], warm_up=False), base_url="http://127.0.0.1") as local:
        assert local.get("/api/info").status_code == 200
        assert local.get("/api/info", headers={"host": "attacker.example"}).status_code == 400


# --------------------------------------------------------------------------------------------
# pages: every piece of document and query text is escaped


def _no_live_markup(html: str) -> None:
    assert HOSTILE_SCRIPT not in html and "<img" not in html and 'href="javascript:' not in html
    assert 'href="http://evil.example/"' not in html
    assert len(re.findall(r"<script\b", html)) == 1  # the bundled app.js only


def test_search_page_escapes_document_and_query_text(client):
    html = client.get("/", params={"q": "ransomware <script>alert(3)</script>"}).text
    _no_live_markup(html)
    unmarked = html.replace("<mark>", "").replace("</mark>", "")
    assert "&lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;" in unmarked  # the document's text, shown as text
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in html  # the query in the form, shown as text
    assert "Hostile &lt;img src=x onerror=&#34;alert(1)&#34;&gt; statement" in html
    assert "{{ 7*7 }}" in html or "{{ 7*7 }}".replace(" ", "") in html  # not evaluated as a template
    assert "<mark>ransomware</mark>" in html


def test_document_and_precedents_pages_escape_document_text(client, library):
    doc_id = next(doc.doc_id for doc in library.documents.values() if doc.title == HOSTILE_TITLE)
    html = client.get(f"/doc/{doc_id}").text
    _no_live_markup(html)
    assert "&lt;/p&gt;&lt;a href=&#34;http://evil.example/&#34;&gt;a link&lt;/a&gt;" in html
    assert "official text" not in html  # a javascript: URL is not linked
    passage = next(p for p in library.passages if p.doc_id == doc_id)
    _no_live_markup(client.get("/precedents", params={"id": passage.passage_id}).text)
    _no_live_markup(client.get("/precedents", params={"text": HOSTILE_SCRIPT + " critical infrastructure"}).text)
    _no_live_markup(client.get("/ask", params={"q": "How to protect infrastructure from ransomware? <img src=x>"}).text)


def test_search_page_shows_cited_cards_with_links(client):
    html = client.get("/", params={"q": TERRITORY, "k": 5}).text
    assert '<cite id="citation-1">A/RES/73/27, para. 1.3 (p. 3)</cite>' in html
    assert 'data-copy="A/RES/73/27, para. 1.3 (p. 3)"' in html
    assert 'href="/doc/A/RES/73/27?hl=para-1.3#para-1.3"' in html
    assert 'href="/precedents?id=A%2FRES%2F73%2F27%23para.%201.3"' in html
    assert "<mark>territory</mark>" in html and "<mark>should</mark>" not in html  # stop words stay unmarked


def test_search_page_filters_and_bad_values(client):
    html = client.get("/", params={"q": "working group", "type": "draft resolution", "mode": "bm25"}).text
    assert "A/C.1/80/L.20" in html and '<option selected>draft resolution</option>' in html
    bad = client.get("/", params={"q": "norms", "since": "2020-02-31"})
    assert bad.status_code == 200 and "since must be an ISO date" in bad.text  # shown above the form
    too_long = client.get("/", params={"q": "x" * (MAX_QUERY_CHARS + 1)})
    assert too_long.status_code == 422 and "at most 2000 characters" in too_long.text
    assert "<html" in too_long.text  # a page, not JSON


def test_document_page_labels_every_paragraph_and_highlights_the_cited_one(client, library):
    html = client.get("/doc/A/RES/73/27", params={"hl": "para-1.3"}).text
    assert '<section class="para cited" id="para-1.3">' in html
    assert html.count(" cited") == 1
    document = library.documents["A/RES/73/27"]
    labels = [p.label for p in library.passages if p.doc_id == "A/RES/73/27"]
    assert all(f">{label}" in html for label in labels if not label.startswith("("))
    assert 'href="https://docs.un.org/en/A/RES/73/27"' in html and "p. 3" in html
    words = re.findall(r"\w+", document.text)
    shown = re.findall(r"\w+", re.sub(r"<[^>]+>", " ", html))
    assert len(words) <= len(shown)  # the whole text is there
    assert client.get("/doc/a/res/73/27").status_code == 200  # a symbol in any case
    assert client.get("/doc/A/RES/1/1").status_code == 404


def test_precedents_page_draws_the_timeline_earliest_first(client):
    html = client.get("/precedents", params={"id": "A/C.1/80/L.20#para. 2"}).text
    svg = re.search(r"<svg .*?</svg>", html, re.DOTALL).group()
    assert svg.count("<circle") == 2 and svg.index("A/C.1/80/L.20") < svg.index("A/RES/80/16")
    assert "2 occurrences, earliest first" in html
    changed = client.get("/precedents", params={
        "text": "States should not knowingly allow their territory to be used for unlawful acts using ICTs."}).text
    assert "<del>unlawful</del><ins>internationally wrongful</ins>" in changed


def test_ask_page_numbers_the_quotes_or_says_no_answer(client):
    html = client.get("/ask", params={"q": CRITICAL_INFRASTRUCTURE}).text
    assert '<a class="marker" href="#quote-1">[1]</a>' in html and 'id="quote-1"' in html
    assert "A/RES/73/27, para. 1.6 (p. 4)" in html
    assert 'href="/doc/A/RES/73/27?hl=para-1.6#para-1.6"' in html
    # Each place quoted is a paragraph of its own, as in the answer's text.
    answer = re.search(r'<section class="answer">(.*?)</section>', html, re.DOTALL).group(1)
    assert answer.count("<p>") >= 2 and answer.count("<p>") == answer.count(" reads: ")
    none = client.get("/ask", params={"q": "What is the capital gains tax rate on cryptocurrency in Singapore?"}).text
    assert "No answer: No passage in the index answers this question" in none


def test_pages_work_without_a_query(client):
    for path in ("/", "/ask", "/precedents"):
        response = client.get(path)
        assert response.status_code == 200 and "<form" in response.text


def test_search_page_links_each_also_in_occurrence_to_its_paragraph(client):
    query = "Requests the Secretary-General to provide the necessary support to operationalize the Global Mechanism"
    html = client.get("/", params={"q": query, "k": 3}).text
    assert '<cite id="citation-1">A/RES/80/16, para. 2 (pp. 1–2)</cite>' in html
    assert '<a href="/doc/A/C.1/80/L.20?hl=para-2#para-2">A/C.1/80/L.20, para. 2 (p. 1)</a> (2025-10-13)' in html


def test_search_page_counts_the_places_beyond_those_listed(client, monkeypatch):
    from aseancyberdocs import search

    monkeypatch.setattr(search, "ALSO_IN_LIMIT", 0)
    query = "Requests the Secretary-General to provide the necessary support to operationalize the Global Mechanism"
    html = client.get("/", params={"q": query, "k": 3}).text
    assert "A/C.1/80/L.20, para. 2 (p. 1)</a>" not in html
    assert "Also in:\n       1 more" in html
