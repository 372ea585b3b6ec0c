"""Paragraph anchors, marked query words and the timeline SVG, on hand-made documents."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from conftest import make_document

from aseancyberdocs.types import Citation, DiffOp, Passage, Precedent
from aseancyberdocs.web.render import anchor, diff_markup, document_blocks, mark, query_terms, timeline_svg


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("para. 1.3", "para-1.3"),
        ("para. 1 (f)", "para-1-f"),
        ("preamble, para. 3", "preamble-para-3"),
        ("annex, art. 15, para. 1", "annex-art-15-para-1"),
        ("", "para"),
        ('<script>"x"</script>', "script-x-script"),
    ],
)
def test_anchor(label, expected):
    assert anchor(label) == expected


def test_document_blocks_cover_the_whole_text_with_unique_anchors():
    document, passages = make_document("A/RES/1/1", ["First.", "Second.", "Third."])
    heading = "RESOLUTION\n\n"
    text = heading + document.text + "\n\nAnnex follows"
    shifted = [
        Passage(**{**p.to_dict(), "start": p.start + len(heading), "end": p.end + len(heading), "label": "para. 1",
                   "part": i + 1, "parts": 3, "pages": tuple(p.pages), "page_labels": tuple(p.page_labels)})
        for i, p in enumerate(passages)
    ]
    document = type(document)(**{**{f: getattr(document, f) for f in document.__dataclass_fields__}, "text": text})
    blocks = document_blocks(document, shifted)
    assert [block.anchor for block in blocks] == [None, "para-1", "para-1-part-2", "para-1-part-3", None]
    assert [block.text for block in blocks] == ["RESOLUTION", "First.", "Second.", "Third.", "Annex follows"]
    assert all(text[p.start : p.end] == block.text for p, block in zip(shifted, blocks[1:4]))


def test_mark_escapes_and_marks_whole_words_only():
    marked = str(mark('States <b>protect</b> "protection" & protect.', query_terms("protect the b")))
    assert marked == 'States &lt;b&gt;<mark>protect</mark>&lt;/b&gt; &#34;protection&#34; &amp; <mark>protect</mark>.'
    assert query_terms("Should the States NOT protect it?") == {"states", "protect"}


def _precedent(date, label, first=False, shared=1.0, diff=()):
    citation = Citation("D", "D", "<Title>", date, label, (1, 1), ("1", "1"), f"D <{label}>")
    passage = Passage("D#" + label, "D", label, "operative", "text", 0, 4, (1, 1), ("1", "1"))
    return Precedent(passage, citation, "d.txt", shared, first, tuple(diff))


def test_timeline_places_dated_occurrences_by_date_and_escapes_labels():
    items = [_precedent("2018-12-05", "a", first=True), _precedent("2020-06-30", "b", shared=0.7),
             _precedent(None, "c")]
    svg = str(timeline_svg(items))
    root = ET.fromstring(svg)  # well-formed XML, so nothing broke out of its element
    circles = root.findall("{http://www.w3.org/2000/svg}g/{http://www.w3.org/2000/svg}circle")
    assert len(circles) == 2  # the undated occurrence has no dot
    x = [float(circle.get("cx")) for circle in circles]
    assert x[0] < x[1]
    assert float(circles[0].get("r")) > float(circles[1].get("r"))  # more shared words, larger dot
    assert "&lt;a&gt;" in svg and "<a>" not in svg
    assert re.findall(r'class="(occurrence[^"]*)"', svg) == ["occurrence first", "occurrence", "occurrence"]
    assert "undated" in svg


def test_diff_markup():
    item = _precedent("2019-01-01", "a", diff=[DiffOp("replace", "<should>", "must"), DiffOp("insert", "", "fully")])
    assert str(diff_markup(item)) == '<del>&lt;should&gt;</del><ins>must</ins> <span class="gap">…</span> <ins>fully</ins>'
    assert "same words" in str(diff_markup(_precedent("2019-01-01", "a")))
