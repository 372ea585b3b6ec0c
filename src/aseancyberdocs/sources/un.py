"""The layout of UN General Assembly documents: running heads, front page, paragraphs.

Shared by the PDF reader and the reader of plain-text layers. Input is a list of pages, each a
list of raw lines; output is a list of ``Block``s (front matter, lead-ins, headings, paragraphs,
the closing "plenary meeting" line) and the metadata printed on the front page.

What a UN document looks like, and what this module relies on:
- pages after the first open with a running head: the symbol, the (short) title, the job number
  ("25-19974") and a page counter ("2/46"), in varying order;
- page 1 carries a job number with "(E)", a barcode (``*2519974*``), the adoption or draft date,
  the committee and the title ("80/16. Open-ended working group ...");
- footnotes sit at the foot of a page below a rule of underscores;
- a paragraph begins with its number ("3.", "1.3."), its letter ("(a)", "(ii)"), or, for
  preambular paragraphs, on a new line after the previous paragraph has ended with , ; : or .

Reports (the GGE and OEWG reports: "A/70/174") have no "The General Assembly," lead-in and no
preamble: after the front page come a note transmitting the report, perhaps a table of contents,
then section headings ("I. Introduction", "A. ...") over paragraphs numbered 1, 2, 3 ... across
the whole report, with lettered sub-paragraphs. ``segment_report`` reads that layout.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .blocks import Block, Line, normalize_spaces

# No word boundary at the end: running heads glue repeated symbols ("A/RES/78/18A/RES/78/18").
SYMBOL = re.compile(r"(?<![A-Za-z])A/(?:RES/)?(?:C\.\d/)?\d{1,3}/(?:L\.)?\d+(?:/Rev\.\d+)?(?:/Add\.\d+)?(?!\d)")
_JOB = r"\d{2}-\d{5}(?:\s*\(E\))?(?:\s+\d{6})?"
_COUNTER = r"(\d{1,3})\s*/\s*(\d{1,3})"
_HEADER_TOKENS = re.compile(rf"{SYMBOL.pattern}|{_JOB}|(?<![\d/]){_COUNTER}(?![\d/])|\*\d{{7,8}}\*")
_JOB_OR_BARCODE = re.compile(rf"{_JOB}|\*\d{{7,8}}\*")
_COUNTER_RE = re.compile(rf"(?<![\d/]){_COUNTER}(?![\d/])")
_RULE = re.compile(r"^\s*_{5,}\s*$")

LEAD = re.compile(
    r"^\s*(The General Assembly|The States Parties to (?:the present|this) Convention|Have agreed as follows)\b"
)
CLOSING = re.compile(r"^\s*\d+(?:st|nd|rd|th)\s+(?:\(resumed\)\s+)?plenary meeting\s*$", re.I)
HEADING_START = re.compile(
    r"^\s*(?:Annex(?:\s+[IVX]+)?|Chapter\s+[IVXLC]+|Article\s+\d+\.?|Preamble|Appendix(?:\s+[IVX]+)?)\s*$"
)
SECTION = re.compile(r"^\s*(?:[IVX]{1,5}|[A-H])\.\s+[A-Z]")
NUMBERED = re.compile(r"^\s*(\d{1,3})\.(?:(\d{1,2})\.)?(?:\s+|$)")
LETTERED = re.compile(r"^\s*\(([a-z]{1,2}|[ivxl]{1,6})\)(?:\s|$)")
ACTION = re.compile(r"^\s*Action\s+(\d{1,3})\.\s")
# The numbered headings of an outcome document's chapters ("Objective 1. Close all digital
# divides ...", the Global Digital Compact's five objectives): a title over the paragraphs
# that follow, not a paragraph of its own.
OBJECTIVE = re.compile(r"^\s*(?:Objective|Goal|Pillar)\s+\d{1,2}\.\s+[A-Z]")
# A paragraph ends with , ; : . ! or ?, perhaps followed by a closing quote and a footnote mark.
_ENDS_PARAGRAPH = re.compile(r"[,;:.!?][\"”’)]*(?:\s?\d{1,3})?\s*$")
# Items of a list may end "...; and" or "...; or" before the next item.
_ENDS_ITEM = re.compile(r"(?:[,;:.!?]|;\s+and|;\s+or|,\s+and|,\s+or)[\"”’)]*(?:\s?\d{1,3})?\s*$")
_ISOLATED_HEADING = re.compile(r"^\s*[A-Z“\"][^\n]{0,148}[^,;:.!?\s]\s*$")

_DATE = re.compile(r"\b(\d{1,2})\s+(January|February|March|April|May|June|July|August|September|October|November|December)\s+(\d{4})\b")
_ADOPTED = re.compile(r"Resolution adopted by the General Assembly\s+on\s+" + _DATE.pattern)
_COMMITTEE = re.compile(r"\[on the report of the (First|Second|Third|Fourth|Fifth|Sixth) Committee")
_PLENARY = re.compile(r"\[without reference to a Main Committee")
_TITLE_NUMBER = re.compile(r"^\s*(\d{2,3}/\d{1,3})\.\s+(\S.*)$")
_DRAFT = re.compile(r"draft (resolution|decision)\s*$", re.I)
_DISTR_DATE = re.compile(r"Distr\.:\s*\w+\s+" + _DATE.pattern)
# A document of a session, neither a resolution nor a committee's draft: "A/70/174", "A/75/816".
REPORT_SYMBOL = re.compile(r"A/\d{2,3}/\d+(?:/Rev\.\d+)?(?:/Add\.\d+)?")

# Headings that open the parts of a report before its numbered paragraphs, or its annexes.
REPORT_HEADING = re.compile(
    r"^\s*(?:Note by the Secretary-General|Report of the\b.*|Letter of transmittal|Letter dated\b.*|"
    r"Summary|Contents|Foreword\b.*|Chair[’']s summary\b.*|(?:Final|Annual) (?:substantive|progress) report\b.*)\s*$",
    re.I,
)
# A line of a table of contents: dot leaders and a page number ("I. Introduction . . . . 3"), or "Page".
TOC_LINE = re.compile(r"(?:(?:\s\.){2,}|\.{3,}|\u2026+)\s*\d{1,3}\s*$|^\s*Page\s*$")
# A heading continues on the next line when its line stops on a word that cannot end one.
_OPEN_HEADING_END = re.compile(r"(?:\b(?:of|the|and|for|on|in|to|a|an|by|with|at|from)|[,\-–])\s*$", re.I)

_COMMITTEE_ORDINALS = {"1": "First", "2": "Second", "3": "Third", "4": "Fourth", "5": "Fifth", "6": "Sixth"}


@dataclass(frozen=True, slots=True)
class FrontMatter:
    symbol: str | None
    title: str | None
    date: str | None
    body: str | None
    doc_type: str | None


def front_text(lines: Sequence[str]) -> str:
    """The front page's text before "The General Assembly," on one line: where running heads come from."""
    kept = []
    for line in lines[:120]:
        if LEAD.match(line):
            break
        kept.append(line)
    return " ".join(" ".join(kept).split())


