"""corpus fetch / verify against a real HTTP server on 127.0.0.1: good, slow, oversized, wrong and forged files."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import time
from pathlib import Path

import pytest

from aseancyberdocs import fetch
from aseancyberdocs.catalog import Catalog, CatalogEntry
from aseancyberdocs.cli import main
from aseancyberdocs.fetch import FetchError, fetch_corpus, target_path, verify_corpus

PDF = b"%PDF-1.4\n% a small document\n" + b"0" * 2000 + b"\n%%EOF\n"
PAGE = b"<!doctype html><html><head><title>Joint Statement</title></head><body><p>We affirm.</p></body></html>"

ROUTES: dict[str, tuple[int, str, bytes, float]] = {
    # path: (status, content type, body, seconds to wait between chunks)
    "/good.pdf": (200, "application/pdf", PDF, 0),
    "/statement": (200, "text/html; charset=utf-8", PAGE, 0),
    "/slow.pdf": (200, "application/pdf", PDF + b"0" * 4000, 0.2),
    "/big.pdf": (200, "application/pdf", PDF + b"0" * 50_000, 0),
    "/html-instead.pdf": (200, "text/html", PAGE, 0),
    "/pdf-labelled-html": (200, "text/html", PDF, 0),
    "/tampered.pdf": (200, "application/pdf", PDF.replace(b"small", b"false"), 0),
    "/image": (200, "image/png", b"\x89PNG\r\n\x1a\n", 0),
}
# Filled by the fixtures below: a SYNTHETIC report-shaped PDF (tests/synthetic_documents.py).
REPORT_ROUTE = "/en/A/70/174"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        status, content_type, body, pause = ROUTES.get(self.path, (404, "text/plain", b"not found", 0))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if self.path != "/big.pdf":  # the oversized one does not announce its size
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for start in range(0, len(body), 1024):
                self.wfile.write(body[start : start + 1024])
                self.wfile.flush()
                time.sleep(pause)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _entry(path: str, url: str, data: bytes = PDF, doc_id: str | None = None) -> CatalogEntry:
    return CatalogEntry(
        path=path,
        doc_id=doc_id or Path(path).stem,
        symbol=None,
        title=f"Title of {path}",
        date=None,
        doc_type="resolution",
        body=None,
        source_url=url,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _one(tmp_path: Path, entry: CatalogEntry, **options):
    [result] = fetch_corpus(tmp_path / "corpus", catalog=Catalog([entry]), **options)
    return result


def _no_partial_files(folder: Path) -> bool:
    return not any(path.name.endswith(".part") for path in folder.rglob("*")) if folder.exists() else True


def test_good_pdf_is_fetched_checked_and_written(tmp_path, server):
    result = _one(tmp_path, _entry("un/pdf/A_RES_1.pdf", f"{server}/good.pdf"))
    assert (result.status, result.message) == ("fetched", "")
    assert (tmp_path / "corpus" / "un" / "pdf" / "A_RES_1.pdf").read_bytes() == PDF
    assert result.sha256 == hashlib.sha256(PDF).hexdigest()
    # A second run finds it there and downloads nothing.
    assert _one(tmp_path, _entry("un/pdf/A_RES_1.pdf", f"{server}/good.pdf")).status == "present"


def test_statement_page_is_saved_as_html_beside_the_markdown_name(tmp_path, server):
    entry = _entry("statements/2023-joint.md", f"{server}/statement", data=b"the markdown file")
    result = _one(tmp_path, entry)
    assert result.status == "fetched" and result.path == "statements/2023-joint.html"
    assert "not pinned" in result.message
    assert (tmp_path / "corpus" / "statements" / "2023-joint.html").read_bytes() == PAGE
    report = verify_corpus(tmp_path / "corpus", catalog=Catalog([entry]))
    assert report.unpinned == ("statements/2023-joint.html",) and report.missing == () and report.extra == ()


@pytest.mark.parametrize(
    ("path", "route", "options", "words"),
    [
        ("slow.pdf", "/slow.pdf", {"total_timeout": 0.6}, "timed out: not complete after 0.6 s"),
        ("big.pdf", "/big.pdf", {"max_bytes": 10_000}, "too large: over the limit of 10000 bytes"),
        ("announced.pdf", "/good.pdf", {"max_bytes": 100}, f"too large: {len(PDF)} bytes announced, the limit is 100"),
        ("wrong.pdf", "/html-instead.pdf", {}, "not a PDF (content type text/html, no %PDF header)"),
        ("labelled.pdf", "/pdf-labelled-html", {}, "unexpected content type text/html for a PDF"),
        ("tampered.pdf", "/tampered.pdf", {}, "sha256 mismatch: got "),
        ("missing.pdf", "/nowhere.pdf", {}, "HTTP 404"),
    ],
)
def test_bad_download_fails_with_a_reason_and_writes_nothing(tmp_path, server, path, route, options, words):
    result = _one(tmp_path, _entry(f"un/pdf/{path}", f"{server}{route}"), **options)
    assert result.status == "failed"
    assert words in result.message and result.message.startswith(f"{server}{route}: ")
    assert not (tmp_path / "corpus" / "un" / "pdf" / path).exists()
    assert _no_partial_files(tmp_path / "corpus")


def test_a_page_that_is_not_html(tmp_path, server):
    result = _one(tmp_path, _entry("statements/x.md", f"{server}/image", data=b"md"))
    assert result.status == "failed" and "unexpected content type image/png, expected a web page" in result.message


def test_a_server_that_does_not_answer_times_out(tmp_path):
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/x.pdf"
        started = time.monotonic()
        result = _one(tmp_path, _entry("un/pdf/x.pdf", url), timeout=0.5)
        assert time.monotonic() - started < 5
    finally:
        listener.close()
    assert result.status == "failed" and "timed out" in result.message


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x.pdf"])
def test_only_http_urls_are_fetched(tmp_path, url):
    result = _one(tmp_path, _entry("un/pdf/x.pdf", url))
    assert result.status == "failed" and "only http and https URLs are fetched" in result.message


@pytest.mark.parametrize("path", ["../outside.pdf", "/etc/evil.pdf", "un/../../outside.pdf", "un\\..\\x.pdf", "C:/x.pdf"])
def test_unsafe_catalog_paths_are_refused(tmp_path, server, path):
    result = _one(tmp_path, _entry(path, f"{server}/good.pdf"))
    assert result.status == "failed" and "unsafe path" in result.message
    assert not (tmp_path / "outside.pdf").exists() and not Path("/etc/evil.pdf").exists()


def test_a_symbolic_link_out_of_dest_is_refused(tmp_path, server):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "corpus" / "un").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(FetchError, match="leads outside"):
        target_path(tmp_path / "corpus", "un/x.pdf")
    result = _one(tmp_path, _entry("un/x.pdf", f"{server}/good.pdf"))
    assert result.status == "failed" and list((tmp_path / "elsewhere").iterdir()) == []


def test_only_selects_by_doc_id_or_path_and_refuses_unknown_ids(tmp_path, server):
    catalog = Catalog([_entry("a.pdf", f"{server}/good.pdf", doc_id="A/1"), _entry("b.pdf", f"{server}/good.pdf", b"b", doc_id="B/1")])
    assert [r.doc_id for r in fetch_corpus(tmp_path, only=["B/1"], catalog=catalog)] == ["B/1"]
    assert [r.doc_id for r in fetch_corpus(tmp_path, only=["a.pdf"], catalog=catalog)] == ["A/1"]
    with pytest.raises(ValueError, match="not in the catalog: 'C/1'"):
        fetch_corpus(tmp_path, only=["C/1"], catalog=catalog)


def test_an_interrupted_write_leaves_no_file(tmp_path, server, monkeypatch):
    def crash(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fetch.os, "replace", crash)
    result = _one(tmp_path, _entry("un/pdf/x.pdf", f"{server}/good.pdf"))
    assert result.status == "failed" and "No space left on device" in result.message
    assert list((tmp_path / "corpus" / "un" / "pdf").iterdir()) == []


def test_verify_reports_missing_changed_and_extra(tmp_path):
    folder = tmp_path / "corpus"
    (folder / "un").mkdir(parents=True)
    (folder / "un" / "ok.pdf").write_bytes(PDF)
    (folder / "un" / "changed.pdf").write_bytes(PDF + b"edited")
    (folder / "un" / "extra.txt").write_text("not catalogued", encoding="utf-8")
    (folder / ".hidden.pdf").write_bytes(PDF)
    catalog = Catalog([_entry("un/ok.pdf", ""), _entry("un/changed.pdf", "", b"original"), _entry("un/gone.pdf", "", b"gone")])
    report = verify_corpus(folder, catalog=catalog)
    assert (report.ok, report.missing, report.changed, report.extra) == (
        ("un/ok.pdf",), ("un/gone.pdf",), ("un/changed.pdf",), ("un/extra.txt",),
    )
    assert not report.complete


def test_verify_of_the_reference_corpus(corpus_dir):
    report = verify_corpus(corpus_dir)
    catalog = Catalog.load()
    assert report.complete and len(report.ok) == sum(entry.bundled for entry in catalog) == 293
    assert report.extra == ()  # corpus/README.md describes the folder: not an uncatalogued document
    # The reports the corpus does not bundle are listed as not fetched, not as missing.
    assert set(report.not_fetched) == {entry.path for entry in catalog if not entry.bundled}


def test_cli_fetch_and_verify(tmp_path, server, monkeypatch, capsys):
    catalog = Catalog([_entry("un/good.pdf", f"{server}/good.pdf"), _entry("un/tampered.pdf", f"{server}/tampered.pdf", b"pinned")])
    monkeypatch.setattr(Catalog, "load", classmethod(lambda cls, path=None: catalog))
    dest = tmp_path / "corpus"
    assert main(["corpus", "fetch", "--dest", str(dest)]) == 1
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert out[-1] == "1 fetched, 0 already present, 1 failed"
    assert captured.err == "error: 1 of 2 documents not fetched: tampered\n"
    assert any(line.startswith("failed   un/tampered.pdf: ") and "sha256 mismatch" in line for line in out)
    assert main(["corpus", "fetch", "--dest", str(dest), "--only", "good", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "present"
    assert main(["corpus", "verify", str(dest)]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == f"1 ok, 1 missing, 0 changed, 0 extra, 0 unpinned in {dest}"
    assert main(["corpus", "fetch", "--dest", str(dest), "--only", "nope"]) == 2
    assert capsys.readouterr().err.startswith("error: not in the catalog: 'nope'")
    assert main(["corpus", "verify", str(tmp_path / "absent")]) == 1
    assert capsys.readouterr().err == f"error: no such folder: {tmp_path / 'absent'}\n"


# --- Saved as what was served; documents not bundled; failures listed ------------------------


def _unbundled(path: str, url: str | None, doc_id: str, symbol: str | None = None) -> CatalogEntry:
    return CatalogEntry(path=path, doc_id=doc_id, symbol=symbol, title=f"Title of {doc_id}", date=None,
                        doc_type="report", body=None, source_url=url, sha256=None)


def test_a_text_extract_is_saved_as_the_pdf_it_was_made_from_under_un_pdf(tmp_path, server):
    entry = _entry("un/text/A_RES_1.txt", f"{server}/good.pdf", data=b"the text extract")
    result = _one(tmp_path, entry)
    assert (result.status, result.path) == ("fetched", "un/pdf/A_RES_1.pdf")
    assert "not pinned" in result.message
    assert (tmp_path / "corpus" / "un" / "pdf" / "A_RES_1.pdf").read_bytes() == PDF
    assert not (tmp_path / "corpus" / "un" / "text").exists()
    report = verify_corpus(tmp_path / "corpus", catalog=Catalog([entry]))
    assert (report.unpinned, report.missing, report.extra) == (("un/pdf/A_RES_1.pdf",), (), ())
    assert _one(tmp_path, entry).status == "present"


def test_a_statement_served_as_a_pdf_is_saved_as_one(tmp_path, server):
    result = _one(tmp_path, _entry("statements/2018-summit.md", f"{server}/good.pdf", data=b"md"))
    assert (result.status, result.path) == ("fetched", "statements/2018-summit.pdf")
    assert (tmp_path / "corpus" / "statements" / "2018-summit.pdf").read_bytes() == PDF


def test_a_document_not_bundled_is_fetched_unpinned_to_its_catalog_path(tmp_path, server):
    entry = _unbundled("un/pdf/A_70_1.pdf", f"{server}/good.pdf", "A/70/1", "A/70/1")
    catalog = Catalog([entry])
    before = verify_corpus(tmp_path, catalog=catalog)
    assert before.complete and before.not_fetched == ("un/pdf/A_70_1.pdf",) and before.missing == ()
    [result] = fetch_corpus(tmp_path, catalog=catalog)
    assert (result.status, result.path, result.sha256) == ("fetched", "un/pdf/A_70_1.pdf", hashlib.sha256(PDF).hexdigest())
    assert "not bundled" in result.message and "not pinned" in result.message
    after = verify_corpus(tmp_path, catalog=catalog)
    assert after.complete and after.unpinned == ("un/pdf/A_70_1.pdf",) and after.not_fetched == ()


def test_a_document_without_url_is_skipped_in_a_full_fetch_and_fails_when_named(tmp_path, capsys, monkeypatch):
    catalog = Catalog([_unbundled("statements/2018-asean.pdf", None, "2018-asean")])
    [skipped] = fetch_corpus(tmp_path, catalog=catalog)
    assert skipped.status == "skipped" and "no official URL" in skipped.message
    [failed] = fetch_corpus(tmp_path, catalog=catalog, only=["2018-asean"])
    assert failed.status == "failed" and "save the document as statements/2018-asean.pdf yourself" in failed.message
    monkeypatch.setattr(Catalog, "load", classmethod(lambda cls, path=None: catalog))
    assert main(["corpus", "fetch", "--dest", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "0 fetched, 0 already present, 0 failed, 1 skipped (no official URL in the catalog)"
    assert main(["corpus", "fetch", "--dest", str(tmp_path), "--only", "2018-asean"]) == 1
    assert capsys.readouterr().err == "error: 1 of 1 documents not fetched: 2018-asean\n"


def test_the_command_exits_non_zero_and_lists_every_failed_document(tmp_path, server):
    # A real process, as a user or a script runs it: the exit status, not main()'s return value.
    import csv
    import os
    import subprocess
    import sys

    from aseancyberdocs.catalog import COLUMNS

    rows = [
        ("un/pdf/A_RES_1.pdf", "A/RES/1", f"{server}/good.pdf", hashlib.sha256(PDF).hexdigest()),
        ("un/pdf/A_RES_2.pdf", "A/RES/2", f"{server}/nowhere.pdf", "c" * 64),
        ("un/text/A_RES_3.txt", "A/RES/3", f"{server}/html-instead.pdf", "d" * 64),
    ]
    catalog_file = tmp_path / "catalog.csv"
    with catalog_file.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for path, doc_id, url, digest in rows:
            writer.writerow([path, doc_id, doc_id, "A title", "2020-01-01", "resolution", "UN General Assembly", url, digest])
    src = Path(__file__).resolve().parents[1] / "src"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "aseancyberdocs", "corpus", "fetch", "--dest", str(tmp_path / "corpus"), "--catalog", str(catalog_file)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1, done
    assert done.stdout.splitlines()[-1] == "1 fetched, 0 already present, 2 failed"
    assert done.stderr.splitlines()[-1] == "error: 2 of 3 documents not fetched: A/RES/2, A/RES/3"
    assert "failed   un/pdf/A_RES_2.pdf: " in done.stdout and "HTTP 404" in done.stdout
    # The text extract would have been saved as a PDF under un/pdf/, never as un/text/A_RES_3.pdf.
    assert "failed   un/pdf/A_RES_3.pdf: " in done.stdout and "not a PDF" in done.stdout
    again = subprocess.run(command[:-2] + ["--catalog", str(catalog_file), "--only", "A/RES/1"], capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 0 and again.stderr == ""


@pytest.fixture(scope="module")
def report_server(tmp_path_factory):
    """A local server whose /en/A/70/174 serves the SYNTHETIC report-shaped PDF."""
    from synthetic_documents import write_report_pdf

    data = write_report_pdf(tmp_path_factory.mktemp("served") / "A_70_174.pdf").read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            found = self.path == REPORT_ROUTE
            body = data if found else b"not found"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/pdf" if found else "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", data
    httpd.shutdown()
    httpd.server_close()


def test_fetch_only_a_report_then_build_indexes_and_cites_it(tmp_path, report_server, monkeypatch, capsys):
    # The shipped catalog's A/70/174 row, with its official URL (https://docs.un.org/en/A/70/174)
    # pointed at the local server: the one change that keeps the test off the network.
    import dataclasses

    import aseancyberdocs as acd

    url, data = report_server
    shipped = Catalog.load()
    entry = shipped.get("A/70/174")
    assert entry is not None and not entry.bundled and entry.source_url == "https://docs.un.org/en/A/70/174"
    local = Catalog([dataclasses.replace(e, source_url=url + REPORT_ROUTE) if e.doc_id == "A/70/174" else e for e in shipped])
    monkeypatch.setattr(Catalog, "load", classmethod(lambda cls, path=None: local))
    dest = tmp_path / "corpus"
    assert main(["corpus", "fetch", "--dest", str(dest), "--only", "A/70/174"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("fetched  un/pdf/A_70_174.pdf: not bundled") and out[-1] == "1 fetched, 0 already present, 0 failed"
    assert (dest / "un" / "pdf" / "A_70_174.pdf").read_bytes() == data

    # build: the real model, real FAISS and BM25 over the one fetched file.
    report = acd.build_index([dest], tmp_path / "index")
    assert report.documents == 1 and not report.skipped
    library = acd.open_index(tmp_path / "index")
    [document] = library.documents.values()
    assert (document.doc_id, document.doc_type, document.date) == ("A/70/174", "report", "2015-07-22")
    assert document.title == entry.title  # found in the catalog by its file name
    [hit] = library.search("placeholder recommendation number 1 of this fixture", k=1, mode="bm25")
    assert str(hit.citation) == "A/70/174, para. 13 (a) (p. 7)"
