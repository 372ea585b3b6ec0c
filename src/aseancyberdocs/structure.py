"""Document -> labelled paragraphs, the unit of citation.

Labels follow the way UN documents are cited:

- preambular paragraphs (unnumbered, opening with a participle): ``preamble, para. 4``;
- operative paragraphs and their sub-paragraphs: ``para. 2``, ``para. 2 (a)``, ``para. 2 (a) (ii)``,
  and the decimal style of A/RES/73/27: ``para. 1.3``;
- annexes: ``annex, para. 5``; with several annexes ``annex I, para. 5``; a treaty's articles
  ``annex, art. 15, para. 1``, its unnumbered article text ``annex, art. 3`` and items
  ``annex, art. 3 (a)``; the treaty's own preamble ``annex, preamble, para. 2``;
- the actions of the Pact for the Future: ``action 27``;
- reports (GGE, OEWG): no preamble; paragraphs numbered through the report ``para. 13`` and their
  sub-paragraphs ``para. 13 (a)``; the unnumbered text before them by the part it sits in
  (``note, para. 1`` for the Secretary-General's note transmitting the report); section headings
  ("III. Norms, rules and principles ...", "A. ...") are context, never passages;
- statements: their own numbering when all their paragraphs carry one, else the paragraph's
  order: ``para. 7``; lettered items under a numbered paragraph ``para. 3 (a)``; themed
  headings ("Cybersecurity") are context.

A sub-paragraph keeps the sentence that introduces it (its chapeau) and the heading of its
article as ``context``: embedded with it, shown with it, never part of its quoted text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .sources.un import ACTION, LETTERED, NUMBERED
from .types import Document

_ROMAN = re.compile(r"^[ivxl]+$")
_ARTICLE = re.compile(r"^Article\s+(\d+)\b\s*(.*)$")
_ANNEX = re.compile(r"^(Annex|Appendix)(?:\s+([IVX]+))?\b")
_CHAPTER = re.compile(r"^Chapter\s+([IVXLC]+)\b\s*(.*)$")
_MAX_CONTEXT_CHARS = 300


@dataclass(frozen=True, slots=True)
class Paragraph:
    """One citable paragraph: its label, kind and span of ``Document.text``."""

    label: str
    kind: str  # "preamble", "operative", "subparagraph", "article", "action", "paragraph"
    start: int
    end: int
    context: str = ""


def paragraphs(document: Document) -> list[Paragraph]:
    """The labelled paragraphs of a document, in reading order.

    Example:
        >>> [p.label for p in paragraphs(doc)][:3]  # doctest: +SKIP
        ['preamble, para. 1', 'preamble, para. 2', 'preamble, para. 3']
    """
    blocks = _blocks(document)
    if any(kind in ("lead", "front") for kind, _, _ in blocks):
        return _un_paragraphs(document.text, blocks, report=document.metadata.get("layout") == "report")
    return _plain_paragraphs(document.text, blocks)


def _blocks(document: Document) -> list[tuple[str, int, int]]:
    stored = document.metadata.get("blocks")
    if stored:
        return [(str(kind), int(start), int(end)) for kind, start, end in stored]
    spans: list[tuple[str, int, int]] = []
    for match in re.finditer(r"[^\n]+(?:\n[^\n]+)*", document.text):
        spans.append(("paragraph", match.start(), match.end()))
    return spans


def _shorten(text: str) -> str:
    if len(text) <= _MAX_CONTEXT_CHARS:
        return text
    cut = text[:_MAX_CONTEXT_CHARS].rsplit(" ", 1)[0]
    return cut + " …"


class _Labeller:
    """Walks a UN document's blocks, keeping where it is (preamble, operative part, annex, article)."""

    def __init__(self) -> None:
        self.prefix = ""  # "", "annex, ", "annex I, "
        self.article: str | None = None
        self.heading = ""  # article or section heading, as context
        self.in_preamble = False
        self.preamble_count = 0
        self.paragraph_label: str | None = None  # label of the current numbered paragraph
        self.paragraph_text = ""
        self.letter_label: str | None = None
        self.letter_text = ""
        self.last_letter: str | None = None
        self.unnumbered_in_article = 0
        self.annex_count = 0
        self.body_count = 0
        self.inner_parent: str | None = None  # "para. 7" while a list numbered 1, 2, 3 runs inside it
        self.inner_parent_text = ""
        self.outer_number = 0
        self.in_treaty = False  # the current annex has articles
        self.nested = False  # an annex of the annex (a treaty's own annex): articles are context only
        self.report = False  # a report: no preamble, section headings, unnumbered parts named
        self.section = ""  # a report's current roman-numbered section heading
        self.part = "text"  # what a report's unnumbered text before its numbering is cited as
        self.part_count = 0

    def base(self) -> str:
        if self.article is not None:
            return f"{self.prefix}art. {self.article}"
        return self.prefix.rstrip(", ")


