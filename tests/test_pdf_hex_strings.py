"""PDF reading: hex strings read in one slice give what pypdf's own reader gives."""

from __future__ import annotations

import io

import pytest

from aseancyberdocs.sources import pdf


@pytest.fixture
def readers():
    from pypdf.generic import _data_structures, _utils

    assert pdf._read_hex_strings_whole()
    return _utils.read_hex_string_from_stream, _data_structures.read_hex_string_from_stream


@pytest.mark.parametrize(
    "raw",
    [
        b"<48656C6C6F> Tj",
        b"<48 65\n6C\r6C\t6F\x00> Tj",
        b"<486> Tj",  # an odd digit is padded with 0
        b"<> Tj",
        b"<FEFF004100E9> Tj",  # UTF-16 with its byte order mark
        b"<" + b"0041" * 400 + b">",  # longer than one slice
        b"<" + b"00" * 255 + b"41>",  # ">" just past the first slice
    ],
)
def test_a_hex_string_reads_as_pypdf_reads_it_and_leaves_the_stream_after_it(readers, raw):
    original, whole = readers
    assert whole is not original
    expected_stream, stream = io.BytesIO(raw), io.BytesIO(raw)
    expected = original(expected_stream)
    got = whole(stream)
    assert type(got) is type(expected) and got == expected
    assert stream.tell() == expected_stream.tell()
    for encoding in ("utf-16-be", "latin-1"):
        assert _outcome(whole, raw, encoding) == _outcome(original, raw, encoding)


def _outcome(reader, raw, encoding):
    try:
        got = reader(io.BytesIO(raw), encoding)
    except Exception as exc:  # the same failure counts as the same outcome
        return type(exc), str(exc)
    return type(got), got


@pytest.mark.parametrize("raw", [b"<48ZZ65>", b"<4865", b"<"])
def test_a_malformed_hex_string_fails_as_pypdf_fails(readers, raw):
    from pypdf.errors import PdfStreamError

    original, whole = readers
    with pytest.raises(PdfStreamError) as expected:
        original(io.BytesIO(raw))
    with pytest.raises(PdfStreamError) as got:
        whole(io.BytesIO(raw))
    assert str(got.value) == str(expected.value)


def test_corpus_pdfs_read_the_same_text_as_with_pypdf_alone(readers, corpus_dir, monkeypatch):
    from pypdf.generic import _data_structures

    original, _ = readers
    paths = [corpus_dir / "un/pdf/A_RES_80_16.pdf", *sorted((corpus_dir / "un/pdf").glob("A_RES_7*.pdf"))[:3]]
    read = [pdf.read_pdf_pages(path) for path in paths]
    monkeypatch.setattr(_data_structures, "read_hex_string_from_stream", original)
    monkeypatch.setattr(pdf, "_read_hex_strings_whole", lambda: False)
    assert [pdf.read_pdf_pages(path) for path in paths] == read
