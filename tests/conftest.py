"""Shared fixtures: a deterministic fake embedder, hand-made documents, the reference corpus."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from aseancyberdocs.types import Document, Page, Passage

REPO = Path(__file__).resolve().parents[1]
CORPUS_ENV = "ASEANCYBERDOCS_CORPUS"
_WORD = re.compile(r"\w+")


class FakeEmbedder:
    """A hashed bag of words: deterministic, fast, and texts sharing words score higher.

    ``calls`` counts ``encode`` calls and ``encoded`` collects every text embedded, so tests can
    check what a rebuild re-embeds.
    """

    def __init__(self, name: str = "fake-bow", dimension: int = 64, max_tokens: int = 256) -> None:
        self.name = name
        self.dimension = dimension
        self.max_tokens = max_tokens
        self.calls = 0
        self.encoded: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.encoded.extend(texts)
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.sha256(word.encode("utf-8")).digest()
                vectors[row, int.from_bytes(digest[:4], "little") % self.dimension] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)

    def count_tokens(self, text: str) -> int:
        return len(_WORD.findall(text))


class FailingEmbedder(FakeEmbedder):
    """Fails on its first ``encode``, like a model crashing midway through a build."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        raise RuntimeError("embedding failed midway")


def make_document(
    doc_id: str,
    paragraphs: Sequence[str],
    *,
    doc_type: str = "resolution",
    title: str | None = None,
    date: str | None = "2020-12-31",
    symbol: str | None = None,
    per_page: int = 2,
) -> tuple[Document, list[Passage]]:
    """A document of ``paragraphs`` (``per_page`` to a page) and one passage per paragraph."""
    text = "\n\n".join(paragraphs)
    offsets = []
    start = 0
    for paragraph in paragraphs:
        offsets.append((start, start + len(paragraph)))
        start += len(paragraph) + 2
    pages = []
    for first in range(0, len(paragraphs), per_page):
        last = min(first + per_page, len(paragraphs)) - 1
        number = first // per_page + 1
        end = offsets[last][1] + 2 if last + 1 < len(paragraphs) else len(text)
        pages.append(Page(number=number, label=str(number), start=offsets[first][0], end=end))
    document = Document(
        doc_id=doc_id,
        title=title or f"Title of {doc_id}",
        text=text,
        pages=tuple(pages),
        doc_type=doc_type,
        source=f"corpus/{doc_id.replace('/', '_')}.txt",
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        symbol=symbol if symbol is not None else (doc_id if "/" in doc_id else None),
        date=date,
    )
    passages = []
    for number, (start, end) in enumerate(offsets, start=1):
        page = document.page_at(start).number
        passages.append(
            Passage(
                passage_id=f"{doc_id}#{number}",
                doc_id=doc_id,
                label=f"para. {number}",
                kind="operative",
                text=text[start:end],
                start=start,
                end=end,
                pages=(page, page),
                page_labels=(str(page), str(page)),
            )
        )
    return document, passages


# A leaders' statement as Markdown with front matter, three numbered paragraphs.
STATEMENT = """\
---
title: "Leaders' joint statement on cyber resilience"
date: 2024-01-01
source_url: https://example.org/statement
---

1. We commit to strengthen the resilience of critical infrastructure against ransomware.

2. We will share threat information among national computer emergency response teams.

3. We welcome the adoption of the Convention against Cybercrime.
"""

NORMS = [
    "States should not conduct or knowingly support ICT activity that damages critical infrastructure.",
    "States should respond to appropriate requests for assistance by another State whose critical "
    "infrastructure is subject to malicious ICT acts.",
    "States should encourage responsible reporting of ICT vulnerabilities and share associated information.",
    "States should not knowingly allow their territory to be used for internationally wrongful acts using ICTs.",
]
RANSOMWARE = [
    "We affirm our commitment to building collective resilience to ransomware.",
    "Members will not pay ransoms to cybercriminals and will share information on ransom payment wallets.",
    "We welcome new members of the International Counter Ransomware Initiative.",
]
CAPACITY = [
    "Recalling the importance of capacity-building for developing countries in the field of ICT security,",
    "Encourages Member States to continue to inform the Secretary-General of their views on capacity building.",
    "Decides to include in the provisional agenda of its next session the item entitled "
    "Developments in the field of information and telecommunications.",
]


@pytest.fixture
def documents() -> tuple[list[Document], list[Passage]]:
    """Three hand-made documents of two types and their passages."""
    built = [
        make_document("A/RES/73/27", NORMS, symbol="A/RES/73/27"),
        make_document("2023-ransomware-joint-statement", RANSOMWARE, doc_type="joint statement"),
        make_document("A/RES/74/28", CAPACITY),
    ]
    return [document for document, _ in built], [passage for _, items in built for passage in items]


@pytest.fixture
def embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def built_index(tmp_path, documents, embedder) -> Path:
    """An index of the hand-made documents built with the fake embedder."""
    from aseancyberdocs.index import build_index_from_documents

    docs, passages = documents
    index_dir = tmp_path / "index"
    build_index_from_documents(docs, index_dir, embedder=embedder, passages=passages)
    return index_dir


@pytest.fixture
def fake_models(monkeypatch):
    """Make ``load_embedder`` give fake embedders, so the CLI works without the real model."""
    from aseancyberdocs import embedding

    cache: dict[str | None, FakeEmbedder] = {}

    def load(model: str | None = None) -> FakeEmbedder:
        name = model or "fake-bow"
        return cache.setdefault(name, FakeEmbedder(name))

    monkeypatch.setattr(embedding, "load_embedder", load)
    return cache


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The reference corpus bundled in ``corpus/`` (or ``$ASEANCYBERDOCS_CORPUS``)."""
    path = Path(os.environ.get(CORPUS_ENV) or REPO / "corpus")
    if not path.is_dir():
        pytest.fail(f"reference corpus not found at {path} (set {CORPUS_ENV} to its folder)")
    return path
