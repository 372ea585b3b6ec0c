"""The public names of building and opening an index, gathered from the modules that hold them.

This module only re-exports, so that ``from aseancyberdocs.index import build_index, open_index,
Library`` keeps working:

- build.py: ``build_index``, ``build_index_from_documents``, ``BuildReport``, ``SkippedFile``,
  ``embed_passages``: reading sources, reusing unchanged documents and vectors, embedding;
- folder.py: the index folder's format (``FORMAT_VERSION``, file names, FAISS index types),
  writing it atomically, checking it and ``open_index``;
- library.py: ``Library``, the opened index.

Example:
    >>> from aseancyberdocs.index import open_index
    >>> library = open_index("indexes/default")  # doctest: +SKIP
"""

from __future__ import annotations

from .build import (
    DOCUMENT_WEIGHT,
    EMBED_TEXT_RULE,
    WORKERS_ENV,
    BuildReport,
    Progress,
    SkippedFile,
    build_index,
    build_index_from_documents,
    combine_vectors,
    embed_passages,
)
from .folder import (
    CACHE_KEYS_FILE,
    CACHE_VECTORS_FILE,
    DEFAULT_INDEX_DIR,
    FAISS_FILE,
    FORMAT_VERSION,
    HASH_WHOLE_UP_TO,
    HNSW_ABOVE,
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    INDEX_ENV,
    INDEX_TYPES,
    IVFPQ_ABOVE,
    MANIFEST_FILE,
    REQUIRED_FILES,
    default_index_dir,
    faiss_type_for,
    open_index,
    sampled_sha256,
    sha256_file,
)
from .library import Library

__all__ = [
    "CACHE_KEYS_FILE",
    "CACHE_VECTORS_FILE",
    "DEFAULT_INDEX_DIR",
    "DOCUMENT_WEIGHT",
    "EMBED_TEXT_RULE",
    "FAISS_FILE",
    "FORMAT_VERSION",
    "HASH_WHOLE_UP_TO",
    "HNSW_ABOVE",
    "HNSW_EF_CONSTRUCTION",
    "HNSW_EF_SEARCH",
    "HNSW_M",
    "INDEX_ENV",
    "INDEX_TYPES",
    "IVFPQ_ABOVE",
    "MANIFEST_FILE",
    "REQUIRED_FILES",
    "WORKERS_ENV",
    "BuildReport",
    "Library",
    "Progress",
    "SkippedFile",
    "build_index",
    "build_index_from_documents",
    "combine_vectors",
    "default_index_dir",
    "embed_passages",
    "faiss_type_for",
    "open_index",
    "sampled_sha256",
    "sha256_file",
]
