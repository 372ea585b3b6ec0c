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
    assert report.complete and len(report.ok) == len(Catalog.load())


def test_cli_fetch_and_verify(tmp_path, server, monkeypatch, capsys):
    catalog = Catalog([_entry("un/good.pdf", f"{server}/good.pdf"), _entry("un/tampered.pdf", f"{server}/tampered.pdf", b"pinned")])
    monkeypatch.setattr(Catalog, "load", classmethod(lambda cls, path=None: catalog))
    dest = tmp_path / "corpus"
    assert main(["corpus", "fetch", "--dest", str(dest)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "1 fetched, 0 already present, 1 failed"
    assert any(line.startswith("failed   un/tampered.pdf: ") and "sha256 mismatch" in line for line in out)
    assert main(["corpus", "fetch", "--dest", str(dest), "--only", "good", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "present"
    assert main(["corpus", "verify", str(dest)]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == f"1 ok, 1 missing, 0 changed, 0 extra, 0 unpinned in {dest}"
    assert main(["corpus", "fetch", "--dest", str(dest), "--only", "nope"]) == 2
    assert capsys.readouterr().err.startswith("error: not in the catalog: 'nope'")
    assert main(["corpus", "verify", str(tmp_path / "absent")]) == 1
    assert capsys.readouterr().err == f"error: no such folder: {tmp_path / 'absent'}\n"