def looks_like_un_document(first_page_text: str) -> bool:
    """True when the text opens like a UN document: "United Nations" and a symbol near the top."""
    head = first_page_text[:600]
    return "United Nations" in head and SYMBOL.search(head) is not None


def is_header_line(text: str) -> bool:
    """A line made only of running-head tokens: symbol, job number, page counter, barcode."""
    stripped = _HEADER_TOKENS.sub(" ", text)
    return bool(text.strip()) and not stripped.strip()


def is_job_line(text: str) -> bool:
    """A front-page line holding only the job number and barcode (the symbol line is kept)."""
    stripped = _JOB_OR_BARCODE.sub(" ", text)
    return bool(text.strip()) and not stripped.strip()


def _title_fragment(text: str, front: str) -> bool:
    line = " ".join(SYMBOL.sub(" ", text).split())
    return len(line) >= 3 and line in front


def strip_pdf_page(lines: list[str], page_index: int, front: str) -> list[str]:
    """Remove the running head from the top of a page and footnotes from its foot."""
    lines = _drop_footnotes(lines)
    if page_index == 0:
        return [line for line in lines if not is_job_line(line)]
    last_token = -1
    for index, line in enumerate(lines[:12]):
        if not line.strip():
            continue
        if is_header_line(line):
            last_token = index
        elif not _title_fragment(line, front):
            break
    return lines[last_token + 1 :]


