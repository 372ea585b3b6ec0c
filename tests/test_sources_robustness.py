"""Broken, hostile and odd source files: one clear error naming the file, and the build goes on."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest

from aseancyberdocs import sources
from aseancyberdocs.cli import main
from aseancyberdocs.errors import DocumentParseError, EmptyDocumentError, SkippedFilesError
from aseancyberdocs.index import build_index, open_index
from aseancyberdocs.sources import find_sources, load_document

from conftest import FakeEmbedder

GOOD_TEXT = "States should not conduct ICT activity that damages critical infrastructure."


def text_pdf(text: str = GOOD_TEXT) -> bytes:
    """A one-page PDF with a real text layer, written object by object."""
    content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def encrypted_pdf(password: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf())))
    writer.encrypt(user_password=password, owner_password="owner-secret", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def rectangle_pdf() -> bytes:
    """A page with a drawn rectangle and no text at all (what a scan looks like to a text reader)."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    stream = DecodedStreamObject()
    stream.set_data(b"0 0 0 RG 100 100 200 200 re S")
    page[NameObject("/Contents")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def corrupt_xref(data: bytes) -> bytes:
    """Every offset of the cross-reference table points to the wrong byte, as after a careless edit."""
    start, end = data.index(b"xref"), data.index(b"trailer")
    table = re.sub(rb"(?m)^(\d{10}) 00000 n", lambda m: b"%010d 00000 n" % (int(m.group(1)) + 7), data[start:end])
    return data[:start] + table + data[end:].replace(b"startxref\n%d" % start, b"startxref\n%d" % (start + 3))


def _load_error(path: Path) -> DocumentParseError | EmptyDocumentError:
    with pytest.raises((DocumentParseError, EmptyDocumentError)) as caught:
        load_document(path)
    error = caught.value
    assert error.path == str(path)
    assert str(path) in str(error)
    assert "\n" not in str(error)
    return error


def test_reference_pdf_reads(tmp_path):
    path = tmp_path / "good.pdf"
    path.write_bytes(text_pdf())
    assert load_document(path).text == GOOD_TEXT


@pytest.mark.parametrize(
    ("name", "make", "error", "words"),
    [
        ("truncated.pdf", lambda: text_pdf()[: len(text_pdf()) // 3], DocumentParseError, "not a readable PDF"),
        ("locked.pdf", lambda: encrypted_pdf("secret"), DocumentParseError, "password"),
        ("scan.pdf", rectangle_pdf, EmptyDocumentError, "no text layer"),
        ("empty.pdf", lambda: b"", EmptyDocumentError, "empty (0 bytes)"),
        ("fake.pdf", lambda: b"<html>not a pdf</html>", DocumentParseError, "no %PDF header"),
        ("empty.txt", lambda: b"", EmptyDocumentError, "empty (0 bytes)"),
        ("blank.txt", lambda: b"  \n\n\t\n", EmptyDocumentError, "empty"),
        ("binary.txt", lambda: bytes(range(256)) * 20, DocumentParseError, "binary data"),
        ("latin1.txt", lambda: "Résolution sur la cybersécurité.\n".encode("latin-1"), DocumentParseError,
         "not valid UTF-8 (byte 0xe9"),
        ("broken.txt", lambda: b"valid start \xff\xfe then junk\n", DocumentParseError, "not valid UTF-8 (byte 0xff"),
        ("yaml.md", lambda: b'---\ntitle: "unterminated\ndate: [2021\n---\n\nBody text.\n', DocumentParseError,
         "invalid YAML front matter"),
        ("list.md", lambda: b"---\n- a\n- b\n---\n\nBody text.\n", DocumentParseError, "not a mapping"),
        ("nobody.md", lambda: b"---\ntitle: A title\n---\n\n   \n", EmptyDocumentError, "no body text"),
    ],
)
def test_bad_file_is_one_clear_error_naming_it(tmp_path, name, make, error, words):
    path = tmp_path / name
    path.write_bytes(make())
    caught = _load_error(path)
    assert type(caught) is error
    assert words in caught.reason


def test_corrupt_xref_is_repaired_or_a_clear_error(tmp_path):
    # pypdf rebuilds a broken cross-reference table from the objects when they are intact...
    repairable = tmp_path / "xref.pdf"
    repairable.write_bytes(corrupt_xref(text_pdf()))
    assert load_document(repairable).text == GOOD_TEXT
    # ...and when the objects are damaged too, the file is refused with its name.
    hopeless = tmp_path / "xref-and-objects.pdf"
    data = corrupt_xref(text_pdf()).replace(b" obj", b" jbo").replace(b"/Root 1 0 R", b"/Root 9 0 R")
    hopeless.write_bytes(data)
    caught = _load_error(hopeless)
    assert caught.reason


def test_encrypted_pdf_with_empty_user_password_reads(tmp_path):
    path = tmp_path / "owner-only.pdf"
    path.write_bytes(encrypted_pdf(""))
    assert load_document(path).text == GOOD_TEXT


def test_file_over_the_size_limit_is_skipped_unread(tmp_path, monkeypatch):
    path = tmp_path / "huge.txt"
    path.write_text("word " * 500, encoding="utf-8")
    monkeypatch.setattr(sources, "MAX_FILE_BYTES", 1000)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("read a file over the limit"))
    caught = _load_error(path)
    assert caught.reason == "file is too large: 2.4 KiB, over the 1000 bytes limit"


def test_file_deleted_after_it_was_found(tmp_path):
    path = tmp_path / "gone.txt"
    path.write_text(GOOD_TEXT, encoding="utf-8")
    assert find_sources([tmp_path]) == [path]
    path.unlink()
    assert "file not found" in _load_error(path).reason


def test_symbolic_link_loops_neither_hang_nor_crash(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text(GOOD_TEXT, encoding="utf-8")
    os.symlink("..", tmp_path / "docs" / "up")  # a folder loop
    os.symlink(tmp_path / "docs" / "self.txt", tmp_path / "docs" / "self.txt")  # a file link to itself
    found = find_sources([tmp_path])
    assert tmp_path / "docs" / "a.txt" in found
    assert len(found) == len(set(path.resolve() for path in found if not path.is_symlink())) + 1
    assert "cannot read the file" in _load_error(tmp_path / "docs" / "self.txt").reason


# --------------------------------------------------------------------------------------------
# A whole build over a folder of broken files


def _broken_folder(folder: Path) -> dict[str, str]:
    """Write one good file and many broken ones; returns file name -> words of its skip reason."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "good.txt").write_text(GOOD_TEXT + "\n\nStates should cooperate to stop crime.\n", encoding="utf-8")
    (folder / "good-report.pdf").write_bytes(text_pdf("Capacity-building for developing countries."))
    broken = {
        "truncated.pdf": (text_pdf()[:200], "not a readable PDF"),
        "locked.pdf": (encrypted_pdf("secret"), "password"),
        "scan.pdf": (rectangle_pdf(), "no text layer"),
        "zero.txt": (b"", "empty"),
        "binary.txt": (bytes(range(256)) * 4, "binary data"),
        "latin1.txt": ("Sécurité".encode("latin-1"), "not valid UTF-8"),
        "yaml.md": (b"---\ntitle: [unclosed\n---\n\nBody.\n", "invalid YAML front matter"),
    }
    for name, (data, _) in broken.items():
        (folder / name).write_bytes(data)
    return {name: words for name, (_, words) in broken.items()}


def test_build_skips_each_broken_file_with_its_reason(tmp_path):
    expected = _broken_folder(tmp_path / "src")
    report = build_index([tmp_path / "src"], tmp_path / "index", embedder=FakeEmbedder())
    assert report.documents == 2
    reasons = {Path(item.path).name: item.reason for item in report.skipped}
    assert set(reasons) == set(expected)
    for name, words in expected.items():
        assert words in reasons[name], (name, reasons[name])
    assert open_index(tmp_path / "index").manifest["counts"]["skipped"] == len(expected)


def test_a_reader_bug_skips_the_file_and_the_build_goes_on(tmp_path, monkeypatch):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text(GOOD_TEXT, encoding="utf-8")
    (tmp_path / "src" / "b.txt").write_text("Another paragraph on ransomware.", encoding="utf-8")
    real = sources.load_document

    def flaky(path, catalog=None):
        if Path(path).name == "b.txt":
            raise ZeroDivisionError("division by zero")
        return real(path, catalog=catalog)

    monkeypatch.setattr(sources, "load_document", flaky)
    report = build_index([tmp_path / "src"], tmp_path / "index", embedder=FakeEmbedder())
    assert report.documents == 1
    assert report.skipped[0].reason == "unexpected error (ZeroDivisionError: division by zero)"


def test_strict_build_fails_and_keeps_the_previous_index(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text(GOOD_TEXT, encoding="utf-8")
    build_index([tmp_path / "src"], tmp_path / "index", embedder=FakeEmbedder())
    before = {path.name: path.read_bytes() for path in (tmp_path / "index").iterdir()}
    (tmp_path / "src" / "b.txt").write_text("A new paragraph on ransomware.", encoding="utf-8")
    (tmp_path / "src" / "zero.txt").write_bytes(b"")
    with pytest.raises(SkippedFilesError) as caught:
        build_index([tmp_path / "src"], tmp_path / "index", embedder=FakeEmbedder(), strict=True)
    assert "strict build: 1 of 3 files skipped, index not written" in str(caught.value)
    assert "zero.txt: file is empty (0 bytes)" in str(caught.value)
    assert {path.name: path.read_bytes() for path in (tmp_path / "index").iterdir()} == before


def test_cli_build_summary_and_strict_exit(tmp_path, fake_models, capsys):
    expected = _broken_folder(tmp_path / "src")
    assert main(["build", str(tmp_path / "src"), "--index", str(tmp_path / "index")]) == 0
    out = capsys.readouterr().out
    assert f"skipped {len(expected)} files:" in out
    for name, words in expected.items():
        line = next(line for line in out.splitlines() if line.strip().startswith(str(tmp_path / "src" / name)))
        assert words in line
    manifest = (tmp_path / "index" / "manifest.json").read_bytes()

    assert main(["build", str(tmp_path / "src"), "--index", str(tmp_path / "index"), "--strict"]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith("error: strict build: 7 of 9 files skipped, index not written")
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert (tmp_path / "index" / "manifest.json").read_bytes() == manifest
