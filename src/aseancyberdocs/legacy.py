"""Index folders of earlier formats, read only so that a build can migrate them.

Format 1 kept the passages and documents in ``passages.jsonl`` and ``documents.jsonl``. A build
over such a folder writes format 2 and, when the files were read by the same code (the same
parser fingerprint), reuses its documents and passages as it would a format-2 index's; the
vector cache (``cache-*``) has the same form in both formats and is reused in any case.

Example:
    >>> reusable = format1_documents(Path("indexes/old"), fingerprint)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from .types import Document, Passage

logger = logging.getLogger(__name__)

FORMAT1_PASSAGES = "passages.jsonl"
FORMAT1_DOCUMENTS = "documents.jsonl"


def format1_documents(index_path: Path, fingerprint: str) -> dict[str, tuple[Document, list[Passage]]]:
    """A format-1 index's documents and passages by source path; empty if unusable or read by other code.

    Nothing here raises: a folder that cannot be reused is simply read again from its sources.
    """
    try:
        manifest = json.loads((index_path / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("format_version") != 1 or manifest.get("parser_fingerprint") != fingerprint:
            return {}
        records = {name: _checked_lines(index_path, name, manifest) for name in (FORMAT1_DOCUMENTS, FORMAT1_PASSAGES)}
        documents = {document.doc_id: document for document in map(Document.from_dict, records[FORMAT1_DOCUMENTS])}
        by_doc: dict[str, list[Passage]] = {}
        for passage in map(Passage.from_dict, records[FORMAT1_PASSAGES]):
            by_doc.setdefault(passage.doc_id, []).append(passage)
        reusable = {}
        for source in manifest.get("sources", []):
            document = documents.get(source.get("doc_id"))
            if document is not None and source.get("path"):
                reusable[source["path"]] = (document, by_doc.get(document.doc_id, []))
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        logger.info("not reusing the documents of %s: %s", index_path, exc)
        return {}
    logger.info("migrating %s from format 1: %d documents reused", index_path, len(reusable))
    return reusable


def _checked_lines(index_path: Path, name: str, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    data = (index_path / name).read_bytes()
    if hashlib.sha256(data).hexdigest() != manifest["files"][name]:
        raise ValueError(f"{name} has changed since the build")
    return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