def _drop_footnotes(lines: list[str]) -> list[str]:
    for index, line in enumerate(lines):
        if _RULE.match(line):
            return lines[:index]
    return lines


def split_text_pages(lines: list[str]) -> list[tuple[str, list[str]]]:
    """Split a plain-text layer of a UN document into pages at its running heads.

    Text layers mark no page breaks, but every page after the first carries the counter
    "N/M". The running head around it (symbol, title lines, job number) is removed, and so are
    the footnotes that end the previous page. Returns ``(page label, lines)`` pairs.
    """
    front = front_text(lines)
    counters: list[int] = []
    expected = 2
    for index, line in enumerate(lines):
        if not is_header_line(line):
            continue
        match = _COUNTER_RE.search(line)
        if match and int(match.group(1)) == expected:
            counters.append(index)
            expected += 1
    pages: list[tuple[str, list[str]]] = []
    cursor = 0
    label = "1"
    for counter in counters:
        start = counter
        budget = 8
        while start > cursor and budget > 0:
            previous = lines[start - 1]
            if previous.strip() and not (is_header_line(previous) or _title_fragment(previous, front)):
                break
            start -= 1
            budget -= 1
        end = counter + 1
        while end < len(lines) and (not lines[end].strip() or is_header_line(lines[end])):
            end += 1
        pages.append((label, _drop_footnotes(lines[cursor:start])))
        label = _COUNTER_RE.search(lines[counter]).group(1)  # type: ignore[union-attr]
        cursor = end
    pages.append((label, _drop_footnotes(lines[cursor:])))
    pages[0] = (pages[0][0], [line for line in pages[0][1] if not is_job_line(line)])
    return pages


