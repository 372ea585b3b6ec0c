"""Reading the question: the field's acronyms and terms, and the documents a question names.

Two things a question carries that passage text alone cannot match:

- **terms of art written short or plainly.** Diplomats write "OEWG", "CBMs", "PoA", "the
  cybercrime treaty"; the texts write "open-ended working group", "confidence-building measures",
  "programme of action", "Convention". ``expand`` adds the long forms (and the UN wording of a few
  plain words) to the query that BM25 reads; the query the embedding model reads is left as
  written.
- **the document it names.** "the 2020 resolution that ...", "in their 2022 statement", "at the
  Washington special summit", "the Pact for the Future": a year, a kind, a body, a meeting or a
  named instrument. ``document_scores`` matches the question against one short line per
  document (symbol, kind, year, body, title, and the other names of a few instruments) with BM25,
  and search adds the result to the score of that document's passages: a soft boost, never a
  filter, so a question that names nothing loses nothing.
"""

from __future__ import annotations

import re
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .index import Library
    from .types import Document

# Short forms and plain words -> the words the documents use. Matched as whole words; the
# long form is appended to the BM25 query, never substituted.
TERMS: dict[str, str] = {
    "ict": "information and communications technologies",
    "icts": "information and communications technologies",
    "oewg": "open-ended working group",
    "gge": "group of governmental experts",
    "poa": "programme of action",
    "cbm": "confidence-building measures",
    "cbms": "confidence-building measures",
    "tcbms": "transparency and confidence-building measures",
    "poc": "points of contact",
    "pocs": "points of contact",
    "laws": "lethal autonomous weapons systems",
    "cri": "Counter Ransomware Initiative",
    "ai": "artificial intelligence",
    "mla": "mutual legal assistance",
    "csam": "child sexual abuse material",
    "gdc": "Global Digital Compact",
    "wsis": "World Summit on the Information Society",
    "cert": "computer emergency response team",
    "certs": "computer emergency response teams",
    "csirt": "computer security incident response team",
    "csirts": "computer security incident response teams",
    "ihl": "international humanitarian law",
    "aoip": "ASEAN Outlook on the Indo-Pacific",
    "arf": "ASEAN Regional Forum",
    "unoda": "Office for Disarmament Affairs",
    "npt": "Treaty on the Non-Proliferation of Nuclear Weapons",
    "salw": "small arms and light weapons",
    "paros": "prevention of an arms race in outer space",
    "iot": "Internet of things",
    "unga": "General Assembly",
    "sdgs": "Sustainable Development Goals",
    "treaty": "convention",
    "cyber": "ICTs",
    "cyberspace": "ICT environment",
    "cybersecurity": "security of ICTs",
    "cyberattack": "malicious ICT activity",
    "cyberattacks": "malicious ICT activities",
    "hacking": "access without right",
    "hackers": "malicious ICT actors",
}

# Instruments better known by a name their document's title does not carry.
ALSO_KNOWN_AS: dict[str, str] = {
    "pact for the future": "Global Digital Compact; Declaration on Future Generations; Summit of the Future",
    "convention against cybercrime": "cybercrime convention; cybercrime treaty",
    "programme of action to advance responsible state behaviour": "PoA; programme of action",
    "open-ended working group on security of and in the use of information": "OEWG",
}

_WORD = re.compile(r"[A-Za-z]+")


def expand(query: str) -> str:
    """The query followed by the long forms of the short forms and plain words it holds.

    Example:
        >>> expand("What did the OEWG say about CBMs?")
        'What did the OEWG say about CBMs? open-ended working group confidence-building measures'
    """
    added: list[str] = []
    for word in _WORD.findall(query):
        long_form = TERMS.get(word.lower())
        # "AI" and "LAWS" only when written in capitals: "laws" is a common word.
        if long_form is None or (word.lower() in ("laws", "ai", "cert") and not word.isupper()):
            continue
        if long_form not in added:
            added.append(long_form)
    return " ".join([query, *added]) if added else query


def document_line(document: Document) -> str:
    """The line a question's names are matched against: symbol, kind, year, body, title, other names.

    Example:
        >>> document_line(load_document("A_RES_79_1.pdf"))  # doctest: +SKIP
        'A/RES/79/1 resolution 2024 UN General Assembly, Plenary The Pact for the Future Global Digital Compact; ...'
    """
    title = document.title
    names = [alias for key, alias in ALSO_KNOWN_AS.items() if key in title.lower()]
    fields = [document.symbol or "", document.doc_type, (document.date or "")[:4], document.body or "", title, *names]
    return " ".join(field for field in fields if field)


class DocumentMatcher:
    """BM25 of a question against one line per document (``document_line``)."""

    def __init__(self, library: Library) -> None:
        from .bm25 import BM25Index

        self.doc_ids = list(library.documents)
        lines = [document_line(library.documents[doc_id]) for doc_id in self.doc_ids]
        self.index = BM25Index.in_memory(lines)
        self.row_document = np.asarray(library.document_rows, dtype=np.int64)  # positions in self.doc_ids

    def scores(self, query: str) -> np.ndarray:
        """Each document's match with ``query``, scaled so the best is 1.0 (all 0 when none matches)."""
        scores = self.index.scores(expand(query)).astype(np.float64)
        top = float(scores.max()) if len(scores) else 0.0
        return scores / top if top > 0 else scores

    def passage_scores(self, query: str) -> np.ndarray:
        """``scores`` spread to the passages: each passage gets its document's match."""
        return self.scores(query)[self.row_document]


_matchers: weakref.WeakKeyDictionary[Any, DocumentMatcher] = weakref.WeakKeyDictionary()


def document_matcher(library: Library) -> DocumentMatcher:
    """The DocumentMatcher of ``library``, built on first use (a few milliseconds)."""
    matcher = _matchers.get(library)
    if matcher is None:
        matcher = _matchers[library] = DocumentMatcher(library)
    return matcher