def _un_paragraphs(text: str, blocks: Sequence[tuple[str, int, int]], *, report: bool = False) -> list[Paragraph]:
    state = _Labeller()
    state.report = report
    result: list[Paragraph] = []
    for kind, start, end in blocks:
        body = text[start:end]
        if kind in ("front", "closing"):
            continue
        if kind == "lead":
            if body.startswith("Have agreed"):
                state.in_preamble = False
            else:
                state.in_preamble = True
                state.preamble_count = 0
            continue
        if kind == "heading":
            if state.report and _enter_report_heading(state, body):
                continue
            _enter_heading(state, body)
            continue
        if state.report and not (NUMBERED.match(body) or LETTERED.match(body)) and state.paragraph_label is None:
            # Unnumbered text of a report before its numbered paragraphs: the Secretary-General's
            # note, a summary, a foreword. A report has no preamble.
            state.part_count += 1
            base = state.base()
            label = f"{base}, {state.part}, para. {state.part_count}" if base else f"{state.part}, para. {state.part_count}"
            result.append(Paragraph(label, "paragraph", start, end, _context(state.heading)))
            continue
        paragraph = _label_un_paragraph(state, body, start, end)
        if paragraph is not None:
            result.append(paragraph)
    return result


# The parts of a report before its numbered paragraphs, and the name their text is cited by.
_REPORT_PARTS = (
    (re.compile(r"^Note by the Secretary-General", re.I), "note"),
    (re.compile(r"^Summary\b", re.I), "summary"),
    (re.compile(r"^Foreword\b", re.I), "foreword"),
    (re.compile(r"^Letter (?:of transmittal|dated)\b", re.I), "letter of transmittal"),
)
_ROMAN_SECTION = re.compile(r"^[IVX]{1,5}\.\s")
_LETTER_SECTION = re.compile(r"^[A-H]\.\s")


def _enter_report_heading(state: _Labeller, body: str) -> bool:
    """A report's own headings; False for those the common rules handle (annexes)."""
    if _ANNEX.match(body):
        state.section = ""
        state.part, state.part_count = "text", 0
        return False
    for pattern, part in _REPORT_PARTS:
        if pattern.match(body):
            state.part, state.part_count = part, 0
            state.heading = _shorten(body)
            return True
    if _ROMAN_SECTION.match(body):
        state.section = body
        state.heading = _shorten(body)
    elif _LETTER_SECTION.match(body) and state.section:
        # "A. Threats to ..." under "II. Existing and emerging threats": both are the context.
        state.heading = f"{_shorten(state.section)}\n{_shorten(body)}"
    else:
        state.heading = _shorten(body)
    return True