def segment(pages: Sequence[list[str]], *, indent_starts: bool) -> list[Block]:
    """Group the lines of a cleaned UN document into blocks.

    ``indent_starts``: in PDF text layers a paragraph's first line is indented, so an indented
    line that follows a finished sentence begins a new paragraph.
    """
    blocks: list[Block] = []
    front = Block("front", keep_lines=True)
    blocks.append(front)
    in_front = True
    current: Block | None = None
    previous_blank = True
    heading_open = False
    in_annex_title = False
    last_number = 0
    last_sub = 0
    outer_number = 0  # the numbering a list restarted at 1 inside a paragraph will return to

    def start(kind: str, line: Line) -> Block:
        block = Block(kind, [line])
        blocks.append(block)
        return block

    pending_number: Line | None = None
    isolated = [_isolated_lines(page_lines) for page_lines in pages]
    for page_index, page_lines in enumerate(pages):
        # A page break ends a line like a blank line does; whether it ends the paragraph is
        # still decided by the punctuation before it and the first word after it.
        previous_blank = True
        for line_index, raw in enumerate(page_lines):
            text = raw.rstrip()
            line = Line(page_index, text)
            if not text.strip():
                previous_blank = True
                if heading_open and not in_annex_title:
                    heading_open = False
                continue
            if in_front:
                if lead := LEAD.match(text):
                    in_front = False
                    # "The General Assembly, recalling ..., decides ...": a decision's whole text
                    # follows the lead-in on the same line.
                    rest = text[lead.end() :].strip(" ,:")
                    current = start("paragraph" if len(rest) > 3 else "lead", line)
                    previous_blank = False
                    continue
                front.lines.append(line)
                previous_blank = False
                continue
            if pending_number is not None:
                # "1." alone on a line (text layers), its text on the next one.
                current = start("paragraph", pending_number)
                current.lines.append(line)
                pending_number = None
                previous_blank = False
                continue

            last = current_text(current) if current is not None else ""
            finished = current is None or current.kind != "paragraph"
            ended = finished or _ENDS_PARAGRAPH.search(last) is not None
            item_ended = finished or _ENDS_ITEM.search(last) is not None
            numbered = NUMBERED.match(text)
            if (numbered and not ended and not numbered.group(2) and last_number > 0
                    and int(numbered.group(1)) == last_number + 1 and text[numbered.end() :][:1].isupper()
                    and current is not None and current.kind == "paragraph"
                    and (tail := _heading_tail(current.lines))):
                # The next number, after lines that end no sentence: those lines are a sub-heading
                # ("Connectivity" between paragraphs 9 and 10), not the end of the paragraph.
                if tail == len(current.lines):  # the whole block: "Objective 5. Enhance ..."
                    current.kind = "heading"
                else:
                    lines = current.lines[-tail:]
                    del current.lines[-tail:]
                    current = start("heading", lines[0])
                    current.lines.extend(lines[1:])
                heading_open = False
                ended = True
            if LEAD.match(text):
                current = start("lead", line)
                heading_open = in_annex_title = False
            elif CLOSING.match(text):
                current = start("closing", line)
                heading_open = False
            elif HEADING_START.match(text):
                current = start("heading", line)
                heading_open = True
                in_annex_title = text.strip().startswith(("Annex", "Appendix"))
                if text.strip().startswith(("Annex", "Article", "Appendix")):
                    last_number = last_sub = outer_number = 0
            elif heading_open and current is not None and current.kind == "heading" and not (
                numbered or LETTERED.match(text) or ACTION.match(text)
            ):
                current.lines.append(line)
            elif current is not None and current.kind == "closing" and _DATE.search(text) and len(current.lines) == 1:
                current.lines.append(line)
            elif numbered and ended and (
                _plausible_number(numbered, last_number, last_sub)
                or (not numbered.group(2) and int(numbered.group(1)) == outer_number + 1)
            ):
                number, sub = int(numbered.group(1)), numbered.group(2)
                if sub:
                    last_sub = int(sub)
                else:
                    if number == 1 and last_number > 1:
                        outer_number = last_number
                    elif number == outer_number + 1:
                        outer_number = 0
                    last_number, last_sub = number, 0
                heading_open = in_annex_title = False
                if not text[numbered.end() :].strip():
                    pending_number = line
                    current = None
                else:
                    current = start("paragraph", line)
            elif ACTION.match(text) and ended:
                current = start("paragraph", line)
                heading_open = in_annex_title = False
            elif (lettered := LETTERED.match(text)) and item_ended:
                heading_open = in_annex_title = False
                if not text[lettered.end() :].strip():
                    pending_number = line
                    current = None
                else:
                    current = start("paragraph", line)
            elif (SECTION.match(text) or OBJECTIVE.match(text)) and ended and previous_blank:
                current = start("heading", line)
                heading_open = True
            elif line_index in isolated[page_index] and ended and not numbered:
                # A short line standing alone between blank lines, with no closing punctuation:
                # a title or sub-heading ("The Pact for the Future", "Articles 23 and 35, ...").
                current = start("heading", line)
                heading_open = False
            elif ended and _starts_sentence(text) and (previous_blank or (indent_starts and text[:1].isspace())):
                current = start("paragraph", line)
                heading_open = in_annex_title = False
            elif current is None:
                current = start("paragraph", line)
            else:
                current.lines.append(line)
            previous_blank = False
    if pending_number is not None:
        blocks.append(Block("paragraph", [pending_number]))
    return [block for block in blocks if block.lines]


