"""SYNTHETIC test fixtures: PDFs shaped like a UN report and an ASEAN chairman's statement.

Nothing here is the text of a real document. The words are placeholders written for the tests;
only the layout imitates the real ones (a UN front page, running heads with the symbol, the job
number and a page counter, roman and lettered section headings, continuous paragraph numbers, a
paragraph continued across a page break; a statement's themed headings over numbered
paragraphs). Every fixture says on its first page that it is synthetic.

The PDFs are written with fpdf2 (the ``dev`` extra), one explicit page at a time, so that a
paragraph's page is known to the test: para. 13 (a) of the report is on page 7, as the norms of
A/70/174 are, which lets a test check a citation of the form ``A/70/174, para. 13 (a) (p. 7)``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

SYNTHETIC_NOTE = "SYNTHETIC TEST FIXTURE - placeholder text, not the text of any real document."

_AGENDA_TITLE = "Synthetic developments in the field of placeholder telecommunications"

# (kind, text): "heading" lines are drawn bold and flush left; "para" blocks are wrapped with an
# indented first line, as UN documents are; "cont" continues the previous page's paragraph
# without an indent; "item" is a lettered sub-paragraph, indented further.
Page = list[tuple[str, str]]


def _filler(number: int, topic: str) -> str:
    return (
        f"{number}. The synthetic group considered {topic} in placeholder paragraph {number}. "
        "This sentence exists only to give the paragraph the length of a real one, so that "
        "the reader meets wrapped lines and an indented first line as it does in practice."
    )


def report_pages(symbol: str = "A/70/174") -> list[Page]:
    """The pages of the report-shaped fixture: 8 pages, paragraphs 1-15, norms 13 (a)-(k) on page 7."""
    front: Page = [
        ("front", "United Nations    " + symbol),
        ("front", "General Assembly"),
        ("front", "Distr.: General"),
        ("front", "22 July 2015"),
        ("front", "Original: English"),
        ("front", "Seventieth session"),
        ("front", "Item 93 of the provisional agenda"),
        ("front", _AGENDA_TITLE),
        ("heading", "Synthetic group of experts on placeholder developments"),
        ("heading", "Note by the Secretary-General"),
        ("para", "The Secretary-General has the honour to transmit herewith a synthetic report-shaped "
         "test document. " + SYNTHETIC_NOTE),
    ]
    contents: Page = [
        ("heading", "Report of the synthetic group of experts on placeholder developments"),
        ("heading", "Contents"),
        ("toc", "Page"),
        ("toc", "I. Introduction . . . . . . . . . . . . . . . . . . . . . . . . . . . . . 3"),
        ("toc", "II. Existing and emerging placeholder threats . . . . . . . . . . . . . . 4"),
        ("toc", "III. Norms, rules and principles for the synthetic behaviour of States . . 6"),
        ("toc", "IV. Conclusions . . . . . . . . . . . . . . . . . . . . . . . . . . . . . 8"),
    ]
    intro: Page = [
        ("heading", "I. Introduction"),
        ("para", _filler(1, "its mandate")),
        ("para", _filler(2, "its working methods")),
        ("para", _filler(3, "the scope of its work")),
    ]
    threats: Page = [
        ("heading", "II. Existing and emerging placeholder threats"),
        ("heading", "A. Threats to synthetic infrastructure"),
        ("para", _filler(4, "threats to infrastructure")),
        ("para", _filler(5, "the use of proxies")),
        ("para", _filler(6, "the integrity of supply chains")),
    ]
    more_threats: Page = [
        ("heading", "B. Threats to placeholder data"),
        ("para", _filler(7, "the protection of data")),
        ("para", _filler(8, "the capacity of developing States")),
        ("para", "9. The synthetic group notes that a paragraph may run on to the next page of a "
         "report, and that the reader must join its two halves into one paragraph whose"),
    ]
    norms_start: Page = [
        ("cont", "quoted text holds no running head, no page counter and no job number between them."),
        ("heading", "III. Norms, rules and principles for the synthetic behaviour"),
        ("heading", "of States"),
        ("para", _filler(10, "voluntary norms")),
        ("para", _filler(11, "the role of norms")),
        ("para", _filler(12, "the application of norms")),
        ("para", "13. Taking into account existing and emerging placeholder threats, the synthetic "
         "group offers the following recommendations for consideration by States:"),
    ]
    letters = "abcdefghijk"
    norms: Page = [
        ("item", f"({letter}) Synthetic norm ({letter}): States should consider placeholder "
         f"recommendation number {index} of this fixture;" + (" and" if letter == "j" else ""))
        for index, letter in enumerate(letters, start=1)
    ]
    norms[-1] = ("item", "(k) Synthetic norm (k): States should consider placeholder recommendation "
                 "number 11 of this fixture.")
    end: Page = [
        ("heading", "IV. Conclusions"),
        ("para", _filler(14, "its conclusions")),
        ("para", _filler(15, "further work")),
    ]
    return [front, contents, intro, threats, more_threats, norms_start, norms, end]


def statement_pages() -> list[Page]:
    """The pages of the chairman's-statement-shaped fixture: themed headings over paragraphs 1-8."""
    first: Page = [
        ("heading", "CHAIRMAN'S STATEMENT OF THE 99TH SYNTHETIC SUMMIT"),
        ("heading", "Placeholder City, 28 April 2018"),
        ("para", "1. We, the heads of the synthetic delegations, gathered for a placeholder summit. "
         + SYNTHETIC_NOTE),
        ("para", "2. We reaffirmed the importance of placeholder cooperation among our members."),
        ("heading", "Community Building"),
        ("para", "3. We adopted the following synthetic documents at the summit:"),
        ("item", "a. Synthetic framework on placeholder cities;"),
        ("item", "b. Synthetic declaration on placeholder jobs; and"),
        ("item", "c. Synthetic masterplan on placeholder inclusion."),
        ("para", "4. We welcomed the progress of the placeholder work plan, and looked forward to its "
         "review at the next synthetic summit, where the leaders will consider whether the plan"),
    ]
    second: Page = [
        ("cont", "should be extended to placeholder matters not yet covered."),
        ("heading", "Cybersecurity"),
        ("para", "5. We recognised the importance of synthetic cooperation on placeholder cyber "
         "matters, and tasked our ministers to identify placeholder norms."),
        ("para", "6. We looked forward to the synthetic ministerial conference on cybersecurity."),
        ("heading", "Regional and International Issues"),
        ("para", "7. We exchanged views on placeholder regional developments."),
        ("para", "8. We agreed to meet again at the next synthetic summit."),
    ]
    return [first, second]