def _enter_heading(state: _Labeller, body: str) -> None:
    annex = _ANNEX.match(body)
    if annex:
        state.annex_count += 1
        name = annex.group(1).lower()
        numeral = annex.group(2)
        if state.in_treaty and not numeral:
            # The annex of a treaty that is itself annexed (the interpretative notes of the
            # Convention against Cybercrime): "annex, annex, para. 4".
            state.prefix = f"{state.prefix.split(', art.')[0]}{name}, "
            state.nested = True
        else:
            state.prefix = f"{name} {numeral}, " if numeral else f"{name}, "
            state.nested = False
        state.in_treaty = False
        state.article = None
        state.heading = _shorten(body[annex.end() :].strip())
        state.in_preamble = False
        state.paragraph_label = None
        state.letter_label = None
        return
    if body == "Preamble" or body.startswith("Preamble "):
        state.in_preamble = True
        state.preamble_count = 0
        return
    article = _ARTICLE.match(body)
    if article and state.nested:
        state.heading = _shorten(body)
        return
    if article:
        state.in_treaty = True
        state.article = article.group(1)
        state.heading = _shorten(body)
        state.in_preamble = False
        state.paragraph_label = None
        state.letter_label = None
        state.last_letter = None
        state.unnumbered_in_article = 0
        return
    if _CHAPTER.match(body):
        return
    # A section heading ("II. International peace and security") only sets the context.
    state.heading = _shorten(body)


def _label_un_paragraph(state: _Labeller, body: str, start: int, end: int) -> Paragraph | None:
    numbered = NUMBERED.match(body)
    lettered = LETTERED.match(body)
    action = ACTION.match(body)
    base = state.base()
    joiner = ", " if base else ""
    if action:
        state.in_preamble = False
        state.paragraph_label = None
        state.letter_label = None
        state.last_letter = None
        state.heading = _shorten(body)
        return Paragraph(f"{state.prefix}action {action.group(1)}", "action", start, end)
    if numbered:
        state.in_preamble = False
        number, sub = numbered.group(1), numbered.group(2)
        if sub:
            label = f"{base}{joiner}para. {number}.{sub}"
            return Paragraph(label, "subparagraph", start, end, _context(state.heading, state.paragraph_text))
        value = int(number)
        if state.inner_parent is not None and value == state.outer_number + 1:
            state.inner_parent = None
        elif value == 1 and state.paragraph_label and state.paragraph_text.rstrip().endswith(":") and state.article is None:
            # A list numbered from 1 inside a paragraph ("7. ... the following objectives: 1. ...").
            state.inner_parent = state.paragraph_label
            state.inner_parent_text = state.paragraph_text
            state.outer_number = int(state.paragraph_label.rsplit(" ", 1)[-1])
        if state.inner_parent is not None:
            label = f"{state.inner_parent} ({number})"
            state.letter_label = None
            return Paragraph(label, "subparagraph", start, end, _context(state.heading, state.inner_parent_text))
        label = f"{base}{joiner}para. {number}"
        state.paragraph_label = label
        state.paragraph_text = body
        state.letter_label = None
        state.last_letter = None
        kind = "article" if state.article is not None else "operative"
        return Paragraph(label, kind, start, end, _context(state.heading))
    if lettered:
        marker = lettered.group(1)
        parent = state.paragraph_label or (base if base else None)
        parent_text = state.paragraph_text if state.paragraph_label else ""
        is_roman = _ROMAN.match(marker) is not None and not _continues_letters(state.last_letter, marker)
        if is_roman and state.letter_label is not None:
            label = f"{state.letter_label} ({marker})"
            context = _context(state.heading, parent_text, state.letter_text)
        else:
            state.last_letter = marker
            label = f"{parent} ({marker})" if parent else f"para. ({marker})"
            state.letter_label = label
            state.letter_text = body
            context = _context(state.heading, parent_text)
        state.in_preamble = False
        return Paragraph(label, "subparagraph", start, end, context)
    if state.in_preamble:
        state.preamble_count += 1
        label = f"{state.prefix}preamble, para. {state.preamble_count}"
        return Paragraph(label, "preamble", start, end)
    if state.article is not None:
        # An article's unnumbered text: its chapeau, which lettered items below then hang from.
        state.unnumbered_in_article += 1
        count = state.unnumbered_in_article
        label = base if count == 1 else f"{base} (text {count})"
        state.paragraph_label = None if count == 1 else label
        state.paragraph_text = body
        state.letter_label = None
        state.last_letter = None
        return Paragraph(label, "article", start, end, _context(state.heading))
    if state.paragraph_label is not None:
        # A paragraph without a number after a numbered one continues it (a second sub-paragraph
        # run, a closing sentence): cite it under the paragraph it belongs to.
        state.unnumbered_in_article += 1
        label = f"{state.paragraph_label}, text {state.unnumbered_in_article + 1}"
        return Paragraph(label, "operative", start, end, _context(state.heading, state.paragraph_text))
    if not state.prefix:
        # Unnumbered text outside any preamble: the body of a decision, cited by its order.
        state.body_count += 1
        return Paragraph(f"para. {state.body_count}", "operative", start, end, _context(state.heading))
    # Unnumbered text in an annex before any numbering (an introduction).
    state.preamble_count += 1
    label = f"{state.prefix}preamble, para. {state.preamble_count}" if state.prefix else f"preamble, para. {state.preamble_count}"
    return Paragraph(label, "preamble", start, end)