def segment_report(pages: Sequence[list[str]], *, indent_starts: bool) -> list[Block]:
    """Group the lines of a cleaned UN report into blocks (a report has no "The General Assembly,").

    The front page's lines up to the first heading of the body ("Note by the Secretary-General",
    "Report of the ...", "I. Introduction", "Contents") or the first numbered paragraph are the
    front block. The table of contents is dropped. Section headings ("I. Introduction",
    "A. Threats") are "heading" blocks whether or not blank lines surround them: a line that
    opens with a roman numeral or a capital letter and a full stop, after a finished paragraph,
    and that ends without punctuation. Numbered paragraphs run 1, 2, 3 ... through the report;
    lettered sub-paragraphs and unnumbered text (the note, a summary) are paragraphs too.

    Example:
        >>> [b.kind for b in segment_report([["United Nations A/70/1", "I. Introduction", "1. Text."]], indent_starts=False)]
        ['front', 'heading', 'paragraph']
    """
    blocks: list[Block] = []
    front = Block("front", keep_lines=True)
    blocks.append(front)
    in_front = True
    current: Block | None = None
    previous_blank = True
    last_number = 0
    for page_index, page_lines in enumerate(pages):
        previous_blank = True
        for raw in page_lines:
            text = raw.rstrip()
            if not text.strip():
                previous_blank = True
                continue
            if TOC_LINE.search(text):
                continue
            line = Line(page_index, text)
            numbered = NUMBERED.match(text)
            report_heading = REPORT_HEADING.match(text) is not None
            section = SECTION.match(text) is not None and _ENDS_PARAGRAPH.search(text) is None and len(text.strip()) <= 150
            if in_front:
                if not (report_heading or section or HEADING_START.match(text) or (numbered and numbered.group(1) == "1")):
                    front.lines.append(line)
                    continue
                in_front = False
            last = current_text(current) if current is not None else ""
            finished = current is None or current.kind != "paragraph"
            ended = finished or _ENDS_PARAGRAPH.search(last) is not None
            item_ended = finished or _ENDS_ITEM.search(last) is not None
            if current is not None and current.kind == "heading" and _continues_heading(last, text):
                current.lines.append(line)
            elif (report_heading or section or HEADING_START.match(text)) and ended:
                current = Block("heading", [line])
                blocks.append(current)
                if HEADING_START.match(text) and text.strip().startswith(("Annex", "Appendix")):
                    last_number = 0  # an annex numbers its paragraphs afresh
            elif numbered and ended and not numbered.group(2) and int(numbered.group(1)) in (last_number + 1, 1):
                last_number = int(numbered.group(1))
                current = Block("paragraph", [line])
                blocks.append(current)
            elif LETTERED.match(text) and item_ended:
                current = Block("paragraph", [line])
                blocks.append(current)
            elif current is None or current.kind == "heading":
                current = Block("paragraph", [line])
                blocks.append(current)
            elif ended and _starts_sentence(text) and (previous_blank or (indent_starts and text[:1].isspace())):
                current = Block("paragraph", [line])
                blocks.append(current)
            else:
                current.lines.append(line)
            previous_blank = False
    return [block for block in blocks if block.lines]


def _continues_heading(heading_line: str, text: str) -> bool:
    """Whether ``text`` is the second line of a heading that ends with ``heading_line``."""
    if NUMBERED.match(text) or LETTERED.match(text) or SECTION.match(text) or REPORT_HEADING.match(text):
        return False
    if _ENDS_PARAGRAPH.search(text) or len(text.strip()) > 150:
        return False
    return text.lstrip()[:1].islower() or _OPEN_HEADING_END.search(heading_line) is not None


def _isolated_lines(lines: Sequence[str]) -> set[int]:
    """Indexes of lines with a blank line (not a page edge) on both sides that look like headings."""
    found = set()
    for index in range(1, len(lines) - 1):
        if lines[index - 1].strip() or lines[index + 1].strip():
            continue
        if _ISOLATED_HEADING.match(lines[index]) and not LETTERED.match(lines[index]):
            found.add(index)
    return found


def current_text(block: Block) -> str:
    return block.lines[-1].text.rstrip() if block.lines else ""