def write_report_pdf(path: Path, symbol: str = "A/70/174", job: str = "15-12404") -> Path:
    """Write the report-shaped fixture: a UN front page, then running heads and counters on every page."""
    pages = report_pages(symbol)
    total = len(pages)

    def head(pdf, number: int) -> None:
        if number == 1:
            return
        # Drawn first, as the UN's PDFs draw them, so a text extractor meets them at the top of
        # the page: the symbol, then the job number and the counter in the page's foot.
        pdf.set_font("Times", "", 9)
        pdf.set_xy(20, 10)
        # Odd pages repeat the front page's title beside the symbol, as UN documents do.
        pdf.cell(0, 5, symbol if number % 2 == 0 else f"{_AGENDA_TITLE} {symbol}")
        pdf.set_xy(20, 285)
        pdf.cell(0, 5, f"{job} {number}/{total}" if number % 2 == 0 else f"{number}/{total} {job}")

    def foot(pdf, number: int) -> None:
        if number != 1:
            return
        pdf.set_font("Times", "", 9)
        pdf.set_xy(20, 280)
        pdf.cell(0, 5, f"{job} (E) 230715")
        pdf.set_xy(20, 285)
        pdf.cell(0, 5, "*" + job.replace("-", "") + "*")

    return _write(path, pages, head, foot)


def write_statement_pdf(path: Path) -> Path:
    """Write the chairman's-statement-shaped fixture: a running title and "Page N of M" on every page."""
    pages = statement_pages()
    total = len(pages)

    def head(pdf, number: int) -> None:
        pdf.set_font("Times", "", 9)
        pdf.set_xy(20, 10)
        pdf.cell(0, 5, "Chairman's Statement of the 99th Synthetic Summit")

    def foot(pdf, number: int) -> None:
        pdf.set_font("Times", "", 9)
        pdf.set_xy(20, 285)
        pdf.cell(0, 5, f"Page {number} of {total}")

    return _write(path, pages, head, foot)


def _write(path: Path, pages: list[Page], head, foot) -> Path:
    from fpdf import FPDF

    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(False)
    pdf.set_title("Synthetic test fixture")
    for number, blocks in enumerate(pages, start=1):
        pdf.add_page()
        head(pdf, number)
        y = 25.0
        for kind, text in blocks:
            bold = kind == "heading"
            pdf.set_font("Times", "B" if bold else "", 11)
            width = 88 if kind in ("para", "cont", "item") else 100
            lines = textwrap.wrap(text, width) or [""]
            for index, line in enumerate(lines):
                x = 20.0
                if kind == "para" and index == 0:
                    x += 10
                elif kind == "item":
                    x += 10 if index == 0 else 0
                pdf.set_xy(x, y)
                pdf.cell(0, 5, line)
                y += 5.5
            y += 3.0  # the space between paragraphs
        foot(pdf, number)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path