def _continues_letters(last_letter: str | None, marker: str) -> bool:
    """Whether a marker like "(i)" or "(v)" is the next letter after ``last_letter``, not a roman numeral."""
    if last_letter is None or len(marker) != 1 or len(last_letter) != 1:
        return False
    return ord(marker) == ord(last_letter) + 1


def _context(*parts: str) -> str:
    return "\n".join(_shorten(part) for part in parts if part)


_HEADING_LINE = re.compile(r"^[^\n.;:,!?]{1,90}$")
# "Singapore, 28 April 2018": where and when a statement was issued, printed under its title.
_DATELINE = re.compile(
    r"^[A-Z][\w .'’-]{1,40}, \d{1,2} (?:January|February|March|April|May|June|July|August|September|"
    r"October|November|December) \d{4}$"
)
# A lettered item of a statement's numbered paragraph: "a. ..." or "(a) ...".
_STATEMENT_ITEM = re.compile(r"^(?:\(([a-z]{1,2})\)|([a-z])\.)\s")


def _plain_paragraphs(text: str, blocks: Sequence[tuple[str, int, int]]) -> list[Paragraph]:
    """Statements and other plain documents.

    When the numbered paragraphs run as one sequence 1, 2, 3 ... they keep their own numbers
    ("para. 7"), the unnumbered paragraphs before them are the preamble ("preamble, para. 2"),
    lettered items after one are its sub-paragraphs ("para. 3 (a)") and any other text after a
    numbered one continues it ("para. 7, text 2"). When there is no numbering, or several lists
    each restart at 1, every paragraph is cited by its order ("para. 12"). A short block without
    closing punctuation is a heading (a chairman's statement's themed headings: "Cybersecurity"):
    context for what follows, not cited; so is the place and date under a title.
    """
    entries: list[tuple[int, int, str]] = []
    heading = ""
    for kind, start, end in blocks:
        if kind != "paragraph":
            continue
        body = text[start:end]
        if _DATELINE.match(body):
            continue
        if _HEADING_LINE.match(body) and not NUMBERED.match(body):
            heading = body
            continue
        entries.append((start, end, heading))
    numbers = [NUMBERED.match(text[start:end]) for start, end, _ in entries]
    sequence = [int(match.group(1)) for match in numbers if match]
    own = bool(sequence) and sequence == list(range(1, len(sequence) + 1))
    result = []
    preamble = 0
    current: str | None = None
    current_text = ""
    extra = 0
    for index, ((start, end, heading), match) in enumerate(zip(entries, numbers), start=1):
        item = _STATEMENT_ITEM.match(text[start:end])
        if not own:
            label, kind, context = f"para. {index}", "paragraph", _context(heading)
        elif match:
            label, kind, context = f"para. {match.group(1)}", "operative", _context(heading)
            current, current_text, extra = label, text[start:end], 1
        elif current is None:
            preamble += 1
            label, kind, context = f"preamble, para. {preamble}", "preamble", _context(heading)
        elif item:
            label, kind = f"{current} ({item.group(1) or item.group(2)})", "subparagraph"
            context = _context(heading, current_text)
        else:
            extra += 1
            label, kind, context = f"{current}, text {extra}", "operative", _context(heading)
        result.append(Paragraph(label, kind, start, end, context))
    return result