def _heading_tail(lines: Sequence[Line]) -> int:
    """How many last lines of a paragraph are a sub-heading that only looks like its end: the
    last line alone when it is short and capitalised ("Connectivity"), else the lines after the
    last finished sentence (at most 3 and 30 words, from a capital: "Objective 5. Enhance ...
    for the" / "benefit of humanity"); 0 when neither."""
    last = lines[-1].text.split() if lines else []
    if len(lines) > 1 and 0 < len(last) <= 10 and last[0][:1].isupper() and not _ENDS_ITEM.search(lines[-1].text):
        return 1
    tail = 0
    for line in reversed(lines):
        if _ENDS_PARAGRAPH.search(line.text.rstrip()):
            break
        tail += 1
    if not 0 < tail <= 3:
        return 0
    words = " ".join(line.text for line in lines[-tail:]).split()
    return tail if len(words) <= 30 and words[0][:1].isupper() else 0


def _starts_sentence(text: str) -> bool:
    first = text.lstrip()[:1]
    return first.isupper() or first in "“\"‘'(" or first.isdigit()


def _plausible_number(match: re.Match[str], last_number: int, last_sub: int) -> bool:
    number = int(match.group(1))
    sub = match.group(2)
    if sub:
        return number == last_number and int(sub) in (last_sub + 1, 1)
    return number in (last_number + 1, 1)


def read_front_matter(front_lines: Sequence[str], fallback_symbol: str | None) -> FrontMatter:
    """The symbol, title, date, issuing body and type printed on a UN document's first page."""
    text = "\n".join(normalize_spaces(line) for line in front_lines)
    flat = normalize_spaces(text.replace("\n", " "))
    symbol_match = SYMBOL.search(flat[:300])
    symbol = symbol_match.group(0) if symbol_match else fallback_symbol
    if fallback_symbol and fallback_symbol in flat:
        symbol = fallback_symbol

    date = None
    adopted = _ADOPTED.search(flat)
    if adopted:
        date = _iso(*adopted.groups())
    elif symbol and "/L." in symbol:
        for match in _DATE.finditer(flat):
            date = _iso(*match.groups())
            break
    elif symbol and REPORT_SYMBOL.fullmatch(symbol) and (issued := _DISTR_DATE.search(flat)):
        # A report is dated by its issue: "Distr.: General 22 July 2015".
        date = _iso(*issued.groups())

    body = None
    committee = _COMMITTEE.search(flat)
    if committee:
        body = f"UN General Assembly, {committee.group(1)} Committee"
    elif _PLENARY.search(flat):
        body = "UN General Assembly, Plenary"
    elif symbol and (draft_committee := re.match(r"A/C\.(\d)/", symbol)):
        body = f"UN General Assembly, {_COMMITTEE_ORDINALS[draft_committee.group(1)]} Committee"
    elif symbol and symbol.startswith("A/"):
        body = "UN General Assembly"

    doc_type = None
    if symbol and symbol.startswith("A/RES/"):
        doc_type = "resolution"
    elif symbol and "/L." in symbol:
        doc_type = "draft resolution"
    elif symbol and REPORT_SYMBOL.fullmatch(symbol):
        doc_type = "report"

    return FrontMatter(symbol=symbol, title=_title(front_lines), date=date, body=body, doc_type=doc_type)


def _title(front_lines: Sequence[str]) -> str | None:
    lines = [normalize_spaces(line) for line in front_lines]
    for index, line in enumerate(lines):
        numbered = _TITLE_NUMBER.match(line)
        if numbered:
            return _join_title([numbered.group(2), *lines[index + 1 :]])
    for index, line in enumerate(lines):
        if _DRAFT.search(line):
            return _join_title(lines[index + 1 :])
    return None


def _join_title(lines: Sequence[str]) -> str | None:
    from .blocks import join_lines

    kept = [line for line in lines if line and not LEAD.match(line)]
    title = join_lines(kept).strip()
    return title or None


def _iso(day: str, month: str, year: str) -> str:
    return dt.datetime.strptime(f"{day} {month} {year}", "%d %B %Y").date().isoformat()
